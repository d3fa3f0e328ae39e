r"""Activation functions and their derivatives, the non-linearities of the course, each declared once.

An activation is one :class:`Declaration` in the table below: the function ``f(z)`` and its derivative
``f'(z)`` as two small numpy kernels, the formulas, the parameters it takes (with their defaults and
allowed ranges) and the initialization it wants. Everything else is derived from that one entry:

* here: ``NAMES``, the public ``relu(z)`` / ``relu_grad(z)`` pair (validated, any shape, float32 kept)
  and :func:`get`, which turns a name into an :class:`Activation` value;
* :mod:`nnkit.functional`: the pair ``relu_forward(x) -> (out, cache)`` / ``relu_backward(dout, cache)``;
* :mod:`nnkit.layers`: the layer class (``ReLU``) and the initialization of :class:`~nnkit.layers.Dense`;
* :mod:`nnkit.autograd`: the op ``Tensor.relu()``;
* :data:`TRAINABLE`, the names a widget may offer as hidden activations (its choices are a selection of it).

Backpropagation through an activation is ``dz = dh * f'(z)`` (lecture notation ``δ = σ'(z) ⊙ ...``); a
derivative kernel receives both ``z`` and ``h = f(z)`` because some derivatives are cheapest in terms of
the output (:math:`\sigma' = \sigma(1-\sigma)`, :math:`\tanh' = 1 - \tanh^2`).

Adding an activation is one :func:`declare` call below plus its oracle tests (tests/test_activations.py
runs every declared activation against finite differences and PyTorch).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from nnkit._validate import NameTable, as_float_array, as_number, check_finite

# + "<name>" and "<name>_grad" for every declared activation, added below
__all__ = ["NAMES", "TRAINABLE", "DECLARATIONS", "Declaration", "Param", "Activation", "declare", "get",
           "check_name", "check_kwargs", "bind", "softmax", "log_softmax"]


def _as_float(x, name: str, ndim=None) -> np.ndarray:
    """:func:`nnkit._validate.as_float_array` with a fast path for float32/float64 ndarrays.

    Same checks and messages; an array that is already float skips the dtype inspection and only gets
    the NaN/inf scan.
    """
    if type(x) is np.ndarray and x.dtype.char in "fd":
        if ndim is not None and x.ndim not in ((ndim,) if isinstance(ndim, int) else ndim):
            return as_float_array(x, name, ndim=ndim)          # raises with the standard message
        check_finite(x, name)
        return x
    return as_float_array(x, name, ndim=ndim)


def _z(z, name: str = "z") -> np.ndarray:
    return _as_float(z, name)


def _class_axis(z, axis, name: str = "z") -> int:
    """Check that ``axis`` of ``z`` is a non-empty axis to normalize over (softmax needs classes)."""
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"axis: expected an int, got {type(axis).__name__}")
    if z.ndim == 0:
        raise ValueError(f"{name}: expected scores with a class axis (e.g. shape (N, C) or (C,)), "
                         f"got a scalar {z}")
    if not -z.ndim <= axis < z.ndim:
        raise ValueError(f"axis: expected an int in [{-z.ndim}, {z.ndim}) for {name} of shape {z.shape}, "
                         f"got {axis}")
    if z.shape[axis] == 0:
        raise ValueError(f"{name}: the class axis {axis} is empty (shape {z.shape}); a softmax needs at "
                         "least one class")
    return int(axis)


# --------------------------------------------------------------------------- the declaration

@dataclass(frozen=True)
class Param:
    """A declared parameter of an activation: its default and the closed range ``[low, high]`` it lives in."""

    default: float
    low: float = -math.inf
    high: float = math.inf
    doc: str = ""

    def check(self, name: str, value) -> float:
        """``value`` as a Python float, or a TypeError/ValueError naming ``name`` and the allowed range."""
        v = as_number(value, name)
        if not math.isfinite(v):
            raise ValueError(f"{name}: expected a finite number, got {value!r}")
        if not self.low <= v <= self.high:
            raise ValueError(f"{name}: expected a value in [{self.low}, {self.high}], got {value!r}")
        return v


@dataclass(frozen=True)
class Declaration:
    r"""Everything nnkit knows about one activation; every other table is derived from these.

    Attributes
    ----------
    name : str
        The name users pass (``activation="relu"``).
    layer : str
        Name of the layer class generated in :mod:`nnkit.layers` (``"ReLU"``).
    f : callable ``f(z, **params) -> h``
        Kernel of the function on a float array (no validation), same shape and dtype.
    df : callable ``df(z, h, **params) -> f'(z)``
        Kernel of the derivative; may return booleans (they multiply like 0/1).
    summary : str
        One line for the docstrings.
    formula, dformula : str
        LaTeX of ``f`` and ``f'`` for the docstrings.
    params : dict name -> Param
        Keyword parameters (``slope`` of leaky ReLU), validated by :func:`check_kwargs`.
    init : "he" or "glorot"
        How :class:`nnkit.layers.Dense` draws the weights of a layer that feeds this activation.
    trainable : bool
        False when the derivative is zero almost everywhere (step, sign): gradient descent cannot train it.
    uses_z : bool
        False when ``df`` reads only ``h`` (it is then called with ``z=None`` by the layers): a network
        keeps no copy of ``z`` for its backward pass, one activation-sized array less per layer.
    """

    name: str
    layer: str
    f: Callable
    df: Callable
    summary: str
    formula: str
    dformula: str
    params: dict = field(default_factory=dict)
    init: str = "glorot"
    trainable: bool = True
    uses_z: bool = True


#: name -> Declaration, in the order of the course
DECLARATIONS: dict[str, Declaration] = NameTable("activation")


def declare(name, *, layer, f, df, summary, formula, dformula, params=None, init="glorot",
            trainable=True, uses_z=True) -> Declaration:
    """Add an activation to :data:`DECLARATIONS` (see :class:`Declaration` for the fields)."""
    if name in DECLARATIONS:
        raise ValueError(f"activation {name!r} is declared twice")
    if init not in ("he", "glorot"):
        raise ValueError(f"init: expected 'he' or 'glorot', got {init!r}")
    decl = Declaration(name, layer, f, df, summary, formula, dformula, dict(params or {}), init, trainable,
                       uses_z)
    DECLARATIONS[name] = decl
    return decl


# --------------------------------------------------------------------------- the activations

def _sigmoid(z):
    """The stable logistic sigmoid (the only copy in nnkit; losses and autograd use it)."""
    # exp(-|z|) never overflows; σ(z) = 1/(1+e) for z >= 0 and e/(1+e) for z < 0.
    e = np.exp(-np.abs(z))
    r = 1 / (1 + e)
    return np.where(z >= 0, r, e * r)


declare("step", layer="Step", trainable=False,
        f=lambda z: (z > 0).astype(z.dtype),
        df=lambda z, h: np.zeros_like(z),
        summary="Heaviside step, the perceptron's threshold unit (zero derivative: not trainable).",
        formula=r"\mathrm{step}(z) = 1 \text{ if } z > 0 \text{ else } 0",
        dformula=r"\mathrm{step}'(z) = 0 \text{ (undefined at 0; taken as 0)}")
declare("sign", layer="Sign", trainable=False,
        f=lambda z: np.where(z >= 0, 1, -1).astype(z.dtype),
        df=lambda z, h: np.zeros_like(z),
        summary="Sign unit with values ±1, the binary perceptron's output (zero derivative).",
        formula=r"\mathrm{sign}(z) = +1 \text{ if } z \ge 0 \text{ else } -1",
        dformula=r"\mathrm{sign}'(z) = 0 \text{ (undefined at 0; taken as 0)}")
declare("sigmoid", layer="Sigmoid", uses_z=False,
        f=_sigmoid,
        df=lambda z, h: h * (1 - h),
        summary="Logistic sigmoid, computed without overflow for large |z|; values in (0, 1).",
        formula=r"\sigma(z) = \frac{1}{1 + e^{-z}}",
        dformula=r"\sigma'(z) = \sigma(z)\,(1 - \sigma(z)) \in (0, 1/4]")
declare("tanh", layer="Tanh", uses_z=False,
        f=np.tanh,
        df=lambda z, h: 1 - h * h,
        summary="Hyperbolic tangent; values in (-1, 1).",
        formula=r"\tanh(z) = \frac{e^{z} - e^{-z}}{e^{z} + e^{-z}} = 2\sigma(2z) - 1",
        dformula=r"\tanh'(z) = 1 - \tanh^2(z)")
declare("relu", layer="ReLU", init="he", uses_z=False,
        f=lambda z: np.maximum(z, 0),
        df=lambda z, h: h > 0,                           # h > 0 exactly where z > 0
        summary="Rectified linear unit (derivative 0 at the kink z = 0, as in PyTorch).",
        formula=r"\mathrm{relu}(z) = \max(0, z)",
        dformula=r"\mathrm{relu}'(z) = \mathbb{1}[z > 0]")
declare("leaky_relu", layer="LeakyReLU", init="he",
        params={"slope": Param(0.01, doc="the slope a on the negative side (the lectures use 0.1)")},
        f=lambda z, slope: np.where(z > 0, z, z * slope),
        df=lambda z, h, slope: np.where(z > 0, 1, slope).astype(z.dtype),
        summary="Leaky ReLU: slope ``slope`` for negative inputs (``slope`` at the kink, as in PyTorch).",
        formula=r"\mathrm{leaky}(z) = z \text{ if } z > 0 \text{ else } a z",
        dformula=r"\mathrm{leaky}'(z) = 1 \text{ if } z > 0 \text{ else } a")
declare("elu", layer="ELU", init="he", uses_z=False,
        params={"alpha": Param(1.0, low=0.0, doc="the value α the unit saturates to, -α, for z → -∞")},
        # expm1 of min(z, 0): the unused branch of np.where never overflows for large positive z
        f=lambda z, alpha: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0))),
        df=lambda z, h, alpha: np.where(h > 0, 1, h + alpha).astype(h.dtype),   # h > 0 where z > 0
        summary="Exponential linear unit (Clevert et al. 2016): ReLU's slope 1 for z > 0, a smooth "
                "saturation to -α below (derivative α e^z, taken from below at 0, as in PyTorch).",
        formula=r"\mathrm{elu}(z) = z \text{ if } z > 0 \text{ else } \alpha (e^{z} - 1)",
        dformula=r"\mathrm{elu}'(z) = 1 \text{ if } z > 0 \text{ else } \alpha e^{z} "
                 r"= \mathrm{elu}(z) + \alpha")
_GELU_C, _GELU_A = math.sqrt(2 / math.pi), 0.044715


def _gelu_parts(z):
    """``(zc, tanh u)``, ``u = √(2/π)(zc + 0.044715 zc³)``, ``zc`` = z clipped to [-10, 10].

    From |z| = 10 on, u > 43 and tanh u is ±1 to the last bit in float32 and float64 alike, so the clip
    changes no value; it only keeps z³ from overflowing for huge inputs.
    """
    zc = np.clip(z, -10, 10)
    return zc, np.tanh(_GELU_C * (zc + _GELU_A * (zc * zc * zc)))


def _gelu(z):
    return 0.5 * z * (1 + _gelu_parts(z)[1])


def _gelu_grad(z, h):
    zc, t = _gelu_parts(z)
    return 0.5 * (1 + t) + (0.5 * _GELU_C) * zc * (1 - t * t) * (1 + 3 * _GELU_A * (zc * zc))


declare("gelu", layer="GELU", init="he",
        f=_gelu, df=_gelu_grad,
        summary="Gaussian error linear unit (Hendrycks and Gimpel 2016) in its tanh form (GPT-2, BERT; "
                "PyTorch's gelu(approximate='tanh')): z weighted by a smooth step, ≈ z Φ(z).",
        formula=r"\mathrm{gelu}(z) = \tfrac12 z \left(1 + \tanh u\right), \quad "
                r"u = \sqrt{2/\pi}\,(z + 0.044715 z^3)",
        dformula=r"\mathrm{gelu}'(z) = \tfrac12 (1 + \tanh u) + \tfrac12 z (1 - \tanh^2 u)\,"
                 r"\sqrt{2/\pi}\,(1 + 3 \cdot 0.044715 z^2)")
declare("gaussian", layer="Gaussian",
        f=lambda z: np.exp(-0.5 * z * z),
        df=lambda z, h: -z * h,
        summary="Gaussian bump activation; values in (0, 1].",
        formula=r"g(z) = e^{-z^2/2}",
        dformula=r"g'(z) = -z\, e^{-z^2/2} = -z\, g(z)")
declare("linear", layer="Identity",
        f=lambda z: z.copy(),
        df=lambda z, h: np.ones_like(z),
        summary="Identity activation (a linear output unit, e.g. for regression); returns a copy.",
        formula=r"f(z) = z",
        dformula=r"f'(z) = 1")

#: the activation names, in the order of the course (derived from :data:`DECLARATIONS`)
NAMES = tuple(DECLARATIONS)
#: the names gradient descent can train (a derivative that is not zero almost everywhere): the hidden
#: activations a network or a widget may offer
TRAINABLE = tuple(name for name, decl in DECLARATIONS.items() if decl.trainable)


# --------------------------------------------------------------------------- checks

def check_name(name) -> str:
    """Return ``name`` if it is a declared activation name, else raise a ValueError listing ``NAMES``."""
    if not isinstance(name, str):
        raise TypeError(f"activation: expected a name (str), got {type(name).__name__}; "
                        f"valid names are {', '.join(NAMES)}")
    if name not in DECLARATIONS:
        raise ValueError(f"activation: unknown name {name!r}; valid names are {', '.join(NAMES)}")
    return name


def check_kwargs(name: str, kw: dict) -> dict:
    """The parameters of activation ``name``: declared defaults, overridden by ``kw`` (each range-checked).

    A name the declaration does not list is a TypeError naming the parameters it takes.
    """
    declared = DECLARATIONS[check_name(name)].params
    unknown = sorted(set(kw) - set(declared))
    if unknown:
        takes = f"takes {', '.join(declared)}" if declared else "takes no parameters"
        raise TypeError(f"activation {name!r} {takes}, got {', '.join(unknown)}")
    return {k: p.check(k, kw[k]) if k in kw else p.default for k, p in declared.items()}


# --------------------------------------------------------------------------- derived public functions

def bind(name: str, args: tuple, kw: dict) -> dict:
    """The parameters of ``name`` from positional ``args`` (in declared order) and keywords, checked."""
    order = tuple(DECLARATIONS[check_name(name)].params)
    if len(args) > len(order):
        takes = f"takes {', '.join(order)}" if order else "takes no parameters"
        raise TypeError(f"activation {name!r} {takes}, got {len(args)} positional values")
    for k in order[:len(args)]:
        if k in kw:
            raise TypeError(f"activation {name!r}: {k} given twice")
    return check_kwargs(name, {**dict(zip(order, args)), **kw})


def _public_pair(decl: Declaration):
    """The validated ``f(z, *params)`` and ``f_grad(z, *params)`` of a declaration, with docstrings."""
    import inspect

    f, df, name = decl.f, decl.df, decl.name

    def forward(z, *args, **kw):
        return f(_z(z), **bind(name, args, kw))

    def grad(z, *args, **kw):
        kw = bind(name, args, kw)
        z = _z(z)
        return np.asarray(df(z, f(z, **kw), **kw)).astype(z.dtype, copy=False)

    params = "".join(f"\n{k} : float, default {p.default}\n    {p.doc}" for k, p in decl.params.items())
    head = f"Parameters\n----------\nz : array_like, any shape{params}\n\nReturns\n-------\n" \
           "ndarray, same shape and float dtype as ``z``\n"
    signature = inspect.Signature(
        [inspect.Parameter("z", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(k, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=p.default)
           for k, p in decl.params.items()])
    for fn, fn_name, doc in ((forward, name, f"{decl.summary}\n\n.. math:: {decl.formula}\n\n{head}"),
                             (grad, f"{name}_grad", f"Derivative of :func:`{name}`, elementwise.\n\n"
                                                    f".. math:: {decl.dformula}\n\n{head}")):
        fn.__name__ = fn.__qualname__ = fn_name
        fn.__doc__, fn.__module__, fn.__signature__ = doc, __name__, signature
    return forward, grad


for _decl in DECLARATIONS.values():
    globals()[_decl.name], globals()[f"{_decl.name}_grad"] = _public_pair(_decl)
    __all__ += [_decl.name, f"{_decl.name}_grad"]
del _decl


# --------------------------------------------------------------------------- softmax (not elementwise)

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
    return _softmax(z, _class_axis(z, axis))


def _softmax(z, axis):
    """The kernel of :func:`softmax` on a checked float array and axis."""
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
    axis = _class_axis(z, axis)
    shifted = z - z.max(axis=axis, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


# --------------------------------------------------------------------------- lookup by name

@dataclass(frozen=True)
class Activation:
    """An activation as a value: its ``name``, ``forward(z)`` and derivative ``grad(z)``, parameters bound.

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


def get(name: str, **kw) -> Activation:
    """Look up an activation by name.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.
    **kw
        Parameters of the activation as declared (``slope`` for "leaky_relu", ``alpha`` for "elu").

    Returns
    -------
    Activation
        Its ``params`` are the parameters given explicitly (the declared defaults apply to the rest).

    Raises
    ------
    ValueError
        Unknown name (the message lists the valid names) or a parameter out of its range.
    TypeError
        A parameter the activation does not take.
    """
    check_name(name)
    given = {k: v for k, v in check_kwargs(name, kw).items() if k in kw}
    fwd, grad = globals()[name], globals()[f"{name}_grad"]
    if given:
        fwd, grad = partial(fwd, **given), partial(grad, **given)
    return Activation(name, fwd, grad, tuple(sorted(given.items())))
