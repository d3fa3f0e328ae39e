"""nnkit: the reference implementations of an introductory neural-networks course.

Everything a lecture or an exercise needs is one import away::

    import nnkit
    model = nnkit.MLP([64, 30, 10], activation="relu", seed=0)
    history = nnkit.fit(model, X, y, nnkit.optim.SGD(model.params, lr=0.1), epochs=10)

The modules follow the course: ``activations`` and ``losses`` (values and derivatives),
``functional`` (pure forward/backward pairs), ``layers`` and ``models`` (thin classes holding
parameters), ``optim`` (update rules), ``gradcheck`` and ``autograd`` (two ways to trust a
gradient), ``train`` (the loop), ``data`` (toy sets and real digits), ``grading`` (the checks the
exercises use). ``nnkit.widgets`` (the lectures' interactive figures) imports ipywidgets and
matplotlib, so it is imported on demand: ``from nnkit.widgets import PerceptronWidget``.
"""

from nnkit import (
    activations,
    autograd,
    data,
    functional,
    gradcheck,
    grading,
    layers,
    losses,
    models,
    optim,
    train,
)
from nnkit.models import MLP, MulticlassPerceptron, Perceptron, SoftmaxRegression
from nnkit.train import History, fit

__version__ = "0.1.0"

__all__ = [
    "activations", "autograd", "data", "functional", "gradcheck", "grading", "layers", "losses",
    "models", "optim", "train", "MLP", "MulticlassPerceptron", "Perceptron", "SoftmaxRegression",
    "History", "fit",
]
