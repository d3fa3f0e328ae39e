"""Perceptron and MulticlassPerceptron: the lectures' examples by hand, convergence, XOR, bad input."""

import numpy as np
import pytest

from nnkit.models import MulticlassPerceptron, Perceptron

# x1 = weather is good, x2 = have company, x3 = theatre is nearby
MOVIES = np.array([[a, b, c] for a in (0, 1) for b in (0, 1) for c in (0, 1)], dtype=float)


def test_go_to_the_movies():
    p = Perceptron()
    p.w, p.b = np.array([4.0, 2.0, 2.0]), -5.0
    z = p.decision_function(MOVIES)
    np.testing.assert_array_equal(z, [-5, -3, -3, -1, -1, 1, 1, 3])
    go = {tuple(x.astype(int)): int(g) for x, g in zip(MOVIES, p.predict(MOVIES))}
    assert go[(1, 1, 0)] == 1 and go[(1, 0, 1)] == 1 and go[(1, 1, 1)] == 1   # weather + a reason
    assert go[(0, 1, 1)] == -1                                                # both minor reasons, no weather
    assert go[(1, 0, 0)] == -1 and go[(0, 0, 0)] == -1                        # weather alone is not enough
    # the step-activation view (1 = go, 0 = stay home)
    np.testing.assert_array_equal((z > 0).astype(int), [0, 0, 0, 0, 0, 1, 1, 1])


def test_updates_by_hand():
    p = Perceptron(lr=0.5)
    assert p.update([1.0, 2.0], 1) is True          # w = 0: y·z = 0 <= 0 is a mistake
    np.testing.assert_array_equal(p.w, [0.5, 1.0])
    assert p.b == 0.5
    assert p.update([1.0, 2.0], 1) is False         # z = 0.5 + 2 + 0.5 = 3 > 0: correct, no change
    assert p.update([3.0, 1.0], -1) is True         # z = 1.5 + 1 + 0.5 = 3, y·z = -3: mistake
    np.testing.assert_array_equal(p.w, [0.5 - 1.5, 1.0 - 0.5])
    assert p.b == 0.0
    assert len(p.history) == 2
    np.testing.assert_array_equal(p.history[0][0], [0.5, 1.0])   # copies, not views of w
    assert p.history[-1][1] == p.b


def _separable(n=60, seed=0, margin=0.2):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(4 * n, 2))
    z = X @ np.array([1.0, -2.0]) + 0.3
    keep = np.abs(z) > margin
    return X[keep][:n], np.where(z[keep][:n] > 0, 1, -1)


@pytest.mark.parametrize("shuffle", [False, True])
def test_converges_on_separable_data(shuffle):
    X, y = _separable()
    p = Perceptron(seed=1, shuffle=shuffle)
    mistakes = p.fit(X, y, epochs=1000)
    assert mistakes[-1] == 0 and len(mistakes) < 1000
    assert all(m > 0 for m in mistakes[:-1])
    assert p.score(X, y) == 1.0
    assert len(p.history) == sum(mistakes) > 0
    w_last, b_last = p.history[-1]
    np.testing.assert_array_equal(w_last, p.w)
    assert b_last == p.b


def test_never_converges_on_xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    y = np.array([-1, 1, 1, -1])
    p = Perceptron()
    mistakes = p.fit(X, y, epochs=50)
    assert len(mistakes) == 50 and min(mistakes) > 0
    assert p.score(X, y) < 1.0


def test_fit_restarts_from_zero_and_keeps_float32():
    X, y = _separable()
    p = Perceptron()
    first = p.fit(X, y)
    assert p.fit(X, y) == first
    p.fit(X.astype(np.float32), y)
    assert p.w.dtype == np.float32


def test_multiclass_update_by_hand():
    m = MulticlassPerceptron(2, 3, lr=1.0)
    assert m.update([1.0, 2.0], 2) is True      # all scores 0: argmax -> class 0, wrong
    np.testing.assert_array_equal(m.W, [[-1, 0, 1], [-2, 0, 2]])
    np.testing.assert_array_equal(m.b, [-1, 0, 1])
    assert m.update([1.0, 2.0], 2) is False     # now class 2 scores 1 + 4 + 1 = 6, highest


def test_multiclass_learns_blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 4.0], [4.0, -2.0], [-4.0, -2.0]])
    y = rng.integers(0, 3, size=300)
    X = centers[y] + 0.8 * rng.standard_normal((300, 2))
    m = MulticlassPerceptron(2, 3, seed=0, shuffle=True)
    mistakes = m.fit(X, y, epochs=100)
    assert mistakes[-1] == 0 and len(mistakes) > 1
    assert m.score(X, y) == 1.0
    X_te = centers[y] + 0.8 * rng.standard_normal((300, 2))
    assert m.score(X_te, y) > 0.97


def test_bad_input():
    X, y = _separable()
    with pytest.raises(ValueError, match="binary labels must be -1 or \\+1"):
        Perceptron().fit(X, (y > 0).astype(int))
    with pytest.raises(ValueError, match="X: expected 2 dimensions"):
        Perceptron().fit(X[:, 0], y)
    with pytest.raises(ValueError, match="X has 60 rows but y has 59"):
        Perceptron().fit(X, y[:-1])
    Xn = X.copy()
    Xn[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        Perceptron().fit(Xn, y)
    with pytest.raises(ValueError, match="lr"):
        Perceptron(lr=0)
    with pytest.raises(ValueError, match="epochs"):
        Perceptron().fit(X, y, epochs=0)
    with pytest.raises(ValueError, match="no weights yet"):
        Perceptron().predict(X)
    p = Perceptron()
    p.fit(X, y)
    with pytest.raises(ValueError, match=r"X: expected shape \(\?, 2\)"):
        p.predict(np.ones((2, 3)))
    m = MulticlassPerceptron(2, 3)
    with pytest.raises(ValueError, match="label 3 out of range for 3 classes"):
        m.fit(X, np.full(len(X), 3))
    with pytest.raises(ValueError, match=r"X: expected shape \(\?, 2\)"):
        m.fit(np.ones((5, 4)), np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="n_classes"):
        MulticlassPerceptron(2, 1)
