"""A small reverse-mode autodiff engine (micrograd, extended from scalars to arrays).

Every operation creates a new :class:`Tensor` that remembers its inputs (``_prev``), its name
(``op``) and a closure ``_backward`` that knows the operation's *local* derivative: it multiplies the
upstream gradient ``out.grad`` by it and adds the result to the inputs' ``.grad``. ``backward()``
visits the graph in reverse topological order, so each node's gradient is complete before it is
passed on: "upstream gradient × local gradient", the chain rule of the lectures. This is what PyTorch
does; it is neither symbolic nor numerical differentiation.

Arrays follow numpy broadcasting; in the backward pass a broadcast operand receives the gradient
summed back to its own shape. :func:`trace` lists the graph's nodes and edges for drawing. The
activations (``Tensor.relu()``, ``.sigmoid()``, ``.tanh()``, ...) are derived from their declarations in
:mod:`nnkit.activations`, one op per declared activation.

>>> w, x, b = Tensor(2.0, label="w"), Tensor(-1.0, label="x"), Tensor(0.5, label="b")
>>> L = (w * x + b).sigmoid()
>>> L.backward()
>>> round(float(w.grad), 4)   # dL/dw = σ'(z) x
-0.1491
"""

from __future__ import annotations

import numpy as np

from nnkit import activations as _act
from nnkit._validate import as_float_array

__all__ = ["Tensor", "Value", "trace"]


def _unbroadcast(grad, shape):
    """Sum ``grad`` over the axes numpy broadcasting added or stretched to reach ``shape``."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad


def _as_data(data, like=None):
    """A float ndarray: float32/float64 kept; Python numbers take the dtype of ``like`` (no upcast)."""
    if isinstance(data, np.ndarray) and data.dtype in (np.float32, np.float64):
        return data
    if like is not None and isinstance(data, (int, float)) and not isinstance(data, bool):
        return np.asarray(data, dtype=like.dtype)
    if isinstance(data, (str, bytes)) or data is None:
        raise TypeError(f"data: expected a number or numeric array, got {type(data).__name__}")
    return as_float_array(data, "data", finite=False)     # NaN and inf are values a graph may carry


def _broadcast(op, a, b):
    """The operands of ``op`` must broadcast (numpy's rules); else a ValueError naming both shapes."""
    if a.shape != b.shape:
        try:
            np.broadcast_shapes(a.shape, b.shape)
        except ValueError:
            raise ValueError(f"{op}: shapes {a.shape} and {b.shape} do not broadcast (numpy's rules: "
                             "sizes must match or be 1, from the last axis)") from None


class Tensor:
    """A node of a computational graph holding an array ``data`` and its gradient ``grad``.

    Parameters
    ----------
    data : number or array_like
        Stored as a float ndarray (0-d for a scalar); float32 stays float32, everything else
        becomes float64.
    label : str
        A name for drawings, e.g. ``Tensor(3.0, label="w1")``.

    Attributes
    ----------
    data : ndarray
    grad : ndarray, same shape, ``dL/d(data)`` after ``L.backward()``
    op : str, the operation that produced this node ("" for a leaf)
    label : str
    _prev : tuple of Tensor, the operands (in order)
    """

    __array_ufunc__ = None  # ndarray + Tensor defers to Tensor.__radd__ (no elementwise object array)

    def __init__(self, data, _prev=(), op="", label=""):
        self.data = _as_data(data)
        self.grad = np.zeros_like(self.data)
        self._prev = tuple(_prev)
        self._backward = None
        self.op = op
        self.label = label

    # ------------------------------------------------------------------ helpers
    def _lift(self, other):
        return other if isinstance(other, Tensor) else Tensor(_as_data(other, like=self.data))

    @property
    def shape(self):
        return self.data.shape

    @property
    def ndim(self):
        return self.data.ndim

    @property
    def dtype(self):
        return self.data.dtype

    def item(self):
        """The value of a one-element tensor as a Python float."""
        return self.data.item()

    def __repr__(self):
        name = f", label={self.label!r}" if self.label else ""
        return f"Tensor(data={self.data!r}, grad={self.grad!r}{name})"

    # ------------------------------------------------------------------ binary ops
    def __add__(self, other):
        other = self._lift(other)
        _broadcast("+", self.data, other.data)
        out = Tensor(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += _unbroadcast(out.grad, self.shape)
            other.grad += _unbroadcast(out.grad, other.shape)
        out._backward = _backward
        return out

    def __sub__(self, other):
        other = self._lift(other)
        _broadcast("-", self.data, other.data)
        out = Tensor(self.data - other.data, (self, other), "-")

        def _backward():
            self.grad += _unbroadcast(out.grad, self.shape)
            other.grad -= _unbroadcast(out.grad, other.shape)
        out._backward = _backward
        return out

    def __mul__(self, other):
        other = self._lift(other)
        _broadcast("*", self.data, other.data)
        out = Tensor(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad += _unbroadcast(out.grad * other.data, self.shape)
            other.grad += _unbroadcast(out.grad * self.data, other.shape)
        out._backward = _backward
        return out

    def __truediv__(self, other):
        other = self._lift(other)
        _broadcast("/", self.data, other.data)
        out = Tensor(self.data / other.data, (self, other), "/")

        def _backward():
            g = out.grad / other.data                        # d(a/b)/da = 1/b
            self.grad += _unbroadcast(g, self.shape)
            other.grad -= _unbroadcast(g * out.data, other.shape)  # d(a/b)/db = -a/b² = -(a/b)/b
        out._backward = _backward
        return out

    def __pow__(self, k):
        if isinstance(k, Tensor) or not isinstance(k, (int, float)) or isinstance(k, bool):
            raise TypeError(f"exponent: expected a Python int or float, got {type(k).__name__}")
        out = Tensor(self.data ** k, (self,), f"**{k}")

        def _backward():
            self.grad += out.grad * (k * self.data ** (k - 1))
        out._backward = _backward
        return out

    def __matmul__(self, other):
        other = self._lift(other)
        a, b = self.data, other.data
        if a.ndim not in (1, 2) or b.ndim not in (1, 2):
            raise ValueError(f"matmul: expected 1-D or 2-D operands, got shapes {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[0]:
            raise ValueError(f"matmul: inner dimensions differ, got shapes {a.shape} and {b.shape}")
        out = Tensor(a @ b, (self, other), "@")

        def _backward():
            g = out.grad
            if a.ndim == 2 and b.ndim == 2:        # (n,k)@(k,m): dA = G Bᵀ, dB = Aᵀ G
                self.grad += g @ b.T
                other.grad += a.T @ g
            elif a.ndim == 2:                      # (n,k)@(k,) -> (n,)
                self.grad += np.outer(g, b)
                other.grad += a.T @ g
            elif b.ndim == 2:                      # (k,)@(k,m) -> (m,)
                self.grad += b @ g
                other.grad += np.outer(a, g)
            else:                                  # (k,)@(k,) -> scalar
                self.grad += g * b
                other.grad += g * a
        out._backward = _backward
        return out

    def __radd__(self, other):
        return self._lift(other) + self

    def __rsub__(self, other):
        return self._lift(other) - self

    def __rmul__(self, other):
        return self._lift(other) * self

    def __rtruediv__(self, other):
        return self._lift(other) / self

    def __rmatmul__(self, other):
        return self._lift(other) @ self

    # ------------------------------------------------------------------ unary ops
    def __neg__(self):
        out = Tensor(-self.data, (self,), "neg")

        def _backward():
            self.grad -= out.grad
        out._backward = _backward
        return out

    def exp(self):
        """``e^x``; local derivative ``e^x``."""
        out = Tensor(np.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.grad * out.data
        out._backward = _backward
        return out

    def log(self):
        """Natural log; local derivative ``1/x``."""
        out = Tensor(np.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data
        out._backward = _backward
        return out

    def sum(self, axis=None, keepdims=False):
        """Sum over ``axis`` (all by default); the gradient is copied back to every summed entry."""
        out = Tensor(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum")

        def _backward():
            g = out.grad
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self.grad += np.broadcast_to(g, self.shape)
        out._backward = _backward
        return out

    def mean(self, axis=None, keepdims=False):
        """Mean over ``axis`` (all by default); gradient ``1/n`` for each averaged entry."""
        n = self.data.size if axis is None else int(np.prod([self.shape[a] for a in np.atleast_1d(axis)]))
        out = Tensor(self.data.mean(axis=axis, keepdims=keepdims), (self,), "mean")

        def _backward():
            g = out.grad
            if axis is not None and not keepdims:
                g = np.expand_dims(g, axis)
            self.grad += np.broadcast_to(g, self.shape) * (1 / n)
        out._backward = _backward
        return out

    @property
    def T(self):
        """Transpose (reverses the axes); the gradient is transposed back."""
        out = Tensor(self.data.T, (self,), "T")

        def _backward():
            self.grad += out.grad.T
        out._backward = _backward
        return out

    # ------------------------------------------------------------------ backprop
    def backward(self, grad=None):
        """Fill ``.grad`` of every node this tensor depends on with ``d self / d node``.

        The seed is ``grad`` (default: ones, i.e. 1 for a scalar loss). Interior nodes are reset on
        every call; leaf gradients accumulate across calls, as in PyTorch (use :meth:`zero_grad`).
        """
        topo = _topological_order(self)
        for node in topo:
            if node._prev:
                node.grad = np.zeros_like(node.data)
        dtype = self.data.dtype
        seed = np.ones_like(self.data) if grad is None else as_float_array(grad, "grad", dtype=dtype)
        if seed.shape != self.shape:
            raise ValueError(f"grad: expected shape {self.shape}, got {seed.shape}")
        self.grad = self.grad + seed if not self._prev else seed.copy()
        for node in reversed(topo):
            if node._backward is not None:
                node._backward()

    def zero_grad(self):
        """Set ``.grad`` of this node and everything it depends on to zero."""
        for node in _topological_order(self):
            node.grad = np.zeros_like(node.data)


def _activation_op(decl):
    """``Tensor.<name>(*params)`` for one activation declared in :mod:`nnkit.activations`.

    The value is the declaration's ``f`` and the local derivative its ``df``, the very kernels the
    layers use: ``x.grad += out.grad * f'(x)``.
    """
    name, f, df = decl.name, decl.f, decl.df

    def op(self, *args, **kw):
        kw = _act.bind(name, args, kw)
        out = Tensor(f(self.data, **kw), (self,), name)

        def _backward():
            self.grad += out.grad * df(self.data, out.data, **kw)
        out._backward = _backward
        return out

    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"``{decl.formula}``; local derivative ``{decl.dformula}``.\n\n{decl.summary}"
    return op


for _decl in _act.DECLARATIONS.values():     # Tensor.relu(), .sigmoid(), .tanh(), .leaky_relu(0.1), ...
    setattr(Tensor, _decl.name, _activation_op(_decl))
del _decl

Value = Tensor


def _topological_order(root):
    """Nodes reachable from ``root``, each after all of its inputs (iterative DFS, no recursion limit)."""
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for child in reversed(node._prev):
            if id(child) not in seen:
                stack.append((child, False))
    return order


def trace(root):
    """List the graph below ``root`` for drawing.

    Returns
    -------
    nodes : list of Tensor, in topological order (inputs before the nodes that use them)
    edges : list of (child, parent) pairs, one per operand, meaning ``child`` feeds ``parent``
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"root: expected a Tensor, got {type(root).__name__}")
    nodes = _topological_order(root)
    edges = [(child, node) for node in nodes for child in node._prev]
    return nodes, edges
