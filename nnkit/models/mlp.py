r"""The multilayer perceptron: dense layers and activations chained from nnkit.functional, with backprop.

A network is a list of layer sizes ``[D, H1, ..., C]``. The forward pass alternates
``z^l = a^{l-1} W^l + b^l`` and ``a^l = σ(z^l)`` (plus dropout in training) and returns the scores
``z^L`` of the last layer, *before* the output activation: the losses work on scores (logits) because
softmax + cross-entropy and sigmoid + binary cross-entropy are stable and simple there. Backprop runs
the same functional pairs in reverse, each with the cache its forward left behind.

This class is also the hot path of the benchmarks: it keeps the model's dtype end to end (float32 stays
float32: data are cast to the model's dtype once, scalars are Python floats), and it never copies the
parameters; the optimizer updates ``params`` in place.
"""

from __future__ import annotations

import math

import numpy as np

from nnkit import activations, losses
from nnkit._validate import (
    FLOAT_DTYPES,
    as_array,
    as_float_array,
    as_labels,
    as_rng,
    as_signs,
    check_choice,
    check_finite,
    check_positive,
    check_probability,
    check_shape,
)
from nnkit.functional import (
    _l1_kernel,
    _l2_kernel,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
)
from nnkit.layers import Dropout, Sequential, stack

__all__ = ["MLP", "OUTPUTS", "LOSSES"]

OUTPUTS = ("softmax", "sigmoid", "linear")
#: loss name -> the outputs it may follow. "cross_entropy"/"bce" act on the scores (fused with their
#: output activation); "mse"/"mae" act on the output activation's values; "hinge" on raw linear scores.
LOSSES = {"cross_entropy": ("softmax",), "bce": ("sigmoid",), "mse": OUTPUTS, "mae": OUTPUTS,
          "hinge": ("linear",)}
_DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "bce", "linear": "mse"}
_UNSIGNED = {k: np.dtype(f"u{k}") for k in (1, 2, 4, 8)}
_max, _sum = np.maximum.reduce, np.add.reduce            # the reductions without ndarray.max's wrapper


def _out_of_range(labels, C) -> bool:
    """Whether an integer label lies outside [0, C), by one reduction where min and max take two.

    Read as unsigned integers of the same width, negative labels become the largest values (at least
    2^(bits-1)), so ``max >= C`` finds them too whenever ``C <= 2^(bits-1)``; otherwise min and max.
    """
    size = labels.dtype.itemsize
    if labels.dtype.kind == "u":
        return _max(labels) >= C
    if C <= 2 ** (8 * size - 1):
        return _max(labels.view(_UNSIGNED[size])) >= C
    return labels.min() < 0 or labels.max() >= C


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype: expected np.float32 or np.float64, got {dtype!r}")
    return dt


class MLP(Sequential):
    r"""Fully connected network ``D -> H1 -> ... -> C`` trained by backpropagation: a :class:`Sequential`.

    .. math::
        a^0 = X, \quad z^l = a^{l-1} W^l + b^l, \quad a^l = \mathrm{dropout}(\sigma(z^l))
        \;(l < L), \qquad \text{scores} = z^L, \qquad \hat y = g(z^L)

    with σ the hidden ``activation`` and g the ``output`` activation (softmax, sigmoid or identity).
    The loss is the data loss plus ``l2/2 Σ_l ‖W^l‖² + l1 Σ_l |W^l|`` (weights only, not biases).

    The layers are :func:`nnkit.layers.stack` ``(layer_sizes, activation, dropout=...)``:
    ``Dense, act, [Dropout], ..., Dense`` (``model.layers``), the one way nnkit builds a network; the
    model adds the output activation, the loss and the predictions on top.

    Parameters
    ----------
    layer_sizes : list of int, ``[D, H1, ..., C]``
        Input size, hidden sizes, output size. ``[3, 4, 2]`` has 3·4 + 4 + 4·2 + 2 = 26 parameters.
    activation : str or nnkit.activations.Activation
        Hidden activation, a name of :data:`nnkit.activations.NAMES` or e.g.
        ``activations.get("leaky_relu", slope=0.1)``.
    output : "softmax" | "sigmoid" | "linear"
    loss : None | "cross_entropy" | "bce" | "mse" | "mae" | "hinge"
        Default: softmax -> "cross_entropy", sigmoid -> "bce", linear -> "mse". ``output="sigmoid",
        loss="mse"`` is Nielsen's recipe (quadratic cost on sigmoid outputs vs one-hot targets); "hinge"
        (multiclass SVM) needs ``output="linear"``.
    dropout : float in [0, 1)
        Inverted dropout on every hidden layer's activations during training (never on inputs/outputs).
    l2, l1 : float >= 0
        Regularization strengths λ.
    seed : int, Generator or None
        Initialization, then dropout masks.
    dtype : np.float64 (default) or np.float32
        Parameters, activations and gradients all use it; inputs are cast to it.

    Attributes
    ----------
    params : dict ``W1`` (D, H1), ``b1`` (H1,), ..., ``WL`` (H_{L-1}, C), ``bL`` (C,)
        The layers' own arrays. Initialized by nnkit's one policy (:func:`nnkit.layers.init_for`): He's
        ``N(0, 2 / d_in)`` for the ReLU family, Glorot's ``N(0, 2 / (d_in + d_out))`` for every other
        activation; biases start at 0.
    grads : dict, same keys and shapes, filled by :meth:`backward` / :meth:`loss` (never by :meth:`evaluate`).
    layers : list of Layer

    Examples
    --------
    >>> net = MLP([784, 30, 10], seed=0)
    >>> net.n_params
    23860
    """

    def __init__(self, layer_sizes, activation="relu", output="softmax", loss=None, dropout=0.0, l2=0.0,
                 l1=0.0, seed=0, dtype=np.float64):
        if isinstance(activation, activations.Activation):
            self.activation, self._act_kw = activation.name, dict(activation.params)
        else:
            self.activation, self._act_kw = activations.check_name(activation), {}
        self.output = check_choice(output, "output", OUTPUTS)
        loss = _DEFAULT_LOSS[output] if loss is None else check_choice(loss, "loss", tuple(LOSSES))
        if output not in LOSSES[loss]:
            raise ValueError(f"loss: {loss!r} needs output in {LOSSES[loss]}, got output={output!r}")
        self.loss_name = loss
        self.dropout = check_probability(dropout, "dropout")
        self.l2 = check_positive(l2, "l2", allow_zero=True)
        self.l1 = check_positive(l1, "l1", allow_zero=True)
        self.dtype = _check_dtype(dtype)
        self._rng = as_rng(seed)
        super().__init__(*stack(layer_sizes, activation, dropout=self.dropout, seed=self._rng,
                                dtype=self.dtype))
        self.layer_sizes = [self.layers[0].d_in] + [layer.d_out for layer, _ in self._names]
        self._weights = [f"W{l}" for l in range(1, len(self.layer_sizes))]
        self._fast_ce = self.loss_name == "cross_entropy"

    @property
    def rng(self) -> np.random.Generator:
        """The Generator of the dropout masks (shared by every Dropout layer); assign one to reseed."""
        return self._rng

    @rng.setter
    def rng(self, value):
        self._rng = as_rng(value)
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layer.rng = self._rng

    # ------------------------------------------------------------------ sizes and input checks
    @property
    def n_layers(self) -> int:
        """Number of dense layers L (hidden layers + output layer)."""
        return len(self.layer_sizes) - 1

    @property
    def n_params(self) -> int:
        """Number of learnable parameters: Σ_l (d_in·d_out + d_out)."""
        return sum(int(v.size) for v in self.params.values())

    @property
    def n_outputs(self) -> int:
        return self.layer_sizes[-1]

    def _check_X(self, X, finite=True):
        """``X`` as (N, D) in the model's dtype. An ndarray of that dtype is checked from its attributes
        only; with ``finite=False`` the NaN/inf scan is left to the caller (see :meth:`_first_layer`)."""
        if type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 \
                and X.shape[1] == self.layer_sizes[0]:
            if finite:
                check_finite(X, "X")
            return X
        X = as_float_array(X, "X", ndim=2, dtype=self.dtype)
        check_shape(X, "X", (None, self.layer_sizes[0]))
        return X

    def _no_examples(self):
        """A loss or a score is a mean over the examples: over none it has no value."""
        raise ValueError(f"X: expected at least one example, got 0 rows (shape (0, {self.layer_sizes[0]}))")

    def _first_layer(self, X, train, store):
        """The first dense layer on an unscanned ``X``, then the NaN/inf check from its output.

        Under IEEE arithmetic a NaN or inf anywhere in row i of X makes every entry of row i of
        ``z = X W + b`` NaN or inf (inf·0 is NaN), so one sum over z (N×H, not N×D) finds bad input; only
        then is X scanned, for the message naming the first bad index. A finite X whose products overflow
        passes the scan and trains on (as before: the loss says inf).
        """
        z = self.layers[0]._forward(X, train, store)
        if not math.isfinite(_sum(z, None)):
            check_finite(X, "X")
        return z

    def __repr__(self):
        return (f"MLP({self.layer_sizes}, activation={self.activation!r}, output={self.output!r}, "
                f"loss={self.loss_name!r}, dtype={self.dtype.name})")

    # ------------------------------------------------------------------ forward / backward
    def forward(self, X, train=False) -> np.ndarray:
        """Scores (logits) of the last layer, before the output activation.

        Parameters
        ----------
        X : array_like (N, D), cast to the model's dtype
        train : bool
            Training mode applies dropout. Either way the layer caches are kept for :meth:`backward`.

        Returns
        -------
        ndarray (N, C)
        """
        z = self._first_layer(self._check_X(X, finite=False), train, True)
        return self._forward(z, train, True, start=1)

    def backward(self, dout) -> np.ndarray:
        r"""Backpropagate ``dout = dL/dscores`` (N, C) through the last :meth:`forward`.

        Fills ``self.grads`` (data-loss gradients only; :meth:`loss` adds the regularization) and returns
        ``dL/dX`` (N, D). Per layer, from the top: ``dW^l = a^{l-1}ᵀ δ^l``, ``db^l = Σ_n δ^l``,
        ``δ^{l-1} = σ'(z^{l-1}) ⊙ (δ^l W^{lᵀ})``.
        """
        if self.layers[-1]._cache is None:
            raise RuntimeError("backward: call forward(X) first (loss() runs its own backward pass and "
                               "releases the forward pass's caches)")
        dout = as_float_array(dout, "dout", dtype=self.dtype)
        check_shape(dout, "dout", self._out_shape())
        return self._backward(dout, need_dx=True)

    # ------------------------------------------------------------------ targets and loss
    def _targets(self, y, n):
        """Targets in the form the loss needs; int labels are range-checked against the outputs.

        Integer labels in an ndarray (the training loop's case) are checked by their min and max only.
        """
        C = self.n_outputs
        if not n:
            self._no_examples()
        if self._fast_ce and type(y) is np.ndarray and y.ndim == 1 and y.dtype.kind in "iu":
            if y.shape[0] != n:
                raise ValueError(f"X has {n} rows but y has {y.shape[0]}; "
                                 "they must describe the same examples")
            if y.size and _out_of_range(y, C):
                as_labels(y, "y", C)                         # raises, naming the bad label
            return y
        y_arr = as_array(y, "y")
        if y_arr.ndim == 2:
            t = as_float_array(y_arr, "y", dtype=self.dtype)
            check_shape(t, "y", (n, C))
            return t
        if y_arr.ndim != 1:
            raise ValueError(f"y: expected shape ({n},) or ({n}, {C}), got {y_arr.shape}")
        if y_arr.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y_arr.shape[0]}; "
                             "they must describe the same examples")
        name = self.loss_name
        fractional = y_arr.dtype.kind == "f" and not np.all(y_arr == np.round(y_arr))
        if name in ("mse", "mae") and C > 1 and fractional:
            raise ValueError(f"y: expected targets of shape ({n}, {C}) for {C} outputs (or integer labels "
                             f"({n},), made one-hot), got shape {y_arr.shape} of non-integer values")
        if name == "cross_entropy" or (C > 1 and name != "hinge"):
            labels = as_labels(y_arr, "y", C)
            if name == "cross_entropy":
                return labels
            t = np.zeros((n, C), dtype=self.dtype)       # one-hot in the model's dtype (no upcast)
            t[np.arange(n), labels] = 1
            return t
        if name == "hinge":
            return as_labels(y_arr, "y", C) if C > 1 else y_arr
        if name == "bce" and y_arr.dtype.kind != "f":
            as_labels(y_arr, "y", 2)             # float targets may be probabilities: the loss checks [0, 1]
        return as_float_array(y_arr, "y", dtype=self.dtype).reshape(n, 1)

    def _data_loss(self, scores, t):
        """(loss, dL/dscores) for scores (N, C) and targets from :meth:`_targets`."""
        name = self.loss_name
        if name == "cross_entropy":
            if t.ndim == 1:                               # checked labels: the unchecked kernel
                return losses._softmax_cross_entropy_kernel(scores, t)
            return losses.softmax_cross_entropy(scores, t)
        if name == "bce":
            return losses.binary_cross_entropy(scores, t)
        if name == "hinge":
            if self.n_outputs == 1:
                value, d = losses.hinge(scores[:, 0], t)
                return value, d[:, None]
            return losses.hinge(scores, t)
        fn = losses.mse if name == "mse" else losses.mae
        if self.output == "linear":
            return fn(scores, t)
        fwd, bwd = (softmax_forward, softmax_backward) if self.output == "softmax" else \
            (sigmoid_forward, sigmoid_backward)
        out, cache = fwd(scores)                  # the loss is on the outputs: chain through g
        value, dout = fn(out, t)
        return value, bwd(dout, cache)

    def _penalties(self, value, grads):
        """Add ``l2/2 Σ‖W‖² + l1 Σ|W|`` to ``value`` and its gradient to ``grads`` (if given)."""
        for lam, kernel in ((self.l2, _l2_kernel), (self.l1, _l1_kernel)):
            if lam:
                for Wn in self._weights:
                    extra, g = kernel(self.params[Wn], lam)
                    value += extra
                    if grads is not None:
                        grads[Wn] += g
        return value

    def loss(self, X, y, train=True):
        """Loss and gradients on a batch, regularization included: forward pass, loss, backward pass.

        Checked per call from attributes and one reduction each (X's dtype and shape, the labels' range,
        NaN/inf through the first layer's output), so the training loop pays little for clear errors.
        The backward pass consumes the forward pass (as PyTorch frees its graph after ``backward()``):
        each layer's cache is released once used, so a :meth:`backward` of your own needs its own
        :meth:`forward`.

        Parameters
        ----------
        X : array_like (N, D)
        y : targets: int labels (N,) in [0, C) for classification (one-hot/probabilities (N, C) also
            accepted; for one sigmoid output, labels in {0, 1}; for hinge with one output, ±1);
            values (N, C) or (N,) when C = 1 for regression.
        train : bool
            Dropout on (training) or off.

        Returns
        -------
        loss : float
            ``data loss + l2/2 Σ‖W‖² + l1 Σ|W|``
        grads : dict, keys of ``params`` (the model's ``grads`` dict itself, overwritten by the next call)
        """
        X = self._check_X(X, finite=False)
        t = self._targets(y, X.shape[0])
        scores = self._forward(self._first_layer(X, train, True), train, True, start=1)
        value, dscores = self._data_loss(scores, t)
        self._backward(dscores, need_dx=False, consume=True)
        grads = self._grads
        if self.l2 or self.l1:
            value = self._penalties(value, grads)
        return value, grads

    def validate(self, X, y) -> None:
        """Check a whole data set against this model once, with the messages :meth:`loss` would give.

        :func:`nnkit.train.fit` calls it before the first step, so a bad label in the last batch stops
        training before any parameter has changed; the per-batch checks of :meth:`loss` then only look at
        attributes and one reduction.

        Parameters
        ----------
        X : array_like (N, D)
        y : targets, as for :meth:`loss`

        Raises
        ------
        ValueError, TypeError
            Naming the argument and what was wrong (shape, NaN/inf, a label out of range, ...).
        """
        X = self._check_X(X)
        self._targets(y, X.shape[0])

    def evaluate(self, X, y) -> float:
        """The loss on a batch in test mode (no dropout), regularization included, without a backward pass.

        Nothing of the model changes: ``grads`` keep the gradients of the last :meth:`loss` call and the
        layers keep the caches of the last forward pass, so a student may evaluate between ``loss`` and
        ``optimizer.step`` and still apply the right gradients.

        Parameters
        ----------
        X : array_like (N, D)
        y : targets, as for :meth:`loss`

        Returns
        -------
        float
            ``data loss + l2/2 Σ‖W‖² + l1 Σ|W|``, the value ``loss(X, y, train=False)`` returns.
        """
        X = self._check_X(X, finite=False)
        t = self._targets(y, X.shape[0])
        scores = self._forward(self._first_layer(X, False, False), False, False, start=1)
        value, _ = self._data_loss(scores, t)
        return float(self._penalties(value, None))

    # ------------------------------------------------------------------ predictions
    @property
    def is_classifier(self) -> bool:
        return self.output != "linear" or self.loss_name == "hinge"

    def predict_proba(self, X) -> np.ndarray:
        """Outputs after the output activation, (N, C): softmax probabilities, sigmoids, or scores."""
        scores = self.forward(X)
        if self.output == "softmax":
            return activations.softmax(scores)
        if self.output == "sigmoid":
            return activations.sigmoid(scores)
        return scores

    def predict(self, X) -> np.ndarray:
        """Class indices (N,) for classifiers, the outputs (N, C) for regression.

        With one output, a classifier predicts 1 where the score is > 0 (sigmoid > 0.5), else 0 (±1 for
        hinge); with several, the argmax (also for sigmoid outputs, as in Nielsen's network).
        """
        scores = self.forward(X)
        if not self.is_classifier:
            return scores
        if self.n_outputs == 1:
            pos = scores[:, 0] > 0
            return np.where(pos, 1, -1) if self.loss_name == "hinge" else pos.astype(np.int64)
        return scores.argmax(axis=1)

    def _class_labels(self, y, n) -> np.ndarray:
        """The class of every example, (n,), to compare with :meth:`predict`; checked as :meth:`loss` checks.

        Int labels (N,) in [0, C) (one output: {0, 1}, or ±1 for hinge), or one-hot/probability rows
        (N, C) (their argmax); one output also takes a column (N, 1).
        """
        C = self.n_outputs
        if y.ndim == 2 and C > 1:
            t = as_float_array(y, "y")
            check_shape(t, "y", (n, C))
            return t.argmax(axis=1)
        if y.ndim == 2:
            check_shape(y, "y", (n, 1))
            y = y[:, 0]
        if C == 1 and self.loss_name == "hinge":
            return as_signs(y, "y")
        return as_labels(y, "y", max(C, 2))

    def score(self, X, y) -> float:
        """Accuracy for classifiers (y: labels (N,) or one-hot (N, C)); R² (mean over outputs) for regression.

        A linear-output model given integer labels (N,) with C > 1 outputs (least squares onto one-hot
        targets) is scored by the accuracy of the argmax.
        """
        pred = self.predict(X)
        n = pred.shape[0]
        if not n:
            self._no_examples()
        y = as_array(y, "y", min_ndim=1)
        if y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y.shape[0]}; they must describe the same examples")
        if self.is_classifier:
            return float(np.mean(pred == self._class_labels(y, n)))
        if y.ndim == 1 and y.dtype.kind in "iu" and self.n_outputs > 1:
            # regression onto one-hot targets (the lectures' least-squares classifier): accuracy of argmax
            return float(np.mean(pred.argmax(axis=1) == as_labels(y, "y", self.n_outputs)))
        t = as_float_array(y, "y")
        t = t.reshape(n, 1) if t.ndim == 1 else t
        check_shape(t, "y", pred.shape)
        ss_res = ((t - pred) ** 2).sum(axis=0)
        ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1 - ss_res / np.where(ss_tot == 0, 1, ss_tot)))
