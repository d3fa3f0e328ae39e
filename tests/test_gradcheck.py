"""nnkit.gradcheck: finite differences on known functions, restoring x, rel_error's formula, and
check_gradients catching a wrong gradient."""

import numpy as np
import pytest

from nnkit import functional as F
from nnkit import losses as L
from nnkit.gradcheck import check_gradients, numerical_gradient, numerical_gradient_array, rel_error


def test_numerical_gradient_of_known_functions():
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sum(v ** 2), x), 2 * x, rtol=1e-9)
    np.testing.assert_allclose(numerical_gradient(lambda v: np.sin(v).sum(), x), np.cos(x), rtol=1e-9)
    # a quadratic is differentiated exactly by centred differences (up to rounding), for any h
    np.testing.assert_allclose(numerical_gradient(lambda v: (v ** 2).sum(), x, h=0.5), 2 * x, rtol=1e-12)
    # 0-d arrays work too
    assert numerical_gradient(lambda v: float(v) ** 3, np.array(2.0)) == pytest.approx(12.0)


def test_x_is_restored_bit_for_bit_even_when_f_raises():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    before = x.copy()
    numerical_gradient(lambda v: np.exp(v).sum(), x)
    np.testing.assert_array_equal(x, before)
    calls = []

    def boom(v):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError, match="boom"):
        numerical_gradient(boom, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_array_is_a_vector_jacobian_product():
    rng = np.random.default_rng(1)
    A, x, dout = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), rng.standard_normal((4, 2))
    np.testing.assert_allclose(numerical_gradient_array(lambda v: A @ v, x, dout), A.T @ dout, rtol=1e-8)


def test_rel_error_formula():
    assert rel_error([1.0, 2.0], [1.0, 2.0]) == 0.0
    assert rel_error(1.0, -1.0) == 1.0
    assert rel_error([1.0, 10.0], [1.1, 10.0]) == pytest.approx(0.1 / 2.1)   # max over elements
    assert rel_error(0.0, 1e-9) == pytest.approx(0.1)                         # the 1e-8 floor
    assert rel_error(0.0, 0.0) == 0.0
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0
    a = np.array([3.0, -4.0, 5.0])
    b = a + np.array([1e-9, 0, -2e-9])
    assert rel_error(a, b) == pytest.approx(np.max(np.abs(a - b) / np.maximum(1e-8, np.abs(a) + np.abs(b))))


def test_errors():
    with pytest.raises(ValueError, match=r"b: expected the shape of a \(2,\), got \(3,\)"):
        rel_error(np.zeros(2), np.zeros(3))
    with pytest.raises(TypeError, match="x: expected a float ndarray .* dtype int64"):
        numerical_gradient(np.sum, np.arange(3))
    with pytest.raises(TypeError, match="x: expected a float ndarray"):
        numerical_gradient(np.sum, [1.0, 2.0])
    ro = np.ones(3)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="x: expected a writeable array"):
        numerical_gradient(np.sum, ro)
    with pytest.raises(ValueError, match="h: expected a finite step > 0"):
        numerical_gradient(np.sum, np.ones(2), h=0)
    with pytest.raises(TypeError, match="model: expected an object with a params dict and a loss"):
        check_gradients(object(), None, None)


class TinySoftmax:
    """A linear softmax classifier with an l2 term, built from the pure pairs (optionally buggy)."""

    def __init__(self, bug=False):
        rng = np.random.default_rng(0)
        self.params = {"W1": rng.standard_normal((4, 3)), "b1": rng.standard_normal(3)}
        self.bug = bug
        self.seen_train = []

    def loss(self, X, y, train=True):
        self.seen_train.append(train)
        s, cache = F.dense_forward(X, self.params["W1"], self.params["b1"])
        loss, ds = L.softmax_cross_entropy(s, y)
        reg, rgrads = F.l2_penalty(self.params, 0.1)
        _, dW, db = F.dense_backward(ds, cache)
        if self.bug:
            dW = dW * 1.01                       # a 1% mistake
        return loss + reg, {"W1": dW + rgrads["W1"], "b1": db}


def test_check_gradients_passes_a_correct_model_and_catches_a_wrong_one():
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 3, 6)
    good = TinySoftmax()
    errors = check_gradients(good, X, y)
    assert set(errors) == {"W1", "b1"}
    assert max(errors.values()) < 1e-7
    assert set(good.seen_train) == {False}        # called with train=False (no dropout noise)
    bad = check_gradients(TinySoftmax(bug=True), X, y)
    assert bad["W1"] > 1e-3 and bad["b1"] < 1e-7


def test_check_gradients_on_the_package_mlp_uses_test_mode():
    """nnkit.MLP with dropout: only train=False makes the loss a deterministic function to difference."""
    from nnkit.models import MLP

    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((5, 3)), rng.integers(0, 2, 5)
    net = MLP([3, 4, 2], activation="tanh", dropout=0.5, l2=0.1, seed=0)
    errors = check_gradients(net, X, y)
    assert set(errors) == {"W1", "b1", "W2", "b2"}
    assert max(errors.values()) < 1e-7, errors
