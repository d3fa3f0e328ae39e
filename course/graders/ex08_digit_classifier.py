"""Trusted grader of ex08_digit_classifier: split, standardize, accuracy, confusion matrix, a trained MLP.

The stratified split is checked by its properties (a partition, per-class test counts, not simply the
first examples of each class); standardization against nnkit.data.standardize; the classifier by its
accuracy on fresh random stratified splits of the digits whose test labels stay here (``context``).
"""

from __future__ import annotations

import math

import numpy as np

from nnkit.course.spec import Case, Environment, Part, close_to, equal_to
from nnkit.data import load_digits, standardize, train_test_split

# The sandbox holds the models, optimizers and training loop a classifier is built from.
ENVIRONMENT = Environment(modules=("nnkit.models", "nnkit.optim", "nnkit.train"))

TARGET_ACCURACY = 0.95


# ------------------------------------------------------------------ Part 1: stratified split

def _split_cases(rng):
    _, y = load_digits()
    cases = []
    for _ in range(2):
        test_size = float(np.round(rng.uniform(0.15, 0.4), 3))
        seed = int(rng.integers(2**31))
        cases.append(Case((y, test_size, seed),
                          label=f"the digits labels, test_size={test_size}, seed={seed}"))
    sizes = rng.integers(2, 30, size=int(rng.integers(2, 6)))
    y_small = rng.permutation(np.repeat(np.arange(sizes.size), sizes))
    test_size = float(np.round(rng.uniform(0.2, 0.5), 2))
    cases.append(Case((y_small, test_size, int(rng.integers(1000))),
                      label=f"{y_small.size} labels of {sizes.size} classes of sizes {sizes.tolist()}, "
                            f"test_size={test_size}"))
    return cases


def _allowed_counts(n_c: int, test_size: float) -> set[int]:
    x = test_size * n_c
    if abs(x - math.floor(x) - 0.5) < 1e-9:     # an exact half: either rounding is fine
        return {math.floor(x), math.ceil(x)}
    return {int(round(x))}


def _check_split(case: Case, got) -> str | None:
    y, test_size, _ = case.args
    y = np.asarray(y)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "expected a pair (train_idx, test_idx)"
    try:
        train_idx, test_idx = (np.asarray(a) for a in got)
    except Exception as exc:  # noqa: BLE001
        return f"cannot read the indices: {exc}"
    for name, idx in (("train_idx", train_idx), ("test_idx", test_idx)):
        if idx.ndim != 1:
            return f"{name}: expected a 1-D array of indices, got shape {idx.shape}"
        if idx.size and not np.issubdtype(idx.dtype, np.integer):
            return f"{name}: expected integer indices, got dtype {idx.dtype}"
    both = np.concatenate([train_idx, test_idx]).astype(np.int64)
    if both.size != y.size or not np.array_equal(np.sort(both), np.arange(y.size)):
        return (f"every index 0..{y.size - 1} must appear exactly once in train_idx or test_idx "
                f"(got {train_idx.size} + {test_idx.size} indices, {np.unique(both).size} distinct)")
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        in_test = np.intersect1d(members, test_idx)
        allowed = _allowed_counts(members.size, test_size)
        if in_test.size not in allowed:
            return (f"class {c} has {members.size} examples, so round({test_size} * {members.size}) = "
                    f"{min(allowed)} should be in the test set; got {in_test.size}")
        k = in_test.size
        if members.size >= 10 and 2 <= k <= members.size - 2:
            if np.array_equal(in_test, members[:k]) or np.array_equal(in_test, members[-k:]):
                return (f"the test examples of class {c} are just its first/last {k} examples: "
                        "choose them at random with np.random.default_rng(seed)")
    return None


# ------------------------------------------------------------------ Part 2: standardize

def _standardize_ref(X_train, X_test):
    Xs, mean, std = standardize(X_train)
    return Xs, standardize(X_test, mean, std)[0]


def _standardize_cases(rng):
    cases = []
    for _ in range(2):
        n, m, d = int(rng.integers(2, 30)), int(rng.integers(1, 10)), int(rng.integers(1, 8))
        loc, scale = rng.normal(scale=5, size=d), rng.uniform(0.1, 10, size=d)
        X_tr = rng.normal(loc, scale, size=(n, d))
        X_te = rng.normal(loc + rng.normal(scale=3, size=d), scale * 2, size=(m, d))
        constant = rng.random(d) < 0.3
        X_tr[:, constant] = rng.integers(-3, 4, size=int(constant.sum()))   # exactly constant: std 0
        cases.append(Case((X_tr, X_te), label=f"X_train ({n}, {d}) with {int(constant.sum())} constant "
                                              f"column(s), X_test ({m}, {d}) from another distribution"))
    X, _ = load_digits()
    order = rng.permutation(len(X))
    cases.append(Case((X[order[:1200]], X[order[1200:]]), label="a random split of the digits"))
    return cases


# ------------------------------------------------------------------ Parts 3-4: accuracy, confusion matrix

def _label_cases(rng, *, with_n=False):
    cases = []
    for _ in range(3):
        n, k = int(rng.integers(1, 60)), int(rng.integers(2, 11))
        a = rng.integers(0, k, size=n)
        b = np.where(rng.random(n) < 0.6, a, rng.integers(0, k, size=n))
        extra = int(rng.integers(0, 3))
        args = (a, b, k + extra) if with_n else (a, b)
        cases.append(Case(args, label=f"{n} labels of {k + extra if with_n else k} classes"))
    return cases


def _accuracy_ref(y_true, y_pred):
    return float(np.mean(y_true == y_pred))


def _confusion_ref(y_true, y_pred, n_classes):
    C = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)
    return C


# ------------------------------------------------------------------ Part 5: train and predict

def _train_cases(rng):
    X, y = load_digits()
    cases = []
    for _ in range(2):
        test_size = float(np.round(rng.uniform(0.25, 0.3), 3))
        seed = int(rng.integers(2**31))
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=seed)
        cases.append(Case((X_tr, y_tr, X_te), label=f"a random stratified split ({len(y_tr)} training, "
                                                     f"{len(y_te)} test images)", context={"y_test": y_te}))
    return cases


def _check_accuracy(case: Case, got) -> str | None:
    y_test = case.context["y_test"]
    if got is None:
        return "the result is None: did the function forget to `return` the predictions?"
    try:
        pred = np.asarray(got)
    except Exception as exc:  # noqa: BLE001
        return f"cannot read the predictions: {exc}"
    if pred.shape != y_test.shape:
        return f"expected one label per test image, shape {y_test.shape}, got shape {pred.shape}"
    if pred.dtype.kind not in "iuf" or (pred.dtype.kind == "f" and not np.all(pred == np.round(pred))):
        return f"expected integer class labels 0..9, got dtype {pred.dtype}"
    acc = float(np.mean(pred == y_test))
    if acc < TARGET_ACCURACY:
        return f"test accuracy {acc:.1%} on {y_test.size} held-out images, below the required 95%"
    return None


PARTS = [
    Part("test_stratified_split", "stratified_split", _split_cases, _check_split,
         forbidden=("nnkit.data.train_test_split",),
         description="stratified random split: a partition, round(test_size·n_c) test examples per class"),
    Part("test_standardize_train_test", "standardize_train_test", _standardize_cases,
         close_to(_standardize_ref),
         forbidden=("nnkit.data.standardize",),
         description="standardize both sets with the training mean and std (std 0 -> 1)"),
    Part("test_accuracy", "accuracy", _label_cases, close_to(_accuracy_ref),
         description="accuracy: fraction of correct predictions"),
    Part("test_confusion_matrix", "confusion_matrix", lambda rng: _label_cases(rng, with_n=True),
         equal_to(_confusion_ref), forbidden=("nnkit.plotting.confusion_matrix",),
         description="confusion matrix C[true, predicted]"),
    Part("test_train_and_predict", "train_and_predict", _train_cases, _check_accuracy,
         forbidden=("nnkit.data.load_digits",), timeout=120.0,
         description="a trained classifier reaching 95% test accuracy on fresh splits of the digits"),
]
