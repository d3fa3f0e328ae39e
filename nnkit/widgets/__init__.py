"""Interactive figures for the lectures: ipywidgets controls driving one matplotlib figure each.

Every widget keeps its logic in plain methods (step, reset, train, compute, ...) so it can be tested
and benchmarked without a browser; a lecture cell only creates and displays it.
"""

from . import functions
from ._base import FigureWidget, ipympl_backend_active, resolve_mode
from .approximation import ApproximationWidget
from .boundary import DecisionBoundaryWidget
from .optimizer import OptimizerWidget
from .perceptron import PerceptronWidget

__all__ = ["ApproximationWidget", "DecisionBoundaryWidget", "FigureWidget", "OptimizerWidget",
           "PerceptronWidget", "functions", "ipympl_backend_active", "resolve_mode"]
