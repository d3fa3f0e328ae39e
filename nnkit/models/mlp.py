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
    as_float_array,
    as_labels,
    as_rng,
    check_positive,
    check_probability,
    check_same_rows,
    check_shape,
)
from nnkit.functional import (
    _KERNELS,
    _dense_backward_kernel,
    _dense_forward_kernel,
    activation_backward,
    activation_forward,
    dropout_backward,
    dropout_forward,
    l1_penalty,
    l2_penalty,
    sigmoid_backward,
    sigmoid_forward,
    softmax_backward,
    softmax_forward,
)

__all__ = ["MLP", "OUTPUTS", "LOSSES"]

OUTPUTS = ("softmax", "sigmoid", "linear")
#: loss name -> the outputs it may follow. "cross_entropy"/"bce" act on the scores (fused with their
#: output activation); "mse"/"mae" act on the output activation's values; "hinge" on raw linear scores.
LOSSES = {"cross_entropy": ("softmax",), "bce": ("sigmoid",), "mse": OUTPUTS, "mae": OUTPUTS,
          "hinge": ("linear",)}
_DEFAULT_LOSS = {"softmax": "cross_entropy", "sigmoid": "bce", "linear": "mse"}
_HE_FAMILY = ("relu", "leaky_relu")


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in FLOAT_DTYPES:
        raise ValueError(f"dtype: expected np.float32 or np.float64, got {dtype!r}")
    return dt


def _check_sizes(layer_sizes):
    sizes = list(layer_sizes) if isinstance(layer_sizes, (list, tuple)) else None
    if (not sizes or len(sizes) < 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                       for s in sizes)):
        raise ValueError(f"layer_sizes: expected a list of at least 2 positive integers [D, H1, ..., C], "
                         f"got {layer_sizes!r}")
    return [int(s) for s in sizes]


class MLP:
    r"""Fully connected network ``D -> H1 -> ... -> C`` trained by backpropagation.

    .. math::
        a^0 = X, \quad z^l = a^{l-1} W^l + b^l, \quad a^l = \mathrm{dropout}(\sigma(z^l))
        \;(l < L), \qquad \text{scores} = z^L, \qquad \hat y = g(z^L)

    with σ the hidden ``activation`` and g the ``output`` activation (softmax, sigmoid or identity).
    The loss is the data loss plus ``l2/2 Σ_l ‖W^l‖² + l1 Σ_l |W^l|`` (weights only, not biases).

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
        Weights are drawn from N(0, s²) with He's ``s² = 2 / d_in`` for the ReLU family (it keeps the
        variance of ReLU activations constant across layers) and Glorot/Xavier's
        ``s² = 2 / (d_in + d_out)`` for every other activation (sigmoid, tanh, gaussian, linear, ...);
        biases start at 0.
    grads : dict, same keys and shapes, filled by :meth:`backward` / :meth:`loss`.

    Examples
    --------
    >>> net = MLP([784, 30, 10], seed=0)
    >>> net.n_params
    23860
    """

    def __init__(self, layer_sizes, activation="relu", output="softmax", loss=None, dropout=0.0, l2=0.0,
                 l1=0.0, seed=0, dtype=np.float64):
        self.layer_sizes = _check_sizes(layer_sizes)
        if isinstance(activation, activations.Activation):
            self.activation, self._act_kw = activation.name, dict(activation.params)
        else:
            self.activation, self._act_kw = activations.check_name(activation), {}
        if output not in OUTPUTS:
            raise ValueError(f"output: expected one of {', '.join(OUTPUTS)}, got {output!r}")
        self.output = output
        loss = _DEFAULT_LOSS[output] if loss is None else loss
        if loss not in LOSSES:
            raise ValueError(f"loss: expected one of {', '.join(LOSSES)}, got {loss!r}")
        if output not in LOSSES[loss]:
            raise ValueError(f"loss: {loss!r} needs output in {LOSSES[loss]}, got output={output!r}")
        self.loss_name = loss
        self.dropout = check_probability(dropout, "dropout")
        self.l2 = check_positive(l2, "l2", allow_zero=True)
        self.l1 = check_positive(l1, "l1", allow_zero=True)
        self.dtype = _check_dtype(dtype)
        self._rng = as_rng(seed)
        he = self.activation in _HE_FAMILY
        self.params: dict[str, np.ndarray] = {}
        for l, (d_in, d_out) in enumerate(zip(self.layer_sizes[:-1], self.layer_sizes[1:]), start=1):
            std = math.sqrt(2.0 / d_in) if he else math.sqrt(2.0 / (d_in + d_out))
            self.params[f"W{l}"] = (self._rng.standard_normal((d_in, d_out)) * std).astype(self.dtype)
            self.params[f"b{l}"] = np.zeros(d_out, dtype=self.dtype)
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._caches = None
        self._names = [(f"W{l}", f"b{l}") for l in range(1, len(self.layer_sizes))]

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

    def _check_X(self, X):
        X = as_float_array(X, "X", ndim=2, dtype=self.dtype)
        check_shape(X, "X", (None, self.layer_sizes[0]))
        return X

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
        return self._forward(self._check_X(X), train)

    def _forward(self, a, train):
        """:meth:`forward` on an already validated ``X``.

        Every layer here sees X (checked) or the previous layer's own output, so it runs on
        nnkit.functional's unchecked kernels where the activation has one: the same arithmetic.
        """
        p, drop = self.dropout, bool(train) and self.dropout > 0
        act_kernel = _KERNELS.get(self.activation)
        caches = []
        for Wn, bn in self._names[:-1]:
            z, c_dense = _dense_forward_kernel(a, self.params[Wn], self.params[bn])
            if act_kernel is not None:
                a, c_act = act_kernel[0](z)
            else:
                a, c_act = activation_forward(z, self.activation, **self._act_kw)
            c_drop = None
            if drop:
                a, c_drop = dropout_forward(a, p, True, self._rng)
            caches.append((c_dense, c_act, c_drop))
        Wn, bn = self._names[-1]
        scores, c_dense = _dense_forward_kernel(a, self.params[Wn], self.params[bn])
        caches.append((c_dense, None, None))
        self._caches = caches
        return scores

    def backward(self, dout) -> np.ndarray:
        r"""Backpropagate ``dout = dL/dscores`` (N, C) through the last :meth:`forward`.

        Fills ``self.grads`` (data-loss gradients only; :meth:`loss` adds the regularization) and returns
        ``dL/dX`` (N, D). Per layer, from the top: ``dW^l = a^{l-1}ᵀ δ^l``, ``db^l = Σ_n δ^l``,
        ``δ^{l-1} = σ'(z^{l-1}) ⊙ (δ^l W^{lᵀ})``.
        """
        if self._caches is None:
            raise RuntimeError("backward: call forward(X) first")
        _, x_last, W_last = self._caches[-1][0]
        dout = as_float_array(dout, "dout", dtype=self.dtype)
        check_shape(dout, "dout", (x_last.shape[0], W_last.shape[1]))
        return self._backward(dout, need_dx=True)

    def _backward(self, dout, need_dx):
        """:meth:`backward`; ``need_dx=False`` skips the input gradient (``loss`` never needs it)."""
        if self._caches is None:
            raise RuntimeError("backward: call forward(X) first")
        d, first = dout, len(self._caches) - 1
        for i, ((Wn, bn), (c_dense, c_act, c_drop)) in enumerate(zip(reversed(self._names),
                                                                      reversed(self._caches))):
            if c_drop is not None:
                d = dropout_backward(d, c_drop)
            if c_act is not None:
                kernel = _KERNELS.get(c_act[0])
                d = kernel[1](d, c_act) if kernel is not None else activation_backward(d, c_act)
            d, self.grads[Wn], self.grads[bn] = _dense_backward_kernel(d, c_dense, need_dx or i < first)
        return d

    # ------------------------------------------------------------------ targets and loss
    def _targets(self, y, n):
        """Targets in the form the loss needs; int labels are range-checked against the outputs."""
        C, y_arr = self.n_outputs, np.asarray(y)
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

    def loss(self, X, y, train=True):
        """Loss and gradients on a batch, regularization included.

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
        X = self._check_X(X)
        t = self._targets(y, X.shape[0])
        scores = self._forward(X, train)
        value, dscores = self._data_loss(scores, t)
        self._backward(dscores, need_dx=False)
        for lam, penalty in ((self.l2, l2_penalty), (self.l1, l1_penalty)):
            if lam:
                extra, g = penalty(self.params, lam)
                value += extra
                for Wn, _ in self._names:
                    self.grads[Wn] += g[Wn]
        return value, self.grads

    def evaluate(self, X, y) -> float:
        """The loss on a batch in test mode (no dropout), regularization included, without a backward pass.

        Nothing of the model changes: ``grads`` keep the gradients of the last :meth:`loss` call, so a
        student may evaluate between ``loss`` and ``optimizer.step`` and still apply the right gradients.

        Parameters
        ----------
        X : array_like (N, D)
        y : targets, as for :meth:`loss`

        Returns
        -------
        float
            ``data loss + l2/2 Σ‖W‖² + l1 Σ|W|``, the value ``loss(X, y, train=False)`` returns.
        """
        X = self._check_X(X)
        t = self._targets(y, X.shape[0])
        caches = self._caches
        try:
            value, _ = self._data_loss(self._forward(X, False), t)
        finally:
            self._caches = caches        # a later backward() still belongs to the last forward
        for lam, penalty in ((self.l2, l2_penalty), (self.l1, l1_penalty)):
            if lam:
                value += penalty(self.params, lam)[0]
        return float(value)

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

    def score(self, X, y) -> float:
        """Accuracy for classifiers (y: labels (N,) or one-hot (N, C)); R² (mean over outputs) for regression.

        A linear-output model given integer labels (N,) with C > 1 outputs (least squares onto one-hot
        targets) is scored by the accuracy of the argmax.
        """
        pred = self.predict(X)
        y = np.asarray(y)
        if self.is_classifier:
            if y.ndim == 2 and self.n_outputs > 1:
                y = y.argmax(axis=1)
            y = y.reshape(-1)
            check_same_rows(pred, y, "X", "y")
            return float(np.mean(pred == y))
        if y.ndim == 1 and y.dtype.kind in "iu" and self.n_outputs > 1:
            # regression onto one-hot targets (the lectures' least-squares classifier): accuracy of argmax
            y = as_labels(y, "y", self.n_outputs)
            check_same_rows(pred, y, "X", "y")
            return float(np.mean(pred.argmax(axis=1) == y))
        t = as_float_array(y, "y").reshape(pred.shape[0], -1)
        check_shape(t, "y", pred.shape)
        ss_res = ((t - pred) ** 2).sum(axis=0)
        ss_tot = ((t - t.mean(axis=0)) ** 2).sum(axis=0)
        return float(np.mean(1 - ss_res / np.where(ss_tot == 0, 1, ss_tot)))
