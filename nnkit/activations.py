"""Activation functions and their derivatives, the non-linearities of the course.

Each activation ``f`` comes with ``f_grad(z) = df/dz`` evaluated elementwise at the pre-activation
``z``, so backpropagation through a layer is ``dz = dh * f_grad(z)`` (lecture notation
``δ = σ'(z) ⊙ ...``). ``get(name)`` turns a name into an :class:`Activation` bundle so layers and models
can be configured with strings. Every function works on any shape and keeps float32 as float32.

The private ``_name`` kernels skip validation; :mod:`nnkit.functional` validates once and calls them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from nnkit._validate import as_float_array, check_finite

__all__ = [
    "NAMES", "Activation", "get",
    "step", "sign", "sigmoid", "tanh", "relu", "leaky_relu", "gaussian", "linear", "softmax", "log_softmax",
    "step_grad", "sign_grad", "sigmoid_grad", "tanh_grad", "relu_grad", "leaky_relu_grad", "gaussian_grad",
    "linear_grad",
]

NAMES = ("step", "sign", "sigmoid", "tanh", "relu", "leaky_relu", "gaussian", "linear")


def _as_float(x, name: str, ndim=None) -> np.ndarray:
    """:func:`nnkit._validate.as_float_array` with a fast path for float32/float64 ndarrays.

    Same checks and messages; this is called on every layer of every training step, so an array
    that is already float skips the dtype inspection and only gets the NaN/inf scan.
    """
    if type(x) is np.ndarray and x.dtype.char in "fd":
        if ndim is not None and x.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
            return as_float_array(x, name, ndim=ndim)          # raises with the standard message
        check_finite(x, name)
        return x
    return as_float_array(x, name, ndim=ndim)


def _z(z, name: str = "z") -> np.ndarray:
    return _as_float(z, name)


def _check_slope(slope) -> float:
    try:
        s = float(slope)
    except (TypeError, ValueError):
        raise TypeError(f"slope: expected a number, got {slope!r}") from None
    if not np.isfinite(s):
        raise ValueError(f"slope: expected a finite number, got {slope!r}")
    return s


# --------------------------------------------------------------------------- kernels (no validation)

def _step(z):
    return (z > 0).astype(z.dtype)


def _sign(z):
    return np.where(z >= 0, 1, -1).astype(z.dtype)


def _sigmoid(z):
    # exp(-|z|) never overflows; σ(z) = 1/(1+e) for z >= 0 and e/(1+e) for z < 0.
    e = np.exp(-np.abs(z))
    r = 1 / (1 + e)
    return np.where(z >= 0, r, e * r)


def _relu(z):
    return np.maximum(z, 0)


def _leaky_relu(z, slope=0.01):
    return np.where(z > 0, z, z * slope)


def _gaussian(z):
    return np.exp(-0.5 * z * z)


def _zeros(z):
    return np.zeros_like(z)


def _ones(z):
    return np.ones_like(z)


# --------------------------------------------------------------------------- activations

def step(z):
    r"""Heaviside step, the perceptron's threshold unit.

    .. math:: \mathrm{step}(z) = 1 \text{ if } z > 0 \text{ else } 0

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, same shape and float dtype as ``z``
    """
    return _step(_z(z))


def sign(z):
    r"""Sign unit with values ±1 (the binary perceptron's output).

    .. math:: \mathrm{sign}(z) = +1 \text{ if } z \ge 0 \text{ else } -1

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, same shape and float dtype as ``z``
    """
    return _sign(_z(z))


def sigmoid(z):
    r"""Logistic sigmoid, computed without overflow for large ``|z|``.

    .. math:: \sigma(z) = \frac{1}{1 + e^{-z}}

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, same shape and float dtype as ``z``, values in (0, 1)
    """
    return _sigmoid(_z(z))


def tanh(z):
    r"""Hyperbolic tangent.

    .. math:: \tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}} = 2\sigma(2z) - 1

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, same shape and float dtype as ``z``, values in (-1, 1)
    """
    return np.tanh(_z(z))


def relu(z):
    r"""Rectified linear unit.

    .. math:: \mathrm{relu}(z) = \max(0, z)

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, same shape and float dtype as ``z``
    """
    return _relu(_z(z))


def leaky_relu(z, slope=0.01):
    r"""Leaky ReLU: slope ``slope`` for negative inputs (the lectures use 0.1).

    .. math:: \mathrm{leaky}(z) = \max(a z, z) \quad (0 \le a < 1), \qquad
              \text{in general } z \text{ if } z > 0 \text{ else } a z

    Parameters
    ----------
    z : array_like, any shape
    slope : float, default 0.01
        The slope ``a`` on the negative side.

    Returns
    -------
    ndarray, same shape and float dtype as ``z``
    """
    return _leaky_relu(_z(z), _check_slope(slope))


def gaussian(z):
    r"""Gaussian bump activation.

    .. math:: g(z) = e^{-z^2/2}

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, same shape and float dtype as ``z``, values in (0, 1]
    """
    return _gaussian(_z(z))


def linear(z):
    r"""Identity activation (a linear output unit, e.g. for regression).

    .. math:: f(z) = z

    Parameters
    ----------
    z : array_like, any shape

    Returns
    -------
    ndarray, a copy of ``z`` as a float array
    """
    return _z(z).copy()


def softmax(z, axis=-1):
    r"""Softmax along ``axis``, stable for any finite scores.

    Subtracting the maximum does not change the result and keeps every exponent <= 0.

    .. math:: p_k = \frac{e^{z_k - m}}{\sum_j e^{z_j - m}}, \qquad m = \max_j z_j

    Parameters
    ----------
    z : array_like, e.g. scores of shape (N, C)
    axis : int, default -1
        The class axis.

    Returns
    -------
    ndarray, same shape and float dtype as ``z``; entries sum to 1 along ``axis``
    """
    z = _z(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def log_softmax(z, axis=-1):
    r"""Logarithm of :func:`softmax`, computed as ``z - logsumexp(z)`` (never ``log(0)``).

    .. math:: \log p_k = z_k - m - \log \sum_j e^{z_j - m}

    Parameters
    ----------
    z : array_like, e.g. scores of shape (N, C)
    axis : int, default -1

    Returns
    -------
    ndarray, same shape and float dtype as ``z``
    """
    z = _z(z)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------- derivatives

def step_grad(z):
    r"""Derivative of :func:`step`: 0 everywhere (undefined at 0; taken as 0).

    This is why a network of step units cannot be trained by gradient descent.

    Returns
    -------
    ndarray of zeros, same shape and dtype as ``z``
    """
    return _zeros(_z(z))


def sign_grad(z):
    r"""Derivative of :func:`sign`: 0 everywhere (undefined at 0; taken as 0).

    Returns
    -------
    ndarray of zeros, same shape and dtype as ``z``
    """
    return _zeros(_z(z))


def sigmoid_grad(z):
    r"""Derivative of the sigmoid.

    .. math:: \sigma'(z) = \sigma(z)\,(1 - \sigma(z))

    Returns
    -------
    ndarray, same shape and dtype as ``z``, values in (0, 1/4]
    """
    s = _sigmoid(_z(z))
    return s * (1 - s)


def tanh_grad(z):
    r"""Derivative of tanh.

    .. math:: \tanh'(z) = 1 - \tanh^2(z)

    Returns
    -------
    ndarray, same shape and dtype as ``z``, values in (0, 1]
    """
    t = np.tanh(_z(z))
    return 1 - t * t


def relu_grad(z):
    r"""Derivative of ReLU (0 at the kink ``z = 0``, as in PyTorch).

    .. math:: \mathrm{relu}'(z) = \mathbb{1}[z > 0]

    Returns
    -------
    ndarray of 0/1, same shape and dtype as ``z``
    """
    return _step(_z(z))


def leaky_relu_grad(z, slope=0.01):
    r"""Derivative of leaky ReLU (``slope`` at the kink ``z = 0``, as in PyTorch).

    .. math:: \mathrm{leaky}'(z) = 1 \text{ if } z > 0 \text{ else } a

    Returns
    -------
    ndarray, same shape and dtype as ``z``
    """
    z = _z(z)
    slope = _check_slope(slope)
    return np.where(z > 0, 1, slope).astype(z.dtype)


def gaussian_grad(z):
    r"""Derivative of the Gaussian activation.

    .. math:: g'(z) = -z\, e^{-z^2/2} = -z\, g(z)

    Returns
    -------
    ndarray, same shape and dtype as ``z``
    """
    z = _z(z)
    return -z * _gaussian(z)


def linear_grad(z):
    r"""Derivative of the identity: 1 everywhere.

    Returns
    -------
    ndarray of ones, same shape and dtype as ``z``
    """
    return _ones(_z(z))


# --------------------------------------------------------------------------- lookup by name

@dataclass(frozen=True)
class Activation:
    """An activation as a value: its ``name``, ``forward(z)`` and derivative ``grad(z)``.

    Obtain one with :func:`get`, e.g. ``get("leaky_relu", slope=0.1).grad(z)``.
    """

    name: str
    forward: Callable[[np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    params: tuple = ()

    def __call__(self, z):
        return self.forward(z)

    def __repr__(self):
        extra = "".join(f", {k}={v!r}" for k, v in self.params)
        return f"Activation({self.name!r}{extra})"


_TABLE = {
    "step": (step, step_grad),
    "sign": (sign, sign_grad),
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "gaussian": (gaussian, gaussian_grad),
    "linear": (linear, linear_grad),
}
_PARAMS = {"leaky_relu": ("slope",)}


def check_name(name) -> str:
    """Return ``name`` if it is a valid activation name, else raise a ValueError listing ``NAMES``."""
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name (str), got {type(name).__name__}; "
                        f"valid names are {', '.join(NAMES)}")
    if name not in _TABLE:
        raise ValueError(f"activation: unknown name {name!r}; valid names are {', '.join(NAMES)}")
    return name


def check_kwargs(name: str, kw: dict) -> dict:
    """Validate the keyword parameters of activation ``name`` (only leaky_relu takes ``slope``)."""
    allowed = _PARAMS.get(name, ())
    unknown = sorted(set(kw) - set(allowed))
    if unknown:
        takes = f"takes {', '.join(allowed)}" if allowed else "takes no parameters"
        raise TypeError(f"activation {name!r} {takes}, got {', '.join(unknown)}")
    if "slope" in kw:
        kw = {**kw, "slope": _check_slope(kw["slope"])}
    return kw


def get(name: str, **kw) -> Activation:
    """Look up an activation by name.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`: "step", "sign", "sigmoid", "tanh", "relu", "leaky_relu", "gaussian",
        "linear".
    **kw
        Parameters of the activation (only ``slope`` for "leaky_relu").

    Returns
    -------
    Activation

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid names).
    """
    check_name(name)
    kw = check_kwargs(name, kw)
    fwd, grad = _TABLE[name]
    if kw:
        fwd, grad = partial(fwd, **kw), partial(grad, **kw)
    return Activation(name, fwd, grad, tuple(sorted(kw.items())))
