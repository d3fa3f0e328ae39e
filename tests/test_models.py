"""MLP and SoftmaxRegression: torch.autograd as oracle, finite differences, hand-worked numbers,
learning on XOR / digits / Fashion-MNIST, float32 end to end, and bad input."""

import numpy as np
import pytest
import torch  # the oracle: a pinned dev requirement, never skipped
from hypothesis import given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits

from nnkit import activations, optim
from nnkit.gradcheck import check_gradients
from nnkit.models import MLP, SoftmaxRegression
from nnkit.train import fit
from tests._oracles import TORCH_ACTIVATIONS
from tests.conftest import FASHION_DIR as FASHION
from tests.conftest import require_fashion_mnist

F = torch.nn.functional

HIDDEN = [n for n, d in activations.DECLARATIONS.items() if d.trainable]   # every trainable activation
PAIRS = [("softmax", "cross_entropy"), ("sigmoid", "bce"), ("linear", "mse"), ("sigmoid", "mse")]
TORCH_ACT = {name: fn for name, (fn, _) in TORCH_ACTIVATIONS.items()}


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # Small matrices on 2 shared cores: OpenBLAS's second thread only spins against other processes
    # (measured 1 s vs 15-40 s per Fashion-MNIST epoch on a loaded machine). Same numbers, less waiting.
    with threadpool_limits(1):
        yield


def _randomize(model, seed=0, scale=0.5):
    """Random weights AND biases, so no ReLU input sits exactly at its kink."""
    rng = np.random.default_rng(seed)
    for v in model.params.values():
        v[...] = scale * rng.standard_normal(v.shape)


def _problem(output, loss, n_out, seed=1, n=7, d=5):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    if output == "linear" and loss == "mse":
        y = rng.standard_normal((n, n_out))
    else:
        y = rng.integers(0, max(n_out, 2), size=n)
    return X, y


def _torch_loss(model, X, y, act):
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in model.params.items()}
    a = torch.tensor(X)
    L = model.n_layers
    for l in range(1, L):
        a = act(a @ params[f"W{l}"] + params[f"b{l}"])
    s = a @ params[f"W{L}"] + params[f"b{L}"]
    C = s.shape[1]
    yt = torch.tensor(y)
    if model.loss_name == "cross_entropy":
        value = F.cross_entropy(s, yt)
    else:
        if model.output == "linear":
            target = yt
        elif C == 1:
            target = yt.double().reshape(-1, 1)
        else:
            target = F.one_hot(yt, C).double()
        if model.loss_name == "bce":
            value = F.binary_cross_entropy_with_logits(s, target)
        else:
            out = torch.sigmoid(s) if model.output == "sigmoid" else s
            value = F.mse_loss(out, target)
    for k, p in params.items():
        if k.startswith("W"):
            value = value + model.l2 / 2 * (p * p).sum() + model.l1 * p.abs().sum()
    value.backward()
    return value.item(), {k: p.grad.numpy() for k, p in params.items()}


@pytest.mark.parametrize("output, loss", PAIRS)
@pytest.mark.parametrize("act", HIDDEN)
def test_mlp_gradients_match_torch_autograd(act, output, loss):
    model = MLP([5, 6, 4, 3], activation=act, output=output, loss=loss, l2=0.3, l1=0.05, seed=0)
    _randomize(model)
    X, y = _problem(output, loss, 3)
    mine, grads = model.loss(X, y)
    theirs, tgrads = _torch_loss(model, X, y, TORCH_ACT[act])
    assert mine == pytest.approx(theirs, rel=1e-12)
    assert set(grads) == set(tgrads) == {"W1", "b1", "W2", "b2", "W3", "b3"}
    for k in grads:
        np.testing.assert_allclose(grads[k], tgrads[k], rtol=1e-10, atol=1e-13, err_msg=f"{act} {loss} {k}")


@pytest.mark.parametrize("output, loss", [("sigmoid", "bce"), ("sigmoid", "mse"), ("linear", "mse")])
def test_single_output_gradients_match_torch(output, loss):
    model = MLP([4, 5, 1], activation="tanh", output=output, loss=loss, l2=0.1, seed=3)
    _randomize(model, seed=3)
    X, y = _problem(output, loss, 1, seed=4, d=4)
    mine, grads = model.loss(X, y)
    theirs, tgrads = _torch_loss(model, X, y, torch.tanh)
    assert mine == pytest.approx(theirs, rel=1e-12)
    for k in grads:
        np.testing.assert_allclose(grads[k], tgrads[k], rtol=1e-10, atol=1e-13)


def test_leaky_relu_slope_from_activation_object():
    model = MLP([5, 6, 3], activation=activations.get("leaky_relu", slope=0.1), seed=0)
    _randomize(model)
    X, y = _problem("softmax", "cross_entropy", 3)
    _, grads = model.loss(X, y)
    _, tgrads = _torch_loss(model, X, y, lambda z: F.leaky_relu(z, 0.1))
    for k in grads:
        np.testing.assert_allclose(grads[k], tgrads[k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("act, output, loss", [
    ("relu", "softmax", None), ("tanh", "sigmoid", None), ("sigmoid", "sigmoid", "mse"),
    ("gaussian", "linear", None), ("leaky_relu", "softmax", "mse"), ("linear", "linear", "hinge"),
    ("relu", "linear", "mae"),
])
def test_mlp_gradients_finite_differences(act, output, loss):
    model = MLP([4, 5, 5, 3], activation=act, output=output, loss=loss, l2=0.2, l1=0.01, seed=2)
    _randomize(model, seed=2)
    rng = np.random.default_rng(5)
    X = rng.standard_normal((6, 4))
    y = rng.standard_normal((6, 3)) if output == "linear" and loss in (None, "mae") else rng.integers(0, 3, 6)
    errors = check_gradients(model, X, y)
    assert max(errors.values()) < 1e-7, errors


def test_dropout_gradients_finite_differences():
    """With the mask held fixed (same seed every call), backprop through dropout is exact."""
    model = MLP([4, 6, 6, 3], activation="tanh", dropout=0.4, seed=0)
    _randomize(model)
    X = np.random.default_rng(1).standard_normal((5, 4))
    y = np.array([0, 1, 2, 1, 0])

    class FixedMask:
        params = model.params

        def loss(self, X, y):
            model.rng = np.random.default_rng(7)
            return model.loss(X, y, train=True)

    assert max(check_gradients(FixedMask(), X, y).values()) < 1e-7
    # and dropout really is on in training, off at test time
    model.rng = np.random.default_rng(7)
    train_loss = model.loss(X, y, train=True)[0]
    assert train_loss != pytest.approx(model.loss(X, y, train=False)[0])
    np.testing.assert_array_equal(model.forward(X), model.forward(X))


def test_n_params():
    assert MLP([3, 4, 2]).n_params == 26
    assert MLP([784, 30, 10]).n_params == 23_860
    assert SoftmaxRegression(784, 10).n_params == 7850
    net = MLP([784, 30, 10])
    assert {k: v.shape for k, v in net.params.items()} == {
        "W1": (784, 30), "b1": (30,), "W2": (30, 10), "b2": (10,)}


def test_initialization_he_and_glorot_seeded():
    relu = MLP([400, 300, 10], activation="relu", seed=0)
    tanh = MLP([400, 300, 10], activation="tanh", seed=0)
    assert relu.params["W1"].std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)          # He
    assert tanh.params["W1"].std() == pytest.approx(np.sqrt(2 / (400 + 300)), rel=0.02)  # Glorot
    assert not relu.params["b1"].any()
    np.testing.assert_array_equal(MLP([3, 4, 2], seed=5).params["W1"], MLP([3, 4, 2], seed=5).params["W1"])
    assert not np.array_equal(MLP([3, 4, 2], seed=5).params["W1"], MLP([3, 4, 2], seed=6).params["W1"])


@pytest.mark.parametrize("act", activations.NAMES)
def test_one_initialization_policy_for_every_declared_activation(act):
    """The policy of nnkit.layers (He for the ReLU family, Glorot otherwise, as each activation declares),
    applied to every dense layer, output layer included; and MLP is exactly the Sequential that
    layers.stack builds from the same seed: one composition path."""
    from nnkit import layers

    model = MLP([400, 300, 200], activation=act, seed=0)
    he = activations.DECLARATIONS[act].init == "he"
    for l, (d_in, d_out) in enumerate(((400, 300), (300, 200)), start=1):
        want = np.sqrt(2 / d_in) if he else np.sqrt(2 / (d_in + d_out))
        assert model.params[f"W{l}"].std() == pytest.approx(want, rel=0.02), (act, l)
        assert not model.params[f"b{l}"].any()
    net = layers.Sequential(*layers.stack([400, 300, 200], act, seed=0))
    assert [type(layer) for layer in net] == [type(layer) for layer in model.layers]
    assert net.params.keys() == model.params.keys()
    for k, v in net.params.items():
        np.testing.assert_array_equal(v, model.params[k], err_msg=k)


def test_softmax_regression_lecture_scores():
    model = SoftmaxRegression(1, 3)
    model.params["W1"][...] = [[3.2, 5.1, -1.7]]
    model.params["b1"][...] = 0
    loss, _ = model.loss([[1.0]], [0])
    assert loss == pytest.approx(2.04, abs=0.005)
    assert model.predict_proba([[1.0]])[0, 0] == pytest.approx(0.13, abs=0.005)


def test_softmax_regression_one_sgd_step_by_hand():
    # X = [[1, 2], [0, -1]], y = [0, 2], W = 0, b = 0: every p = 1/3, loss = log 3.
    # dscores = (P - T)/N = [[-1/3, 1/6, 1/6], [1/6, 1/6, -1/3]]
    # dW = Xᵀ dscores = [[-1/3, 1/6, 1/6], [-5/6, 1/6, 2/3]],  db = [-1/6, 1/3, -1/6]
    # SGD with lr 0.6: W = [[0.2, -0.1, -0.1], [0.5, -0.1, -0.4]],  b = [0.1, -0.2, 0.1]
    model = SoftmaxRegression(2, 3)
    model.params["W1"][...] = 0
    X, y = np.array([[1.0, 2.0], [0.0, -1.0]]), np.array([0, 2])
    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(np.log(3))
    np.testing.assert_allclose(grads["W1"], [[-1 / 3, 1 / 6, 1 / 6], [-5 / 6, 1 / 6, 2 / 3]], atol=1e-15)
    np.testing.assert_allclose(grads["b1"], [-1 / 6, 1 / 3, -1 / 6], atol=1e-15)
    optim.SGD(model.params, lr=0.6).step(grads)
    np.testing.assert_allclose(model.params["W1"], [[0.2, -0.1, -0.1], [0.5, -0.1, -0.4]], atol=1e-15)
    np.testing.assert_allclose(model.params["b1"], [0.1, -0.2, 0.1], atol=1e-15)
    # with l2 = 0.5 the weight gradient gains 0.5·W (biases untouched) and the loss 0.25·‖W‖²
    reg = SoftmaxRegression(2, 3, l2=0.5)
    reg.params["W1"][...] = model.params["W1"]
    reg.params["b1"][...] = model.params["b1"]
    loss0, g0 = model.loss(X, y)
    g0 = {k: v.copy() for k, v in g0.items()}
    loss1, g1 = reg.loss(X, y)
    assert loss1 == pytest.approx(loss0 + 0.25 * 0.48)     # ‖W‖² = .04 + .01 + .01 + .25 + .01 + .16
    np.testing.assert_allclose(g1["W1"], g0["W1"] + 0.5 * model.params["W1"], atol=1e-15)
    np.testing.assert_allclose(g1["b1"], g0["b1"], atol=1e-15)


def test_targets_as_one_hot_equal_labels():
    model = MLP([5, 6, 3], seed=0)
    X, y = _problem("softmax", "cross_entropy", 3)
    l1, g1 = model.loss(X, y)
    g1 = {k: v.copy() for k, v in g1.items()}
    l2, g2 = model.loss(X, np.eye(3)[y])
    assert l1 == pytest.approx(l2, rel=1e-12)
    for k in g1:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-12)
    assert model.score(X, np.eye(3)[y]) == model.score(X, y)


def test_backward_returns_dX():
    model = MLP([5, 6, 3], activation="tanh", seed=0)
    _randomize(model)
    X, y = _problem("softmax", "cross_entropy", 3)
    Xt = torch.tensor(X, requires_grad=True)
    p = {k: torch.tensor(v) for k, v in model.params.items()}
    s = torch.tanh(Xt @ p["W1"] + p["b1"]) @ p["W2"] + p["b2"]
    dout = np.random.default_rng(0).standard_normal((7, 3))
    s.backward(torch.tensor(dout))
    model.forward(X, train=True)
    np.testing.assert_allclose(model.backward(dout), Xt.grad.numpy(), rtol=1e-10, atol=1e-13)


def test_mlp_solves_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([0, 1, 1, 0])
    model = MLP([2, 4, 1], activation="tanh", output="sigmoid", seed=0)
    opt = optim.Adam(model.params, lr=0.05)
    for _ in range(300):
        opt.step(model.loss(X, y)[1])
    np.testing.assert_array_equal(model.predict(X), y)
    assert model.score(X, y) == 1.0
    assert model.loss(X, y)[0] < 0.05


def test_mlp_regression_scores_r2():
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(200, 1))
    t = np.sin(2 * x)
    model = MLP([1, 20, 1], activation="tanh", output="linear", seed=0)
    fit(model, x, t, optim.Adam(model.params, lr=0.01), epochs=150, batch_size=50, progress=False)
    assert model.score(x, t) > 0.95
    assert model.score(x, t[:, 0]) == model.score(x, t)
    assert model.predict(x).shape == (200, 1)


def _digits():
    from nnkit.data import load_digits, standardize, train_test_split

    X, y = load_digits()
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, seed=0, stratify=True)
    X_tr, mean, std = standardize(X_tr)
    X_te, _, _ = standardize(X_te, mean, std)
    return X_tr, X_te, y_tr, y_te


@pytest.mark.slow
def test_mlp_digits_97_percent():
    X_tr, X_te, y_tr, y_te = _digits()
    assert X_tr.shape == (1347, 64) and len(X_te) == 450
    model = MLP([64, 256, 10], dropout=0.5, l2=1e-3, seed=0)
    opt = optim.Adam(model.params, lr=1e-3)

    def decay(epoch, history):                  # last 10 epochs at lr/10
        if epoch == 29:
            opt.lr = 1e-4

    fit(model, X_tr, y_tr, opt, epochs=40, batch_size=32, seed=0, progress=False, callback=decay)
    assert model.score(X_te, y_te) >= 0.97


def test_softmax_regression_learns_digits():
    X_tr, X_te, y_tr, y_te = _digits()
    model = SoftmaxRegression(64, 10, l2=1e-3)
    fit(model, X_tr, y_tr, optim.SGD(model.params, lr=0.1, momentum=0.9), epochs=15, progress=False)
    assert model.score(X_te, y_te) > 0.93


def _fashion():
    from nnkit.data import load_mnist

    return load_mnist(FASHION, kind="fashion", download=False)


@pytest.mark.slow
def test_fashion_mnist_784_30_10_float32_85_percent():
    require_fashion_mnist()                     # skips locally without the Debian package, fails in CI
    X_tr, y_tr, X_te, y_te = _fashion()
    assert X_tr.shape == (60000, 784) and X_tr.dtype == np.float32
    mean, std = X_tr.mean(axis=0), X_tr.std(axis=0) + np.float32(0.1)   # +0.1: near-constant border pixels
    X_tr, X_te = (X_tr - mean) / std, (X_te - mean) / std
    assert X_tr.dtype == np.float32
    model = MLP([784, 30, 10], seed=0, dtype=np.float32)
    opt = optim.Adam(model.params, lr=1e-3)

    def decay(epoch, history):                  # last epoch at lr/5
        if epoch == 1:
            opt.lr = 2e-4

    history = fit(model, X_tr, y_tr, opt, epochs=3, batch_size=64, seed=0, progress=False, callback=decay)
    assert len(history.loss) == 3 and history.loss[-1] < history.loss[0]
    assert all(v.dtype == np.float32 for v in model.params.values())
    assert all(v.dtype == np.float32 for v in model.grads.values())
    assert model.score(X_te, y_te) >= 0.85


def test_float32_end_to_end():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((32, 8)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    for act, output, loss in [("relu", "softmax", None), ("sigmoid", "sigmoid", "mse"),
                              ("gaussian", "sigmoid", None), ("tanh", "linear", "hinge")]:
        model = MLP([8, 16, 16, 3], activation=act, output=output, loss=loss, dropout=0.2, l2=1e-3, l1=1e-4,
                    dtype=np.float32)
        assert all(v.dtype == np.float32 for v in model.params.values())
        opt = optim.Adam(model.params, lr=1e-2)
        for _ in range(3):
            value, grads = model.loss(X, y)
            assert isinstance(value, float)
            assert all(g.dtype == np.float32 for g in grads.values()), (act, output)
            opt.step(grads)
        assert model.forward(X).dtype == np.float32
        assert model.predict_proba(X).dtype == np.float32
        assert all(v.dtype == np.float32 for v in model.params.values())
    # float64 data are cast to the model's float32 (and the other way round)
    assert MLP([8, 3], dtype=np.float32).forward(X.astype(np.float64)).dtype == np.float32
    assert MLP([8, 3]).forward(X).dtype == np.float64


def test_training_does_not_copy_params():
    model = MLP([4, 5, 3], seed=0)
    arrays = dict(model.params)
    opt = optim.SGD(model.params, lr=0.1, momentum=0.9)
    X, y = np.random.default_rng(0).standard_normal((10, 4)), np.arange(10) % 3
    fit(model, X, y, opt, epochs=2, batch_size=4, progress=False)
    assert all(model.params[k] is arrays[k] for k in arrays)


@pytest.mark.parametrize("kwargs, exc, match", [
    ({"layer_sizes": [3]}, ValueError, "layer_sizes"),
    ({"layer_sizes": [3, 0, 2]}, ValueError, "layer_sizes"),
    ({"layer_sizes": [3, 2.5, 2]}, ValueError, "layer_sizes"),
    ({"activation": "swish"}, ValueError, "unknown name 'swish'.*relu"),
    ({"output": "tanh"}, ValueError, "output: expected one of softmax, sigmoid, linear"),
    ({"loss": "huber"}, ValueError, "loss: expected one of"),
    ({"output": "linear", "loss": "cross_entropy"}, ValueError, "'cross_entropy' needs output"),
    ({"output": "softmax", "loss": "bce"}, ValueError, "'bce' needs output"),
    ({"dropout": 1.0}, ValueError, r"dropout: expected a value in \[0, 1\)"),
    ({"dropout": -0.1}, ValueError, "dropout"),
    ({"l2": -1}, ValueError, "l2"),
    ({"l1": float("nan")}, ValueError, "l1"),
    ({"dtype": np.int32}, ValueError, "dtype"),
    ({"dtype": np.float16}, ValueError, "dtype"),
])
def test_bad_constructor_arguments(kwargs, exc, match):
    kw = {"layer_sizes": [3, 4, 2], **kwargs}
    with pytest.raises(exc, match=match):
        MLP(**kw)


def test_bad_data():
    model = MLP([3, 4, 2], seed=0)
    X, y = np.zeros((5, 3)), np.array([0, 1, 0, 1, 1])
    with pytest.raises(ValueError, match=r"X: expected shape \(\?, 3\), got \(5, 4\)"):
        model.loss(np.zeros((5, 4)), y)
    with pytest.raises(ValueError, match="X: expected 2 dimensions"):
        model.forward(np.zeros(3))
    Xn = X.copy()
    Xn[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"X: contains NaN or inf \(first at index \(2, 1\)"):
        model.loss(Xn, y)
    with pytest.raises(ValueError, match="X: contains NaN"):
        model.predict(np.full((1, 3), np.inf))
    with pytest.raises(ValueError, match="label 2 out of range for 2 classes"):
        model.loss(X, [0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match="labels must be >= 0"):
        model.loss(X, [0, 1, -1, 0, 1])
    with pytest.raises(ValueError, match="X has 5 rows but y has 4"):
        model.loss(X, y[:4])
    with pytest.raises(ValueError, match=r"y: expected shape \(5, 2\)"):
        model.loss(X, np.zeros((5, 3)))
    with pytest.raises(RuntimeError, match="call forward"):
        MLP([3, 2]).backward(np.zeros((1, 2)))
    binary = MLP([3, 4, 1], output="sigmoid")
    with pytest.raises(ValueError, match="label 2 out of range for 2 classes"):
        binary.loss(X, [0, 1, 2, 0, 1])
    with pytest.raises(ValueError, match=r"y: expected shape \(5, 2\)"):
        MLP([3, 2], output="linear").loss(X, np.zeros((5, 1)))


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint64])
def test_labels_of_every_integer_width_are_range_checked(dtype):
    """loss() checks labels by one reduction of their unsigned reading: negative labels of any width are
    caught, also when there are more classes than the width's positive half (int8 and 129 classes)."""
    X = np.zeros((3, 2))
    for C in (3, 129):
        model = MLP([2, C], seed=0)
        assert np.isfinite(model.loss(X, np.array([0, 1, 2], dtype=dtype))[0])
        if C <= np.iinfo(dtype).max:                         # (int8 cannot hold the label 129)
            with pytest.raises(ValueError, match=f"label {C} out of range for {C} classes"):
                model.loss(X, np.array([0, C, 1], dtype=dtype))
        if np.issubdtype(dtype, np.signedinteger):
            for negative in (-1, np.iinfo(dtype).min):          # int8's -128 reads as 128 < 129 unsigned
                with pytest.raises(ValueError, match=f"labels must be >= 0, got {negative}"):
                    model.loss(X, np.array([0, negative, 2], dtype=dtype))


def test_one_hot_least_squares_classifier_and_soft_bce_targets():
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    X = np.array([[0.0, 3.0], [3.0, -1.0], [-3.0, -1.0]])[y] + 0.5 * rng.standard_normal((90, 2))
    model = MLP([2, 3], output="linear", loss="mse", seed=0)     # X W + b regressed onto one-hot targets
    fit(model, X, y, optim.SGD(model.params, lr=0.1), epochs=30, batch_size=10, progress=False)
    assert model.score(X, y) > 0.95
    binary = MLP([2, 4, 1], output="sigmoid", seed=0)
    value, _ = binary.loss(X[:4], [0.2, 0.9, 0.5, 1.0])                  # probabilities are valid BCE targets
    assert np.isfinite(value)
    with pytest.raises(ValueError, match=r"y: expected values in \[0, 1\]"):
        binary.loss(X[:4], [0.2, 1.5, 0.5, 1.0])


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(1, 6), min_size=2, max_size=4), n=st.integers(1, 5),
       act=st.sampled_from(HIDDEN), pair=st.sampled_from(PAIRS),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_shapes_property(sizes, n, act, pair, dtype):
    output, loss = pair
    model = MLP(sizes, activation=act, output=output, loss=loss, dtype=dtype)
    C = sizes[-1]
    assert model.n_params == sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, sizes[0]))
    n_labels = 2 if output == "sigmoid" and C == 1 else C
    y = rng.standard_normal((n, C)) if output == "linear" else rng.integers(0, n_labels, n)
    value, grads = model.loss(X, y)
    assert np.isfinite(value)
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in model.params.items()}
    assert all(g.dtype == dtype for g in grads.values())
    assert model.forward(X).shape == (n, C) and model.predict_proba(X).shape == (n, C)
    assert model.backward(np.ones((n, C), dtype=dtype)).shape == (n, sizes[0])
    pred = model.predict(X)
    assert pred.shape == ((n, C) if output == "linear" else (n,))


def test_mlp_backward_checks_the_upstream_gradient():
    """The layers run on unchecked kernels, so the public entry point checks what a user passes in."""
    model = MLP([3, 4, 2], seed=0)
    with pytest.raises(RuntimeError, match="forward"):
        MLP([3, 4, 2], seed=0).backward(np.zeros((5, 2)))
    model.forward(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"dout: expected shape \(5, 2\)"):
        model.backward(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="dout: contains NaN"):
        model.backward(np.full((5, 2), np.nan))
    assert model.backward(np.ones((5, 2))).shape == (5, 3)
    model.loss(np.ones((5, 3)), np.zeros(5, dtype=int))     # loss() consumed its own forward pass
    with pytest.raises(RuntimeError, match=r"forward\(X\) first \(loss\(\) runs its own backward"):
        model.backward(np.ones((5, 2)))


@pytest.mark.parametrize("output, loss", PAIRS + [("linear", "hinge")])
def test_evaluate_is_the_loss_without_side_effects(output, loss):
    """evaluate = loss(train=False)'s value; grads (arrays, values), caches and rng stay as they were."""
    model = MLP([5, 6, 4, 3], activation="tanh", output=output, loss=loss, dropout=0.3, l2=0.1, l1=0.01,
                seed=0)
    _randomize(model)
    X, y = _problem(output, loss, 3)
    X2, y2 = _problem(output, loss, 3, seed=9, n=4)
    model.loss(X, y)                                   # the gradients a student is about to apply
    model.forward(X, train=True)                       # and a forward pass a backward will follow
    arrays = dict(model.grads)
    saved = {k: v.copy() for k, v in model.grads.items()}
    rng_state = model.rng.bit_generator.state
    value = model.evaluate(X2, y2)
    assert isinstance(value, float)
    assert model.rng.bit_generator.state == rng_state          # no dropout mask drawn
    assert all(model.grads[k] is arrays[k] for k in arrays)
    for k in saved:
        np.testing.assert_array_equal(model.grads[k], saved[k], err_msg=k)
    assert model.backward(np.ones((X.shape[0], 3))).shape == X.shape    # backward still follows forward(X)
    assert value == model.loss(X2, y2, train=False)[0]
