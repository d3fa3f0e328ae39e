r"""First-order optimizers: SGD (+ momentum, Nesterov), AdaGrad, RMSProp, Adam, AdamW, NAdam, declared once.

An update rule is one :func:`declare` call below: its in-place kernel ``update(x, g, state, **hyper)``
(the arithmetic on a single array), its hyper-parameters with their defaults and allowed ranges
(:class:`Hyper`), its class name and the algorithm as pseudocode. Everything else is derived from it:

* ``RULES[name]``, the pure function ``rule(x, dx, state, **hyper) -> (x_new, state)`` that the
  trajectory widgets and the exercises call directly (e.g. to minimise f(x, y)); it copies ``x`` and the
  state, so nothing passed in is modified; also importable as ``sgd_step``, ``adam_step``, ...;
* the class (``SGD``, ``Adam``, ...): a params dict + the kernel + per-parameter state keyed by the
  parameter's name, created lazily; ``step(grads)`` updates every array IN PLACE (dtype kept, so float32
  stays float32);
* the validation: a hyper-parameter the rule does not declare is a TypeError naming the ones it takes,
  a declared one out of its range a ValueError naming it (the same for the pure function and the class);
* the optimizer widget's choices, labels and sliders (``sliders``: which hyper-parameter a demo's shared
  slider drives, e.g. ρ is the momentum of SGD+momentum and the decay of RMSProp).

"momentum" and "nesterov" are SGD with other defaults (``like="sgd"``): rules of their own for the
widgets and the exercises, the class ``SGD`` for training.

The semantics are those of ``torch.optim`` (checked in tests/test_optim.py): weight decay is added to the
gradient (L2, not decoupled) except in AdamW, momentum is ``v = ρ v + g`` then ``x -= lr v``, the epsilon
goes outside the square root, and ``RMSProp(decay=...)`` is torch's ``RMSprop(alpha=...)``.

Adding an optimizer is one kernel and one :func:`declare` call plus its torch oracle in the tests.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from nnkit._packed import Packed
from nnkit._validate import NameTable, as_float_array, as_number, check_finite

__all__ = ["Hyper", "Rule", "DECLARATIONS", "RULES", "declare", "Optimizer"]
# + the pure rules ("sgd_step", ...) and the classes ("SGD", ...), added below from the declarations


# ---------------------------------------------------------------------------------------------------
# the declaration

_KINDS = {
    "positive": "a finite value > 0",
    "nonnegative": "a finite value >= 0",
    "probability": "a value in [0, 1)",
    "bool": "True or False",
}


@dataclass(frozen=True)
class Hyper:
    """A declared hyper-parameter: its default (``None``: required) and its kind, which fixes the range.

    kinds: "positive" (finite, > 0), "nonnegative" (finite, >= 0), "probability" ([0, 1)), "bool".
    """

    default: object
    kind: str
    doc: str = ""

    def check(self, name: str, value):
        """``value`` as a Python float (or bool), or a TypeError/ValueError naming ``name`` and the range."""
        if self.kind == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name}: expected True or False, got {value!r}")
            return bool(value)
        v = as_number(value, name)
        ranges = {"positive": v > 0, "nonnegative": v >= 0, "probability": 0 <= v < 1}
        ok = math.isfinite(v) and ranges[self.kind]
        if not ok:
            raise ValueError(f"{name}: expected {_KINDS[self.kind]}, got {value!r}")
        return v


@dataclass(frozen=True)
class Rule:
    """Everything nnkit knows about one update rule; every other table is derived from these.

    Attributes
    ----------
    name : str
        Key of :data:`RULES` ("adam").
    label : str
        Human name for legends and reprs ("Adam").
    update : callable ``update(x, g, state, **hyper) -> None``
        The kernel: updates the array ``x`` and the dict ``state`` in place (no validation).
    hyper : dict name -> Hyper
        The hyper-parameters in signature order.
    cls : str
        Name of the generated optimizer class ("Adam"); rules with ``like=`` share their base's class.
    doc : str
        The algorithm (pseudocode), the class docstring.
    sliders : dict hyper name -> slider name
        For demos with shared sliders ("lr", "rho", "beta1", "beta2"): which slider drives which
        hyper-parameter. Hyper-parameters not listed keep their defaults there.
    requires : callable ``requires(hyper) -> None`` or None
        A check across hyper-parameters (raises ValueError), e.g. Nesterov needs momentum > 0.
    elementwise : bool
        The kernel treats every entry on its own (all of nnkit's rules), so one call on the parameters
        packed into one buffer is the same as one call per array. A rule with a per-array quantity
        (a layer-wise norm, as LARS has) declares False and is called once per parameter.
    """

    name: str
    label: str
    update: Callable
    hyper: dict
    cls: str
    doc: str
    sliders: dict = field(default_factory=dict)
    requires: Callable | None = None
    elementwise: bool = True

    def check(self, hyper: dict, who: str | None = None) -> dict:
        """All hyper-parameters, declared defaults filled in, each validated; unknown names are an error."""
        unknown = sorted(set(hyper) - set(self.hyper))
        if unknown:
            raise TypeError(f"{who or self.name}: unknown hyper-parameter {', '.join(map(repr, unknown))}; "
                            f"it takes {', '.join(self.hyper)}")
        out = {}
        for k, h in self.hyper.items():
            if k in hyper:
                out[k] = h.check(k, hyper[k])
            elif h.default is None:
                raise TypeError(f"{who or self.name}: missing the hyper-parameter {k!r}")
            else:
                out[k] = h.default
        if self.requires is not None:
            self.requires(out)
        return out


#: name -> Rule, in the order of the course
DECLARATIONS: dict[str, Rule] = NameTable("optimizer")


def declare(name, *, label, update=None, hyper=None, cls=None, doc="", sliders=None, requires=None,
            like=None, defaults=None, elementwise=True) -> Rule:
    """Add a rule to :data:`DECLARATIONS`; ``like="sgd", defaults={...}`` declares a preset of a rule."""
    if name in DECLARATIONS:
        raise ValueError(f"optimizer {name!r} is declared twice")
    if like is not None:
        base = DECLARATIONS[like]
        hyper = {k: Hyper((defaults or {}).get(k, h.default), h.kind, h.doc) for k, h in base.hyper.items()}
        rule = Rule(name, label, base.update, hyper, base.cls, base.doc, dict(sliders or {}), base.requires,
                    base.elementwise)
    else:
        rule = Rule(name, label, update, dict(hyper), cls, doc, dict(sliders or {}), requires, elementwise)
    for k in rule.sliders:
        if k not in rule.hyper:
            raise ValueError(f"optimizer {name!r}: slider for undeclared hyper-parameter {k!r}")
    # the classes call the kernel positionally: its parameters after (x, g, state) are the declared ones
    takes = tuple(inspect.signature(rule.update).parameters)[3:]
    if takes != tuple(rule.hyper):
        raise ValueError(f"optimizer {name!r}: the kernel takes {takes}, the declaration {tuple(rule.hyper)}")
    DECLARATIONS[name] = rule
    return rule


# ---------------------------------------------------------------------------------------------------
# the rules: one kernel and one declaration each

_BLAS_AXPY = {}                   # dtype -> BLAS axpy (scipy.linalg.blas), loaded by the first step


def _axpy(a, g, x):
    """``x += a · g`` in place (a a Python float, g an array like x): the last line of every rule.

    On a 1-D array (an nnkit model's parameters are one, see :class:`Optimizer`) this is BLAS's axpy,
    one pass over memory where numpy needs two (``a * g`` into a temporary, then ``x +=`` it): at the
    batch sizes students train with, that pass is a visible share of a step. Anything else is numpy's
    ``x += a * g``; both agree to rounding (axpy may fuse the multiply and the add).
    """
    if x.ndim == 1 and x.dtype is g.dtype:
        axpy = _BLAS_AXPY.get(x.dtype) if _BLAS_AXPY else _load_axpy().get(x.dtype)
        if axpy is not None and axpy(g, x, a=a) is x:   # f2py writes in place into a contiguous x
            return
    x += a * g


def _load_axpy():
    """Load scipy's BLAS axpy once (the first optimizer does, not the first step: its first call also
    sets up the library, which belongs to construction, not to training)."""
    if _BLAS_AXPY:
        return _BLAS_AXPY
    try:
        from scipy.linalg import blas
    except ImportError:                               # pragma: no cover - scipy comes with scikit-learn
        _BLAS_AXPY[None] = None
        return _BLAS_AXPY
    for dtype, axpy in ((np.float32, blas.saxpy), (np.float64, blas.daxpy)):
        axpy(np.zeros(1, dtype), np.zeros(1, dtype), a=1.0)
        _BLAS_AXPY[np.dtype(dtype)] = axpy
    return _BLAS_AXPY

_LR = "learning rate α"
_WD = "weight decay λ, added to the gradient as λx (L2 regularization)"


def _sgd(x, g, state, lr, momentum, nesterov, weight_decay):
    if weight_decay:
        g = g + weight_decay * x
    if momentum:
        v = state.get("v")
        if v is None:
            v = state["v"] = g.copy()               # v_1 = g_1 (torch: the buffer starts as the gradient)
        else:
            v *= momentum
            v += g
        g = g + momentum * v if nesterov else v
    _axpy(-lr, g, x)


def _nesterov_needs_momentum(h):
    if h["nesterov"] and h["momentum"] == 0:
        raise ValueError(f"nesterov=True needs momentum > 0, got momentum={h['momentum']!r}")


declare("sgd", label="SGD", cls="SGD", update=_sgd, requires=_nesterov_needs_momentum,
        hyper={"lr": Hyper(None, "positive", _LR), "momentum": Hyper(0.0, "probability", "ρ; 0 is plain SGD"),
               "nesterov": Hyper(False, "bool", "Nesterov's look-ahead form (needs momentum > 0)"),
               "weight_decay": Hyper(0.0, "nonnegative", _WD)},
        sliders={"lr": "lr"},
        doc=r"""Stochastic gradient descent with optional momentum, Nesterov momentum and weight decay.

    Same semantics as ``torch.optim.SGD`` (dampening 0)::

        g = grad + weight_decay * x
        v = momentum * v + g                  (v = g at the first step)
        x = x - lr * (g + momentum * v)       if nesterov
        x = x - lr * v                        otherwise (v = g when momentum = 0)

    .. math::
        g = \nabla f(x) + \lambda x, \qquad v \leftarrow \rho v + g, \qquad
        x \leftarrow x - \alpha v \quad\text{(or } x - \alpha (g + \rho v) \text{ with Nesterov)}
    """)
declare("momentum", label="momentum", like="sgd", defaults={"momentum": 0.9},
        sliders={"lr": "lr", "momentum": "rho"})
declare("nesterov", label="Nesterov", like="sgd", defaults={"momentum": 0.9, "nesterov": True},
        sliders={"lr": "lr", "momentum": "rho"})


def _adagrad(x, g, state, lr, eps, weight_decay):
    if weight_decay:
        g = g + weight_decay * x
    G = state.get("G")
    if G is None:
        G = state["G"] = np.zeros_like(x)
    G += g * g
    _axpy(-lr, g / (np.sqrt(G) + eps), x)


declare("adagrad", label="AdaGrad", cls="AdaGrad", update=_adagrad,
        hyper={"lr": Hyper(1e-2, "positive", _LR), "eps": Hyper(1e-10, "nonnegative", "ε"),
               "weight_decay": Hyper(0.0, "nonnegative", _WD)},
        sliders={"lr": "lr"},
        doc=r"""AdaGrad (Duchi et al. 2011), as ``torch.optim.Adagrad`` (no lr decay): every coordinate gets
    its own learning rate, shrinking with its gradient history::

        g = grad + weight_decay * x
        G = G + g * g                         (G = 0 at first)
        x = x - lr * g / (sqrt(G) + eps)
    """)


def _rmsprop(x, g, state, lr, decay, eps, weight_decay):
    if weight_decay:
        g = g + weight_decay * x
    v = state.get("v")
    if v is None:
        v = state["v"] = np.zeros_like(x)
    v *= decay
    v += (1.0 - decay) * (g * g)
    _axpy(-lr, g / (np.sqrt(v) + eps), x)


declare("rmsprop", label="RMSProp", cls="RMSProp", update=_rmsprop,
        hyper={"lr": Hyper(1e-2, "positive", _LR),
               "decay": Hyper(0.99, "probability", "decay of the running mean of g² (torch's alpha)"),
               "eps": Hyper(1e-8, "nonnegative", "ε"), "weight_decay": Hyper(0.0, "nonnegative", _WD)},
        sliders={"lr": "lr", "decay": "rho"},
        doc=r"""RMSProp (Hinton's lecture 6e), as ``torch.optim.RMSprop`` with ``alpha=decay``: AdaGrad with
    a leaky (exponentially decaying) sum of squared gradients::

        g = grad + weight_decay * x
        v = decay * v + (1 - decay) * g * g   (v = 0 at first)
        x = x - lr * g / (sqrt(v) + eps)
    """)


def _moments(x, g, state, beta1, beta2):
    """Adam's and NAdam's shared step count and moment updates, in place in ``state``; ``(t, m, v)``."""
    t = state["t"] = state.get("t", 0) + 1
    m, v = state.get("m"), state.get("v")
    if m is None:
        m = state["m"] = np.zeros_like(x)
        v = state["v"] = np.zeros_like(x)
    m += (1.0 - beta1) * (g - m)           # = beta1 m + (1 - beta1) g, torch's lerp form
    v *= beta2
    v += (1.0 - beta2) * (g * g)
    return t, m, v


def _adam(x, g, state, lr, beta1, beta2, eps, weight_decay):
    if weight_decay:
        g = g + weight_decay * x
    t, m, v = _moments(x, g, state, beta1, beta2)
    # m_hat = m / (1 - beta1^t), v_hat = v / (1 - beta2^t), folded into python-float scalars as torch does
    # (python floats never upcast float32 arrays; numpy float64 scalars would).
    step_size = lr / (1.0 - beta1 ** t)
    denom = np.sqrt(v) / math.sqrt(1.0 - beta2 ** t) + eps
    _axpy(-step_size, m / denom, x)


_ADAM_HYPER = {"lr": Hyper(1e-3, "positive", _LR), "beta1": Hyper(0.9, "probability", "β1, first moment"),
               "beta2": Hyper(0.999, "probability", "β2, second moment"),
               "eps": Hyper(1e-8, "nonnegative", "ε")}

declare("adam", label="Adam", cls="Adam", update=_adam,
        hyper={**_ADAM_HYPER, "weight_decay": Hyper(0.0, "nonnegative", _WD)},
        sliders={"lr": "lr", "beta1": "beta1", "beta2": "beta2"},
        doc=r"""Adam (Kingma and Ba 2015): momentum on the gradient, RMSProp on its square, bias-corrected.

    Same semantics as ``torch.optim.Adam`` (amsgrad off)::

        input: lr (α), beta1 (β1), beta2 (β2), eps (ε), weight_decay (λ), params x
        m_0 = 0, v_0 = 0
        for t = 1, 2, ...:
            g_t   = grad_t + λ x_{t-1}
            m_t   = β1 m_{t-1} + (1 - β1) g_t             first moment  (momentum)
            v_t   = β2 v_{t-1} + (1 - β2) g_t²            second moment (RMSProp)
            m̂_t   = m_t / (1 - β1^t)                      bias correction: m_t, v_t start at 0, so
            v̂_t   = v_t / (1 - β2^t)                      both are biased towards 0
            x_t   = x_{t-1} - α m̂_t / (sqrt(v̂_t) + ε)
        return x

    Without the correction the first step would be too *large*, not too small: at t = 1,
    m_1 / sqrt(v_1) = (1 - β1) g / (sqrt(1 - β2) |g|), i.e. 0.1 / sqrt(0.001) ≈ 3.16 times the
    corrected step α sign(g) for the default β1 = 0.9, β2 = 0.999.
    """)


def _adamw(x, g, state, lr, beta1, beta2, eps, weight_decay):
    if weight_decay:
        x *= 1.0 - lr * weight_decay        # decoupled: the decay never enters m and v
    _adam(x, g, state, lr, beta1, beta2, eps, 0.0)


declare("adamw", label="AdamW", cls="AdamW", update=_adamw,
        hyper={**_ADAM_HYPER, "weight_decay": Hyper(1e-2, "nonnegative", "decoupled weight decay λ")},
        sliders={"lr": "lr", "beta1": "beta1", "beta2": "beta2"},
        doc=r"""AdamW (Loshchilov and Hutter 2019): Adam with decoupled weight decay.

    Adam adds λx to the gradient, so the decay is rescaled by the adaptive denominator and weights with
    large gradients are hardly decayed at all. AdamW shrinks the weights directly instead. Same semantics
    as ``torch.optim.AdamW`` (amsgrad off)::

        for t = 1, 2, ...:
            x_{t-1} = x_{t-1} (1 - α λ)                   decoupled weight decay
            m_t, v_t, m̂_t, v̂_t as in Adam with g_t = grad_t (no λ x term)
            x_t   = x_{t-1} - α m̂_t / (sqrt(v̂_t) + ε)
    """)


def _nadam(x, g, state, lr, beta1, beta2, eps, weight_decay, momentum_decay):
    if weight_decay:
        g = g + weight_decay * x
    t, m, v = _moments(x, g, state, beta1, beta2)
    mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))              # momentum schedule μ_t
    mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
    mu_product = state["mu_product"] = state.get("mu_product", 1.0) * mu   # Π_{i<=t} μ_i (a python float)
    denom = np.sqrt(v / (1.0 - beta2 ** t))
    denom += eps
    _axpy(-lr * (1.0 - mu) / (1.0 - mu_product), g / denom, x)             # the gradient's share
    _axpy(-lr * mu_next / (1.0 - mu_product * mu_next), m / denom, x)     # the look-ahead momentum


declare("nadam", label="NAdam", cls="NAdam", update=_nadam,
        hyper={**_ADAM_HYPER, "lr": Hyper(2e-3, "positive", _LR),
               "weight_decay": Hyper(0.0, "nonnegative", _WD),
               "momentum_decay": Hyper(4e-3, "nonnegative", "ψ, how fast μ_t warms up to β1")},
        sliders={"lr": "lr", "beta1": "beta1", "beta2": "beta2"},
        doc=r"""NAdam (Dozat 2016): Adam with Nesterov momentum, stepping from where momentum is about to go.

    Adam's step uses m̂_t; NAdam mixes the current gradient with the *next* momentum, as Nesterov's method
    looks ahead, and warms the momentum coefficient up over the first steps. Same semantics as
    ``torch.optim.NAdam`` (decoupled_weight_decay off)::

        for t = 1, 2, ...:
            g_t   = grad_t + λ x_{t-1}
            μ_t   = β1 (1 - ½ 0.96^(t ψ)),   μ_{t+1} = β1 (1 - ½ 0.96^((t+1) ψ))
            m_t   = β1 m_{t-1} + (1 - β1) g_t
            v_t   = β2 v_{t-1} + (1 - β2) g_t²
            d_t   = sqrt(v_t / (1 - β2^t)) + ε
            x_t   = x_{t-1} - α (1 - μ_t) / (1 - Π_{i<=t} μ_i) · g_t / d_t
                            - α μ_{t+1} / (1 - Π_{i<=t+1} μ_i) · m_t / d_t
    """)


# ---------------------------------------------------------------------------------------------------
# derived: the pure single-array rules

def _as_pair(x, dx):
    """``x`` as a float array (float32/float64 kept) and ``dx`` as an array of the same dtype and shape."""
    x = as_float_array(x, "x")
    dx = as_float_array(dx, "dx", dtype=x.dtype)
    if dx.shape != x.shape:
        raise ValueError(f"dx: expected the shape of x {x.shape}, got {dx.shape}")
    return x, dx


def _as_state(state):
    """A copy of the state a previous step returned (arrays copied), or {} for None."""
    if state is None:
        return {}
    if not isinstance(state, dict):
        raise TypeError(f"state: expected None or the dict the previous step returned, got "
                        f"{type(state).__name__}")
    return {k: v.copy() if isinstance(v, np.ndarray) else v for k, v in state.items()}


def _signature(rule, first):
    P = inspect.Parameter
    return inspect.Signature(
        [P(n, P.POSITIONAL_OR_KEYWORD) for n in first]
        + [P(k, P.KEYWORD_ONLY, default=P.empty if h.default is None else h.default)
           for k, h in rule.hyper.items()])


def _pure(rule: Rule):
    """``rule(x, dx, state=None, **hyper) -> (x_new, state_new)``, leaving ``x`` and ``state`` alone."""
    update, fname = rule.update, f"{rule.name}_step"

    def step(x, dx, state=None, **hyper):
        hyper = rule.check(hyper, fname)
        x, dx = _as_pair(x, dx)
        x = x.copy()
        state = _as_state(state)
        update(x, dx, state, **hyper)
        return x, state

    step.__name__ = step.__qualname__ = fname
    step.__module__ = __name__
    step.__signature__ = _signature(rule, ("x", "dx", "state"))
    params = "".join(f"\n{k} : {h.kind}" + ("" if h.default is None else f", default {h.default!r}")
                     + f"\n    {h.doc}" for k, h in rule.hyper.items())
    step.__doc__ = (f"One {rule.label} step on one array (pure: ``x`` and ``state`` are not modified).\n\n"
                    f"Parameters\n----------\nx, dx : ndarray, same shape\n    Current value and gradient.\n"
                    f"state : dict or None\n    The state returned by the previous call (None at first)."
                    f"{params}\n\nReturns\n-------\nx_new : ndarray, shape and dtype of ``x``\n"
                    f"state : dict\n\nAlgorithm (:class:`{rule.cls}`)::\n{rule.doc}")
    return step


#: name -> pure rule ``rule(x, dx, state, **hyper) -> (x_new, state)``, derived from :data:`DECLARATIONS`
RULES = NameTable("optimizer", {name: _pure(rule) for name, rule in DECLARATIONS.items()})
for _name, _rule in RULES.items():                 # sgd_step, momentum_step, ..., adam_step, adamw_step
    globals()[f"{_name}_step"] = _rule
    __all__.append(f"{_name}_step")


# ---------------------------------------------------------------------------------------------------
# derived: the classes (a params dict + one rule + per-name state)

class Optimizer:
    """Base class: applies its rule's kernel to every array of ``params`` in place.

    The hyper-parameters are attributes, validated in the constructor; changing one (e.g. ``opt.lr``,
    a learning-rate schedule) takes effect at the next :meth:`step`, which validates it again first.
    Per step only what can be wrong cheaply is checked: every parameter has a gradient of its shape.

    The parameters of an nnkit model live in one buffer (a :class:`nnkit._packed.Packed` dict, see
    :class:`nnkit.layers.Sequential`) and so do the gradients its ``loss`` returns: the rules are
    elementwise, so a step is then one kernel call on the whole buffer, with the state in buffers of the
    same layout, exactly what a call per array would compute. ``state`` shows it per parameter either way.
    """

    rule: Rule = DECLARATIONS["sgd"]

    def __init__(self, params, *args, **hyper):
        cls = type(self).__name__
        if not isinstance(params, dict) or not params:
            raise TypeError(f"params: expected a non-empty dict name -> ndarray, got {type(params).__name__}")
        for name, p in params.items():
            if not isinstance(p, np.ndarray) or p.dtype not in (np.float32, np.float64):
                got = p.dtype if isinstance(p, np.ndarray) else type(p).__name__
                raise TypeError(f"params[{name!r}]: expected a float32/float64 ndarray, got {got}")
            check_finite(p, f"params[{name!r}]")
        names = tuple(self.rule.hyper)
        if len(args) > len(names):
            raise TypeError(f"{cls}: takes at most {len(names)} hyper-parameters ({', '.join(names)})")
        for k, v in zip(names, args):
            if k in hyper:
                raise TypeError(f"{cls}: {k} given twice")
            hyper[k] = v
        checked = self.rule.check(hyper, cls)
        self.__dict__.update(checked)
        self.__dict__["_hyper"] = tuple(checked.values())   # None: validate again at the next step
        self.params = params
        packed = type(params) is Packed and params.buffer is not None and self.rule.elementwise
        self._layout = params.layout if packed else None    # one kernel call on the whole buffer
        if packed:
            _load_axpy()                                      # the BLAS update of a 1-D buffer
        self._state: dict = {}           # per parameter name, or the buffers' state when packed
        self._stepped = False

    def __setattr__(self, name, value):
        if name in self.rule.hyper:
            self.__dict__["_hyper"] = None            # validated again at the next step
        object.__setattr__(self, name, value)

    @property
    def state(self) -> dict:
        """The rule's state per parameter name (e.g. ``state["W1"]["v"]``), created by the first step."""
        if self._layout is None or not self._stepped:
            return self._state
        per_name = {name: {} for name, *_ in self._layout}
        for key, value in self._state.items():
            if isinstance(value, np.ndarray):
                for (name, *_), view in zip(self._layout, self._layout.views(value)):
                    per_name[name][key] = view
            else:
                for name in per_name:
                    per_name[name][key] = value
        return per_name

    def hyper(self) -> dict:
        """The current hyper-parameters, validated (a ValueError names a bad one)."""
        return self.rule.check({k: getattr(self, k) for k in self.rule.hyper}, type(self).__name__)

    def step(self, grads: dict) -> None:
        """Update every parameter in place from ``grads`` (a dict with the same keys as ``params``)."""
        values = self._hyper                           # the kernel's parameters, in declared order
        if values is None:
            values = self.__dict__["_hyper"] = tuple(self.hyper().values())
        layout = self._layout
        if layout is not None:
            buffer = self.params.buffer
            if buffer is None:
                raise ValueError("params: an entry was replaced or removed after the optimizer was created; "
                                 "change the arrays in place (params[k][...] = value) or create the "
                                 "optimizer again")
            if type(grads) is Packed and grads.layout is layout and grads.buffer is not None:
                g = grads.buffer                       # the model's own gradients: already one buffer
            else:
                g = np.concatenate([g.reshape(-1) for g in self._checked(grads)])
            self.rule.update(buffer, g, self._state, *values)
            self._stepped = True
            return
        update, state = self.rule.update, self._state
        for (name, x), g in zip(self.params.items(), self._checked(grads)):
            s = state.get(name)
            if s is None:
                s = state[name] = {}
            update(x, g, s, *values)

    def _checked(self, grads) -> list:
        """The gradient of every parameter, in the order of ``params``, as an array of its dtype and shape."""
        if not isinstance(grads, dict):
            raise TypeError(f"grads: expected a dict name -> ndarray, got {type(grads).__name__}")
        out = []
        for name, x in self.params.items():
            try:
                g = grads[name]
            except KeyError:
                raise ValueError(f"grads: missing gradient for parameter {name!r} "
                                 f"(got keys {sorted(grads)})") from None
            if type(g) is not np.ndarray or (g.dtype is not x.dtype and g.dtype != x.dtype):
                g = as_float_array(g, f"grads[{name!r}]", dtype=x.dtype)
            if g.shape != x.shape:
                raise ValueError(f"grads[{name!r}]: expected the shape of params[{name!r}] {x.shape}, "
                                 f"got {g.shape}")
            out.append(g)
        return out

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.hyper().items())
        return f"{type(self).__name__}({args})"


def _optimizer_class(rule: Rule):
    doc = (f"{rule.doc}\n    Parameters\n    ----------\n    params : dict[str, ndarray]\n"
           f"        Arrays updated in place by :meth:`step`.\n"
           + "".join(f"    {k} : {h.kind}" + ("" if h.default is None else f", default {h.default!r}")
                     + f"\n        {h.doc}\n" for k, h in rule.hyper.items()))
    cls = type(rule.cls, (Optimizer,), {"rule": rule, "__doc__": doc, "__module__": __name__})
    init = cls.__init__

    def __init__(self, params, *args, **hyper):
        init(self, params, *args, **hyper)

    __init__.__signature__ = _signature(rule, ("self", "params")).replace(parameters=[
        p.replace(kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for p in _signature(rule, ("self", "params")).parameters.values()])
    cls.__init__ = __init__
    return cls


for _rule in DECLARATIONS.values():
    if _rule.cls not in globals():                  # presets ("momentum", "nesterov") share SGD
        globals()[_rule.cls] = _optimizer_class(_rule)
        __all__.append(_rule.cls)
del _name, _rule
