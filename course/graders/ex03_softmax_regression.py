"""Trusted grader for ex03_softmax_regression: scores, gradient, one step, accuracy, training on digits.

scores / softmax_regression_grad / gradient_step / accuracy are compared with references built on
nnkit.losses.softmax_cross_entropy on fresh random inputs (random N, D, C; a batch of one; W = 0).
train_softmax_regression is checked on the process, not only the outcome: on small random problems one
full-batch epoch must be exactly one gradient step, lr = 0 must change nothing, the reported losses must
be those of the parameters, and mini-batches must be steps over some order of the rows. Then it is
trained on a fresh random stratified 75% of nnkit.data.load_digits(); the held-out 25% stays in
``case.context`` (never sent to the student), the trained W, b must reach 90% accuracy on it, and the
last reported loss must be the training loss of the returned W, b.
"""

from __future__ import annotations

import numpy as np

from nnkit.course.spec import Case, Environment, Part, close_to
from nnkit.data import load_digits, train_test_split
from nnkit.grading import compare
from nnkit.losses import softmax_cross_entropy

# What the sandbox holds of nnkit while this is graded: data helpers and the given softmax.
ENVIRONMENT = Environment(modules=("nnkit.data",), helpers=("nnkit.activations.softmax",))

MIN_ACCURACY = 0.90
EPOCHS = 20



def _ref_grad(X, W, b, y):
    loss, G = softmax_cross_entropy(X @ W + b, y)
    return loss, X.T @ G, G.sum(axis=0)


def _ref_step(X, y, W, b, lr):
    loss, dW, db = _ref_grad(X, W, b, y)
    return W - lr * dW, b - lr * db, loss


def _ref_accuracy(X, y, W, b):
    return float(np.mean(np.argmax(X @ W + b, axis=1) == y))


def _problem(rng, n=None, scale=1.0):
    n = int(rng.integers(2, 20)) if n is None else n
    d, c = int(rng.integers(1, 9)), int(rng.integers(2, 8))
    X = rng.normal(size=(n, d))
    return X, rng.normal(size=(d, c)) * scale, rng.normal(size=c), rng.integers(0, c, size=n)


def _scores_cases(rng):
    cases = []
    for n, label in ((None, "random batch"), (1, "a batch of one")):
        X, W, b, _ = _problem(rng, n)
        cases.append(Case((X, W, b), label=f"{label}: X {X.shape}, W {W.shape}"))
    return cases


def _grad_cases(rng):
    cases = []
    for n, scale, label in ((None, 1.0, "random batch"), (None, 3.0, "larger weights"),
                            (1, 1.0, "a batch of one")):
        X, W, b, y = _problem(rng, n, scale)
        cases.append(Case((X, W, b, y), label=f"{label}: X {X.shape}, W {W.shape}"))
    X, W, b, y = _problem(rng)
    cases.append(Case((X, np.zeros_like(W), np.zeros_like(b), y),
                      label="W = 0, b = 0 (uniform probabilities)"))
    return cases


def _step_cases(rng):
    cases = []
    for lr in (float(rng.uniform(0.05, 1.0)), 0.0):
        X, W, b, y = _problem(rng)
        cases.append(Case((X, y, W, b, lr), label=f"X {X.shape}, W {W.shape}, lr = {lr:.3g}"))
    return cases


def _accuracy_cases(rng):
    cases = []
    for n in (int(rng.integers(10, 40)), 1):
        X, W, b, y = _problem(rng, n)
        cases.append(Case((X, y, W, b), label=f"X {X.shape}, W {W.shape}"))
    X, W, b, _ = _problem(rng)
    cases.append(Case((X, np.argmax(X @ W + b, axis=1), W, b), label="every prediction right"))
    return cases


# ------------------------------------------------------------------ Part 5: the training process
# Final accuracy alone can be faked (a closed-form fit with an invented falling loss curve), so the
# trainer is also checked on what mini-batch gradient descent must do, on small random problems:
#   one full-batch epoch is exactly one gradient step from W = 0, b = 0;
#   lr = 0 changes nothing, and every reported loss is then the loss at zero, log C;
#   k full-batch epochs are k steps, and losses[e] is the loss of the parameters epoch e started from;
#   mini-batches: one epoch of batches of 2 over 3 rows is two steps in SOME order of the rows.
# and on the digits: held-out accuracy, and a last reported loss that is the loss of the returned W, b.

def _full_batch_run(X, y, n_classes, lr, epochs):
    W, b = np.zeros((X.shape[1], n_classes)), np.zeros(n_classes)
    losses = []
    for _ in range(epochs):
        W, b, loss = _ref_step(X, y, W, b, lr)
        losses.append(float(loss))
    return W, b, losses


def _minibatch_runs(X, y, n_classes, lr, batch_size):
    """Every one-epoch result of mini-batch descent, one per order of the rows."""
    import itertools

    runs = []
    for order in itertools.permutations(range(len(y))):
        order = np.array(order)
        W, b = np.zeros((X.shape[1], n_classes)), np.zeros(n_classes)
        batch_losses = []
        for start in range(0, len(y), batch_size):
            idx = order[start:start + batch_size]
            W, b, loss = _ref_step(X[idx], y[idx], W, b, lr)
            batch_losses.append(float(loss))
        runs.append((W, b, [float(np.mean(batch_losses))]))
    return runs


def _small(rng, n):
    d, c = int(rng.integers(2, 6)), int(rng.integers(2, 5))
    return rng.normal(size=(n, d)), rng.integers(0, c, size=n), c


def _train_cases(rng):
    cases = []
    X, y, c = _small(rng, int(rng.integers(4, 12)))
    lr = float(np.round(rng.uniform(0.1, 1.0), 3))
    cases.append(Case((X, y, c), {"lr": lr, "epochs": 1, "batch_size": len(y) + int(rng.integers(0, 5)),
                                  "seed": int(rng.integers(1000))},
                      label=f"one epoch of one full batch ({len(y)} rows, lr={lr}): exactly one step",
                      context={"kind": "exact", "runs": [_full_batch_run(X, y, c, lr, 1)]}))
    X, y, c = _small(rng, int(rng.integers(4, 12)))
    epochs = int(rng.integers(2, 5))
    cases.append(Case((X, y, c), {"lr": 0.0, "epochs": epochs, "batch_size": 2, "seed": 1},
                      label=f"lr = 0 for {epochs} epochs: nothing changes, every loss is log C",
                      context={"kind": "exact", "runs": [_full_batch_run(X, y, c, 0.0, epochs)]}))
    X, y, c = _small(rng, int(rng.integers(4, 12)))
    epochs, lr = int(rng.integers(3, 6)), float(np.round(rng.uniform(0.1, 1.0), 3))
    cases.append(Case((X, y, c), {"lr": lr, "epochs": epochs, "batch_size": len(y), "seed": 2},
                      label=f"{epochs} full-batch epochs (lr={lr}): each loss is that of the parameters "
                            "the epoch started from",
                      context={"kind": "exact", "runs": [_full_batch_run(X, y, c, lr, epochs)]}))
    X, y, c = _small(rng, 3)
    lr = float(np.round(rng.uniform(0.2, 1.0), 3))
    cases.append(Case((X, y, c), {"lr": lr, "epochs": 1, "batch_size": 2, "seed": int(rng.integers(1000))},
                      label=f"one epoch of mini-batches of 2 over 3 rows (lr={lr}): two steps",
                      context={"kind": "exact", "runs": _minibatch_runs(X, y, c, lr, 2)}))
    X, y = load_digits()
    split_seed, seed = int(rng.integers(2**31)), int(rng.integers(1000))
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=split_seed)
    cases.append(Case((X_tr, y_tr, 10), {"lr": 0.5, "epochs": EPOCHS, "batch_size": 32, "seed": seed},
                      label=f"digits, a random 75% split ({len(y_tr)} images), seed {seed}",
                      context={"kind": "digits", "X_test": X_te, "y_test": y_te}))
    return cases


def _read_train(case: Case, got):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "expected the tuple (W, b, losses)"
    W, b, losses = got
    try:
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        losses = [float(v) for v in np.asarray(losses, dtype=np.float64).ravel()]
    except (TypeError, ValueError) as exc:
        return f"cannot read (W, b, losses) as numbers: {exc}"
    d, c = case.args[0].shape[1], case.args[2]
    if W.shape != (d, c) or b.shape != (c,):
        return f"expected W of shape {(d, c)} and b of shape {(c,)}, got {W.shape} and {b.shape}"
    if not (np.isfinite(W).all() and np.isfinite(b).all()):
        return "W or b contains NaN or inf"
    if len(losses) != case.kwargs["epochs"]:
        return f"expected one loss per epoch ({case.kwargs['epochs']}), got {len(losses)}"
    return W, b, losses


def _check_train(case: Case, got):
    read = _read_train(case, got)
    if isinstance(read, str):
        return read
    W, b, losses = read
    if case.context["kind"] == "exact":
        reasons = [compare((W, b, losses), run, rtol=1e-6, atol=1e-9) for run in case.context["runs"]]
        if all(reasons):
            return (f"(W, b, losses) is not what mini-batch gradient descent from W = 0, b = 0 gives: "
                    f"{reasons[0]}")
        return None
    if not losses[-1] < losses[0]:
        return f"the loss did not go down: first epoch {losses[0]:.4g}, last {losses[-1]:.4g}"
    X_tr, y_tr = case.args[0], case.args[1]
    final = float(softmax_cross_entropy(X_tr @ W + b, y_tr)[0])
    if abs(losses[-1] - final) > 0.25 * final + 0.02:
        return (f"the last reported loss {losses[-1]:.4g} is not the training loss of the returned W, b "
                f"({final:.4g}): the losses must be measured while training")
    acc = _ref_accuracy(case.context["X_test"], case.context["y_test"], W, b)
    if acc < MIN_ACCURACY:
        return f"held-out accuracy {acc:.3f} is below the required {MIN_ACCURACY:.2f}"
    return None


_GRAD_REFS = ("nnkit.losses.softmax_cross_entropy", "nnkit.functional.dense_backward",
              "nnkit.models.SoftmaxRegression.loss", "nnkit.models.MLP.loss")

PARTS = [
    Part("test_scores", "scores", _scores_cases, close_to(lambda X, W, b: X @ W + b),
         forbidden=(("nnkit.functional.dense_forward",)), description="class scores XW + b"),
    Part("test_softmax_regression_grad", "softmax_regression_grad", _grad_cases, close_to(_ref_grad),
         forbidden=(_GRAD_REFS), description="cross-entropy loss and gradient X^T(P - T)/N"),
    Part("test_gradient_step", "gradient_step", _step_cases, close_to(_ref_step),
         forbidden=(("nnkit.optim.sgd_step", "nnkit.optim.SGD.step")),
         description="one gradient-descent step", keeps_inputs=True),
    Part("test_accuracy", "accuracy", _accuracy_cases, close_to(_ref_accuracy),
         forbidden=(("nnkit.models.SoftmaxRegression.score", "nnkit.models.MLP.score")),
         description="classification accuracy"),
    Part("test_train_softmax_regression", "train_softmax_regression", _train_cases, _check_train,
         forbidden=(("nnkit.train.fit", *_GRAD_REFS)), timeout=60.0,
         description=f"mini-batch gradient descent on the digits (>= {MIN_ACCURACY:.0%} held-out accuracy)"),
]
