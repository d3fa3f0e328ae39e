"""nnkit.plotting: bad input is named (argument and problem); the legitimate variants draw."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from nnkit import plotting as P  # noqa: E402

X = np.random.default_rng(0).normal(size=(20, 2))
Y = (X[:, 0] > 0).astype(int)


def by_sign(Z):
    return (Z[:, 0] > 0).astype(int)


BAD = {
    "confusion negative": (lambda: P.confusion_matrix([-1, 0], [0, 0]), ValueError, r"y_true: .*>= 0"),
    "confusion fractional": (lambda: P.confusion_matrix([0.5, 1], [0, 1]), ValueError, r"y_true: .*whole"),
    "confusion beyond n_classes": (lambda: P.confusion_matrix([0, 3], [0, 1], n_classes=2), ValueError,
                                   r"y_true: label 3 out of range for 2 classes"),
    "confusion lengths": (lambda: P.confusion_matrix(Y, Y[:-1]), ValueError, r"y_pred: expected shape"),
    "regions predict": (lambda: P.plot_regions(3, X, Y), TypeError, r"predict: expected a function"),
    "regions X columns": (lambda: P.plot_regions(by_sign, np.c_[X, X], Y), ValueError, r"X: .*\(N, 2\)"),
    "regions X NaN": (lambda: P.plot_regions(by_sign, np.where(X > 1, np.nan, X), Y), ValueError,
                      r"X: contains NaN"),
    "regions empty": (lambda: P.plot_regions(by_sign, X[:0], Y[:0]), ValueError, r"X: expected at least one"),
    "regions y length": (lambda: P.plot_regions(by_sign, X, Y[:-1]), ValueError, r"y: expected shape"),
    "regions resolution": (lambda: P.plot_regions(by_sign, X, Y, resolution=0), ValueError,
                           r"resolution: expected an integer >= 2"),
    "regions lim": (lambda: P.plot_regions(by_sign, X, Y, lim=(2, 1)), ValueError, r"lim: .*lo < hi"),
    "regions predict length": (lambda: P.plot_regions(lambda Z: Z[:5, 0], X, Y), ValueError,
                               r"predict: expected one label per row"),
    "regions predict labels": (lambda: P.plot_regions(lambda Z: Z[:, 0], X, Y), ValueError,
                               r"predict's labels: .*whole"),
    "history None": (lambda: P.plot_history(None), TypeError, r"history: expected fit's History"),
    "history list": (lambda: P.plot_history([0.5, 0.4]), TypeError, r"history: expected"),
    "history empty": (lambda: P.plot_history({}), ValueError, r"history: no 'loss'"),
    "images size": (lambda: P.show_images(np.zeros((3, 10))), ValueError, r"images: .*8 x 8 = 64"),
    "images none": (lambda: P.show_images(np.zeros((0, 64))), ValueError, r"images: expected one or more"),
    "images ncols": (lambda: P.show_images(np.zeros((3, 64)), ncols=0), ValueError, r"ncols: .*>= 1"),
    "images shape": (lambda: P.show_images(np.zeros((3, 64)), shape=64), ValueError, r"shape: .*height"),
    "images titles": (lambda: P.show_images(np.zeros((3, 64)), titles=["a"]), ValueError,
                      r"titles: expected one per image \(3\)"),
    "templates W": (lambda: P.plot_templates(np.zeros((10, 5))), ValueError, r"W: expected one template"),
    "templates names": (lambda: P.plot_templates(np.zeros((64, 3)), class_names="ab"), ValueError,
                        r"class_names: expected one per column of W \(3\)"),
    "cm 1-D": (lambda: P.plot_confusion_matrix(np.zeros(3)), ValueError, r"cm: expected a square"),
    "cm strings": (lambda: P.plot_confusion_matrix(np.array([["a"]])), TypeError, r"cm: expected counts"),
    "cm names": (lambda: P.plot_confusion_matrix(np.zeros((3, 3)), class_names=["a"]), ValueError,
                 r"class_names: expected one per class \(3\)"),
    "functions": (lambda: P.plot_functions(np.tanh), TypeError, r"fs: expected a list of functions"),
    "function names": (lambda: P.plot_functions([np.tanh], names=["a", "b"]), ValueError,
                       r"names: expected one per function \(1\)"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_named(case):
    call, error, message = BAD[case]
    with pytest.raises(error, match=message):
        call()


def test_legitimate_variants_draw():
    import matplotlib.pyplot as plt

    figs = [
        P.plot_regions(lambda Z: np.where(Z[:, 0] > 0, 1, -1), X, Y),  # a perceptron's ±1 on 0/1 labels
        P.plot_regions(by_sign, X.tolist(), 2 * Y - 1, lim=((-3, 3), (-2, 2)), resolution=20),
        P.plot_regions(lambda Z: (Z[:, 0] > 0).astype(float), X, Y, n_classes=3, lim=(-2, 2)),
        P.plot_confusion_matrix(P.confusion_matrix([0, 1, 2], [0, 2, 2])),
        P.show_images(np.zeros((3, 8, 8)), titles="abc"),
        P.plot_history({"loss": [1.0, 0.5], "val_acc": [0.5, 0.75]}),
        P.plot_functions((np.tanh, np.sin), names=("tanh", "sin")),
    ]
    np.testing.assert_array_equal(P.confusion_matrix([0, 1, 1], [0, 1, 0], n_classes=3),
                                  [[1, 0, 0], [1, 1, 0], [0, 0, 0]])
    assert P.confusion_matrix([], []).shape == (0, 0)
    regions = figs[0].axes[0].collections[0].get_array().reshape(150, 150)
    assert set(np.unique(regions)) == {0, 1}, "±1 predictions map to the classes 0 and 1"
    for fig in figs:
        plt.close(fig)
