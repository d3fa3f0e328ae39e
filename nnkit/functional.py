"""Pure forward/backward pairs: the layers of a network as functions (CS231n style).

Every ``*_forward`` returns ``(out, cache)``; the matching ``*_backward(dout, cache)`` returns the
gradient of the loss with respect to the forward's inputs, given ``dout = dL/dout``. Nothing is stored
anywhere else, so each pair can be gradient-checked on its own and chained by hand::

    z, c1 = dense_forward(x, W1, b1)
    h, c2 = relu_forward(z)
    ...
    dz = relu_backward(dh, c2)
    dx, dW1, db1 = dense_backward(dz, c1)

Inputs are validated once on the way in (shapes, NaN/inf); float32 stays float32. Regularization
penalties (L1, L2) live here too because they add a value and a gradient to a params dict.
"""

from __future__ import annotations

import inspect

import numpy as np

from nnkit import activations as _act
from nnkit._validate import as_float_array, as_rng, check_positive, check_probability

_as_float = _act._as_float

__all__ = [   # + "<name>_forward", "<name>_backward" for every activation in nnkit.activations.NAMES
    "dense_forward", "dense_backward",
    "softmax_forward", "softmax_backward",
    "activation_forward", "activation_backward",
    "dropout_forward", "dropout_backward",
    "l2_penalty", "l1_penalty",
]


def _dout(dout, shape, name="dout"):
    """``dout`` as a float array whose shape must be ``shape`` (the forward output's shape)."""
    dout = _as_float(dout, name)
    if dout.shape != shape:
        raise ValueError(f"{name}: expected shape {shape} (the forward output's shape), got {dout.shape}")
    return dout


def _cache(cache, kind, length):
    if not (isinstance(cache, tuple) and len(cache) == length and isinstance(cache[0], str)
            and cache[0] == kind):
        raise TypeError(f"cache: expected the cache returned by {kind}_forward, got {type(cache).__name__}")
    return cache


# --------------------------------------------------------------------------- unchecked kernels
# The arithmetic of the pairs below, without the checks. The public pairs validate their inputs and
# then call these; the layers of nnkit.layers call them directly inside a network, because there each
# layer only receives X (checked once per batch) or the previous layer's own output, and re-checking
# every intermediate array (an isfinite pass, dtype and cache tests) was a third of a training step.

def _dense_forward_kernel(x, W, b):
    out = x @ W
    out += b
    return out, ("dense", x, W)


def _dense_backward_kernel(dout, cache, need_dx=True):
    _, x, W = cache
    return (dout @ W.T if need_dx else None), x.T @ dout, dout.sum(axis=0)


def _activation_forward_kernel(x, decl, kw):
    """``h = f(x)`` of a declaration with checked parameters ``kw``; the cache keeps z, h and kw."""
    h = decl.f(x, **kw)
    return h, (decl.name, x, h, kw)


def _activation_backward_kernel(dout, cache):
    """``dx = dout * f'(z)`` from the cache of :func:`_activation_forward_kernel`."""
    name, x, h, kw = cache
    return dout * _act.DECLARATIONS[name].df(x, h, **kw)


# --------------------------------------------------------------------------- dense (affine) layer

def dense_forward(x, W, b):
    r"""Affine layer ``out = x W + b`` on a batch.

    .. math:: z = x W + b, \qquad z_{nm} = \sum_d x_{nd} W_{dm} + b_m

    Parameters
    ----------
    x : array_like, (N, D)
    W : array_like, (D, M)
    b : array_like, (M,)

    Returns
    -------
    out : ndarray, (N, M)
    cache : tuple for :func:`dense_backward`
    """
    x = _as_float(x, "x", ndim=2)
    W = _as_float(W, "W", ndim=2)
    b = _as_float(b, "b", ndim=1)
    if x.shape[1] != W.shape[0]:
        raise ValueError(f"x: expected (N, {W.shape[0]}) to match W of shape {W.shape}, got {x.shape}")
    if b.shape[0] != W.shape[1]:
        raise ValueError(f"b: expected shape ({W.shape[1]},) to match W of shape {W.shape}, got {b.shape}")
    return _dense_forward_kernel(x, W, b)


def dense_backward(dout, cache, *, need_dx=True):
    r"""Backward pass of :func:`dense_forward`.

    .. math:: \frac{\partial L}{\partial x} = \bar z W^\top, \quad
              \frac{\partial L}{\partial W} = x^\top \bar z, \quad
              \frac{\partial L}{\partial b} = \sum_n \bar z_n

    Parameters
    ----------
    dout : array_like, (N, M), upstream gradient ``dL/dz``
    cache : from :func:`dense_forward`
    need_dx : bool, default True
        False skips ``dx`` (returned as None): the first layer of a network never needs the gradient
        with respect to the data, and ``dout @ W.T`` is a third of that layer's backward work.

    Returns
    -------
    dx : ndarray, (N, D) (None when ``need_dx`` is False)
    dW : ndarray, (D, M)
    db : ndarray, (M,)
    """
    _, x, W = _cache(cache, "dense", 3)
    return _dense_backward_kernel(_dout(dout, (x.shape[0], W.shape[1])), cache, need_dx)


# --------------------------------------------------------------------------- activations
# One pair per declared activation, derived from nnkit.activations.DECLARATIONS: relu_forward(x) ->
# (out, cache) and relu_backward(dout, cache) -> dx, and the same for every other name in NAMES.

def _x(x):
    return _as_float(x, "x")


def _activation_pair(decl):
    name = decl.name

    def forward(x, *args, **kw):
        return _activation_forward_kernel(_x(x), decl, _act.bind(name, args, kw))

    def backward(dout, cache):
        _cache(cache, name, 4)
        return _activation_backward_kernel(_dout(dout, cache[1].shape), cache)

    forward.__name__ = forward.__qualname__ = f"{name}_forward"
    backward.__name__ = backward.__qualname__ = f"{name}_backward"
    forward.__module__ = backward.__module__ = __name__
    forward.__signature__ = inspect.signature(getattr(_act, name)).replace(
        parameters=[inspect.Parameter("x", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                    *list(inspect.signature(getattr(_act, name)).parameters.values())[1:]])
    forward.__doc__ = (f"Forward pair of :func:`nnkit.activations.{name}` on any shape: returns ``(out, "
                       f"cache)``.\n\n{decl.summary}\n\n.. math:: {decl.formula}\n\nThe cache keeps the "
                       f"input, the output and the parameters for :func:`{name}_backward`.\n")
    backward.__doc__ = (f"Backward of :func:`{name}_forward`: ``dx = dout * f'(x)``.\n\n"
                        f".. math:: {decl.dformula}\n\nParameters\n----------\ndout : array_like, the "
                        f"shape of the forward output\ncache : from :func:`{name}_forward`\n")
    return forward, backward


for _decl in _act.DECLARATIONS.values():
    globals()[f"{_decl.name}_forward"], globals()[f"{_decl.name}_backward"] = _activation_pair(_decl)
    __all__ += [f"{_decl.name}_forward", f"{_decl.name}_backward"]
del _decl


def softmax_forward(x):
    r"""Softmax over the last axis (stable); caches the output.

    Parameters
    ----------
    x : array_like, (N, C)

    Returns
    -------
    out : ndarray, (N, C), rows sum to 1
    cache : tuple
    """
    x = _x(x)
    out = _act._softmax(x, _act._class_axis(x, -1, "x"))
    return out, ("softmax", out)


def softmax_backward(dout, cache):
    r"""Backward of :func:`softmax_forward` (a Jacobian-vector product, no C×C matrix).

    .. math:: \bar x_k = p_k \left(\bar p_k - \sum_j \bar p_j p_j\right)
    """
    _, p = _cache(cache, "softmax", 2)
    dout = _dout(dout, p.shape)
    return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


def activation_forward(x, name, **kw):
    """Forward pass of the activation called ``name`` (one of :data:`nnkit.activations.NAMES`).

    Parameters
    ----------
    x : array_like, any shape
    name : str or nnkit.activations.Activation
        A name, or an activation from :func:`nnkit.activations.get` (its parameters are used).
    **kw
        Activation parameters, e.g. ``slope=0.1`` for "leaky_relu".

    Returns
    -------
    out : ndarray, shape of ``x``
    cache : tuple for :func:`activation_backward` (it remembers the name)
    """
    if isinstance(name, _act.Activation):
        name, kw = name.name, {**dict(name.params), **kw}
    kw = _act.check_kwargs(name, kw)
    return _activation_forward_kernel(_x(x), _act.DECLARATIONS[name], kw)


def activation_backward(dout, cache):
    """Backward pass matching :func:`activation_forward` (dispatches on the cached name)."""
    if not (isinstance(cache, tuple) and cache and isinstance(cache[0], str)):
        raise TypeError("cache: expected the cache returned by activation_forward")
    if cache[0] == "softmax":
        return softmax_backward(dout, cache)
    if cache[0] not in _act.DECLARATIONS:
        raise TypeError("cache: expected the cache returned by activation_forward")
    _cache(cache, cache[0], 4)
    return _activation_backward_kernel(_dout(dout, cache[1].shape), cache)


# --------------------------------------------------------------------------- dropout

def dropout_forward(x, p, train, rng=None, inverted=True):
    r"""Dropout: zero each unit with probability ``p`` during training.

    Inverted dropout (default, what PyTorch does) rescales the kept units at training time so that
    test time is the identity:

    .. math:: \text{train: } h = x \odot m / (1 - p), \quad m_i \sim \text{Bernoulli}(1 - p);
              \qquad \text{test: } h = x

    With ``inverted=False`` (the lectures' rule ``W_test = (1 - p) W_train``) training only masks and
    test time scales by ``1 - p``. Either way ``E[h_train] = h_test``.

    Parameters
    ----------
    x : array_like, any shape, e.g. (N, D)
    p : float in [0, 1)
        Probability of dropping a unit.
    train : bool
        Training mode (random mask) or test mode (deterministic).
    rng : numpy Generator, int seed or None
        Source of the mask; pass the same seed to get the same mask.
    inverted : bool, default True

    Returns
    -------
    out : ndarray, shape of ``x``
    cache : tuple holding the multiplier (mask or scale) for :func:`dropout_backward`
    """
    x = _x(x)
    p = check_probability(p, "p")
    if not isinstance(train, (bool, np.bool_)):
        raise TypeError(f"train: expected a bool, got {type(train).__name__}")
    rng = as_rng(rng, "rng")
    out, scale = _dropout_kernel(x, p, train, rng, inverted)
    return out, ("dropout", scale, x.shape)


def _dropout_kernel(x, p, train, rng, inverted):
    """(out, multiplier) of :func:`dropout_forward` on checked input; the multiplier is None for identity."""
    if train:
        keep = rng.random(x.shape, dtype=x.dtype) >= p
        scale = keep.astype(x.dtype)
        if inverted and p > 0:
            scale *= 1 / (1 - p)
        return x * scale, scale
    if inverted or p == 0:
        return x, None
    scale = 1 - p
    return x * scale, scale


def dropout_backward(dout, cache):
    r"""Backward of :func:`dropout_forward`: the same multiplier, :math:`\bar x = \bar h \odot m`."""
    _, scale, shape = _cache(cache, "dropout", 3)
    dout = _dout(dout, shape)
    return dout if scale is None else dout * scale


# --------------------------------------------------------------------------- penalties

def _weights(params):
    if not isinstance(params, dict):
        raise TypeError(f"params: expected a dict of arrays (W1, b1, ...), got {type(params).__name__}")
    for k in params:
        if not isinstance(k, str):
            raise TypeError(f"params: expected parameter names (str) as keys (W1, b1, ...), got {k!r}")
    return {k: as_float_array(v, f"params[{k!r}]") for k, v in params.items()}


def _l2_kernel(W, lam):
    """``(λ/2 ‖W‖², λ W)`` for one weight matrix."""
    return 0.5 * lam * float(np.vdot(W, W)), W * lam


def _l1_kernel(W, lam):
    """``(λ Σ|W|, λ sign(W))`` for one weight matrix."""
    return lam * float(np.abs(W).sum()), np.sign(W) * lam


def _penalty(params, lam, kernel):
    params = _weights(params)
    lam = check_positive(lam, "lam", allow_zero=True)
    value, grads = 0.0, {}
    for k, v in params.items():
        if k.startswith("W"):
            extra, grads[k] = kernel(v, lam)
            value += extra
        else:
            grads[k] = np.zeros_like(v)
    return value, grads


def l2_penalty(params, lam):
    r"""L2 (weight decay) penalty over the weight matrices, biases excluded.

    .. math:: R = \frac{\lambda}{2} \sum_{l} \lVert W^l \rVert_F^2, \qquad
              \frac{\partial R}{\partial W^l} = \lambda W^l

    Weight keys are the names starting with "W"; every other key (biases) gets a zero gradient.

    Parameters
    ----------
    params : dict name -> ndarray
    lam : float >= 0

    Returns
    -------
    value : float
    grads : dict with the keys of ``params``
    """
    return _penalty(params, lam, _l2_kernel)


def l1_penalty(params, lam):
    r"""L1 penalty over the weight matrices, biases excluded (it pushes weights to exactly 0).

    .. math:: R = \lambda \sum_l \sum_{jk} |W^l_{jk}|, \qquad
              \frac{\partial R}{\partial W^l} = \lambda \operatorname{sign}(W^l)

    Parameters
    ----------
    params : dict name -> ndarray
    lam : float >= 0

    Returns
    -------
    value : float
    grads : dict with the keys of ``params`` (zeros for non-weight keys)
    """
    return _penalty(params, lam, _l1_kernel)
