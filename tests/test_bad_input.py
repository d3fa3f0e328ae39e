"""Bad input at every public entry point: a ValueError/TypeError naming the argument and the problem.

The cases are derived from tests/_input_battery.py (one declaration of the entry points, their good
calls and what kind each argument is); the same table drives the probe
``python -m tests._input_battery``. Below them: inputs that involve two arguments at once (empty data,
column labels, an optimizer of another model), and the legit-but-unusual inputs that must work.
"""

import numpy as np
import pytest

from nnkit import activations, autograd, data, functional, gradcheck, losses, optim, train
from nnkit.models import MLP, MulticlassPerceptron, Perceptron
from tests import _input_battery as B

CASES = [pytest.param(spec, arg, what, value, id=f"{spec.label}-{arg}={what}")
         for spec in B.SPECS for arg, what, value in spec.bad_cases()]

#: bad value -> words one of which the message must contain (the problem, not only the argument)
PROBLEM = {
    "ragged list": ("different lengths",),
    "complex": ("complex",),
    "NaN": ("NaN", "whole numbers", "finite"),
    "inf": ("inf", "whole numbers", "finite"),
    "out of range": ("out of range",),
    "negative": (">= 0",),
    "fractional": ("whole numbers",),
    "column (N, 1)": ("ravel",),
    "0 rows": ("at least one", "rows", "shape"),
    "one row short": ("rows", "shape"),
    "one column more": ("shape", "match"),
    "str": ("expected",),
    "None": ("expected", "pass both"),
}


@pytest.mark.parametrize("spec", [pytest.param(s, id=s.label) for s in B.SPECS])
def test_the_good_call_works(spec):
    spec.run()


@pytest.mark.parametrize("spec, arg, what, value", CASES)
def test_bad_value_raises_naming_the_argument(spec, arg, what, value):
    with pytest.raises((ValueError, TypeError)) as info:
        spec.run(**{arg: value})
    msg = str(info.value)
    words = (arg, *spec.names.get(arg, ()))
    assert any(w in msg for w in words), f"message does not name {words}: {msg}"
    if what in PROBLEM:
        said = any(w.lower() in msg.lower() for w in PROBLEM[what])
        assert said, f"message does not say {PROBLEM[what]}: {msg}"


def test_every_public_module_is_in_the_battery():
    covered = {spec.label.split(".")[0].split("(")[0] for spec in B.SPECS}
    assert covered >= {"activations", "functional", "losses", "layers", "models", "optim", "gradcheck",
                       "autograd", "train", "data"}


@pytest.mark.parametrize("case", [pytest.param(c, id=c.label) for c in B.LEGIT])
def test_legit_but_unusual_input_gives_the_canonical_result(case):
    want, got = case.canonical(), case.unusual()
    np.testing.assert_allclose(np.asarray(got, dtype=float), np.asarray(want, dtype=float), rtol=case.rtol)


# --------------------------------------------------------------------------------------------------
# two arguments at once

X, Y, S = B.X, B.Y, B.S


def _mlp(**kw):
    return MLP([B.D, 5, B.C], seed=0, **kw)


@pytest.mark.parametrize("call", [
    lambda: _mlp().loss(X[:0], Y[:0]),
    lambda: _mlp().evaluate(X[:0], Y[:0]),
    lambda: _mlp().validate(X[:0], Y[:0]),
    lambda: _mlp().score(X[:0], Y[:0]),
    lambda: B._fit(X=X[:0], y=Y[:0]),
    lambda: B._fit(X_val=X[:0], y_val=Y[:0]),
    lambda: Perceptron().fit(X[:0], S[:0]),
    lambda: Perceptron().fit(X[:, :0], S),
    lambda: B._perceptron().score(X[:0], S[:0]),
    lambda: MulticlassPerceptron(B.D, B.C).fit(X[:0], Y[:0]),
    lambda: B._mperceptron().score(X[:0], Y[:0]),
], ids=["MLP.loss", "MLP.evaluate", "MLP.validate", "MLP.score", "fit", "fit X_val", "Perceptron.fit",
        "Perceptron.fit 0 features", "Perceptron.score", "MulticlassPerceptron.fit",
        "MulticlassPerceptron.score"])
def test_no_examples_is_an_error_not_a_nan(call):
    with pytest.raises(ValueError, match=r"X(_val)?: expected at least one example"):
        call()


def test_an_empty_batch_still_goes_forward():
    # a forward pass over 0 rows has an answer (0 rows of scores), as in PyTorch; only means need rows
    assert _mlp().forward(X[:0]).shape == (0, B.C)
    assert activations.softmax(X[:0]).shape == (0, B.D)


@pytest.mark.parametrize("fn", [activations.softmax, activations.log_softmax,
                                lambda z: functional.softmax_forward(z)[0]])
def test_softmax_needs_a_non_empty_class_axis(fn):
    with pytest.raises(ValueError, match="needs at least one class"):
        fn(X[:, :0])
    with pytest.raises(ValueError, match="class axis"):
        fn(1.5)
    with pytest.raises(ValueError, match=r"axis: expected an int in \[-2, 2\)"):
        activations.softmax(X, axis=2)


@pytest.mark.parametrize("call", [
    lambda: _mlp().loss(X, Y[:, None]),
    lambda: _mlp().score(X, Y[:, None]),
    lambda: losses.softmax_cross_entropy(X[:, :B.C], Y[:, None]),
    lambda: data.one_hot(Y[:, None]),
    lambda: MulticlassPerceptron(B.D, B.C).fit(X, Y[:, None]),
    lambda: Perceptron().fit(X, S[:, None]),
], ids=["MLP.loss", "MLP.score", "softmax_cross_entropy", "one_hot", "MulticlassPerceptron.fit",
        "Perceptron.fit"])
def test_column_labels_for_several_classes_say_ravel(call):
    # (N, 1) labels are not documented where there are several classes: an error that says what to do
    with pytest.raises(ValueError, match=r"y: expected .*\(6, 1\).*y\.ravel\(\)|y\.ravel\(\)"):
        call()


def test_column_targets_of_one_output_are_documented_and_work():
    yb = (Y > 0).astype(int)
    m = MLP([B.D, 3, 1], output="sigmoid", seed=0)
    assert m.loss(X, yb[:, None])[0] == m.loss(X, yb)[0]
    assert m.score(X, yb[:, None]) == m.score(X, yb)


def test_score_checks_labels_as_loss_does():
    m = _mlp()
    with pytest.raises(ValueError, match="y: label 3 out of range for 3 classes"):
        m.score(X, np.where(Y == 2, 3, Y))
    with pytest.raises(ValueError, match="y: labels must be whole numbers"):
        m.score(X, Y + 0.5)
    with pytest.raises(ValueError, match=r"y: expected shape \(6, 3\), got \(6, 2\)"):
        m.score(X, np.eye(2)[Y % 2])
    hinge = MLP([B.D, 3, 1], output="linear", loss="hinge", seed=0)
    with pytest.raises(ValueError, match="y: binary labels must be -1 or \\+1"):
        hinge.score(X, (Y > 0).astype(int))      # 0/1 labels would score 0 against ±1 predictions


def test_fit_refuses_an_optimizer_of_another_model():
    model, other = _mlp(), _mlp()
    with pytest.raises(ValueError, match=r"optimizer: its params\['W1'\] is not an array of model.params"):
        train.fit(model, X, Y, optim.SGD(other.params, lr=0.1), progress=False)


def test_fit_accepts_an_optimizer_of_part_of_the_model():
    model = _mlp()
    frozen = model.params["W1"].copy()
    part = {k: model.params[k] for k in ("W2", "b2")}
    train.fit(model, X, Y, optim.SGD(part, lr=0.5), epochs=2, progress=False)
    np.testing.assert_array_equal(model.params["W1"], frozen)
    assert not np.array_equal(model.params["W2"], _mlp().params["W2"])


def test_fit_names_the_validation_data():
    with pytest.raises(ValueError, match=r"X_val, y_val: .*y: label 3 out of range"):
        B._fit(X_val=X, y_val=np.where(Y == 2, 3, Y))
    with pytest.raises(ValueError, match=r"X_val, y_val: X: expected shape \(\?, 4\), got \(6, 5\)"):
        B._fit(X_val=np.hstack([X, X[:, :1]]), y_val=Y)


def test_tensor_operands_that_do_not_broadcast():
    a, b = autograd.Tensor(np.ones(2)), autograd.Tensor(np.ones(3))
    ops = ((lambda: a + b, r"\+"), (lambda: a - b, "-"), (lambda: a * b, r"\*"), (lambda: a / b, "/"))
    for op, sym in ops:
        with pytest.raises(ValueError, match=rf"{sym}: shapes \(2,\) and \(3,\) do not broadcast"):
            op()
    assert (autograd.Tensor(np.ones((2, 3))) + autograd.Tensor(np.ones(3))).shape == (2, 3)


@pytest.mark.parametrize("value", [np.array([1], dtype="m8[s]"), np.array(["2020-01-01"], dtype="M8[D]"),
                                   np.array([1 + 2j])])
def test_dates_durations_and_complex_numbers_are_not_read_as_floats(value):
    with pytest.raises(TypeError, match="z: expected a numeric array, got dtype"):
        activations.relu(value)
    with pytest.raises(TypeError, match="data: expected a numeric array, got dtype"):
        autograd.Tensor(value)


def test_gradcheck_explains_a_function_that_returns_an_array_or_a_bad_model():
    with pytest.raises(TypeError, match=r"f\(x\): expected a scalar .* shape \(2,\)"):
        gradcheck.numerical_gradient(lambda v: v * 2, np.ones(2))

    class NoGrads:
        params = {"W": np.ones(2)}

        def loss(self, X, y):
            return 1.0

    with pytest.raises(TypeError, match=r"model.loss: expected it to return \(loss, grads\)"):
        gradcheck.check_gradients(NoGrads(), X, Y)
    with pytest.raises(ValueError, match=r"dout: expected the shape of f\(x\) \(3,\), got \(2,\)"):
        gradcheck.numerical_gradient_array(lambda v: v * v, np.ones(3), np.ones(2))


def test_numbers_are_numbers_not_bools_or_strings():
    # float("0.1") and float(True) would make these 0.1 and 1.0: a mistake, not a value
    for call in (lambda: optim.SGD(_mlp().params, lr="0.1"), lambda: optim.SGD(_mlp().params, lr=True),
                 lambda: MLP([2, 2], l2=True), lambda: Perceptron(lr="1"),
                 lambda: activations.leaky_relu(X, slope="0.1")):
        with pytest.raises(TypeError, match="expected a number"):
            call()
    # numpy scalars and 0-d arrays are numbers
    assert optim.SGD(_mlp().params, lr=np.float32(0.5)).lr == 0.5
    assert MLP([2, 2], dropout=np.array(0.25)).dropout == 0.25


def test_pure_rules_check_their_state():
    with pytest.raises(TypeError, match="state: expected None or the dict the previous step returned"):
        optim.sgd_step(np.ones(2), np.ones(2), state="abc", lr=0.1)
    x, state = optim.adam_step(np.ones(2), np.ones(2), lr=0.1)
    x2, _ = optim.adam_step(x, np.ones(2), state, lr=0.1)
    assert state["t"] == 1 and np.all(x2 < x)


# --------------------------------------------------------------------------------------------------
# nnkit.grading: what a student is told about a bad return value

EXPECTED = np.array([[1.0, 2.0], [3.0, 4.0]])
STUDENT_RETURNS = {
    "None": (None, "is None: did the function forget to `return`"),
    "a str": ("abc", "is a str"),
    "a dict": ({"a": 1}, "is a dict"),
    "the wrong shape": (np.ones(4), r"expected shape \(2, 2\), got shape \(4,\)"),
    "an extra axis": (EXPECTED[..., None], r"expected shape \(2, 2\), got shape \(2, 2, 1\)"),
    "NaN": (np.where(EXPECTED == 2, np.nan, EXPECTED), r"contains NaN or inf \(first at index \(0, 1\)\)"),
    "inf": (np.where(EXPECTED == 3, np.inf, EXPECTED), r"contains NaN or inf \(first at index \(1, 0\)\)"),
    "complex numbers": (EXPECTED + 1j, "holds complex numbers"),
    "strings of the right numbers": (EXPECTED.astype(str), "cannot be read as numbers: it holds strings"),
    "time spans": (EXPECTED.astype("m8[s]"), "it holds time spans"),
    "a ragged list": ([[1.0, 2.0], [3.0]], "cannot be read as an array"),
    "a generator": ((v for v in EXPECTED), "it holds Python objects"),
    "an autograd Tensor": (autograd.Tensor(EXPECTED), r"the result \(Tensor\) cannot be read as numbers"),
}


@pytest.mark.parametrize("got, why", [pytest.param(*v, id=k) for k, v in STUDENT_RETURNS.items()])
def test_check_close_tells_the_student_what_is_wrong(got, why):
    from nnkit import grading

    with pytest.raises(grading.CheckFailed, match=rf"^part A: .*{why}"):
        grading.check_close(got, EXPECTED, "part A")
    assert grading.compare(got, EXPECTED) is not None


def test_check_close_accepts_real_numbers_in_any_numeric_form():
    from nnkit import grading

    for got in (EXPECTED.tolist(), EXPECTED.astype(np.float32), EXPECTED.astype(int), EXPECTED + 0j):
        assert grading.compare(got, EXPECTED) is None


@pytest.mark.parametrize("got, why", [
    pytest.param(None, "is None", id="None"),
    pytest.param(np.array([object(), object()]), "is not an array of numbers or labels", id="objects"),
    pytest.param((v for v in [1, 2]), "is not an array of numbers or labels", id="generator"),
    pytest.param(np.array([1, 2], dtype="m8[s]"), "is not an array of numbers or labels", id="time spans"),
    pytest.param([[1], [2, 3]], "cannot be read as an array", id="ragged"),
    pytest.param(np.array([1, 3]), r"1 of 2 entries differ; first at index \(1,\): expected 2, got 3",
                 id="value"),
])
def test_check_equal_tells_the_student_what_is_wrong(got, why):
    from nnkit import grading

    with pytest.raises(grading.CheckFailed, match=rf"^labels: .*{why}"):
        grading.check_equal(got, np.array([1, 2]), "labels")


def test_mnist_names_a_directory_that_is_not_one(tmp_path):
    for kw, name in (({"path": 3}, "path"), ({"cache_dir": ["x"]}, "cache_dir")):
        with pytest.raises(TypeError, match=rf"{name}: expected a directory"):
            data.load_mnist(download=False, **kw)
    with pytest.raises(data.DatasetNotFoundError):
        data.load_mnist(path=tmp_path, cache_dir=tmp_path, download=False)


def test_regression_targets_of_the_wrong_shape_are_not_called_labels():
    m = MLP([B.D, 3, 3], output="linear", seed=0)
    why = r"y: expected targets of shape \(6, 3\) for 3 outputs .* shape \(6,\)"
    with pytest.raises(ValueError, match=why):
        m.loss(X, X[:, 0])
    assert m.loss(X, Y)[0] > 0                 # integer labels (N,) are one-hot targets: documented, works


def test_a_sequential_whose_sizes_do_not_chain_is_refused_when_built():
    from nnkit import layers

    why = r"layers\[2\]: Dense\(5, 2.*takes 5 inputs but layers\[0\] Dense\(3, 4"
    with pytest.raises(ValueError, match=why):
        layers.Sequential(layers.Dense(3, 4), layers.ReLU(), layers.Dense(5, 2))
    net = layers.Sequential(layers.Dense(3, 4), layers.ReLU(), layers.Dense(4, 2))
    assert net.forward(X[:, :3]).shape == (6, 2)


@pytest.mark.parametrize("table, what", [(optim.RULES, "optimizer"), (optim.DECLARATIONS, "optimizer"),
                                         (activations.DECLARATIONS, "activation")])
def test_an_unknown_name_in_a_table_lists_the_valid_names(table, what):
    with pytest.raises(KeyError, match=rf"unknown {what} 'nope'; valid names are {list(table)[0]}, "):
        table["nope"]
    assert "nope" not in table and table.get("nope") is None
