"""nnkit.activations: hand values, derivatives vs finite differences and vs torch autograd, dtypes, errors."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from nnkit import activations as A
from nnkit.gradcheck import numerical_gradient_array, rel_error
from tests._oracles import (
    ACTIVATION_CASES,
    PROPERTY,
    TOL_FD,
    TORCH_ACTIVATIONS,
    activation_case,
    assert_close,
    away,
    tn,
    tt,
)


def test_names_are_the_contract():
    assert A.NAMES == ("step", "sign", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu", "gaussian",
                       "linear")


def test_every_declared_activation_has_an_oracle_and_derived_functions():
    """The names list, the public pair, the functional pair, the layer class, the autograd op: all from
    DECLARATIONS, so they cannot drift apart; and every declaration has a PyTorch oracle in the tests."""
    from nnkit import autograd, functional, layers

    assert A.NAMES == tuple(A.DECLARATIONS)
    assert A.TRAINABLE == tuple(n for n in A.NAMES if A.DECLARATIONS[n].trainable)
    assert set(TORCH_ACTIVATIONS) == set(A.NAMES)
    for name, decl in A.DECLARATIONS.items():
        assert callable(getattr(A, name)) and callable(getattr(A, f"{name}_grad")), name
        assert {name, f"{name}_grad"} <= set(A.__all__)
        assert {f"{name}_forward", f"{name}_backward"} <= set(functional.__all__)
        layer = getattr(layers, decl.layer)()
        assert isinstance(layer, layers.Activation) and layer.name == name and decl.layer in layers.__all__
        assert callable(getattr(autograd.Tensor, name))
        assert decl.init in ("he", "glorot") and layers.init_for(name) == decl.init
        for pname, param in decl.params.items():       # declared defaults are used and ranges enforced
            assert A.check_kwargs(name, {})[pname] == param.default
            if param.low > -np.inf:
                with pytest.raises(ValueError, match=f"{pname}: expected a value in"):
                    A.get(name, **{pname: param.low - 1})


@pytest.mark.parametrize("name", [n for n, d in A.DECLARATIONS.items() if not d.uses_z])
def test_a_derivative_declared_without_z_reads_only_h(name):
    """``uses_z=False`` lets a layer drop z after the forward pass: its df must give f'(z) from h alone,
    at the kink, on both sides, and for a parameter other than the default."""
    decl = A.DECLARATIONS[name]
    z = np.concatenate([np.linspace(-6, 6, 201), [0.0, -0.0, 1e-30, -1e-30]])
    for chosen in [{}] + [{p: param.default * 0.5 + 0.25} for p, param in decl.params.items()]:
        kw = A.check_kwargs(name, chosen)
        h = decl.f(z, **kw)
        np.testing.assert_array_equal(np.asarray(decl.df(None, h, **kw), dtype=float),
                                      np.asarray(decl.df(z, h, **kw), dtype=float))
        np.testing.assert_allclose(np.asarray(decl.df(None, h, **kw), dtype=float), A.get(name, **kw).grad(z))


def test_widget_activation_choices_are_declared_trainable_activations():
    """A widget offers a selection of the declared activations, each one a network can train."""
    pytest.importorskip("ipywidgets")
    from nnkit.widgets import boundary

    assert boundary.ACTIVATIONS and set(boundary.ACTIVATIONS) <= set(A.TRAINABLE)


def test_hand_values():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_array_equal(A.step(z), [0, 0, 1])
    np.testing.assert_array_equal(A.sign(z), [-1, 1, 1])
    np.testing.assert_array_equal(A.relu(z), [0, 0, 3])
    np.testing.assert_allclose(A.leaky_relu(z), [-0.02, 0, 3])
    np.testing.assert_allclose(A.leaky_relu(z, slope=0.1), [-0.2, 0, 3])
    np.testing.assert_allclose(A.sigmoid(z), 1 / (1 + np.exp(-z)))
    assert A.sigmoid(0.0) == 0.5
    np.testing.assert_allclose(A.tanh(z), np.tanh(z))
    np.testing.assert_allclose(A.gaussian(z), [np.exp(-2), 1, np.exp(-4.5)])
    np.testing.assert_array_equal(A.linear(z), z)
    np.testing.assert_allclose(A.elu(z), [np.exp(-2) - 1, 0, 3])
    np.testing.assert_allclose(A.elu(z, alpha=2.0), [2 * (np.exp(-2) - 1), 0, 3])
    # derivatives at hand points, incl. the conventions at the kinks (as PyTorch)
    np.testing.assert_array_equal(A.relu_grad(z), [0, 0, 1])
    np.testing.assert_allclose(A.leaky_relu_grad(z, slope=0.1), [0.1, 0.1, 1])
    assert A.sigmoid_grad(0.0) == 0.25
    assert A.tanh_grad(0.0) == 1.0
    np.testing.assert_allclose(A.gaussian_grad(z), -z * np.exp(-z * z / 2))
    np.testing.assert_array_equal(A.step_grad(z), 0)
    np.testing.assert_array_equal(A.sign_grad(z), 0)
    np.testing.assert_array_equal(A.linear_grad(z), 1)
    np.testing.assert_allclose(A.elu_grad(z), [np.exp(-2), 1, 1])     # α e^0 = 1 at the kink (torch)
    np.testing.assert_allclose(A.elu_grad(z, alpha=0.5), [0.5 * np.exp(-2), 0.5, 1])
    # gelu (tanh form): 0 and slope 1/2 at 0; gelu(1) = ½(1 + tanh(√(2/π)·1.044715)) = 0.841192 (torch)
    assert A.gelu(0.0) == 0 and A.gelu_grad(0.0) == 0.5
    assert A.gelu(1.0) == pytest.approx(0.5 * (1 + np.tanh(np.sqrt(2 / np.pi) * 1.044715)), rel=1e-15)
    assert A.gelu(1.0) == pytest.approx(0.841192, abs=1e-6)
    np.testing.assert_allclose(A.gelu(z) - A.gelu(-z), z, rtol=1e-14, atol=1e-15)   # as z Φ(z) - (-z) Φ(-z)


def test_softmax_hand_example_and_rows_sum_to_one():
    p = A.softmax([3.2, 5.1, -1.7])
    assert p[0] == pytest.approx(0.13, abs=5e-3)
    assert p.sum() == pytest.approx(1.0)
    s = np.random.default_rng(0).standard_normal((4, 5))
    np.testing.assert_allclose(A.softmax(s).sum(axis=1), 1)
    np.testing.assert_allclose(A.softmax(s, axis=0).sum(axis=0), 1)
    np.testing.assert_allclose(np.exp(A.log_softmax(s)), A.softmax(s), rtol=1e-14)


@PROPERTY
@given(name=st.sampled_from(A.NAMES), n=st.integers(1, 5), d=st.integers(1, 6), seed=st.integers(0, 10**6))
def test_grad_matches_finite_differences(name, n, d, seed):
    rng = np.random.default_rng(seed)
    z = away(rng, (n, d))
    dout = away(rng, (n, d), 0.5, 1.5)
    act = A.get(name)
    num = numerical_gradient_array(act.forward, z, dout)
    assert rel_error(act.grad(z) * dout, num) < TOL_FD


@pytest.mark.parametrize("key", ACTIVATION_CASES)
def test_value_and_derivative_equal_torch_autograd(key):
    name, fn, kw = activation_case(key)
    act = A.get(name, **kw)
    z = away(np.random.default_rng(1), (7, 5), 0.05, 6.0)
    zt = tt(z)
    out = fn(zt)
    out.sum().backward()
    assert_close(act.forward(z), tn(out), what=f"{key} value")
    assert_close(act.grad(z), tn(zt.grad), what=f"{key} derivative")


def test_softmax_and_log_softmax_equal_torch():
    s = np.random.default_rng(2).standard_normal((6, 4)) * 5
    for axis in (0, 1, -1):
        assert_close(A.softmax(s, axis=axis), tn(torch.softmax(tt(s), dim=axis)))
        assert_close(A.log_softmax(s, axis=axis), tn(torch.log_softmax(tt(s), dim=axis)))


def test_stable_for_large_inputs():
    big = np.array([-1e4, -800.0, 0.0, 800.0, 1e4])
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no overflow warnings
        s = A.sigmoid(big)
        g = A.sigmoid_grad(big)
        sm = A.softmax(big)
        ls = A.log_softmax(big)
        e, eg = A.elu(big), A.elu_grad(big)
        ge, gg = A.gelu(big), A.gelu_grad(big)
        g32 = A.gelu_grad(np.array([-1e30, 1e30], dtype=np.float32))     # z³ would overflow float32
    np.testing.assert_array_equal(ge, [0, 0, 0, 800, 1e4])
    np.testing.assert_array_equal(gg, [0, 0, 0.5, 1, 1])
    np.testing.assert_array_equal(g32, [0, 1])
    np.testing.assert_array_equal(e[-2:], [800, 1e4])
    np.testing.assert_array_equal(eg[-2:], 1)
    assert e[0] == -1 and eg[0] == 0
    np.testing.assert_array_equal(s, [0, 0, 0.5, 1, 1])
    assert np.isfinite(g).all() and g[2] == 0.25
    np.testing.assert_allclose(sm, [0, 0, 0, 0, 1])
    assert ls[-1] == 0 and ls[0] == -2e4
    assert A.sigmoid(-30.0) == pytest.approx(np.exp(-30.0) / (1 + np.exp(-30.0)), rel=1e-14)
    sm32 = A.softmax(big.astype(np.float32))
    assert sm32.dtype == np.float32 and np.isfinite(sm32).all()


@pytest.mark.parametrize("name", A.NAMES)
def test_float32_stays_float32(name):
    z = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    act = A.get(name)
    assert act.forward(z).dtype == np.float32
    assert act.grad(z).dtype == np.float32
    assert act.forward(z.astype(np.float64)).dtype == np.float64
    assert act.forward([1, 2]).dtype == np.float64          # ints become float64
    assert A.softmax(z).dtype == np.float32 and A.log_softmax(z).dtype == np.float32


def test_scalars_and_any_shape():
    assert A.relu(-2.0) == 0.0 and A.relu(2.0).shape == ()
    x = np.random.default_rng(3).standard_normal((2, 3, 4))
    np.testing.assert_array_equal(A.relu(x), np.maximum(x, 0))


def test_get_returns_frozen_activation_with_parameters():
    act = A.get("leaky_relu", slope=0.1)
    assert act.name == "leaky_relu" and "slope=0.1" in repr(act)
    np.testing.assert_allclose(act(np.array([-1.0, 2.0])), [-0.1, 2.0])
    np.testing.assert_allclose(act.grad(np.array([-1.0, 2.0])), [0.1, 1.0])
    assert A.get("leaky_relu").forward(-1.0) == pytest.approx(-0.01)
    with pytest.raises(dataclasses.FrozenInstanceError):
        act.name = "relu"


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="unknown name 'softplus'.*step, sign, sigmoid, tanh, relu, "
                                         "leaky_relu, elu, gelu, gaussian, linear"):
        A.get("softplus")
    with pytest.raises(TypeError, match="expected a name"):
        A.get(3)


def test_bad_parameters_and_inputs():
    with pytest.raises(TypeError, match="'relu' takes no parameters, got slope"):
        A.get("relu", slope=0.1)
    with pytest.raises(TypeError, match="'leaky_relu' takes slope, got alpha"):
        A.get("leaky_relu", alpha=0.1)
    with pytest.raises(ValueError, match="slope: expected a finite number"):
        A.leaky_relu([1.0], slope=float("nan"))
    with pytest.raises(ValueError, match=r"z: contains NaN or inf \(first at index \(1,\)"):
        A.sigmoid([0.0, np.nan])
    with pytest.raises(ValueError, match="z: contains NaN or inf"):
        A.relu_grad([np.inf])
    with pytest.raises(TypeError, match="z: expected a numeric array, got str"):
        A.tanh("1.0")
