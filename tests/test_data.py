"""nnkit.data toy sets, preprocessing helpers and the scikit-learn data sets."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nnkit import data

# ---------------------------------------------------------------------------------------------------
# toy classification sets: shapes, dtypes, labels, determinism

CLASSIFIERS = {
    "xor_cloud": (lambda seed: data.xor(n=101, noise=0.1, seed=seed), 101, 2, {0, 1}),
    "blobs": (lambda seed: data.blobs(n=150, centers=3, std=0.5, seed=seed), 150, 2, {0, 1, 2}),
    "moons": (lambda seed: data.moons(n=201, noise=0.1, seed=seed), 201, 2, {0, 1}),
    "circles": (lambda seed: data.circles(n=200, noise=0.05, factor=0.5, seed=seed), 200, 2, {0, 1}),
    "spirals2": (lambda seed: data.spirals(n=200, n_classes=2, noise=0.2, seed=seed), 200, 2, {0, 1}),
    "spirals4": (lambda seed: data.spirals(n=203, n_classes=4, noise=0.1, seed=seed), 203, 2, {0, 1, 2, 3}),
    "separable": (lambda seed: data.linearly_separable(n=99, margin=0.3, seed=seed), 99, 2, {-1, 1}),
}


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_toy_shapes_dtypes_labels(name):
    make, n, d, labels = CLASSIFIERS[name]
    X, y = make(0)
    assert X.shape == (n, d) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert set(np.unique(y).tolist()) == labels
    assert np.isfinite(X).all()
    counts = np.unique(y, return_counts=True)[1]
    assert counts.max() - counts.min() <= 1, "classes are balanced"


@pytest.mark.parametrize("name", list(CLASSIFIERS))
def test_toy_deterministic_by_seed(name):
    make = CLASSIFIERS[name][0]
    X1, y1 = make(3)
    X2, y2 = make(3)
    X3, _ = make(4)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.allclose(X1, X3)
    X4, y4 = make(np.random.default_rng(3))
    np.testing.assert_array_equal(X1, X4)
    np.testing.assert_array_equal(y1, y4)


def test_toy_sets_leave_global_random_state_alone():
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    data.moons(50, seed=1)
    data.spirals(50, seed=1)
    assert np.random.random() == before


def test_xor_four_points():
    X, y = data.xor()
    np.testing.assert_array_equal(X, [[0, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_array_equal(y, [0, 1, 1, 0])
    assert X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(y, np.logical_xor(X[:, 0], X[:, 1]))


def test_xor_cloud_labels_follow_the_nearest_corner():
    X, y = data.xor(n=400, noise=0.05, seed=1)
    corner = np.round(X).astype(int)
    np.testing.assert_array_equal(y, corner[:, 0] ^ corner[:, 1])


def test_xor_is_not_linearly_separable_but_cloud_has_structure():
    X, y = data.xor()
    A = np.column_stack([X, np.ones(4)])
    w, *_ = np.linalg.lstsq(A, 2.0 * y - 1, rcond=None)
    assert (np.sign(A @ w) == 2 * y - 1).mean() < 1.0


def test_blobs_centers_array_and_clusters():
    centers = np.array([[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]])
    X, y = data.blobs(n=200, centers=centers, std=0.5, seed=0)
    assert X.shape == (200, 3)
    for k in range(2):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centers[k], atol=0.2)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.5, rtol=0.25)


def test_moons_and_circles_geometry():
    X, y = data.moons(n=400, noise=0.0, seed=0)
    np.testing.assert_allclose(np.hypot(X[y == 0, 0], X[y == 0, 1]), 1.0)
    np.testing.assert_allclose(np.hypot(X[y == 1, 0] - 1, X[y == 1, 1] - 0.5), 1.0)
    X, y = data.circles(n=300, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0)
    np.testing.assert_allclose(r[y == 1], 0.3)


def test_spirals_arms_are_rotations_of_each_other():
    X, y = data.spirals(n=300, n_classes=3, noise=0.0, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert r.max() <= 1.0 + 1e-12
    arm0 = X[y == 0][np.argsort(r[y == 0])]
    arm1 = X[y == 1][np.argsort(r[y == 1])]
    a = 2 * np.pi / 3  # the angle is measured from the y axis, clockwise: (sin θ, cos θ)
    rot = np.array([[np.cos(a), np.sin(a)], [-np.sin(a), np.cos(a)]])
    np.testing.assert_allclose(arm0 @ rot.T, arm1, atol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_linearly_separable_has_the_margin(seed):
    X, y, w, b = data.linearly_separable(n=200, margin=0.4, seed=seed, return_boundary=True)
    assert np.linalg.norm(w) == pytest.approx(1.0)
    dist = y * (X @ w + b)
    assert dist.min() >= 0.4 - 1e-12
    # and an independent learner finds a separating line: the perceptron rule converges
    Xa = np.column_stack([X, np.ones(len(X))])
    v = np.zeros(3)
    for _epoch in range(1000):
        mistakes = 0
        for xi, yi in zip(Xa, y):
            if yi * (xi @ v) <= 0:
                v += yi * xi
                mistakes += 1
        if mistakes == 0:
            break
    assert mistakes == 0
    assert np.all(np.sign(Xa @ v) == y)


def test_linearly_separable_default_returns_pair():
    out = data.linearly_separable(n=10, seed=0)
    assert len(out) == 2


# ---------------------------------------------------------------------------------------------------
# 1-D regression sets


@pytest.mark.parametrize("name", data.TARGETS)
def test_target_function_shapes_sorted_interval(name):
    x, y = data.target_function(name, n=150, seed=0)
    assert x.shape == (150, 1) and y.shape == (150, 1)
    assert x.dtype == np.float64 and y.dtype == np.float64
    assert np.all(np.diff(x[:, 0]) >= 0)
    lo, hi = data.TARGET_INTERVAL
    assert x.min() >= lo and x.max() <= hi
    x2, y2 = data.target_function(name, n=150, seed=0)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize("name", ["sin", "abs", "step", "bumpy"])
def test_clean_targets_match_their_function(name):
    x, y = data.target_function(name, n=100, seed=1)
    np.testing.assert_allclose(y[:, 0], data.target(name)(x[:, 0]))


def test_target_functions_values():
    f = {name: data.target(name) for name in data.TARGETS}
    np.testing.assert_allclose(f["sin"](np.array([-0.5, 0.0, 0.5])), [-1.0, 0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(f["abs"](np.array([-0.3, 0.2])), [0.3, 0.2])
    np.testing.assert_array_equal(f["step"](np.array([-0.1, 0.0, 0.1])), [0.0, 0.0, 1.0])
    grid = np.linspace(-1, 1, 2001)
    bumpy = f["bumpy"](grid)
    sign_changes = np.count_nonzero(np.diff(np.sign(np.diff(bumpy))))
    assert sign_changes >= 4, "bumpy has several local extrema"


def test_noisy_target_is_noisy_around_sin():
    x, y = data.target_function("noisy", n=2000, seed=0)
    resid = y[:, 0] - data.target("noisy")(x[:, 0])
    assert 0.17 < resid.std() < 0.23
    x, y = data.target_function("sin", n=50, seed=0, noise=0.5)
    assert np.abs(y[:, 0] - np.sin(np.pi * x[:, 0])).max() > 0.1


def test_unknown_target_lists_valid_names():
    with pytest.raises(ValueError, match="sin, abs, step, bumpy, noisy"):
        data.target_function("cosine")
    with pytest.raises(ValueError, match="name: expected one of sin, abs"):
        data.target("nope")


def test_motorcycle_shape_and_heteroscedastic_noise():
    t, a = data.motorcycle(n=2000, seed=0)
    assert t.shape == (2000, 1) and a.shape == (2000, 1) and t.dtype == np.float64
    assert np.all(np.diff(t[:, 0]) >= 0) and 2.4 <= t.min() and t.max() <= 57.6
    grid = np.linspace(0, 60, 6001)
    m = data.motorcycle_curve(grid)
    assert np.all(m[grid < 14] == 0), "flat before the impact"
    assert 15 < grid[m.argmin()] < 25 and m.min() < -100, "sharp dip"
    after = grid > grid[m.argmin()]
    assert m[after].max() > 20, "rebound"
    assert np.abs(m[grid > 50]).max() < 10, "oscillation dies out"
    resid = a[:, 0] - data.motorcycle_curve(t[:, 0])
    early = resid[t[:, 0] < 13].std()
    middle = resid[(t[:, 0] > 18) & (t[:, 0] < 30)].std()
    assert early < 4 and middle > 4 * early


def test_motorcycle_deterministic():
    np.testing.assert_array_equal(data.motorcycle(seed=5)[1], data.motorcycle(seed=5)[1])
    assert data.motorcycle()[0].shape == (133, 1)


# ---------------------------------------------------------------------------------------------------
# bad input


@pytest.mark.parametrize("call", [
    lambda: data.moons(0), lambda: data.circles(-5), lambda: data.blobs(0), lambda: data.spirals(0),
    lambda: data.linearly_separable(1), lambda: data.target_function("sin", n=0), lambda: data.motorcycle(0),
    lambda: data.xor(n=2),
])
def test_nonpositive_n_raises(call):
    with pytest.raises(ValueError, match="n: expected an integer >="):
        call()


@pytest.mark.parametrize("call, match", [
    (lambda: data.moons(10.5), "n: expected an integer"),
    (lambda: data.moons(10, noise=-1), "noise"),
    (lambda: data.circles(10, factor=1.5), "factor"),
    (lambda: data.blobs(10, std=0), "std"),
    (lambda: data.blobs(10, centers=np.zeros(3)), "centers"),
    (lambda: data.spirals(10, n_classes=1), "n_classes"),
    (lambda: data.linearly_separable(10, margin=-0.1), "margin"),
    (lambda: data.moons(10, seed="abc"), "seed"),
])
def test_bad_parameters_raise(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ---------------------------------------------------------------------------------------------------
# one_hot, train_test_split, standardize


def test_one_hot_round_trip():
    y = np.array([2, 0, 1, 2, 4])
    T = data.one_hot(y)
    assert T.shape == (5, 5) and T.dtype == np.float64
    np.testing.assert_array_equal(T.sum(axis=1), 1.0)
    np.testing.assert_array_equal(T.argmax(axis=1), y)
    T7 = data.one_hot(y, n_classes=7)
    assert T7.shape == (5, 7)
    np.testing.assert_array_equal(T7[:, :5], T)


def test_one_hot_bad_labels():
    with pytest.raises(ValueError, match="out of range for 3 classes"):
        data.one_hot([0, 1, 3], n_classes=3)
    with pytest.raises(ValueError, match=">= 0"):
        data.one_hot([0, -1])
    with pytest.raises(ValueError, match="whole numbers"):
        data.one_hot([0.5, 1.0])
    with pytest.raises(ValueError, match="shape"):
        data.one_hot([[0, 1]])
    with pytest.raises(ValueError, match="n_classes"):
        data.one_hot([0, 1], n_classes=0)


def test_split_stratified_no_overlap_and_complete():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], [60, 30, 10])
    X = np.column_stack([np.arange(100), rng.standard_normal(100)])  # column 0 identifies each row
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=0.2, seed=1)
    assert len(X_te) == 20 and len(X_tr) == 80
    ids_tr, ids_te = X_tr[:, 0].astype(int), X_te[:, 0].astype(int)
    assert not set(ids_tr) & set(ids_te)
    assert sorted(np.concatenate([ids_tr, ids_te])) == list(range(100))
    np.testing.assert_array_equal(y[ids_tr], y_tr)
    np.testing.assert_array_equal(y[ids_te], y_te)
    np.testing.assert_array_equal(np.bincount(y_te), [12, 6, 2])
    np.testing.assert_array_equal(np.bincount(y_tr), [48, 24, 8])


def test_split_stratification_keeps_rare_class_and_pm1_labels():
    y = np.array([1] * 95 + [-1] * 5)
    X = np.arange(100.0)[:, None]
    _, _, y_tr, y_te = data.train_test_split(X, y, test_size=0.25, seed=0)
    assert (y_te == -1).sum() == 1 and (y_tr == -1).sum() == 4
    # without stratification some seed leaves the rare class out of the test part
    counts = [(data.train_test_split(X, y, test_size=0.25, seed=s, stratify=False)[3] == -1).sum()
              for s in range(20)]
    assert len(set(counts)) > 1


def test_split_tiny_sets():
    X, y = data.xor()
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y)
    assert len(X_te) == 1 and len(X_tr) == 3 and set(y_tr) == {0, 1}
    with pytest.raises(ValueError, match="single example"):
        data.train_test_split(np.zeros((3, 1)), np.array([0, 1, 2]))
    assert len(data.train_test_split(np.zeros((3, 1)), np.array([0, 1, 2]), stratify=False)[1]) == 1


def test_split_deterministic_keeps_dtype_and_regression_targets():
    X, y = data.target_function("sin", n=40, seed=0)
    X32 = X.astype(np.float32)
    a = data.train_test_split(X32, y, test_size=10, seed=3)
    b = data.train_test_split(X32, y, test_size=10, seed=3)
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert a[0].dtype == np.float32 and a[1].shape == (10, 1) and a[3].shape == (10, 1)


@pytest.mark.parametrize("kwargs, match", [
    ({"test_size": 0.0}, "test_size"), ({"test_size": 1.0}, "test_size"), ({"test_size": 10}, "test_size"),
])
def test_split_bad_input(kwargs, match):
    X, y = np.zeros((10, 2)), np.zeros(10, dtype=int)
    with pytest.raises(ValueError, match=match):
        data.train_test_split(X, y, **kwargs)


def test_split_mismatched_rows():
    with pytest.raises(ValueError, match="rows"):
        data.train_test_split(np.zeros((10, 2)), np.zeros(9))


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 120), k=st.integers(1, 5), frac=st.floats(0.05, 0.95), seed=st.integers(0, 2**16),
       stratify=st.booleans())
def test_split_property_partition_and_proportions(n, k, frac, seed, stratify):
    y = np.arange(n) % k
    X = np.arange(n)[:, None]
    if stratify and n <= k:  # every class then has a single example
        with pytest.raises(ValueError, match="single example"):
            data.train_test_split(X, y, test_size=frac, seed=seed, stratify=stratify)
        return
    X_tr, X_te, y_tr, y_te = data.train_test_split(X, y, test_size=frac, seed=seed, stratify=stratify)
    ids = np.concatenate([X_tr[:, 0], X_te[:, 0]])
    assert sorted(ids.tolist()) == list(range(n)), "a partition: every example exactly once"
    assert len(X_te) >= 1 and len(X_tr) >= 1
    np.testing.assert_array_equal(y[X_tr[:, 0]], y_tr)
    if stratify:
        for c in range(k):
            n_c = int((y == c).sum())
            assert abs((y_te == c).sum() - frac * n_c) <= 1, "proportion kept up to rounding"
            assert (y_tr == c).sum() >= 1


@settings(max_examples=60, deadline=None)
@given(y=st.lists(st.integers(0, 9), min_size=1, max_size=50), extra=st.integers(0, 3))
def test_one_hot_property(y, extra):
    n_classes = max(y) + 1 + extra
    T = data.one_hot(np.array(y), n_classes)
    assert T.shape == (len(y), n_classes)
    np.testing.assert_array_equal(T.argmax(axis=1), y)
    np.testing.assert_array_equal(T.sum(axis=0), np.bincount(y, minlength=n_classes))


def test_standardize_stats_and_reuse():
    rng = np.random.default_rng(0)
    X = rng.normal([5.0, -3.0, 100.0], [2.0, 0.1, 30.0], size=(500, 3))
    Xs, mean, std = data.standardize(X)
    np.testing.assert_allclose(Xs.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Xs.std(axis=0), 1, atol=1e-12)
    np.testing.assert_allclose(mean, X.mean(axis=0))
    X2 = rng.normal(size=(7, 3))
    X2s, m2, s2 = data.standardize(X2, mean, std)
    np.testing.assert_allclose(X2s, (X2 - mean) / std)
    assert m2 is mean or np.array_equal(m2, mean)


def test_standardize_constant_column_and_float32():
    X = np.array([[1.0, 7.0], [3.0, 7.0], [5.0, 7.0]], dtype=np.float32)
    Xs, mean, std = data.standardize(X)
    assert Xs.dtype == np.float32
    assert np.isfinite(Xs).all()
    np.testing.assert_array_equal(Xs[:, 1], 0.0)
    assert std[1] == 1.0


def test_standardize_bad_input():
    with pytest.raises(ValueError, match="both"):
        data.standardize(np.zeros((3, 2)), mean=np.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        data.standardize(np.zeros((3, 2)), mean=np.zeros(3), std=np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        data.standardize(np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="dimensions"):
        data.standardize(np.zeros(3))


# ---------------------------------------------------------------------------------------------------
# scikit-learn data sets


def test_load_digits():
    X, y = data.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert y.shape == (1797,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    assert set(np.unique(y)) == set(range(10))
    from sklearn.datasets import load_digits
    np.testing.assert_array_equal(X * 16, load_digits().data)


def test_load_iris():
    X, y = data.load_iris()
    assert X.shape == (150, 4) and X.dtype == np.float64 and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50, 50, 50])
    np.testing.assert_allclose(X[0], [5.1, 3.5, 1.4, 0.2])
