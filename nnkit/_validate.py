"""Input checks shared by every public nnkit function.

Bad input fails at the boundary with a ValueError/TypeError that names the argument, what was
expected and what was given, so a student sees "X: expected 2 dimensions (N, D), got shape (5,)"
instead of a broadcasting error three calls deeper. No silent broadcasting, no `assert`.
"""

from __future__ import annotations

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
#: the dtype kinds read as numbers: bool, signed and unsigned integers, floats. Complex (its imaginary
#: part would be dropped), datetimes and timedeltas, strings and objects are refused.
NUMERIC_KINDS = "biuf"


def as_array(x, name: str, *, min_ndim: int = 0) -> np.ndarray:
    """``np.asarray(x)``, with a ValueError naming ``name`` for ragged nested lists and for too few axes."""
    if x is None:
        raise TypeError(f"{name}: expected an array, got None")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{name}: cannot be read as an array (rows of different lengths?): {exc}") from None
    if arr.ndim < min_ndim:
        raise ValueError(f"{name}: expected an array with at least {min_ndim} dimension(s), "
                         f"got shape {arr.shape} ({_short(x)})")
    return arr


def _short(x) -> str:
    text = repr(x)
    return text if len(text) <= 40 else text[:37] + "..."


def _numeric_dtype(arr: np.ndarray, name: str, what: str = "a numeric array") -> None:
    if arr.dtype.kind not in NUMERIC_KINDS:
        kind = {"c": " (complex numbers: pass the real part, x.real, if that is what you mean)"}
        raise TypeError(f"{name}: expected {what}, got dtype {arr.dtype}{kind.get(arr.dtype.kind, '')}")


def as_float_array(x, name: str, *, ndim: int | tuple[int, ...] | None = None,
                   dtype=None, finite: bool = True) -> np.ndarray:
    """Return ``x`` as a floating ndarray, checking dimensions and finiteness.

    float32 and float64 inputs keep their dtype (no upcast); anything else becomes ``dtype``
    (float64 by default). ``ndim`` may be one number or a tuple of allowed numbers. Lists of lists,
    ints and bools are read as numbers; strings, objects, complex numbers and ragged lists are refused.
    """
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(f"{name}: expected a numeric array, got {type(x).__name__}")
    arr = as_array(x, name)
    _numeric_dtype(arr, name)
    if dtype is not None:
        arr = arr.astype(dtype, copy=False)
    elif arr.dtype not in FLOAT_DTYPES:
        arr = arr.astype(np.float64)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            want = " or ".join(str(n) for n in allowed)
            hint = ""
            if 2 in allowed and arr.ndim == 1:
                hint = f"; one example of {arr.shape[0]} features is {name}.reshape(1, -1)"
            raise ValueError(f"{name}: expected {want} dimensions, got shape {arr.shape}{hint}")
    if finite:
        check_finite(arr, name)
    return arr


def check_nonempty(arr: np.ndarray, name: str) -> None:
    """At least one example (row) and, for a matrix, one feature: a mean over nothing is no answer."""
    if arr.ndim == 0 or arr.shape[0] == 0 or (arr.ndim == 2 and arr.shape[1] == 0):
        raise ValueError(f"{name}: expected at least one example"
                         + (" and one feature" if arr.ndim == 2 else "") + f", got shape {arr.shape}")


class NameTable(dict):
    """A dict of declarations by name whose missing name is a KeyError listing the valid ones.

    ``RULES["adma"]`` then says ``unknown optimizer 'adma'; valid names are sgd, ..., adam, ...``.
    """

    def __init__(self, what: str, *args, **kw):
        super().__init__(*args, **kw)
        self.what = what

    def __missing__(self, key):
        raise KeyError(f"unknown {self.what} {key!r}; valid names are {', '.join(map(str, self))}")

    def __reduce__(self):
        return type(self), (self.what, dict(self))


def as_count(value, name: str, minimum: int = 1) -> int:
    """A whole number >= ``minimum`` (sizes, epochs, classes) as a Python int; bools and floats refused."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {_short(value)} "
                        f"({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    return int(value)


def as_number(value, name: str) -> float:
    """A real number (Python or numpy, or a 0-d array) as a Python float; bools and strings are refused.

    ``lr=True`` or ``lr="0.1"`` is a mistake, not a value: float() would turn them into 1.0 and 0.1.
    """
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name}: expected a number, got {_short(value)} ({type(value).__name__})")
    return float(value)


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of the names ``choices``, else an error listing them."""
    valid = ", ".join(str(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name}: expected one of {valid}, got {_short(value)} ({type(value).__name__})")
    if value not in choices:
        raise ValueError(f"{name}: expected one of {valid}, got {value!r}")
    return value


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ValueError naming ``name`` and the first bad index if ``arr`` holds NaN or inf."""
    if arr.dtype.kind in "fc" and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        where = tuple(int(i) for i in bad)
        raise ValueError(f"{name}: contains NaN or inf (first at index {where}: {arr[where]})")


def check_shape(arr: np.ndarray, name: str, expected: tuple) -> None:
    """Check ``arr.shape`` against ``expected``; ``None`` entries match any size."""
    ok = arr.ndim == len(expected) and all(e is None or e == s for e, s in zip(expected, arr.shape))
    if not ok:
        pretty = "(" + ", ".join("?" if e is None else str(e) for e in expected) + ")"
        hint = ""
        if arr.ndim == 2 and arr.shape[1] == 1 and len(expected) == 2 and expected[1] not in (None, 1):
            hint = f"; labels go in a 1-D array of shape ({arr.shape[0]},): pass {name}.ravel()"
        raise ValueError(f"{name}: expected shape {pretty}, got {arr.shape}{hint}")


def check_same_rows(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Both arrays must describe the same number of examples (first axis)."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{name_a} has {a.shape[0]} rows but {name_b} has {b.shape[0]}; "
                         "they must describe the same examples")


def as_labels(y, name: str, n_classes: int | None = None) -> np.ndarray:
    """Integer class labels of shape (N,), each in ``[0, n_classes)`` when ``n_classes`` is given."""
    arr = as_array(y, name)
    if arr.ndim != 1:
        hint = f"; pass {name}.ravel()" if arr.ndim == 2 and arr.shape[1] == 1 else ""
        raise ValueError(f"{name}: expected integer labels of shape (N,), got shape {arr.shape}{hint}")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name}: labels must be whole numbers, got {arr[:5]}...")
        arr = arr.astype(np.int64)
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"{name}: expected integer labels, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:                 # on the given dtype: a huge uint64 must not wrap
        raise ValueError(f"{name}: labels must be >= 0, got {int(arr.min())}")
    if n_classes is not None and arr.size and arr.max() >= n_classes:
        raise ValueError(f"{name}: label {int(arr.max())} out of range for {n_classes} classes "
                         f"(valid labels are 0..{n_classes - 1})")
    return arr.astype(np.int64, copy=False)


def as_signs(y, name: str) -> np.ndarray:
    """Binary labels in {-1, +1} of shape (N,)."""
    arr = as_array(y, name)
    if arr.ndim != 1:
        hint = f"; pass {name}.ravel()" if arr.ndim == 2 and arr.shape[1] == 1 else ""
        raise ValueError(f"{name}: expected labels of shape (N,), got shape {arr.shape}{hint}")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name}: expected binary labels -1 or +1, got dtype {arr.dtype}")
    if not np.isin(arr, (-1, 1)).all():
        bad = arr[~np.isin(arr, (-1, 1))][:3] if arr.dtype.kind in "iuf" else arr[:3]
        raise ValueError(f"{name}: binary labels must be -1 or +1, got {bad}")
    return arr.astype(np.int64)


def check_positive(value, name: str, *, allow_zero: bool = False) -> float:
    """A finite number > 0 (or >= 0 with ``allow_zero``)."""
    v = as_number(value, name)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name}: expected a finite value {bound}, got {value!r}")
    return v


def check_probability(value, name: str, *, inclusive_high: bool = False) -> float:
    """A number in [0, 1) (or [0, 1] with ``inclusive_high``)."""
    v = as_number(value, name)
    hi_ok = v <= 1 if inclusive_high else v < 1
    if not (np.isfinite(v) and v >= 0 and hi_ok):
        interval = "[0, 1]" if inclusive_high else "[0, 1)"
        raise ValueError(f"{name}: expected a value in {interval}, got {value!r}")
    return v


def as_rng(seed, name: str = "seed") -> np.random.Generator:
    """A Generator from a seed, an existing Generator (returned as is) or None (fresh entropy)."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is not None and (isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer))):
        raise TypeError(f"{name}: expected an int, a numpy Generator or None, got {type(seed).__name__}")
    if seed is not None and seed < 0:
        raise ValueError(f"{name}: expected an int >= 0, got {seed}")
    return np.random.default_rng(seed)
