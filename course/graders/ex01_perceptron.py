"""Trusted grader for ex01_perceptron: predict, one update, fit to convergence, multiclass update.

predict / perceptron_update / multiclass_update are compared with nnkit.models (Perceptron,
MulticlassPerceptron) on fresh random inputs, including points exactly on the boundary (z = 0 counts
as +1 for predict and as a mistake for the update). fit_perceptron is checked by its properties, so any
presentation order is accepted: on freshly drawn linearly separable data (random dimension, offset and
margin) the returned w, b must classify every training point correctly and the mistakes list must end
in its first 0; on XOR it must run every epoch with mistakes in each. The process is checked too, where
the outcome could be faked: one example for one epoch is exactly one update from w = 0 (a score of 0
is a mistake), and with lr = 0 nothing moves, so every example of every epoch is a mistake. The
written XOR answer is graded by hand (no Part).
"""

from __future__ import annotations

import numpy as np

from nnkit.course.spec import Case, Environment, Part, close_to, equal_to
from nnkit.grading import compare
from nnkit.models import MulticlassPerceptron, Perceptron

# What the sandbox holds of nnkit while this is graded: the toy data sets the notebook draws.
ENVIRONMENT = Environment(modules=("nnkit.data",))

# ----------------------------------------------------------------------------------------- predict

def _ref_predict(X, w, b):
    p = Perceptron()
    p.w, p.b = np.asarray(w, dtype=np.float64), float(b)
    return p.predict(X)


def _predict_cases(rng):
    n, d = int(rng.integers(3, 12)), int(rng.integers(1, 6))
    movies = np.array([[a, c, e] for a in (0, 1) for c in (0, 1) for e in (0, 1)])
    X_tie = rng.normal(size=(n, d))
    return [
        Case((rng.normal(size=(n, d)), rng.normal(size=d), float(rng.normal())),
             label=f"random ({n}, {d}) batch"),
        Case((movies, np.array([4.0, 2.0, 2.0]), -5.0), label="the movies perceptron on all 8 inputs"),
        Case((X_tie, np.zeros(d), 0.0), label="w = 0, b = 0: every score is exactly 0 (predict +1)"),
        Case((rng.normal(size=(1, d)), rng.normal(size=d), float(rng.normal())), label="a batch of one"),
    ]


# ----------------------------------------------------------------------------------------- update

def _ref_update(w, b, x_i, y_i, lr=1.0):
    p = Perceptron(lr=lr)
    p.w, p.b = np.array(w, dtype=np.float64), float(b)
    mistake = p.update(x_i, y_i)
    return p.w, p.b, mistake


def _update_cases(rng):
    d = int(rng.integers(2, 7))
    cases = []
    for k in range(4):
        w, x = rng.normal(size=d), rng.normal(size=d)
        y = int(rng.choice([-1, 1]))
        cases.append(Case((w, float(rng.normal()), x, y), {"lr": float(rng.choice([1.0, 0.5, 0.1]))},
                          label=f"random example {k} in {d}-D"))
    x = rng.normal(size=d)
    cases.append(Case((np.zeros(d), 0.0, x, -1), label="w = 0, b = 0 (z = 0 is a mistake)"))
    w = rng.normal(size=d)
    y = 1 if float(x @ w) > 0 else -1
    cases.append(Case((w, 0.0, x, y), {"lr": 0.5}, label="a correctly classified example (no change)"))
    cases.append(Case((w, 0.0, x, -y), {"lr": 0.5}, label="a misclassified example"))
    return cases


# ----------------------------------------------------------------------------------------- fit

def _separable(rng, n, d, margin):
    """n points in d dimensions with y (w·x + b) >= margin for a random unit w and offset b."""
    w = rng.normal(size=d)
    w /= np.linalg.norm(w)
    b = float(rng.uniform(-1, 1))
    X = rng.uniform(-3, 3, size=(n, d))
    y = np.where(rng.random(n) < 0.5, 1, -1)
    y[:2] = (1, -1)
    dist = margin + rng.uniform(0, 2, size=n)
    X += ((y * dist - b) - (X @ w))[:, None] * w          # move each point to distance dist on side y
    return X, y


def _fit_cases(rng):
    cases = []
    for _ in range(3):
        n, d = int(rng.integers(20, 61)), int(rng.integers(2, 6))
        margin = float(rng.uniform(0.1, 0.4))
        X, y = _separable(rng, n, d, margin)
        cases.append(Case((X, y), {"lr": float(rng.choice([1.0, 0.5])), "epochs": 1000},
                          label=f"{n} linearly separable points in {d}-D (margin {margin:.2f})",
                          context={"separable": True, "epochs": 1000}))
    # the process, whatever the presentation order: from w = 0 the first example is always a mistake
    # (a score of 0), and with lr = 0 nothing ever moves, so every example of every epoch is one
    d = int(rng.integers(2, 6))
    x, label = rng.normal(size=(1, d)), np.array([int(rng.choice([-1, 1]))])
    lr = float(rng.choice([1.0, 0.5]))
    cases.append(Case((x, label), {"lr": lr, "epochs": 1}, label=f"one example, one epoch, lr={lr}",
                      context={"exact": (lr * label[0] * x[0], lr * label[0], [1])}))
    n, epochs = int(rng.integers(3, 9)), int(rng.integers(2, 5))
    X, y = _separable(rng, n, d, 0.3)
    cases.append(Case((X, y), {"lr": 0.0, "epochs": epochs}, label=f"lr = 0, {epochs} epochs: nothing moves",
                      context={"exact": (np.zeros(d), 0.0, [n] * epochs)}))
    epochs = int(rng.integers(3, 9))
    X_xor = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    cases.append(Case((X_xor, np.array([-1, 1, 1, -1])), {"epochs": epochs},
                      label=f"XOR for {epochs} epochs", context={"separable": False, "epochs": epochs}))
    return cases


def _short(counts):
    """A mistakes list for a message: at most 12 entries."""
    if len(counts) <= 12:
        return str(counts)
    return f"[{', '.join(map(str, counts[:10]))}, ... ({len(counts)} epochs, last {counts[-1]})]"


def _check_fit(case: Case, got):
    if not isinstance(got, (tuple, list)) or len(got) != 3:
        return "expected the tuple (w, b, mistakes)"
    w, b, mistakes = got
    X, y = case.args
    try:
        w = np.asarray(w, dtype=np.float64)
        b = float(np.asarray(b, dtype=np.float64))
        counts = [int(m) for m in mistakes]
    except (TypeError, ValueError) as exc:
        return f"cannot read (w, b, mistakes) as numbers: {exc}"
    if w.shape != (X.shape[1],):
        return f"w: expected shape ({X.shape[1]},), got {w.shape}"
    if "exact" in case.context:
        why = compare((w, b, counts), case.context["exact"])
        return f"(w, b, mistakes) is not what the perceptron rule gives from w = 0: {why}" if why else None
    if not counts:
        return "mistakes is empty: expected one count per epoch run"
    if counts[0] < 1:
        return "the first epoch starts from w = 0, b = 0, so its first example is always a mistake"
    epochs = case.context["epochs"]
    if len(counts) > epochs:
        return f"ran {len(counts)} epochs, more than epochs={epochs}"
    if not case.context["separable"]:
        if len(counts) != epochs or min(counts) == 0:
            return (f"XOR is not linearly separable: expected {epochs} epochs each with mistakes, "
                    f"got {_short(counts)}")
        return None
    if counts[-1] != 0:
        return f"on separable data training must run until an epoch has 0 mistakes; got {_short(counts)}"
    if 0 in counts[:-1]:
        return f"training must stop after the first epoch without mistakes; got {_short(counts)}"
    wrong = np.flatnonzero(y * (X @ w + b) <= 0)
    if wrong.size:
        return (f"the returned w, b misclassify {wrong.size} of {len(y)} training points "
                f"(first: index {int(wrong[0])}) although the last epoch reported 0 mistakes")
    return None


# ----------------------------------------------------------------------------------------- multiclass

def _ref_multiclass(W, b, x, y, lr=1.0):
    d, c = np.shape(W)
    p = MulticlassPerceptron(d, c, lr=lr)
    p.W, p.b = np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)
    p.update(x, y)
    return p.W, p.b


def _multiclass_cases(rng):
    d, c = int(rng.integers(2, 7)), int(rng.integers(2, 6))
    cases = []
    for k in range(4):
        W, b, x = rng.normal(size=(d, c)), rng.normal(size=c), rng.normal(size=d)
        cases.append(Case((W, b, x, int(rng.integers(c))), {"lr": float(rng.choice([1.0, 0.3]))},
                          label=f"random ({d}, {c}) weights, example {k}"))
    W, b, x = rng.normal(size=(d, c)), rng.normal(size=c), rng.normal(size=d)
    right = int(np.argmax(x @ W + b))
    cases.append(Case((W, b, x, right), label="a correctly classified example (no change)"))
    cases.append(Case((W, b, x, (right + 1) % c), label="a misclassified example"))
    return cases


PARTS = [
    Part("test_predict", "predict", _predict_cases, equal_to(_ref_predict),
         forbidden=(("nnkit.models.Perceptron.predict",
                               "nnkit.models.Perceptron.decision_function")),
         description="perceptron prediction sign(Xw + b)"),
    Part("test_perceptron_update", "perceptron_update", _update_cases, close_to(_ref_update),
         forbidden=(("nnkit.models.Perceptron.update", "nnkit.models.Perceptron._update")),
         description="one step of the perceptron learning rule", keeps_inputs=True),
    Part("test_fit_perceptron", "fit_perceptron", _fit_cases, _check_fit,
         forbidden=(("nnkit.models.Perceptron.fit", "nnkit.models.Perceptron.update",
                               "nnkit.models.Perceptron._update")),
         timeout=30.0, description="training to convergence (mistakes per epoch)"),
    Part("test_multiclass_update", "multiclass_update", _multiclass_cases, close_to(_ref_multiclass),
         forbidden=(("nnkit.models.MulticlassPerceptron.update",
                               "nnkit.models.MulticlassPerceptron._update")),
         description="multiclass perceptron update W - lr x^T (h - t)", keeps_inputs=True),
]
