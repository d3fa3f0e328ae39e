"""Trusted grader of ex06_optimizers: momentum, Nesterov, AdaGrad, RMSProp and Adam as pure update rules.

The sandbox calls the student's rule once per case, so trajectories are graded step by step: the
grader runs nnkit.optim's rule for up to 40 steps on a fresh random quadratic from a random start
(random shape, curvatures and hyper-parameters), and the cases are points of that reference
trajectory: the first step (``state=None``), the second, and later steps resumed from the reference
state (Adam at large ``t``, where a wrong bias correction shows). Each case compares the new ``x``
and the new state (with the state keys the exercise prescribes) with nnkit.optim's, whose semantics are
checked against torch.optim in nnkit's tests.
"""

from __future__ import annotations

import numpy as np

from nnkit import optim
from nnkit.course.spec import Case, Environment, Part, close_to

# The sandbox holds nothing of nnkit while this is graded: the update rules are what it grades.
ENVIRONMENT = Environment()


def _momentum_ref(x, dx, state=None, *, lr=1e-2, momentum=0.9):
    return optim.sgd_step(x, dx, state, lr=lr, momentum=momentum)


def _nesterov_ref(x, dx, state=None, *, lr=1e-2, momentum=0.9):
    return optim.sgd_step(x, dx, state, lr=lr, momentum=momentum, nesterov=True)


def _adagrad_ref(x, dx, state=None, *, lr=1e-2, eps=1e-10):
    return optim.adagrad_step(x, dx, state, lr=lr, eps=eps)


def _rmsprop_ref(x, dx, state=None, *, lr=1e-2, decay=0.99, eps=1e-8):
    return optim.rmsprop_step(x, dx, state, lr=lr, decay=decay, eps=eps)


def _adam_ref(x, dx, state=None, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):
    return optim.adam_step(x, dx, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)


def _hyper(name, rng, big_eps=False):
    """Random hyper-parameters for a rule; ``big_eps`` makes a wrong placement of ε visible."""
    r = lambda lo, hi: float(np.round(rng.uniform(lo, hi), 4))  # noqa: E731
    eps = r(0.1, 1.0) if big_eps else float(rng.choice([1e-10, 1e-8, 1e-6]))
    if name in ("momentum", "nesterov"):
        return {"lr": r(0.005, 0.05), "momentum": r(0.5, 0.99)}
    if name == "adagrad":
        return {"lr": r(0.05, 1.0), "eps": eps}
    if name == "rmsprop":
        return {"lr": r(0.001, 0.05), "decay": r(0.8, 0.999), "eps": eps}
    return {"lr": r(0.001, 0.2), "beta1": r(0.5, 0.95), "beta2": r(0.9, 0.9999), "eps": eps}


def _trajectory_cases(name, reference, *, defaults=True):
    def cases(rng):
        out = []
        runs = [_hyper(name, rng), _hyper(name, rng, big_eps=True)] + ([{}] if defaults else [])
        for hyper in runs:
            shape = tuple(int(v) for v in rng.integers(1, 5, size=int(rng.integers(1, 3))))
            curvature = np.exp(rng.uniform(np.log(0.5), np.log(30.0), size=shape))
            x = rng.normal(scale=2.0, size=shape)
            n_steps = int(rng.integers(25, 41))
            picks = {0, 1, int(rng.integers(2, n_steps - 1)), n_steps - 1}
            state = None
            for step in range(n_steps):
                dx = curvature * x
                if step in picks:
                    desc = ", ".join(f"{k}={v:g}" for k, v in hyper.items()) or "default hyper-parameters"
                    how = "state=None" if state is None else "resumed state"
                    out.append(Case((x.copy(), dx.copy(), _copy(state)), dict(hyper),
                                    label=f"step {step + 1} of a run on a quadratic bowl, x of shape "
                                          f"{shape}, {desc} ({how})"))
                x, state = reference(x, dx, state, **hyper)
        return out
    return cases


def _copy(state):
    if state is None:
        return None
    return {k: (v.copy() if isinstance(v, np.ndarray) else int(v)) for k, v in state.items()}


_SGD = ("nnkit.optim.sgd_step", "nnkit.optim.SGD", "nnkit.optim.RULES")

PARTS = [
    Part("test_momentum_step", "momentum_step", _trajectory_cases("momentum", _momentum_ref),
         close_to(_momentum_ref), forbidden=_SGD,
         description="SGD with momentum v = ρv + g, x -= lr v (state {'v'})", keeps_inputs=True),
    Part("test_nesterov_step", "nesterov_step", _trajectory_cases("nesterov", _nesterov_ref),
         close_to(_nesterov_ref), forbidden=_SGD,
         description="Nesterov momentum v = ρv + g, x -= lr (g + ρv) (state {'v'})", keeps_inputs=True),
    Part("test_adagrad_step", "adagrad_step", _trajectory_cases("adagrad", _adagrad_ref),
         close_to(_adagrad_ref),
         forbidden=("nnkit.optim.adagrad_step", "nnkit.optim.AdaGrad", "nnkit.optim.RULES"),
         description="AdaGrad G += g², x -= lr g / (√G + ε) (state {'G'})", keeps_inputs=True),
    Part("test_rmsprop_step", "rmsprop_step", _trajectory_cases("rmsprop", _rmsprop_ref),
         close_to(_rmsprop_ref),
         forbidden=("nnkit.optim.rmsprop_step", "nnkit.optim.RMSProp", "nnkit.optim.RULES"),
         description="RMSProp v = decay v + (1-decay) g², x -= lr g / (√v + ε) (state {'v'})",
         keeps_inputs=True),
    Part("test_adam_step", "adam_step", _trajectory_cases("adam", _adam_ref),
         close_to(_adam_ref),
         forbidden=("nnkit.optim.adam_step", "nnkit.optim.Adam", "nnkit.optim.RULES"),
         description="Adam with bias correction (state {'t', 'm', 'v'})", keeps_inputs=True),
]
