"""nnkit.autograd: the lectures' graphs by hand, every op and random expression trees vs torch.autograd,
broadcasting, accumulation semantics, dtypes and errors."""

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from nnkit.autograd import Tensor, Value, trace
from tests._oracles import ACTIVATION_CASES, PROPERTY, activation_case, assert_close, away, tn, tt

# --------------------------------------------------------------------------- the lectures' examples


def test_one_hidden_relu_worked_example():
    """y = w2 max(0, w1 x + b1) + b2, L = (y - t)², x = t = 1, (w1, b1, w2, b2) = (3, 1, 2, -5)."""
    w1, b1, w2, b2 = (Tensor(v, label=n) for v, n in zip((3.0, 1.0, 2.0, -5.0), ("w1", "b1", "w2", "b2"),
                                                          strict=True))
    x, t = 1.0, 1.0
    h = (w1 * x + b1).relu()
    y = w2 * h + b2
    L = (y - t) ** 2
    L.backward()
    assert (h.item(), y.item(), L.item()) == (4.0, 3.0, 4.0)
    assert y.grad == 4.0 and h.grad == 8.0                       # dL/dy = 2(y - t), dL/dh = 4 · w2
    assert [p.grad.item() for p in (w1, b1, w2, b2)] == [8.0, 8.0, 16.0, 4.0]
    alpha = 1 / 4
    assert [(p.data - alpha * p.grad).item() for p in (w1, b1, w2, b2)] == [1.0, -1.0, -2.0, -6.0]


def test_sigmoid_graph_reverse_sweep_matches_closed_forms():
    """t1 = w x, z = t1 + b, t3 = -z, t4 = e^{t3}, t5 = 1 + t4, y = 1/t5, t6 = y - t, t7 = t6², L = t7/2."""
    w, x = Tensor(0.8, label="w"), Tensor(-1.5, label="x")
    b, t = Tensor(0.3, label="b"), Tensor(1.0, label="t")
    nodes = {}
    nodes["t1"] = t1 = w * x
    nodes["z"] = z = t1 + b
    nodes["t3"] = t3 = -z
    nodes["t4"] = t4 = t3.exp()
    nodes["t5"] = t5 = 1 + t4
    nodes["y"] = y = 1 / t5
    nodes["t6"] = t6 = y - t
    nodes["t7"] = t7 = t6 ** 2
    nodes["L"] = L = t7 / 2
    for name, node in nodes.items():
        node.label = name
    L.backward()

    zv, xv, wv, tv = 0.8 * -1.5 + 0.3, -1.5, 0.8, 1.0
    sig = 1 / (1 + np.exp(-zv))
    assert y.item() == pytest.approx(sig, rel=1e-15)
    assert L.grad == 1.0                                         # L̄ = 1
    assert t7.grad == 0.5
    assert t6.grad == pytest.approx(sig - tv, rel=1e-15)
    assert y.grad == pytest.approx(sig - tv, rel=1e-15)          # ȳ = L̄ (y - t)
    assert t5.grad == pytest.approx(-(sig - tv) / t5.item() ** 2, rel=1e-14)
    assert z.grad == pytest.approx((sig - tv) * sig * (1 - sig), rel=1e-14)   # z̄ = ȳ σ'(z)
    assert w.grad == pytest.approx(z.grad * xv, rel=1e-15)       # w̄ = z̄ x
    assert b.grad == pytest.approx(z.grad, rel=1e-15)            # b̄ = z̄
    assert x.grad == pytest.approx(z.grad * wv, rel=1e-15)

    graph_nodes, edges = trace(L)
    labels = [n.label for n in graph_nodes if n.label]
    assert set(labels) == {"w", "x", "b", "t", *nodes}
    assert labels.index("w") < labels.index("t1") < labels.index("z") < labels.index("L")   # topological
    ops = {n.label: n.op for n in graph_nodes if n.label}
    assert (ops["t1"], ops["z"], ops["t3"], ops["t4"], ops["y"], ops["t7"], ops["L"]) == \
        ("*", "+", "neg", "exp", "/", "**2", "/")
    assert ops["w"] == ""
    assert len(edges) == sum(len(n._prev) for n in graph_nodes)
    assert (w, t1) in edges and (t1, z) in edges and (t7, L) in edges


# --------------------------------------------------------------------------- every op vs torch

UNARY = {
    "neg": (lambda a: -a, lambda a: -a),
    "exp": (lambda a: a.exp(), lambda a: a.exp()),
    "log": (lambda a: (a * a + 0.5).log(), lambda a: (a * a + 0.5).log()),
    "tanh": (lambda a: a.tanh(), lambda a: a.tanh()),
    "sigmoid": (lambda a: a.sigmoid(), lambda a: a.sigmoid()),
    "relu": (lambda a: a.relu(), lambda a: a.relu()),
    "pow3": (lambda a: a ** 3, lambda a: a ** 3),
    "pow_half": (lambda a: (a * a + 1) ** 0.5, lambda a: (a * a + 1) ** 0.5),
    "pow_neg": (lambda a: (a * a + 1) ** -2, lambda a: (a * a + 1) ** -2),
    "T": (lambda a: a.T, lambda a: a.T),
    "sum": (lambda a: a.sum(), lambda a: a.sum()),
    "sum0": (lambda a: a.sum(axis=0), lambda a: a.sum(dim=0)),
    "sum-1k": (lambda a: a.sum(axis=-1, keepdims=True), lambda a: a.sum(dim=-1, keepdim=True)),
    "sum01": (lambda a: a.sum(axis=(0, 1)), lambda a: a.sum(dim=(0, 1))),
    "mean": (lambda a: a.mean(), lambda a: a.mean()),
    "mean1": (lambda a: a.mean(axis=1), lambda a: a.mean(dim=1)),
    "mean0k": (lambda a: a.mean(axis=0, keepdims=True), lambda a: a.mean(dim=0, keepdim=True)),
    "rsub": (lambda a: 2.0 - a, lambda a: 2.0 - a),
    "rdiv": (lambda a: 1.0 / (a * a + 1), lambda a: 1.0 / (a * a + 1)),
}


@pytest.mark.parametrize("key", ACTIVATION_CASES)
def test_every_declared_activation_op_equals_torch(key):
    """Tensor.<name>(**params) for every activation of nnkit.activations.DECLARATIONS, vs torch."""
    name, torch_fn, kw = activation_case(key)
    a = away(np.random.default_rng(0), (3, 4), 0.05, 4.0)          # away from the kinks at 0
    A, At = Tensor(a), tt(a)
    out, tout = getattr(A, name)(**kw), torch_fn(At)
    assert out.op == name
    dout = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(dout)
    tout.backward(torch.tensor(dout))
    assert_close(out.data, tn(tout), what=f"{key} value")
    assert_close(A.grad, tn(At.grad), what=f"{key} grad")


@pytest.mark.parametrize("op", list(UNARY))
def test_unary_ops_equal_torch(op):
    mine_fn, torch_fn = UNARY[op]
    a = np.random.default_rng(0).standard_normal((3, 4))
    A, At = Tensor(a), tt(a)
    out, tout = mine_fn(A), torch_fn(At)
    dout = np.random.default_rng(1).standard_normal(out.shape)
    out.backward(dout)
    tout.backward(torch.tensor(dout))
    assert_close(out.data, tn(tout), what=f"{op} value")
    assert_close(A.grad, tn(At.grad), what=f"{op} grad")


SHAPE_PAIRS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((3, 1), (1, 4)), ((3, 4), ()), ((), (2, 3)),
               ((2, 1, 4), (3, 1)), ((4,), (3, 4))]


@pytest.mark.parametrize("op", ["+", "-", "*", "/"])
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_ops_with_broadcasting_equal_torch(op, shapes):
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    if op == "/":
        b = np.sign(b) * (np.abs(b) + 0.5)
    fn = {"+": lambda p, q: p + q, "-": lambda p, q: p - q,
          "*": lambda p, q: p * q, "/": lambda p, q: p / q}[op]
    A, B, At, Bt = Tensor(a), Tensor(b), tt(a), tt(b)
    out, tout = fn(A, B), fn(At, Bt)
    (out * out).sum().backward()
    (tout * tout).sum().backward()
    assert_close(out.data, tn(tout))
    assert A.grad.shape == a.shape and B.grad.shape == b.shape     # summed back to the operand's shape
    assert_close(A.grad, tn(At.grad), what="da")
    assert_close(B.grad, tn(Bt.grad), what="db")


@pytest.mark.parametrize("shapes", [((3, 4), (4, 2)), ((3, 4), (4,)), ((4,), (4, 2)), ((4,), (4,))], ids=str)
def test_matmul_equals_torch(shapes):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    A, B, At, Bt = Tensor(a), Tensor(b), tt(a), tt(b)
    out, tout = A @ B, At @ Bt
    out.tanh().sum().backward()
    tout.tanh().sum().backward()
    assert_close(out.data, tn(tout))
    assert_close(A.grad, tn(At.grad), what="dA")
    assert_close(B.grad, tn(Bt.grad), what="dB")
    # an ndarray on the left defers to Tensor.__rmatmul__
    C = Tensor(b)
    assert isinstance(a @ C, Tensor)


# --------------------------------------------------------------------------- random expressions vs torch

def _red(x, kind, axis, keepdims):
    if isinstance(x, Tensor):
        return getattr(x, kind)(axis=axis, keepdims=keepdims)
    return getattr(x, kind)() if axis is None else getattr(x, kind)(dim=axis, keepdim=keepdims)


def _random_expression(r, depth):
    """A random program over the leaves, returning an (n, m) array; ``r`` is a random.Random.

    Leaves of several shapes broadcast against the (n, m) sub-expressions; log, / and ** get positive
    arguments and exp a bounded one, so every value stays finite and well conditioned.
    """
    leaves = ["A", "B", "r", "c", "u", "s"]
    if depth == 0:
        name = r.choice(["A", "B"])
        return lambda env: env[name]
    kind = r.choice(["binary", "binary", "leaf", "unary", "matmul", "reduce"])
    f = _random_expression(r, depth - 1)
    if kind in ("binary", "leaf"):
        g = _random_expression(r, depth - 1) if kind == "binary" else None
        leaf = r.choice(leaves)
        const = r.choice([None, 2.0, -0.5])
        op = r.choice("+-*/")
        flip = r.random() < 0.5

        def other(env):
            if g is not None:
                return g(env)
            return const if const is not None else env[leaf]

        def binary(env):
            p, q = f(env), other(env)
            if op == "/":
                q = q * q + 1.0               # a positive denominator
            if flip and op != "/":
                p, q = q, p
            return {"+": lambda: p + q, "-": lambda: p - q, "*": lambda: p * q, "/": lambda: p / q}[op]()
        return binary
    if kind == "unary":
        op = r.choice(["neg", "exp", "log", "tanh", "sigmoid", "relu", "sq", "cube", "sqrt"])

        def unary(env):
            a = f(env)
            return {"neg": lambda: -a, "exp": lambda: a.tanh().exp(), "log": lambda: (a * a + 1.0).log(),
                    "tanh": lambda: a.tanh(), "sigmoid": lambda: a.sigmoid(), "relu": lambda: a.relu(),
                    "sq": lambda: a ** 2, "cube": lambda: a.tanh() ** 3,
                    "sqrt": lambda: (a * a + 1.0) ** 0.5}[op]()
        return unary
    if kind == "matmul":
        transpose = r.random() < 0.5
        return lambda env: f(env) @ (env["M"].T if transpose else env["M"])
    red = r.choice(["sum", "mean"])
    axis, keepdims = r.choice([(0, True), (1, True), (0, False), (None, False)])
    g = _random_expression(r, depth - 1)
    return lambda env: g(env) * _red(f(env), red, axis, keepdims).tanh()


@settings(PROPERTY, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), depth=st.integers(1, 5), n=st.integers(1, 4), m=st.integers(1, 4))
def test_random_expressions_equal_torch(seed, depth, n, m):
    rng = np.random.default_rng(seed)
    data = {"A": (n, m), "B": (n, m), "r": (m,), "c": (n, 1), "u": (1, m), "s": (), "M": (m, m)}
    data = {k: rng.standard_normal(shape) for k, shape in data.items()}
    expr = _random_expression(random.Random(seed), depth)
    root_kind = random.Random(seed + 1).choice(["sum", "mean"])
    mine = {k: Tensor(v, label=k) for k, v in data.items()}
    theirs = {k: tt(v) for k, v in data.items()}
    out = getattr(expr(mine), root_kind)()
    tout = getattr(expr(theirs), root_kind)()
    out.backward()
    tout.backward()
    assert_close(out.data, tn(tout), what="value")
    for k in data:
        g = theirs[k].grad
        assert_close(mine[k].grad, np.zeros(data[k].shape) if g is None else tn(g), what=f"d{k}")


# --------------------------------------------------------------------------- semantics

def test_accumulation_like_torch_and_zero_grad():
    a = Tensor(np.array([1.0, 2.0]))
    h = a * a
    L = h.sum()
    L.backward()
    np.testing.assert_array_equal(a.grad, [2.0, 4.0])
    L.backward()                                     # leaves accumulate, interior nodes are recomputed
    np.testing.assert_array_equal(a.grad, [4.0, 8.0])
    np.testing.assert_array_equal(h.grad, [1.0, 1.0])
    L.zero_grad()
    assert not a.grad.any() and not h.grad.any()
    # a node used twice (x * x, x + x) gets both contributions
    x = Tensor(3.0)
    (x * x + x + x).backward()
    assert x.grad == 8.0


def test_long_chain_has_no_recursion_limit():
    x = Tensor(0.0)
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.backward()
    assert y.item() == 5000.0 and x.grad == 1.0


def test_numpy_interop_dtype_and_repr():
    a32 = Tensor(np.array([1.0, -2.0], dtype=np.float32), label="a")
    out = (2.0 * a32 + 1).sigmoid() * 3 - 0.5 / (a32 * a32 + 1)
    assert out.data.dtype == np.float32
    out.sum().backward()
    assert a32.grad.dtype == np.float32
    assert Tensor(3).data.dtype == np.float64 and Tensor([1, 2]).data.dtype == np.float64
    r = np.ones(2) + Tensor([1.0, 2.0])             # ndarray on the left defers to Tensor
    assert isinstance(r, Tensor) and r.data.tolist() == [2.0, 3.0]
    assert Value is Tensor
    assert "label='a'" in repr(a32)
    t = Tensor(2.0, label="w")
    assert t.op == "" and t._prev == () and t.shape == () and t.ndim == 0 and t.dtype == np.float64
    assert (t * 3)._prev[0] is t and (t * 3).op == "*"


def test_errors():
    a = Tensor(np.ones((2, 3)))
    with pytest.raises(TypeError, match="exponent: expected a Python int or float, got Tensor"):
        a ** Tensor(2.0)
    with pytest.raises(ValueError, match=r"matmul: inner dimensions differ, got shapes \(2, 3\) and \(2, 3"):
        a @ a
    with pytest.raises(ValueError, match="matmul: expected 1-D or 2-D operands"):
        Tensor(np.ones((2, 2, 2))) @ Tensor(np.ones((2, 2)))
    with pytest.raises(ValueError, match=r"grad: expected shape \(2, 3\), got \(3,\)"):
        (a * 2).backward(np.ones(3))
    with pytest.raises(TypeError, match="data: expected a number or numeric array, got str"):
        Tensor("abc")
    with pytest.raises(TypeError, match="root: expected a Tensor, got float"):
        trace(1.0)


def test_docstring_examples_run():
    import doctest

    import nnkit.autograd

    result = doctest.testmod(nnkit.autograd)
    assert result.attempted > 0 and result.failed == 0
