"""nnkit: the reference implementations of an introductory neural-networks course."""
__version__ = "0.1.0"
