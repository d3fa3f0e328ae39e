"""Trusted grader of ex07_regularization: L2/L1 penalties, inverted dropout, weight decay, early stopping.

Penalties and dropout are compared with nnkit.functional; the dropout mask is fully specified by the
exercise (``np.random.default_rng(seed).random(x.shape) >= p``), so it is checked exactly. Early
stopping has no nnkit counterpart with this interface, so its reference is written here.
"""

from __future__ import annotations

import numpy as np

from nnkit import functional as F
from nnkit.course.spec import Case, Environment, Part, close_to, equal_to

# The sandbox holds nothing of nnkit while this is graded: penalties, dropout and SGD are what it grades.
ENVIRONMENT = Environment()


def _params(rng, *, zeros=False):
    n_layers = int(rng.integers(1, 4))
    sizes = [int(v) for v in rng.integers(1, 7, size=n_layers + 1)]
    params = {}
    for layer in range(1, n_layers + 1):
        W = rng.normal(scale=float(rng.uniform(0.1, 3.0)), size=(sizes[layer - 1], sizes[layer]))
        if zeros:
            W[rng.random(W.shape) < 0.3] = 0.0
        params[f"W{layer}"] = W
        params[f"b{layer}"] = rng.normal(size=(sizes[layer],))
    return params, "-".join(map(str, sizes))


def _penalty_cases(rng, *, zeros=False):
    cases = []
    for lam in (float(rng.uniform(1e-3, 1.0)), float(rng.uniform(1e-3, 0.1)), 0.0):
        params, sizes = _params(rng, zeros=zeros)
        cases.append(Case((params, lam), label=f"a {sizes} network's params, lam={lam:.4g}"))
    return cases


def _dropout_ref(x, p, seed, train=True):
    x = np.asarray(x, dtype=float)
    if not train:
        return x, np.ones(x.shape, dtype=bool)
    mask = np.random.default_rng(seed).random(x.shape) >= p
    return x * mask / (1 - p), mask


def _dropout_cases(rng):
    cases = []
    for p in (float(np.round(rng.uniform(0.05, 0.95), 2)), 0.5, 0.0):
        shape = tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 4))))
        seed = int(rng.integers(2**31))
        x = rng.normal(size=shape)
        cases.append(Case((x, p, seed), label=f"x of shape {shape}, p={p}, seed={seed}"))
    x = rng.normal(size=(int(rng.integers(1, 6)), int(rng.integers(1, 6))))
    cases.append(Case((x, 0.4, int(rng.integers(100))), {"train": False}, label="test mode (train=False)"))
    return cases


def _dropout_backward_ref(dout, mask, p):
    return dout * mask / (1 - p)


def _dropout_backward_cases(rng):
    cases = []
    for p in (float(np.round(rng.uniform(0.05, 0.95), 2)), 0.0):
        shape = tuple(int(v) for v in rng.integers(1, 9, size=int(rng.integers(1, 4))))
        dout = rng.normal(size=shape)
        mask = rng.random(shape) >= p
        cases.append(Case((dout, mask, p), label=f"dout of shape {shape}, p={p}"))
    return cases


def _decay_ref(W, dW, lr, lam):
    return (1 - lr * lam) * W - lr * dW


def _decay_cases(rng):
    cases = []
    for _ in range(3):
        shape = tuple(int(v) for v in rng.integers(1, 7, size=2))
        lr, lam = float(rng.uniform(1e-3, 0.5)), float(rng.choice([0.0, rng.uniform(1e-4, 1.0)]))
        cases.append(Case((rng.normal(size=shape), rng.normal(size=shape), lr, lam),
                          label=f"W of shape {shape}, lr={lr:.3g}, lam={lam:.3g}"))
    return cases


def early_stopping_reference(val_losses, patience):
    """(best_epoch, stop_epoch): stop at the first epoch ``patience`` epochs after the best so far."""
    best = 0
    for epoch in range(len(val_losses)):
        if val_losses[epoch] < val_losses[best]:
            best = epoch
        elif epoch - best >= patience:
            return best, epoch
    return best, len(val_losses) - 1


def _curve(rng, n):
    """A U-shaped validation curve with noise (and ties from rounding)."""
    t = np.arange(n)
    turn = rng.uniform(0.2, 0.8) * n
    loss = 1.0 / (1 + 0.3 * t) + 0.02 * np.maximum(t - turn, 0) + rng.normal(scale=0.03, size=n)
    return [float(v) for v in np.round(loss, 2)]


def _early_cases(rng):
    cases = []
    for _ in range(5):
        n, patience = int(rng.integers(5, 40)), int(rng.integers(1, 6))
        cases.append(Case((_curve(rng, n), patience), label=f"a noisy validation curve of {n} epochs, "
                                                              f"patience {patience}"))
    decreasing = [float(v) for v in np.sort(rng.uniform(0.1, 2.0, size=int(rng.integers(3, 10))))[::-1]]
    cases.append(Case((decreasing, int(rng.integers(1, 4))), label="an always improving curve"))
    flat = [float(rng.uniform(0.5, 1))] * int(rng.integers(3, 8))
    cases.append(Case((flat, 2), label="a flat curve (ties are no improvement)"))
    cases.append(Case(([float(rng.uniform())], 3), label="a single epoch"))
    return cases


PARTS = [
    Part("test_l2_penalty", "l2_penalty", _penalty_cases, close_to(F.l2_penalty),
         forbidden=("nnkit.functional.l2_penalty",),
         description="L2 penalty λ/2 Σ‖W‖² over the weights only, and its gradient λW (0 for biases)"),
    Part("test_l1_penalty", "l1_penalty", lambda rng: _penalty_cases(rng, zeros=True), close_to(F.l1_penalty),
         forbidden=("nnkit.functional.l1_penalty",),
         description="L1 penalty λ Σ|W| over the weights only, and its subgradient λ sign(W)"),
    Part("test_dropout_forward", "dropout_forward", _dropout_cases, close_to(_dropout_ref),
         forbidden=("nnkit.functional.dropout_forward",),
         description="inverted dropout forward: mask from default_rng(seed), scaling by 1/(1-p)"),
    Part("test_dropout_backward", "dropout_backward", _dropout_backward_cases,
         close_to(_dropout_backward_ref),
         forbidden=("nnkit.functional.dropout_backward",),
         description="inverted dropout backward: dout ⊙ mask / (1-p)"),
    Part("test_weight_decay_step", "weight_decay_step", _decay_cases, close_to(_decay_ref),
         forbidden=("nnkit.optim.sgd_step", "nnkit.optim.SGD", "nnkit.optim.RULES"),
         description="gradient step with weight decay (1 - ηλ)W - η dW"),
    Part("test_early_stopping", "early_stopping", _early_cases, equal_to(early_stopping_reference),
         description="early stopping: (best epoch, stop epoch) from validation losses and patience"),
]
