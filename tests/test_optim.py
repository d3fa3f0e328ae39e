"""nnkit.optim against torch.optim (oracle), by hand, and on bad hyper-parameters."""

import numpy as np
import pytest
import torch  # the oracle: a pinned dev requirement, never skipped

from nnkit import optim
from nnkit._packed import Packed

SHAPES = {"W1": (3, 4), "b1": (4,), "W2": (4, 2), "b2": (2,)}

# (nnkit class, nnkit kwargs, torch class, torch kwargs)
CASES = {
    "sgd": (optim.SGD, {"lr": 0.05}, "SGD", {"lr": 0.05}),
    "momentum": (optim.SGD, {"lr": 0.05, "momentum": 0.9}, "SGD", {"lr": 0.05, "momentum": 0.9}),
    "nesterov": (optim.SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True},
                 "SGD", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    "weight_decay": (optim.SGD, {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1},
                     "SGD", {"lr": 0.05, "momentum": 0.5, "weight_decay": 0.1}),
    "adagrad": (optim.AdaGrad, {"lr": 0.1}, "Adagrad", {"lr": 0.1}),
    "adagrad_wd": (optim.AdaGrad, {"lr": 0.1, "eps": 1e-6, "weight_decay": 0.05},
                   "Adagrad", {"lr": 0.1, "eps": 1e-6, "weight_decay": 0.05}),
    "rmsprop": (optim.RMSProp, {"lr": 0.01, "decay": 0.9}, "RMSprop", {"lr": 0.01, "alpha": 0.9}),
    "rmsprop_default": (optim.RMSProp, {}, "RMSprop", {}),
    "adam": (optim.Adam, {"lr": 0.01}, "Adam", {"lr": 0.01}),
    # (lr kept small enough that Adam does not reach its sign-like oscillation around the minimum within
    # 100 steps: there, rounding differences of 1 ulp grow chaotically in any two implementations)
    "adamw": (optim.AdamW, {"lr": 0.01}, "AdamW", {"lr": 0.01}),
    "adamw_decay": (optim.AdamW, {"lr": 0.01, "beta1": 0.8, "weight_decay": 0.3},
                    "AdamW", {"lr": 0.01, "betas": (0.8, 0.999), "weight_decay": 0.3}),
    "nadam": (optim.NAdam, {"lr": 0.01}, "NAdam", {"lr": 0.01}),
    "nadam_all": (optim.NAdam, {"lr": 0.02, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05,
                                "momentum_decay": 0.01},
                  "NAdam", {"lr": 0.02, "betas": (0.8, 0.99), "eps": 1e-6, "weight_decay": 0.05,
                            "momentum_decay": 0.01}),
    "adam_betas": (optim.Adam, {"lr": 0.01, "beta1": 0.5, "beta2": 0.9, "eps": 1e-6, "weight_decay": 0.01},
                   "Adam", {"lr": 0.01, "betas": (0.5, 0.9), "eps": 1e-6, "weight_decay": 0.01}),
}


def _quadratic(seed=0):
    """Random convex quadratic per array: grad = A x - c (A symmetric positive definite)."""
    rng = np.random.default_rng(seed)
    problem = {}
    for name, shape in SHAPES.items():
        n = int(np.prod(shape))
        M = rng.standard_normal((n, n))
        problem[name] = (M @ M.T / n + 0.1 * np.eye(n), rng.standard_normal(n), rng.standard_normal(shape))
    return problem


def _grad(problem, name, x):
    A, c, _ = problem[name]
    return (A @ x.ravel() - c).reshape(x.shape)


@pytest.mark.parametrize("form", ["arrays", "packed", "packed-grads"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_trajectory_matches_torch_optim(case, form):
    """Every rule against torch, on separate arrays and on parameters packed into one buffer (as an nnkit
    model holds them: one kernel call per step), with gradients as separate arrays or packed alike."""
    cls, kw, tname, tkw = CASES[case]
    problem = _quadratic()
    params = {k: x0.copy() for k, (_, _, x0) in problem.items()}
    if form != "arrays":
        params = Packed.pack(params, np.float64)
    tparams = {k: torch.tensor(x0, dtype=torch.float64, requires_grad=True)
               for k, (_, _, x0) in problem.items()}
    opt = cls(params, **kw)
    arrays = {k: params[k] for k in params}          # the optimizer must update these very objects
    # torch keeps scalar state (NAdam's running product of μ_t) in its default dtype: float64 here, like ours
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        topt = getattr(torch.optim, tname)(list(tparams.values()), **tkw)
        worst = _run_against_torch(opt, topt, params, tparams, problem, packed_grads=form == "packed-grads")
    finally:
        torch.set_default_dtype(previous)
    assert worst < 1e-12, f"{case}: mine vs torch max rel diff {worst:.3g}"
    assert all(params[k] is arrays[k] for k in params)
    # the trajectory really moved (the test would be void on a no-op optimizer)
    assert max(np.max(np.abs(params[k] - problem[k][2])) for k in params) > 1e-2


def _run_against_torch(opt, topt, params, tparams, problem, packed_grads=False):
    """100 steps of both on the same quadratic; the largest relative difference seen."""
    worst = 0.0
    for _ in range(100):
        grads = {k: _grad(problem, k, params[k]) for k in params}
        if packed_grads:
            grads = Packed.pack(grads, np.float64)
            grads.layout = params.layout                 # the same layout: one kernel call, no gathering
        opt.step(grads)
        for k, p in tparams.items():
            p.grad = torch.from_numpy(_grad(problem, k, p.detach().numpy()))
        topt.step()
        for k in params:
            theirs = tparams[k].detach().numpy()
            worst = max(worst, np.max(np.abs(params[k] - theirs)) / max(1.0, np.max(np.abs(theirs))))
    return worst


def test_every_declared_rule_has_a_torch_oracle_and_derived_tables():
    """RULES, the pure functions, the classes and the validation all come from DECLARATIONS."""
    tested = {CASES[c][0].rule.name for c in CASES}
    for name, rule in optim.DECLARATIONS.items():
        assert optim.RULES[name] is getattr(optim, f"{name}_step"), name
        cls = getattr(optim, rule.cls)
        assert issubclass(cls, optim.Optimizer) and rule.cls in optim.__all__
        assert set(cls.rule.hyper) == set(rule.hyper)
        assert rule.label and set(rule.sliders) <= set(rule.hyper)
        assert cls.rule.name in tested, f"{rule.cls} has no torch oracle in CASES"
        for k, h in rule.hyper.items():                    # declared defaults are what you get
            if h.default is not None and not rule.requires:
                assert optim.RULES[name].__signature__.parameters[k].default == h.default
    assert list(optim.RULES) == list(optim.DECLARATIONS)


@pytest.mark.parametrize("name", list(optim.DECLARATIONS))
def test_pure_rule_equals_class_step(name):
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(5)
    grads = rng.standard_normal((10, 5))
    rule = optim.DECLARATIONS[name]
    cls = getattr(optim, rule.cls)
    kw = {"lr": 0.1}
    # a preset's defaults (momentum=0.9, nesterov=True) passed explicitly to the class
    extra = {k: h.default for k, h in rule.hyper.items() if h.default != cls.rule.hyper[k].default}
    opt = cls({"x": x0.copy()}, **kw, **extra)
    x, state = x0.copy(), None
    for g in grads:
        before = None if state is None else {k: np.copy(v) for k, v in state.items()}
        x_new, new_state = optim.RULES[name](x, g, state, **kw)
        if before is not None:              # pure: the old state is left alone
            assert all(np.array_equal(before[k], state[k]) for k in before)
        x, state = x_new, new_state
        opt.step({"x": g})
    np.testing.assert_array_equal(opt.params["x"], x)


def test_sgd_by_hand():
    # x = 1, g = 2x (f = x²), lr 0.1, momentum 0.5: v1 = 2, x1 = 0.8; v2 = 0.5·2 + 1.6 = 2.6, x2 = 0.54
    x, s = optim.sgd_step(np.array([1.0]), np.array([2.0]), None, lr=0.1, momentum=0.5)
    assert x[0] == pytest.approx(0.8) and s["v"][0] == pytest.approx(2.0)
    x, s = optim.sgd_step(x, 2 * x, s, lr=0.1, momentum=0.5)
    assert x[0] == pytest.approx(0.54) and s["v"][0] == pytest.approx(2.6)


def test_adam_first_step_is_lr_times_sign():
    # bias correction makes the first step exactly lr·g/(|g| + eps) whatever the betas
    g = np.array([3.0, -0.02, 1e3])
    x, s = optim.adam_step(np.zeros(3), g, None, lr=0.1, beta1=0.8, beta2=0.99, eps=0.0)
    np.testing.assert_allclose(x, -0.1 * np.sign(g), rtol=1e-12)
    assert s["t"] == 1


@pytest.mark.parametrize("cls", [optim.SGD, optim.AdaGrad, optim.RMSProp, optim.Adam, optim.AdamW])
def test_float32_stays_float32_in_place_and_state_is_lazy(cls):
    W = np.ones((3, 2), dtype=np.float32)
    b = np.zeros(2, dtype=np.float32)
    params = {"W1": W, "b1": b}
    kw = {"lr": 0.1, "momentum": 0.9} if cls is optim.SGD else {"lr": 0.1}
    opt = cls(params, **kw)
    assert opt.state == {}
    for _ in range(3):
        opt.step({"W1": np.full((3, 2), 0.5, dtype=np.float32), "b1": np.ones(2, dtype=np.float32)})
    assert params["W1"] is W and params["b1"] is b
    assert W.dtype == np.float32 and b.dtype == np.float32
    assert not np.allclose(W, 1.0)
    assert set(opt.state) == {"W1", "b1"}
    for st in opt.state.values():
        for v in st.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_rules_names():
    assert list(optim.RULES) == ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw",
                                 "nadam"]
    # the presets can be overridden
    x, s = optim.RULES["momentum"](np.array([1.0]), np.array([1.0]), None, lr=1.0, momentum=0.5)
    x, s = optim.RULES["momentum"](x, np.array([1.0]), s, lr=1.0, momentum=0.5)
    assert s["v"][0] == pytest.approx(1.5)


@pytest.mark.parametrize("make, match", [
    (lambda p: optim.SGD(p, lr=0.0), "lr"),
    (lambda p: optim.SGD(p, lr=-1), "lr"),
    (lambda p: optim.SGD(p, lr=float("nan")), "lr"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-0.1), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=1.0), "momentum"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov"),
    (lambda p: optim.SGD(p, lr=0.1, weight_decay=-1), "weight_decay"),
    (lambda p: optim.AdaGrad(p, lr=-0.1), "lr"),
    (lambda p: optim.AdaGrad(p, eps=-1), "eps"),
    (lambda p: optim.RMSProp(p, decay=1.0), "decay"),
    (lambda p: optim.RMSProp(p, decay=-0.5), "decay"),
    (lambda p: optim.Adam(p, beta1=1.0), "beta1"),
    (lambda p: optim.Adam(p, beta1=-0.1), "beta1"),
    (lambda p: optim.Adam(p, beta2=1.5), "beta2"),
    (lambda p: optim.Adam(p, lr=0), "lr"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay"),
    (lambda p: optim.AdamW(p, beta2=1.0), "beta2"),
])
def test_bad_hyper_parameters(make, match):
    with pytest.raises(ValueError, match=match):
        make({"W1": np.zeros(2)})


def test_bad_params_and_grads():
    with pytest.raises(TypeError, match="params"):
        optim.SGD([np.zeros(2)], lr=0.1)
    with pytest.raises(TypeError, match="W1"):
        optim.SGD({"W1": np.zeros(2, dtype=int)}, lr=0.1)
    opt = optim.SGD({"W1": np.zeros(2), "b1": np.zeros(1)}, lr=0.1)
    with pytest.raises(ValueError, match="missing gradient for parameter 'b1'"):
        opt.step({"W1": np.ones(2)})
    with pytest.raises(ValueError, match=r"grads\['W1'\]: expected the shape of params\['W1'\] \(2,\), "
                                         r"got \(3,\)"):
        opt.step({"W1": np.ones(3), "b1": np.ones(1)})
    with pytest.raises(ValueError, match="dx: expected the shape"):
        optim.sgd_step(np.zeros(2), np.zeros(3), lr=0.1)
    with pytest.raises(ValueError, match="momentum"):
        optim.sgd_step(np.zeros(2), np.zeros(2), lr=0.1, momentum=2)


def test_changed_hyper_parameters_take_effect_and_are_checked():
    params = {"x": np.array([1.0])}
    opt = optim.SGD(params, lr=0.1)
    opt.step({"x": np.array([1.0])})
    opt.lr = 0.5                                 # a schedule: the next step uses the new rate
    opt.step({"x": np.array([1.0])})
    assert params["x"][0] == pytest.approx(1.0 - 0.1 - 0.5)
    opt.lr = -1.0
    with pytest.raises(ValueError, match="lr: expected a finite value > 0, got -1.0"):
        opt.step({"x": np.array([1.0])})
    assert "lr=0.1" in repr(optim.Adam({"x": np.zeros(1)}, lr=0.1))


def test_undeclared_hyper_parameters_are_rejected():
    """A name the rule does not declare is an error everywhere (it used to pass unchecked: rho=-5)."""
    p = {"W1": np.zeros(2)}
    with pytest.raises(TypeError, match="SGD: unknown hyper-parameter 'rho'; it takes lr, momentum, "
                                        "nesterov, weight_decay"):
        optim.SGD(p, lr=0.1, rho=-5)
    with pytest.raises(TypeError, match="rmsprop_step: unknown hyper-parameter 'rho'"):
        optim.rmsprop_step(np.zeros(2), np.zeros(2), rho=-5)
    with pytest.raises(TypeError, match="adam_step: unknown hyper-parameter 'momentum'"):
        optim.RULES["adam"](np.zeros(2), np.zeros(2), None, momentum=0.9)
    with pytest.raises(TypeError, match="missing the hyper-parameter 'lr'"):
        optim.SGD(p)
    with pytest.raises(TypeError, match="nesterov: expected True or False"):
        optim.SGD(p, lr=0.1, momentum=0.9, nesterov="yes")
    assert optim.SGD(p, 0.1, 0.9).momentum == 0.9              # positional, in declared order


def test_nadam_first_step_by_hand():
    # t = 1, eps = 0: m = (1-β1) g and sqrt(v / (1-β2)) = |g|, so the step is
    # lr·sign(g)·(1 + μ2 (1-β1) / (1 - μ1 μ2)), μ_t = β1 (1 - ½ 0.96^(t ψ)): the gradient's share
    # (1-μ1)/(1-μ1) = 1 plus the look-ahead momentum
    b1, psi, lr = 0.9, 0.004, 0.1
    mu1, mu2 = b1 * (1 - 0.5 * 0.96 ** psi), b1 * (1 - 0.5 * 0.96 ** (2 * psi))
    x, state = optim.nadam_step(np.array([1.0, 1.0]), np.array([3.0, -0.5]), None, lr=lr, eps=0.0)
    step = lr * (1 + mu2 * (1 - b1) / (1 - mu1 * mu2))
    np.testing.assert_allclose(x, [1 - step, 1 + step], rtol=1e-14)
    assert state["t"] == 1 and state["mu_product"] == pytest.approx(mu1, rel=1e-15)


def test_adamw_decay_is_decoupled_by_hand():
    # g = 0: Adam's m, v stay 0 and its step is 0, so one AdamW step only shrinks x by (1 - lr λ)
    x, s = optim.adamw_step(np.array([2.0, -4.0]), np.zeros(2), None, lr=0.1, weight_decay=0.5)
    np.testing.assert_allclose(x, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-15)
    # whereas Adam's L2 weight decay enters the moments: its first step is lr·sign(λx) whatever λ
    x, s = optim.adam_step(np.array([2.0, -4.0]), np.zeros(2), None, lr=0.1, weight_decay=0.5, eps=0.0)
    np.testing.assert_allclose(x, [1.9, -3.9], rtol=1e-12)


def test_optimizer_widget_tables_are_derived_from_the_declarations():
    """The lecture-6 widget offers every declared rule, labelled as declared, with the declared sliders."""
    pytest.importorskip("ipywidgets")
    from nnkit.widgets import optimizer as w

    assert w.OPTIMIZERS == tuple(optim.DECLARATIONS)
    assert w.LABELS == {n: r.label for n, r in optim.DECLARATIONS.items()}
    assert set(w.COLORS) == set(optim.DECLARATIONS) and len(set(w.COLORS.values())) == len(w.COLORS)
    for name, rule in optim.DECLARATIONS.items():
        hp = w.hyperparameters(name, 0.05, rho=0.7, beta1=0.8, beta2=0.95)
        assert set(hp) == set(rule.sliders) and hp["lr"] == 0.05
        optim.RULES[name](np.ones(2), np.ones(2), None, **hp)      # accepted by the rule's validation
    assert w.hyperparameters("rmsprop", 0.1, rho=0.8) == {"lr": 0.1, "decay": 0.8}
    assert w.hyperparameters("adamw", 0.1, beta1=0.5) == {"lr": 0.1, "beta1": 0.5, "beta2": 0.999}
