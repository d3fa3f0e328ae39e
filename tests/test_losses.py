"""nnkit.losses: the lecture's worked example, gradients vs finite differences, torch as oracle,
stability at |s| ~ 1e4, dtypes and bad input."""

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import given
from hypothesis import strategies as st

from nnkit import losses as L
from nnkit.gradcheck import numerical_gradient, rel_error
from tests._oracles import PROPERTY, TOL_FD, assert_close, assume_resolvable, away, tn, tt

shapes = st.tuples(st.integers(1, 6), st.integers(1, 5))
seeds = st.integers(0, 10**6)


def softmax_rows(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def check_fd(loss_fn, first, *rest):
    """The returned gradient equals centred differences of the returned loss.

    Finite differences carry an absolute noise of ~1e-11 (rounding of the O(1) loss over h, and h²
    times the curvature), so examples whose true gradient has an entry with 0 < |g| < 1e-3 (an unlikely
    class's p_j / N, a soft target almost matched) are skipped: there the noise is a large relative
    error, like at a kink. The filter looks at the oracle's numbers, never at the code under test.
    """
    _, grad = loss_fn(first, *rest)
    num = numerical_gradient(lambda v: loss_fn(v, *rest)[0], first)
    assume_resolvable(num)
    err = rel_error(grad, num)
    assert err < TOL_FD, err


# --------------------------------------------------------------------------- the lecture's example

def test_softmax_worked_example():
    scores = np.array([[3.2, 5.1, -1.7]])
    loss, grad = L.softmax_cross_entropy(scores, [0])
    p = softmax_rows(scores)
    assert p[0, 0] == pytest.approx(0.13, abs=5e-3)
    assert loss == pytest.approx(2.04, abs=5e-3)
    assert loss == pytest.approx(-np.log(p[0, 0]), rel=1e-14)
    np.testing.assert_allclose(grad, p - [[1, 0, 0]], rtol=1e-14)     # p_j - 1 for the true class


def test_softmax_gradient_is_p_minus_onehot_over_n():
    rng = np.random.default_rng(0)
    s, y = rng.standard_normal((5, 4)), np.array([0, 3, 1, 1, 2])
    onehot = np.eye(4)[y]
    loss_int, g_int = L.softmax_cross_entropy(s, y)
    loss_hot, g_hot = L.softmax_cross_entropy(s, onehot)
    np.testing.assert_allclose(g_int, (softmax_rows(s) - onehot) / 5, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(g_hot, g_int, rtol=1e-13, atol=1e-16)
    assert loss_int == pytest.approx(loss_hot, rel=1e-14)


def test_hand_values_of_the_simple_losses():
    assert L.mse([1.0, 2.0], [0.0, 4.0])[0] == 2.5
    np.testing.assert_allclose(L.mse([1.0, 2.0], [0.0, 4.0])[1], [1.0, -2.0])
    assert L.mae([1.0, 2.0], [0.0, 4.0])[0] == 1.5
    np.testing.assert_allclose(L.mae([1.0, 2.0], [0.0, 4.0])[1], [0.5, -0.5])
    # binary hinge: margins 1 - y s = [-1, 1.5, 0.5] -> mean of [0, 1.5, 0.5]
    loss, grad = L.hinge([2.0, -0.5, 0.5], [1, 1, 1])
    assert loss == pytest.approx(2 / 3)
    np.testing.assert_allclose(grad, [0, -1 / 3, -1 / 3])
    # multiclass hinge (CS231n): s = [3.2, 5.1, -1.7], y = 0 -> max(0, 2.9) + max(0, -3.9) = 2.9
    loss, grad = L.hinge([[3.2, 5.1, -1.7]], [0])
    assert loss == pytest.approx(2.9)
    np.testing.assert_allclose(grad, [[-1, 1, 0]])
    # 0-1 loss: error rate, zero gradient
    loss, grad = L.zero_one([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]], [1, 1, 1])
    assert loss == pytest.approx(1 / 3) and not grad.any()
    assert L.zero_one([0.5, -2.0, 0.0, -1.0], [1, 1, -1, -1])[0] == 0.5    # sign(0) = +1
    # binary cross-entropy at logit 0 is log 2
    assert L.binary_cross_entropy([0.0], [1.0])[0] == pytest.approx(np.log(2))
    # KL: one-hot p reduces to -log q_y; D(p||p) = 0
    assert L.kl_divergence([0.0, 1.0, 0.0], [0.2, 0.5, 0.3])[0] == pytest.approx(-np.log(0.5))
    assert L.kl_divergence([[0.2, 0.8]], [[0.2, 0.8]])[0] == 0.0


# --------------------------------------------------------------------------- finite differences

@PROPERTY
@given(shape=shapes, seed=seeds)
def test_mse_and_mae_gradients(shape, seed):
    rng = np.random.default_rng(seed)
    target = rng.standard_normal(shape)
    pred = target + away(rng, shape, 0.1, 2.0)      # pred - target away from the |.| kink
    check_fd(L.mse, pred, target)
    check_fd(L.mae, pred, target)


@PROPERTY
@given(shape=shapes, seed=seeds)
def test_softmax_cross_entropy_gradient(shape, seed):
    n, c = shape
    rng = np.random.default_rng(seed)
    s = rng.standard_normal((n, c))
    check_fd(L.softmax_cross_entropy, s, rng.integers(0, c, n))
    check_fd(L.softmax_cross_entropy, s, softmax_rows(rng.standard_normal((n, c))))


@PROPERTY
@given(shape=shapes, seed=seeds)
def test_binary_cross_entropy_gradient(shape, seed):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal(shape) * 3
    check_fd(L.binary_cross_entropy, z, rng.integers(0, 2, shape).astype(float))
    check_fd(L.binary_cross_entropy, z, rng.uniform(0, 1, shape))


@PROPERTY
@given(shape=shapes, seed=seeds)
def test_hinge_gradients_away_from_kinks(shape, seed):
    n, c = shape
    rng = np.random.default_rng(seed)
    y_pm = rng.choice([-1, 1], n)
    margin = away(rng, n, 0.1, 2.0)                   # 1 - y s, away from 0
    check_fd(L.hinge, y_pm * (1 - margin), y_pm)
    y = rng.integers(0, c, n)
    s = rng.standard_normal((n, c))
    # push every s_j - s_y + 1 at least 0.1 away from 0
    m = s - s[np.arange(n), y][:, None] + 1
    s = s + np.where(np.abs(m) < 0.1, 0.2 * np.sign(m + 1e-12), 0)   # (m = 1 at j = y: untouched)
    check_fd(L.hinge, s, y)


@PROPERTY
@given(shape=shapes, seed=seeds)
def test_kl_divergence_gradient_wrt_q(shape, seed):
    rng = np.random.default_rng(seed)
    p = softmax_rows(rng.standard_normal(shape))
    p[0, 0] = 0.0                                     # a zero of p: 0 log 0 = 0, no gradient there
    q = rng.uniform(0.2, 1.0, shape)
    _, grad = L.kl_divergence(p, q)
    num = numerical_gradient(lambda v: L.kl_divergence(p, v)[0], q)
    assert rel_error(grad, num) < TOL_FD
    assert grad[0, 0] == 0


# --------------------------------------------------------------------------- torch as oracle

def _torch_grad(fn, x, *rest):
    xt = tt(x)
    out = fn(xt, *rest)
    out.backward()
    return out.item(), tn(xt.grad)


@pytest.mark.parametrize("seed", range(5))
def test_softmax_cross_entropy_equals_torch(seed):
    rng = np.random.default_rng(seed)
    n, c = rng.integers(1, 8), rng.integers(2, 7)
    s = rng.standard_normal((n, c)) * 4
    y = rng.integers(0, c, n)
    t = softmax_rows(rng.standard_normal((n, c)))
    for target, ttarget in ((y, torch.tensor(y)), (t, tt(t, grad=False))):
        loss, grad = L.softmax_cross_entropy(s, target)
        tloss, tgrad = _torch_grad(TF.cross_entropy, s, ttarget)
        assert_close(loss, tloss, what="loss")
        assert_close(grad, tgrad, what="grad")


@pytest.mark.parametrize("seed", range(5))
def test_regression_and_bce_and_kl_equal_torch(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 6, 2))
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    for mine, theirs in ((L.mse, TF.mse_loss), (L.mae, TF.l1_loss)):
        loss, grad = mine(a, b)
        tloss, tgrad = _torch_grad(theirs, a, tt(b, grad=False))
        assert_close(loss, tloss, what=mine.__name__)
        assert_close(grad, tgrad, what=mine.__name__)
    for y in (rng.integers(0, 2, shape).astype(float), rng.uniform(0, 1, shape)):
        z = a * 5
        loss, grad = L.binary_cross_entropy(z, y)
        tloss, tgrad = _torch_grad(TF.binary_cross_entropy_with_logits, z, tt(y, grad=False))
        assert_close(loss, tloss, what="bce")
        assert_close(grad, tgrad, what="bce grad")
    p, q = softmax_rows(a), softmax_rows(b)
    loss, grad = L.kl_divergence(p, q)
    tloss, tgrad = _torch_grad(lambda qt: TF.kl_div(qt.log(), tt(p, grad=False), reduction="batchmean"), q)
    assert_close(loss, tloss, what="kl")
    assert_close(grad, tgrad, what="kl grad")


def test_multiclass_hinge_equals_torch_multi_margin_times_c():
    rng = np.random.default_rng(7)
    s, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    loss, grad = L.hinge(s, y)
    tloss, tgrad = _torch_grad(lambda st_: TF.multi_margin_loss(st_, torch.tensor(y)) * 4, s)
    assert_close(loss, tloss)
    assert_close(grad, tgrad)


# --------------------------------------------------------------------------- stability and dtypes

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_cross_entropy_stable_at_1e4(dtype):
    s = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, 1e4], [5e3, 5e3, -1e4]], dtype=dtype)
    y = np.array([1, 2, 0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):   # underflow to 0 is fine
        loss, grad = L.softmax_cross_entropy(s, y)
    assert np.isfinite(loss) and np.isfinite(grad).all() and grad.dtype == dtype
    # row 0: -log p_1 = 2e4; row 1: 0; row 2: log 2
    assert loss == pytest.approx((2e4 + 0 + np.log(2)) / 3, rel=1e-6)
    np.testing.assert_allclose(grad, np.array([[1, -1, 0], [0, 0, 0], [-0.5, 0.5, 0]]) / 3, atol=1e-7)
    tloss = TF.cross_entropy(torch.tensor(s.astype(np.float64)), torch.tensor(y)).item()
    assert loss == pytest.approx(tloss, rel=1e-6)


def test_binary_cross_entropy_stable_at_1e4():
    z = np.array([1e4, -1e4, 1e4, -1e4])
    y = np.array([1.0, 0.0, 0.0, 1.0])
    with np.errstate(over="raise", divide="raise", invalid="raise"):   # underflow to 0 is fine
        loss, grad = L.binary_cross_entropy(z, y)
    assert loss == pytest.approx(2e4 / 4)
    np.testing.assert_allclose(grad, [0, 0, 0.25, -0.25])


@pytest.mark.parametrize("case", ["mse", "mae", "bce", "ce_int", "ce_prob", "hinge", "hinge_bin",
                                  "zero_one", "kl"])
def test_float32_gradients_stay_float32(case):
    rng = np.random.default_rng(0)
    s = rng.standard_normal((4, 3)).astype(np.float32)
    y = np.array([0, 2, 1, 1])
    p64 = softmax_rows(rng.standard_normal((4, 3)))       # float64 targets must not upcast
    calls = {
        "mse": lambda: L.mse(s, p64), "mae": lambda: L.mae(s, p64),
        "bce": lambda: L.binary_cross_entropy(s, p64),
        "ce_int": lambda: L.softmax_cross_entropy(s, y), "ce_prob": lambda: L.softmax_cross_entropy(s, p64),
        "hinge": lambda: L.hinge(s, y), "hinge_bin": lambda: L.hinge(s[:, 0], [1, -1, 1, -1]),
        "zero_one": lambda: L.zero_one(s, y),
        "kl": lambda: L.kl_divergence(p64, softmax_rows(s.astype(np.float64)).astype(np.float32)),
    }
    loss, grad = calls[case]()
    assert isinstance(loss, float)
    assert grad.dtype == np.float32


# --------------------------------------------------------------------------- bad input

def test_bad_input_raises_clear_errors():
    s = np.zeros((3, 4))
    with pytest.raises(ValueError, match=r"target: expected the shape of pred \(2, 3\), got \(3, 2\)"):
        L.mse(np.zeros((2, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="target: expected the shape of pred"):
        L.mae(np.zeros(3), np.zeros((3, 1)))                # no silent broadcasting
    with pytest.raises(ValueError, match="y: expected the shape of logits"):
        L.binary_cross_entropy(np.zeros(4), np.zeros(3))
    with pytest.raises(ValueError, match=r"y: label 4 out of range for 4 classes \(valid labels are 0..3\)"):
        L.softmax_cross_entropy(s, [0, 1, 4])
    with pytest.raises(ValueError, match="y: labels must be >= 0"):
        L.hinge(s, [0, -1, 2])
    with pytest.raises(ValueError, match="scores has 3 rows but y has 2"):
        L.softmax_cross_entropy(s, [0, 1])
    with pytest.raises(ValueError, match=r"y: expected shape \(3, 4\), got \(3, 3\)"):
        L.softmax_cross_entropy(s, np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="rows of probability targets must sum to 1, row 1"):
        L.softmax_cross_entropy(s[:2], [[0.5, 0.5, 0, 0], [0.5, 0.2, 0, 0]])
    with pytest.raises(ValueError, match="scores: contains NaN or inf"):
        L.softmax_cross_entropy([[0.0, np.nan]], [0])
    with pytest.raises(ValueError, match="pred: contains NaN or inf"):
        L.mse([np.inf], [0.0])
    with pytest.raises(ValueError, match="target: contains NaN or inf"):
        L.mse([0.0], [np.nan])
    with pytest.raises(ValueError, match=r"y: expected values in \[0, 1\]"):
        L.binary_cross_entropy([0.0, 1.0], [0.0, 2.0])
    with pytest.raises(ValueError, match=r"y: binary labels must be -1 or \+1, got \[0\]"):
        L.hinge([0.5, -0.5], [0, 1])
    with pytest.raises(ValueError, match="y: labels must be whole numbers"):
        L.zero_one(s, [0.5, 1, 2])
    with pytest.raises(ValueError, match=r"scores: expected 2 dimensions"):
        L.softmax_cross_entropy([1.0, 2.0], [0, 1])
    with pytest.raises(ValueError, match=r"q: q is 0 at index \(1,\) where p > 0"):
        L.kl_divergence([0.5, 0.5], [1.0, 0.0])
    with pytest.raises(ValueError, match="p: expected probabilities >= 0"):
        L.kl_divergence([-0.5, 1.5], [0.5, 0.5])
    with pytest.raises(ValueError, match="pred: expected at least one element"):
        L.mse(np.zeros(0), np.zeros(0))
    with pytest.raises(TypeError, match="pred: expected a numeric array"):
        L.mse("abc", [1.0])
