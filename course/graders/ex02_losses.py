"""Trusted grader for ex02_losses: L1, L2, hinge, 0-1, stable softmax, softmax cross-entropy.

Every part is compared with nnkit's own implementation on freshly drawn inputs of random shape,
including a batch of one, float32 inputs and (for the softmax parts) scores of magnitude 1e4.
The student's mae/mse/hinge/zero_one return only the loss, so the reference keeps item 0 of nnkit's
``(loss, grad)``.
"""

from __future__ import annotations

import copy

import numpy as np

from nnkit import activations, losses
from nnkit.course.spec import Case, Environment, Part
from nnkit.grading import compare

# The sandbox holds nothing of nnkit while this is graded: the losses and softmax are what it grades.
ENVIRONMENT = Environment()


def _matches(reference):
    """Compare with ``reference(*args)``; tolerances per case from ``case.context`` (float32 is looser)."""
    def check(case: Case, got):
        expected = reference(*copy.deepcopy(case.args), **copy.deepcopy(case.kwargs))
        return compare(got, expected, rtol=case.context.get("rtol", 1e-6),
                       atol=case.context.get("atol", 1e-8))
    return check


F32 = {"rtol": 1e-4, "atol": 1e-6}


def _pair_cases(rng):
    n, k = int(rng.integers(2, 9)), int(rng.integers(2, 6))
    p32, t32 = rng.normal(size=(n, k)).astype(np.float32), rng.normal(size=(n, k)).astype(np.float32)
    same = rng.normal(size=n)
    target = same.copy()
    target[: n // 2] += rng.normal(size=n // 2)
    return [
        Case((rng.normal(size=n), rng.normal(size=n)), label=f"a vector of {n} predictions"),
        Case((rng.normal(size=(n, k)) * 3, rng.normal(size=(n, k))),
             label=f"a ({n}, {k}) batch (mean over all)"),
        Case((rng.normal(size=(1, 1)), rng.normal(size=(1, 1))), label="a batch of one"),
        Case((same, target), label="some predictions exactly right"),
        Case((p32, t32), label=f"float32 ({n}, {k}) arrays", context=F32),
    ]


def _hinge_cases(rng):
    n = int(rng.integers(3, 12))
    y = rng.choice([-1, 1], size=n)
    on_margin = y * 1.0
    on_margin[0] = -on_margin[0]
    return [
        Case((rng.normal(size=n) * 2, y), label=f"{n} random scores"),
        Case((on_margin, y), label="scores with margins exactly 1 (cost 0) and -1 (cost 2)"),
        Case((rng.normal(size=1), rng.choice([-1, 1], size=1)), label="a batch of one"),
        Case((rng.normal(size=n).astype(np.float32), y), label="float32 scores", context=F32),
    ]


def _zero_one_cases(rng):
    n, c = int(rng.integers(3, 15)), int(rng.integers(2, 7))
    s = rng.normal(size=(n, c))
    return [
        Case((s, rng.integers(0, c, size=n)), label=f"({n}, {c}) random scores"),
        Case((s, s.argmax(axis=1)), label="every prediction right"),
        Case((rng.normal(size=(1, c)), rng.integers(0, c, size=1)), label="a batch of one"),
    ]


def _softmax_cases(rng):
    n, c = int(rng.integers(2, 9)), int(rng.integers(2, 8))
    return [
        Case((rng.normal(size=(n, c)) * 3,), label=f"({n}, {c}) scores of order 1"),
        Case((rng.normal(size=(n, c)) * 1e4,), label=f"({n}, {c}) scores of magnitude 1e4"),
        Case((rng.normal(size=(1, c)) - 800.0,), label="one row of scores around -800"),
        Case((rng.normal(size=(n, c)).astype(np.float32),), label="float32 scores", context=F32),
    ]


def _ce_cases(rng):
    n, c = int(rng.integers(2, 9)), int(rng.integers(2, 8))
    return [
        Case((rng.normal(size=(n, c)) * 2, rng.integers(0, c, size=n)), label=f"({n}, {c}) scores"),
        Case((rng.normal(size=(n, c)) * 1e4, rng.integers(0, c, size=n)),
             label=f"({n}, {c}) scores of magnitude 1e4 (loss must be finite)"),
        Case((rng.normal(size=(1, c)), rng.integers(0, c, size=1)), label="a batch of one"),
        Case((rng.normal(size=(n, c)).astype(np.float32), rng.integers(0, c, size=n)),
             label="float32 scores", context=F32),
    ]


PARTS = [
    Part("test_mae", "mae", _pair_cases, _matches(lambda p, t: losses.mae(p, t)[0]),
         forbidden=(("nnkit.losses.mae",)), description="L1 loss (mean absolute error)"),
    Part("test_mse", "mse", _pair_cases, _matches(lambda p, t: losses.mse(p, t)[0]),
         forbidden=(("nnkit.losses.mse",)), description="L2 loss (mean squared error)"),
    Part("test_hinge", "hinge", _hinge_cases, _matches(lambda s, y: losses.hinge(s, y)[0]),
         forbidden=(("nnkit.losses.hinge",)), description="binary hinge loss"),
    Part("test_zero_one", "zero_one", _zero_one_cases, _matches(lambda s, y: losses.zero_one(s, y)[0]),
         forbidden=(("nnkit.losses.zero_one",)), description="0-1 loss (error rate)"),
    Part("test_softmax", "softmax", _softmax_cases, _matches(lambda s: activations.softmax(s, axis=1)),
         forbidden=(("nnkit.activations.softmax", "nnkit.activations.log_softmax",
                               "nnkit.functional.softmax_forward")),
         description="numerically stable softmax"),
    Part("test_softmax_cross_entropy", "softmax_cross_entropy", _ce_cases,
         _matches(losses.softmax_cross_entropy),
         forbidden=(("nnkit.losses.softmax_cross_entropy",)),
         description="softmax cross-entropy: loss and gradient"),
]
