"""The bad-input battery: every public nnkit entry point, a good call, and what each argument is.

One declaration (``SPECS``) from which both the probe (``python -m tests._input_battery``, a table of
outcome classes) and tests/test_bad_input.py (one parametrized case per callable x bad value) derive.
An argument's *kind* says which bad values it gets (:data:`BAD`): a float matrix gets 1-D, 3-D,
scalar, None, str, object, complex, ragged lists, NaN and inf; labels get out-of-range, negative,
fractional, NaN, str and wrongly shaped values; sizes get 0, negatives, fractions, strings and bools;
names get unknown names, None and numbers. A bad value must raise ValueError or TypeError whose
message names the argument (``names``: the words any of which may stand for it, e.g. both ``X`` and
``y`` for a row-count mismatch).

The legit-but-unusual inputs (:data:`LEGIT`: lists of lists, float32, every integer label dtype, a batch
of one, a single class) must give the result of the canonical input.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

import nnkit
from nnkit import activations, autograd, data, functional, gradcheck, grading, layers, losses, optim, train
from nnkit.models import MLP, MulticlassPerceptron, Perceptron, SoftmaxRegression

RNG = np.random.default_rng(0)
N, D, C = 6, 4, 3
X = RNG.standard_normal((N, D))
Y = np.array([0, 1, 2, 0, 1, 2])
IDX_FILE = __import__("tempfile").mkstemp(suffix=".idx")[1]
with open(IDX_FILE, "wb") as _f:
    _f.write(bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 7, 9]))           # a valid IDX file: uint8 [7, 9]
S = np.array([1, -1, 1, -1, 1, 1])
P = np.full((N, C), 1 / C)


def _nan(a):
    a = np.array(a, dtype=np.float64, copy=True)
    a.flat[a.size // 2] = np.nan
    return a


def _inf(a):
    a = np.array(a, dtype=np.float64, copy=True)
    a.flat[0] = np.inf
    return a


def _ragged(a):
    rows = np.asarray(a).tolist()
    if isinstance(rows, list) and rows and isinstance(rows[0], list):
        return [rows[0], rows[1][:-1], *rows[2:]]
    return [rows[:1], rows] if isinstance(rows, list) and len(rows) > 1 else [[1.0], [1.0, 2.0]]


def _common(a):
    """Bad values for any numeric array argument."""
    a = np.asarray(a)
    return {
        "None": None,
        "str": "abc",
        "object array": np.array([object()] * max(a.size, 1), dtype=object).reshape(a.shape or (1,)),
        "str array": np.full(a.shape or (1,), "x"),
        "complex": np.asarray(a, dtype=np.complex128) + 1j,
        "ragged list": _ragged(a),
        "NaN": _nan(a),
        "inf": _inf(a),
    }


def _matrix(a):
    """A float (N, D) array."""
    a = np.asarray(a, dtype=np.float64)
    return {**_common(a), "1-D": a[0], "3-D": a[None], "scalar": 1.5}


def _rows(a):
    """A matrix whose row count is tied to another argument, and whose columns are fixed."""
    a = np.asarray(a, dtype=np.float64)
    return {**_matrix(a), "one row short": a[:-1], "one column more": np.hstack([a, a[:, :1]]),
            "0 rows": a[:0]}


def _labels(y, n_classes=C):
    y = np.asarray(y)
    out = {**{k: v for k, v in _common(y).items() if k not in ("NaN", "inf")},
           "out of range": np.where(np.arange(y.size) == 1, n_classes, y),
           "negative": np.where(np.arange(y.size) == 1, -1, y),
           "fractional": y + 0.5, "NaN": _nan(y), "inf": _inf(y),
           "2-D (N, 2)": np.stack([y, y], axis=1), "scalar": 1, "one short": y[:-1],
           "bool of wrong meaning": np.full(y.shape, "1")}
    out["column (N, 1)"] = y[:, None]
    return out


def _signs(y):
    y = np.asarray(y)
    return {**_common(y), "0/1 labels": (y > 0).astype(int), "2": np.where(y > 0, 2, -1),
            "2-D": y[:, None].repeat(2, axis=1), "one short": y[:-1], "scalar": 1}


def _count(v):
    return {"0": 0, "-1": -1, "1.5": 1.5, "str": "3", "None": None, "bool": True, "nan": np.nan}


def _positive(v):
    return {"0": 0.0, "-0.1": -0.1, "nan": np.nan, "inf": np.inf, "str": "0.1", "None": None,
            "bool": True, "array": np.array([0.1, 0.2]), "complex": 1 + 1j}


def _nonnegative(v):
    return {"-0.1": -0.1, "nan": np.nan, "inf": np.inf, "str": "0.1", "None": None, "bool": True,
            "array": np.array([0.1, 0.2])}


def _probability(v):
    return {"-0.1": -0.1, "1": 1.0, "1.5": 1.5, "nan": np.nan, "str": "0.5", "None": None, "bool": True}


def _name(v):
    return {"unknown": "no_such_thing", "None": None, "int": 3, "list": [v]}


def _seed(v):
    return {"str": "abc", "float": 1.5, "object": object()}


def _flag(v):
    return {"str": "yes", "None": None, "int 2": 2}


def _callable(v):
    return {"int": 3, "None": None, "str": "f"}


def _dict_params(v):
    return {"None": None, "list": [np.zeros(2)], "empty": {}, "str values": {"W1": "abc"},
            "NaN values": {"W1": np.array([np.nan])}}


def _cache(v):
    other = functional.dropout_forward(X, 0.5, False)[1]
    return {"None": None, "str": "cache", "empty tuple": (), "another pair's cache": other,
            "a dict": {"x": X}}


def _layers(v):
    return {"None": None, "an int": 3, "a function": np.tanh, "an optimizer class": optim.SGD}


def _other(v):
    """The other operand of a Tensor operation."""
    return {"str": "abc", "None": None, "ragged list": [[1.0], [1.0, 2.0]], "object": object(),
            "wrong shape": np.ones(D + 1), "complex": 1j * np.ones(D)}


#: kind -> bad values for an argument of that kind, given its good value
BAD: dict[str, Callable] = {
    "array": _common, "matrix": _matrix, "rows": _rows, "labels": _labels, "signs": _signs,
    "count": _count, "positive": _positive, "nonnegative": _nonnegative, "probability": _probability,
    "name": _name, "seed": _seed, "flag": _flag, "callable": _callable, "params": _dict_params,
    "cache": _cache, "layer": _layers, "operand": _other,
}


@dataclass
class Spec:
    """One public entry point: ``call(**args)`` with ``good`` args works; ``kinds`` says what each is."""

    label: str
    call: Callable
    good: dict
    kinds: dict
    names: dict = field(default_factory=dict)     # arg -> extra words that may name it in a message
    skip: dict = field(default_factory=dict)      # arg -> bad-value labels that are legitimate here

    def bad_cases(self):
        for arg, kind in self.kinds.items():
            for what, value in BAD[kind](self.good[arg]).items():
                if what in self.skip.get(arg, ()):
                    continue
                yield arg, what, value

    def run(self, **override):
        return self.call(**{**self.good, **override})


def _mlp(**kw):
    return MLP([D, 5, C], seed=0, **kw)


def _fitted_mlp():
    m = _mlp()
    m.loss(X, Y)
    return m


def _forwarded_mlp():
    m = _mlp()
    m.forward(X)
    return m


def _forwarded(layer, x):
    layer.forward(x)
    return layer


def _perceptron():
    p = Perceptron()
    p.fit(X, S)
    return p


def _mperceptron():
    p = MulticlassPerceptron(D, C)
    p.fit(X, Y)
    return p


def _fit(model=None, X=X, y=Y, **kw):
    model = _mlp() if model is None else model
    opt = optim.SGD(model.params, lr=0.1)
    return train.fit(model, X, y, kw.pop("optimizer", opt), progress=False, **kw)


_MODEL = object()


def _sgd(params=_MODEL, **kw):
    params = _mlp().params if params is _MODEL else params
    return optim.SGD(params, **kw)


def _step(grads):
    m = _mlp()
    opt = optim.SGD(m.params, lr=0.1)
    opt.step(grads)


def _good_grads():
    m = _mlp()
    return {k: np.zeros_like(v) for k, v in m.params.items()}


def _dense_cache():
    return functional.dense_forward(X, np.ones((D, C)), np.zeros(C))[1]


_ROWS_XY = {"X": ("X", "y"), "y": ("X", "y")}
_BATCH_ONE = ("one row short",)

SPECS: list[Spec] = [
    # ---------------------------------------------------------------- activations
    *[Spec(f"activations.{name}", getattr(activations, name), {"z": X}, {"z": "array"})
      for name in activations.NAMES],
    *[Spec(f"activations.{name}_grad", getattr(activations, f"{name}_grad"), {"z": X}, {"z": "array"})
      for name in activations.NAMES],
    Spec("activations.leaky_relu(slope)", activations.leaky_relu, {"z": X, "slope": 0.1},
         {"slope": "nonnegative"}, skip={"slope": ("-0.1",)}),
    Spec("activations.elu(alpha)", activations.elu, {"z": X, "alpha": 1.0}, {"alpha": "nonnegative"}),
    Spec("activations.softmax", activations.softmax, {"z": X}, {"z": "matrix"},
         skip={"z": ("1-D", "3-D")}),
    Spec("activations.log_softmax", activations.log_softmax, {"z": X}, {"z": "matrix"},
         skip={"z": ("1-D", "3-D")}),
    Spec("activations.get", activations.get, {"name": "relu"}, {"name": "name"},
         names={"name": ("activation",)}),
    # ---------------------------------------------------------------- functional
    Spec("functional.dense_forward", functional.dense_forward,
         {"x": X, "W": np.ones((D, C)), "b": np.zeros(C)}, {"x": "matrix", "W": "matrix", "b": "array"},
         names={"x": ("W",), "W": ("x",), "b": ("W",)}),
    Spec("functional.dense_backward", functional.dense_backward,
         {"dout": np.ones((N, C)), "cache": _dense_cache()}, {"dout": "rows"}, skip={"dout": ()}),
    *[Spec(f"functional.{name}_forward", getattr(functional, f"{name}_forward"), {"x": X}, {"x": "array"})
      for name in activations.NAMES],
    Spec("functional.relu_backward", functional.relu_backward,
         {"dout": np.ones((N, D)), "cache": functional.relu_forward(X)[1]}, {"dout": "rows"}),
    *[Spec(f"functional.{fn.__name__}(cache)", fn, {"dout": np.ones((N, D)), "cache": cache},
           {"cache": "cache"})
      for fn, cache in ((functional.relu_backward, functional.relu_forward(X)[1]),
                        (functional.dense_backward, functional.dense_forward(X, np.eye(D), np.zeros(D))[1]),
                        (functional.softmax_backward, functional.softmax_forward(X)[1]),
                        (functional.activation_backward, functional.activation_forward(X, "tanh")[1]))],
    Spec("functional.dropout_backward(cache)", functional.dropout_backward,
         {"dout": np.ones((N, D)), "cache": functional.dropout_forward(X, 0.5, True, 0)[1]},
         {"cache": "cache"}, skip={"cache": ("another pair's cache",)}),
    Spec("functional.softmax_forward", functional.softmax_forward, {"x": X}, {"x": "matrix"},
         skip={"x": ("1-D", "3-D")}),
    Spec("functional.activation_forward", functional.activation_forward, {"x": X, "name": "tanh"},
         {"x": "array", "name": "name"}, names={"name": ("activation",)}),
    Spec("functional.dropout_forward", functional.dropout_forward,
         {"x": X, "p": 0.5, "train": True, "rng": 0},
         {"x": "array", "p": "probability", "train": "flag", "rng": "seed"}),
    Spec("functional.l2_penalty", functional.l2_penalty, {"params": {"W1": X}, "lam": 0.1},
         {"params": "params", "lam": "nonnegative"}, skip={"params": ("empty",)}),
    Spec("functional.l1_penalty", functional.l1_penalty, {"params": {"W1": X}, "lam": 0.1},
         {"params": "params", "lam": "nonnegative"}, skip={"params": ("empty",)}),
    # ---------------------------------------------------------------- losses
    Spec("losses.mse", losses.mse, {"pred": X, "target": X}, {"pred": "array", "target": "rows"},
         names={"target": ("pred",)}),
    Spec("losses.mae", losses.mae, {"pred": X, "target": X}, {"pred": "array", "target": "rows"},
         names={"target": ("pred",)}),
    Spec("losses.softmax_cross_entropy", losses.softmax_cross_entropy, {"scores": X[:, :C], "y": Y},
         {"scores": "rows", "y": "labels"}, names={"y": ("scores",), "scores": ("y",)},
         skip={"scores": ("one column more",)}),
    Spec("losses.softmax_cross_entropy(probabilities)", losses.softmax_cross_entropy,
         {"scores": X[:, :C], "y": P}, {"y": "rows"}, names={"y": ("scores",)}),
    Spec("losses.hinge", losses.hinge, {"scores": X[:, :C], "y": Y}, {"scores": "rows", "y": "labels"},
         names={"y": ("scores",), "scores": ("y",)}, skip={"scores": ("one column more", "1-D")}),
    Spec("losses.hinge(binary)", losses.hinge, {"scores": X[:, 0], "y": S}, {"y": "signs"},
         names={"y": ("scores",)}),
    Spec("losses.zero_one", losses.zero_one, {"scores": X[:, :C], "y": Y}, {"scores": "rows", "y": "labels"},
         names={"y": ("scores",), "scores": ("y",)}, skip={"scores": ("one column more", "1-D")}),
    Spec("losses.binary_cross_entropy", losses.binary_cross_entropy, {"logits": X, "y": (X > 0) * 1.0},
         {"logits": "array", "y": "rows"}, names={"y": ("logits",)}),
    Spec("losses.kl_divergence", losses.kl_divergence, {"p": P, "q": P}, {"p": "matrix", "q": "rows"},
         names={"q": ("p",), "p": ("q",)}, skip={"p": ("1-D",), "q": ("1-D",)}),
    # ---------------------------------------------------------------- layers
    Spec("layers.Dense", layers.Dense, {"d_in": D, "d_out": C}, {"d_in": "count", "d_out": "count"}),
    Spec("layers.Dense(init)", layers.Dense, {"d_in": D, "d_out": C, "init": "he"}, {"init": "name"}),
    Spec("layers.Dense.forward", lambda x: layers.Dense(D, C).forward(x), {"x": X}, {"x": "rows"},
         names={"x": ("W",)}, skip={"x": ("one row short", "0 rows")}),
    Spec("layers.Dense.backward", lambda dout: _forwarded(layers.Dense(D, C), X).backward(dout),
         {"dout": np.ones((N, C))}, {"dout": "rows"}),
    Spec("layers.Sequential", lambda layer: layers.Sequential(layers.Dense(D, 3), layer),
         {"layer": layers.ReLU()}, {"layer": "layer"}, names={"layer": ("layers[1]",)}),
    Spec("layers.Dropout.forward", lambda x, train: layers.Dropout(0.5).forward(x, train),
         {"x": X, "train": True}, {"x": "array", "train": "flag"}),
    Spec("layers.ReLU.forward", lambda x: layers.ReLU().forward(x), {"x": X}, {"x": "array"}),
    Spec("layers.Activation", layers.Activation, {"name": "relu"}, {"name": "name"},
         names={"name": ("activation",)}),
    Spec("layers.Dropout", layers.Dropout, {"p": 0.5}, {"p": "probability"}),
    Spec("layers.stack", layers.stack, {"layer_sizes": [D, 5, C], "activation": "relu", "dropout": 0.0},
         {"activation": "name", "dropout": "probability"}),
    Spec("layers.init_for", layers.init_for, {"activation": "relu"}, {"activation": "name"}),
    # ---------------------------------------------------------------- models
    Spec("models.MLP", _mlp,
         {"activation": "relu", "output": "softmax", "dropout": 0.0, "l2": 0.0, "l1": 0.0},
         {"activation": "name", "output": "name", "dropout": "probability", "l2": "nonnegative",
          "l1": "nonnegative"}),
    Spec("models.MLP(loss)", _mlp, {"loss": "cross_entropy"}, {"loss": "name"}, skip={"loss": ("None",)}),
    Spec("models.MLP(seed)", _mlp, {}, {}),
    Spec("models.MLP.forward", lambda X: _mlp().forward(X), {"X": X}, {"X": "rows"},
         skip={"X": ("one row short", "0 rows")}),
    Spec("models.MLP.loss", lambda X, y: _mlp().loss(X, y), {"X": X, "y": Y}, {"X": "rows", "y": "labels"},
         names=_ROWS_XY),
    Spec("models.MLP.evaluate", lambda X, y: _mlp().evaluate(X, y), {"X": X, "y": Y},
         {"X": "rows", "y": "labels"}, names=_ROWS_XY),
    Spec("models.MLP.validate", lambda X, y: _mlp().validate(X, y), {"X": X, "y": Y},
         {"X": "rows", "y": "labels"}, names=_ROWS_XY),
    Spec("models.MLP.score", lambda X, y: _mlp().score(X, y), {"X": X, "y": Y},
         {"X": "rows", "y": "labels"}, names=_ROWS_XY),
    Spec("models.MLP.predict", lambda X: _mlp().predict(X), {"X": X}, {"X": "rows"},
         skip={"X": ("one row short", "0 rows")}),
    Spec("models.MLP.predict_proba", lambda X: _mlp().predict_proba(X), {"X": X}, {"X": "rows"},
         skip={"X": ("one row short", "0 rows")}),
    Spec("models.MLP.backward", lambda dout: _forwarded_mlp().backward(dout), {"dout": np.ones((N, C))},
         {"dout": "rows"}),
    Spec("models.SoftmaxRegression", SoftmaxRegression, {"n_features": D, "n_classes": C, "l2": 0.0},
         {"n_features": "count", "n_classes": "count", "l2": "nonnegative"}),
    Spec("models.Perceptron", Perceptron, {"lr": 1.0, "seed": None}, {"lr": "positive", "seed": "seed"}),
    Spec("models.Perceptron.fit", lambda X, y, epochs: Perceptron().fit(X, y, epochs),
         {"X": X, "y": S, "epochs": 3}, {"X": "rows", "y": "signs", "epochs": "count"},
         names=_ROWS_XY, skip={"X": ("one column more",)}),
    Spec("models.Perceptron.predict", lambda X: _perceptron().predict(X), {"X": X}, {"X": "rows"},
         skip={"X": ("one row short", "0 rows")}),
    Spec("models.Perceptron.score", lambda X, y: _perceptron().score(X, y), {"X": X, "y": S},
         {"X": "rows", "y": "signs"}, names=_ROWS_XY),
    Spec("models.Perceptron.update", lambda x_i, y_i: _perceptron().update(x_i, y_i),
         {"x_i": X[0], "y_i": 1}, {"x_i": "array"}),
    Spec("models.MulticlassPerceptron", MulticlassPerceptron, {"n_features": D, "n_classes": C, "lr": 1.0},
         {"n_features": "count", "n_classes": "count", "lr": "positive"}),
    Spec("models.MulticlassPerceptron.fit", lambda X, y: MulticlassPerceptron(D, C).fit(X, y),
         {"X": X, "y": Y}, {"X": "rows", "y": "labels"}, names=_ROWS_XY),
    Spec("models.MulticlassPerceptron.score", lambda X, y: _mperceptron().score(X, y), {"X": X, "y": Y},
         {"X": "rows", "y": "labels"}, names=_ROWS_XY),
    # ---------------------------------------------------------------- optim
    Spec("optim.SGD", _sgd, {"lr": 0.1, "momentum": 0.0}, {"lr": "positive", "momentum": "probability"}),
    Spec("optim.SGD(params)", _sgd, {"params": {"W": np.zeros(2)}, "lr": 0.1}, {"params": "params"}),
    Spec("optim.Adam", lambda **kw: optim.Adam(_mlp().params, **kw),
         {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8},
         {"lr": "positive", "beta1": "probability", "beta2": "probability", "eps": "nonnegative"}),
    Spec("optim.SGD.step", _step, {"grads": _good_grads()}, {"grads": "params"},
         skip={"grads": ("NaN values",)}),
    *[Spec(f"optim.{name}_step", optim.RULES[name], {"x": np.ones(2), "dx": np.ones(2), "lr": 0.1},
           {"x": "array", "dx": "array", "lr": "positive"}, names={"dx": ("x",), "x": ("dx",)})
      for name in ("sgd", "adam")],
    # ---------------------------------------------------------------- gradcheck
    Spec("gradcheck.numerical_gradient", gradcheck.numerical_gradient,
         {"f": lambda v: float(np.sum(v * v)), "x": np.ones(3), "h": 1e-5},
         {"f": "callable", "h": "positive"}),
    Spec("gradcheck.numerical_gradient_array", gradcheck.numerical_gradient_array,
         {"f": lambda v: v * v, "x": np.ones(3), "dout": np.ones(3)}, {"dout": "array"}),
    Spec("gradcheck.rel_error", gradcheck.rel_error, {"a": X, "b": X}, {"a": "array", "b": "rows"},
         names={"a": ("b",), "b": ("a",)}),
    Spec("gradcheck.check_gradients", lambda X, y, h: gradcheck.check_gradients(_mlp(), X, y, h),
         {"X": X, "y": Y, "h": 1e-5}, {"X": "rows", "y": "labels", "h": "positive"}, names=_ROWS_XY),
    # ---------------------------------------------------------------- autograd
    Spec("autograd.Tensor", autograd.Tensor, {"data": X}, {"data": "array"},
         skip={"data": ("NaN", "inf")}),
    Spec("autograd.Tensor.backward", lambda grad: (autograd.Tensor(X) * 2).backward(grad),
         {"grad": np.ones((N, D))}, {"grad": "rows"}, skip={"grad": ("None",)}),
    *[Spec(f"autograd.Tensor {sym} other", lambda other, op=op: op(autograd.Tensor(X), other),
           {"other": np.ones(D)}, {"other": "operand"}, names={"other": ("data", sym, "matmul")})
      for sym, op in (("+", lambda a, b: a + b), ("-", lambda a, b: a - b), ("*", lambda a, b: a * b),
                      ("/", lambda a, b: a / b), ("@", lambda a, b: a @ b))],
    Spec("autograd.trace", autograd.trace, {"root": autograd.Tensor(1.0)}, {"root": "callable"}),
    # ---------------------------------------------------------------- train
    Spec("train.fit", _fit, {"X": X, "y": Y, "epochs": 2, "batch_size": 2},
         {"X": "rows", "y": "labels", "epochs": "count", "batch_size": "count"}, names=_ROWS_XY),
    Spec("train.fit(seed)", _fit, {"seed": 0}, {"seed": "seed"}),
    Spec("train.fit(early_stopping)", _fit, {"X_val": X, "y_val": Y, "early_stopping": 2},
         {"X_val": "rows", "y_val": "labels", "early_stopping": "count"}, skip={"early_stopping": ("None",)},
         names={"X_val": ("y_val",), "y_val": ("X_val",)}),
    Spec("train.fit(callback)", _fit, {"callback": lambda e, h: False}, {"callback": "callable"},
         skip={"callback": ("None",)}),
    # ---------------------------------------------------------------- data
    *[Spec(f"data.{fn}", getattr(data, fn), {"n": 40, "seed": 0}, {"n": "count", "seed": "seed"})
      for fn in ("blobs", "moons", "circles", "spirals", "linearly_separable", "motorcycle")],
    Spec("data.xor", data.xor, {"n": 8, "noise": 0.1}, {"n": "count", "noise": "nonnegative"},
         skip={"n": ("None",)}),
    Spec("data.moons(noise)", data.moons, {"noise": 0.1}, {"noise": "nonnegative"}),
    Spec("data.target", data.target, {"name": "sin"}, {"name": "name"}),
    Spec("data.target(name)(x)", lambda x: data.target("sin")(x), {"x": np.linspace(-1, 1, 5)},
         {"x": "array"}, skip={"x": ("NaN", "inf")}),
    Spec("data.blobs(centers)", data.blobs, {"n": 30, "centers": np.zeros((3, 2))}, {"centers": "matrix"},
         skip={"centers": ("scalar",)}),
    Spec("data.target_function", data.target_function, {"name": "sin", "n": 10},
         {"name": "name", "n": "count"}),
    Spec("data.motorcycle_curve", data.motorcycle_curve, {"t": np.linspace(0, 50, 5)}, {"t": "array"},
         skip={"t": ("NaN", "inf")}),
    Spec("data.one_hot", data.one_hot, {"y": Y, "n_classes": C}, {"y": "labels", "n_classes": "count"},
         skip={"y": ("one short",), "n_classes": ("None",)}),
    Spec("data.train_test_split", data.train_test_split, {"X": X, "y": Y, "test_size": 0.5},
         {"X": "rows", "y": "labels", "test_size": "probability"}, names=_ROWS_XY,
         skip={"X": ("NaN", "inf", "one column more", "3-D", "complex", "object array", "str array"),
               "y": ("out of range", "negative", "fractional", "NaN", "inf", "2-D (N, 2)", "column (N, 1)",
                     "complex", "object array", "str array", "bool of wrong meaning")}),
    Spec("data.standardize", data.standardize, {"X": X}, {"X": "matrix"}),
    Spec("data.standardize(mean, std)", data.standardize, {"X": X, "mean": np.zeros(D), "std": np.ones(D)},
         {"mean": "array", "std": "array"}, names={"mean": ("std",), "std": ("mean",)}),
    Spec("data.read_idx", data.read_idx, {"path": IDX_FILE}, {"path": "callable"}, skip={"path": ("str",)}),
    Spec("data.load_mnist(kind)", data.mnist.default_cache_dir, {"kind": "mnist"}, {"kind": "name"}),
    # ---------------------------------------------------------------- grading
]


# --------------------------------------------------------------------------------------------------
# legit but unusual: each must give the canonical input's result

def _labels_as(dtype):
    return Y.astype(dtype)


@dataclass
class Legit:
    label: str
    canonical: Callable
    unusual: Callable
    rtol: float = 1e-12


def _loss(X_, y_):
    return _mlp().loss(X_, y_)[0]


def _loss32(X_, y_):
    return _mlp(dtype=np.float32).loss(X_, y_)[0]


LEGIT: list[Legit] = [
    Legit("MLP.loss on a list of lists", lambda: _loss(X, Y), lambda: _loss(X.tolist(), Y.tolist())),
    Legit("MLP.loss on float32 X", lambda: _loss32(X.astype(np.float32), Y), lambda: _loss32(X, Y), 1e-6),
    *[Legit(f"MLP.loss with {dt} labels", lambda: _loss(X, Y), lambda dt=dt: _loss(X, _labels_as(dt)))
      for dt in ("int8", "uint8", "int16", "uint16", "int32", "uint32", "uint64", "intp")],
    Legit("MLP.loss on a batch of 1", lambda: _mlp().loss(X[:1], Y[:1])[0],
          lambda: _mlp().loss(X[0:1].tolist(), [int(Y[0])])[0]),
    Legit("MLP.loss with a single class present", lambda: _loss(X, np.zeros(N, int)),
          lambda: _loss(X, np.zeros(N, np.uint8))),
    Legit("fit with uint8 labels", lambda: _fit(y=Y).loss, lambda: _fit(y=Y.astype(np.uint8)).loss),
    Legit("fit on lists", lambda: _fit().loss, lambda: _fit(X=X.tolist(), y=Y.tolist()).loss),
    Legit("fit with batch_size > N", lambda: _fit(batch_size=N).loss, lambda: _fit(batch_size=10 * N).loss),
    Legit("MLP with layer_sizes an array", lambda: MLP([D, 5, C]).n_params,
          lambda: MLP(np.array([D, 5, C])).n_params),
    Legit("MLP with layer_sizes a range", lambda: MLP([2, 3, 4]).n_params, lambda: MLP(range(2, 5)).n_params),
    Legit("softmax_cross_entropy with int16 labels", lambda: losses.softmax_cross_entropy(X[:, :C], Y)[0],
          lambda: losses.softmax_cross_entropy(X[:, :C], Y.astype(np.int16))[0]),
    Legit("softmax_cross_entropy with float whole labels",
          lambda: losses.softmax_cross_entropy(X[:, :C], Y)[0],
          lambda: losses.softmax_cross_entropy(X[:, :C], Y.astype(float))[0]),
    Legit("MLP.score with uint8 labels", lambda: _fitted_mlp().score(X, Y),
          lambda: _fitted_mlp().score(X, Y.astype(np.uint8))),
    Legit("Perceptron.fit on lists", lambda: Perceptron().fit(X, S),
          lambda: Perceptron().fit(X.tolist(), list(S))),
    Legit("one_hot of int8 labels", lambda: data.one_hot(Y), lambda: data.one_hot(Y.astype(np.int8))),
    Legit("standardize float32", lambda: data.standardize(X.astype(np.float32))[0],
          lambda: data.standardize(X.astype(np.float32).tolist())[0].astype(np.float32), 1e-5),
    Legit("dense_forward on a batch of 1",
          lambda: functional.dense_forward(X[:1], np.ones((D, C)), np.zeros(C))[0],
          lambda: functional.dense_forward(X[:1].tolist(), np.ones((D, C)).tolist(), [0.0] * C)[0]),
]


# --------------------------------------------------------------------------------------------------
# the probe

CLEAR, UNCLEAR, SILENT, HANG = "clear", "unclear", "silent", "hang"


class _Timeout(Exception):
    pass


def _alarm(*_):
    raise _Timeout


def outcome(spec: Spec, arg: str, value, seconds: int = 5) -> tuple[str, str]:
    """(class, detail) of calling ``spec`` with ``arg`` replaced by ``value``."""
    import warnings

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(seconds)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec.run(**{arg: value})
    except _Timeout:
        return HANG, f"no answer in {seconds} s"
    except (ValueError, TypeError) as exc:
        words = (arg, *spec.names.get(arg, ()))
        msg = str(exc)
        if any(w in msg for w in words):
            return CLEAR, f"{type(exc).__name__}: {msg[:110]}"
        return UNCLEAR, f"{type(exc).__name__} not naming {arg}: {msg[:110]}"
    except Exception as exc:  # noqa: BLE001 - classifying every failure is the point
        return UNCLEAR, f"{type(exc).__name__}: {str(exc)[:110]}"
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return SILENT, "returned without an error"


def legit_outcome(case: Legit) -> tuple[str, str]:
    try:
        want = case.canonical()
        got = case.unusual()
    except Exception as exc:  # noqa: BLE001
        return "broken", f"{type(exc).__name__}: {str(exc)[:120]}"
    if np.allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=case.rtol, atol=0):
        return "ok", ""
    return "different", f"{got!r} vs {want!r}"


def main(argv=None):
    import argparse
    from collections import Counter

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--all", action="store_true", help="print every case, not only the unclear/silent ones")
    args = ap.parse_args(argv)
    counts: Counter = Counter()
    per_module: dict = {}
    for spec in SPECS:
        try:
            spec.run()                                 # the good call must work
        except Exception as exc:  # noqa: BLE001
            print(f"BROKEN SPEC {spec.label}: {type(exc).__name__}: {exc}")
            continue
        for arg, what, value in spec.bad_cases():
            cls, detail = outcome(spec, arg, value)
            counts[cls] += 1
            mod = spec.label.split(".")[0]
            per_module.setdefault(mod, Counter())[cls] += 1
            if args.all or cls != CLEAR:
                print(f"{cls:8} {spec.label} {arg}={what}: {detail}")
    legit = Counter()
    for case in LEGIT:
        cls, detail = legit_outcome(case)
        legit[cls] += 1
        if args.all or cls != "ok":
            print(f"{cls:8} LEGIT {case.label}: {detail}")
    print()
    print(f"{'module':14}" + "".join(f"{c:>9}" for c in (CLEAR, UNCLEAR, SILENT, HANG)))
    for mod, c in sorted(per_module.items()):
        print(f"{mod:14}" + "".join(f"{c[k]:>9}" for k in (CLEAR, UNCLEAR, SILENT, HANG)))
    print(f"{'total':14}" + "".join(f"{counts[k]:>9}" for k in (CLEAR, UNCLEAR, SILENT, HANG)))
    print("legit-but-unusual:", dict(legit))


if __name__ == "__main__":
    main()

_ = (nnkit, grading)
