"""The sandbox's protocol: what goes in, what comes out, and the events in between (one module).

A sandbox run grades ONE part of one submission (see :mod:`nnkit.course.sandbox`). Into it go

* ``job.json`` in the read-only job folder: the code cells to run (``{"index", "source", "origin"}``),
  the cells to skip, the cell time limit, and the part: the function's name, its time limit and its
  inputs as a JSON tree whose arrays sit in ``.npy`` files beside it (:func:`dump_inputs`). Nothing in
  it says what the answers should be.

Out of it comes one stream of events, one JSON object per line on the result pipe, in this order::

    ready                      the runner is set up; student code has not run yet
    (fault msg)                instead of ready: the sandbox itself is broken (never the student's doing)
    cell_start i / cell_end i error     for every cell run
    part_start
    case c ok value|exc msg timeout sec  one per call of the function, c = 0, 1, ...
    part_end missing
    done

Results are converted *inside* the sandbox to a tagged JSON tree whose arrays are ``.npy`` bytes
(base64) of float64, int64 or bool data plus the name of the dtype returned (restored from a short
whitelist); nothing the student defined (classes, ``__eq__``, ``__array__``, ndarray subclasses)
survives the trip. The trusted side reads the stream with :class:`EventReader`, which keeps only what
the protocol allows at each point (at most one record per case) and stops at the caps of
:class:`Caps`, so its memory stays bounded whatever a submission writes; it decodes with size caps,
``np.load(allow_pickle=False)`` and strict JSON.
"""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import json
import math
from pathlib import Path

import numpy as np

MAX_ITEMS = 10_000          # list/tuple/dict entries per container
MAX_DEPTH = 8
MAX_ARRAY_BYTES = 64 << 20  # one returned array
MAX_STR = 2_000


class WireError(ValueError):
    """The data cannot be encoded or decoded within the format's rules."""


# ---------------------------------------------------------------- inputs (trusted -> sandbox)

def dump_inputs(value, folder: Path, prefix: str) -> object:
    """Encode trusted input data; arrays become ``<prefix>_<n>.npy`` files in ``folder``."""
    counter = [0]

    def enc(v, depth=0):
        if depth > MAX_DEPTH:
            raise WireError("inputs nest too deeply")
        if v is None or isinstance(v, (bool, str)):
            return {"t": "py", "v": v}
        if isinstance(v, (int, np.integer)) and not isinstance(v, np.bool_):
            return {"t": "int", "v": int(v)}
        if isinstance(v, (float, np.floating)):
            return {"t": "float", "v": repr(float(v))}
        if isinstance(v, (np.ndarray, np.generic)):
            name = f"{prefix}_{counter[0]}.npy"
            counter[0] += 1
            np.save(folder / name, np.asarray(v), allow_pickle=False)
            return {"t": "npy", "file": name, "scalar": isinstance(v, np.generic)}
        if isinstance(v, (list, tuple)):
            return {"t": type(v).__name__, "items": [enc(x, depth + 1) for x in v]}
        if isinstance(v, dict):
            if not all(isinstance(k, str) for k in v):
                raise WireError("input dict keys must be strings")
            return {"t": "dict", "items": [[k, enc(x, depth + 1)] for k, x in v.items()]}
        raise WireError(f"cannot ship {type(v).__name__} into the sandbox (plain data only)")

    return enc(value)


def load_inputs(tree, folder: Path):
    """Decode :func:`dump_inputs` (runs in the sandbox)."""
    t = tree["t"]
    if t == "py":
        return tree["v"]
    if t == "int":
        return int(tree["v"])
    if t == "float":
        return float(tree["v"])
    if t == "npy":
        arr = np.load(Path(folder) / tree["file"], allow_pickle=False)
        return arr[()] if tree.get("scalar") else arr
    if t in ("list", "tuple"):
        items = [load_inputs(x, folder) for x in tree["items"]]
        return tuple(items) if t == "tuple" else items
    if t == "dict":
        return {k: load_inputs(x, folder) for k, x in tree["items"]}
    raise WireError(f"unknown input tag {t!r}")


def _make_fingerprint():
    sha256, ndarray, contiguous = hashlib.sha256, np.ndarray, np.ascontiguousarray

    def fingerprint(value) -> str:
        """A digest of input data (runs in the sandbox): equal before and after a call iff unchanged."""
        h = sha256()

        def feed(v, depth):
            if depth > MAX_DEPTH:
                h.update(b"deep")
            elif isinstance(v, ndarray):
                h.update(f"{v.dtype.str}{v.shape}".encode())
                h.update(contiguous(v).view("uint8").tobytes() if v.dtype.kind in "biuf"
                         else repr(v.tolist()).encode())
            elif isinstance(v, dict):
                h.update(b"{")
                for k in list(v):
                    h.update(repr(k).encode())
                    feed(v[k], depth + 1)
                h.update(b"}")
            elif isinstance(v, (list, tuple)):
                h.update(type(v).__name__.encode() + b"[")
                for x in list(v):
                    feed(x, depth + 1)
                h.update(b"]")
            else:
                h.update(repr(v).encode() + b",")
        feed(value, 0)
        return h.hexdigest()

    def changed_inputs(names: list[str], before: list[str], values: list) -> list[str]:
        """The names of the inputs whose :func:`fingerprint` differs from ``before``."""
        return [n for n, b, v in zip(names, before, values) if fingerprint(v) != b]

    return fingerprint, changed_inputs


# Bound once, at import (before any student code runs), so patching the module cannot blind them.
fingerprint, changed_inputs = _make_fingerprint()


# ---------------------------------------------------------------- results (sandbox -> trusted)

def _npy_b64(arr: np.ndarray) -> str:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def encode_result(value, depth: int = 0):
    """Convert whatever a student function returned into plain tagged data (runs in the sandbox).

    Only exact builtin types and real numeric numpy data are accepted; anything else (a class with
    an always-True ``__eq__``, an object with ``__array__``) is reported by type name only.
    ndarray subclasses are viewed as plain ndarrays and copied to float64; an object array is the
    container of its items (``tolist``), each converted by these same rules.
    """
    if depth > MAX_DEPTH:
        return {"t": "unsupported", "type": "too deeply nested"}
    tv = type(value)
    if value is None:
        return {"t": "none"}
    if tv is bool or tv is np.bool_:
        return {"t": "bool", "v": bool(value)}
    if tv is int:
        if abs(value) > 10 ** 300:
            return {"t": "float", "v": "inf" if value > 0 else "-inf"}
        return {"t": "int", "v": str(value)}
    if tv is float:
        return {"t": "float", "v": repr(value)}
    if tv is str:
        return {"t": "str", "v": value[:MAX_STR]}
    if isinstance(value, np.generic) and tv.__module__ == "numpy":
        if np.issubdtype(value.dtype, np.integer):
            return {"t": "int", "v": str(int(value))}
        if np.issubdtype(value.dtype, np.floating) or np.issubdtype(value.dtype, np.complexfloating):
            if np.issubdtype(value.dtype, np.complexfloating):
                return {"t": "unsupported", "type": f"numpy.{value.dtype} (complex)"}
            return {"t": "float", "v": repr(float(value))}
        return {"t": "unsupported", "type": f"numpy.{value.dtype}"}
    if isinstance(value, np.ndarray):
        base = value.view(np.ndarray)  # drop any subclass behaviour
        kind = base.dtype.kind
        if kind == "O" and base.size <= MAX_ITEMS:  # np.array([loss, grad], dtype=object): a container
            return encode_result(base.tolist(), depth + 1)
        if kind not in "biuf":
            return {"t": "unsupported", "type": f"ndarray of dtype {base.dtype}"}
        if base.size * 8 > MAX_ARRAY_BYTES:
            return {"t": "unsupported", "type": f"ndarray of shape {base.shape} (too large)"}
        if kind == "b":
            arr = np.array(base, dtype=np.bool_, copy=True, subok=False)
        elif kind in "iu" and (base.size == 0 or base.dtype.itemsize < 8 or kind == "i"
                               or int(base.max()) <= np.iinfo(np.int64).max):
            arr = np.array(base, dtype=np.int64, copy=True, subok=False)
        else:
            arr = np.array(base, dtype=np.float64, copy=True, subok=False)
        return {"t": "array", "dtype": str(base.dtype), "npy": _npy_b64(arr)}
    if tv in (list, tuple):
        if len(value) > MAX_ITEMS:
            return {"t": "unsupported", "type": f"{tv.__name__} of {len(value)} items (too many)"}
        return {"t": tv.__name__, "items": [encode_result(x, depth + 1) for x in list.__iter__(value)]
                if tv is list else [encode_result(x, depth + 1) for x in tuple.__iter__(value)]}
    if tv is dict:
        if len(value) > MAX_ITEMS:
            return {"t": "unsupported", "type": f"dict of {len(value)} items (too many)"}
        items = []
        for k, x in dict.items(value):
            if type(k) is not str:
                return {"t": "unsupported", "type": "dict with non-string keys"}
            items.append([k[:MAX_STR], encode_result(x, depth + 1)])
        return {"t": "dict", "items": items}
    plain = _as_plain_container(value)
    if plain is not None:
        return encode_result(plain, depth)
    name = getattr(tv, "__qualname__", "object")
    module = getattr(tv, "__module__", "")
    return {"t": "unsupported", "type": f"{module}.{name}" if module else name}


def _as_plain_container(value):
    """Any mapping as a dict, any other sequence (namedtuple, deque, range) as a tuple or list, any
    number (Fraction, Decimal) as an int or a float.

    Honest answers come in many containers (an ``OrderedDict`` of optimizer state, a ``namedtuple``
    of results); the check needs only their items. Runs in the sandbox, so whatever the container's
    methods do stays there: what leaves is the plain dict/tuple/list built here (None: not a container).
    """
    import numbers
    from collections.abc import Iterable, Mapping

    try:
        if isinstance(value, numbers.Integral):
            return int(value)
        if isinstance(value, numbers.Real) or (isinstance(value, numbers.Number)
                                               and not isinstance(value, numbers.Complex)):  # Decimal
            return float(value)
        if isinstance(value, Mapping):
            if len(value) > MAX_ITEMS:
                return None
            return {k: value[k] for k in itertools.islice(iter(value), MAX_ITEMS)}
        if isinstance(value, (str, bytes, bytearray, memoryview)) or hasattr(value, "__array__"):
            return None  # an object posing as an array is named, not converted through its own method
        if isinstance(value, Iterable):  # any sequence, a deque, a range, a generator of results
            items = list(itertools.islice(iter(value), MAX_ITEMS + 1))
            if len(items) > MAX_ITEMS:
                return None
            return tuple(items) if isinstance(value, tuple) else items
    except Exception:  # noqa: BLE001 - a container that cannot be read is reported by type name
        return None
    return None


# Arrays travel as float64 (floats), int64 (integers) or bool, and get their original dtype back.
_RESTORABLE = {"f": ("float16", "float32", "float64"),
               "i": ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32"),
               "b": ("bool",)}


class Unsupported:
    """Stands for a returned value the grader refuses to interpret (shown by type name)."""

    def __init__(self, type_name: str):
        self.type_name = str(type_name)[:200]

    def __repr__(self):
        return f"<{self.type_name}>"


def _strict_constant(name):
    raise WireError(f"non-standard JSON constant {name}")


def loads_strict(text: str | bytes):
    """``json.loads`` that rejects NaN/Infinity literals (results carry floats as strings)."""
    return json.loads(text, parse_constant=_strict_constant)


_PLAIN = (np.dtype(np.float64), np.dtype(np.int64), np.dtype(np.bool_))


def _load_npy(raw: bytes) -> np.ndarray:
    """The array in ``.npy`` bytes, read only if its header describes plain float64/int64/bool data
    of exactly the size that follows (so a forged header can neither allocate nor unpickle anything)."""
    fh = io.BytesIO(raw)
    try:
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(np.lib.format.read_magic(fh))
        if read_header is None:
            raise ValueError("not a version 1.0 or 2.0 .npy")
        shape, fortran, dtype = read_header(fh)
    except (ValueError, EOFError, TypeError, SyntaxError) as exc:
        raise WireError(f"the array's header cannot be read ({type(exc).__name__})") from None
    if dtype not in _PLAIN:
        raise WireError("array is not plain float64/int64/bool data")
    count = math.prod(shape)
    if count < 0 or count * dtype.itemsize != len(raw) - fh.tell():
        raise WireError("the array's data does not match its header")
    flat = np.frombuffer(raw, dtype=dtype, count=count, offset=fh.tell())
    return flat.reshape(shape, order="F" if fortran else "C").copy()


def decode_result(tree, depth: int = 0, budget: list | None = None):
    """Rebuild plain Python/numpy data from :func:`encode_result`'s output (trusted side)."""
    budget = [MAX_ARRAY_BYTES * 2] if budget is None else budget
    if depth > MAX_DEPTH + 1 or not isinstance(tree, dict):
        raise WireError("malformed result")
    t = tree.get("t")
    if t == "none":
        return None
    if t == "bool":
        return bool(tree["v"] is True)
    if t == "int":
        s = str(tree["v"])
        if len(s) > 400:
            raise WireError("integer too long")
        return int(s)
    if t == "float":
        s = str(tree["v"])
        if len(s) > 64:
            raise WireError("float too long")
        v = float(s)
        return v if not math.isnan(v) else float("nan")
    if t == "str":
        return str(tree["v"])[:MAX_STR]
    if t == "array":
        raw = base64.b64decode(str(tree["npy"]), validate=True)
        budget[0] -= len(raw)
        if len(raw) > MAX_ARRAY_BYTES + 1024 or budget[0] < 0:
            raise WireError("array too large")
        arr = _load_npy(raw)
        original = str(tree.get("dtype", ""))
        if original in _RESTORABLE.get(arr.dtype.kind, ()):
            arr = arr.astype(original)  # the dtype the student returned (checked by some graders)
        return arr
    if t in ("list", "tuple"):
        items = tree["items"]
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError("malformed sequence")
        out = [decode_result(x, depth + 1, budget) for x in items]
        return tuple(out) if t == "tuple" else out
    if t == "dict":
        items = tree["items"]
        if not isinstance(items, list) or len(items) > MAX_ITEMS:
            raise WireError("malformed dict")
        return {str(k): decode_result(x, depth + 1, budget) for k, x in items}
    if t == "unsupported":
        return Unsupported(tree.get("type", "object"))
    raise WireError(f"unknown result tag {t!r}")


def valid_text(value):
    """Parsed JSON with every string (keys too) made valid Unicode, in place where it can be.

    A JSON escape can carry a lone surrogate (``"\\ud800"``), which no UTF-8 file, database or page
    can hold: it becomes U+FFFD here, where text from outside (a notebook, the result pipe) comes in,
    so that nothing written later fails on it. Iterative, so any nesting JSON parsed is walked.
    """
    def fix(text: str) -> str:
        if text.isascii():
            return text
        try:
            text.encode("utf-8")
            return text
        except UnicodeEncodeError:
            return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")

    if isinstance(value, str):
        return fix(value)
    stack = [value] if isinstance(value, (dict, list)) else []
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            pairs = [(fix(k) if isinstance(k, str) else k, v) for k, v in node.items()]
            node.clear()
            node.update(pairs)
            keys = list(node)
        else:
            keys = range(len(node))
        for k in keys:
            v = node[k]
            if isinstance(v, str):
                node[k] = fix(v)
            elif isinstance(v, (dict, list)):
                stack.append(v)
    return value


# ---------------------------------------------------------------- events (sandbox -> trusted)

READY, FAULT, CELL_START, CELL_END = "ready", "fault", "cell_start", "cell_end"
PART_START, CASE, PART_END, DONE = "part_start", "case", "part_end", "done"
# The events that move the run to its next stage (the trusted side resets its clock on each).
STAGE_EVENTS = (READY, CELL_START, CELL_END, PART_START, CASE, PART_END, DONE)


def event_line(ev: str, **fields) -> bytes:
    """One event as the bytes the runner writes (strict JSON: no NaN/Infinity literals)."""
    return (json.dumps({"ev": ev, **fields}, allow_nan=False) + "\n").encode()


class Caps:
    """How much of a sandbox's output the trusted side will read (bytes and events)."""

    def __init__(self, event_bytes: int = 16 << 20, part_bytes: int = 48 << 20,
                 total_bytes: int = 64 << 20, events_per_item: int = 4, spare_events: int = 64):
        self.event_bytes = event_bytes          # one line
        self.part_bytes = part_bytes            # all case results of the part
        self.total_bytes = total_bytes          # everything on the pipe
        self.events_per_item = events_per_item  # events allowed per cell or case, plus spare_events
        self.spare_events = spare_events


class EventReader:
    """The trusted side's view of one sandbox run, fed the raw bytes of the result pipe.

    Keeps only what the protocol allows where the run is: the fault message before ``ready``, the
    first ``cell_end`` of every cell, one ``case`` record per expected case index between
    ``part_start`` and ``part_end``, and ``done``. Everything else is counted and dropped. When a cap
    of :class:`Caps` is passed, :attr:`overflow` says which, and nothing more is kept. Student code can
    write to the pipe too (it runs in the same process as the runner); anything out of place after
    ``ready`` is counted in :attr:`forged`, and the trusted side grades nothing of such a run.
    """

    def __init__(self, n_cells: int, n_cases: int, caps: Caps | None = None):
        self.caps = caps or Caps()
        self.n_cells, self.n_cases = n_cells, n_cases
        self.max_events = self.caps.events_per_item * (n_cells + n_cases) + self.caps.spare_events
        self.ready = False
        self.fault: str | None = None
        self.cells: dict[int, str | None] = {}   # cell index -> error (None: ran fine)
        self.started_cell: int | None = None
        self.part_started = False
        self.part_ended = False
        self.missing = False
        self.records: dict[int, dict] = {}       # case index -> the case event
        self.done = False
        self.overflow: str | None = None
        self.stage: tuple = ("startup",)
        self.events = 0
        self.dropped = 0
        self.forged = 0                          # messages after ready that the runner cannot have sent
        self.bytes = 0
        self.part_bytes = 0
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> bool:
        """Take more bytes; True when the stage moved on (the caller resets its clock)."""
        if self.overflow:
            return False
        self.bytes += len(chunk)
        if self.bytes > self.caps.total_bytes:
            self.overflow = f"wrote more than {self.caps.total_bytes >> 20} MB to the grader"
            return False
        moved = False
        start = 0
        while start < len(chunk):
            nl = chunk.find(b"\n", start)
            end = len(chunk) if nl < 0 else nl
            self._partial += chunk[start:end]
            if len(self._partial) > self.caps.event_bytes:
                self.overflow = (f"wrote a single message of more than {self.caps.event_bytes >> 20} MB "
                                 "to the grader")
                self._partial = bytearray()
                return moved
            if nl < 0:
                break
            line, self._partial = bytes(self._partial), bytearray()
            moved = self._line(line) or moved
            if self.overflow:
                return moved
            start = nl + 1
        return moved

    def _line(self, line: bytes) -> bool:
        self.events += 1
        if self.events > self.max_events:
            self.overflow = (f"wrote more than {self.max_events} messages to the grader for "
                             f"{self.n_cells} cells and {self.n_cases} calls")
            return False
        try:
            event = valid_text(loads_strict(line))
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: a line nested too deep
            event = None
        if not isinstance(event, dict) or not self._accept(event, len(line)):
            self.dropped += 1
            self.forged += self.ready  # the runner writes only what the protocol allows where it is
            return False
        return event.get("ev") in STAGE_EVENTS

    def _accept(self, event: dict, size: int) -> bool:
        ev = event.get("ev")
        if not self.ready:
            if ev == FAULT and self.fault is None:
                self.fault = str(event.get("msg", ""))[:MAX_STR]
                return True
            if ev == READY:
                self.ready = True
                self.stage = ("between",)
                return True
            return False
        if self.done:
            return False
        if ev == CELL_START and not self.part_started:
            i = event.get("i")
            if type(i) is int and 0 <= i < self.n_cells and i not in self.cells:
                self.started_cell = i
                self.stage = ("cell", i)
                return True
        elif ev == CELL_END and not self.part_started:
            i = event.get("i")
            if type(i) is int and i == self.started_cell:
                err = event.get("error")
                self.cells[i] = None if err is None else str(err)[:300]
                self.started_cell = None
                self.stage = ("between",)
                return True
        elif ev == PART_START and not self.part_started:
            self.part_started = True
            self.stage = ("part",)
            return True
        elif ev == CASE and self.part_started and not self.part_ended:
            c = event.get("c")
            if type(c) is int and 0 <= c < self.n_cases and c not in self.records:
                self.part_bytes += size
                if self.part_bytes > self.caps.part_bytes:
                    self.overflow = (f"returned more than {self.caps.part_bytes >> 20} MB of results "
                                     "for this part")
                    return False
                self.records[c] = event
                return True
        elif ev == PART_END and self.part_started and not self.part_ended:
            self.part_ended = True
            self.missing = event.get("missing") is True
            self.stage = ("between",)
            return True
        elif ev == DONE and (self.part_ended or not self.n_cases):
            self.done = True
            self.stage = ("done",)
            return True
        return False
