"""First-order optimizers: SGD (+ momentum, Nesterov), AdaGrad, RMSProp and Adam.

Each update rule is written once, as a pure function on a single array
``rule(x, dx, state, **hyper) -> (x_new, state)``: the trajectory widgets and the exercises call it
directly (e.g. to minimise f(x, y)). The classes are thin wrappers holding a params dict: ``step(grads)``
runs the rule on every array and writes the result back IN PLACE (dtype kept, so float32 stays float32),
with the per-parameter state keyed by the parameter's name and created lazily with ``zeros_like``.

The semantics are those of ``torch.optim`` (checked in tests/test_optim.py): weight decay is added to the
gradient (L2, not decoupled), momentum is ``v = ρ v + g`` then ``x -= lr v``, the epsilon goes outside the
square root, and ``RMSProp(decay=...)`` is torch's ``RMSprop(alpha=...)``.
"""

from __future__ import annotations

import math
from functools import partial

import numpy as np

from nnkit._validate import check_positive, check_probability

__all__ = ["sgd_step", "adagrad_step", "rmsprop_step", "adam_step", "RULES",
           "Optimizer", "SGD", "AdaGrad", "RMSProp", "Adam"]


# ---------------------------------------------------------------------------------------------------
# hyper-parameter checks (shared by the pure rules and the constructors)

_PROBABILITIES = ("momentum", "decay", "beta1", "beta2")      # in [0, 1)
_NON_NEGATIVE = ("eps", "weight_decay")                        # >= 0


def _checked(hyper: dict) -> dict:
    """Validate hyper-parameters by name; returns them as Python floats (never numpy scalars)."""
    out = dict(hyper)
    for name, value in hyper.items():
        if name == "lr":
            out[name] = check_positive(value, "lr")
        elif name in _PROBABILITIES:
            out[name] = check_probability(value, name)
        elif name in _NON_NEGATIVE:
            out[name] = check_positive(value, name, allow_zero=True)
    if hyper.get("nesterov"):
        out["nesterov"] = True
        if out["momentum"] == 0:
            raise ValueError(f"nesterov=True needs momentum > 0, got momentum={hyper['momentum']!r}")
    elif "nesterov" in hyper:
        out["nesterov"] = False
    return out


def _as_pair(x, dx):
    """``x`` as a float array (float32/float64 kept) and ``dx`` as an array of the same dtype and shape."""
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    dx = np.asarray(dx)
    if dx.shape != x.shape:
        raise ValueError(f"dx: expected the shape of x {x.shape}, got {dx.shape}")
    if dx.dtype != x.dtype:
        dx = dx.astype(x.dtype)
    return x, dx


# ---------------------------------------------------------------------------------------------------
# pure single-array rules

def sgd_step(x, dx, state=None, *, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    r"""One step of stochastic gradient descent, optionally with (Nesterov) momentum.

    .. math::
        g = \nabla f(x) + \lambda x, \qquad v \leftarrow \rho v + g, \qquad
        x \leftarrow x - \alpha v \quad\text{(or } x - \alpha (g + \rho v) \text{ with Nesterov)}

    Parameters
    ----------
    x, dx : ndarray, same shape
        Current value and gradient.
    state : dict or None
        ``{"v": velocity}`` from the previous call (``None`` on the first step: v starts at zeros).
    lr : float > 0
        Learning rate α.
    momentum : float in [0, 1)
        ρ; 0 is plain SGD.
    nesterov : bool
        Nesterov's look-ahead form (needs ``momentum > 0``).
    weight_decay : float >= 0
        λ, added to the gradient as λx (L2 regularization).

    Returns
    -------
    x_new : ndarray, shape and dtype of ``x``
    state : dict
        New state (the input state is not modified).
    """
    return _sgd(x, dx, state, **_checked(
        {"lr": lr, "momentum": momentum, "nesterov": nesterov, "weight_decay": weight_decay}))


def _sgd(x, dx, state, lr, momentum, nesterov, weight_decay):
    x, dx = _as_pair(x, dx)
    g = dx + weight_decay * x if weight_decay else dx
    new_state = {}
    if momentum:
        v = (state or {}).get("v")
        v = momentum * (np.zeros_like(x) if v is None else v) + g
        g = g + momentum * v if nesterov else v
        new_state["v"] = v
    return x - lr * g, new_state


def adagrad_step(x, dx, state=None, *, lr=1e-2, eps=1e-10, weight_decay=0.0):
    r"""One AdaGrad step: every coordinate gets its own learning rate, shrinking with its gradient history.

    .. math::
        G \leftarrow G + g \odot g, \qquad x \leftarrow x - \alpha\, g / (\sqrt{G} + \epsilon)

    ``state`` is ``{"G": sum of squared gradients}`` (zeros at first). Shapes as in :func:`sgd_step`.
    """
    return _adagrad(x, dx, state, **_checked({"lr": lr, "eps": eps, "weight_decay": weight_decay}))


def _adagrad(x, dx, state, lr, eps, weight_decay):
    x, dx = _as_pair(x, dx)
    g = dx + weight_decay * x if weight_decay else dx
    G = (state or {}).get("G")
    G = (np.zeros_like(x) if G is None else G) + g * g
    return x - lr * (g / (np.sqrt(G) + eps)), {"G": G}


def rmsprop_step(x, dx, state=None, *, lr=1e-2, decay=0.99, eps=1e-8, weight_decay=0.0):
    r"""One RMSProp step: AdaGrad with a leaky (exponentially decaying) sum of squared gradients.

    .. math::
        v \leftarrow \text{decay}\cdot v + (1 - \text{decay})\, g \odot g, \qquad
        x \leftarrow x - \alpha\, g / (\sqrt{v} + \epsilon)

    ``state`` is ``{"v": mean square}`` (zeros at first). ``decay`` is torch's ``alpha``.
    """
    return _rmsprop(x, dx, state, **_checked(
        {"lr": lr, "decay": decay, "eps": eps, "weight_decay": weight_decay}))


def _rmsprop(x, dx, state, lr, decay, eps, weight_decay):
    x, dx = _as_pair(x, dx)
    g = dx + weight_decay * x if weight_decay else dx
    v = (state or {}).get("v")
    v = (np.zeros_like(x) if v is None else v) * decay + (1.0 - decay) * (g * g)
    return x - lr * (g / (np.sqrt(v) + eps)), {"v": v}


def adam_step(x, dx, state=None, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    r"""One Adam step (momentum + RMSProp, with bias correction); see :class:`Adam` for the algorithm.

    ``state`` is ``{"t": steps taken, "m": first moment, "v": second moment}`` (t=0 and zeros at first).
    Shapes as in :func:`sgd_step`.
    """
    return _adam(x, dx, state, **_checked(
        {"lr": lr, "beta1": beta1, "beta2": beta2, "eps": eps, "weight_decay": weight_decay}))


def _adam(x, dx, state, lr, beta1, beta2, eps, weight_decay):
    x, dx = _as_pair(x, dx)
    g = dx + weight_decay * x if weight_decay else dx
    state = state or {}
    t = state.get("t", 0) + 1
    m, v = state.get("m"), state.get("v")
    m = np.zeros_like(x) if m is None else m
    m = m + (1.0 - beta1) * (g - m)         # = beta1 m + (1 - beta1) g, torch's lerp form
    v = (np.zeros_like(x) if v is None else v) * beta2 + (1.0 - beta2) * (g * g)
    # m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t), folded into python-float scalars as torch does
    # (python floats never upcast float32 arrays; numpy float64 scalars would).
    step_size = lr / (1.0 - beta1 ** t)
    denom = np.sqrt(v) / math.sqrt(1.0 - beta2 ** t) + eps
    return x - step_size * (m / denom), {"t": t, "m": m, "v": v}


#: Name -> pure rule. "momentum" and "nesterov" are :func:`sgd_step` with ``momentum=0.9`` preset
#: (override it by passing ``momentum=...``).
RULES = {
    "sgd": sgd_step,
    "momentum": partial(sgd_step, momentum=0.9),
    "nesterov": partial(sgd_step, momentum=0.9, nesterov=True),
    "adagrad": adagrad_step,
    "rmsprop": rmsprop_step,
    "adam": adam_step,
}


# ---------------------------------------------------------------------------------------------------
# classes: a params dict + one rule + per-name state

class Optimizer:
    """Base class: applies the rule to every array of ``params`` in place.

    Subclasses set ``rule`` (the unchecked core of a pure rule) and ``hyper_names``. The hyper-parameters
    are attributes, validated in the constructor and again once per :meth:`step`, so changing e.g.
    ``opt.lr`` between steps (a learning-rate schedule) takes effect at the next step.
    """

    rule = staticmethod(_sgd)
    hyper_names: tuple[str, ...] = ()

    def __init__(self, params, **hyper):
        if not isinstance(params, dict) or not params:
            raise TypeError(f"params: expected a non-empty dict name -> ndarray, got {type(params).__name__}")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64):
                got = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
                raise TypeError(f"params[{name!r}]: expected a float32/float64 ndarray, got {got}")
        for k, v in _checked(hyper).items():
            setattr(self, k, v)
        self.params = params
        self.state: dict[str, dict] = {}

    def hyper(self) -> dict:
        """The current hyper-parameters, validated (a ValueError names a bad one)."""
        return _checked({k: getattr(self, k) for k in self.hyper_names})

    def step(self, grads: dict) -> None:
        """Update every parameter in place from ``grads`` (a dict with the same keys as ``params``)."""
        hyper = self.hyper()
        for name, x in self.params.items():
            g = grads.get(name)
            if g is None:
                raise ValueError(f"grads: missing gradient for parameter {name!r} (got keys {sorted(grads)})")
            x_new, self.state[name] = self.rule(x, g, self.state.get(name), **hyper)
            x[...] = x_new

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    r"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    Same semantics as ``torch.optim.SGD`` (dampening 0)::

        g = grad + weight_decay * x
        v = momentum * v + g                  (v = 0 before the first step)
        x = x - lr * (g + momentum * v)       if nesterov
        x = x - lr * v                        otherwise (v = g when momentum = 0)

    Parameters
    ----------
    params : dict[str, ndarray]
        Arrays updated in place by :meth:`step`.
    lr : float > 0
    momentum : float in [0, 1)
    nesterov : bool (needs momentum > 0)
    weight_decay : float >= 0
    """

    rule = staticmethod(_sgd)
    hyper_names = ("lr", "momentum", "nesterov", "weight_decay")

    def __init__(self, params, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


class AdaGrad(Optimizer):
    r"""AdaGrad (Duchi et al. 2011), as ``torch.optim.Adagrad`` (no lr decay)::

        g = grad + weight_decay * x
        G = G + g * g                         (G = 0 at first)
        x = x - lr * g / (sqrt(G) + eps)
    """

    rule = staticmethod(_adagrad)
    hyper_names = ("lr", "eps", "weight_decay")

    def __init__(self, params, lr=1e-2, eps=1e-10, weight_decay=0.0):
        super().__init__(params, lr=lr, eps=eps, weight_decay=weight_decay)


class RMSProp(Optimizer):
    r"""RMSProp (Hinton's lecture 6e), as ``torch.optim.RMSprop`` with ``alpha=decay``::

        g = grad + weight_decay * x
        v = decay * v + (1 - decay) * g * g   (v = 0 at first)
        x = x - lr * g / (sqrt(v) + eps)
    """

    rule = staticmethod(_rmsprop)
    hyper_names = ("lr", "decay", "eps", "weight_decay")

    def __init__(self, params, lr=1e-2, decay=0.99, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, decay=decay, eps=eps, weight_decay=weight_decay)


class Adam(Optimizer):
    r"""Adam (Kingma and Ba 2015): momentum on the gradient, RMSProp on its square, both bias-corrected.

    Same semantics as ``torch.optim.Adam`` (amsgrad off)::

        input: lr (α), beta1 (β1), beta2 (β2), eps (ε), weight_decay (λ), params x
        m_0 = 0, v_0 = 0
        for t = 1, 2, ...:
            g_t   = grad_t + λ x_{t-1}
            m_t   = β1 m_{t-1} + (1 - β1) g_t             first moment  (momentum)
            v_t   = β2 v_{t-1} + (1 - β2) g_t²            second moment (RMSProp)
            m̂_t   = m_t / (1 - β1^t)                      bias correction: m_t, v_t start at 0 and
            v̂_t   = v_t / (1 - β2^t)                      would make the first steps far too small
            x_t   = x_{t-1} - α m̂_t / (sqrt(v̂_t) + ε)
        return x

    Parameters
    ----------
    params : dict[str, ndarray]
    lr : float > 0, default 1e-3
    beta1, beta2 : float in [0, 1), default 0.9 and 0.999
    eps : float >= 0, default 1e-8
    weight_decay : float >= 0, default 0
    """

    rule = staticmethod(_adam)
    hyper_names = ("lr", "beta1", "beta2", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
