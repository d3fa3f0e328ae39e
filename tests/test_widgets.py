"""The lecture widgets, driven without a browser: set controls, call handlers, read the artists back.

Each test checks that what is drawn is what the model holds (the perceptron's line is its w and b, a
trajectory is nnkit.optim's run, the pieces add up to the fit, the image is the network's probability)
and that updates reuse the same Figure and artists.
"""

import io

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from nnkit.optim import RULES  # noqa: E402
from nnkit.widgets import (  # noqa: E402
    ApproximationWidget,
    DecisionBoundaryWidget,
    OptimizerWidget,
    PerceptronWidget,
    functions,
    resolve_mode,
)
from nnkit.widgets._base import clip_line_to_box, half_plane_polygon  # noqa: E402
from nnkit.widgets.approximation import pieces  # noqa: E402
from nnkit.widgets.optimizer import hyperparameters, trajectory  # noqa: E402
from tests._widget_driving import click, on_own_loop  # noqa: E402


def is_png(data: bytes) -> bool:
    return data[:8] == b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------------------------------------- base
def test_mode_resolution():
    assert resolve_mode("auto") == "static"  # no kernel and the Agg backend in the tests
    assert resolve_mode("ipympl") == "ipympl"
    assert resolve_mode("browser") == "browser"
    with pytest.raises(ValueError, match="mode"):
        resolve_mode("webgl")


def test_clip_line_and_half_plane():
    xs, ys = clip_line_to_box([1.0, 1.0], -1.0, (-2, 2), (-2, 2))
    assert len(xs) == 2
    for x, y in zip(xs, ys):
        assert x + y - 1.0 == pytest.approx(0.0, abs=1e-12)
        assert -2 <= x <= 2 and -2 <= y <= 2
    assert clip_line_to_box([0.0, 0.0], 1.0, (-1, 1), (-1, 1)) == ([], [])
    assert clip_line_to_box([1.0, 0.0], -5.0, (-1, 1), (-1, 1)) == ([], [])  # x = 5 misses the box
    poly = half_plane_polygon(np.array([1.0, 0.0]), 0.0, (-1, 1), (-1, 1))  # right half: area 2
    area = 0.5 * abs(np.dot(poly[:, 0], np.roll(poly[:, 1], 1)) - np.dot(poly[:, 1], np.roll(poly[:, 0], 1)))
    assert area == pytest.approx(2.0)


@pytest.mark.parametrize("name", sorted(functions.FUNCTIONS))
def test_test_function_gradients_match_finite_differences(name):
    f = functions.get(name)
    rng = np.random.default_rng(0)
    for _ in range(5):
        p = np.array([rng.uniform(*f.xlim), rng.uniform(*f.ylim)])
        h = 1e-6
        num = np.array([(f(p + h * e) - f(p - h * e)) / (2 * h) for e in np.eye(2)])
        np.testing.assert_allclose(f.grad(p), num, rtol=1e-5, atol=1e-5)
    # the stated minimum is reached (grid search from below)
    gx, gy = np.meshgrid(np.linspace(*f.xlim, 401), np.linspace(*f.ylim, 401))
    assert f.value(gx, gy).min() >= f.minimum - 1e-9
    assert f.value(gx, gy).min() == pytest.approx(f.minimum, abs=2e-2)
    with pytest.raises(ValueError, match="name"):
        functions.get("himmelblau")


# ---------------------------------------------------------------------------------------- perceptron
def assert_line_is_boundary(w):
    xs, ys = w.boundary_line.get_data()
    assert len(xs) == 2
    wv, b = w.model.w, w.model.b
    for x, y in zip(xs, ys):
        assert wv[0] * x + wv[1] * y + b == pytest.approx(0.0, abs=1e-9 * (1 + np.abs(wv).sum() + abs(b)))


def test_perceptron_step_draws_the_model():
    w = PerceptronWidget("separable", n=30, seed=1)
    fig, line, marker = w.fig, w.boundary_line, w.current_marker
    assert w.boundary_line.get_data() == ([], [])  # w = 0: no boundary yet
    w.step()
    assert w.t == 1 and w.current == 0
    np.testing.assert_allclose(np.ravel(w.current_marker.get_data()), w.X[0])
    assert_line_is_boundary(w)  # first example is always a mistake from w = 0
    # the weight arrow is w (scaled to unit length at most), drawn from the boundary
    corners = w.weight_arrow.get_xy()
    foot, tip = (corners[0] + corners[6]) / 2, corners[3]
    u, v = tip - foot
    wv = w.model.w
    assert wv @ foot + w.model.b == pytest.approx(0.0, abs=1e-9)  # the arrow starts on the boundary
    assert u * wv[1] - v * wv[0] == pytest.approx(0.0, abs=1e-9) and u * wv[0] + v * wv[1] > 0
    for _ in range(12):
        before = (w.model.w.copy(), w.model.b)
        mistake = w.step()
        i = w.current
        np.testing.assert_allclose(np.ravel(w.current_marker.get_data()), w.X[i])
        if mistake:
            np.testing.assert_allclose(w.model.w, before[0] + w.lr.value * w.y[i] * w.X[i])
        else:
            np.testing.assert_array_equal(w.model.w, before[0])
        assert_line_is_boundary(w)
    assert w.fig is fig and w.boundary_line is line and w.current_marker is marker


def test_perceptron_converges_on_separable_data_and_mistake_curve_grows():
    w = PerceptronWidget("separable", n=30, seed=0)
    N = len(w.X)
    w.step(N)
    assert w.mistakes_per_epoch and len(w.mistakes_line.get_xdata()) == 1
    counts = w.run_epochs(100)
    assert w.converged and counts[-1] == 0
    np.testing.assert_array_equal(w.mistakes_line.get_ydata(), counts)
    np.testing.assert_array_equal(w.mistakes_line.get_xdata(), np.arange(1, len(counts) + 1))
    assert np.all(np.sign(w.X @ w.model.w + w.model.b) == w.y)
    assert_line_is_boundary(w)


def test_perceptron_never_settles_on_xor():
    w = PerceptronWidget("xor", n=40)
    counts = w.run_epochs(60)
    assert len(counts) == 60 and min(counts) > 0 and not w.converged


def test_perceptron_controls_drive_it():
    w = PerceptronWidget("separable", n=20)
    w.play.value = 7  # Play's value = presentations so far
    assert w.t == 7
    w.play.value = 11
    assert w.t == 11
    w.play.value = 3  # going back replays from the start
    assert w.t == 3
    w.step_button.click()
    assert w.t == 4 and w.play.value == 4, "the Play control follows the step button"
    model_w = w.model.w.copy()
    w.play.value += 1  # pressing play after step resumes from here, not from example 0
    assert w.t == 5
    assert w.current == 4 and (w.last_was_mistake or np.array_equal(w.model.w, model_w))
    w.run_epochs(2)
    assert w.play.value == w.t
    w.lr.value = 0.5
    assert w.model.lr == 0.5
    w.reset_button.click()
    assert w.t == 0 and w.play.value == 0 and not w.model.w.any()
    renders = w.renders
    w.dataset.value = "noisy"
    assert w.renders > renders and w.t == 0 and len(w.X) == 20
    xs, ys = w.points_pos.get_data()
    assert len(xs) == int((w.y > 0).sum())
    assert is_png(w.view.value)


# ----------------------------------------------------------------------------------------- optimizer
def direct_run(name, f, start, steps, **hp):
    x, state, path = np.array(start, float), None, [np.array(start, float)]
    for _ in range(steps):
        x, state = RULES[name](x, f.grad(x), state, **hp)
        path.append(x)
    return np.array(path)


def test_trajectories_are_nnkit_optim_runs():
    w = OptimizerWidget("quadratic", optimizers=tuple(RULES), steps=60)
    f = functions.get("quadratic")
    assert set(w.paths) == set(RULES)
    for name, path in w.paths.items():
        expect = direct_run(name, f, f.start, 60, **w.hyperparameters(name))
        np.testing.assert_allclose(path, expect)
        xs, ys = w.lines[name].get_data()
        np.testing.assert_allclose(np.column_stack([xs, ys]), expect)  # full path shown at first
        np.testing.assert_allclose(w.loss_lines[name].get_ydata(),
                                   np.log10(np.maximum(f.value(expect[:, 0], expect[:, 1]), 1e-12)))
    assert hyperparameters("rmsprop", 0.1, rho=0.8) == {"lr": 0.1, "decay": 0.8}
    assert hyperparameters("nesterov", 0.1, rho=0.8) == {"lr": 0.1, "momentum": 0.8}


def test_optimizer_sliders_recompute_and_artists_are_reused():
    w = OptimizerWidget("rosenbrock", optimizers=("sgd", "adam"), steps=50)
    fig, line = w.fig, w.lines["adam"]
    old = w.paths["adam"].copy()
    w.lr.value = 0.01
    f = functions.get("rosenbrock")
    expect = direct_run("adam", f, f.start, 50, lr=0.01, beta1=0.9, beta2=0.999)
    np.testing.assert_allclose(w.paths["adam"], expect)
    assert not np.allclose(old, expect)
    np.testing.assert_allclose(np.column_stack(w.lines["adam"].get_data()), expect)
    w.beta1.value = 0.5
    np.testing.assert_allclose(w.paths["adam"], direct_run("adam", f, f.start, 50, lr=0.01, beta1=0.5,
                                                           beta2=0.999))
    w.checks["momentum"].value = True
    assert "momentum" in w.paths and w.lines["momentum"].get_visible()
    w.checks["sgd"].value = False
    assert "sgd" not in w.paths and not w.lines["sgd"].get_visible()
    assert w.fig is fig and w.lines["adam"] is line


def test_optimizer_play_reveals_steps_and_function_switch():
    w = OptimizerWidget("saddle", optimizers=("sgd",), steps=40)
    w.play.value = 5
    xs, _ = w.lines["sgd"].get_data()
    assert len(xs) == 6 and w.frame == 5
    np.testing.assert_allclose(np.ravel(w.heads["sgd"].get_data()), w.paths["sgd"][5])
    w.step()
    assert w.frame == 6
    w.reset()
    assert len(w.lines["sgd"].get_xdata()) == 1
    contours = w._contours
    w.function.value = "local_minimum"
    assert w._contours is not contours and w._contours.get_visible() and not contours.get_visible()
    assert w.lr.value == pytest.approx(0.02)  # suggested settings loaded
    f = functions.get("local_minimum")
    np.testing.assert_allclose(w.paths["sgd"], direct_run("sgd", f, f.start, w.steps.value, lr=w.lr.value))


def test_optimizer_divergence_is_cut_not_crashing():
    f = functions.get("quadratic")
    path = trajectory("sgd", f, f.start, 200, lr=0.5)  # 1 - 0.5·20 = -9: diverges
    assert np.isnan(path[-1]).all() and np.isfinite(path[:5]).all()


# -------------------------------------------------------------------------------------- approximation
def test_approximation_pieces_sum_to_fit_and_artists_match():
    w = ApproximationWidget("bumpy", hidden=7, n=60)
    w.train(100)
    fit = w.fit_line.get_ydata()
    np.testing.assert_allclose(fit, w.fit_values())
    segs = w.piece_lines.get_segments()
    assert len(segs) == 7
    total = np.sum([s[:, 1] for s in segs], axis=0) + w.model.params["b2"][0]
    np.testing.assert_allclose(total, fit, atol=1e-9)
    np.testing.assert_allclose(np.sum(pieces(w.model, w.grid), axis=0) + w.model.params["b2"][0], fit)
    # the knots are where units switch on
    knots = w.knot_marks.get_xdata()
    W1, b1 = w.model.params["W1"][0], w.model.params["b1"]
    for k in knots:
        assert np.min(np.abs(W1 * k + b1)) < 1e-9


def test_approximation_error_falls_with_hidden_units_and_training():
    w = ApproximationWidget("sin", hidden=3, n=80)
    fig, line = w.fig, w.fit_line
    e0 = w.errors[-1][1]
    e3 = w.train(1200)
    assert e3 < e0
    w.hidden.value = 20
    assert w.epoch == 0 and len(w.piece_lines.get_segments()) == 20
    e20 = w.train(1200)
    assert e20 < 0.25 * e3
    ep, err = w.error_line.get_data()
    assert ep[-1] == 1200 and np.log10(e20) == pytest.approx(err[-1])
    assert w.fig is fig and w.fit_line is line


def test_approximation_play_trains_in_frames():
    w = ApproximationWidget("abs", hidden=4, n=50, epochs_per_frame=10)
    before = w.fit_line.get_ydata().copy()
    w.play.value = 3
    assert w.epoch == 30 and len(w.errors) == 2
    assert not np.allclose(before, w.fit_line.get_ydata())
    w.play.value = 1  # back in time: reset and retrain to frame 1
    assert w.epoch == 10
    w.target.value = "step"
    assert w.epoch == 0 and w.target_line.get_ydata().max() == 1.0


# -------------------------------------------------------------------------------------------- boundary
def test_boundary_training_changes_image_and_improves_accuracy():
    w = DecisionBoundaryWidget("moons", hidden=8, n=200, grid=30)
    fig, image = w.fig, w.image
    p0 = np.array(w.image.get_array()).copy()
    np.testing.assert_allclose(p0, w.probabilities())
    acc0 = w.test_accuracy
    w.train(150)
    p1 = np.array(w.image.get_array())
    assert not np.allclose(p0, p1)
    np.testing.assert_allclose(p1, w.probabilities())
    assert w.test_accuracy > max(acc0, 0.85) and w.train_accuracy > 0.85
    assert w.curve_test.get_ydata()[-1] == w.test_accuracy
    # the drawn boundary is where the network is undecided: P(class 1 | x) = 0.5 there
    xs, ys = w.boundary_line.get_data()
    pts = np.column_stack([xs, ys])
    pts = pts[np.isfinite(pts).all(axis=1)]
    assert len(pts) > 10
    np.testing.assert_allclose(w.model.predict_proba(pts)[:, 1], 0.5, atol=0.1)
    assert w.fig is fig and w.image is image


def test_boundary_controls_rebuild_the_model():
    w = DecisionBoundaryWidget("circles", hidden=4, n=120, grid=20, epochs_per_frame=5)
    w.play.value = 4
    assert w.epoch == 20
    w.hidden.value = 6
    assert w.epoch == 0 and w.model.layer_sizes == [2, 6, 2]
    w.layers.value = 2
    assert w.model.layer_sizes == [2, 6, 6, 2]
    w.activation.value = "tanh"
    assert w.model.activation == "tanh"
    w.l2.value = 0.01
    w.dropout.value = 0.2
    assert w.model.l2 == pytest.approx(0.01) and w.model.dropout == pytest.approx(0.2)
    w.dataset.value = "spirals"
    assert len(w.X_train) + len(w.X_test) == 120
    w.train_button.click()
    assert w.epoch == 50
    # dropout is off for the picture: two evaluations agree
    np.testing.assert_allclose(w.probabilities(), w.probabilities())


def test_l2_gives_smaller_weights():
    a = DecisionBoundaryWidget("moons", hidden=16, n=150, grid=10)
    b = DecisionBoundaryWidget("moons", hidden=16, n=150, grid=10, l2=0.05)
    a.train(200)
    b.train(200)
    norm = lambda w: sum(float((v ** 2).sum()) for k, v in w.model.params.items() if k.startswith("W"))  # noqa: E731
    assert norm(b) < 0.7 * norm(a)


# ------------------------------------------------------------------------------------- display / ipympl
@pytest.mark.parametrize("cls", [PerceptronWidget, OptimizerWidget, ApproximationWidget,
                                 DecisionBoundaryWidget])
def test_widgets_display_in_both_modes(cls):
    static = cls(mode="static")
    bundle = static._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert isinstance(static.view, widgets.Image) and is_png(static.view.value)
    assert is_png(static.png())
    live = cls(mode="ipympl")
    from ipympl.backend_nbagg import Canvas

    assert isinstance(live.fig.canvas, Canvas) and live.view is live.fig.canvas
    assert live.view in live.ui.children or any(live.view in getattr(c, "children", ()) for c in
                                                live.ui.children)
    renders = live.renders
    live.reset()
    assert live.renders > renders and isinstance(live.fig.canvas, Canvas)
    ms = live.time_interaction(live.reset, repeat=2)
    assert ms > 0 and isinstance(live.fig.canvas, Canvas)
    buf = io.BytesIO()
    live.fig.savefig(buf, format="png")
    assert is_png(buf.getvalue())


# ------------------------------------------------------------------------------------------ blitting
@pytest.mark.parametrize("cls, frame", [
    (PerceptronWidget, lambda w: w.step(3)),
    (OptimizerWidget, lambda w: w.step(5)),
    (ApproximationWidget, lambda w: w.train(30)),
    (DecisionBoundaryWidget, lambda w: w.train(20)),
])
def test_blitted_frames_match_a_full_redraw(cls, frame):
    w = cls(mode="static")
    w.reset()
    frame(w)  # may widen an axis: full draw
    frame(w)
    assert w.render() == "blit"  # nothing moved since: the cached background is reused
    blitted = np.asarray(w.fig.canvas.buffer_rgba()).astype(int)
    w.fig.canvas.draw()  # the whole figure from scratch
    full = np.asarray(w.fig.canvas.buffer_rgba()).astype(int)
    differ = np.abs(blitted - full).max(axis=2) > 40
    # identical except where a moving artist crosses something drawn above it in a full draw
    # (a legend, an axis spine): a tiny fraction of the pixels
    assert differ.mean() < 0.01
    png = w.view.value
    assert is_png(png)


def test_invalidate_and_limit_changes_force_a_full_draw():
    w = PerceptronWidget("separable", n=20)
    w.render()
    assert w.render() == "blit"
    w.invalidate()
    assert w.render() == "full"
    w.ax.set_xlim(-10, 10)
    assert w.render() == "full"
    assert w.render() == "blit"
    w.use_blit = False
    assert w.render() == "full"


# ------------------------------------------------------------------------------ static lecture plots
def test_confusion_matrix_counts():
    from nnkit.plotting import confusion_matrix, plot_confusion_matrix

    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2])
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert confusion_matrix([0, 1], [1, 0], n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="y_pred"):
        confusion_matrix([0, 1, 2], [0, 1])
    fig = plot_confusion_matrix(cm, class_names=["a", "b", "c"])
    texts = sorted(t.get_text() for t in fig.axes[0].texts)
    assert texts == sorted(str(v) for v in cm.ravel())


def test_graph_drawing_shows_values_and_gradients():
    from nnkit.autograd import Tensor, trace
    from nnkit.plotting import draw_graph, graph_layout

    w, x, b = Tensor(2.0, label="w"), Tensor(1.5, label="x"), Tensor(-1.0, label="b")
    z = w * x + b
    z.label = "z"
    L = z.sigmoid()
    L.label = "L"
    L.backward()
    nodes, edges, pos = graph_layout(L)
    assert len(nodes) == len(trace(L)[0]) and len(pos) == len(nodes)
    for child, parent in edges:  # inputs to the left of the operation that uses them
        assert pos[id(child)][0] < pos[id(parent)][0]
    assert len({pos[id(n)] for n in nodes}) == len(nodes)  # no two boxes on top of each other
    fig = draw_graph(L)
    arrows = [a for a in fig.axes[0].texts if type(a).__name__ == "Annotation"]
    boxes = [t.get_text() for t in fig.axes[0].texts if type(t).__name__ != "Annotation"]
    assert len(boxes) == len(nodes) and len(arrows) == len(edges)
    w_box = next(t for t in boxes if t.startswith("w\n"))
    assert w_box == f"w\n2\ngrad {float(w.grad):.4g}"
    L_box = next(t for t in boxes if t.startswith("L = sigmoid"))
    assert L_box.endswith("grad 1")


def test_history_and_image_plots():
    from nnkit.plotting import plot_history, plot_templates, show_images

    hist = {"loss": [1.0, 0.5, 0.3], "val_loss": [1.1, 0.7, 0.6], "acc": [0.5, 0.8, 0.9], "val_acc": []}
    fig = plot_history(hist)
    ys = [list(line.get_ydata()) for ax in fig.axes for line in ax.get_lines()]
    assert hist["loss"] in ys and hist["val_loss"] in ys and hist["acc"] in ys
    W = np.arange(64 * 3, dtype=float).reshape(64, 3) - 90
    fig = plot_templates(W, shape=(8, 8))
    shown = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert len(shown) == 3
    np.testing.assert_array_equal(shown[1], W[:, 1].reshape(8, 8))
    fig = show_images(np.zeros((5, 16)), shape=(4, 4), titles=list("abcde"), ncols=3)
    assert sum(1 for ax in fig.axes if ax.images) == 5
    assert [ax.get_title() for ax in fig.axes if ax.images] == list("abcde")


def test_ipympl_canvas_is_primed_and_blits_once_the_browser_is_ready():
    w = PerceptronWidget(mode="ipympl")
    canvas = w.view
    assert canvas._data_url is None and tuple(canvas._size) == (0, 0)
    w._repr_mimebundle_()  # what displaying the widget in a notebook does
    assert canvas._data_url.startswith("data:image/png;base64,")
    width, height = w.fig.get_size_inches() * w.fig.dpi
    assert tuple(canvas._size) == pytest.approx((width, height))
    blits = []
    canvas.blit = lambda *a, **k: blits.append(1)
    w.step()
    assert blits == []  # no browser view yet: the browser will ask for a full draw
    canvas._handle_message(canvas, {"type": "initialized"}, [])  # the browser's view is ready
    w.step()
    assert blits == [1]


@pytest.mark.parametrize("make", [
    lambda: ApproximationWidget("abs", hidden=4, n=50, epochs_per_frame=10),
    lambda: DecisionBoundaryWidget("moons", hidden=8, n=200, grid=30),
])
def test_play_resumes_after_training_by_hand(make):
    w = make()
    f = w.epochs_per_frame
    w.train(3 * f + f // 2)  # what the train button does, by a number of epochs that is not whole frames
    assert w.play.value == 3, "the Play control follows training done by the buttons"
    w.play.value += 1  # pressing play continues training instead of restarting from epoch 0
    assert w.epoch == 4 * f
    w.train_button.click()
    assert w.play.value == w.epoch // f
    w.play.value = 0
    assert w.epoch == 0


# ------------------------------------------------------------------------------------- browser mode
def scene_layers(w):
    """The layers the browser front end was last sent, in full."""
    return w.view.layers


def to_data(w, ax, x_canvas, y_canvas):
    """Canvas pixels (origin top left) back to data coordinates of ``ax``."""
    height = w.fig.bbox.height
    return ax.transData.inverted().transform((x_canvas, height - y_canvas))


def test_browser_scene_is_what_the_model_holds():
    w = PerceptronWidget("separable", n=30, seed=1, mode="browser")
    w._repr_mimebundle_()  # displayed
    assert is_png(w.view.background) and w.view.size == [720, 320]
    w.step(7)
    layers = scene_layers(w)
    assert [L["z"] for L in layers] == sorted(L["z"] for L in layers)  # painted in z-order
    boundary = next(L for L in layers if L["kind"] == "line" and L["lw"] and len(L["xy"]) == 4)
    wv, b = w.model.w, w.model.b
    for k in (0, 2):
        x, y = to_data(w, w.ax, boundary["xy"][k], boundary["xy"][k + 1])
        assert wv[0] * x + wv[1] * y + b == pytest.approx(0.0, abs=0.02 * np.abs(wv).sum())
    points = [L for L in layers if L["kind"] == "line" and L["marker"] in ("o", "s") and len(L["xy"]) > 4]
    assert sum(len(L["xy"]) // 2 for L in points) == len(w.X)

    d = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=20, mode="browser")
    d._repr_mimebundle_()  # displayed
    d.train(30)
    image = next(L for L in scene_layers(d) if L["kind"] == "image")
    assert isinstance(image["rgba"], bytes), "the pixels travel as a binary buffer"
    rgba = np.frombuffer(image["rgba"], dtype=np.uint8).reshape(image["h"], image["w"], 4)
    expected = d.image.to_rgba(d.probabilities(), bytes=True)[::-1]  # origin "lower": first row on top
    np.testing.assert_array_equal(rgba, expected)


def test_browser_burst_becomes_one_scene_of_the_last_value():
    w = OptimizerWidget("quadratic", mode="browser")
    w._repr_mimebundle_()  # displayed
    sent = w.view.frames_sent
    values = [0.01, 0.02, 0.03, 0.04, 0.05]
    with w.batch():
        for v in values:
            w.lr.value = v
        assert w.view.frames_sent == sent and w.view.stale  # nothing sent during the burst
    assert w.view.frames_sent == sent + 1, "the burst was not coalesced into one scene"
    fresh = OptimizerWidget("quadratic", lr=values[-1], mode="browser")
    fresh._repr_mimebundle_()  # displayed
    # the trajectory panel as sent equals a fresh widget's at the last value (the loss panel's limits
    # may differ: they only widen, and the burst's earlier values widened them)
    left = [round(v, 1) for v in w.ax.bbox.bounds]
    on_left = lambda layers: [L for L in layers if L.get("clip") and L["clip"][0] == left[0]]  # noqa: E731
    assert on_left(scene_layers(w)) and on_left(scene_layers(w)) == on_left(scene_layers(fresh)), (
        "the scene sent is not the last value's")
    w.lr.value = 0.07  # outside a batch every change is sent at once
    assert w.view.frames_sent == sent + 2


def test_browser_sends_only_the_layers_that_moved():
    w = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=20, mode="browser")
    w._repr_mimebundle_()
    w.train()
    sent = w.view.scene["layers"]
    ticks = [L for L in sent if w.view.layers[sent.index(L)]["kind"] == "group"]
    assert ticks == [{"same": sent.index(ticks[0])}], "the curve panel's limits did not change: a reference"
    same = [L for L in sent if "same" in L and L not in ticks]
    assert len(same) == 4, "the four point layers did not change: they go as references"
    kinds = [L["kind"] for L in sent if "same" not in L]
    assert "image" in kinds, "the probability map changed and must be sent"
    assert all(w.view.layers[L["same"]]["marker"] == "o" for L in same), "the references are the points"
    w.view._on_front_end_msg(w.view, {"full": True}, [])  # a view that lost track asks for all of it
    assert not any("same" in L for L in w.view.scene["layers"])
    assert w.view.scene["layers"] == w.view.layers


def test_browser_background_is_drawn_once_per_state():
    w = OptimizerWidget("quadratic", mode="browser")
    w._repr_mimebundle_()  # displayed
    draws = []
    original = w._draw_background
    w._draw_background = lambda: (draws.append(w.function.value), original())[1]

    def visit():
        w.checks["nesterov"].value = True  # the checkboxes are the legend: nothing still changes
        w.lr.value = 0.03
        w.checks["nesterov"].value = False
        w.lr.value = 0.06

    visit()  # widens the loss axis: its ticks are painted by the browser, no new background
    assert draws == [], "settings changes redrew the background"
    sent = dict(w.view._backgrounds)
    assert len(sent) == len(w.still_choices()), "every function's still picture is drawn ahead"
    w.function.value = "saddle"
    first = w.view.background
    w.function.value = "quadratic"
    w.function.value = "saddle"
    assert draws == [] and w.view.background == first, "a function drawn ahead was redrawn"
    assert w.view._backgrounds == sent, "a still picture was made or sent again"


def test_browser_boundary_data_sets_are_drawn_ahead_whatever_their_map():
    """The map widens to take in a data set's far points (xor reaches past the default extent), which
    changes the still picture's limits: each data set's is drawn when the widget is made."""
    w = DecisionBoundaryWidget(mode="browser", hidden=4)
    w._repr_mimebundle_()  # displayed
    draws = []
    original = w._draw_background
    w._draw_background = lambda: (draws.append(w.dataset.value), original())[1]
    sent = dict(w.view._backgrounds)
    extents = set()
    for name in (*w.dataset.options[1:], w.dataset.options[0]):
        w.dataset.value = name
        extents.add(w.extent)
    assert len(extents) > 1, "no data set widens the map: this test no longer tests anything"
    assert draws == [], "a data set's still picture was drawn when it was chosen, not ahead"
    assert w.view._backgrounds == sent


def test_browser_front_end_paints_only_known_artists():
    from matplotlib.text import Text

    from nnkit.widgets._canvas import layer

    with pytest.raises(TypeError, match="Text"):
        layer(Text(0, 0, "x"), 80, 320)


def test_perceptron_click_adds_a_point_the_model_reacts_to():
    w = PerceptronWidget("separable", n=20, mode="browser")
    w._repr_mimebundle_()  # displayed
    X0, y0 = w.X.copy(), w.y.copy()
    w.draw_class.value = -1
    click(w, w.ax, 0.5, -0.25)
    assert len(w.X) == 21 and w.y[-1] == -1
    np.testing.assert_allclose(w.X[-1], [0.5, -0.25], atol=1e-9)
    assert w.current == 20 and w.last_was_mistake and w.model.w.any(), "the new point was not presented"
    np.testing.assert_allclose(w.model.w, -w.lr.value * w.X[-1])  # the rule, from w = 0
    xs, ys = w.points_neg.get_data()
    assert (0.5, -0.25) in set(zip(np.round(xs, 9), np.round(ys, 9)))
    click(w, w.ax_err, 3, 3)  # the mistakes panel is not the data
    assert len(w.X) == 21
    click(w, w.ax, 0.5, -0.2, shift=True)  # removes the nearest: the one just added
    assert len(w.X) == 20
    np.testing.assert_array_equal(w.X, X0)
    click(w, w.ax, 1.0, 1.0)
    w.reset_button.click()  # the data set as it was
    np.testing.assert_array_equal(w.X, X0)
    np.testing.assert_array_equal(w.y, y0)
    with pytest.raises(ValueError, match="label"):
        w.add_point(0.0, 0.0, 0)
    with pytest.raises(ValueError, match="finite"):
        w.add_point(np.nan, 0.0, 1)


def test_boundary_click_adds_a_point_and_trains_on_it():
    w = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=20, epochs_per_frame=5, mode="browser")
    w._repr_mimebundle_()  # displayed
    w.train(20)
    n_train, n_test = len(w.X_train), len(w.X_test)
    weights = {k: v.copy() for k, v in w.model.params.items()}
    w.draw_class.value = 0
    click(w, w.ax, 2.0, -2.0)
    assert len(w.X_train) == n_train + 1 and w.y_train[-1] == 0
    np.testing.assert_allclose(w.X_train[-1], [2.0, -2.0], atol=1e-9)
    assert w.epoch == 25, "the network did not train on the new point"
    assert any(not np.array_equal(weights[k], v) for k, v in w.model.params.items())
    xs, ys = w.train_pts0.get_data()
    assert np.isclose(xs, 2.0).any() and np.isclose(ys, -2.0).any()
    where, _ = w.remove_nearest(2.0, -2.0, train=False)
    assert where == "train" and len(w.X_train) == n_train
    x_test = w.X_test[0]
    assert w.remove_nearest(*x_test, train=False)[0] == "test" and len(w.X_test) == n_test - 1
    w.reset_button.click()
    assert len(w.X_train) == n_train and len(w.X_test) == n_test and w.epoch == 0


def test_boundary_hyperparameters_say_what_happens_to_training():
    w = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=20, epochs_per_frame=5)
    w.train(30)
    weights = {k: v.copy() for k, v in w.model.params.items()}
    w.l2.value = 0.01  # a term of the loss: training continues from the current weights
    assert w.epoch == 30 and w.model.l2 == pytest.approx(0.01)
    assert all(np.array_equal(weights[k], v) for k, v in w.model.params.items())
    assert "continues" in w.notice.value
    w.train(5)
    assert w.epoch == 35
    w.hidden.value = 4  # a new network: the notice says so
    assert w.epoch == 0 and "restarts at epoch 0" in w.notice.value and "35 epochs" in w.notice.value


def test_train_button_draws_every_frame():
    w = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=20, epochs_per_frame=5, mode="browser")
    w._repr_mimebundle_()  # displayed
    sent = w.view.frames_sent
    w.train_button.click()
    assert w.epoch == 50 and w.view.frames_sent == sent + 10
    assert w.history["epoch"][-10:] == list(range(5, 55, 5)), "the curves get a point per frame"


def test_paced_training_answers_between_frames_and_stops_when_interrupted(monkeypatch):
    """The buttons' paced run, on an event loop of its own as in a kernel (run in a thread: the test
    process may have another library's loop running, which must not pace anything, see below)."""
    import asyncio

    from nnkit.widgets import _base

    monkeypatch.setattr(_base, "_kernel_loop", asyncio.get_running_loop)   # as in a kernel
    w = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=20, epochs_per_frame=5, mode="browser")
    w._repr_mimebundle_()  # displayed

    async def run(interrupt):
        sent = w.view.frames_sent
        w.train_in_frames(50, paced=True)
        first = (w.epoch, w.view.frames_sent - sent)  # the handler returns after the first frame
        if interrupt:
            w.reset()
        for _ in range(200):  # the remaining frames come from the event loop
            await asyncio.sleep(0.01)
            if w.epoch == 50:
                break
        return first, w.epoch, w.view.frames_sent - sent

    first, epoch, scenes = on_own_loop(lambda: run(False))
    assert first == (5, 1) and epoch == 50 and scenes == 10, (first, epoch, scenes)
    assert w.history["epoch"][-10:] == list(range(5, 55, 5))
    first, epoch, _ = on_own_loop(lambda: run(True))
    assert first[0] == 55 and epoch == 0, "a reset did not stop the run: it trained the new network"


def test_a_running_loop_outside_a_kernel_does_not_pace_the_buttons():
    """A test runner or script with some library's loop running (Playwright's sync API has one) is not a
    kernel: a button's run trains every frame before it returns."""
    async def press():
        w = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=20, epochs_per_frame=5, mode="static")
        w.train_in_frames(50, paced=True)
        return w.epoch

    assert on_own_loop(press) == 50  # a loop of its own in a thread, whatever runs in this one


def test_browser_player_advances_the_play_position_and_answers_every_tick():
    w = PerceptronWidget("separable", n=20, mode="browser")
    w._repr_mimebundle_()
    player = w.player
    assert player in w.ui.children[0].children or any(
        player in getattr(c, "children", ()) for c in w.ui.children), "the player is not shown"
    answers = []
    player.send = lambda content, *a, **k: answers.append(content)
    sent = w.view.frames_sent
    for k in (1, 2, 3):
        player._on_front_end_msg(player, {"tick": k}, [])
    assert w.t == 3 and w.play.value == 3 and player.value == 3
    assert answers == [{"tock": 1}, {"tock": 2}, {"tock": 3}] and w.view.frames_sent == sent + 3
    w.step()  # the buttons move the player too
    assert player.value == 4
    player._on_front_end_msg(player, {"tick": 10**9}, [])  # clipped to the Play's range
    assert w.play.value == w.play.max and answers[-1] == {"tock": 10**9}
    player.value = 0  # stop: back to the start
    assert w.t == 0 and not w.model.w.any()
    w.play.max = 50
    assert player.max == 50


def test_static_fallback_without_anywidget_or_ipympl(monkeypatch):
    from nnkit.widgets import _base

    monkeypatch.setattr(_base, "in_kernel", lambda: True)
    monkeypatch.setattr(_base, "anywidget_available", lambda: False)
    monkeypatch.setattr(_base, "ipympl_backend_active", lambda: False)
    assert resolve_mode("auto") == "static"
    w = DecisionBoundaryWidget("moons", hidden=4, n=80, grid=10)
    assert w.mode == "static" and not hasattr(w, "player")
    before = w.view.value
    w.train_button.click()
    assert w.epoch == 100 and is_png(w.view.value) and w.view.value != before
    monkeypatch.setattr(_base, "anywidget_available", lambda: True)
    assert resolve_mode("auto") == "browser"


def test_curves_get_a_point_per_frame_and_room_for_wide_epoch_labels():
    w = DecisionBoundaryWidget("moons", hidden=8, n=120, grid=10, epochs_per_frame=10)
    w.train(450)  # one call, as a lecture cell might do: still a point every frame, not two points
    assert w.history["epoch"] == list(range(0, 451, 10))
    np.testing.assert_array_equal(w.curve_test.get_xdata(), w.history["epoch"])
    assert w.ax_curve.get_xlim()[1] == 800
    w.fig.canvas.draw()
    renderer = w.fig.canvas.get_renderer()
    labels = [t for t in w.ax_curve.get_xticklabels() if t.get_text()]
    assert labels[-1].get_text() == "800"
    assert labels[-1].get_window_extent(renderer).x1 <= w.fig.bbox.x1, "the last epoch label is cut"
    p = PerceptronWidget("xor", n=20)
    assert p.fig.legends and not p.ax_err.get_legend(), "the legend must not cover the mistakes panel"
