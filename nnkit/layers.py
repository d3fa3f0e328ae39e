"""Layer objects: thin stateful wrappers around the pure pairs in :mod:`nnkit.functional`.

A layer holds its parameters (``params``), remembers the cache of its last ``forward`` and, on
``backward(dout)``, stores parameter gradients in ``grads`` (same keys) and returns ``dx``.
:class:`Sequential` chains layers and exposes every parameter under the course's stable names
``W1, b1, W2, b2, ...`` (numbered by dense layer), ready for an optimizer from :mod:`nnkit.optim`.
"""

from __future__ import annotations

import numpy as np

from nnkit import activations as _act
from nnkit import functional as F
from nnkit._validate import as_rng, check_probability

__all__ = ["Layer", "Dense", "Activation", "ReLU", "Sigmoid", "Tanh", "LeakyReLU", "Step", "Sign",
           "Gaussian", "Identity", "Dropout", "Sequential", "INITS"]

INITS = ("he", "xavier", "normal")


class Layer:
    """Base class: ``forward(x, train=False) -> out`` and ``backward(dout) -> dx``."""

    params: dict
    grads: dict

    def __init__(self):
        self.params, self.grads = {}, {}
        self._cache = None

    def forward(self, x, train=False):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, dout):  # pragma: no cover - interface
        raise NotImplementedError

    def __call__(self, x, train=False):
        return self.forward(x, train=train)

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    @property
    def n_params(self) -> int:
        """Number of learnable scalars in this layer."""
        return int(sum(v.size for v in self.params.values()))


def _check_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)


class Dense(Layer):
    r"""Fully connected (affine) layer ``z = x W + b``.

    Initialization (``b`` starts at 0):

    * ``"he"``: :math:`W \sim \mathcal N(0, 2/d_{in})` (for ReLU networks),
    * ``"xavier"``: :math:`W \sim \mathcal N(0, 2/(d_{in} + d_{out}))` (Glorot, for tanh/sigmoid),
    * ``"normal"``: :math:`W \sim \mathcal N(0, 0.01^2)` (CS231n's small random numbers).

    Parameters
    ----------
    d_in, d_out : int
        Input and output sizes; ``W`` has shape (d_in, d_out), ``b`` shape (d_out,).
    init : {"he", "xavier", "normal"}
    seed : int, numpy Generator or None
    dtype : np.float64 (default) or np.float32
    """

    def __init__(self, d_in, d_out, *, init="he", seed=0, dtype=np.float64):
        super().__init__()
        self.d_in, self.d_out = _check_int(d_in, "d_in"), _check_int(d_out, "d_out")
        if init not in INITS:
            raise ValueError(f"init: expected one of {', '.join(INITS)}, got {init!r}")
        dtype = np.dtype(dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype: expected float32 or float64, got {dtype}")
        std = {"he": np.sqrt(2 / self.d_in), "xavier": np.sqrt(2 / (self.d_in + self.d_out)),
               "normal": 0.01}[init]
        rng = as_rng(seed)
        W = (rng.standard_normal((self.d_in, self.d_out)) * std).astype(dtype)
        self.init = init
        self.params = {"W": W, "b": np.zeros(self.d_out, dtype=dtype)}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros(self.d_out, dtype=dtype)}

    def forward(self, x, train=False):
        """``x`` (N, d_in) -> ``z`` (N, d_out)."""
        out, self._cache = F.dense_forward(x, self.params["W"], self.params["b"])
        return out

    def backward(self, dout):
        """``dout`` (N, d_out) -> ``dx`` (N, d_in); stores ``grads["W"]``, ``grads["b"]``."""
        dx, self.grads["W"], self.grads["b"] = F.dense_backward(dout, self._need_cache())
        return dx

    def __repr__(self):
        return f"Dense({self.d_in}, {self.d_out}, init={self.init!r})"


class Activation(Layer):
    """Elementwise activation layer by name, e.g. ``Activation("leaky_relu", slope=0.1)``.

    Parameters
    ----------
    name : str or nnkit.activations.Activation
        One of :data:`nnkit.activations.NAMES`, or the result of :func:`nnkit.activations.get`.
    **kw
        Activation parameters (``slope`` for "leaky_relu").
    """

    def __init__(self, name, **kw):
        super().__init__()
        if isinstance(name, _act.Activation):
            name, kw = name.name, {**dict(name.params), **kw}
        _act.check_name(name)
        self.name, self.kw = name, _act.check_kwargs(name, kw)

    def forward(self, x, train=False):
        out, self._cache = F.activation_forward(x, self.name, **self.kw)
        return out

    def backward(self, dout):
        return F.activation_backward(dout, self._need_cache())

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.kw.items())
        return f"Activation({self.name!r}{extra})"


class ReLU(Activation):
    """``max(0, x)``."""

    def __init__(self):
        super().__init__("relu")


class Sigmoid(Activation):
    """``1 / (1 + exp(-x))``."""

    def __init__(self):
        super().__init__("sigmoid")


class Tanh(Activation):
    """``tanh(x)``."""

    def __init__(self):
        super().__init__("tanh")


class LeakyReLU(Activation):
    """``x`` if ``x > 0`` else ``slope * x``."""

    def __init__(self, slope=0.01):
        super().__init__("leaky_relu", slope=slope)


class Step(Activation):
    """``1[x > 0]`` (zero gradient)."""

    def __init__(self):
        super().__init__("step")


class Sign(Activation):
    """``+1`` if ``x >= 0`` else ``-1`` (zero gradient)."""

    def __init__(self):
        super().__init__("sign")


class Gaussian(Activation):
    """``exp(-x**2 / 2)``."""

    def __init__(self):
        super().__init__("gaussian")


class Identity(Activation):
    """The linear activation ``f(x) = x``."""

    def __init__(self):
        super().__init__("linear")


class Dropout(Layer):
    """Dropout layer; random only when ``forward(x, train=True)``.

    Parameters
    ----------
    p : float in [0, 1)
        Drop probability.
    inverted : bool, default True
        True: scale by 1/(1-p) while training, identity at test. False: mask only while training,
        scale by (1-p) at test (the lectures' ``W_test = (1-p) W_train``).
    seed : int, numpy Generator or None
        The layer owns one Generator, so successive calls draw fresh masks reproducibly.
    """

    def __init__(self, p, inverted=True, seed=0):
        super().__init__()
        self.p = check_probability(p, "p")
        self.inverted = bool(inverted)
        self.rng = as_rng(seed)

    def forward(self, x, train=False):
        out, self._cache = F.dropout_forward(x, self.p, train, self.rng, inverted=self.inverted)
        return out

    def backward(self, dout):
        return F.dropout_backward(dout, self._need_cache())

    def __repr__(self):
        return f"Dropout(p={self.p}, inverted={self.inverted})"


class Sequential(Layer):
    """A stack of layers applied in order.

    ``params`` maps ``W1, b1, W2, b2, ...`` (numbered over the :class:`Dense` layers) to the layers'
    own arrays, so updating ``params[k]`` in place updates the layer. ``grads`` (same keys) holds the
    gradients of the last ``backward``.

    Parameters
    ----------
    *layers : Layer

    Examples
    --------
    >>> net = Sequential(Dense(3, 4), ReLU(), Dense(4, 2))
    >>> sorted(net.params), net.n_params
    (['W1', 'W2', 'b1', 'b2'], 26)
    """

    def __init__(self, *layers):
        super().__init__()
        self.layers = []
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}]: expected a Layer, got {type(layer).__name__}")
        self.layers = list(layers)
        self._names = []  # (layer, {local_key: global_key})
        k = 0
        for layer in self.layers:
            if layer.params:
                k += 1
                mapping = {local: f"{local}{k}" for local in layer.params}
                self._names.append((layer, mapping))
                for local, key in mapping.items():
                    self.params[key] = layer.params[local]

    @property
    def grads(self):
        out = {}
        for layer, mapping in self._names:
            for local, key in mapping.items():
                out[key] = layer.grads[local]
        return out

    @grads.setter
    def grads(self, value):  # set by Layer.__init__; Sequential's grads always come from its layers
        pass

    def forward(self, x, train=False):
        """Apply each layer in order; ``train`` is passed to every layer (it matters for Dropout)."""
        for layer in self.layers:
            x = layer.forward(x, train=train)
        return x

    def backward(self, dout):
        """Backpropagate ``dout`` through the layers in reverse order; returns ``dx``."""
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"
