"""nnkit.layers: Dense init, Sequential naming and gradients (finite differences and torch), Dropout
layer semantics, float32 end to end, errors."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nnkit import activations as A
from nnkit import layers
from nnkit.gradcheck import numerical_gradient, rel_error
from tests._oracles import PROPERTY, TOL_FD, assert_close, assume_resolvable, away, tn, tt


def test_dense_shapes_init_and_reproducibility():
    d = layers.Dense(3, 5, seed=1)
    assert d.params["W"].shape == (3, 5) and d.params["b"].shape == (5,)
    assert not d.params["b"].any() and d.n_params == 20
    np.testing.assert_array_equal(d.params["W"], layers.Dense(3, 5, seed=1).params["W"])
    assert not np.array_equal(d.params["W"], layers.Dense(3, 5, seed=2).params["W"])
    # the standard deviations of the three initializations (400 x 300 weights: sd of the estimate ~0.1%)
    for init, std in (("he", np.sqrt(2 / 400)), ("xavier", np.sqrt(2 / 700)), ("normal", 0.01)):
        W = layers.Dense(400, 300, init=init).params["W"]
        assert W.std() == pytest.approx(std, rel=0.01), init
        assert abs(W.mean()) < 0.01 * std * 10
    d32 = layers.Dense(3, 2, dtype=np.float32)
    assert d32.params["W"].dtype == d32.params["b"].dtype == np.float32


def test_sequential_names_and_counts():
    net = layers.Sequential(layers.Dense(3, 4), layers.ReLU(), layers.Dense(4, 2))
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert net.n_params == 26                          # the lectures' 3-4-2 network
    big = layers.Sequential(layers.Dense(784, 30), layers.Sigmoid(), layers.Dense(30, 10))
    assert big.n_params == 23_860
    assert len(net) == 3 and isinstance(net[1], layers.ReLU) and list(net)[0] is net.layers[0]
    assert "Dense(3, 4" in repr(net)
    # params are the layers' own arrays: an in-place update (what optimizers do) changes the network
    x = np.ones((1, 3))
    before = net.forward(x)
    net.params["b2"] += 1.0
    np.testing.assert_allclose(net.forward(x), before + 1.0)
    assert layers.Sequential([layers.Dense(2, 2)]).n_params == 6     # a list works too


def _make_net(acts, sizes, seed, dtype=np.float64, dropout=None):
    seq = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        seq.append(layers.Dense(a, b, seed=seed + i, dtype=dtype))
        if i < len(sizes) - 2:
            seq.append(layers.Activation(acts[i % len(acts)], **({"slope": 0.1} if acts[i % len(acts)]
                                                                  == "leaky_relu" else {})))
            if dropout is not None:
                seq.append(layers.Dropout(dropout, seed=seed))
    net = layers.Sequential(*seq)
    # Weights of magnitude 0.3..1 (over sqrt(fan-in)) and moderate non-zero biases: every term is
    # exercised, no unit saturates and no gradient is accidentally ~0 (a tiny gradient makes the
    # *relative* error of finite differences meaningless).
    rng = np.random.default_rng(seed + 10_000)
    for k, v in net.params.items():
        if k.startswith("W"):
            v[...] = away(rng, v.shape, 0.3, 1.0) / np.sqrt(v.shape[0])
        else:
            v[...] = 0.5 * rng.standard_normal(v.shape)
    return net


SMOOTH = ("sigmoid", "tanh", "linear")   # derivatives bounded away from 0 on moderate inputs


@PROPERTY
@given(acts=st.lists(st.sampled_from(SMOOTH), min_size=1, max_size=2),
       sizes=st.lists(st.integers(1, 5), min_size=2, max_size=4), n=st.integers(1, 4),
       seed=st.integers(0, 10**6))
def test_sequential_backward_matches_finite_differences(acts, sizes, n, seed):
    """Smooth activations: no kinks anywhere, so every parameter can be checked at random points."""
    net = _make_net(acts, sizes, seed)
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, sizes[0]))
    dout = away(rng, (n, sizes[-1]), 0.5, 1.5)

    def f(_):
        return float(np.vdot(net.forward(x), dout))

    num = {k: numerical_gradient(f, v) for k, v in net.params.items()}
    num_dx = numerical_gradient(f, x)
    assume_resolvable(*num.values(), num_dx)
    net.forward(x)
    dx = net.backward(dout)
    grads = net.grads
    assert list(grads) == list(net.params)
    for k in net.params:
        assert rel_error(grads[k], num[k]) < TOL_FD, k
    assert rel_error(dx, num_dx) < TOL_FD


@pytest.mark.parametrize("act", ["relu", "leaky_relu"])
def test_sequential_with_kinks_matches_finite_differences(act):
    """ReLU-type nets checked where no pre-activation is within 1e-3 of the kink (h = 1e-5)."""
    checked = 0
    for seed in range(40):
        net = _make_net((act,), [4, 5, 3], seed)
        x = np.random.default_rng(seed).standard_normal((3, 4))
        net.forward(x)
        z = net.layers[0].forward(x)
        if np.abs(z).min() < 1e-3:
            continue
        dout = away(np.random.default_rng(seed + 1), (3, 3), 0.5, 1.5)
        net.forward(x)
        net.backward(dout)
        def f(_, net=net, x=x, dout=dout):
            return float(np.vdot(net.forward(x), dout))

        for k, v in net.params.items():
            assert rel_error(net.grads[k], numerical_gradient(f, v)) < TOL_FD, (seed, k)
        checked += 1
    assert checked >= 20


def test_sequential_with_dropout_in_training_matches_finite_differences():
    """With the dropout layer's generator reset to the same state, every forward uses the same mask."""
    net = _make_net(("tanh",), [4, 6, 2], 3, dropout=0.5)
    drop = net.layers[2]
    x = np.random.default_rng(0).standard_normal((5, 4))
    dout = away(np.random.default_rng(1), (5, 2), 0.5, 1.5)

    def f(_):
        drop.rng = np.random.default_rng(42)
        return float(np.vdot(net.forward(x, train=True), dout))

    f(None)
    net.backward(dout)
    grads = net.grads
    for k, v in net.params.items():
        assert rel_error(grads[k], numerical_gradient(f, v)) < TOL_FD, k


@pytest.mark.parametrize("acts", [("relu",), ("sigmoid",), ("tanh",), ("leaky_relu",), ("gaussian",),
                                  ("linear",), ("relu", "tanh")])
def test_sequential_gradients_equal_torch_autograd(acts):
    sizes = [5, 7, 6, 3]
    net = _make_net(acts, sizes, 11)
    rng = np.random.default_rng(11)
    x, dout = rng.standard_normal((8, 5)), rng.standard_normal((8, 3))
    out = net.forward(x, train=True)
    dx = net.backward(dout)

    torch_act = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
                 "leaky_relu": lambda z: torch.nn.functional.leaky_relu(z, 0.1),
                 "gaussian": lambda z: torch.exp(-z * z / 2), "linear": lambda z: z}
    tp = {k: tt(v) for k, v in net.params.items()}
    h = xt = tt(x)
    for i in range(len(sizes) - 1):
        h = h @ tp[f"W{i + 1}"] + tp[f"b{i + 1}"]
        if i < len(sizes) - 2:
            h = torch_act[acts[i % len(acts)]](h)
    h.backward(torch.tensor(dout))
    assert_close(out, tn(h), what="forward")
    assert_close(dx, tn(xt.grad), what="dx")
    for k, g in net.grads.items():
        assert_close(g, tn(tp[k].grad), what=k)


def test_activation_layers_by_name_and_class():
    z = np.array([[-2.0, 0.5]])
    for layer, name in ((layers.ReLU(), "relu"), (layers.Sigmoid(), "sigmoid"), (layers.Tanh(), "tanh"),
                        (layers.Step(), "step"), (layers.Sign(), "sign"), (layers.Gaussian(), "gaussian"),
                        (layers.Identity(), "linear"), (layers.Activation(name="relu"), "relu")):
        np.testing.assert_array_equal(layer.forward(z), A.get(name)(z))
        np.testing.assert_array_equal(layer.backward(np.ones_like(z)), A.get(name).grad(z))
        assert layer.n_params == 0
    leaky = layers.LeakyReLU(0.1)
    np.testing.assert_allclose(leaky.forward(z), [[-0.2, 0.5]])
    np.testing.assert_allclose(leaky.backward(np.ones_like(z)), [[0.1, 1.0]])
    assert repr(leaky) == "Activation('leaky_relu', slope=0.1)"
    np.testing.assert_allclose(layers.LeakyReLU()(z), [[-0.02, 0.5]])
    from_get = layers.Activation(A.get("leaky_relu", slope=0.3))
    np.testing.assert_allclose(from_get.forward(z), [[-0.6, 0.5]])


def test_dropout_layer_train_and_test():
    x = np.ones((200, 100))
    drop = layers.Dropout(0.4, seed=0)
    a = drop.forward(x, train=True)
    b = drop.forward(x, train=True)
    assert not np.array_equal(a, b)                              # a fresh mask every call
    assert (a == 0).mean() == pytest.approx(0.4, abs=0.01)
    assert a.mean() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_array_equal(layers.Dropout(0.4, seed=0).forward(x, train=True), a)   # seeded
    np.testing.assert_array_equal(drop.forward(x), x)             # train=False (default): identity
    classic = layers.Dropout(0.4, inverted=False, seed=0)
    np.testing.assert_allclose(classic.forward(x), 0.6)           # test time: times (1 - p)
    assert set(np.unique(classic.forward(x, train=True))) == {0.0, 1.0}
    # Sequential passes train to its dropout layers
    net = layers.Sequential(layers.Dense(100, 3, seed=0), layers.Dropout(0.5, seed=0))
    np.testing.assert_array_equal(net.forward(x), net.forward(x))
    assert (net.forward(x, train=True) == 0).any()


def test_float32_end_to_end():
    net = _make_net(("relu", "sigmoid"), [4, 6, 5, 3], 0, dtype=np.float32, dropout=0.2)
    x = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    out = net.forward(x, train=True)
    assert out.dtype == np.float32
    dx = net.backward(np.ones_like(out))
    assert dx.dtype == np.float32
    assert all(g.dtype == np.float32 for g in net.grads.values())
    assert all(p.dtype == np.float32 for p in net.params.values())


def test_backward_leaves_the_callers_arrays_alone():
    """Only a pass that owns its upstream gradient (MLP.loss) may overwrite it; the public backward of a
    network that ends in an activation or dropout must not touch the caller's ``dout``."""
    net = layers.Sequential(layers.Dense(3, 4, seed=1), layers.Tanh(), layers.Dropout(0.5, seed=2))
    x = np.random.default_rng(0).standard_normal((5, 3))
    out = net.forward(x, train=True)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    kept = dout.copy()
    net.backward(dout)
    np.testing.assert_array_equal(dout, kept)
    assert all(layer._cache is not None for layer in net)          # and keeps its caches


def test_errors():
    with pytest.raises(ValueError, match="init: expected one of he, glorot, xavier, normal, got 'lecun'"):
        layers.Dense(3, 2, init="lecun")
    with pytest.raises(ValueError, match="d_in: expected an integer >= 1, got 0"):
        layers.Dense(0, 2)
    with pytest.raises(TypeError, match="d_out: expected an integer >= 1, got 2.5"):
        layers.Dense(3, 2.5)
    with pytest.raises(ValueError, match="dtype: expected float32 or float64, got int64"):
        layers.Dense(3, 2, dtype=np.int64)
    with pytest.raises(ValueError, match="unknown name 'softmax'; valid names are"):
        layers.Activation("softmax")
    with pytest.raises(ValueError, match=r"p: expected a value in \[0, 1\), got 1"):
        layers.Dropout(1)
    with pytest.raises(RuntimeError, match="Dense.backward called before forward"):
        layers.Dense(3, 2).backward(np.ones((1, 2)))
    with pytest.raises(TypeError, match="layers\\[1\\]: expected a Layer, got ufunc"):
        layers.Sequential(layers.Dense(3, 2), np.tanh)
    net = layers.Sequential(layers.Dense(3, 2))
    with pytest.raises(ValueError, match=r"x: expected \(N, 3\)"):
        net.forward(np.ones((2, 4)))
    net.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dout: expected shape \(2, 2\)"):
        net.backward(np.ones((2, 3)))


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(layers)
    assert result.attempted > 0 and result.failed == 0
