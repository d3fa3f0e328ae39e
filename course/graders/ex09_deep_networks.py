"""Trusted grader of ex09_deep_networks: initialization, forward/backward of an L-layer network, layer
statistics at initialization, and the overfit-one-small-batch sanity check.

Every case is a fresh random network (depth 1 to 5, random widths and hidden activation) and batch. The
references are nnkit's: initialization draws ``nnkit.layers.Dense(d_in, d_out, init=scheme, seed=rng)``
layer after layer from one ``default_rng(seed)`` (the recipe the exercise prescribes); forward, loss and
gradients come from ``nnkit.models.MLP(sizes, activation, output="softmax")`` carrying the case's
parameters (copied into its layers' arrays in place); the hidden activations for the statistics are read
from its layers one by one. The sanity check is judged on what came back: the trusted MLP evaluates the
returned parameters on the batch (loss < 0.05, every example right), and the first recorded loss must be
the loss of the prescribed initialization.
"""

from __future__ import annotations

import numpy as np

from nnkit.course.spec import Case, Environment, Part, close_to
from nnkit.grading import compare
from nnkit.layers import Activation, Dense
from nnkit.models import MLP

# What the sandbox holds of nnkit while this is graded: nothing beyond nnkit.grading. The answers use
# numpy and the layer functions the notebook itself gives; nnkit.layers, nnkit.models and
# nnkit.gradcheck, which the set-up cell imports for the test cells, hold what the parts forbid (Dense,
# MLP, numerical_gradient), so they are withheld (the set-up cell's other statements still run).
ENVIRONMENT = Environment()

ACTIVATIONS = ("relu", "tanh", "sigmoid")
SCHEMES = ("zeros", "normal", "xavier", "he")


def _sizes(rng, max_depth=5):
    depth = int(rng.integers(1, max_depth + 1))
    return [int(v) for v in rng.integers(1, 8, size=depth)] + [int(rng.integers(2, 6))]


def _name(sizes):
    return "-".join(map(str, sizes))


def _random_params(rng, sizes):
    params = {}
    for l, (d_in, d_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{l}"] = rng.normal(scale=float(rng.uniform(0.3, 1.5)), size=(d_in, d_out))
        params[f"b{l}"] = rng.normal(scale=0.5, size=d_out)
    return params


def _net(params, activation):
    n_layers = len(params) // 2
    sizes = [params["W1"].shape[0]] + [params[f"W{l}"].shape[1] for l in range(1, n_layers + 1)]
    net = MLP(sizes, activation=activation, output="softmax")
    for k, v in params.items():  # in place: net.params holds the layers' own arrays
        net.params[k][...] = v
    return net


def _network_cases(rng):
    cases = []
    for act in (*ACTIVATIONS, str(rng.choice(ACTIVATIONS))):
        sizes = _sizes(rng)
        n = int(rng.integers(1, 9))
        X, y = rng.normal(size=(n, sizes[0])), rng.integers(0, sizes[-1], size=n)
        cases.append(Case((_random_params(rng, sizes), X, y, act),
                          label=f"a {_name(sizes)} {act} network, batch of {n}"))
    return cases


# ----------------------------------------------------------------------------- initialization

def _ref_init(layer_sizes, scheme="he", seed=0):
    rng = np.random.default_rng(seed)
    params = {}
    for l, (d_in, d_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:]), start=1):
        if scheme == "zeros":
            W = np.zeros((d_in, d_out))
        else:
            W = Dense(d_in, d_out, init=scheme, seed=rng).params["W"]
        params[f"W{l}"], params[f"b{l}"] = W, np.zeros(d_out)
    return params


def _init_cases(rng):
    cases = []
    for scheme in (*SCHEMES, str(rng.choice(SCHEMES[1:]))):
        sizes, seed = _sizes(rng), int(rng.integers(2**31))
        cases.append(Case((sizes, scheme, seed), label=f"{_name(sizes)}, {scheme!r}, seed {seed}"))
    return cases


# ----------------------------------------------------------------------------- forward and loss

def _check_forward(case: Case, got):
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "network_forward must return (scores, caches)"
    params, X, act = case.args
    why = compare(got[0], _net(params, act).forward(X))
    if why:
        return f"the scores: {why}"
    if not isinstance(got[1], (tuple, list)) or len(got[1]) < len(params) // 2:
        return "caches: expected a list holding at least one cache per dense layer"
    return None


def _forward_cases(rng):
    return [Case((c.args[0], c.args[1], c.args[3]), label=c.label) for c in _network_cases(rng)]


def _ref_loss(params, X, y, activation="relu"):
    loss, grads = _net(params, activation).loss(X, y)
    return loss, {k: np.array(v) for k, v in grads.items()}


# ----------------------------------------------------------------------------- statistics

def _ref_statistics(params, X, y, activation="relu"):
    net = _net(params, activation)
    a, act_stds = np.asarray(X, dtype=np.float64), []
    for layer in net.layers[:-1]:
        a = layer.forward(a)
        if isinstance(layer, Activation):
            act_stds.append(float(np.std(a)))
    grads = net.loss(X, y)[1]
    return np.array(act_stds), np.array([np.std(grads[f"W{l}"]) for l in range(1, len(params) // 2 + 1)])


def _statistics_cases(rng):
    cases = _network_cases(rng)
    sizes = [int(rng.integers(20, 40))] * 7 + [3]  # a deeper, wider one at a real initialization
    n = int(rng.integers(10, 30))
    params = _ref_init(sizes, "he", int(rng.integers(2**31)))
    cases.append(Case((params, rng.normal(size=(n, sizes[0])), rng.integers(0, 3, size=n), "relu"),
                      label=f"a 7-hidden-layer ReLU network of width {sizes[0]} at He initialization"))
    return cases


# ----------------------------------------------------------------------------- the sanity check

def _overfit_cases(rng):
    cases = []
    for act, lr in (("relu", 0.2), ("tanh", 0.5)):  # each converges to < 0.003 in 600 steps (100 seeds)
        n, d, c = int(rng.integers(10, 21)), int(rng.integers(5, 9)), int(rng.integers(2, 5))
        sizes = [d, int(rng.integers(40, 61)), int(rng.integers(40, 61)), c]
        X, y = rng.normal(size=(n, d)), rng.integers(0, c, size=n)
        seed = int(rng.integers(2**31))
        cases.append(Case((X, y, sizes), {"activation": act, "lr": lr, "steps": 600, "seed": seed},
                          label=f"{n} random examples, {c} classes, a {_name(sizes)} {act} network, "
                                f"seed {seed}"))
    return cases


def _check_overfit(case: Case, got):
    X, y, sizes = case.args
    act, steps, seed = case.kwargs["activation"], case.kwargs["steps"], case.kwargs["seed"]
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "overfit_small_batch must return (params, losses)"
    params, losses = got
    expected = _ref_init(sizes, "he" if act == "relu" else "xavier", seed)
    if not isinstance(params, dict) or set(params) != set(expected):
        return f"params: expected a dict with keys {sorted(expected)}"
    for k, v in expected.items():
        if np.shape(params[k]) != v.shape:
            return f"params[{k!r}]: expected shape {v.shape}, got {np.shape(params[k])}"
    try:
        losses = np.asarray(losses, dtype=np.float64)
    except (TypeError, ValueError):
        return "losses: expected a list of floats"
    if losses.shape != (steps,):
        return f"losses: expected {steps} losses (one per step), got shape {losses.shape}"
    why = compare(losses[0], _net(expected, act).loss(X, y)[0])
    if why:
        scheme = "He" if act == "relu" else "Xavier"
        return f"the first loss is not the loss at {scheme} initialization with seed {seed}: {why}"
    try:
        trained = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    except (TypeError, ValueError):
        return "params: expected arrays of numbers"
    if not all(np.all(np.isfinite(v)) for v in trained.values()):
        return "the trained parameters contain NaN or inf"
    net = _net(trained, act)
    final = net.loss(X, y)[0]
    if not final < 0.05:
        return f"the loss of the returned parameters on the batch is {final:.4f}, not below 0.05"
    wrong = int(np.sum(net.predict(X) != y))
    if wrong:
        return f"{wrong} of {len(y)} examples of the batch are still misclassified"
    return None


_NET_REFS = ("nnkit.models.MLP.loss", "nnkit.models.MLP.forward", "nnkit.models.MLP.backward",
             "nnkit.layers.Sequential.forward", "nnkit.layers.Sequential.backward",
             "nnkit.functional.dense_forward", "nnkit.functional.dense_backward",
             "nnkit.autograd.Tensor.backward")

PARTS = [
    Part("test_init_params", "init_params", _init_cases, close_to(_ref_init, rtol=1e-12, atol=0.0),
         forbidden=("nnkit.layers.Dense", "nnkit.layers.stack"),  # stack also trips MLP(...)
         description="zeros, small normal, Xavier and He initialization drawn from default_rng(seed)"),
    Part("test_network_forward", "network_forward", _forward_cases, _check_forward, forbidden=_NET_REFS,
         description="forward pass over the list of layers: scores and every cache"),
    Part("test_network_loss", "network_loss", _network_cases, close_to(_ref_loss, rtol=1e-6, atol=1e-9),
         forbidden=(*_NET_REFS, "nnkit.gradcheck.numerical_gradient"),
         description="loss and gradients of an L-layer network (backward over the list of layers)"),
    Part("test_layer_statistics", "layer_statistics", _statistics_cases,
         close_to(_ref_statistics, rtol=1e-6, atol=1e-12), forbidden=_NET_REFS,
         description="std of each hidden layer's activations and of each weight gradient"),
    Part("test_overfit_small_batch", "overfit_small_batch", _overfit_cases, _check_overfit,
         forbidden=("nnkit.train.fit", "nnkit.optim.SGD", *_NET_REFS), timeout=60.0,
         description="the sanity check: gradient descent drives the loss on a small batch to ~0"),
]
