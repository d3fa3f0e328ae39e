"""Trusted grader for ex05_backprop: gradient check, dense/ReLU/sigmoid pairs, a 2-layer MLP's gradients.

Functions travel to the sandbox only as plain data, so the student's ``numerical_gradient(f, x, h)`` is
called through the notebook's locked ``numerical_gradient_probe(kind, A, c, x, h)``, which builds a test
function from (kind, A, c); here the same function is rebuilt and nnkit.gradcheck.numerical_gradient
gives the expected gradient. Both the gradient and the array ``x`` after the call (it must be restored)
are checked, with steps h = 1e-3 where a one-sided difference is off by ~1e-3 and fails.

Layer pairs are compared with nnkit.functional on random shapes, with caches in the notebook's formats
(dense: ``(x, W, b)``; ReLU: ``x``; sigmoid: its output). The two-layer network is compared with the
same network composed from nnkit.functional's dense and ReLU pairs and nnkit.losses.softmax_cross_entropy.
"""

from __future__ import annotations

import numpy as np

from nnkit import functional
from nnkit.activations import sigmoid
from nnkit.course.spec import Case, Environment, Part, close_to
from nnkit.gradcheck import numerical_gradient
from nnkit.grading import compare
from nnkit.losses import softmax_cross_entropy

# What the sandbox holds of nnkit while this is graded: only the given loss of the network.
ENVIRONMENT = Environment(helpers=("nnkit.losses.softmax_cross_entropy",))

# ----------------------------------------------------------------------------- numerical gradient

def make_test_function(kind, A, c):
    """The notebook's locked ``make_test_function`` (must stay identical to it)."""
    A, c = np.asarray(A, dtype=np.float64), np.asarray(c, dtype=np.float64)
    if kind == "logsumexp":
        def f(x):
            s = A @ x.ravel() + c
            return float(s.max() + np.log(np.exp(s - s.max()).sum()))
    elif kind == "sin":
        def f(x):
            return float(np.sin(A @ x.ravel()) @ c)
    elif kind == "quartic":
        def f(x):
            return float(np.sum((A @ x.ravel() + c) ** 4) / 4)
    else:
        raise ValueError(f"unknown test function {kind!r}")
    return f


def _ref_probe(kind, A, c, x, h=1e-5):
    x = np.array(x, dtype=np.float64)
    return numerical_gradient(make_test_function(kind, A, c), x.copy(), h), x


def _check_probe(case: Case, got):
    expected_grad, x = _ref_probe(*case.args, **case.kwargs)
    if not isinstance(got, (tuple, list)) or len(got) != 2:
        return "numerical_gradient_probe must return (gradient, x): was it changed?"
    why = compare(got[0], expected_grad, rtol=1e-6, atol=1e-8)
    if why:
        return f"the gradient: {why} (centred differences (f(x+h) - f(x-h)) / 2h?)"
    why = compare(got[1], x, rtol=1e-12, atol=1e-12)
    if why:
        return f"x after the call differs from x before it (restore every entry): {why}"
    return None


def _probe_cases(rng):
    cases = []
    shapes = [(int(rng.integers(2, 6)),), (int(rng.integers(2, 4)), int(rng.integers(2, 4))),
              (2, 2, int(rng.integers(1, 3)))]
    for kind, shape in zip(("logsumexp", "sin", "quartic"), shapes):
        n, k = int(np.prod(shape)), int(rng.integers(2, 6))
        A, c, x = rng.normal(size=(k, n)), rng.normal(size=k), rng.normal(size=shape)
        cases.append(Case((kind, A, c, x, 1e-3), label=f"{kind} test function, x of shape {shape}, h = 1e-3"))
    A, c, x = rng.normal(size=(3, 4)), rng.normal(size=3), rng.normal(size=4)
    cases.append(Case(("sin", A, c, x), label="sin test function, default h"))
    cases.append(Case(("quartic", A * 0.5, c, x, 1e-4), label="quartic test function, h = 1e-4"))
    return cases


# ----------------------------------------------------------------------------- layers

def _dims(rng):
    return int(rng.integers(1, 7)), int(rng.integers(1, 6)), int(rng.integers(1, 6))


def _dense_forward_cases(rng):
    cases = []
    for n, d, m in (_dims(rng), (1, *_dims(rng)[1:])):
        x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
        cases.append(Case((x, W, b), label=f"x {x.shape}, W {W.shape}"))
    return cases


def _ref_dense_forward(x, W, b):
    return functional.dense_forward(x, W, b)[0], (x, W, b)


def _dense_backward_cases(rng):
    cases = []
    for n, d, m in (_dims(rng), _dims(rng), (1, 3, 2)):
        x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
        cases.append(Case((rng.normal(size=(n, m)), (x, W, b)), label=f"x {x.shape}, W {W.shape}"))
    return cases


def _ref_dense_backward(dout, cache):
    x, W, b = cache
    return functional.dense_backward(dout, functional.dense_forward(x, W, b)[1])


def _with_zeros(rng, shape):
    x = rng.normal(size=shape)
    x.flat[:: max(1, x.size // 3)] = 0.0
    return x


def _relu_forward_cases(rng):
    shape = (int(rng.integers(1, 6)), int(rng.integers(1, 6)))
    return [Case((_with_zeros(rng, shape),), label="a 2-D input"),
            Case((_with_zeros(rng, (int(rng.integers(2, 8)),)),), label="a 1-D input"),
            Case((rng.normal(size=(2, 3, 2)),), label="a 3-D input")]


def _ref_relu_forward(x):
    return functional.relu_forward(x)[0], x


def _relu_backward_cases(rng):
    cases = []
    for shape in ((int(rng.integers(1, 6)), int(rng.integers(1, 6))), (int(rng.integers(2, 8)),), (2, 2, 3)):
        cases.append(Case((rng.normal(size=shape), _with_zeros(rng, shape)),
                          label=f"shape {shape}, some inputs exactly 0"))
    return cases


def _ref_relu_backward(dout, x):
    return functional.relu_backward(dout, functional.relu_forward(x)[1])


def _sigmoid_cases(rng):
    cases = []
    for shape, scale in (((int(rng.integers(1, 6)), int(rng.integers(1, 6))), 2.0), ((4,), 30.0)):
        x = rng.normal(size=shape) * scale
        cases.append(Case((rng.normal(size=shape), sigmoid(x)), context={"x": x},
                          label=f"shape {shape}, inputs of scale {scale}"))
    return cases


def _check_sigmoid_backward(case: Case, got):
    dout = case.args[0]
    expected = functional.sigmoid_backward(dout, functional.sigmoid_forward(case.context["x"])[1])
    return compare(got, expected)


# ----------------------------------------------------------------------------- two-layer network

def _net_cases(rng):
    cases = []
    for n in (int(rng.integers(2, 9)), 1):
        d, h, c = int(rng.integers(1, 6)), int(rng.integers(1, 8)), int(rng.integers(2, 5))
        params = {"W1": rng.normal(size=(d, h)), "b1": rng.normal(size=h),
                  "W2": rng.normal(size=(h, c)), "b2": rng.normal(size=c)}
        cases.append(Case((params, rng.normal(size=(n, d)), rng.integers(0, c, size=n)),
                          label=f"{d}-{h}-{c} network, batch of {n}"))
    return cases


def _ref_net(params, X, y):
    """dense -> ReLU -> dense -> softmax cross-entropy, from nnkit.functional and nnkit.losses."""
    p = {k: np.array(v, dtype=np.float64) for k, v in params.items()}
    z1, cache1 = functional.dense_forward(np.asarray(X, dtype=np.float64), p["W1"], p["b1"])
    a1, cache_relu = functional.relu_forward(z1)
    s, cache2 = functional.dense_forward(a1, p["W2"], p["b2"])
    loss, ds = softmax_cross_entropy(s, y)
    grads = {}
    da1, grads["W2"], grads["b2"] = functional.dense_backward(ds, cache2)
    _, grads["W1"], grads["b1"] = functional.dense_backward(functional.relu_backward(da1, cache_relu), cache1)
    return loss, grads


PARTS = [
    Part("test_numerical_gradient", "numerical_gradient_probe", _probe_cases, _check_probe,
         forbidden=(("nnkit.gradcheck.numerical_gradient",
                               "nnkit.gradcheck.numerical_gradient_array")),
         description="centred finite differences (x restored afterwards)"),
    Part("test_dense_forward", "dense_forward", _dense_forward_cases, close_to(_ref_dense_forward),
         forbidden=(("nnkit.functional.dense_forward",)),
         description="dense forward: (xW + b, cache)"),
    Part("test_dense_backward", "dense_backward", _dense_backward_cases, close_to(_ref_dense_backward),
         forbidden=(("nnkit.functional.dense_backward",)),
         description="dense backward: dx, dW, db"),
    Part("test_relu_forward", "relu_forward", _relu_forward_cases, close_to(_ref_relu_forward),
         forbidden=(("nnkit.functional.relu_forward", "nnkit.activations.relu")),
         description="ReLU forward: (max(0, x), cache)"),
    Part("test_relu_backward", "relu_backward", _relu_backward_cases, close_to(_ref_relu_backward),
         forbidden=(("nnkit.functional.relu_backward", "nnkit.activations.relu_grad")),
         description="ReLU backward: dout * 1[x > 0]"),
    Part("test_sigmoid_backward", "sigmoid_backward", _sigmoid_cases, _check_sigmoid_backward,
         forbidden=(("nnkit.functional.sigmoid_backward", "nnkit.activations.sigmoid_grad")),
         description="sigmoid backward: dout * h (1 - h)"),
    Part("test_two_layer_loss", "two_layer_loss", _net_cases, close_to(_ref_net, rtol=1e-6, atol=1e-9),
         forbidden=(("nnkit.models.MLP.loss", "nnkit.models.MLP.backward",
                               "nnkit.functional.dense_backward", "nnkit.functional.relu_backward",
                               "nnkit.autograd.Tensor.backward", "nnkit.gradcheck.numerical_gradient")),
         description="2-layer MLP: loss and gradients W1, b1, W2, b2"),
]
