r"""Layer objects, the one way nnkit builds a network: Dense, one activation layer per declared activation,
Dropout, and Sequential to chain them. :class:`nnkit.models.MLP` is a Sequential built by :func:`stack`.

A layer holds its parameters (``params``), remembers what its last ``forward`` needs for the backward
pass and, on ``backward(dout)``, stores parameter gradients in ``grads`` (same keys) and returns ``dx``.
The arithmetic is that of the pure pairs of :mod:`nnkit.functional`.

Public ``forward``/``backward`` validate their input (shape, dtype, NaN/inf) and then call the unchecked
``_forward``/``_backward``; inside a :class:`Sequential` only the first layer's input is checked, because
every other layer receives the previous layer's own output.

Initialization policy (the only one in nnkit): the weights of a dense layer are drawn for the activation
of the network, as declared in :mod:`nnkit.activations` (``Declaration.init``):

* He, :math:`W \sim \mathcal N(0, 2/d_{in})`, for the ReLU family (relu, leaky_relu, elu, gelu): it keeps
  the variance of the activations constant across layers when half the units are cut at zero;
* Glorot/Xavier, :math:`W \sim \mathcal N(0, 2/(d_{in} + d_{out}))`, for every other activation
  (sigmoid, tanh, gaussian, linear, ...);

biases start at 0. :func:`init_for` gives the rule for an activation, :func:`stack` applies it to every
dense layer (the output layer too), and a hand-built ``Dense`` takes it as ``init=`` (default "he").
"""

from __future__ import annotations

from functools import partial

import numpy as np

from nnkit import activations as _act
from nnkit import functional as F
from nnkit._packed import Packed
from nnkit._validate import FLOAT_DTYPES, as_count, as_rng, check_choice, check_probability

__all__ = ["Layer", "Dense", "Activation", "Dropout", "Sequential", "INITS", "init_for", "stack"]
# + one activation layer class per declared activation (ReLU, Sigmoid, Tanh, ...), added below

INITS = ("he", "glorot", "xavier", "normal")
_sum = np.add.reduce                      # ndarray.sum without its Python wrapper (a small batch notices)


def init_for(activation) -> str:
    """The initialization policy for a network with hidden ``activation``: "he" or "glorot" (see above)."""
    name = activation.name if isinstance(activation, _act.Activation) else _act.check_name(activation)
    return _act.DECLARATIONS[name].init


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"dtype: expected float32 or float64, got {dtype!r}") from None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype: expected float32 or float64, got {dt}")
    return dt


class Layer:
    """Base class: ``forward(x, train=False) -> out`` and ``backward(dout) -> dx``.

    Subclasses implement the unchecked ``_forward(x, train, store)`` (``store=False``: keep nothing for
    a backward pass, as :meth:`nnkit.models.MLP.evaluate` needs) and ``_backward(dout, need_dx)``.
    """

    params: dict
    grads: dict

    def __init__(self):
        self.params, self.grads = {}, {}
        self._cache = None
        self._grad_out = None      # views for the next gradients, handed over by an owning Sequential

    def forward(self, x, train=False):
        """Validate ``x`` (a float array without NaN/inf) and run the layer."""
        return self._forward(F._as_float(x, "x"), train, True)

    def backward(self, dout):
        """Validate ``dout`` against the last forward output and backpropagate it; returns ``dx``."""
        return self._backward(F._dout(dout, self._out_shape()), True)

    def __call__(self, x, train=False):
        return self.forward(x, train=train)

    def _forward(self, x, train, store):  # pragma: no cover - interface
        raise NotImplementedError

    def _backward(self, dout, need_dx):  # pragma: no cover - interface
        raise NotImplementedError

    def _backward_into(self, dout):
        """``_backward(dout, True)`` for a ``dout`` nobody else holds: a layer may overwrite it."""
        return self._backward(dout, True)

    def _out_shape(self):
        return self._need_cache()[-1].shape

    def _need_cache(self):
        if self._cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        return self._cache

    @property
    def n_params(self) -> int:
        """Number of learnable scalars in this layer."""
        return int(sum(v.size for v in self.params.values()))


class Dense(Layer):
    r"""Fully connected (affine) layer ``z = x W + b``.

    Initialization (``b`` starts at 0), see the module docstring for when each is used:

    * ``"he"``: :math:`W \sim \mathcal N(0, 2/d_{in})` (the ReLU family),
    * ``"glorot"`` (alias ``"xavier"``): :math:`W \sim \mathcal N(0, 2/(d_{in} + d_{out}))` (tanh, ...),
    * ``"normal"``: :math:`W \sim \mathcal N(0, 0.01^2)` (CS231n's small random numbers).

    Parameters
    ----------
    d_in, d_out : int
        Input and output sizes; ``W`` has shape (d_in, d_out), ``b`` shape (d_out,).
    init : {"he", "glorot", "xavier", "normal"}
    seed : int, numpy Generator or None
        A Generator is used as is (so :func:`stack` draws every layer from one stream).
    dtype : np.float64 (default) or np.float32
    """

    def __init__(self, d_in, d_out, *, init="he", seed=0, dtype=np.float64):
        super().__init__()
        self.d_in, self.d_out = as_count(d_in, "d_in"), as_count(d_out, "d_out")
        check_choice(init, "init", INITS)
        dtype = _check_dtype(dtype)
        std = {"he": np.sqrt(2 / self.d_in), "glorot": np.sqrt(2 / (self.d_in + self.d_out)),
               "xavier": np.sqrt(2 / (self.d_in + self.d_out)), "normal": 0.01}[init]
        rng = as_rng(seed)
        W = (rng.standard_normal((self.d_in, self.d_out)) * std).astype(dtype)
        self.init = init
        self.params = {"W": W, "b": np.zeros(self.d_out, dtype=dtype)}
        self.grads = {"W": np.zeros_like(W), "b": np.zeros(self.d_out, dtype=dtype)}

    def forward(self, x, train=False):
        """``x`` (N, d_in) -> ``z`` (N, d_out), checked as by :func:`nnkit.functional.dense_forward`."""
        x = F._as_float(x, "x", ndim=2)
        W = self.params["W"]
        if x.shape[1] != W.shape[0]:
            raise ValueError(f"x: expected (N, {W.shape[0]}) to match W of shape {W.shape}, got {x.shape}")
        return self._forward(x, train, True)

    def _forward(self, x, train, store):
        out = x @ self.params["W"]
        out += self.params["b"]
        if store:
            self._cache = (x, out.shape)        # not ``out``: the next layer decides how long it lives
        return out

    def _out_shape(self):
        return self._need_cache()[1]

    def _backward(self, dout, need_dx=True):
        """Stores ``grads["W"] = xᵀ dout``, ``grads["b"] = Σ_n dout``; returns ``dout Wᵀ`` (or None).

        Called after a forward pass (the public :meth:`Layer.backward` checks that there was one). On
        its own the layer makes new arrays; inside a Sequential it writes into the views of the
        gradient buffer the Sequential handed it as ``_grad_out`` (see :meth:`Sequential._grads_buffer`).
        """
        x = self._cache[0]
        grads = self.grads
        out = self._grad_out
        if out is None:
            grads["W"] = grads["b"] = None  # the last arrays go before the new ones exist (peak memory)
            grads["W"] = x.T @ dout
            grads["b"] = _sum(dout, 0)
        else:
            self._grad_out = None
            grads["W"] = np.matmul(x.T, dout, out=out["W"])
            grads["b"] = _sum(dout, 0, out=out["b"])
        return dout @ self.params["W"].T if need_dx else None

    def __repr__(self):
        return f"Dense({self.d_in}, {self.d_out}, init={self.init!r})"


class Activation(Layer):
    """Elementwise activation layer by name, e.g. ``Activation("leaky_relu", slope=0.1)``.

    Each declared activation also has its own class (``ReLU()``, ``LeakyReLU(slope=0.1)``, ...).

    Parameters
    ----------
    name : str or nnkit.activations.Activation
        One of :data:`nnkit.activations.NAMES`, or the result of :func:`nnkit.activations.get`.
    **kw
        Activation parameters as declared (``slope`` for "leaky_relu", ``alpha`` for "elu").
    """

    def __init__(self, name, **kw):
        super().__init__()
        if isinstance(name, _act.Activation):
            name, kw = name.name, {**dict(name.params), **kw}
        _act.check_name(name)
        self.name, self.kw = name, _act.check_kwargs(name, kw)
        self._given = {k: self.kw[k] for k in kw}
        self._bind()

    def _bind(self):
        """The kernels with the parameters bound once (a call with **kw on every step costs more)."""
        decl = _act.DECLARATIONS[self.name]
        self._f = partial(decl.f, **self.kw) if self.kw else decl.f
        self._df = partial(decl.df, **self.kw) if self.kw else decl.df
        self._keep_z = decl.uses_z              # else the backward pass needs h only: z can go

    def __getstate__(self):
        """Pickled by name and parameters: the kernels are bound again from the declaration."""
        return {k: v for k, v in self.__dict__.items() if k not in ("_f", "_df")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._bind()

    def _forward(self, x, train, store):
        h = self._f(x)
        if store:
            self._cache = (x if self._keep_z else None, h)
        return h

    def _backward(self, dout, need_dx):
        x, h = self._cache
        return dout * self._df(x, h)

    def _backward_into(self, dout):
        x, h = self._cache
        dout *= self._df(x, h)
        return dout

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self._given.items())
        return f"Activation({self.name!r}{extra})"


def _activation_class(decl):
    """The layer class of one declared activation: ``ReLU()``, ``LeakyReLU(slope=0.01)``, ..."""
    names = tuple(decl.params)

    def __init__(self, *args, **kw):
        Activation.__init__(self, decl.name, **_act.bind(decl.name, args, kw))

    __init__.__doc__ = f"{decl.summary}" + (f" Parameters: {', '.join(names)}." if names else "")
    doc = f"Layer of :func:`nnkit.activations.{decl.name}`: {decl.summary}"
    return type(decl.layer, (Activation,), {"__init__": __init__, "__doc__": doc, "__module__": __name__})


for _decl in _act.DECLARATIONS.values():
    globals()[_decl.layer] = _activation_class(_decl)
    __all__.append(_decl.layer)
del _decl


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
        The layer owns one Generator (a Generator passed in is used as is, so several layers can share
        one stream), so successive calls draw fresh masks reproducibly.
    """

    def __init__(self, p, inverted=True, seed=0):
        super().__init__()
        self.p = check_probability(p, "p")
        self.inverted = bool(inverted)
        self.rng = as_rng(seed)

    def forward(self, x, train=False):
        if not isinstance(train, (bool, np.bool_)):
            raise TypeError(f"train: expected a bool, got {type(train).__name__}")
        return self._forward(F._as_float(x, "x"), train, True)

    def _forward(self, x, train, store):
        out, scale = F._dropout_kernel(x, self.p, train, self.rng, self.inverted)
        if store:
            self._cache = (scale, out)
        return out

    def _backward(self, dout, need_dx):
        scale = self._cache[0]
        return dout if scale is None else dout * scale

    def _backward_into(self, dout):
        scale = self._cache[0]
        if scale is not None:
            dout *= scale
        return dout

    def __repr__(self):
        return f"Dropout(p={self.p}, inverted={self.inverted})"


def _check_chain(layers) -> None:
    """Each Dense layer must take as many inputs as the Dense layer before it gives (the layers between
    them, activations and dropout, keep the shape): a mismatch is named here, not by matmul mid-forward."""
    before = None                       # (index, layer) of the last Dense
    for i, layer in enumerate(layers):
        if isinstance(layer, Dense):
            if before is not None and layer.d_in != before[1].d_out:
                raise ValueError(f"layers[{i}]: {layer!r} takes {layer.d_in} inputs but layers[{before[0]}] "
                                 f"{before[1]!r} gives {before[1].d_out}")
            before = (i, layer)


class Sequential(Layer):
    """A stack of layers applied in order.

    ``params`` maps ``W1, b1, W2, b2, ...`` (numbered over the layers that have parameters) to the
    layers' own arrays, so updating ``params[k]`` in place updates the layer. ``grads`` (same keys)
    holds the gradients of the last ``backward``.

    The Sequential owns its parameters in one buffer: when every parameter is its own array of one
    float dtype, the arrays are copied into a :class:`nnkit._packed.Packed` buffer and the layers hold
    views of it (an array taken from a layer *before* it joined the Sequential is no longer the
    layer's). A backward pass writes the gradients into one buffer laid out the same way (a new one
    whenever a caller still holds any of the last gradients), so an optimizer updates all parameters
    with one numpy operation per step instead of one per array.

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
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}]: expected a Layer, got {type(layer).__name__}")
        _check_chain(layers)
        self.layers = list(layers)
        self._names = []  # (layer, ((local_key, global_key), ...))
        k = 0
        for layer in self.layers:
            if layer.params:
                k += 1
                mapping = tuple((local, f"{local}{k}") for local in layer.params)
                self._names.append((layer, mapping))
                for local, key in mapping:
                    self.params[key] = layer.params[local]
        self._grads = Packed()                 # a plain dict until the first backward pass fills it
        self._pack()

    def _pack(self):
        """Move the parameters into one :class:`Packed` buffer (if they are distinct arrays of one dtype)."""
        arrays = list(self.params.values())
        dtypes = {a.dtype for a in arrays}
        if len(dtypes) != 1 or not dtypes <= set(map(np.dtype, FLOAT_DTYPES)) \
                or len({id(a) for a in arrays}) != len(arrays):
            return                              # shared or mixed arrays stay as they are
        self.params = packed = Packed.pack(self.params, dtypes.pop())
        for layer, mapping in self._names:
            for local, key in mapping:
                layer.params[local] = packed[key]
        self._new_grads_buffer(np.zeros_like(packed.buffer))   # the model's gradients, zero until a backward

    def __setstate__(self, state):
        """Pickled or deep-copied, the parameters arrive as separate arrays: pack them again."""
        self.__dict__.update(state)
        self._grads, self._grad_outs = Packed(), None
        if not isinstance(self.params, Packed):
            self._pack()

    @property
    def grads(self):
        """Gradients of the last backward, keyed like ``params`` (one dict, updated in place)."""
        out = self._grads
        for layer, mapping in self._names:
            g = layer.grads
            for local, key in mapping:
                value = g[local]
                if out.get(key) is not value:
                    out[key] = value            # a Packed dict that no longer holds its views unpacks
        return out

    @grads.setter
    def grads(self, value):  # set by Layer.__init__; Sequential's grads always come from its layers
        pass

    def forward(self, x, train=False):
        """Apply each layer in order; ``train`` is passed to every layer (it matters for Dropout).

        The input is checked by the first layer's own ``forward``; the others run unchecked.
        """
        if not self.layers:
            return F._as_float(x, "x")
        x = self.layers[0].forward(x, train=train)
        return self._forward(x, train, True, start=1)

    def _forward(self, x, train, store, start=0):
        for layer in self.layers[start:]:
            x = layer._forward(x, train, store)
        return x

    def backward(self, dout):
        """Backpropagate ``dout`` through the layers in reverse order; returns ``dx``."""
        if not self.layers:
            return F._as_float(dout, "dout")
        return self._backward(F._dout(dout, self._out_shape()), True)

    def _out_shape(self):
        return self.layers[-1]._out_shape()

    def _backward(self, dout, need_dx, consume=False):
        """The layers' backward passes in reverse order; ``_grads`` then holds the new gradients.

        ``consume=True`` is for a caller that owns ``dout`` and needs the forward pass no more (as
        :meth:`nnkit.models.MLP.loss`): each layer may then overwrite the gradient it receives, and
        drops its cache as soon as it has used it, so one training step holds about what a hand-fused
        loop holds (PyTorch frees its graph after ``backward()`` the same way).
        """
        packed = self._grads_buffer()
        if not packed:
            self._grads.clear()             # refilled at the end; holds no stale array meanwhile
        layers = self.layers
        if not consume:
            for layer in layers[:0:-1]:
                dout = layer._backward(dout, True)
            dx = layers[0]._backward(dout, need_dx)
        else:
            for layer in layers[:0:-1]:
                dout = layer._backward_into(dout)
                layer._cache = None
            first = layers[0]
            dx = first._backward(dout, need_dx)
            first._cache = None
        written = packed
        for layer, _ in self._names:
            if layer._grad_out is not None:         # a layer that does not write into the buffer
                layer._grad_out = None
                written = False
        if not written:
            self.grads                              # noqa: B018 - refills ``_grads`` from the layers
        return dx

    def _grads_buffer(self) -> bool:
        """Hand every layer views into the gradient buffer (laid out as ``params``) it is to write into.

        The buffer of the last backward pass is written again only if nothing but this model holds any
        part of it (:meth:`Packed.unshared`): gradients a caller kept are never changed behind their back,
        they keep their values and the model writes into a new buffer. False when ``params`` is not packed.
        """
        params = self.params
        if type(params) is not Packed or params.buffer is None:
            return False
        grads = self._grads
        if not (grads.layout is params.layout and grads.unshared()):
            grads.clear()
            for layer, _ in self._names:       # the last gradients go before the new buffer exists
                layer.grads.clear()
            self._grad_outs = None
            self._new_grads_buffer(np.empty_like(params.buffer))
        for layer, out in self._grad_outs:
            layer._grad_out = out
        return True

    def _new_grads_buffer(self, buffer):
        """``buffer`` becomes the gradients: ``_grads`` (one dict for the model's life: callers may keep
        it) and the layers' ``grads`` hold its views, as ``params`` holds those of the parameters."""
        grads = self._grads
        grads.refill(buffer, self.params.layout)
        self._grad_outs = [(layer, {local: grads[key] for local, key in mapping})
                           for layer, mapping in self._names]
        for layer, out in self._grad_outs:
            layer.grads.update(out)
        del buffer                             # no local may count as a holder: ...
        grads.held()                           # ... the references now are the model's own

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def _sizes(layer_sizes):
    """The entries of a list, tuple, range or 1-D integer array of layer sizes (None for anything else)."""
    if isinstance(layer_sizes, (list, tuple, range)):
        return list(layer_sizes)
    if isinstance(layer_sizes, np.ndarray) and layer_sizes.ndim == 1 and layer_sizes.dtype.kind in "iu":
        return [int(s) for s in layer_sizes]
    return None


def stack(layer_sizes, activation="relu", *, dropout=0.0, seed=0, dtype=np.float64) -> list[Layer]:
    r"""The layers of a fully connected network ``[D, H1, ..., C]``: the one composition path of nnkit.

    ``Dense(D, H1), act, [Dropout], Dense(H1, H2), act, [Dropout], ..., Dense(H_{L-1}, C)``: every hidden
    dense layer is followed by the activation (and by inverted dropout when ``dropout > 0``); the last
    layer gives the scores, with no activation. Every dense layer is initialized by :func:`init_for`
    (``activation``), all drawn in order from one Generator, which the dropout layers then share.

    Parameters
    ----------
    layer_sizes : list, tuple, range or 1-D int array ``[D, H1, ..., C]`` (at least two sizes, each >= 1)
    activation : str or nnkit.activations.Activation
    dropout : float in [0, 1)
    seed : int, Generator or None
    dtype : np.float64 or np.float32

    Returns
    -------
    list of Layer, ready for ``Sequential(*layers)``
    """
    sizes = _sizes(layer_sizes)
    if (not sizes or len(sizes) < 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                       for s in sizes)):
        raise ValueError(f"layer_sizes: expected a list of at least 2 positive integers [D, H1, ..., C], "
                         f"got {layer_sizes!r}")
    act = Activation(activation)          # checks the name and the parameters once
    p = check_probability(dropout, "dropout")
    dtype = _check_dtype(dtype)
    rng = as_rng(seed)
    init = init_for(act.name)
    out: list[Layer] = []
    for i, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        out.append(Dense(int(d_in), int(d_out), init=init, seed=rng, dtype=dtype))
        if i < len(sizes) - 2:
            out.append(Activation(act.name, **act.kw))
            if p > 0:
                out.append(Dropout(p, seed=rng))
    return out

