"""Preparing a data set for training: one-hot targets, a train/test split, standardized inputs.

These are the three steps every lecture example repeats before the first epoch. They are small, but
each hides a classic mistake this module refuses to make: a test split that drops a rare class
(the split is stratified), statistics computed on the test set (``standardize`` returns the training
``mean``/``std`` so they can be reused), and a division by zero on a constant column (its std is
replaced by 1).
"""

from __future__ import annotations

import numpy as np

from nnkit._validate import as_array, as_count, as_float_array, as_labels, as_number, as_rng, check_same_rows

__all__ = ["one_hot", "train_test_split", "standardize"]


def one_hot(y, n_classes: int | None = None) -> np.ndarray:
    """One-hot encoding: ``T[i, y_i] = 1``, all other entries 0.

    Parameters
    ----------
    y : (N,) integer class labels in ``[0, n_classes)``.
    n_classes : number of columns C; default ``max(y) + 1``.

    Returns
    -------
    T : (N, C) float64; ``T.argmax(axis=1)`` gives ``y`` back.
    """
    if n_classes is not None:
        n_classes = as_count(n_classes, "n_classes")
    labels = as_labels(y, "y", n_classes)
    if n_classes is None:
        n_classes = int(labels.max()) + 1 if labels.size else 0
    T = np.zeros((labels.size, n_classes), dtype=np.float64)
    T[np.arange(labels.size), labels] = 1.0
    return T


def _is_discrete_labels(y: np.ndarray) -> bool:
    if y.ndim != 1:
        return False
    if y.dtype.kind in "iub":
        return True
    return y.dtype.kind == "f" and bool(np.isfinite(y).all()) and bool(np.all(y == np.round(y)))


def train_test_split(X, y, test_size: float | int = 0.25, seed=0, stratify: bool = True):
    """Shuffle and split ``(X, y)`` into a training and a test part with no example in both.

    Parameters
    ----------
    X : (N, ...) array; its dtype is kept (float32 stays float32).
    y : (N,) labels or (N, ...) regression targets.
    test_size : fraction in (0, 1) of the examples that go to the test part, or an int count.
    seed : int or np.random.Generator.
    stratify : when ``y`` holds discrete labels (1-D, whole numbers, e.g. class indices or ±1) every class
        keeps its proportion in both parts (per class, ``round(test_size · N_c)`` test examples, and at
        least one training example; if that rounds to an empty test part, it gets one example of the
        largest class). Regression targets (floats that are not whole numbers, or 2-D ``y``)
        are split at random whatever this flag says.

    Returns
    -------
    X_train, X_test, y_train, y_test
    """
    X = as_array(X, "X")
    y = as_array(y, "y")
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"X and y: expected arrays with a first (examples) axis, got shapes {X.shape} "
                         f"and {y.shape}")
    check_same_rows(X, y, "X", "y")
    n = X.shape[0]
    if n < 2:
        raise ValueError(f"X: need at least 2 examples to split, got {n}")
    if isinstance(test_size, bool):
        raise TypeError("test_size: expected a fraction in (0, 1) or an integer count, got a bool")
    if isinstance(test_size, (int, np.integer)):
        if not 1 <= test_size <= n - 1:
            raise ValueError(f"test_size: expected a count in [1, {n - 1}] for {n} examples, got {test_size}")
        frac = test_size / n
    else:
        frac = as_number(test_size, "test_size")
        if not (np.isfinite(frac) and 0 < frac < 1):
            raise ValueError("test_size: expected a fraction in (0, 1) or an integer count, "
                             f"got {test_size!r}")
    rng = as_rng(seed)
    if stratify and _is_discrete_labels(y):
        classes = [rng.permutation(np.flatnonzero(y == c)) for c in np.unique(y)]
        sizes = np.array([idx.size for idx in classes])
        if sizes.max() < 2:
            raise ValueError("y: cannot stratify, every class has a single example (it cannot be in both "
                             "parts); pass stratify=False")
        ks = np.minimum(np.round(frac * sizes).astype(int), sizes - 1)
        if ks.sum() == 0:  # tiny sets: the test part gets one example of the largest class
            ks[sizes.argmax()] = 1
        test_parts = [idx[:k] for idx, k in zip(classes, ks)]
        train_parts = [idx[k:] for idx, k in zip(classes, ks)]
        test_idx = rng.permutation(np.concatenate(test_parts))
        train_idx = rng.permutation(np.concatenate(train_parts))
    else:
        order = rng.permutation(n)
        k = min(max(int(round(frac * n)), 1), n - 1)
        test_idx, train_idx = order[:k], order[k:]
    return X[train_idx], X[test_idx], y[train_idx], y[test_idx]


def standardize(X, mean=None, std=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-column z-scores: ``X_s = (X - mean) / std``.

    Compute the statistics on the training set and reuse them for the test set::

        X_tr_s, mu, sd = standardize(X_tr)
        X_te_s, _, _ = standardize(X_te, mu, sd)

    Parameters
    ----------
    X : (N, D) float array (float32 stays float32).
    mean, std : (D,) statistics to apply; give both or neither (then they are computed from ``X``,
        ``std`` with ``ddof=0``). A column whose std is 0 (constant) gets std 1, so it becomes all zeros
        instead of NaN.

    Returns
    -------
    X_s : (N, D) same dtype as ``X``
    mean : (D,) the mean used
    std : (D,) the std used (zeros replaced by 1)
    """
    X = as_float_array(X, "X", ndim=2)
    if (mean is None) != (std is None):
        raise ValueError("mean and std: pass both (statistics of the training set) or neither")
    if mean is None:
        if X.shape[0] == 0:
            raise ValueError("X: cannot compute statistics of 0 rows")
        mean = X.mean(axis=0)
        std = X.std(axis=0)
    else:
        mean = as_float_array(mean, "mean", ndim=1, dtype=X.dtype)
        std = as_float_array(std, "std", ndim=1, dtype=X.dtype)
        for name, v in (("mean", mean), ("std", std)):
            if v.shape != (X.shape[1],):
                raise ValueError(f"{name}: expected shape ({X.shape[1]},) to match X's columns, "
                                 f"got {v.shape}")
        if (std < 0).any():
            raise ValueError(f"std: expected values >= 0, got {std[std < 0][:3]}")
    std = np.where(std == 0, np.ones_like(std), std)
    return ((X - mean) / std).astype(X.dtype, copy=False), mean, std
