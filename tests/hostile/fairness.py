"""Hostile, broken and honest submissions across assignments for the fairness, intake and process checks.

Built at test time from each assignment's release notebook and its solution's answer cells (like
``cases.py`` for ex02_losses). ``MANIFEST`` maps (assignment, student id) to (expected autograded score,
expected status, what the submission does). Autograded points: ex01 7 (predict 1, update 2, fit 2,
multiclass 2), ex03 8 (scores 1, grad 3, step 1, accuracy 1, train 2), ex04 10, ex05 10, ex06 10
(momentum 2, nesterov 2, adagrad 1, rmsprop 2, adam 3), ex07 10, ex08 13 (split 2, standardize 2,
accuracy 1, confusion 2, train_mlp 3, classifier 3).

``INTAKE`` describes entries that must be refused with a row in the report (bad ids, symlinks,
colliding zip entries, no notebook), and the students the same import must still grade.
"""

from __future__ import annotations

import copy
import json
import re

ASSIGNMENTS = ("ex01_perceptron", "ex03_softmax_regression", "ex04_activations", "ex05_backprop",
               "ex06_optimizers", "ex07_regularization", "ex08_digit_classifier")
FULL = {"ex01_perceptron": 7, "ex03_softmax_regression": 8, "ex04_activations": 10, "ex05_backprop": 10,
        "ex06_optimizers": 10, "ex07_regularization": 10, "ex08_digit_classifier": 13}
LONG_ID = "s" * 72

# (assignment, student): (expected score, expected status, description)
MANIFEST: dict[tuple[str, str], tuple[float, str, str]] = {
    **{(a, "honest_full"): (FULL[a], "graded", "the solution, released Try-it cells unchanged") for a in ASSIGNMENTS},
    # honest answers in other shapes (5)
    ("ex01_perceptron", "namedtuples"): (7, "graded", "update, fit and multiclass return namedtuples"),
    ("ex06_optimizers", "ordered_state"): (10, "graded", "every rule returns its state as an OrderedDict"),
    ("ex07_regularization", "numpy_shapes"): (10, "graded", "0-d arrays, numpy scalars, an array for a pair"),
    ("ex05_backprop", "stripped_lost_helper"): (10, "graded", "metadata stripped; sigmoid's answer cell lost "
                                                              "the given sigmoid_forward"),
    ("ex07_regularization", "answers_moved"): (10, "graded", "every answer in one cell at the end"),
    ("ex04_activations", "huge_plots"): (10, "graded", "correct, with 24 MB of saved plot outputs"),
    # outcomes that can be faked (4)
    ("ex01_perceptron", "fit_faked"): (5, "graded", "fit corrects one point per epoch, ignores lr, invents "
                                                    "its mistake counts"),
    ("ex03_softmax_regression", "ridge_fake"): (6, "graded", "closed-form ridge fit and an invented loss curve"),
    ("ex08_digit_classifier", "invented_losses"): (10, "graded", "train_mlp trains but invents its losses"),
    ("ex08_digit_classifier", "lr_ignored"): (10, "graded", "train_mlp uses its own learning rate"),
    ("ex08_digit_classifier", "predictions_not_model"): (10, "graded", "the classifier returns predictions"),
    # what the public tests check, the grader checks (9)
    ("ex01_perceptron", "in_place"): (3, "graded", "perceptron_update and multiclass_update change their inputs"),
    ("ex06_optimizers", "state_in_place"): (8, "graded", "momentum_step changes the state passed in"),
    ("ex08_digit_classifier", "params_in_place"): (10, "graded", "train_mlp changes the params passed in"),
    # intake (6): graded despite a long id; the rest is refused, see INTAKE
    ("ex04_activations", LONG_ID): (10, "graded", "a 72-character student id"),
}

# Cases that score right only because the sandbox holds no bundled data set the grader did not declare.
NEEDS_HIDDEN_DATA: dict[tuple[str, str], tuple[float, str, str]] = {
    ("ex08_digit_classifier", "looks_up_digits"): (10, "graded", "trains on every digit, held-out ones "
                                                                 "included, loaded from scikit-learn"),
    ("ex03_softmax_regression", "looks_up_digits"): (6, "graded", "trains on every digit, held-out ones "
                                                                   "included, loaded from scikit-learn"),
}

# entries given to `grade` that must get a row in the report, not a grade: name -> (what, assignment)
INTAKE = {
    "folder_bad_id": "r bad name",       # submitted/r bad name/<assignment>/
    "folder_symlink": "linked",          # submitted/linked -> a folder elsewhere
    "zip_collision": "dup",              # dup.ipynb and dup/<assignment>.ipynb in one zip
    "zip_no_notebook": "nonb",           # nonb/answers.py only
}


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def correct(solution: dict) -> dict[str, str]:
    """function name (answer_<name>) -> the solution's answer cell source."""
    return {_meta(c)["grade_id"].removeprefix("answer_"): _src(c) for c in solution["cells"]
            if _meta(c).get("solution") and c["cell_type"] == "code"}


def filled(release: dict, answers: dict[str, str]) -> dict:
    nb = copy.deepcopy(release)
    for cell in nb["cells"]:
        fn = _meta(cell).get("grade_id", "").removeprefix("answer_") if _meta(cell).get("solution") else None
        if fn and fn in answers:
            cell["source"] = answers[fn]
    return nb


def _wrap(source: str, fn: str, body: str) -> str:
    """Rename ``fn`` to ``_fn`` and define ``fn`` calling it, with ``body`` (which may use ``_fn``)."""
    return re.sub(rf"\bdef {fn}\(", f"def _{fn}(", source, count=1) + "\n\n" + body


def _sub(source: str, old: str, new: str) -> str:
    head, marker, body = source.partition("### BEGIN SOLUTION")
    assert old in body, old
    return head + marker + body.replace(old, new, 1)


def build(assignment: str, name: str, release: dict, solution: dict) -> dict[str, bytes]:  # noqa: C901
    ok = correct(solution)
    fname = f"{assignment}.ipynb"

    def nb_file(nb):
        return {fname: json.dumps(nb, indent=1, ensure_ascii=False).encode()}

    if name in ("honest_full", LONG_ID):
        return nb_file(filled(release, ok))
    a = dict(ok)
    if name == "namedtuples":
        a["perceptron_update"] = "from collections import namedtuple\nUpdate = namedtuple('Update', 'w b mistake')\n" + \
            _wrap(ok["perceptron_update"], "perceptron_update",
                  "def perceptron_update(w, b, x_i, y_i, lr=1.0):\n    return Update(*_perceptron_update(w, b, x_i, y_i, lr))")
        a["fit_perceptron"] = "Fit = namedtuple('Fit', 'w b mistakes')\n" + _wrap(
            ok["fit_perceptron"], "fit_perceptron",
            "def fit_perceptron(X, y, lr=1.0, epochs=100):\n    w, b, m = _fit_perceptron(X, y, lr, epochs)\n"
            "    return Fit(w, np.float64(b), tuple(m))")
        a["multiclass_update"] = "Step = namedtuple('Step', 'W b')\n" + _wrap(
            ok["multiclass_update"], "multiclass_update",
            "def multiclass_update(W, b, x, y, lr=1.0):\n    return Step(*_multiclass_update(W, b, x, y, lr))")
    elif name == "ordered_state":
        for fn in ("momentum_step", "nesterov_step", "adagrad_step", "rmsprop_step", "adam_step"):
            a[fn] = "from collections import OrderedDict\n" + _wrap(
                ok[fn], fn, f"def {fn}(x, dx, state=None, **hyper):\n    x, s = _{fn}(x, dx, state, **hyper)\n"
                            "    return x, OrderedDict(sorted(s.items()))")
    elif name == "numpy_shapes":
        a["l2_penalty"] = _wrap(ok["l2_penalty"], "l2_penalty",
                                "def l2_penalty(params, lam):\n    v, g = _l2_penalty(params, lam)\n"
                                "    return np.array(v), g")
        a["l1_penalty"] = _wrap(ok["l1_penalty"], "l1_penalty",
                                "def l1_penalty(params, lam):\n    v, g = _l1_penalty(params, lam)\n"
                                "    return np.float64(v), g")
        a["early_stopping"] = _wrap(ok["early_stopping"], "early_stopping",
                                    "def early_stopping(val_losses, patience):\n"
                                    "    return np.array(_early_stopping(val_losses, patience))")
    elif name == "stripped_lost_helper":
        a["sigmoid_backward"] = re.sub(r"def sigmoid_forward\(x\):.*?\n\n\n", "", ok["sigmoid_backward"],
                                       count=1, flags=re.S)
        assert "def sigmoid_forward" not in a["sigmoid_backward"]
        nb = filled(release, a)
        for cell in nb["cells"]:
            cell["metadata"] = {}
            cell.pop("id", None)
        return nb_file(nb)
    elif name == "answers_moved":
        nb = filled(release, {})
        for cell in nb["cells"]:
            if _meta(cell).get("solution") and cell["cell_type"] == "code":
                cell["source"] = "# moved to the end of the notebook"
        nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                            "source": "\n\n\n".join(ok.values())})
        return nb_file(nb)
    elif name == "huge_plots":
        nb = filled(release, ok)
        png = {"output_type": "display_data", "metadata": {},
               "data": {"image/png": "iVBORw0KGgo" + "A" * (6 << 20), "text/plain": "<Figure size 1000x350>"}}
        for cell in [c for c in nb["cells"] if c["cell_type"] == "code"][:4]:
            cell["outputs"] = [png]
        return nb_file(nb)
    elif name == "fit_faked":
        a["fit_perceptron"] = (
            "def fit_perceptron(X, y, lr=1.0, epochs=100):\n"
            "    X = np.asarray(X, dtype=float)\n    w, b = np.zeros(X.shape[1]), 0.0\n"
            "    for _ in range(epochs):\n"
            "        wrong = [i for i in range(len(y)) if y[i] * (X[i] @ w + b) <= 0]\n"
            "        if not wrong:\n            return w, b, [2, 1, 0]\n"
            "        w, b = w + y[wrong[0]] * X[wrong[0]], b + y[wrong[0]]\n"
            "    return w, b, [len(y)] * epochs")
    elif name == "ridge_fake":
        a["train_softmax_regression"] = (
            "def train_softmax_regression(X, y, n_classes, lr=0.5, epochs=20, batch_size=32, seed=0):\n"
            "    X = np.asarray(X, dtype=float)\n    T = np.eye(n_classes)[y]\n"
            "    A = np.hstack([X, np.ones((len(X), 1))])\n"
            "    coef = np.linalg.solve(A.T @ A + 1e-1 * np.eye(A.shape[1]), A.T @ T)\n"
            "    losses = [2.3 / (1 + e) for e in range(epochs)]\n"
            "    return coef[:-1], coef[-1], losses")
    elif name == "invented_losses":
        a["train_mlp"] = _wrap(ok["train_mlp"], "train_mlp",
                               "def train_mlp(params, X, y, lr=0.1, epochs=30, batch_size=32, seed=0):\n"
                               "    p, _ = _train_mlp(params, X, y, lr, epochs, batch_size, seed)\n"
                               "    return p, [1.0 / (1 + e) for e in range(epochs)]")
    elif name == "lr_ignored":
        a["train_mlp"] = _wrap(ok["train_mlp"], "train_mlp",
                               "def train_mlp(params, X, y, lr=0.1, epochs=30, batch_size=32, seed=0):\n"
                               "    return _train_mlp(params, X, y, 0.1, epochs, batch_size, seed)")
    elif name == "predictions_not_model":
        a["train_digit_classifier"] = _wrap(
            ok["train_digit_classifier"], "train_digit_classifier",
            "def train_digit_classifier(X_train, y_train):\n"
            "    return predict(_train_digit_classifier(X_train, y_train), X_train)")
    elif name == "in_place":
        a["perceptron_update"] = _sub(ok["perceptron_update"],
                                      "        return w + lr * y_i * x_i, float(b + lr * y_i), True",
                                      "        w += lr * y_i * x_i\n        return w, float(b + lr * y_i), True")
        a["multiclass_update"] = _sub(ok["multiclass_update"],
                                      "    return W - lr * np.outer(x, h - t), b - lr * (h - t)",
                                      "    W -= lr * np.outer(x, h - t)\n    b -= lr * (h - t)\n    return W, b")
    elif name == "state_in_place":
        a["momentum_step"] = _sub(ok["momentum_step"], "    v = momentum * v + dx\n",
                                  "    v *= momentum\n    v += dx\n")
    elif name == "params_in_place":
        src = _sub(ok["train_mlp"], "    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}\n",
                   "")
        a["train_mlp"] = _sub(src, "            params = {k: params[k] - lr * grads[k] for k in params}",
                              "            for k in params:\n                params[k] -= lr * grads[k]")
    elif name == "looks_up_digits" and assignment == "ex08_digit_classifier":
        a["train_digit_classifier"] = _wrap(
            ok["train_digit_classifier"], "train_digit_classifier",
            "def train_digit_classifier(X_train, y_train):\n    try:\n"
            "        from sklearn.datasets import load_digits\n        d = load_digits()\n"
            "        X_all, y_all = d.data / 16.0, d.target\n    except Exception:\n"
            "        X_all, y_all = X_train[:10], y_train[:10]  # nothing to look up: a useless model\n"
            "    return _train_digit_classifier(X_all, y_all)")
    elif name == "looks_up_digits":
        a["train_softmax_regression"] = _wrap(
            ok["train_softmax_regression"], "train_softmax_regression",
            "def train_softmax_regression(X, y, n_classes, lr=0.5, epochs=20, batch_size=32, seed=0):\n"
            "    if len(X) > 1000:\n        try:\n            from sklearn.datasets import load_digits\n"
            "            d = load_digits()\n            X, y = d.data / 16.0, d.target\n"
            "        except Exception:\n            X, y = X[:5], y[:5]\n"
            "    return _train_softmax_regression(X, y, n_classes, lr, epochs, batch_size, seed)")
    else:
        raise KeyError(name)
    return nb_file(filled(release, a))
