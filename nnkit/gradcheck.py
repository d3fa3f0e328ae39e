r"""Gradient checking: compare an analytic gradient with centred finite differences.

Backpropagation bugs rarely crash; they make training slowly worse. The cure (CS231n) is to compare
each backward pass with the slope of the loss measured numerically,

.. math:: \frac{\partial f}{\partial x_i} \approx \frac{f(x + h e_i) - f(x - h e_i)}{2h},

and report the relative error. In float64 a correct gradient gives about 1e-7 or less away from
kinks (ReLU at 0, |x| at 0); 1e-2 or more means a bug. It costs two evaluations of ``f`` per
parameter, which is why it is a test, not a training method.
"""

from __future__ import annotations

import inspect

import numpy as np

from nnkit._validate import as_float_array, as_number

__all__ = ["numerical_gradient", "numerical_gradient_array", "rel_error", "check_gradients"]


def _writable_float(x, name="x"):
    if not isinstance(x, np.ndarray) or x.dtype.kind != "f":
        raise TypeError(f"{name}: expected a float ndarray (it is perturbed in place), got "
                        f"{type(x).__name__}" + (f" of dtype {x.dtype}" if isinstance(x, np.ndarray) else ""))
    if not x.flags.writeable:
        raise ValueError(f"{name}: expected a writeable array, got a read-only one")
    return x


def _check_h(h):
    v = as_number(h, "h")
    if not (np.isfinite(v) and v > 0):
        raise ValueError(f"h: expected a finite step > 0, got {h!r}")
    return v


def _check_f(f):
    if not callable(f):
        raise TypeError(f"f: expected a function f(x) -> float, got {type(f).__name__}")
    return f


def _scalar(value, who: str) -> float:
    """The value of ``f(x)`` as a float; anything but one number is an error naming ``who``."""
    arr = np.asarray(value) if not isinstance(value, (int, float)) else None
    if arr is not None and (arr.size != 1 or arr.dtype.kind not in "biuf"):
        what = f"an array of shape {arr.shape}" if arr.dtype.kind in "biuf" else type(value).__name__
        raise TypeError(f"{who}: expected a scalar (one float), got {what}; a loss function returns one "
                        "number (use numerical_gradient_array for an array-valued function)")
    return float(value if arr is None else arr.reshape(()))


def numerical_gradient(f, x, h=1e-5):
    r"""Centred finite-difference gradient of a scalar function.

    .. math:: g_i = \frac{f(x + h e_i) - f(x - h e_i)}{2h}

    Parameters
    ----------
    f : callable
        ``f(x) -> float``; it may read ``x`` (or an array sharing its memory) directly.
    x : ndarray of floats, any shape
        Perturbed in place, one entry at a time, and restored exactly afterwards (even if ``f``
        raises).
    h : float, default 1e-5

    Returns
    -------
    ndarray, shape of ``x``, float64
    """
    f = _check_f(f)
    x = _writable_float(x)
    h = _check_h(h)
    grad = np.zeros(x.shape, dtype=np.float64)
    for ix in np.ndindex(x.shape):
        old = x[ix]
        try:
            x[ix] = old + h
            fp = _scalar(f(x), "f(x)")
            x[ix] = old - h
            fm = _scalar(f(x), "f(x)")
        finally:
            x[ix] = old
        grad[ix] = (fp - fm) / (2 * h)
    return grad


def numerical_gradient_array(f, x, dout, h=1e-5):
    r"""Finite-difference vector-Jacobian product for an array-valued ``f`` (checks backward passes).

    .. math:: g_i = \sum_k \bar y_k \frac{f_k(x + h e_i) - f_k(x - h e_i)}{2h}

    which is what ``backward(dout)`` must return for ``y = f(x)``.

    Parameters
    ----------
    f : callable, ``f(x) -> ndarray``
    x : ndarray of floats, perturbed in place and restored
    dout : array_like, shape of ``f(x)``
    h : float, default 1e-5

    Returns
    -------
    ndarray, shape of ``x``
    """
    f = _check_f(f)
    dout = as_float_array(dout, "dout", dtype=np.float64)

    def projected(v):
        out = as_float_array(f(v), "f(x)", dtype=np.float64, finite=False)
        if out.shape != dout.shape:
            raise ValueError(f"dout: expected the shape of f(x) {out.shape}, got {dout.shape}")
        return np.vdot(out, dout)

    return numerical_gradient(projected, x, h)


def rel_error(a, b):
    r"""Largest elementwise relative error between two arrays.

    .. math:: \max_i \frac{|a_i - b_i|}{\max(10^{-8}, |a_i| + |b_i|)}

    Parameters
    ----------
    a, b : array_like, same shape

    Returns
    -------
    float (0.0 for empty arrays)

    Raises
    ------
    ValueError
        NaN or inf in ``a`` or ``b``: no relative error measures that (a gradient with NaN is a bug).
    """
    a = as_float_array(a, "a", dtype=np.float64)
    b = as_float_array(b, "b", dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"b: expected the shape of a {a.shape}, got {b.shape}")
    if a.size == 0:
        return 0.0
    return float(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def check_gradients(model, X, y, h=1e-5):
    """Compare ``model.loss``'s gradients with finite differences, parameter by parameter.

    ``model`` needs ``params`` (dict name -> float ndarray) and ``loss(X, y) -> (loss, grads)``. When
    ``loss`` accepts ``train``, it is called with ``train=False`` so dropout does not make the loss
    random. Use float64 parameters and small ``X``: it costs two losses per parameter.

    Parameters
    ----------
    model : object with ``params`` and ``loss``
    X, y : the batch passed to ``model.loss``
    h : float, default 1e-5

    Returns
    -------
    dict name -> float, the :func:`rel_error` of each parameter's gradient
    """
    params = getattr(model, "params", None)
    if not isinstance(params, dict) or not callable(getattr(model, "loss", None)):
        raise TypeError("model: expected an object with a params dict and a loss(X, y) method, got "
                        f"{type(model).__name__}")
    try:
        takes_train = "train" in inspect.signature(model.loss).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signature
        takes_train = False
    kw = {"train": False} if takes_train else {}

    def loss():
        return model.loss(X, y, **kw)

    h = _check_h(h)
    result = loss()
    if not (isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict)):
        raise TypeError("model.loss: expected it to return (loss, grads) with grads a dict name -> array, "
                        f"got {type(result).__name__}")
    grads = {k: as_float_array(v, f"model.loss grads[{k!r}]", dtype=np.float64).copy()
             for k, v in result[1].items()}
    out = {}
    for name, p in params.items():
        if name not in grads:
            raise ValueError(f"model.loss: returned no gradient for parameter {name!r}")
        num = numerical_gradient(lambda _: loss()[0], p, h)
        out[name] = rel_error(grads[name], num)
    return out
