"""Broken, lazy and hostile submissions of ex09_deep_networks, each with the score it must get.

Built at test time from the trusted release notebook (exercises/ex09_deep_networks) and the solution's
answer cells, like tests/hostile/cases.py for ex02_losses. ex09's parts: init_params 2, network_forward 2,
network_loss 3, layer_statistics 2, overfit_small_batch 2 points (11 in all). The cases target what is
special about this assignment: depth that must come from ``params``, initialization drawn by the
prescribed recipe, nnkit's networks as a shortcut, and a sanity check that must really train.

``MANIFEST`` maps a student id to (expected autograded score, expected status, what it does);
``build(name, ctx)`` returns {file name: bytes} for the student's folder (``ctx`` as in cases.py).
"""

from __future__ import annotations

import copy
import json

ASSIGNMENT = "ex09_deep_networks"
POINTS = {"init_params": 2, "network_forward": 2, "network_loss": 3, "layer_statistics": 2,
          "overfit_small_batch": 2}

MANIFEST: dict[str, tuple[float, str, str]] = {
    "honest_full": (11, "graded", "the solution"),
    "untouched": (0, "graded", "the released notebook as it is"),
    "calls_mlp": (4, "graded", "network_loss returns nnkit.models.MLP's loss and gradients (and the parts "
                               "that use network_loss inherit the tripwire)"),
    "two_layers_only": (2, "graded", "forward and loss hard-coded for W1, b1, W2, b2"),
    "zero_init_always": (7, "graded", "init_params returns zeros whatever the scheme"),
    "reseeds_each_layer": (7, "graded", "init_params calls default_rng(seed) again for every layer"),
    # nnkit.layers is not in ex09's sandbox (Part 1 forbids its Dense), so init_params fails there, and
    # with it the overfit part, which starts from the student's own init_params.
    "dense_for_init": (7, "graded", "init_params draws with nnkit.layers.Dense, which the sandbox lacks"),
    "fake_overfit": (9, "graded", "overfit_small_batch returns the initial parameters and made-up losses"),
    "exit_in_overfit": (9, "graded", "overfit_small_batch calls os._exit(0)"),
}

_INIT_ZEROS = '''def init_params(layer_sizes, scheme="he", seed=0):
    return {k: v for l, (a, b) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), start=1)
            for k, v in ((f"W{l}", np.zeros((a, b))), (f"b{l}", np.zeros(b)))}'''

_INIT_RESEED = '''def init_params(layer_sizes, scheme="he", seed=0):
    params = {}
    for l, (d_in, d_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), start=1):
        rng = np.random.default_rng(seed)
        std = {"zeros": 0.0, "normal": 0.01, "xavier": np.sqrt(2 / (d_in + d_out)), "he": np.sqrt(2 / d_in)}[scheme]
        params[f"W{l}"], params[f"b{l}"] = rng.standard_normal((d_in, d_out)) * std, np.zeros(d_out)
    return params'''

_INIT_DENSE = '''def init_params(layer_sizes, scheme="he", seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for l, (d_in, d_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), start=1):
        W = np.zeros((d_in, d_out)) if scheme == "zeros" else nnkit.layers.Dense(d_in, d_out, init=scheme, seed=rng).params["W"]
        params[f"W{l}"], params[f"b{l}"] = W, np.zeros(d_out)
    return params'''

_LOSS_MLP = '''def network_loss(params, X, y, activation="relu"):
    n = len(params) // 2
    sizes = [params["W1"].shape[0]] + [params[f"W{l}"].shape[1] for l in range(1, n + 1)]
    net = nnkit.models.MLP(sizes, activation=activation)
    for k, v in params.items():
        net.params[k][...] = v
    loss, grads = net.loss(X, y)
    return loss, {k: v.copy() for k, v in grads.items()}'''

_FORWARD_2 = '''def network_forward(params, X, activation="relu"):
    a, c1 = dense_forward(X, params["W1"], params["b1"])
    h, c2 = ACTIVATIONS[activation][0](a)
    s, c3 = dense_forward(h, params["W2"], params["b2"])
    return s, [c1, c2, c3]'''

_LOSS_2 = '''def network_loss(params, X, y, activation="relu"):
    s, (c1, c2, c3) = network_forward(params, X, activation)
    loss, ds = softmax_cross_entropy(s, y)
    dh, dW2, db2 = dense_backward(ds, c3)
    _, dW1, db1 = dense_backward(ACTIVATIONS[activation][1](dh, c2), c1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}'''

_FAKE_OVERFIT = '''def overfit_small_batch(X, y, layer_sizes, activation="relu", lr=0.1, steps=400, seed=0):
    params = init_params(layer_sizes, "he" if activation == "relu" else "xavier", seed=seed)
    first = network_loss(params, X, y, activation)[0]
    return params, [first * 0.99 ** k for k in range(steps)]'''

_EXIT_OVERFIT = '''def overfit_small_batch(X, y, layer_sizes, activation="relu", lr=0.1, steps=400, seed=0):
    import os
    os._exit(0)'''


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _correct(ctx) -> dict[str, str]:
    return {_meta(c)["grade_id"].removeprefix("answer_"): _src(c) for c in ctx["solution"]["cells"]
            if _meta(c).get("solution") and c["cell_type"] == "code"}


def _nb(ctx, answers: dict[str, str]) -> dict:
    nb = copy.deepcopy(ctx["release"])
    for cell in nb["cells"]:
        m = _meta(cell)
        fn = m.get("grade_id", "").removeprefix("answer_") if m.get("solution") else None
        if fn and fn in answers:
            cell["source"] = answers[fn]
    return nb


def _file(nb: dict) -> dict[str, bytes]:
    return {f"{ASSIGNMENT}.ipynb": json.dumps(nb, indent=1, ensure_ascii=False).encode()}


def build(name: str, ctx) -> dict[str, bytes]:
    ok = _correct(ctx)
    overrides = {
        "honest_full": {},
        "calls_mlp": {"network_loss": _LOSS_MLP},
        "two_layers_only": {"network_forward": _FORWARD_2, "network_loss": _LOSS_2},
        "zero_init_always": {"init_params": _INIT_ZEROS},
        "reseeds_each_layer": {"init_params": _INIT_RESEED},
        "dense_for_init": {"init_params": _INIT_DENSE},
        "fake_overfit": {"overfit_small_batch": _FAKE_OVERFIT},
        "exit_in_overfit": {"overfit_small_batch": _EXIT_OVERFIT},
    }
    if name == "untouched":
        return _file(copy.deepcopy(ctx["release"]))
    return _file(_nb(ctx, {**ok, **overrides[name]}))
