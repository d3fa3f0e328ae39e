"""What the public tests check, the grader checks: a solution broken the way a public test would catch
loses that part's points in the trusted grader too.

Each mutation below edits one answer of an assignment's solution so that a check of the part's PUBLIC test
cell (the released one, hidden tests removed) fails; the trusted grader (run in-process on the same
mutated notebook, with the sandbox's rules for inputs changed in place) must then fail that part as well.
Every public test cell of every assignment has at least one mutation.
"""

from __future__ import annotations

import copy
import json
import re

import matplotlib
import pytest

from tests._spec_harness import ROOT, run_parts

# assignment -> [(test grade_id, what the mutation breaks, old text, new text)] in the answer cell
MUTATIONS = {
    "ex01_perceptron": [
        ("test_predict", "a score of exactly 0 predicts -1", "z >= 0", "z > 0"),
        ("test_perceptron_update", "updates w in place",
         "        return w + lr * y_i * x_i, float(b + lr * y_i), True",
         "        w += lr * y_i * x_i\n        return w, float(b + lr * y_i), True"),
        ("test_perceptron_update", "z = 0 is not a mistake", "<= 0:", "< 0:"),
        ("test_fit_perceptron", "only one epoch", "for _ in range(epochs):", "for _ in range(1):"),
        ("test_multiclass_update", "updates W in place",
         "    return W - lr * np.outer(x, h - t), b - lr * (h - t)",
         "    W -= lr * np.outer(x, h - t)\n    return W, b - lr * (h - t)"),
    ],
    "ex02_losses": [
        ("test_mae", "sums instead of averaging", "np.mean(np.abs(", "np.sum(np.abs("),
        ("test_mse", "absolute instead of squared", "np.mean(diff ** 2)", "np.mean(np.abs(diff))"),
        ("test_hinge", "no margin", "1.0 - y * scores", "-y * scores"),
        ("test_zero_one", "counts the right ones", "pred != np.asarray(y)", "pred == np.asarray(y)"),
        ("test_softmax", "not shifted: overflows", "shifted = scores - scores.max(axis=1, keepdims=True)",
         "shifted = scores"),
        ("test_softmax_cross_entropy", "gradient not divided by N", "return loss, grad / n",
         "return loss, grad"),
    ],
    "ex03_softmax_regression": [
        ("test_scores", "no bias", " + np.asarray(b)", ""),
        ("test_softmax_regression_grad", "gradient not divided by N", "    G /= n\n", ""),
        ("test_gradient_step", "updates W in place", "    return W - lr * dW, b - lr * db, loss",
         "    W -= lr * dW\n    return W, b - lr * db, loss"),
        ("test_accuracy", "counts instead of a fraction", "np.mean(pred == np.asarray(y))",
         "np.sum(pred == np.asarray(y))"),
        ("test_train_softmax_regression", "one loss per mini-batch",
         "losses.append(float(np.mean(batch_losses)))", "losses.extend(batch_losses)"),
    ],
    "ex04_activations": [
        ("test_sigmoid", "wrong derivative", "s * (1 - s)", "s * (1 + s)"),
        ("test_tanh", "wrong derivative", "1 - t ** 2", "1 - t"),
        ("test_relu", "derivative 1 at 0", "(z > 0).astype(float)", "(z >= 0).astype(float)"),
        ("test_leaky_relu", "ignores the slope argument", "slope * z), np.where(z > 0, 1.0, slope)",
         "0.1 * z), np.where(z > 0, 1.0, 0.1)"),
        ("test_gaussian", "wrong sign of the derivative", "-z * g", "z * g"),
        ("test_mlp_forward", "no ReLU", "np.maximum(X @ W1 + b1, 0.0)", "(X @ W1 + b1)"),
        ("test_collapse_linear", "forgets b1", "b1 @ W2 + b2", "b2"),
    ],
    "ex05_backprop": [
        ("test_numerical_gradient", "does not restore x",
         "        f_minus = float(f(x))\n        x[ix] = old\n", "        f_minus = float(f(x))\n"),
        ("test_dense_forward", "cache in another order", "return out, (x, W, b)", "return out, (W, x, b)"),
        ("test_dense_backward", "db averaged", "dout.sum(axis=0)", "dout.mean(axis=0)"),
        ("test_relu_forward", "caches the output", "return np.maximum(0.0, x), x",
         "return np.maximum(0.0, x), np.maximum(0.0, x)"),
        ("test_relu_backward", "passes the gradient at 0", "(x > 0)", "(x >= 0)"),
        ("test_sigmoid_backward", "ignores dout", "return dout * out * (1 - out)", "return out * (1 - out)"),
        ("test_two_layer_loss", "no gradient for b1",
         '_, grads["W1"], grads["b1"] = dense_backward(dz1, cache1)',
         '_, grads["W1"], _ = dense_backward(dz1, cache1)'),
    ],
    "ex06_optimizers": [
        ("test_momentum_step", "changes the state passed in",
         "    v = momentum * v + dx\n    return x - lr * v,",
         "    v *= momentum\n    v += dx\n    return x - lr * v,"),
        ("test_nesterov_step", "plain momentum", "x - lr * (dx + momentum * v)", "x - lr * v"),
        ("test_adagrad_step", "accumulates |dx|", "+ dx * dx", "+ np.abs(dx)"),
        ("test_rmsprop_step", "decay on the wrong term", "(1 - decay) * dx * dx", "decay * dx * dx"),
        ("test_adam_step", "no bias correction", "m_hat = m / (1 - beta1 ** t)", "m_hat = m"),
    ],
    "ex07_regularization": [
        ("test_l2_penalty", "penalizes the biases", 'if name.startswith("W"):\n            value += 0.5',
         'if True:\n            value += 0.5'),
        ("test_l1_penalty", "gradient lam W", "grads[name] = lam * np.sign(p)", "grads[name] = lam * p"),
        ("test_dropout_forward", "not inverted", "return x * mask / (1 - p), mask", "return x * mask, mask"),
        ("test_dropout_backward", "not scaled", "return dout * mask / (1 - p)", "return dout * mask"),
        ("test_weight_decay_step", "decay without lr", "(1 - lr * lam) * W", "(1 - lam) * W"),
        ("test_early_stopping", "one epoch too patient", "epoch - best >= patience",
         "epoch - best > patience"),
    ],
    "ex08_digit_classifier": [
        ("test_stratified_split", "not random", "idx = rng.permutation(np.flatnonzero(y == c))",
         "idx = np.flatnonzero(y == c)"),
        ("test_standardize_train_test", "test statistics for the test set", "(X_test - mean) / std",
         "(X_test - X_test.mean(axis=0)) / std"),
        ("test_accuracy", "counts the wrong ones", "np.asarray(y_true) == np.asarray(y_pred)",
         "np.asarray(y_true) != np.asarray(y_pred)"),
        ("test_confusion_matrix", "transposed", "(np.asarray(y_true), np.asarray(y_pred))",
         "(np.asarray(y_pred), np.asarray(y_true))"),
        ("test_train_mlp", "updates the params passed in",
         "    params = {k: np.array(v, dtype=np.float64) for k, v in params.items()}\n",
         ""),
        ("test_train_mlp", "reports the last batch's loss", "losses.append(float(np.mean(batch_losses)))",
         "losses.append(float(batch_losses[-1]))"),
        ("test_train_digit_classifier", "returns only the network",
         'return {"mean": mean, "std": std, **params}', "return params"),
    ],
    "ex09_deep_networks": [  # from branch i13-exercises; skipped in a tree without it
        ("test_init_params", "Xavier with 1/(fan_in + fan_out)", '"xavier": np.sqrt(2 / (d_in + d_out))',
         '"xavier": np.sqrt(1 / (d_in + d_out))'),
        ("test_network_forward", "an activation after the last layer",
         "        if l < n_layers:\n            a, cache = act_forward(a)",
         "        if True:\n            a, cache = act_forward(a)"),
        ("test_network_loss", "no gradient for the biases",
         'dout, grads[f"W{l}"], grads[f"b{l}"] = dense_backward(dout, caches.pop())',
         'dout, grads[f"W{l}"], _ = dense_backward(dout, caches.pop())'),
        ("test_layer_statistics", "means instead of stds", "act_stds.append(float(np.std(a)))",
         "act_stds.append(float(np.mean(a)))"),
        ("test_overfit_small_batch", "no loss recorded", "        losses.append(loss)\n", ""),
    ],
}
# train_mlp without its copy must still change the caller's arrays: in place, as a student might write it
_IN_PLACE_UPDATE = ("            params = {k: params[k] - lr * grads[k] for k in params}",
                    "            for k in params:\n                params[k] -= lr * grads[k]")

CASES = [(a, *m) for a, ms in MUTATIONS.items() for m in ms]


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _gid(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def _public(source: str) -> str:
    return re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n?", "", source, flags=re.S)


def _mutated(assignment: str, test_id: str, old: str, new: str) -> dict:
    nb = json.loads(next((ROOT / "solutions" / assignment).glob("*.ipynb")).read_text())
    nb = copy.deepcopy(nb)
    order = [_gid(c) or "" for c in nb["cells"]]
    answers = [i for i, g in enumerate(order[:order.index(test_id)]) if g.startswith("answer_")]
    answer = nb["cells"][answers[-1]]  # the answer cell the test cell follows
    head, marker, body = _source(answer).partition("### BEGIN SOLUTION")  # mutate the code, not the docstring
    assert old in body, f"{assignment}: the mutation text {old!r} is not in {_gid(answer)}"
    body = body.replace(old, new, 1)
    if assignment == "ex08_digit_classifier" and new == "" and "params = {k: np.array" in old:
        body = body.replace(*_IN_PLACE_UPDATE)
    answer["source"] = head + marker + body
    return nb


def _public_test_fails(nb: dict, test_id: str) -> str | None:
    """Run the notebook as a student would, up to the public test cell; its error, or None if it passed."""
    ns: dict = {"__name__": "__main__"}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        gid = _gid(cell)
        try:
            exec(compile(_public(_source(cell)), str(gid), "exec"), ns)  # noqa: S102 - our notebooks
        except Exception as exc:  # noqa: BLE001 - any failure of the public test counts
            if gid == test_id:
                return f"{type(exc).__name__}: {exc}"
        if gid == test_id:
            return None
    raise AssertionError(f"no test cell {test_id}")


def _present(assignment: str) -> bool:
    return (ROOT / "course" / "graders" / f"{assignment}.py").exists()


def test_every_public_test_cell_has_a_mutation():
    graded = {p.stem for p in (ROOT / "course" / "graders").glob("ex*.py")}
    assert graded <= set(MUTATIONS), f"assignments without mutations: {sorted(graded - set(MUTATIONS))}"
    for assignment in graded:
        nb = json.loads(next((ROOT / "solutions" / assignment).glob("*.ipynb")).read_text())
        tests = {_gid(c) for c in nb["cells"] if c["cell_type"] == "code"
                 and c.get("metadata", {}).get("nbgrader", {}).get("grade")}
        assert tests == {m[0] for m in MUTATIONS[assignment]}, assignment


@pytest.mark.parametrize(("assignment", "test_id", "what", "old", "new"), CASES,
                         ids=[f"{c[0][:4]}-{c[1]}-{c[2].replace(' ', '_')}" for c in CASES])
def test_a_public_failure_is_a_grader_failure(assignment, test_id, what, old, new, tmp_path):
    if not _present(assignment):
        pytest.skip(f"{assignment} is not in this tree")
    matplotlib.use("Agg", force=True)
    nb = _mutated(assignment, test_id, old, new)
    public = _public_test_fails(nb, test_id)
    assert public, f"the public test {test_id} does not catch '{what}': choose a mutation it catches"
    path = tmp_path / f"{assignment}.ipynb"
    path.write_text(json.dumps(nb))
    graded = run_parts(assignment, path, seed=7, only=test_id)
    assert graded[test_id], f"{assignment}: the public test catches '{what}' ({public}); the grader does not"
