"""Data for the course: toy sets that show one idea each, preprocessing, and real data sets.

- ``toy``: xor, blobs, moons, circles, spirals, linearly_separable, 1-D target functions, motorcycle.
- ``prep``: one_hot, train_test_split, standardize.
- ``datasets``: scikit-learn's digits and iris (offline, instant).
- ``idx`` / ``mnist``: the IDX reader and MNIST / Fashion-MNIST (local files first, verified download).
"""

from nnkit.data.datasets import load_digits, load_iris
from nnkit.data.idx import read_idx
from nnkit.data.mnist import MIRRORS, SHA256, ChecksumError, DatasetNotFoundError, load_mnist
from nnkit.data.prep import one_hot, standardize, train_test_split
from nnkit.data.toy import (
    TARGET_INTERVAL,
    TARGETS,
    blobs,
    circles,
    linearly_separable,
    moons,
    motorcycle,
    motorcycle_curve,
    spirals,
    target,
    target_function,
    xor,
)

__all__ = [
    "TARGETS", "TARGET_INTERVAL", "xor", "blobs", "moons", "circles", "spirals", "linearly_separable",
    "target", "target_function", "motorcycle", "motorcycle_curve",
    "one_hot", "train_test_split", "standardize",
    "load_digits", "load_iris",
    "read_idx", "load_mnist", "MIRRORS", "SHA256", "ChecksumError", "DatasetNotFoundError",
]
