"""Parameters, gradients and optimizer state packed into one buffer: an optimization that changes no meaning.

A model's parameters are views into one buffer and ``loss`` writes the gradients into one buffer of the
same layout, so an optimizer steps every parameter with one kernel call. These tests hold the packing to
its promise: the same numbers as separate arrays, gradients a caller kept never overwritten, copies that
train on their own, and every way of leaving the packed path still correct.
"""

import copy
import pickle
import weakref

import numpy as np
import pytest

from nnkit import layers, optim
from nnkit._packed import Packed
from nnkit.models import MLP

RULE_KWARGS = {"sgd": {"lr": 0.1}, "momentum": {"lr": 0.1, "momentum": 0.9},
               "nesterov": {"lr": 0.1, "momentum": 0.9, "nesterov": True},
               "adagrad": {"lr": 0.1, "weight_decay": 0.01}, "rmsprop": {"lr": 0.01},
               "adam": {"lr": 0.01, "weight_decay": 0.01}, "adamw": {"lr": 0.01}, "nadam": {"lr": 0.01}}


def _data(n=16, d=5, c=3, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)).astype(dtype), rng.integers(0, c, n)


def test_every_rule_has_a_case_here():
    assert set(RULE_KWARGS) == set(optim.DECLARATIONS)


def test_a_model_holds_its_parameters_and_gradients_in_one_buffer():
    model = MLP([5, 4, 3], seed=0)
    assert isinstance(model.params, Packed) and model.params.buffer.size == model.n_params
    for layer, mapping in model._names:               # the layers' arrays are the buffer's views
        for local, key in mapping:
            assert layer.params[local] is model.params[key]
            assert np.shares_memory(layer.params[local], model.params.buffer)
    X, y = _data()
    _, grads = model.loss(X, y)
    assert isinstance(grads, Packed) and grads.layout is model.params.layout
    assert all(np.shares_memory(g, grads.buffer) for g in grads.values())
    assert not np.shares_memory(grads.buffer, model.params.buffer)


@pytest.mark.parametrize("name", sorted(RULE_KWARGS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_packed_step_is_the_per_array_step(name, dtype):
    """Training a model (packed) and separate copies of its arrays (one kernel call per array) from the
    same gradients gives the same parameters and the same per-parameter state, for every rule."""
    rule = optim.DECLARATIONS[name]
    cls = getattr(optim, rule.cls)
    kw = RULE_KWARGS[name]
    model = MLP([5, 4, 3], seed=1, dtype=dtype)
    separate = {k: v.copy() for k, v in model.params.items()}
    opt_packed, opt_separate = cls(model.params, **kw), cls(separate, **kw)
    X, y = _data(dtype=dtype)
    for _ in range(5):
        _, grads = model.loss(X, y)
        opt_separate.step({k: g.copy() for k, g in grads.items()})
        opt_packed.step(grads)
    tol = 1e-12 if dtype == np.float64 else 1e-5
    for k in separate:
        np.testing.assert_allclose(model.params[k], separate[k], rtol=tol, atol=tol, err_msg=k)
        assert model.params[k].dtype == dtype
    assert set(opt_packed.state) == set(opt_separate.state) == set(separate)
    for k, state in opt_separate.state.items():
        assert set(opt_packed.state[k]) == set(state)
        for key, value in state.items():
            np.testing.assert_allclose(opt_packed.state[k][key], value, rtol=tol, atol=tol)
    # and the parameters really moved
    assert max(np.max(np.abs(model.params[k] - v)) for k, v in MLP([5, 4, 3], seed=1, dtype=dtype)
               .params.items()) > 1e-3


def test_gradients_a_caller_keeps_are_never_overwritten():
    model = MLP([5, 4, 3], seed=0)
    X, y = _data()
    X2, y2 = _data(seed=1)
    _, grads = model.loss(X, y)
    kept = {"view": grads["W1"], "slice": grads["b2"][1:], "dict": dict(grads), "buffer": grads.buffer}
    expected = {"view": kept["view"].copy(), "slice": kept["slice"].copy(),
                "dict": {k: v.copy() for k, v in grads.items()}, "buffer": grads.buffer.copy()}
    for _ in range(3):
        _, again = model.loss(X2, y2)
    assert again is grads                               # the model's one grads dict, refilled ...
    reference = MLP([5, 4, 3], seed=0)
    reference.loss(X, y)
    _, fresh = reference.loss(X2, y2)
    for k in fresh:                                     # ... with the newest gradients
        np.testing.assert_array_equal(grads[k], fresh[k])
    np.testing.assert_array_equal(kept["view"], expected["view"])
    np.testing.assert_array_equal(kept["slice"], expected["slice"])
    np.testing.assert_array_equal(kept["buffer"], expected["buffer"])
    for k, v in expected["dict"].items():
        np.testing.assert_array_equal(kept["dict"][k], v)
    assert not np.array_equal(kept["view"], grads["W1"])       # the data differ: the test can fail


def test_a_buffer_nobody_else_holds_is_written_again():
    """The other half of the rule above: without outside references, no new buffer per step."""
    model = MLP([5, 4, 3], seed=0)
    X, y = _data()
    _, grads = model.loss(X, y)
    first = weakref.ref(grads.buffer)                   # not a reference: it must not count as one
    del grads
    _, grads = model.loss(X, y)
    assert grads.buffer is first()


def test_changed_dicts_leave_the_packed_path_correctly():
    model = MLP([5, 4, 3], seed=0)
    opt = optim.SGD(model.params, lr=0.5)
    X, y = _data()
    _, grads = model.loss(X, y)
    before = {k: v.copy() for k, v in model.params.items()}
    grads["W1"] = grads["W1"] * 0                       # a replaced gradient: used as given
    assert grads.buffer is None
    opt.step(grads)
    np.testing.assert_array_equal(model.params["W1"], before["W1"])
    np.testing.assert_allclose(model.params["b1"], before["b1"] - 0.5 * grads["b1"])
    model.params["W2"] = np.zeros((4, 3))               # a replaced parameter: the optimizer says so
    with pytest.raises(ValueError, match="params: an entry was replaced or removed"):
        opt.step(model.loss(X, y)[1])


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_copies_are_packed_and_train_on_their_own(how):
    model = MLP([5, 4, 3], seed=0, dropout=0.2)
    X, y = _data()
    twin = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    assert isinstance(twin.params, Packed) and twin.params.buffer is not None
    assert not np.shares_memory(twin.params.buffer, model.params.buffer)
    for layer, mapping in twin._names:
        for local, key in mapping:
            assert layer.params[local] is twin.params[key]
    original = {k: v.copy() for k, v in model.params.items()}
    opt = optim.Adam(twin.params, lr=0.05)
    start = twin.evaluate(X, y)
    for _ in range(20):
        opt.step(twin.loss(X, y)[1])
    assert twin.evaluate(X, y) < start - 1e-3           # the copy's own layers learned
    for k, v in original.items():
        np.testing.assert_array_equal(model.params[k], v)


def test_a_layer_that_does_not_write_into_the_buffer():
    """A layer of one's own computes its gradients its way; the Sequential's grads are still its."""

    class Scale(layers.Layer):
        def __init__(self):
            super().__init__()
            self.params = {"s": np.array([2.0])}
            self.grads = {"s": np.zeros(1)}

        def _forward(self, x, train, store):
            if store:
                self._cache = (x, x * self.params["s"])
            return x * self.params["s"]

        def _backward(self, dout, need_dx):
            x = self._cache[0]
            self.grads["s"] = np.array([np.sum(dout * x)])
            return dout * self.params["s"]

    net = layers.Sequential(layers.Dense(3, 2, seed=0), Scale())
    x = np.random.default_rng(0).standard_normal((4, 3))
    out = net.forward(x)
    dout = np.ones_like(out)
    net.backward(dout)
    z = x @ net.params["W1"] + net.params["b1"]
    np.testing.assert_allclose(net.grads["s2"], [z.sum()])
    np.testing.assert_allclose(net.grads["W1"], x.T @ (dout * 2.0))
    np.testing.assert_allclose(net.grads["b1"], (dout * 2.0).sum(axis=0))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_axpy_in_place_and_its_fallbacks(dtype):
    rng = np.random.default_rng(0)
    for x, g in [(rng.standard_normal(1000).astype(dtype), rng.standard_normal(1000).astype(dtype)),  # BLAS
                 (rng.standard_normal((20, 5)).astype(dtype), rng.standard_normal((20, 5)).astype(dtype)),
                 (rng.standard_normal(40).astype(dtype)[::2], rng.standard_normal(20).astype(dtype)),
                 (rng.standard_normal(40).astype(dtype), rng.standard_normal(80).astype(dtype)[::2])]:
        expected = x + (-0.3) * g
        target = x
        optim._axpy(-0.3, g, x)
        assert x is target
        tol = 1e-6 if dtype == np.float32 else 1e-14     # axpy may fuse multiply and add: rounding
        np.testing.assert_allclose(x, expected, rtol=tol, atol=tol)
