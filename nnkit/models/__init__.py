"""Models of the course, from the perceptron to the multilayer perceptron.

One idea per file: ``perceptron`` (mistake-driven learning), ``softmax_regression`` (a linear classifier
trained by gradient descent) and ``mlp`` (backpropagation through dense layers).
"""

from nnkit.models.perceptron import MulticlassPerceptron, Perceptron

__all__ = ["Perceptron", "MulticlassPerceptron"]
