"""Two-dimensional test functions for watching optimizers move (lecture 6).

Each one shows a difficulty named in the lecture: an ill-conditioned valley (zig-zag), Rosenbrock's
curved valley, a saddle point and a local minimum. Every function comes with its exact gradient, a
plotting window, a default start and its minimum value, so trajectories and loss curves can be drawn
without guessing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TestFunction:
    """A scalar function of p = (x, y) with its gradient.

    Attributes
    ----------
    name, title : str
        Key in :data:`FUNCTIONS` and a readable formula for plot titles.
    value : callable
        ``value(x, y)`` works elementwise on arrays (for contour grids) and on floats.
    grad : callable
        ``grad(p)`` for ``p`` of shape (2,) returns the gradient, shape (2,).
    xlim, ylim : tuple
        Plotting window.
    start : tuple
        Default starting point.
    minimum : float
        The smallest value of the function (used to plot ``f - f_min`` on a log scale).
    """

    __test__ = False  # not a pytest test class despite the name

    name: str
    title: str
    value: Callable
    grad: Callable
    xlim: tuple
    ylim: tuple
    start: tuple
    minimum: float

    def __call__(self, p):
        p = np.asarray(p, dtype=float)
        return self.value(p[..., 0], p[..., 1])


def _quadratic(x, y):
    return 0.5 * (x**2 + 20.0 * y**2)


def _quadratic_grad(p):
    return np.array([p[0], 20.0 * p[1]])


def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x**2) ** 2


def _rosenbrock_grad(p):
    x, y = p
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x**2), 200.0 * (y - x**2)])


def _saddle(x, y):
    # saddle at the origin, minima at (0, ±1) with value -1/4
    return 0.5 * x**2 - 0.5 * y**2 + 0.25 * y**4


def _saddle_grad(p):
    x, y = p
    return np.array([x, -y + y**3])


def _local(x, y):
    # tilted double well in x: local minimum near x = +0.96, global minimum near x = -1.03
    return (x**2 - 1.0) ** 2 + 0.3 * x + 0.5 * y**2


def _local_grad(p):
    x, y = p
    return np.array([4.0 * x * (x**2 - 1.0) + 0.3, y])


def _local_min():
    roots = np.roots([4.0, 0.0, -4.0, 0.3])
    xs = roots[np.isreal(roots)].real
    return float(min(_local(x, 0.0) for x in xs))


FUNCTIONS: dict[str, TestFunction] = {
    "quadratic": TestFunction("quadratic", r"ill-conditioned quadratic $\frac{1}{2}(x^2 + 20y^2)$",
                              _quadratic, _quadratic_grad, (-4.5, 4.5), (-1.6, 1.6), (-4.0, 1.0), 0.0),
    "rosenbrock": TestFunction("rosenbrock", r"Rosenbrock $(1-x)^2 + 100(y-x^2)^2$",
                               _rosenbrock, _rosenbrock_grad, (-2.0, 2.0), (-1.0, 3.0), (-1.5, 2.0), 0.0),
    "saddle": TestFunction("saddle", r"saddle $\frac{1}{2}x^2 - \frac{1}{2}y^2 + \frac{1}{4}y^4$",
                           _saddle, _saddle_grad, (-2.0, 2.0), (-1.6, 1.6), (-1.8, 1e-3), -0.25),
    "local_minimum": TestFunction("local_minimum", r"local minimum $(x^2-1)^2 + 0.3x + \frac{1}{2}y^2$",
                                  _local, _local_grad, (-2.0, 2.2), (-1.5, 1.5), (2.0, 1.0), _local_min()),
}


def get(name: str) -> TestFunction:
    """Look up a test function by name; unknown names raise ValueError listing the valid ones."""
    if name not in FUNCTIONS:
        raise ValueError(f"name: expected one of {tuple(FUNCTIONS)}, got {name!r}")
    return FUNCTIONS[name]
