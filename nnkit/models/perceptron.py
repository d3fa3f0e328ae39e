"""Rosenblatt's perceptron (binary, labels ±1) and its multiclass form: learning by correcting mistakes.

No loss, no gradient: an example is presented, and only if it is misclassified do the weights move
towards it. On linearly separable data this stops after finitely many mistakes (Novikoff); on XOR it
never does (Minsky and Papert). Examples are presented one at a time, in order (or shuffled with a seed),
because the order of updates is what the course animates: ``Perceptron.history`` records every update.
"""

from __future__ import annotations

import numpy as np

from nnkit._validate import (
    as_count,
    as_float_array,
    as_labels,
    as_rng,
    as_signs,
    check_nonempty,
    check_positive,
    check_same_rows,
    check_shape,
)

__all__ = ["Perceptron", "MulticlassPerceptron"]


def _epochs_until_no_mistake(update, X, y, epochs, rng, shuffle) -> list[int]:
    """Present every example once per epoch (shuffled or in order) until an epoch has no mistake.

    ``update(x_i, y_i)`` returns whether the example was a mistake; returns mistakes per epoch.
    """
    mistakes = []
    for _ in range(epochs):
        order = rng.permutation(len(X)) if shuffle else range(len(X))
        mistakes.append(sum(update(X[i], y[i]) for i in order))
        if mistakes[-1] == 0:
            break
    return mistakes

class Perceptron:
    r"""Binary perceptron with bias, labels in {-1, +1}.

    .. math::
        z = w \cdot x + b, \qquad \hat y = \operatorname{sign}(z) \;(+1 \text{ if } z \ge 0)

    Learning rule, for one example ``(x_i, y_i)``: it is a mistake iff :math:`y_i (w \cdot x_i + b) \le 0`
    (a point exactly on the boundary counts as a mistake), and then

    .. math:: w \leftarrow w + \alpha\, y_i x_i, \qquad b \leftarrow b + \alpha\, y_i

    Parameters
    ----------
    lr : float > 0
        Learning rate α (with zero initial weights it only rescales w and b).
    seed : int, Generator or None
        Randomness for ``shuffle``.
    shuffle : bool
        Present the examples in a new random order every epoch (default: in the given order).

    Attributes
    ----------
    w : ndarray (D,) or None before the first update
        Set ``w`` and ``b`` by hand to use a perceptron without training (e.g. w=(4, 2, 2), b=-5).
    b : float
    history : list of (w copy, b)
        The weights after every update (every mistake), in order, for animations.
    """

    def __init__(self, lr=1.0, seed=None, shuffle=False):
        self.lr = check_positive(lr, "lr")
        as_rng(seed)                               # checked now; a fresh Generator at every fit
        self.seed = seed
        self.shuffle = bool(shuffle)
        self.w = None
        self.b = 0.0
        self.history: list[tuple[np.ndarray, float]] = []

    def _update(self, x, y) -> bool:
        if y * (x @ self.w + self.b) > 0:
            return False
        self.w += self.lr * y * x
        self.b += self.lr * y
        self.history.append((self.w.copy(), self.b))
        return True

    def update(self, x_i, y_i) -> bool:
        """Present one example ``x_i`` (D,) with label ``y_i`` in {-1, +1}.

        Returns True if it was a mistake (and ``w``, ``b`` changed), False otherwise. ``w`` starts at
        zeros if it was never set.
        """
        x = as_float_array(x_i, "x_i", ndim=1)
        y = int(as_signs(np.atleast_1d(y_i), "y_i")[0])
        if self.w is None:
            self.w, self.b = np.zeros(x.shape[0]), 0.0
        check_shape(x, "x_i", self.w.shape)
        return self._update(x.astype(self.w.dtype, copy=False), y)

    def fit(self, X, y, epochs=100) -> list[int]:
        """Train from w = 0, b = 0 for up to ``epochs`` passes over the data.

        Parameters
        ----------
        X : array_like (N, D)
        y : array_like (N,), values in {-1, +1}
        epochs : int >= 1

        Returns
        -------
        list of int
            The number of mistakes in each epoch; training stops after the first epoch without one
            (then the last entry is 0, and every training point is classified correctly).
        """
        X = as_float_array(X, "X", ndim=2)
        check_nonempty(X, "X")
        y = as_signs(y, "y")
        check_same_rows(X, y, "X", "y")
        epochs = as_count(epochs, "epochs")
        rng = as_rng(self.seed)
        self.w, self.b, self.history = np.zeros(X.shape[1], dtype=X.dtype), 0.0, []
        return _epochs_until_no_mistake(self._update, X, y, epochs, rng, self.shuffle)

    def decision_function(self, X) -> np.ndarray:
        """Scores ``z = X w + b``, shape (N,)."""
        if self.w is None:
            raise ValueError("Perceptron has no weights yet: call fit() or set w and b")
        X = as_float_array(X, "X", ndim=2)
        check_shape(X, "X", (None, self.w.shape[0]))
        return X @ self.w + self.b

    def predict(self, X) -> np.ndarray:
        """Labels in {-1, +1}, shape (N,): +1 where ``z >= 0``."""
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def score(self, X, y) -> float:
        """Accuracy: the fraction of examples with ``predict(X) == y``."""
        y = as_signs(y, "y")
        pred = self.predict(X)
        check_same_rows(pred, y, "X", "y")
        check_nonempty(pred, "X")
        return float(np.mean(pred == y))


class MulticlassPerceptron:
    r"""One perceptron per class, trained together: predict the class with the largest score.

    .. math::
        s = x W + b, \qquad h = \operatorname{onehot}(\arg\max_k s_k), \qquad
        W \leftarrow W - \alpha\, x^\top (h - t), \qquad b \leftarrow b - \alpha (h - t)

    with ``t`` the one-hot target: on a mistake the true class's weights move towards ``x`` and the
    predicted class's away from it; when ``h == t`` nothing changes. This is the update of softmax
    regression (``h = softmax(s)``) and of least squares on one-hot targets (``h = s``), with a hard ``h``.

    Parameters
    ----------
    n_features, n_classes : int
    lr : float > 0
    seed, shuffle : as in :class:`Perceptron`

    Attributes
    ----------
    W : ndarray (D, C), b : ndarray (C,)   both zeros initially (ties go to the lowest class index)
    """

    def __init__(self, n_features, n_classes, lr=1.0, seed=None, shuffle=False):
        self.n_features = as_count(n_features, "n_features")
        self.n_classes = as_count(n_classes, "n_classes", 2)
        self.lr = check_positive(lr, "lr")
        as_rng(seed)
        self.seed = seed
        self.shuffle = bool(shuffle)
        self.W = np.zeros((self.n_features, self.n_classes))
        self.b = np.zeros(self.n_classes)

    def _update(self, x, y) -> bool:
        k = int(np.argmax(x @ self.W + self.b))
        if k == y:
            return False
        self.W[:, k] -= self.lr * x          # h - t is +1 at the predicted class, -1 at the true one
        self.W[:, y] += self.lr * x
        self.b[k] -= self.lr
        self.b[y] += self.lr
        return True

    def update(self, x_i, y_i) -> bool:
        """Present one example ``x_i`` (D,) of class ``y_i``; True if it was a mistake (weights changed)."""
        x = as_float_array(x_i, "x_i", ndim=1)
        check_shape(x, "x_i", (self.n_features,))
        y = int(as_labels(np.atleast_1d(y_i), "y_i", self.n_classes)[0])
        return self._update(x, y)

    def fit(self, X, y, epochs=100) -> list[int]:
        """Train from zeros; returns mistakes per epoch, stopping after an epoch without mistakes.

        X : (N, n_features); y : (N,) int labels in [0, n_classes).
        """
        X = self._check_X(X)
        check_nonempty(X, "X")
        y = as_labels(y, "y", self.n_classes)
        check_same_rows(X, y, "X", "y")
        epochs = as_count(epochs, "epochs")
        rng = as_rng(self.seed)
        self.W[:] = 0
        self.b[:] = 0
        return _epochs_until_no_mistake(self._update, X, y, epochs, rng, self.shuffle)

    def _check_X(self, X):
        X = as_float_array(X, "X", ndim=2)
        check_shape(X, "X", (None, self.n_features))
        return X

    def decision_function(self, X) -> np.ndarray:
        """Scores ``X W + b``, shape (N, C)."""
        return self._check_X(X) @ self.W + self.b

    def predict(self, X) -> np.ndarray:
        """Class indices (N,), argmax of the scores."""
        return self.decision_function(X).argmax(axis=1)

    def score(self, X, y) -> float:
        """Accuracy on ``(X, y)``."""
        y = as_labels(y, "y", self.n_classes)
        pred = self.predict(X)
        check_same_rows(pred, y, "X", "y")
        check_nonempty(pred, "X")
        return float(np.mean(pred == y))
