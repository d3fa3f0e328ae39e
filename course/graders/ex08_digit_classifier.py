"""Trusted grader of ex08_digit_classifier: split, standardize, accuracy, confusion, trainer, classifier.

The stratified split is checked by its properties (a partition, per-class test counts, not simply the
first examples of each class); standardization against nnkit.data.standardize. Neither sees the digits:
their inputs are random labels and random pixel-like data, so no part leaks the data set to the sandbox.

``train_mlp`` (mini-batch gradient descent for a two-layer ReLU network) is checked on the process,
because a final accuracy can be faked: on small random problems one full-batch epoch must be exactly
one gradient step, lr = 0 must change nothing, the reported losses must be those of the parameters,
mini-batches must be steps over some order of the rows, and the parameters passed in must be left as
they were. ``train_digit_classifier`` returns its trained model as PARAMETERS (the standardization and
the network's weights); the grader predicts with them here, on held-out test images of a fresh random
stratified split that never enter the sandbox (``context``), and requires 95% accuracy.

The sandbox holds no bundled data set (``ENVIRONMENT`` declares none), so the held-out labels cannot
be looked up there; the answers use only numpy, so it holds nothing of nnkit either.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from nnkit import functional
from nnkit.course.spec import Case, Environment, Part, close_to, equal_to
from nnkit.data import load_digits, standardize, train_test_split
from nnkit.grading import compare
from nnkit.losses import softmax_cross_entropy

# What the sandbox holds of nnkit while this is graded: nothing (the answers use only numpy; the set-up
# cell imports only nnkit.grading, which every sandbox holds), and no data set.
ENVIRONMENT = Environment()

TARGET_ACCURACY = 0.95
MODEL_KEYS = ("mean", "std", "W1", "b1", "W2", "b2")


# ------------------------------------------------------------------ Part 1: stratified split

def _split_cases(rng):
    cases = []
    for _ in range(2):
        sizes = rng.integers(150, 200, size=10)          # digit-like: ten classes of 150-200 examples
        y = rng.permutation(np.repeat(np.arange(10), sizes))
        test_size = float(np.round(rng.uniform(0.15, 0.4), 3))
        seed = int(rng.integers(2**31))
        cases.append(Case((y, test_size, seed),
                          label=f"{y.size} labels of 10 classes, test_size={test_size}, seed={seed}"))
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
    n, m = int(rng.integers(800, 1300)), int(rng.integers(200, 500))
    X_tr, X_te = rng.integers(0, 17, size=(n, 64)) / 16.0, rng.integers(0, 17, size=(m, 64)) / 16.0
    border = rng.random(64) < 0.1
    X_tr[:, border] = 0.0                                # digit-like: some pixels are 0 in every image
    cases.append(Case((X_tr, X_te), label=f"{n} + {m} random 8x8 images with {int(border.sum())} "
                                          "always-blank pixels"))
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


# ------------------------------------------------------------------ Part 5: the training process

def _mlp_loss(params, X, y):
    """dense -> ReLU -> dense -> softmax cross-entropy (mean), from nnkit.functional and nnkit.losses."""
    z1, cache1 = functional.dense_forward(X, params["W1"], params["b1"])
    h, cache_relu = functional.relu_forward(z1)
    s, cache2 = functional.dense_forward(h, params["W2"], params["b2"])
    loss, ds = softmax_cross_entropy(s, y)
    grads = {}
    dh, grads["W2"], grads["b2"] = functional.dense_backward(ds, cache2)
    _, grads["W1"], grads["b1"] = functional.dense_backward(functional.relu_backward(dh, cache_relu), cache1)
    return float(loss), grads


def _descend(params, X, y, lr, epochs, batches):
    """Gradient descent over the same ``batches`` (index arrays) each epoch; (params, mean loss per epoch)."""
    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    losses = []
    for _ in range(epochs):
        batch_losses = []
        for idx in batches:
            loss, grads = _mlp_loss(params, X[idx], y[idx])
            params = {k: params[k] - lr * grads[k] for k in params}
            batch_losses.append(loss)
        losses.append(float(np.mean(batch_losses)))
    return params, losses


def _net(rng, n):
    d, h, c = int(rng.integers(2, 7)), int(rng.integers(2, 9)), int(rng.integers(2, 5))
    params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(scale=0.5, size=h),
              "W2": rng.normal(size=(h, c)), "b2": rng.normal(scale=0.5, size=c)}
    return params, rng.normal(size=(n, d)), rng.integers(0, c, size=n), f"{d}-{h}-{c} network"


def _train_mlp_cases(rng):
    cases = []
    params, X, y, net = _net(rng, int(rng.integers(4, 12)))
    lr = float(np.round(rng.uniform(0.05, 0.5), 3))
    full = [np.arange(len(y))]          # one batch: the order of its rows does not matter
    cases.append(Case((params, X, y), {"lr": lr, "epochs": 1, "batch_size": len(y) + int(rng.integers(0, 5)),
                                        "seed": int(rng.integers(1000))},
                      label=f"a {net}, one epoch of one full batch ({len(y)} rows, lr={lr}): one exact step",
                      context={"runs": [_descend(params, X, y, lr, 1, full)]}))
    params, X, y, net = _net(rng, 2 * int(rng.integers(2, 6)))  # equal batches: their mean loss is the loss
    epochs = int(rng.integers(2, 5))
    cases.append(Case((params, X, y), {"lr": 0.0, "epochs": epochs, "batch_size": 2, "seed": 3},
                      label=f"a {net}, lr = 0 for {epochs} epochs over batches of 2: nothing changes",
                      context={"runs": [_descend(params, X, y, 0.0, epochs, [np.arange(len(y))])]}))
    params, X, y, net = _net(rng, int(rng.integers(4, 12)))
    epochs, lr = int(rng.integers(3, 6)), float(np.round(rng.uniform(0.05, 0.5), 3))
    cases.append(Case((params, X, y), {"lr": lr, "epochs": epochs, "batch_size": len(y), "seed": 4},
                      label=f"a {net}, {epochs} full-batch epochs (lr={lr}): each loss is that of the "
                            "parameters the epoch started from",
                      context={"runs": [_descend(params, X, y, lr, epochs, [np.arange(len(y))])]}))
    params, X, y, net = _net(rng, 3)
    lr = float(np.round(rng.uniform(0.1, 0.5), 3))
    orders = [np.array(order) for order in itertools.permutations(range(3))]
    seed = int(rng.integers(1000))
    cases.append(Case((params, X, y), {"lr": lr, "epochs": 1, "batch_size": 2, "seed": seed},
                      label=f"a {net}, one epoch of mini-batches of 2 over 3 rows (lr={lr}): two steps",
                      context={"runs": [_descend(params, X, y, lr, 1, [o[:2], o[2:]]) for o in orders]}))
    return cases


def _check_train_mlp(case: Case, got) -> str | None:
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "expected the pair (params, losses)"
    params, losses = got
    if not isinstance(params, dict) or set(params) != {"W1", "b1", "W2", "b2"}:
        keys = sorted(params) if isinstance(params, dict) else type(params).__name__
        return f"params must be a dict with the keys W1, b1, W2, b2; got {keys}"
    try:
        losses = [float(v) for v in np.asarray(losses, dtype=np.float64).ravel()]
    except (TypeError, ValueError) as exc:
        return f"cannot read the losses as numbers: {exc}"
    if len(losses) != case.kwargs["epochs"]:
        return f"expected one loss per epoch ({case.kwargs['epochs']}), got {len(losses)}"
    reasons = [compare((params, losses), run, rtol=1e-6, atol=1e-9) for run in case.context["runs"]]
    if all(reasons):
        return f"(params, losses) is not what mini-batch gradient descent gives: {reasons[0]}"
    return None


# ------------------------------------------------------------------ Part 6: the classifier, as parameters

def predict(model, X):
    """The notebook's given ``predict``: standardize with the model's statistics, then the network."""
    Xs = (np.asarray(X, dtype=np.float64) - model["mean"]) / model["std"]
    h = np.maximum(Xs @ model["W1"] + model["b1"], 0.0)
    return np.argmax(h @ model["W2"] + model["b2"], axis=1)


def _classifier_cases(rng):
    X, y = load_digits()
    cases = []
    for _ in range(2):
        test_size = float(np.round(rng.uniform(0.25, 0.3), 3))
        seed = int(rng.integers(2**31))
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=test_size, seed=seed)
        cases.append(Case((X_tr, y_tr), label=f"a random stratified split ({len(y_tr)} training images; "
                                               f"{len(y_te)} held-out images stay with the grader)",
                          context={"X_test": X_te, "y_test": y_te}))
    return cases


def _check_classifier(case: Case, got) -> str | None:
    if not isinstance(got, dict) or not set(MODEL_KEYS) <= set(got):
        keys = sorted(got) if isinstance(got, dict) else type(got).__name__
        return f"expected the model as a dict with the keys {', '.join(MODEL_KEYS)}; got {keys}"
    try:
        model = {k: np.asarray(got[k], dtype=np.float64) for k in MODEL_KEYS}
    except (TypeError, ValueError) as exc:
        return f"cannot read the model's arrays as numbers: {exc}"
    d = case.args[0].shape[1]
    if model["mean"].shape != (d,) or model["std"].shape != (d,):
        return f"mean and std must have shape ({d},), got {model['mean'].shape} and {model['std'].shape}"
    hidden = model["W1"].shape[1] if model["W1"].ndim == 2 else -1
    shapes = {"W1": (d, hidden), "b1": (hidden,), "W2": (hidden, 10), "b2": (10,)}
    if any(model[k].shape != shape for k, shape in shapes.items()):
        return (f"expected W1 (64, H), b1 (H,), W2 (H, 10), b2 (10,); got W1 {model['W1'].shape}, "
                f"b1 {model['b1'].shape}, W2 {model['W2'].shape}, b2 {model['b2'].shape}")
    if not all(np.isfinite(v).all() for v in model.values()) or np.any(model["std"] == 0):
        return "the model holds NaN or inf, or a std of 0"
    y_test = case.context["y_test"]
    acc = float(np.mean(predict(model, case.context["X_test"]) == y_test))
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
    Part("test_train_mlp", "train_mlp", _train_mlp_cases, _check_train_mlp,
         forbidden=("nnkit.train.fit", "nnkit.optim.sgd_step", "nnkit.optim.SGD"), timeout=30.0,
         keeps_inputs=True,
         description="mini-batch gradient descent: exact steps, lr = 0 changes nothing, the losses are "
                     "those of the parameters"),
    Part("test_train_digit_classifier", "train_digit_classifier", _classifier_cases, _check_classifier,
         forbidden=("nnkit.data.load_digits",), timeout=120.0,
         description="a classifier returned as parameters: 95% accuracy on held-out images the grader keeps"),
]
