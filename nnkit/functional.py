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

import numpy as np

from nnkit import activations as _act
from nnkit._validate import as_float_array, as_rng, check_positive, check_probability

_as_float = _act._as_float

__all__ = [
    "dense_forward", "dense_backward",
    "step_forward", "step_backward", "sign_forward", "sign_backward",
    "sigmoid_forward", "sigmoid_backward", "tanh_forward", "tanh_backward",
    "relu_forward", "relu_backward", "leaky_relu_forward", "leaky_relu_backward",
    "gaussian_forward", "gaussian_backward", "linear_forward", "linear_backward",
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
# then call these; nnkit.models.MLP calls them directly, because inside a network each layer only
# receives X (checked once per batch) or the previous layer's own output, and re-checking every
# intermediate array (an isfinite pass, dtype and cache tests) was a third of a training step.

def _dense_forward_kernel(x, W, b):
    out = x @ W
    out += b
    return out, ("dense", x, W)


def _dense_backward_kernel(dout, cache, need_dx=True):
    _, x, W = cache
    return (dout @ W.T if need_dx else None), x.T @ dout, dout.sum(axis=0)


def _sigmoid_forward_kernel(x):
    out = _act._sigmoid(x)
    return out, ("sigmoid", out)


def _sigmoid_backward_kernel(dout, cache):
    out = cache[1]
    return dout * out * (1 - out)


def _tanh_forward_kernel(x):
    out = np.tanh(x)
    return out, ("tanh", out)


def _tanh_backward_kernel(dout, cache):
    out = cache[1]
    return dout * (1 - out * out)


def _relu_forward_kernel(x):
    return np.maximum(x, 0), ("relu", x)


def _relu_backward_kernel(dout, cache):
    return dout * (cache[1] > 0)


#: activation name -> (forward kernel, backward kernel) for the activations that have one
_KERNELS = {
    "sigmoid": (_sigmoid_forward_kernel, _sigmoid_backward_kernel),
    "tanh": (_tanh_forward_kernel, _tanh_backward_kernel),
    "relu": (_relu_forward_kernel, _relu_backward_kernel),
}


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

def _x(x):
    return _as_float(x, "x")


def step_forward(x):
    """Step activation ``1[x > 0]`` on any shape; returns ``(out, cache)``."""
    x = _x(x)
    return _act._step(x), ("step", x.shape)


def step_backward(dout, cache):
    """Backward of :func:`step_forward`: zeros (the step has zero derivative almost everywhere)."""
    _, shape = _cache(cache, "step", 2)
    return np.zeros_like(_dout(dout, shape))


def sign_forward(x):
    """Sign activation (+1 if x >= 0 else -1) on any shape; returns ``(out, cache)``."""
    x = _x(x)
    return _act._sign(x), ("sign", x.shape)


def sign_backward(dout, cache):
    """Backward of :func:`sign_forward`: zeros."""
    _, shape = _cache(cache, "sign", 2)
    return np.zeros_like(_dout(dout, shape))


def sigmoid_forward(x):
    r"""Sigmoid activation; caches the output because :math:`\sigma' = \sigma(1 - \sigma)`.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    out : ndarray, shape of ``x``
    cache : tuple
    """
    return _sigmoid_forward_kernel(_x(x))


def sigmoid_backward(dout, cache):
    r"""Backward of :func:`sigmoid_forward`: :math:`\bar x = \bar h \odot h (1 - h)`."""
    _, out = _cache(cache, "sigmoid", 2)
    return _sigmoid_backward_kernel(_dout(dout, out.shape), cache)


def tanh_forward(x):
    r"""Tanh activation; caches the output because :math:`\tanh' = 1 - \tanh^2`."""
    return _tanh_forward_kernel(_x(x))


def tanh_backward(dout, cache):
    r"""Backward of :func:`tanh_forward`: :math:`\bar x = \bar h \odot (1 - h^2)`."""
    _, out = _cache(cache, "tanh", 2)
    return _tanh_backward_kernel(_dout(dout, out.shape), cache)


def relu_forward(x):
    r"""ReLU activation :math:`\max(0, x)`; caches the input.

    Parameters
    ----------
    x : array_like, any shape

    Returns
    -------
    out : ndarray, shape of ``x``
    cache : tuple
    """
    return _relu_forward_kernel(_x(x))


def relu_backward(dout, cache):
    r"""Backward of :func:`relu_forward`: :math:`\bar x = \bar h \odot \mathbb{1}[x > 0]`."""
    _, x = _cache(cache, "relu", 2)
    return _relu_backward_kernel(_dout(dout, x.shape), cache)


def leaky_relu_forward(x, slope=0.01):
    r"""Leaky ReLU: ``x`` if ``x > 0`` else ``slope * x``; caches the input and slope."""
    x = _x(x)
    slope = _act._check_slope(slope)
    return _act._leaky_relu(x, slope), ("leaky_relu", x, slope)


def leaky_relu_backward(dout, cache):
    r"""Backward of :func:`leaky_relu_forward`: :math:`\bar x = \bar h` where ``x > 0``, else ``slope``·h̄."""
    _, x, slope = _cache(cache, "leaky_relu", 3)
    dout = _dout(dout, x.shape)
    return np.where(x > 0, dout, dout * slope)


def gaussian_forward(x):
    r"""Gaussian activation :math:`e^{-x^2/2}`; caches input and output."""
    x = _x(x)
    out = _act._gaussian(x)
    return out, ("gaussian", x, out)


def gaussian_backward(dout, cache):
    r"""Backward of :func:`gaussian_forward`: :math:`\bar x = -\bar h \odot x e^{-x^2/2}`."""
    _, x, out = _cache(cache, "gaussian", 3)
    dout = _dout(dout, x.shape)
    return -dout * x * out


def linear_forward(x):
    """Identity activation; returns ``(x, cache)`` (the input array itself, no copy)."""
    x = _x(x)
    return x, ("linear", x.shape)


def linear_backward(dout, cache):
    """Backward of :func:`linear_forward`: ``dout`` unchanged."""
    _, shape = _cache(cache, "linear", 2)
    return _dout(dout, shape)


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
    out = _act.softmax(x)
    return out, ("softmax", out)


def softmax_backward(dout, cache):
    r"""Backward of :func:`softmax_forward` (a Jacobian-vector product, no C×C matrix).

    .. math:: \bar x_k = p_k \left(\bar p_k - \sum_j \bar p_j p_j\right)
    """
    _, p = _cache(cache, "softmax", 2)
    dout = _dout(dout, p.shape)
    return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


_FORWARD = {
    "step": step_forward, "sign": sign_forward, "sigmoid": sigmoid_forward, "tanh": tanh_forward,
    "relu": relu_forward, "leaky_relu": leaky_relu_forward, "gaussian": gaussian_forward,
    "linear": linear_forward,
}
_BACKWARD = {
    "step": step_backward, "sign": sign_backward, "sigmoid": sigmoid_backward, "tanh": tanh_backward,
    "relu": relu_backward, "leaky_relu": leaky_relu_backward, "gaussian": gaussian_backward,
    "linear": linear_backward, "softmax": softmax_backward,
}


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
    _act.check_name(name)
    kw = _act.check_kwargs(name, kw)
    return _FORWARD[name](x, **kw)


def activation_backward(dout, cache):
    """Backward pass matching :func:`activation_forward` (dispatches on the cached name)."""
    if not (isinstance(cache, tuple) and cache and isinstance(cache[0], str) and cache[0] in _BACKWARD):
        raise TypeError("cache: expected the cache returned by activation_forward")
    return _BACKWARD[cache[0]](dout, cache)


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
    if train:
        rng = as_rng(rng)
        keep = rng.random(x.shape, dtype=x.dtype) >= p
        scale = keep.astype(x.dtype)
        if inverted and p > 0:
            scale *= 1 / (1 - p)
        return x * scale, ("dropout", scale, x.shape)
    if inverted or p == 0:
        return x, ("dropout", None, x.shape)
    scale = 1 - p
    return x * scale, ("dropout", scale, x.shape)


def dropout_backward(dout, cache):
    r"""Backward of :func:`dropout_forward`: the same multiplier, :math:`\bar x = \bar h \odot m`."""
    _, scale, shape = _cache(cache, "dropout", 3)
    dout = _dout(dout, shape)
    return dout if scale is None else dout * scale


# --------------------------------------------------------------------------- penalties

def _weights(params):
    if not isinstance(params, dict):
        raise TypeError(f"params: expected a dict of arrays (W1, b1, ...), got {type(params).__name__}")
    return {k: as_float_array(v, f"params[{k!r}]") for k, v in params.items()}


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
    params = _weights(params)
    lam = check_positive(lam, "lam", allow_zero=True)
    value, grads = 0.0, {}
    for k, v in params.items():
        if k.startswith("W"):
            value += float(np.vdot(v, v))
            grads[k] = v * lam
        else:
            grads[k] = np.zeros_like(v)
    return 0.5 * lam * value, grads


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
    params = _weights(params)
    lam = check_positive(lam, "lam", allow_zero=True)
    value, grads = 0.0, {}
    for k, v in params.items():
        if k.startswith("W"):
            value += float(np.abs(v).sum())
            grads[k] = np.sign(v) * lam
        else:
            grads[k] = np.zeros_like(v)
    return lam * value, grads
