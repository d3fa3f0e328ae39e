"""nnkit.functional: every backward pass vs finite differences and torch, the lectures' worked examples,
dropout statistics, penalties, dtypes and bad input."""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nnkit import activations as A
from nnkit import functional as F
from nnkit import losses as L
from nnkit.gradcheck import numerical_gradient, numerical_gradient_array, rel_error
from tests._oracles import (
    ACTIVATION_CASES,
    PROPERTY,
    TOL_FD,
    activation_case,
    assert_close,
    assume_resolvable,
    away,
    tn,
    tt,
)

dims = st.integers(1, 6)
seeds = st.integers(0, 10**6)


# --------------------------------------------------------------------------- finite differences

@PROPERTY
@given(n=dims, d=dims, m=dims, seed=seeds)
def test_dense_backward_matches_finite_differences(n, d, m, seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)
    dout = away(rng, (n, m), 0.5, 1.5)
    out, cache = F.dense_forward(x, W, b)
    np.testing.assert_allclose(out, x @ W + b, rtol=1e-14)
    num_dx = numerical_gradient_array(lambda v: F.dense_forward(v, W, b)[0], x, dout)
    num_dW = numerical_gradient_array(lambda v: F.dense_forward(x, v, b)[0], W, dout)
    num_db = numerical_gradient_array(lambda v: F.dense_forward(x, W, v)[0], b, dout)
    assume_resolvable(num_dx, num_dW, num_db)
    dx, dW, db = F.dense_backward(dout, cache)
    assert rel_error(dx, num_dx) < TOL_FD
    assert rel_error(dW, num_dW) < TOL_FD
    assert rel_error(db, num_db) < TOL_FD
    none, dW2, db2 = F.dense_backward(dout, cache, need_dx=False)
    assert none is None
    np.testing.assert_array_equal(dW2, dW)
    np.testing.assert_array_equal(db2, db)


@PROPERTY
@given(key=st.sampled_from(ACTIVATION_CASES), n=dims, d=dims, seed=seeds)
def test_activation_backward_matches_finite_differences(key, n, d, seed):
    name, _, kw = activation_case(key)
    rng = np.random.default_rng(seed)
    x = away(rng, (n, d))                           # away from the kinks at 0
    dout = away(rng, (n, d), 0.5, 1.5)
    # through the dispatcher and through the named pair
    _, cache = F.activation_forward(x, name, **kw)
    dx = F.activation_backward(dout, cache)
    fwd, bwd = getattr(F, f"{name}_forward"), getattr(F, f"{name}_backward")
    np.testing.assert_array_equal(bwd(dout, fwd(x, **kw)[1]), dx)
    num = numerical_gradient_array(lambda v: F.activation_forward(v, name, **kw)[0], x, dout)
    assert rel_error(dx, num) < TOL_FD


@PROPERTY
@given(n=dims, c=st.integers(2, 6), seed=seeds)
def test_softmax_backward_matches_finite_differences(n, c, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal((n, c)), away(rng, (n, c), 0.5, 1.5)
    num = numerical_gradient_array(lambda v: F.softmax_forward(v)[0], x, dout)
    assume_resolvable(num)
    assert rel_error(F.softmax_backward(dout, F.softmax_forward(x)[1]), num) < TOL_FD


@PROPERTY
@given(n=dims, d=dims, p=st.sampled_from([0.0, 0.2, 0.5, 0.9]), inverted=st.booleans(),
       train=st.booleans(), seed=seeds)
def test_dropout_backward_with_a_fixed_mask(n, d, p, inverted, train, seed):
    rng = np.random.default_rng(seed)
    x, dout = rng.standard_normal((n, d)), away(rng, (n, d), 0.5, 1.5)

    def forward(v):  # the same seed every call: the same mask
        return F.dropout_forward(v, p, train, np.random.default_rng(seed), inverted=inverted)

    out, cache = forward(x)
    dx = F.dropout_backward(dout, cache)
    assert rel_error(dx, numerical_gradient_array(lambda v: forward(v)[0], x, dout)) < TOL_FD
    np.testing.assert_array_equal(dx == 0, out == 0)   # gradient flows exactly through kept units


@PROPERTY
@given(seed=seeds, lam=st.sampled_from([0.0, 0.01, 0.5, 3.0]))
def test_penalty_gradients(seed, lam):
    rng = np.random.default_rng(seed)
    params = {"W1": away(rng, (3, 4), 0.1, 2.0), "b1": rng.standard_normal(4),
              "W2": away(rng, (4, 2), 0.1, 2.0), "b2": rng.standard_normal(2)}
    for penalty in (F.l2_penalty, F.l1_penalty):
        value, grads = penalty(params, lam)
        assert set(grads) == set(params)
        for k, v in params.items():
            num = numerical_gradient(lambda _, fn=penalty: fn(params, lam)[0], v)
            assert rel_error(grads[k], num) < TOL_FD, (penalty.__name__, k)
        if lam:
            assert not grads["b1"].any() and not grads["b2"].any()


def test_penalty_values_by_hand():
    params = {"W1": np.array([[1.0, -2.0]]), "b1": np.array([10.0]), "W2": np.array([[3.0]])}
    value, grads = F.l2_penalty(params, 0.1)
    assert value == pytest.approx(0.1 / 2 * (1 + 4 + 9))
    np.testing.assert_allclose(grads["W1"], [[0.1, -0.2]])
    value, grads = F.l1_penalty(params, 0.1)
    assert value == pytest.approx(0.1 * 6)
    np.testing.assert_allclose(grads["W1"], [[0.1, -0.1]])
    assert grads["b1"].tolist() == [0.0]


# --------------------------------------------------------------------------- torch as oracle

@pytest.mark.parametrize("key", ACTIVATION_CASES)
def test_dense_activation_chain_equals_torch_autograd(key):
    """x -> dense -> activation -> dense -> softmax CE, by the pairs and by torch.autograd."""
    name, torch_act, kw = activation_case(key)
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((6, 5)), rng.integers(0, 3, 6)
    W1, b1 = rng.standard_normal((5, 4)), rng.standard_normal(4)
    W2, b2 = rng.standard_normal((4, 3)), rng.standard_normal(3)

    z1, c1 = F.dense_forward(x, W1, b1)
    h, c2 = F.activation_forward(z1, name, **kw)
    s, c3 = F.dense_forward(h, W2, b2)
    loss, ds = L.softmax_cross_entropy(s, y)
    dh, dW2, db2 = F.dense_backward(ds, c3)
    dx, dW1, db1 = F.dense_backward(F.activation_backward(dh, c2), c1)

    ts = [tt(a) for a in (x, W1, b1, W2, b2)]
    tloss = torch.nn.functional.cross_entropy(torch_act(ts[0] @ ts[1] + ts[2]) @ ts[3] + ts[4],
                                              torch.tensor(y))
    tloss.backward()
    assert_close(loss, tloss.item(), what="loss")
    for mine, t, what in zip((dx, dW1, db1, dW2, db2), ts, ("dx", "dW1", "db1", "dW2", "db2"), strict=True):
        assert_close(mine, tn(t.grad), what=f"{key} {what}")


def test_activation_forward_accepts_an_activation_object():
    x = np.array([[-1.0, 2.0]])
    out, cache = F.activation_forward(x, A.get("leaky_relu", slope=0.2))
    np.testing.assert_allclose(out, [[-0.2, 2.0]])
    np.testing.assert_allclose(F.activation_backward(np.ones_like(x), cache), [[0.2, 1.0]])


def test_softmax_backward_equals_torch():
    rng = np.random.default_rng(5)
    x, dout = rng.standard_normal((4, 6)), rng.standard_normal((4, 6))
    xt = tt(x)
    torch.softmax(xt, dim=1).backward(torch.tensor(dout))
    assert_close(F.softmax_backward(dout, F.softmax_forward(x)[1]), tn(xt.grad))


# --------------------------------------------------------------------------- worked examples

def test_one_hidden_relu_worked_example_with_pairs():
    """y = w2 max(0, w1 x + b1) + b2, L = (y - t)², x = t = 1, (w1, b1, w2, b2) = (3, 1, 2, -5)."""
    x, t = np.array([[1.0]]), np.array([[1.0]])
    params = {"W1": np.array([[3.0]]), "b1": np.array([1.0]), "W2": np.array([[2.0]]), "b2": np.array([-5.0])}
    z, c1 = F.dense_forward(x, params["W1"], params["b1"])
    h, c2 = F.relu_forward(z)
    y, c3 = F.dense_forward(h, params["W2"], params["b2"])
    loss, dy = L.mse(y, t)
    assert (h.item(), y.item(), loss) == (4.0, 3.0, 4.0)
    assert dy.item() == 4.0                                  # 2 (y - t)
    dh, dW2, db2 = F.dense_backward(dy, c3)
    assert (dW2.item(), db2.item(), dh.item()) == (16.0, 4.0, 8.0)
    dx, dW1, db1 = F.dense_backward(F.relu_backward(dh, c2), c1)
    assert (dW1.item(), db1.item()) == (8.0, 8.0)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    new = [(params[k] - 0.25 * grads[k]).item() for k in ("W1", "b1", "W2", "b2")]
    assert new == [1.0, -1.0, -2.0, -6.0]


def test_sigmoid_neuron_reverse_sweep_with_pairs():
    """z = w x + b, y = σ(z), L = (y - t)²/2: ȳ = y - t, z̄ = ȳ σ'(z), w̄ = z̄ x, b̄ = z̄."""
    w, x, b, t = 0.7, -1.3, 0.4, 0.9
    z, c1 = F.dense_forward([[x]], [[w]], [b])
    y, c2 = F.sigmoid_forward(z)
    y_bar = y - t                                            # dL/dy for L = (y - t)²/2
    z_bar = F.sigmoid_backward(y_bar, c2)
    _, w_bar, b_bar = F.dense_backward(z_bar, c1)
    sig = 1 / (1 + np.exp(-(w * x + b)))
    assert z_bar.item() == pytest.approx((sig - t) * sig * (1 - sig), rel=1e-14)
    assert w_bar.item() == pytest.approx(z_bar.item() * x, rel=1e-14)
    assert b_bar.item() == pytest.approx(z_bar.item(), rel=1e-14)


# --------------------------------------------------------------------------- dropout semantics

def test_inverted_dropout_preserves_the_mean():
    x = np.full((1000, 200), 2.0)
    p = 0.3
    out, _ = F.dropout_forward(x, p, True, np.random.default_rng(0))
    kept = out != 0
    assert kept.mean() == pytest.approx(1 - p, abs=0.005)   # sd of the fraction ~ 0.001
    np.testing.assert_allclose(out[kept], 2.0 / (1 - p))
    assert out.mean() == pytest.approx(2.0, abs=0.02)       # sd of the mean ~ 0.0030
    test_out, cache = F.dropout_forward(x, p, False, np.random.default_rng(0))
    np.testing.assert_array_equal(test_out, x)              # identity at test time
    np.testing.assert_array_equal(F.dropout_backward(np.ones_like(x), cache), 1.0)


def test_classic_dropout_scales_at_test_time():
    x = np.full((1000, 200), 2.0)
    p = 0.25
    out, _ = F.dropout_forward(x, p, True, 1, inverted=False)
    assert set(np.unique(out)) == {0.0, 2.0}                # mask only while training
    assert out.mean() == pytest.approx(2.0 * (1 - p), abs=0.02)
    test_out, cache = F.dropout_forward(x, p, False, 1, inverted=False)
    np.testing.assert_allclose(test_out, 2.0 * (1 - p))    # W_test = (1 - p) W_train
    np.testing.assert_allclose(F.dropout_backward(np.ones_like(x), cache), 1 - p)


def test_dropout_masks_are_reproducible_and_fresh():
    x = np.ones((4, 50))
    a, _ = F.dropout_forward(x, 0.5, True, 3)
    b, _ = F.dropout_forward(x, 0.5, True, 3)
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(3)
    c, _ = F.dropout_forward(x, 0.5, True, rng)
    d, _ = F.dropout_forward(x, 0.5, True, rng)
    assert not np.array_equal(c, d)
    np.testing.assert_array_equal(F.dropout_forward(x, 0.0, True, 0)[0], x)


# --------------------------------------------------------------------------- dtypes

def test_float32_stays_float32_through_every_pair():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 4)).astype(np.float32)
    W, b = rng.standard_normal((4, 3)).astype(np.float32), np.zeros(3, np.float32)
    out, cache = F.dense_forward(x, W, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in F.dense_backward(np.ones_like(out), cache))
    for name in A.NAMES:
        kw = {"slope": 0.1} if name == "leaky_relu" else {}
        out, cache = F.activation_forward(x, name, **kw)
        assert out.dtype == np.float32, name
        assert F.activation_backward(np.ones_like(out), cache).dtype == np.float32, name
    out, cache = F.softmax_forward(x)
    assert out.dtype == F.softmax_backward(np.ones_like(out), cache).dtype == np.float32
    for inverted in (True, False):
        for train in (True, False):
            out, cache = F.dropout_forward(x, 0.5, train, 0, inverted=inverted)
            assert out.dtype == np.float32
            assert F.dropout_backward(np.ones_like(out), cache).dtype == np.float32
    params = {"W1": W, "b1": b}
    for penalty in (F.l1_penalty, F.l2_penalty):
        assert all(g.dtype == np.float32 for g in penalty(params, 0.1)[1].values())


# --------------------------------------------------------------------------- bad input

def test_bad_input_raises_clear_errors():
    x, W, b = np.zeros((2, 3)), np.zeros((3, 4)), np.zeros(4)
    with pytest.raises(ValueError, match=r"x: expected \(N, 3\) to match W of shape \(3, 4\), got \(2, 5\)"):
        F.dense_forward(np.zeros((2, 5)), W, b)
    with pytest.raises(ValueError, match=r"b: expected shape \(4,\) to match W of shape \(3, 4\), got \(3,"):
        F.dense_forward(x, W, np.zeros(3))
    with pytest.raises(ValueError, match="x: expected 2 dimensions, got shape"):
        F.dense_forward(np.zeros(3), W, b)
    with pytest.raises(ValueError, match="W: contains NaN or inf"):
        F.dense_forward(x, np.full((3, 4), np.nan), b)
    _, cache = F.dense_forward(x, W, b)
    with pytest.raises(ValueError, match=r"dout: expected shape \(2, 4\) \(the forward output's shape\)"):
        F.dense_backward(np.zeros((2, 3)), cache)
    _, rcache = F.relu_forward(x)
    with pytest.raises(ValueError, match=r"dout: expected shape \(2, 3\)"):
        F.relu_backward(np.zeros((3, 2)), rcache)
    with pytest.raises(TypeError, match="cache: expected the cache returned by dense_forward"):
        F.dense_backward(np.zeros((2, 4)), rcache)
    with pytest.raises(TypeError, match="cache: expected the cache returned by relu_forward"):
        F.relu_backward(np.zeros((2, 3)), (x, x))
    with pytest.raises(TypeError, match="cache: expected the cache returned by activation_forward"):
        F.activation_backward(np.zeros((2, 3)), (x,))
    with pytest.raises(ValueError, match="x: contains NaN or inf"):
        F.sigmoid_forward([1.0, np.inf])
    with pytest.raises(ValueError, match="unknown name 'swish'; valid names are step, sign"):
        F.activation_forward(x, "swish")
    for p in (1.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ValueError, match=r"p: expected a value in \[0, 1\)"):
            F.dropout_forward(x, p, True, 0)
    with pytest.raises(TypeError, match="train: expected a bool"):
        F.dropout_forward(x, 0.5, "yes", 0)
    with pytest.raises(ValueError, match="lam: expected a finite value >= 0"):
        F.l2_penalty({"W1": W}, -1.0)
    with pytest.raises(TypeError, match="params: expected a dict"):
        F.l1_penalty([W], 0.1)
