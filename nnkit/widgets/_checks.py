"""What a widget accepts, checked in one place: constructor arguments, the lecturer's data, axis limits.

A widget's handler runs in the kernel, where an exception is invisible to the lecturer (it goes to the
log) and leaves the widget frozen. So everything a handler could choke on is rejected when the widget is
made, with an error naming the argument, what was expected and what was given (:func:`control`,
:func:`count`, :func:`points`); everything the lecturer can still do with the controls (remove every
point, leave one class, push a learning rate until training diverges) is a state the widget draws and
names in its status line (:func:`missing_classes`, :func:`finite_limits`).
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

COORDINATE_BOUND = 1e6  # |x|, |y| of a point: beyond it a model's arithmetic overflows within a few steps


def _number(name: str, value) -> float:
    if isinstance(value, (bool, np.bool_)) or isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected a number, got {value!r}") from None
    if not np.isfinite(v):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return v


def control(kind, name: str, value, **kwargs):
    """Make the control ``kind`` (an ipywidgets slider or Dropdown) showing ``value``, or raise.

    ipywidgets clamps a slider's value into its range and rejects an unknown option with a TraitError
    that does not say which argument was wrong; the lecturer who wrote ``lr=50`` would silently get 10.
    Here a value the control cannot show raises ``ValueError`` naming the argument and the range.
    """
    if kind is widgets.Dropdown:
        options = tuple(v if not isinstance(v, tuple) else v[1] for v in kwargs["options"])
        if value not in options:
            raise ValueError(f"{name}: expected one of {options}, got {value!r}")
        return kind(value=value, **kwargs)
    v = _number(name, value)
    lo, hi = kwargs["min"], kwargs["max"]
    if kind is widgets.FloatLogSlider:
        base = kwargs.get("base", 10)
        lo, hi = base ** lo, base ** hi
    if kind is widgets.IntSlider and v != int(v):
        raise ValueError(f"{name}: expected a whole number, got {value!r}")
    if not lo * (1 - 1e-9) <= v <= hi * (1 + 1e-9):
        raise ValueError(f"{name}: expected a value in [{lo:g}, {hi:g}] (the range of its slider), "
                         f"got {value!r}")
    return kind(value=int(v) if kind is widgets.IntSlider else v, **kwargs)


def count(name: str, value, minimum: int) -> int:
    """A whole number ``>= minimum`` (a number of points, epochs per frame, grid cells)."""
    v = _number(name, value)
    if v != int(v) or v < minimum:
        raise ValueError(f"{name}: expected a whole number >= {minimum}, got {value!r}")
    return int(v)


def positive(name: str, value, maximum: float) -> float:
    """A number in ``(0, maximum]`` (a learning rate without a slider)."""
    v = _number(name, value)
    if not 0 < v <= maximum:
        raise ValueError(f"{name}: expected a value in (0, {maximum:g}], got {value!r}")
    return v


def point(x, y) -> tuple[float, float]:
    """The coordinates of one point the lecturer adds: finite and within :data:`COORDINATE_BOUND`."""
    xy = (_number("x", x), _number("y", y))
    if max(abs(xy[0]), abs(xy[1])) > COORDINATE_BOUND:
        raise ValueError(f"(x, y): expected coordinates within ±{COORDINATE_BOUND:g}, got ({x!r}, {y!r})")
    return xy


def points(X, y, labels: tuple) -> tuple[np.ndarray, np.ndarray]:
    """A data set the lecturer passes: ``X`` (N, 2) finite numbers, ``y`` (N,) labels of two classes.

    ``y`` may use either convention, {0, 1} or {-1, +1}; it is returned in ``labels`` = (negative class,
    positive class) of the widget, e.g. ``(-1, 1)`` for the perceptron, ``(0, 1)`` for the network.
    ``X`` may be a list, integers or float32 (returned float64). One class only is accepted (the widget's
    status line asks for points of the other); no points at all, three classes, NaN are not.
    """
    if X is None or y is None:
        raise ValueError("X, y: give both the points and their labels, or neither (a built-in data set)")
    if isinstance(X, (str, bytes)):
        raise TypeError(f"X: expected an array of shape (N, 2), got {type(X).__name__}")
    try:
        Xa = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"X: expected an array of shape (N, 2) of numbers, got {type(X).__name__}") from None
    if Xa.ndim != 2 or Xa.shape[1] != 2:
        raise ValueError(f"X: expected shape (N, 2) (one row per point, x and y), got shape {Xa.shape}")
    if len(Xa) == 0:
        raise ValueError("X: expected at least one point, got none")
    if not np.isfinite(Xa).all():
        row = int(np.argwhere(~np.isfinite(Xa))[0][0])
        raise ValueError(f"X: row {row} is {Xa[row].tolist()}: every coordinate must be a finite number")
    if np.abs(Xa).max() > COORDINATE_BOUND:
        raise ValueError(f"X: expected coordinates within ±{COORDINATE_BOUND:g}, got {np.abs(Xa).max():g} "
                         "(rescale the data)")
    try:
        ya = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"y: expected labels in {{0, 1}} or {{-1, +1}}, got {type(y).__name__}") from None
    if ya.ndim == 2 and ya.shape[1] == 1:
        ya = ya[:, 0]
    if ya.shape != (len(Xa),):
        raise ValueError(f"y: expected shape ({len(Xa)},) (one label per row of X), got shape {ya.shape}")
    values = set(np.unique(ya).tolist())
    for negative in (0.0, -1.0):
        if values <= {negative, 1.0}:
            return Xa, np.where(ya == 1.0, labels[1], labels[0]).astype(np.int64)
    raise ValueError(f"y: expected two classes labelled {{0, 1}} or {{-1, +1}}, "
                     f"got the labels {sorted(values)}")


def missing_classes(y, classes: dict, where: str = "") -> str:
    """A status-line note saying which classes have no points (``""`` when every class has some).

    ``classes`` maps each label to its name as the "click adds" control shows it; ``where`` names the
    part of the data ``y`` is (" in the training set").
    """
    if len(y) == 0:
        return f"<b>no points</b>{where}: click on the data plot to add some"
    missing = [name for label, name in classes.items() if not np.any(y == label)]
    if not missing:
        return ""
    return (f"<b>no points of class {missing[0]}</b>{where}: choose it under 'click adds' and click on the "
            "data plot to add some")


def finite_limits(lo, hi, default: tuple[float, float]) -> tuple[float, float]:
    """Axis limits from data that may hold NaN or inf (a diverged run): the finite ones, else ``default``.

    Equal limits are widened (matplotlib would warn and widen them itself).
    """
    lo = float(lo) if np.isfinite(lo) and abs(lo) < 1e300 else float(default[0])
    hi = float(hi) if np.isfinite(hi) and abs(hi) < 1e300 else float(default[1])
    if not lo < hi:
        lo, hi = (lo - 0.5, lo + 0.5) if lo == hi else (min(default), max(default))
    return lo, hi


def overflowing(compute, default):
    """``compute()`` where the model's weights may be large enough to overflow (a run that diverged):
    inf and NaN come back as numbers (no warnings), and where nnkit refuses them (its layers check their
    input) ``default()``; the picture then shows a gap and the status line says why."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        try:
            return compute()
        except (ValueError, FloatingPointError):
            return default()
