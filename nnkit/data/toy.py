"""Small synthetic data sets that make one idea visible in a 2-D (or 1-D) plot.

Each generator takes ``n`` and a ``seed`` (an int or a ``np.random.Generator``, via
``nnkit._validate.as_rng``) and never touches the global ``np.random`` state, so a lecture figure is
the same every time it is drawn. Inputs are float64 ``X`` of shape ``(N, D)``; class labels are int64
``(N,)`` class indices, except ``linearly_separable`` which gives the perceptron's ±1 labels.
The 1-D regression sets return column vectors ``x, y`` of shape ``(N, 1)`` sorted by ``x`` so they can be
fed to a network and plotted as a curve without reshaping.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nnkit._validate import as_count, as_float_array, as_rng, check_choice, check_positive

__all__ = [
    "TARGETS", "TARGET_INTERVAL", "xor", "blobs", "moons", "circles", "spirals", "linearly_separable",
    "target", "target_function", "motorcycle", "motorcycle_curve",
]


def _split_counts(n: int, k: int) -> np.ndarray:
    """``n`` items over ``k`` groups as evenly as possible (the first ``n % k`` get one more)."""
    counts = np.full(k, n // k, dtype=np.int64)
    counts[: n % k] += 1
    return counts


def _shuffled(rng: np.random.Generator, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))
    return X[order], y[order]


def xor(n: int | None = None, noise: float = 0.1, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """The XOR problem: no straight line separates the two classes (Minsky and Papert).

    With ``n=None`` (default) returns the four corners of the unit square in the order
    (0,0), (0,1), (1,0), (1,1) with labels ``y = x1 XOR x2 = [0, 1, 1, 0]``; ``noise`` and ``seed`` are
    then unused. With an ``n`` returns a noisy cloud: ``n`` points spread evenly over the four corners, each
    corner plus Gaussian noise of standard deviation ``noise``, labelled by its corner, in shuffled order.

    Returns
    -------
    X : (N, 2) float64
    y : (N,) int64 in {0, 1}
    """
    corners = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0], dtype=np.int64)
    if n is None:
        return corners, labels
    n = as_count(n, "n", minimum=4)
    noise = check_positive(noise, "noise", allow_zero=True)
    rng = as_rng(seed)
    which = np.repeat(np.arange(4), _split_counts(n, 4))
    X = corners[which] + noise * rng.standard_normal((n, 2))
    return _shuffled(rng, X, labels[which])


def blobs(n: int = 300, centers=3, std: float = 1.0, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs: class ``k`` is ``N(c_k, std² I)``.

    Parameters
    ----------
    n : number of points, split as evenly as possible over the classes.
    centers : int ``K`` (the centres are placed evenly on a circle of radius 4 around the origin, so the
        picture is the same for every seed) or an array ``(K, D)`` of centres.
    std : standard deviation of every blob (a float > 0).

    Returns
    -------
    X : (N, D) float64 (D = 2 for an int ``centers``)
    y : (N,) int64 in {0..K-1}, shuffled
    """
    if isinstance(centers, (int, np.integer)) and not isinstance(centers, bool):
        k = as_count(centers, "centers", minimum=1)
        angle = 2 * np.pi * np.arange(k) / k + np.pi / 4
        c = 4.0 * np.column_stack([np.cos(angle), np.sin(angle)])
    else:
        c = as_float_array(centers, "centers", dtype=np.float64)
        if c.ndim != 2 or c.shape[0] < 1 or c.shape[1] < 1:
            raise ValueError(f"centers: expected an int or an array of shape (K, D), got shape {c.shape}")
        k = c.shape[0]
    n = as_count(n, "n", minimum=k)
    std = check_positive(std, "std")
    rng = as_rng(seed)
    y = np.repeat(np.arange(k, dtype=np.int64), _split_counts(n, k))
    X = c[y] + std * rng.standard_normal((n, c.shape[1]))
    return _shuffled(rng, X, y)


def moons(n: int = 200, noise: float = 0.1, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles.

    Class 0: ``(cos t, sin t)``; class 1: ``(1 - cos t, 0.5 - sin t)``, ``t`` evenly spaced in ``[0, π]``,
    plus Gaussian noise of standard deviation ``noise`` on both coordinates.

    Returns
    -------
    X : (N, 2) float64
    y : (N,) int64 in {0, 1}, shuffled
    """
    n = as_count(n, "n", minimum=2)
    noise = check_positive(noise, "noise", allow_zero=True)
    rng = as_rng(seed)
    n0, n1 = _split_counts(n, 2)
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n1)
    X = np.vstack([np.column_stack([np.cos(t0), np.sin(t0)]),
                   np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)])])
    X = X + noise * rng.standard_normal(X.shape)
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _shuffled(rng, X, y)


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Two concentric circles: class 0 on radius 1, class 1 on radius ``factor`` (0 < factor < 1).

    Points are evenly spaced in angle, plus Gaussian noise of standard deviation ``noise``.
    Separable by the feature ``x1² + x2²`` but not by any line.

    Returns
    -------
    X : (N, 2) float64
    y : (N,) int64 in {0, 1}, shuffled
    """
    n = as_count(n, "n", minimum=2)
    noise = check_positive(noise, "noise", allow_zero=True)
    factor = check_positive(factor, "factor")
    if factor >= 1:
        raise ValueError(f"factor: expected a value in (0, 1) (inner radius / outer radius), got {factor!r}")
    rng = as_rng(seed)
    n0, n1 = _split_counts(n, 2)
    a0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    a1 = np.linspace(0, 2 * np.pi, n1, endpoint=False)
    X = np.vstack([np.column_stack([np.cos(a0), np.sin(a0)]),
                   factor * np.column_stack([np.cos(a1), np.sin(a1)])])
    X = X + noise * rng.standard_normal(X.shape)
    y = np.repeat(np.array([0, 1], dtype=np.int64), [n0, n1])
    return _shuffled(rng, X, y)


def spirals(n: int = 300, n_classes: int = 2, noise: float = 0.2, seed=0, *,
            turns: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved spiral arms, one per class (the CS231n spiral; two arms = the "two spirals" problem).

    Arm ``k`` has radius ``r = linspace(0.05, 1, m)`` and angle
    ``θ = 2π·turns·r + 2πk/K + noise·ε`` with ``ε ~ N(0, 1)``; the point is ``r·(sin θ, cos θ)``.
    ``noise`` is therefore in radians.

    Returns
    -------
    X : (N, 2) float64 inside the unit disc
    y : (N,) int64 in {0..K-1}, shuffled
    """
    k = as_count(n_classes, "n_classes", minimum=2)
    n = as_count(n, "n", minimum=k)
    noise = check_positive(noise, "noise", allow_zero=True)
    turns = check_positive(turns, "turns")
    rng = as_rng(seed)
    counts = _split_counts(n, k)
    parts = []
    for j, m in enumerate(counts):
        r = np.linspace(0.05, 1.0, m)
        theta = 2 * np.pi * turns * r + 2 * np.pi * j / k + noise * rng.standard_normal(m)
        parts.append(r[:, None] * np.column_stack([np.sin(theta), np.cos(theta)]))
    y = np.repeat(np.arange(k, dtype=np.int64), counts)
    return _shuffled(rng, np.vstack(parts), y)


def linearly_separable(n: int = 100, margin: float = 0.5, seed=0, *, return_boundary: bool = False):
    """A 2-D set that a line separates with a guaranteed margin; labels ±1 for the perceptron.

    A random unit normal ``w`` and offset ``b`` define the true boundary ``w·x + b = 0``. Every point has
    ``y·(w·x + b) >= margin``: its distance to the boundary is at least ``margin`` (the γ of the
    perceptron convergence theorem, which bounds the number of mistakes by ``(R/γ)²``). Points lie within
    3 units of the origin along the boundary and between ``margin`` and ``margin + 2`` away from it.

    Parameters
    ----------
    n : number of points (>= 2); half of them (rounded up) are +1.
    margin : the minimum distance to the boundary, >= 0.
    return_boundary : also return ``w`` (2,) and ``b`` (float) of the true boundary, for plotting.

    Returns
    -------
    X : (N, 2) float64
    y : (N,) int64 in {-1, +1}, shuffled
    (w, b) : only when ``return_boundary``
    """
    n = as_count(n, "n", minimum=2)
    margin = check_positive(margin, "margin", allow_zero=True)
    rng = as_rng(seed)
    phi = rng.uniform(0, 2 * np.pi)
    w = np.array([np.cos(phi), np.sin(phi)])
    along = np.array([-w[1], w[0]])
    b = float(rng.uniform(-0.5, 0.5))
    n_pos, n_neg = _split_counts(n, 2)
    y = np.concatenate([np.ones(n_pos, dtype=np.int64), -np.ones(n_neg, dtype=np.int64)])
    dist = margin + rng.uniform(0.0, 2.0, n)
    u = rng.uniform(-3.0, 3.0, n)
    # x = u·along + (y·dist - b)·w  gives  w·x + b = y·dist  (w is a unit vector, along ⟂ w).
    X = u[:, None] * along + (y * dist - b)[:, None] * w
    X, y = _shuffled(rng, X, y)
    if return_boundary:
        return X, y, w, b
    return X, y


# ---------------------------------------------------------------------------------------------------
# 1-D functions to approximate (universal approximation, over/under-fitting)

TARGETS = ("sin", "abs", "step", "bumpy", "noisy")
TARGET_INTERVAL = (-1.0, 1.0)
_DEFAULT_NOISE = {"sin": 0.0, "abs": 0.0, "step": 0.0, "bumpy": 0.0, "noisy": 0.2}


def _bumpy(x):
    return (np.exp(-((x + 0.6) / 0.12) ** 2) - 0.7 * np.exp(-((x + 0.1) / 0.08) ** 2)
            + 0.8 * np.exp(-((x - 0.3) / 0.15) ** 2) - 0.5 * np.exp(-((x - 0.75) / 0.06) ** 2))


_FUNCTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sin": lambda x: np.sin(np.pi * x),
    "abs": np.abs,
    "step": lambda x: (x > 0).astype(np.float64),
    "bumpy": _bumpy,
    "noisy": lambda x: np.sin(np.pi * x),
}


def _check_target_name(name) -> str:
    return check_choice(name, "name", TARGETS)


def target(name: str) -> Callable[[np.ndarray], np.ndarray]:
    """The clean function behind ``target_function(name)``, for plotting the curve a network should learn.

    ``sin``: sin(πx); ``abs``: |x|; ``step``: 1[x > 0]; ``bumpy``: a sum of four Gaussian bumps of
    different widths and signs; ``noisy``: sin(πx) (the samples add Gaussian noise). Works elementwise on
    any array shape, e.g. ``target("sin")(np.linspace(-1, 1, 500))``.
    """
    f = _FUNCTIONS[_check_target_name(name)]

    def clean(x):
        return f(as_float_array(x, "x", dtype=np.float64, finite=False))

    clean.__name__ = f"target_{name}"
    return clean


def target_function(name: str, n: int = 200, seed=0, noise: float | None = None):
    """Samples of a 1-D function on ``TARGET_INTERVAL = [-1, 1]``: ``y = f(x) + noise·ε``.

    ``x`` is ``n`` uniform draws from the interval, sorted; ``f = target(name)``; ``noise`` defaults to
    0 for the clean targets and 0.2 for ``"noisy"``.

    Returns
    -------
    x : (N, 1) float64, sorted ascending
    y : (N, 1) float64
    """
    _check_target_name(name)
    n = as_count(n, "n")
    noise = _DEFAULT_NOISE[name] if noise is None else check_positive(noise, "noise", allow_zero=True)
    rng = as_rng(seed)
    x = np.sort(rng.uniform(*TARGET_INTERVAL, n))
    y = target(name)(x)
    if noise > 0:
        y = y + noise * rng.standard_normal(n)
    return x[:, None], y[:, None]


# ---------------------------------------------------------------------------------------------------
# motorcycle: the shape of Silverman's (1985) crash-helmet data, synthesised (the real data is not bundled)

_MC_T0, _MC_RANGE = 14.0, (2.4, 57.6)


def motorcycle_curve(t) -> np.ndarray:
    """Mean head acceleration (g) at time ``t`` (ms) of the synthetic ``motorcycle`` set.

    Flat at 0 until the impact at ``t0 = 14`` ms, then a damped oscillation
    ``m(t) = -220·exp(-(t - t0)/10)·sin(2π(t - t0)/24)``: a sharp dip to about -130 g near 19 ms,
    a rebound to about +39 g near 31 ms and ripples that die out after ~45 ms.
    """
    t = as_float_array(t, "t", dtype=np.float64, finite=False)
    s = np.maximum(t - _MC_T0, 0.0)
    return -220.0 * np.exp(-s / 10.0) * np.sin(2 * np.pi * s / 24.0)


def _motorcycle_std(t: np.ndarray) -> np.ndarray:
    """Heteroscedastic noise: ~2 g before the impact, up to ~32 g around the dip and rebound, ~10 g later."""
    after = t > _MC_T0
    return np.where(after, 10.0 + 22.0 * np.exp(-(((t - 24.0) / 8.0) ** 2)), 2.0)


def motorcycle(n: int = 133, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy 1-D regression set in the spirit of the motorcycle-crash data (acceleration vs time).

    ``t`` (ms) is uniform on [2.4, 57.6] and sorted; ``y = motorcycle_curve(t) + σ(t)·ε`` with a noise
    level ``σ(t)`` that changes over time (heteroscedastic): small before the impact, largest around the
    dip and the rebound. Units are kept (ms, g) so standardizing the inputs is part of the exercise.
    The real data (Silverman 1985, 133 points) has the same shape; this set is synthetic.

    Returns
    -------
    x : (N, 1) float64 times in ms, sorted ascending
    y : (N, 1) float64 accelerations in g
    """
    n = as_count(n, "n")
    rng = as_rng(seed)
    t = np.sort(rng.uniform(*_MC_RANGE, n))
    y = motorcycle_curve(t) + _motorcycle_std(t) * rng.standard_normal(n)
    return t[:, None], y[:, None]

