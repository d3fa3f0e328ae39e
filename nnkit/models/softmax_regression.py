r"""Softmax regression (multinomial logistic regression): the linear classifier trained by gradient descent.

It is a network without hidden layer, so it reuses :class:`~nnkit.models.mlp.MLP` with
``layer_sizes=[D, C]``: one implementation of forward, backward and the loss, and the same
``params``/``loss``/``predict`` interface as the bigger networks.
"""

from __future__ import annotations

import numpy as np

from nnkit._validate import as_count
from nnkit.models.mlp import MLP

__all__ = ["SoftmaxRegression"]


class SoftmaxRegression(MLP):
    r"""Linear scores, softmax probabilities, cross-entropy loss with optional L2 penalty.

    .. math::
        s = X W + b, \qquad p_{ik} = \frac{e^{s_{ik}}}{\sum_j e^{s_{ij}}}, \qquad
        L = -\frac{1}{N}\sum_i \log p_{i y_i} + \frac{\lambda}{2}\lVert W \rVert^2

    .. math::
        \frac{\partial L}{\partial W} = X^\top \frac{P - T}{N} + \lambda W, \qquad
        \frac{\partial L}{\partial b} = \sum_i \frac{P_i - T_i}{N}

    Parameters
    ----------
    n_features, n_classes : int
    l2 : float >= 0
        λ (biases are not penalized).
    seed : int, Generator or None
        Initialization: W ~ N(0, 2 / (D + C)) (Glorot), b = 0.
    dtype : np.float64 or np.float32

    Attributes
    ----------
    params : {"W1": (D, C), "b1": (C,)}
    grads : same keys
    """

    def __init__(self, n_features, n_classes, l2=0.0, seed=0, dtype=np.float64):
        n_features, n_classes = as_count(n_features, "n_features"), as_count(n_classes, "n_classes")
        super().__init__([n_features, n_classes], activation="linear", output="softmax", l2=l2, seed=seed,
                         dtype=dtype)

    def __repr__(self):
        return f"SoftmaxRegression({self.layer_sizes[0]}, {self.layer_sizes[1]}, l2={self.l2})"
