"""Small real data sets that ship with scikit-learn, so they work offline and load in milliseconds.

``load_digits`` (1,797 handwritten 8x8 digits) is the course's default real data set: it is big enough
that an MLP must generalise and small enough to train in seconds on a laptop. ``load_iris`` is the
lectures' 3-class example.
"""

from __future__ import annotations

import numpy as np

__all__ = ["load_digits", "load_iris"]


def load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 handwritten digits (UCI optdigits test set), pixels scaled to [0, 1].

    The raw pixels are counts 0..16 (ink in a 4x4 block of the original 32x32 bitmap), so ``X = raw/16``.

    Returns
    -------
    X : (1797, 64) float64 in [0, 1]; ``X[i].reshape(8, 8)`` is the image.
    y : (1797,) int64 digit 0..9
    """
    from sklearn.datasets import load_digits as _sk_load_digits

    bunch = _sk_load_digits()
    X = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    return X, y


def load_iris() -> tuple[np.ndarray, np.ndarray]:
    """Fisher's iris flowers: 4 measurements (cm) of 150 flowers of 3 species (50 each).

    Columns: sepal length, sepal width, petal length, petal width. Unscaled; use ``standardize``.

    Returns
    -------
    X : (150, 4) float64
    y : (150,) int64 in {0: setosa, 1: versicolor, 2: virginica}
    """
    from sklearn.datasets import load_iris as _sk_load_iris

    bunch = _sk_load_iris()
    return np.asarray(bunch.data, dtype=np.float64), np.asarray(bunch.target, dtype=np.int64)
