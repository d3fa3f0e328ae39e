"""The mini-batch training loop, written once: shuffle, slice, ``loss -> step``, record, stop early.

Any model with ``params``, ``loss(X, y, train=True) -> (loss, grads)`` and ``score(X, y)`` trains with
any optimizer of :mod:`nnkit.optim` (``step(grads)`` updating ``params`` in place). The per-epoch numbers
go into a :class:`History` that the plotting widgets read; the progress bar is tqdm's notebook-aware one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from nnkit._validate import as_array, as_count, as_float_array, as_rng, check_nonempty, check_same_rows

__all__ = ["History", "fit"]


@dataclass
class History:
    """What happened during :func:`fit`, one entry per epoch run.

    Attributes
    ----------
    loss : list of float
        Mean training loss over the epoch's mini-batches (weighted by batch size; regularization and
        dropout included, as optimized).
    acc : list of float
        ``model.score`` on the whole training set after the epoch (accuracy, or R² for regression).
    val_loss, val_acc : list of float
        The same on the validation set (``model.evaluate``: no dropout, no backward pass, so ``model.grads``
        keep the last batch's gradients); empty without validation data.
    best_epoch : int or None
        Index (0-based, into the lists above) of the lowest validation loss; None without validation data.
    stopped_epoch : int or None
        Index of the last epoch run when training stopped early (patience ran out or the callback
        returned True); None when all epochs ran.
    """

    loss: list[float] = field(default_factory=list)
    acc: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_epoch: int | None = None

    def __len__(self) -> int:
        return len(self.loss)


def _check_optimizer(model, optimizer) -> None:
    """The optimizer must update the model's own arrays (all of them or some: a frozen layer is fine)."""
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError("optimizer: expected an object with a step(grads) method, "
                        f"got {type(optimizer).__name__}")
    held = getattr(optimizer, "params", None)
    if not isinstance(held, dict) or held is model.params:
        return
    mine = [p for p in model.params.values() if isinstance(p, np.ndarray)]
    for name, p in held.items():
        if not any(p is q or np.may_share_memory(p, q) for q in mine):
            raise ValueError(f"optimizer: its params[{name!r}] is not an array of model.params, so training "
                             "would not change the model (an optimizer made for another model, or before the "
                             "model was copied?); create it from this model, e.g. SGD(model.params, lr=0.1)")


def _validate_as(validate, X, y, names: str) -> None:
    """``validate(X, y)``, its error (which says "X"/"y") prefixed with the names the caller used."""
    try:
        validate(X, y)
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{names}: {exc}") from None


def _evaluate(model, X, y) -> float:
    """The validation loss without touching ``model.grads``: ``model.evaluate`` when the model has one."""
    evaluate = getattr(model, "evaluate", None)
    if evaluate is not None:
        return float(evaluate(X, y))
    return float(model.loss(X, y, train=False)[0])


def fit(model, X, y, optimizer, epochs=10, batch_size=32, shuffle=True, seed=0, X_val=None, y_val=None,
        early_stopping=None, progress=True, callback=None) -> History:
    """Train ``model`` with mini-batch gradient descent.

    Each epoch visits every example once, in a fresh random order when ``shuffle`` (drawn from ``seed``,
    so two runs with the same seed are identical), in batches of ``batch_size`` (the last one may be
    smaller): ``loss, grads = model.loss(Xb, yb)`` then ``optimizer.step(grads)``.

    Parameters
    ----------
    model : object with ``params``, ``loss(X, y, train=True)`` and ``score(X, y)``, e.g. an MLP
    X : array_like (N, D)
        Cast once to ``model.dtype`` if the model has one (float32 models train on float32 data).
    y : array_like (N,) labels or (N, C) targets
    optimizer : e.g. ``nnkit.optim.SGD(model.params, lr=0.1)`` (it must hold the model's params)
    epochs, batch_size : int >= 1
    shuffle : bool
    seed : int, Generator or None
        Shuffling order.
    X_val, y_val : validation set (both or neither)
    early_stopping : int or None
        Patience: stop when the validation loss has not improved for this many epochs, then restore
        the parameters of the best epoch (in place). Needs ``X_val`` and ``y_val``.
    progress : bool
        Show a tqdm progress bar over the epochs (nothing is printed when False).
    callback : callable ``callback(epoch, history)`` or None
        Called after every epoch (0-based ``epoch``); returning True stops training.

    Returns
    -------
    History

    Raises
    ------
    ValueError, TypeError
        Bad arguments, before any step: the data are checked once per call (``model.validate(X, y)`` when
        the model has one, e.g. every label in range), not batch by batch.
    """
    for attr in ("params", "loss", "score"):
        if not hasattr(model, attr):
            raise TypeError(f"model: expected an object with params, loss() and score(); "
                            f"{type(model).__name__} has no {attr!r}")
    if not isinstance(model.params, dict):
        raise TypeError("model: expected params to be a dict name -> array, got "
                        f"{type(model.params).__name__}")
    _check_optimizer(model, optimizer)
    dtype = getattr(model, "dtype", None)
    X = as_float_array(X, "X", ndim=2, dtype=dtype)
    check_nonempty(X, "X")
    y = as_array(y, "y", min_ndim=1)
    check_same_rows(X, y, "X", "y")
    epochs = as_count(epochs, "epochs")
    batch_size = as_count(batch_size, "batch_size")
    if (X_val is None) != (y_val is None):
        raise ValueError("X_val and y_val: pass both or neither")
    has_val = X_val is not None
    if has_val:
        X_val = as_float_array(X_val, "X_val", ndim=2, dtype=dtype)
        check_nonempty(X_val, "X_val")
        y_val = as_array(y_val, "y_val", min_ndim=1)
        check_same_rows(X_val, y_val, "X_val", "y_val")
    if early_stopping is not None:
        early_stopping = as_count(early_stopping, "early_stopping")
        if not has_val:
            raise ValueError("early_stopping: needs validation data, pass X_val and y_val")
    if callback is not None and not callable(callback):
        raise TypeError(f"callback: expected a callable(epoch, history), got {type(callback).__name__}")
    validate = getattr(model, "validate", None)       # the whole data set checked once, not per batch
    if validate is not None:
        validate(X, y)
        if has_val:
            _validate_as(validate, X_val, y_val, "validation data X_val, y_val")

    rng = as_rng(seed)
    n = X.shape[0]
    history = History()
    best_loss, best_params, waited = np.inf, None, 0
    bar = tqdm(range(epochs), disable=not progress, desc="fit", unit="epoch")
    try:
        for epoch in bar:
            order = rng.permutation(n) if shuffle else None
            total = 0.0
            for start in range(0, n, batch_size):
                if order is None:
                    Xb, yb = X[start:start + batch_size], y[start:start + batch_size]   # views, no copy
                else:
                    idx = order[start:start + batch_size]
                    Xb, yb = X[idx], y[idx]
                value, grads = model.loss(Xb, yb)
                optimizer.step(grads)
                total += value * Xb.shape[0]
            history.loss.append(total / n)
            history.acc.append(float(model.score(X, y)))
            stats = {"loss": history.loss[-1], "acc": history.acc[-1]}
            stop = False
            if has_val:
                history.val_loss.append(_evaluate(model, X_val, y_val))
                history.val_acc.append(float(model.score(X_val, y_val)))
                stats.update(val_loss=history.val_loss[-1], val_acc=history.val_acc[-1])
                if history.val_loss[-1] < best_loss:
                    best_loss, history.best_epoch, waited = history.val_loss[-1], epoch, 0
                    if early_stopping is not None:
                        best_params = {k: v.copy() for k, v in model.params.items()}
                else:
                    waited += 1
                    stop = early_stopping is not None and waited >= early_stopping
            bar.set_postfix({k: f"{v:.4g}" for k, v in stats.items()}, refresh=False)
            if callback is not None and callback(epoch, history):
                stop = True
            if stop:
                history.stopped_epoch = epoch
                break
    finally:
        bar.close()
    if best_params is not None:
        for k, v in best_params.items():
            model.params[k][...] = v          # in place: the optimizer keeps pointing at these arrays
    return history
