"""Loss functions: each returns ``(loss, grad)``, the batch-mean loss and its gradient.

The gradient is taken with respect to the first argument (predictions, scores or logits), so it is the
``dout`` that starts backpropagation. Losses on scores/logits (softmax cross-entropy, binary
cross-entropy) never form ``log(softmax)`` or ``log(sigmoid)`` naively: they work with shifted scores and
``log1p`` so that scores of magnitude 1e4 still give finite, correct values. The gradient has the dtype
of the first argument (float32 stays float32).
"""

from __future__ import annotations

import numpy as np

from nnkit._validate import as_array, as_float_array, as_labels, as_signs, check_same_rows, check_shape
from nnkit.activations import _as_float, _sigmoid

__all__ = ["mse", "mae", "zero_one", "hinge", "binary_cross_entropy", "softmax_cross_entropy",
           "kl_divergence"]

_max, _sum = np.maximum.reduce, np.add.reduce    # ndarray.max/sum without their Python wrapper


def _pair(pred, target, pred_name="pred", target_name="target"):
    """``pred`` as a float array and ``target`` cast to its dtype, with identical shapes."""
    pred = _as_float(pred, pred_name)
    target = as_float_array(target, target_name, dtype=pred.dtype)
    if pred.shape != target.shape:
        raise ValueError(f"{target_name}: expected the shape of {pred_name} {pred.shape}, got {target.shape}")
    if pred.size == 0:
        raise ValueError(f"{pred_name}: expected at least one element, got shape {pred.shape}")
    return pred, target


def _check_unit_interval(arr, name):
    if arr.size and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name}: expected values in [0, 1], got range [{arr.min()}, {arr.max()}]")


def mse(pred, target):
    r"""Mean squared error over all elements.

    .. math:: L = \frac{1}{n} \sum_i (\hat y_i - y_i)^2, \qquad
              \frac{\partial L}{\partial \hat y_i} = \frac{2}{n} (\hat y_i - y_i)

    Parameters
    ----------
    pred : array_like, any shape, e.g. (N, K)
    target : array_like, same shape as ``pred``

    Returns
    -------
    loss : float
    grad : ndarray, shape of ``pred``
    """
    pred, target = _pair(pred, target)
    diff = pred - target
    return float(np.vdot(diff, diff)) / diff.size, diff * (2 / diff.size)


def mae(pred, target):
    r"""Mean absolute error (L1 loss) over all elements.

    .. math:: L = \frac{1}{n} \sum_i |\hat y_i - y_i|, \qquad
              \frac{\partial L}{\partial \hat y_i} = \frac{1}{n} \operatorname{sign}(\hat y_i - y_i)

    The gradient at a kink (``pred == target``) is taken as 0, as in PyTorch.

    Parameters
    ----------
    pred : array_like, any shape
    target : array_like, same shape as ``pred``

    Returns
    -------
    loss : float
    grad : ndarray, shape of ``pred``
    """
    pred, target = _pair(pred, target)
    diff = pred - target
    return float(np.abs(diff).mean()), np.sign(diff) * (1 / diff.size)


def _scores_and_labels(scores, y):
    """Dispatch: (N, C) scores with int labels, or (N,) scores with ±1 labels."""
    scores = _as_float(scores, "scores", ndim=(1, 2))
    if scores.shape[0] == 0:
        raise ValueError("scores: expected at least one example, got shape " f"{scores.shape}")
    if scores.ndim == 2:
        y = as_labels(y, "y", n_classes=scores.shape[1])
    else:
        y = as_signs(y, "y")
    check_same_rows(scores, y, "scores", "y")
    return scores, y


def zero_one(scores, y):
    r"""0-1 loss: the fraction of misclassified examples (the error rate).

    Multiclass: prediction ``argmax_k s_k``; binary: prediction ``sign(s)`` with ``sign(0) = +1``.

    .. math:: L = \frac{1}{N} \sum_i \mathbb{1}[\hat y_i \ne y_i]

    Parameters
    ----------
    scores : array_like, (N, C) with ``y`` int labels in [0, C), or (N,) with ``y`` in {-1, +1}
    y : array_like, (N,)

    Returns
    -------
    loss : float
    grad : ndarray of zeros, shape of ``scores`` (the 0-1 loss is piecewise constant)
    """
    scores, y = _scores_and_labels(scores, y)
    pred = scores.argmax(axis=1) if scores.ndim == 2 else np.where(scores >= 0, 1, -1)
    return float(np.mean(pred != y)), np.zeros_like(scores)


def hinge(scores, y):
    r"""Hinge loss (SVM), binary or multiclass.

    Binary, scores ``s`` of shape (N,) and ``y`` in {-1, +1}:

    .. math:: L = \frac{1}{N} \sum_i \max(0, 1 - y_i s_i)

    Multiclass, scores of shape (N, C) and integer labels:

    .. math:: L = \frac{1}{N} \sum_i \sum_{j \ne y_i} \max(0, s_{ij} - s_{i y_i} + 1)

    Parameters
    ----------
    scores : array_like, (N,) or (N, C)
    y : array_like, (N,)

    Returns
    -------
    loss : float
    grad : ndarray, shape of ``scores`` (0 at the kinks, where a margin is exactly 0)
    """
    scores, y = _scores_and_labels(scores, y)
    n = scores.shape[0]
    if scores.ndim == 1:
        ys = y.astype(scores.dtype)
        margins = 1 - ys * scores
        active = margins > 0
        return float(np.where(active, margins, 0).sum()) / n, -(ys * active) * (1 / n)
    rows = np.arange(n)
    margins = scores - scores[rows, y][:, None] + 1
    margins[rows, y] = 0
    active = margins > 0
    loss = float(np.where(active, margins, 0).sum()) / n
    grad = active.astype(scores.dtype)
    grad[rows, y] = -active.sum(axis=1)
    grad *= 1 / n
    return loss, grad


def binary_cross_entropy(logits, y):
    r"""Binary cross-entropy on logits (sigmoid outputs), mean over all elements.

    With ``p = σ(z)`` the loss ``-y log p - (1-y) log(1-p)`` is rewritten so that it never
    evaluates ``log(0)`` or overflows:

    .. math:: \ell(z, y) = \max(z, 0) - z y + \log(1 + e^{-|z|}), \qquad
              \frac{\partial L}{\partial z} = \frac{\sigma(z) - y}{n}

    Parameters
    ----------
    logits : array_like, any shape, e.g. (N,) or (N, K)
    y : array_like, same shape, targets in {0, 1} or probabilities in [0, 1]

    Returns
    -------
    loss : float
    grad : ndarray, shape of ``logits``
    """
    z, y = _pair(logits, y, "logits", "y")
    _check_unit_interval(y, "y")
    loss = float((np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))).mean())
    return loss, (_sigmoid(z) - y) * (1 / z.size)


def softmax_cross_entropy(scores, y):
    r"""Softmax followed by cross-entropy, mean over the batch.

    .. math:: p_{ik} = \frac{e^{s_{ik}}}{\sum_j e^{s_{ij}}}, \qquad
              L = -\frac{1}{N} \sum_i \sum_k t_{ik} \log p_{ik}, \qquad
              \frac{\partial L}{\partial s} = \frac{p - t}{N}

    ``t`` is the one-hot encoding of integer labels, or the given probabilities. ``log p`` is
    computed as ``s - max(s) - log Σ exp(s - max(s))`` so scores of magnitude 1e4 are fine.
    Worked example: scores [3.2, 5.1, -1.7] with label 0 give p0 ≈ 0.13 and L ≈ 2.04.

    Parameters
    ----------
    scores : array_like, (N, C)
    y : array_like, int labels (N,) in [0, C), or targets (N, C) whose rows are probability
        distributions (one-hot or soft labels)

    Returns
    -------
    loss : float
    grad : ndarray, (N, C)
    """
    scores = _as_float(scores, "scores", ndim=2)
    n, c = scores.shape
    if n == 0 or c == 0:
        raise ValueError(f"scores: expected at least one example and one class, got shape {scores.shape}")
    y_arr = as_array(y, "y")
    if y_arr.ndim == 2:
        t = as_float_array(y_arr, "y", dtype=scores.dtype)
        check_shape(t, "y", (n, c))
        _check_unit_interval(t, "y")
        row_sums = t.sum(axis=1)
        if not np.allclose(row_sums, 1, atol=1e-4):
            i = int(np.argmax(np.abs(row_sums - 1)))
            raise ValueError(f"y: rows of probability targets must sum to 1, row {i} sums to {row_sums[i]}")
    else:
        labels = as_labels(y_arr, "y", n_classes=c)
        check_same_rows(scores, labels, "scores", "y")
    if y_arr.ndim == 2:
        shifted = scores - scores.max(axis=1, keepdims=True)   # <= 0: exp never overflows
        p = np.exp(shifted)
        sums = p.sum(axis=1, keepdims=True)                    # in [1, C]: its log is safe
        # -log p_k = log Σ_j e^{shifted_j} - shifted_k (both terms >= 0, so the sums do not cancel)
        loss = (float(np.log(sums[:, 0]) @ row_sums) - float(np.vdot(t, shifted))) / n
        p /= sums
        p -= t
        p *= 1 / n
        return loss, p
    return _softmax_cross_entropy_kernel(scores.copy(), labels)


_FIRST = {}                 # C -> flat index i·C of each row's first entry, as many rows as the largest batch


def _flat_index(n, c, labels):
    """Flat indices ``i·C + labels[i]`` of the labelled entries of an (n, C) array (1-D fancy indexing
    is several times cheaper than ``(rows, labels)`` pairs at the batch sizes of training)."""
    first = _FIRST.get(c)
    if first is None or first.shape[0] < n:
        first = _FIRST[c] = np.arange(0, n * c, c)
    if labels.dtype == np.uint64:                        # int64 + uint64 would be float64
        labels = labels.astype(np.intp)                  # checked labels: < C, so exact
    return first[:n] + labels


def _softmax_cross_entropy_kernel(scores, labels):
    """:func:`softmax_cross_entropy` for checked int labels, overwriting ``scores`` with the gradient."""
    scores = np.ascontiguousarray(scores)                # itself when contiguous: the flat view below
    n, c = scores.shape
    flat, idx = scores.reshape(-1), _flat_index(n, c, labels)
    scores -= _max(scores, 1, keepdims=True)             # <= 0: exp never overflows
    picked = flat[idx]
    p = np.exp(scores, out=scores)
    sums = _sum(p, 1, keepdims=True)                     # in [1, C]: its log is safe
    # -log p_k = log Σ_j e^{shifted_j} - shifted_k: Σ log(sums) >= 0 and Σ picked <= 0, so the
    # difference adds magnitudes and cannot cancel
    loss = (float(_sum(np.log(sums), None)) - float(_sum(picked))) / n
    sums *= n
    p /= sums
    flat[idx] -= 1 / n
    return loss, p


def kl_divergence(p, q):
    r"""Kullback-Leibler divergence ``D(p || q)``, mean over rows; gradient w.r.t. ``q``.

    .. math:: L = \frac{1}{N} \sum_i \sum_k p_{ik} \log\frac{p_{ik}}{q_{ik}}, \qquad
              \frac{\partial L}{\partial q_{ik}} = -\frac{p_{ik}}{N q_{ik}}

    with the convention ``0 log 0 = 0``. With a one-hot ``p`` this is ``-log q_{y}``, the
    cross-entropy. A 1-D input is one distribution (N = 1).

    Parameters
    ----------
    p : array_like, (N, C) or (C,), the reference distribution (entries >= 0)
    q : array_like, same shape, the model distribution (``q > 0`` wherever ``p > 0``)

    Returns
    -------
    loss : float
    grad : ndarray, shape of ``q``, dtype of ``q``
    """
    q = as_float_array(q, "q", ndim=(1, 2))
    p = as_float_array(p, "p", ndim=(1, 2), dtype=q.dtype)
    if p.shape != q.shape:
        raise ValueError(f"q: expected the shape of p {p.shape}, got {q.shape}")
    if q.size == 0:
        raise ValueError(f"q: expected at least one element, got shape {q.shape}")
    if p.min() < 0:
        raise ValueError(f"p: expected probabilities >= 0, got minimum {p.min()}")
    if q.min() < 0:
        raise ValueError(f"q: expected probabilities >= 0, got minimum {q.min()}")
    support = p > 0
    if np.any(support & (q <= 0)):
        where = tuple(int(i) for i in np.argwhere(support & (q <= 0))[0])
        raise ValueError(f"q: q is 0 at index {where} where p > 0, so the KL divergence is infinite")
    n = q.shape[0] if q.ndim == 2 else 1
    q_safe = np.where(support, q, 1)
    p_safe = np.where(support, p, 1)
    loss = float(np.sum(p * np.log(p_safe / q_safe))) / n
    return loss, -(p / q_safe) * (1 / n)
