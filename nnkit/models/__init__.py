"""Models of the course, from the perceptron to the multilayer perceptron.

One idea per file: ``perceptron`` (mistake-driven learning, binary and multiclass), ``mlp`` (dense layers
trained by backpropagation) and ``softmax_regression`` (the linear classifier, an MLP without hidden layer).
"""

from nnkit.models.mlp import MLP
from nnkit.models.perceptron import MulticlassPerceptron, Perceptron
from nnkit.models.softmax_regression import SoftmaxRegression

__all__ = ["Perceptron", "MulticlassPerceptron", "SoftmaxRegression", "MLP"]
