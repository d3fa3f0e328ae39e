"""Helpers shared by the oracle and gradient-check tests of the numerical core.

PyTorch is imported here (tests only; nnkit itself never imports torch). Inputs for finite-difference
checks are drawn *away from* kinks and from zero so that ``rel_error < 1e-7`` measures the code, not
the rounding of a near-zero derivative.
"""

import numpy as np
import torch
from hypothesis import assume, settings

# Property tests: modest and deterministic (the same examples on every machine and in CI).
PROPERTY = settings(max_examples=25, deadline=None, derandomize=True)

TOL_FD = 1e-7       # finite differences vs backprop, float64
TOL_TORCH = 1e-10   # nnkit vs torch autograd, float64


def tt(a, grad=True):
    """A float64 torch tensor copying ``a`` (requires_grad by default)."""
    return torch.tensor(np.asarray(a, dtype=np.float64), dtype=torch.float64, requires_grad=grad)


def tn(t):
    """A torch tensor (or its .grad) back to a float64 ndarray."""
    return t.detach().numpy().astype(np.float64)


def away(rng, shape, lo=0.2, hi=3.0):
    """Random values with random signs and magnitudes in [lo, hi]: away from 0 and from kinks."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(lo, hi, size=shape)


def assert_close(mine, theirs, tol=TOL_TORCH, what=""):
    """``max|mine - theirs| <= tol * max(1, |theirs|)``, with a readable mine-vs-theirs diff."""
    mine = np.asarray(mine, dtype=np.float64)
    theirs = np.asarray(theirs, dtype=np.float64)
    assert mine.shape == theirs.shape, f"{what}: shape mine {mine.shape} vs theirs {theirs.shape}"
    err = np.abs(mine - theirs) / np.maximum(1.0, np.abs(theirs))
    assert err.max(initial=0.0) <= tol, (
        f"{what}: max relative difference {err.max():.3g} > {tol:g}\nmine:\n{mine}\ntheirs:\n{theirs}")


def assume_resolvable(*numeric, floor=1e-3):
    """Skip a generated example whose *true* (finite-difference) gradient has an entry below ``floor``.

    A sum that happens to cancel to ~1e-4 is measured with the same absolute finite-difference noise
    (~1e-11) as everything else, which is a large *relative* error there: like a kink, such a point says
    nothing about the code. The filter looks at the oracle's numbers, never at the code under test.
    """
    smallest = min(float(np.abs(g[g != 0]).min(initial=np.inf)) for g in numeric)  # exact zeros are exact
    assume(smallest > floor)


# PyTorch's version of every activation nnkit declares (nnkit.activations.DECLARATIONS): the oracle of
# the value, the derivative, the functional pair, the layer, the autograd op and the MLP. A new declared
# activation fails tests/test_activations.py::test_every_declared_activation_has_an_oracle until it is
# added here. Values: (torch function of a float64 tensor, nnkit keyword parameters).
_F = torch.nn.functional
TORCH_ACTIVATIONS = {
    "step": (lambda z: (torch.sign(z) + 1) / 2, {}),       # = 1[z > 0] away from 0, zero gradient
    "sign": (torch.sign, {}),
    "sigmoid": (torch.sigmoid, {}),
    "tanh": (torch.tanh, {}),
    "relu": (torch.relu, {}),
    "leaky_relu": (lambda z: _F.leaky_relu(z, 0.01), {}),
    "elu": (_F.elu, {}),
    "gelu": (lambda z: _F.gelu(z, approximate="tanh"), {}),
    "gaussian": (lambda z: torch.exp(-z * z / 2), {}),
    "linear": (lambda z: z * 1, {}),
}
# the same with non-default parameters, keyed "<name>_<value>"
TORCH_ACTIVATIONS_WITH_PARAMS = {
    "leaky_relu_0.1": (lambda z: _F.leaky_relu(z, 0.1), {"slope": 0.1}),
    "elu_0.5": (lambda z: _F.elu(z, 0.5), {"alpha": 0.5}),
}


def activation_case(key):
    """(nnkit name, torch function, nnkit kwargs) for a key of either table above."""
    if key in TORCH_ACTIVATIONS:
        fn, kw = TORCH_ACTIVATIONS[key]
        return key, fn, kw
    fn, kw = TORCH_ACTIVATIONS_WITH_PARAMS[key]
    return key.rsplit("_", 1)[0], fn, kw


ACTIVATION_CASES = list(TORCH_ACTIVATIONS) + list(TORCH_ACTIVATIONS_WITH_PARAMS)
