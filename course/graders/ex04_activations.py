"""Trusted grader of ex04_activations: activations with their derivatives, a 2-layer forward pass, collapse.

Every activation part returns ``(f(z), f'(z))``; both are compared with nnkit.activations (itself
checked against finite differences and PyTorch in nnkit's tests). Inputs are fresh random arrays of
random shape, including exact zeros (the kink convention of ReLU/leaky ReLU) and saturated values.
"""

from __future__ import annotations

import numpy as np

from nnkit import activations as act
from nnkit.course.spec import Case, Environment, Part, close_to

# The sandbox holds nothing of nnkit while this is graded: the activations are what it grades.
ENVIRONMENT = Environment()


def _shape(rng, max_ndim=3):
    return tuple(int(n) for n in rng.integers(1, 6, size=int(rng.integers(1, max_ndim + 1))))


def _z_cases(rng, *, kinks=False, extreme=50.0):
    """Random arrays of random shape; optionally with exact zeros, plus a saturated one and a scalar."""
    cases = []
    for scale in (1.0, 4.0):
        shape = _shape(rng)
        z = rng.normal(scale=scale, size=shape)
        if kinks:
            z = np.round(z, 1)
            z.flat[rng.integers(z.size)] = 0.0
        cases.append(Case((z,), label=f"z of shape {shape} (scale {scale})"))
    z = rng.uniform(extreme / 2, extreme, size=(int(rng.integers(2, 6)),)) * rng.choice([-1.0, 1.0], size=1)
    z = np.concatenate([z, -z])
    cases.append(Case((z,), label=f"large |z| up to {extreme:g} (saturation)"))
    cases.append(Case((np.array(float(rng.normal())),), label="a 0-d array (single number)"))
    return cases


def _pair(f, g):
    return lambda z, **kw: (f(z, **kw), g(z, **kw))


def _forbid(name: str) -> tuple[str, ...]:
    return (f"nnkit.activations.{name}", f"nnkit.activations.{name}_grad", "nnkit.activations.get",
            f"nnkit.functional.{name}_forward", f"nnkit.functional.{name}_backward",
            "nnkit.functional.activation_forward")


def _sigmoid_cases(rng):
    return _z_cases(rng, extreme=800.0)


def _leaky_cases(rng):
    cases = []
    for c in _z_cases(rng, kinks=True):
        slope = float(np.round(rng.uniform(0.01, 0.5), 3))
        cases.append(Case(c.args, {"slope": slope}, label=f"{c.label}, slope={slope}"))
    cases.append(Case((np.array([-3.0, 0.0, 2.0]),), label="default slope (0.1, as in the lectures)"))
    return cases


def _leaky_ref(z, slope=0.1):
    return act.leaky_relu(z, slope=slope), act.leaky_relu_grad(z, slope=slope)


def _mlp_cases(rng):
    cases = []
    for n, d, h, c in [(int(rng.integers(1, 9)), int(rng.integers(1, 6)), int(rng.integers(1, 8)),
                        int(rng.integers(1, 4))) for _ in range(3)] + [(4, 2, 2, 1)]:
        arrays = [rng.normal(size=s) for s in [(n, d), (d, h), (h,), (h, c), (c,)]]
        cases.append(Case(tuple(arrays), label=f"a {d}-{h}-{c} network on a batch of {n}"))
    return cases


def _mlp_ref(X, W1, b1, W2, b2):
    return act.relu(X @ W1 + b1) @ W2 + b2


def _collapse_cases(rng):
    cases = []
    for _ in range(3):
        d, h, c = (int(v) for v in rng.integers(1, 7, size=3))
        arrays = [rng.normal(size=s) for s in [(d, h), (h,), (h, c), (c,)]]
        cases.append(Case(tuple(arrays), label=f"a {d}-{h}-{c} linear stack"))
    return cases


def _collapse_ref(W1, b1, W2, b2):
    return W1 @ W2, b1 @ W2 + b2


PARTS = [
    Part("test_sigmoid", "sigmoid", _sigmoid_cases, close_to(_pair(act.sigmoid, act.sigmoid_grad)),
         forbidden=_forbid("sigmoid"), description="sigmoid and its derivative σ(1-σ), stable for large |z|"),
    Part("test_tanh", "tanh", _z_cases, close_to(_pair(act.tanh, act.tanh_grad)),
         forbidden=_forbid("tanh"), description="tanh and its derivative 1 - tanh²"),
    Part("test_relu", "relu", lambda rng: _z_cases(rng, kinks=True), close_to(_pair(act.relu, act.relu_grad)),
         forbidden=_forbid("relu"), description="ReLU and its derivative 1[z > 0]"),
    Part("test_leaky_relu", "leaky_relu", _leaky_cases, close_to(_leaky_ref),
         forbidden=_forbid("leaky_relu"),
         description="leaky ReLU (slope parameter, default 0.1) and its derivative"),
    Part("test_gaussian", "gaussian", _z_cases, close_to(_pair(act.gaussian, act.gaussian_grad)),
         forbidden=_forbid("gaussian"), description="Gaussian exp(-z²/2) and its derivative -z·exp(-z²/2)"),
    Part("test_mlp_forward", "mlp_forward", _mlp_cases, close_to(_mlp_ref),
         description="2-layer forward pass relu(X W1 + b1) W2 + b2"),
    Part("test_collapse_linear", "collapse_linear", _collapse_cases, close_to(_collapse_ref),
         description="two linear layers as one: W = W1 W2, b = b1 W2 + b2"),
]
