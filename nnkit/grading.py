"""Checks that tell a student what is wrong, not just that something is.

The exercise notebooks' test cells call these helpers, and the trusted grader (``nnkit.course``)
uses the same :func:`compare` to explain every lost point, so the message a student sees while
working is the message in their feedback. A failed check raises :class:`CheckFailed` (an
``AssertionError``, which is what nbgrader counts as a failed test) whose text names the part, the
expected and actual shape, and the relative error with the index where it is largest.

:func:`forbid_reference` catches a graded function that merely calls nnkit's own implementation of
the very thing it is supposed to implement: such a part earns no credit.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Mapping

import numpy as np

__all__ = [
    "CheckFailed", "ReferenceUsed", "compare", "check_close", "check_equal", "check_shape",
    "check_true", "check_raises", "forbid_reference", "passed",
]


class CheckFailed(AssertionError):
    """A public or hidden check failed; the message says which part and why."""


class ReferenceUsed(RuntimeError):
    """A graded function called the nnkit reference implementation it was meant to replace."""


def _describe(value) -> str:
    if value is None:
        return "None"
    if isinstance(value, np.ndarray):
        return f"array of shape {value.shape} and dtype {value.dtype}"
    return type(value).__name__


def _as_array(value, what: str) -> np.ndarray:
    """``value`` as an ndarray as it is (no dtype forced); ragged lists and None explained."""
    if value is None:
        raise CheckFailed(f"{what} is None: did the function forget to `return` its result?")
    if isinstance(value, (str, bytes, dict)):
        raise CheckFailed(f"{what} is a {type(value).__name__}, expected a number or an array")
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise CheckFailed(f"{what} ({_describe(value)}) cannot be read as an array (rows of different "
                          f"lengths?): {exc}") from None


def _as_numeric(value, what: str) -> np.ndarray:
    """``value`` as float64 numbers. Only numbers are numbers: strings ("1.5"), dates, objects and complex
    numbers with an imaginary part are refused, not converted (float("1.5") would make them pass)."""
    arr = _as_array(value, what)
    kind = arr.dtype.kind
    if kind == "c":
        if np.any(arr.imag != 0):
            raise CheckFailed(f"{what} holds complex numbers ({_describe(value)}), expected real numbers")
        arr = arr.real
    elif kind not in "biuf":
        held = {"U": "strings", "S": "bytes", "O": "Python objects", "M": "dates", "m": "time spans"}
        raise CheckFailed(f"{what} ({_describe(value)}) cannot be read as numbers: it holds "
                          f"{held.get(kind, arr.dtype)}")
    return arr.astype(np.float64)


def compare(got, expected, *, rtol: float = 1e-6, atol: float = 1e-8) -> str | None:
    """Compare ``got`` with ``expected`` elementwise; return ``None`` if they agree, else why not.

    Tuples/lists are compared item by item (``(loss, grad)``, ``(dx, dW, db)``) and dicts key by key.
    Agreement means ``|got - expected| <= atol + rtol * |expected|`` everywhere, with no broadcasting:
    shapes must match exactly (a ``(3,)`` answer for a ``(3, 1)`` target is a shape error, not a pass).
    """
    if isinstance(expected, Mapping):
        if not isinstance(got, Mapping):
            return f"expected a dict with keys {sorted(expected)}, got {_describe(got)}"
        missing = sorted(set(expected) - set(got))
        if missing:
            return f"missing keys {missing} (got keys {sorted(got)})"
        for key in expected:
            why = compare(got[key], expected[key], rtol=rtol, atol=atol)
            if why:
                return f"[{key!r}] {why}"
        return None
    if isinstance(expected, (tuple, list)) and not _is_numeric_sequence(expected):
        if not isinstance(got, (tuple, list)):
            return f"expected a tuple of {len(expected)} items, got {_describe(got)}"
        if len(got) != len(expected):
            return f"expected {len(expected)} items, got {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            why = compare(g, e, rtol=rtol, atol=atol)
            if why:
                return f"item {i}: {why}"
        return None
    try:
        g = _as_numeric(got, "the result")
    except CheckFailed as exc:
        return str(exc)
    e = np.asarray(expected, dtype=np.float64)
    if g.shape != e.shape:
        return f"expected shape {e.shape}, got shape {g.shape}"
    if not np.isfinite(g).all():
        bad = np.argwhere(~np.isfinite(g))[0] if g.ndim else ()
        where = tuple(int(i) for i in bad)
        return f"the result contains NaN or inf (first at index {where})"
    diff = np.abs(g - e)
    tol = atol + rtol * np.abs(e)
    if np.all(diff <= tol):
        return None
    rel = diff / np.maximum(np.abs(g) + np.abs(e), 1e-8)
    worst = np.unravel_index(int(np.argmax(diff - tol)), e.shape) if e.ndim else ()
    where = f" at index {tuple(int(i) for i in worst)}" if e.ndim else ""
    n_bad = int(np.count_nonzero(diff > tol))
    return (f"values differ in {n_bad} of {e.size} entries; largest{where}: expected "
            f"{e[worst]:.6g}, got {g[worst]:.6g} (max relative error {rel.max():.2e})")


def _is_numeric_sequence(seq) -> bool:
    return all(isinstance(v, (int, float, np.number)) for v in seq) or (
        all(isinstance(v, (list, tuple)) for v in seq) and all(_is_numeric_sequence(v) for v in seq))


def passed(name: str) -> None:
    """Print the success line every check prints."""
    print(f"\u2713 {name}")


def check_close(got, expected, name: str, *, rtol: float = 1e-6, atol: float = 1e-8) -> None:
    """Fail with an explanation unless ``got`` matches ``expected`` (see :func:`compare`)."""
    why = compare(got, expected, rtol=rtol, atol=atol)
    if why:
        raise CheckFailed(f"{name}: {why}")
    passed(name)


def check_equal(got, expected, name: str) -> None:
    """Exact equality for integers, labels and booleans (shapes must match)."""
    e = np.asarray(expected)
    g = _as_array(got, f"{name}: the result")
    if g.dtype.kind in "OmM":
        raise CheckFailed(f"{name}: the result ({_describe(got)}) is not an array of numbers or labels")
    if g.shape != e.shape:
        raise CheckFailed(f"{name}: expected shape {e.shape}, got shape {g.shape}")
    mismatch = np.argwhere(np.atleast_1d(g != e))  # 0-d: argwhere of a scalar would find nothing
    if mismatch.size:
        if e.ndim == 0:
            raise CheckFailed(f"{name}: expected {e.tolist()!r}, got {g.tolist()!r}")
        first = tuple(int(i) for i in mismatch[0])
        raise CheckFailed(f"{name}: {len(mismatch)} of {e.size} entries differ; first at index {first}: "
                          f"expected {e[first].tolist()!r}, got {g[first].tolist()!r}")
    passed(name)


def check_shape(got, shape: tuple, name: str) -> None:
    """Fail unless ``got`` is an array of exactly ``shape``."""
    g = _as_numeric(got, f"{name}: the result")
    if g.shape != tuple(shape):
        raise CheckFailed(f"{name}: expected shape {tuple(shape)}, got shape {g.shape}")
    passed(name)


def check_true(condition, name: str, hint: str = "") -> None:
    """Fail with ``hint`` unless ``condition`` is truthy (a real ``bool``, not an array)."""
    if not isinstance(condition, (bool, np.bool_)):
        raise CheckFailed(f"{name}: expected True or False, got {_describe(condition)}")
    if not condition:
        raise CheckFailed(f"{name}: {hint}" if hint else f"{name}: the condition is False")
    passed(name)


def check_raises(fn: Callable[[], object], exc_type: type[BaseException], name: str) -> None:
    """Fail unless calling ``fn()`` raises ``exc_type``."""
    try:
        fn()
    except exc_type:
        passed(name)
        return
    except Exception as exc:  # noqa: BLE001
        raise CheckFailed(f"{name}: expected {exc_type.__name__}, got {type(exc).__name__}: {exc}") from None
    raise CheckFailed(f"{name}: expected {exc_type.__name__}, but nothing was raised")


def _resolve(dotted: str):
    """Import ``pkg.module.attr[.attr]`` and return (owner, attribute name, object)."""
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        try:
            owner = __import__(module_name, fromlist=["_"])
        except ImportError:
            continue
        try:
            for attr in parts[cut:-1]:
                owner = getattr(owner, attr)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            break
    raise ValueError(f"forbid_reference: cannot resolve {dotted!r}")


class _TrippedMapping(Mapping):
    """Stands in for a forbidden table (e.g. ``nnkit.optim.RULES``): any lookup trips."""

    def __init__(self, dotted: str, message: str, used: list):
        self._dotted, self._message, self._used = dotted, message, used

    def _trip(self):
        self._used.append(self._dotted)
        raise ReferenceUsed(self._message)

    def __getitem__(self, key):
        self._trip()

    def __iter__(self):
        self._trip()

    def __len__(self):
        self._trip()


@contextlib.contextmanager
def forbid_reference(names, namespaces: tuple[dict, ...] = (), used: list | None = None) -> Iterator[list]:
    """Within the block, calling any of the nnkit objects in ``names`` raises :class:`ReferenceUsed`.

    Every nnkit module, and every dict in ``namespaces`` (e.g. the notebook's globals, for
    ``from nnkit.losses import mse as my_mse``), that holds the original object gets a tripwire in its
    place; all are restored on exit, as are names the block itself bound to a tripwire in those
    namespaces. The tripwires hold no reference to the original. The names of tripped references are
    appended to ``used`` (also yielded), so a caller still knows even if the student's code swallowed
    the exception.
    """
    used = [] if used is None else used
    if isinstance(names, str):
        names = [names]
    patches: list[tuple[object, str, object]] = []
    originals: dict[int, tuple[object, object]] = {}  # id(tripwire) -> (tripwire, original)

    def tripwire(dotted: str, original):
        message = (f"this part may not use {dotted}: it is nnkit's own implementation of what the "
                   "part asks you to write (or data the grader keeps). No credit for this part; "
                   "write it yourself.")
        if isinstance(original, Mapping):
            return _TrippedMapping(dotted, message, used)

        def wrapper(*args, **kwargs):
            used.append(dotted)
            raise ReferenceUsed(message)
        return wrapper

    try:
        for dotted in names:
            owner, attr, original = _resolve(dotted)
            wire = tripwire(dotted, original)
            originals[id(wire)] = (wire, original)
            holders = [m for n, m in list(sys.modules.items()) if n == "nnkit" or n.startswith("nnkit.")]
            for holder in [owner, *holders]:
                for key, value in list(vars(holder).items()):
                    if value is original:
                        patches.append((holder, key, value))
                        setattr(holder, key, wire)
            for ns in namespaces:
                for key, value in list(ns.items()):
                    if value is original:
                        patches.append((ns, key, value))
                        ns[key] = wire
        yield used
    finally:
        for holder, key, value in reversed(patches):
            if isinstance(holder, dict):
                holder[key] = value
            else:
                setattr(holder, key, value)
        # Names bound inside the block (``from nnkit.losses import mse``) get the real object back.
        for ns in namespaces:
            for key, value in list(ns.items()):
                entry = originals.get(id(value))
                if entry is not None and entry[0] is value:
                    ns[key] = entry[1]
