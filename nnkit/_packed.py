"""Arrays packed into one buffer: a network's parameters, its gradients, an optimizer's state.

A :class:`Packed` dict maps names to arrays that are consecutive, C-contiguous views into one 1-D
``buffer``, in the dict's order, as described by its ``layout``. Elementwise work on all of them (an
optimizer's update, above all) is then one numpy operation on the buffer instead of one per array: at
the batch sizes students use, the per-call cost of numpy, not the arithmetic, is what a step costs.

The packing is an optimization only, never a second meaning: the views are ordinary arrays, in-place
changes to them are changes to the buffer, and any change to the dict itself (an entry replaced or
removed) drops ``buffer`` to None, so nobody reads the buffer of a dict that no longer describes it.
Pickled or deep-copied, a Packed becomes a plain dict of its arrays (their owner re-packs them, see
:meth:`nnkit.layers.Sequential.__setstate__`).
"""

from __future__ import annotations

import math
from sys import getrefcount

import numpy as np


class Layout(tuple):
    """``((name, shape, start, stop), ...)``: where each array of a packed dict lives in its buffer."""

    @property
    def size(self) -> int:
        return self[-1][3] if self else 0

    def views(self, buffer) -> list:
        """The arrays of ``buffer``, one view per entry, in order."""
        return [buffer[start:stop].reshape(shape) for _, shape, start, stop in self]


def layout_of(arrays) -> Layout:
    """The layout packing ``arrays`` (a dict name -> ndarray) one after another, in the dict's order."""
    out, start = [], 0
    for name, a in arrays.items():
        stop = start + math.prod(a.shape)
        out.append((name, tuple(a.shape), start, stop))
        start = stop
    return Layout(out)


class Packed(dict):
    """A dict of views into one 1-D ``buffer`` laid out by ``layout`` (see the module docstring)."""

    __slots__ = ("buffer", "layout", "_refs")

    def __init__(self, buffer=None, layout=None):
        super().__init__()
        self.buffer = self.layout = self._refs = None
        if buffer is not None:
            self.refill(buffer, layout)

    def refill(self, buffer, layout) -> None:
        """Hold the views of ``buffer`` laid out by ``layout``, in place of whatever the dict held."""
        dict.clear(self)
        self.buffer, self.layout, self._refs = buffer, layout, None
        dict.update(self, zip((entry[0] for entry in layout), layout.views(buffer)))

    def _refcounts(self):
        return getrefcount(self.buffer), *map(getrefcount, self.values())

    def held(self) -> None:
        """Record who holds the buffer and the views now: their owner's own references, by its word."""
        self._refs = self._refcounts()

    def unshared(self) -> bool:
        """Whether the buffer and its views are held by exactly what held them at :meth:`held`.

        An owner may then write into them again: nobody else can see the difference. Any other reference
        (a view kept by a caller, a slice of one, the buffer itself, a copy of the dict) counts, so the
        answer errs only towards False.
        """
        return self.buffer is not None and self._refs is not None and self._refcounts() == self._refs

    @classmethod
    def pack(cls, arrays, dtype):
        """A Packed holding copies of ``arrays`` (name -> ndarray) in one new buffer of ``dtype``."""
        layout = layout_of(arrays)
        buffer = np.empty(layout.size, dtype=dtype)
        out = cls(buffer, layout)
        for name, a in arrays.items():
            out[name][...] = a
        return out

    def _unpacked(self):
        self.buffer = self._refs = None

    def __setitem__(self, key, value):
        if self.buffer is not None and dict.get(self, key) is not value:
            self._unpacked()
        super().__setitem__(key, value)

    def __delitem__(self, key):
        self._unpacked()
        super().__delitem__(key)

    def pop(self, *args):
        self._unpacked()
        return super().pop(*args)

    def popitem(self):
        self._unpacked()
        return super().popitem()

    def clear(self):
        self._unpacked()
        super().clear()

    def setdefault(self, key, default=None):
        if key not in self:
            self._unpacked()
        return super().setdefault(key, default)

    def update(self, *args, **kw):
        for key, value in dict(*args, **kw).items():
            self[key] = value

    def __ior__(self, other):
        self.update(other)
        return self

    def __reduce__(self):
        return dict, (dict(self),)

    def __copy__(self):
        return dict(self)

    def __deepcopy__(self, memo):
        import copy

        return {k: copy.deepcopy(v, memo) for k, v in self.items()}
