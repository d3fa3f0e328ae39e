"""The lecture widgets under inputs and interaction sequences a lecturer produces: the lecturer's own data,
every point removed, one class left, points far out, sliders at their ends, runs that diverge.

A handler's exception in a kernel goes to the log and leaves the widget frozen, so every sequence here must
end without one, with finite axis limits, a scene the browser can paint (no NaN or inf in it) and a status
line that says what is true. Arguments a widget cannot show are refused when it is made, naming the argument.
"""

import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from nnkit.widgets import (  # noqa: E402
    ApproximationWidget,
    DecisionBoundaryWidget,
    OptimizerWidget,
    PerceptronWidget,
    functions,
)
from nnkit.widgets._checks import finite_limits, missing_classes, points  # noqa: E402
from nnkit.widgets.optimizer import OPTIMIZERS  # noqa: E402
from tests._widget_driving import click, on_own_loop  # noqa: E402


def shown(w):
    w._repr_mimebundle_()  # displayed: scenes are sent from now on
    return w


def assert_sane(w):
    """Finite axis limits, and a last scene with only finite numbers (None is a gap the browser skips)."""
    for ax in w.fig.axes:
        assert np.isfinite(ax.get_xlim()).all() and np.isfinite(ax.get_ylim()).all(), ax.get_title()
        assert ax.get_xlim()[0] < ax.get_xlim()[1] and ax.get_ylim()[0] < ax.get_ylim()[1]
    if w.mode == "browser":
        def walk(v):
            if isinstance(v, float):
                assert np.isfinite(v), "a NaN or inf in the scene sent to the browser"
            elif isinstance(v, dict):
                for x in v.values():
                    walk(x)
            elif isinstance(v, list):
                for x in v:
                    walk(x)
        walk(w.view.layers)
        assert w.view.scene["caption"] == w.status.value, "the caption shown is not the status"


# ------------------------------------------------------------------------------ refused when made
@pytest.mark.parametrize("make, argument", [
    (lambda: PerceptronWidget(lr=50), "lr"),                        # a slider would silently show 10
    (lambda: PerceptronWidget(lr=-1), "lr"),
    (lambda: PerceptronWidget(lr=float("nan")), "lr"),
    (lambda: PerceptronWidget("moons"), "dataset"),
    (lambda: PerceptronWidget(n=1), "n"),
    (lambda: PerceptronWidget(seed="one"), "seed"),
    (lambda: DecisionBoundaryWidget(seed=-1), "seed"),
    (lambda: OptimizerWidget(lr=10), "lr"),
    (lambda: OptimizerWidget(steps=5), "steps"),
    (lambda: OptimizerWidget(rho=1.0), "rho"),
    (lambda: OptimizerWidget("himmelblau"), "function"),
    (lambda: OptimizerWidget(optimizers=("adamax",)), "optimizers"),
    (lambda: OptimizerWidget(start=(np.nan, 0.0)), "start"),
    (lambda: OptimizerWidget(start=(1.0, 2.0, 3.0)), "start"),
    (lambda: ApproximationWidget(hidden=0), "hidden"),
    (lambda: ApproximationWidget(hidden=2.5), "hidden"),
    (lambda: ApproximationWidget("cos"), "target"),
    (lambda: ApproximationWidget(epochs_per_frame=0), "epochs_per_frame"),
    (lambda: ApproximationWidget(max_epochs=0), "max_epochs"),
    (lambda: ApproximationWidget(lr=1e3), "lr"),
    (lambda: DecisionBoundaryWidget(grid=1), "grid"),
    (lambda: DecisionBoundaryWidget(n=2), "n"),
    (lambda: DecisionBoundaryWidget(epochs_per_frame=0), "epochs_per_frame"),
    (lambda: DecisionBoundaryWidget(lr=0.0), "lr"),
    (lambda: DecisionBoundaryWidget(activation="gelu"), "activation"),
    (lambda: DecisionBoundaryWidget(dropout=0.9), "dropout"),
    (lambda: DecisionBoundaryWidget(X=[[0.0, np.nan], [1.0, 1.0]], y=[0, 1]), "X"),
    (lambda: DecisionBoundaryWidget(X=np.zeros((4, 3)), y=[0, 1, 0, 1]), "X"),
    (lambda: DecisionBoundaryWidget(X=np.zeros((0, 2)), y=[]), "X"),
    (lambda: DecisionBoundaryWidget(X=np.zeros((3, 2)), y=[0, 1, 2]), "y"),
    (lambda: PerceptronWidget(X=np.zeros((3, 2)), y=[0, 1]), "y"),
    (lambda: PerceptronWidget(X=np.zeros((3, 2))), "X, y"),
    (lambda: PerceptronWidget(X=[[1e9, 0.0]], y=[1]), "X"),
])
def test_what_a_widget_cannot_show_is_refused_naming_the_argument(make, argument):
    with pytest.raises((ValueError, TypeError)) as info:
        make()
    assert str(info.value).startswith(f"{argument}:"), str(info.value)


def test_two_class_data_in_either_convention():
    X, y = points([[0, 0], [1, 1], [2, 2]], np.array([0, 1, 1], dtype=np.int32), labels=(-1, 1))
    assert X.dtype == np.float64 and y.tolist() == [-1, 1, 1]
    _, y = points(np.zeros((3, 2), np.float32), [-1.0, 1.0, -1.0], labels=(0, 1))
    assert y.tolist() == [0, 1, 0]
    with pytest.raises(ValueError, match=r"labels \[-1.0, 0.0, 1.0\]"):
        points(np.zeros((3, 2)), [-1, 0, 1], labels=(0, 1))
    assert missing_classes(np.array([1, 1]), {1: "+1", -1: "-1"}).startswith("<b>no points of class -1")
    assert missing_classes(np.array([1, -1]), {1: "+1", -1: "-1"}) == ""
    assert finite_limits(np.nan, np.inf, (0.0, 1.0)) == (0.0, 1.0)
    assert finite_limits(2.0, 2.0, (0.0, 1.0)) == (1.5, 2.5)


# ------------------------------------------------------------------------------------ your own data
@pytest.mark.parametrize("X, y", [
    ([[0, 0], [1, 2], [2, 1], [3, 3]], [0, 1, 0, 1]),                                   # lists, {0, 1}
    (np.arange(8, dtype=np.int32).reshape(4, 2), np.array([1, -1, 1, -1])),                  # int
    (np.random.default_rng(0).normal(size=(2000, 2)).astype(np.float32),
     np.where(np.random.default_rng(1).random(2000) > 0.5, 1, -1)),                           # many, float32
    ([[5.0, 5.0]] * 5, [1, 1, -1, -1, 1]),                                               # all identical
    ([[0.3, -0.2]], [1]),                                                                    # 1 point
    (1e5 * np.array([[1, 2], [3, 1], [-2, 0]]), [1, 1, -1]),                                # huge range
    (1e-6 * np.array([[1, 2], [3, 1], [-2, 0]]), [1, -1, -1]),                               # tiny range
    ([[0, 0], [1, 1], [2, 0]], [1, 1, 1]),                                                 # one class
])
def test_perceptron_on_your_data(X, y):
    w = shown(PerceptronWidget(X=X, y=y, mode="browser"))
    Xa = np.asarray(X, dtype=float)
    np.testing.assert_array_equal(w.X, Xa)
    np.testing.assert_array_equal(w.y, np.where(np.asarray(y) == 1, 1, -1))
    assert w.dataset.value == "yours" and "yours" in w.dataset.options
    lo, hi = Xa.min(axis=0), Xa.max(axis=0)  # every point is inside the axes
    assert w.xlim[0] < lo[0] <= hi[0] < w.xlim[1] and w.ylim[0] < lo[1] <= hi[1] < w.ylim[1]
    w.run_epochs(5)
    assert w.t > 0 and np.isfinite(w.model.w).all()
    assert_sane(w)
    one_class = len(set(w.y.tolist())) == 1
    assert ("no points of class -1" in w.status.value) == one_class
    w.dataset.value = "xor"
    w.dataset.value = "yours"  # back to your data, as it was
    np.testing.assert_array_equal(w.X, Xa)


@pytest.mark.parametrize("X, y", [
    ([[0, 0], [1, 2], [2, 1], [3, 3], [0, 3], [3, 0]], [0, 1, 0, 1, 0, 1]),
    (np.random.default_rng(0).normal(size=(1500, 2)) * 1e5, np.arange(1500) % 2),
    ([[1.0, 1.0]] * 6, [0, 1, 0, 1, 0, 1]),
    ([[0.2, 0.1]], [1]),
    ([[0, 0], [1, 1], [2, 0], [4, 4]], [-1, -1, -1, -1]),
    (np.vstack([np.zeros((50, 2)), [[1e4, -1e4]]]), np.arange(51) % 2),                  # one far outlier
])
def test_boundary_network_on_your_data(X, y):
    w = shown(DecisionBoundaryWidget(X=X, y=y, grid=12, epochs_per_frame=5, mode="browser"))
    n = len(np.asarray(X))
    assert len(w.X_train) + len(w.X_test) == n and w.dataset.value == "yours"
    labels = np.concatenate([w.y_train, w.y_test])
    assert sorted(labels.tolist()) == sorted(np.where(np.asarray(y) == 1, 1, 0).tolist())
    everything = np.vstack([w.X_train, w.X_test])
    assert np.abs(everything).max() <= w.extent[1], "a point lies off the map"
    assert w.grid_points.max() == pytest.approx(w.extent[1])
    w.train(20)
    assert w.epoch == 20 and np.isfinite(w.probabilities()).all()
    assert_sane(w)
    one_class = len(set(labels.tolist())) == 1
    assert ("no points of class" in w.status.value) == one_class
    assert ("no test points" in w.status.value) == (len(w.X_test) == 0)


# ------------------------------------------------------------------------- the perceptron, by clicks
def test_perceptron_every_point_removed_then_drawn_again():
    w = shown(PerceptronWidget("separable", n=12, mode="browser"))
    w.step(5)
    for x, y in w.X.copy():
        click(w, w.ax, x, y, shift=True)
    assert len(w.X) == 0 and len(w.y) == 0
    assert "no points" in w.status.value and "0/0" in w.status.value
    assert w.remove_nearest(0.0, 0.0) is None
    t = w.t
    w.step(3)
    w.run_epochs(2)
    w.play.playing = w.player.playing = True
    w.play.value = t + 10  # Play with nothing to present: stops where it is
    assert w.t == t and w.play.value == w.player.value == t
    assert not w.play.playing and not w.player.playing
    points_layers = [L for L in w.view.layers if L["kind"] == "line" and L["marker"] in ("o", "s")
                     and L["ms"] < 10]
    assert points_layers and all(L["xy"] == [] for L in points_layers), "removed points are still drawn"
    assert_sane(w)
    w.draw_class.value = -1
    click(w, w.ax, 0.5, 0.5)
    assert len(w.X) == 1 and w.y.tolist() == [-1] and w.model.w.any(), "the new point was not presented"
    assert "no points of class +1" in w.status.value
    w.draw_class.value = 1
    click(w, w.ax, -0.5, -0.5)
    assert "no points of class" not in w.status.value
    w.run_epochs(20)
    assert w.converged and np.all(np.sign(w.X @ w.model.w + w.model.b) == w.y)
    w.reset_button.click()
    assert len(w.X) == 12 and w.t == 0


def test_perceptron_epochs_stay_whole_when_points_come_and_go():
    w = PerceptronWidget("xor", n=20, mode="static")
    w.step(27)  # one epoch done, 7 examples into the second
    assert (w.epoch, w.pos) == (1, 7)
    w.remove_nearest(*w.X[2])   # presented already this epoch
    w.remove_nearest(*w.X[15])  # still to come
    assert (w.epoch, w.pos, len(w.X)) == (1, 6, 18)
    assert w.status.value.startswith("epoch 2, example 6/18")
    w.add_point(0.1, 0.2, 1)
    w.step(len(w.X) - w.pos - 1)
    assert w.epoch == 1, "the epoch ended before every point was presented"
    w.step()
    assert w.epoch == 2 and w.pos == 0 and len(w.mistakes_per_epoch) == 2
    w.step(5)
    for _ in range(len(w.X) - 5):  # removing every example still to come ends the epoch
        w.remove_nearest(*w.X[-1])
    assert w.epoch == 3 and w.pos == 0 and len(w.X) == 5


def test_perceptron_converged_only_while_true():
    w = PerceptronWidget("separable", n=20, mode="static")
    w.run_epochs(100)
    assert w.converged and "converged" in w.status.value
    wrong = -np.sign(w.model.w[0] * 1.0 + w.model.b) or 1  # a point on the wrong side of the line
    w.add_point(1.0, 0.0, int(wrong))
    assert w.last_was_mistake and not w.converged and "converged" not in w.status.value


def test_perceptron_point_outside_the_axes_widens_them():
    w = shown(PerceptronWidget("separable", n=20, mode="browser"))
    x0, x1 = w.ax.get_xlim()
    w.add_point(10 * x1, 0.0, 1)
    w.add_point(0.0, -5e5, -1)
    assert w.ax.get_xlim()[1] > 10 * x1 and w.ax.get_ylim()[0] < -5e5
    w.run_epochs(10)
    assert_sane(w)
    with pytest.raises(ValueError, match="within"):
        w.add_point(1e300, 0.0, 1)
    w.restore_data()
    assert w.ax.get_xlim() == (x0, x1) and len(w.X) == 20


def test_a_click_beyond_the_coordinate_bound_is_ignored_and_said():
    for w in (shown(PerceptronWidget("separable", n=10, mode="browser")),
              shown(DecisionBoundaryWidget("moons", n=20, grid=10, mode="browser"))):
        w.add_point(9.9e5, 0.0, 1)  # by code: the axes widen to take it in, a little beyond 1e6
        n = len(w.X if hasattr(w, "X") else w.X_train)
        x1 = w.ax.get_xlim()[1]
        assert x1 > 1e6
        click(w, w.ax, 0.5 * (1e6 + x1), 0.0)  # on the axes, beyond the bound
        assert len(w.X if hasattr(w, "X") else w.X_train) == n
        assert w.status.value.startswith("<b>click ignored</b>: (x, y): expected coordinates within")
        assert w.view.scene["caption"] == w.status.value, "the browser was not told"


def test_perceptron_clicks_and_reset_while_playing():
    """Ticks as the front end sends them (each names the value it advances from), some still in flight
    when the lecturer clicks, steps, resets or changes the data set."""
    w = shown(PerceptronWidget("xor", n=20, mode="browser"))
    player = w.player
    answers = []
    player.send = lambda content, *a, **k: answers.append(content)

    def tick(k):
        player._on_front_end_msg(player, {"tick": k, "base": k - 1}, [])
        return answers[-1]

    for k in range(1, 6):
        assert tick(k) == {"tock": k}
    click(w, w.ax, 0.2, 0.3)                          # a point added between two frames
    assert tick(6) == {"tock": 6} and w.t == 6 and len(w.X) == 21
    w.reset_button.click()                            # reset while ticks 7 and 8 are in flight
    assert w.t == 0 and w.play.value == 0 and len(w.X) == 20
    assert tick(7) == {"tock": 7, "stale": True, "value": 0}, "a tick from before the reset was applied"
    assert tick(8) == {"tock": 8, "stale": True, "value": 0}
    assert w.t == 0 and w.current is None, "the model jumped ahead after the reset"
    assert tick(1) == {"tock": 1} and w.t == 1      # the front end goes on from the value it was told
    w.step_button.click()                             # a step while tick 2 is in flight
    assert tick(2)["stale"] and w.t == 2, "a stale tick replayed the model from the start"
    assert tick(3) == {"tock": 3} and w.t == 3
    w.dataset.value = "noisy"
    assert tick(4)["stale"] and w.t == 0 and len(w.X) == 20
    assert_sane(w)


# ------------------------------------------------------------------------------------- the optimizer
@pytest.mark.parametrize("function", sorted(functions.FUNCTIONS))
def test_optimizer_at_the_largest_learning_rate_says_which_runs_diverged(function):
    w = shown(OptimizerWidget(function, optimizers=OPTIMIZERS, mode="browser"))
    w.lr.value = 10 ** w.lr.max
    w.steps.value = w.steps.max
    for k in (1, 7, 400, w.steps.value):
        w.play.value = k
        assert w.frame == k
        assert_sane(w)
        for name in OPTIMIZERS:
            path = w.paths[name]
            gone = np.flatnonzero(~np.isfinite(path).all(axis=1))
            said = f"{w.checks[name].description.split('</span> ')[1]} <b>diverged</b> at step"
            if gone.size and gone[0] <= k:
                assert f"{said} {gone[0]}" in w.status.value
            else:
                assert said not in w.status.value
                head = w.heads[name].get_xydata()[0]
                np.testing.assert_allclose(head, path[k])
    assert any(not np.isfinite(p).all() for p in w.paths.values()), "lr = 1 made nothing diverge"


def test_optimizer_start_where_the_function_overflows():
    w = shown(OptimizerWidget("rosenbrock", start=(1e200, -1e200), mode="browser"))
    assert "diverged</b> at step 1" in w.status.value
    assert np.isfinite(w.ax_loss.get_ylim()).all()
    w.play.value = 3
    assert_sane(w)


def test_optimizer_start_outside_the_window_is_on_the_plot():
    w = shown(OptimizerWidget("quadratic", start=(12.0, -6.0), optimizers=("sgd", "adam"), mode="browser"))
    (x0, x1), (y0, y1) = w.ax.get_xlim(), w.ax.get_ylim()
    assert x0 < 12.0 < x1 and y0 < -6.0 < y1, "the start is off the plot"
    f = functions.get("quadratic")
    assert x0 <= f.xlim[0] and y1 >= f.ylim[1], "the function's own window must stay in view"
    segs = [p for level in w._contours.allsegs for p in level if len(p)]
    assert max(p[:, 0].max() for p in segs) > 0.8 * 12.0, "the contours do not reach the start"
    w.function.value = "saddle"
    assert w.ax.get_xlim()[1] > 12.0  # the start is the widget's, for every function
    assert_sane(w)


def test_optimizer_play_position_follows_settings_and_function():
    w = shown(OptimizerWidget("rosenbrock", mode="browser"))
    w.play.value = 400
    w.steps.value = 100  # fewer steps than the position: both go to the last step
    assert w.play.value == w.player.value == w.frame == 100 and w.play.max == 100
    assert w.status.value.startswith("step 100:")
    w.function.value = "saddle"  # the whole new path is drawn: Play shows its last step
    assert w.frame == w.steps.value == w.play.value == w.player.value == w.play.max
    assert w.status.value.startswith(f"step {w.frame}:")


def test_optimizer_refused_setting_and_nothing_checked():
    w = shown(OptimizerWidget("saddle", optimizers=("nesterov", "sgd"), mode="browser"))
    w.rho.value = 0.0  # Nesterov needs momentum > 0: its rule refuses, the widget says so
    assert "not run: nesterov=True needs momentum > 0" in w.status.value
    assert np.isnan(w.paths["nesterov"][1:]).all() and np.isfinite(w.paths["sgd"]).all()
    assert_sane(w)
    w.rho.value = 0.5
    assert "not run" not in w.status.value and np.isfinite(w.paths["nesterov"]).all()
    for check in w.checks.values():
        check.value = False
    w.play.value = 5
    assert w.paths == {} and "no optimizer checked" in w.status.value
    assert_sane(w)


# ---------------------------------------------------------------------- every slider at both ends
@pytest.mark.parametrize("make, frame", [
    (lambda: PerceptronWidget("xor", n=20, mode="browser"), lambda w: w.step(25)),
    (lambda: OptimizerWidget("rosenbrock", optimizers=OPTIMIZERS, mode="browser"), lambda w: w.step(30)),
    (lambda: ApproximationWidget("step", mode="browser", epochs_per_frame=10, max_epochs=100),
     lambda w: w.train(30)),
    (lambda: DecisionBoundaryWidget("spirals", n=60, grid=12, epochs_per_frame=5, mode="browser"),
     lambda w: w.train(10)),
])
def test_every_slider_at_its_ends(make, frame):
    w = shown(make())
    sliders = [c for c in w.__dict__.values() if isinstance(c, (widgets.IntSlider, widgets.FloatSlider,
                                                                 widgets.FloatLogSlider))]
    assert sliders
    for end in ("min", "max", "min"):
        for s in sliders:
            value = getattr(s, end)
            s.value = 10 ** value if isinstance(s, widgets.FloatLogSlider) else value
            frame(w)
            assert_sane(w)
            assert w.status.value


# -------------------------------------------------------------------------- training that diverges
@pytest.mark.parametrize("make", [
    lambda: ApproximationWidget("sin", hidden=5, epochs_per_frame=5, mode="browser"),
    lambda: DecisionBoundaryWidget("moons", n=60, grid=12, epochs_per_frame=5, mode="browser"),
])
def test_training_that_overflows_stops_and_says_so(make):
    w = shown(make())
    w.train(10)
    out = [k for k in w.model.params if k.startswith("W")][-1]
    for v in w.model.params.values():
        v[...] = 1e300  # what a learning rate far too large leads to: the next forward pass overflows
    kept = {k: v.copy() for k, v in w.model.params.items()}
    w.train(10)
    assert w.epoch == 10, "an epoch was counted that did not train"
    assert "diverged at epoch 11</b>" in w.status.value and "with the weights of epoch 10" in w.stopped
    for k, v in w.model.params.items():
        np.testing.assert_array_equal(v, kept[k])  # the weights of the last good epoch
    w.play.playing = w.player.playing = True
    w.play.value = w.play.value + 3  # Play cannot advance a stopped run: it stops, back at the model
    assert not w.play.playing and not w.player.playing
    assert w.play.value == w.player.value == w.epoch // w.epochs_per_frame
    w.train_in_frames(30)
    assert w.epoch == 10
    assert_sane(w)
    w.reset()
    assert not w.stopped and "stopped" not in w.status.value
    w.train(5)
    assert w.epoch == 5 and np.isfinite(w.model.params[out]).all()


# ---------------------------------------------------------------------- the network, by clicks
def test_boundary_every_point_removed_then_drawn_again():
    w = shown(DecisionBoundaryWidget("moons", n=24, grid=12, epochs_per_frame=5, mode="browser"))
    for x, y in np.vstack([w.X_train, w.X_test]):
        click(w, w.ax, x, y, shift=True)
    assert len(w.X_train) == 0 and len(w.X_test) == 0
    assert w.remove_nearest(0.0, 0.0) is None
    epoch = w.epoch
    w.train(10)
    w.train_button.click()
    assert w.epoch == epoch, "trained on no points"
    status = w.status.value
    assert "0 training points" in status and "no points</b> in the training set: click" in status
    assert "training loss none" in status and "test accuracy no test points" in status
    assert_sane(w)
    w.draw_class.value = 0
    click(w, w.ax, 1.0, 1.0)
    assert len(w.X_train) == 1 and w.epoch == epoch + 5
    assert "no points of class 1 (red)</b> in the training set" in w.status.value
    assert np.isfinite(w.history["loss"][-1]) and w.train_accuracy == 1.0
    w.draw_class.value = 1
    click(w, w.ax, -1.0, -1.0)
    assert "no points" not in w.status.value
    assert_sane(w)
    w.reset_button.click()
    assert len(w.X_train) + len(w.X_test) == 24 and w.epoch == 0


def test_boundary_status_is_of_the_data_as_it_is_now():
    w = DecisionBoundaryWidget("moons", n=40, grid=10, epochs_per_frame=5, mode="static")
    w.train(10)
    w.add_point(2.0, 2.0, 0, train=False)
    w.add_point(2.1, 2.0, 0, train=False)
    assert w.history["epoch"].count(10) == 1, "one curve point per epoch"
    assert w.history["train_acc"][-1] == pytest.approx(w.model.score(w.X_train, w.y_train))
    assert f"{len(w.X_train)} training points" in w.status.value


def test_boundary_point_outside_the_map_widens_it_and_a_new_data_set_restores_it():
    w = shown(DecisionBoundaryWidget("xor", n=40, grid=10, mode="browser"))
    assert w.extent == (-2.6, 2.6, -2.6, 2.6)
    w.add_point(8.0, -3.0, 1)
    assert w.extent[1] >= 8.0 and w.image.get_extent()[1] == w.extent[1]
    assert w.ax.get_xlim() == (w.extent[0], w.extent[1])
    np.testing.assert_allclose(w.image.get_array(), w.probabilities())
    assert_sane(w)
    w.l2.value = 0.02   # hyper-parameter changes after points were added: training goes on
    w.train(10)
    w.dataset.value = "circles"
    assert w.extent == (-2.6, 2.6, -2.6, 2.6) and len(w.X_train) + len(w.X_test) == 40 and w.epoch == 0


# ------------------------------------------------------------------ input while a train button runs
def test_input_while_the_train_button_runs(monkeypatch):
    """The button's paced run, on an event loop of its own as in a kernel (in a thread, as in
    tests/test_widgets.py): the lecturer clicks, moves λ, presses the button again, changes the
    architecture, while frames are still to come."""
    import asyncio

    from nnkit.widgets import _base

    monkeypatch.setattr(_base, "_kernel_loop", asyncio.get_running_loop)  # as in a kernel
    w = shown(DecisionBoundaryWidget("moons", n=80, grid=10, epochs_per_frame=5, mode="browser"))

    async def run(meanwhile):
        start = w.epoch
        w.train_in_frames(50, paced=True)
        meanwhile()
        for _ in range(300):  # the remaining frames come from the event loop
            await asyncio.sleep(0.01)
        return w.epoch - start

    n = len(w.X_train)
    # the click trains a frame: the run goes on
    trained = on_own_loop(lambda: run(lambda: w.add_point(2.0, 2.0, 1)))
    assert trained == 55 and len(w.X_train) == n + 1, "a click stopped the run (or it ran on without it)"
    trained = on_own_loop(lambda: run(lambda: setattr(w.l2, "value", 0.02)))  # λ: training continues
    assert trained == 50 and "continues" in w.notice.value
    # pressed again: the new run takes over
    trained = on_own_loop(lambda: run(lambda: w.train_in_frames(50, paced=True)))
    assert trained == 55, "two runs trained side by side"
    trained = on_own_loop(lambda: run(lambda: setattr(w.hidden, "value", 5)))  # a new network: the run stops
    assert w.epoch == 0 and w.model.layer_sizes == [2, 5, 2] and "restarts at epoch 0" in w.notice.value
    assert_sane(w)


def test_many_clicks_and_many_epochs():
    w = shown(PerceptronWidget("noisy", n=40, mode="browser"))
    rng = np.random.default_rng(0)
    xy = rng.uniform(-2, 2, size=(300, 2))
    for k, (x, y) in enumerate(xy):
        w.draw_class.value = 1 if k % 2 else -1
        click(w, w.ax, x, y)
    assert len(w.X) == 340 and (w.y[40:] == np.where(np.arange(300) % 2, 1, -1)).all()
    np.testing.assert_allclose(w.X[40:], xy, atol=1e-9)
    w.run_epochs(1500)  # not separable: never converges, the curve keeps growing
    assert w.epoch == 1500 and not w.converged and len(w.mistakes_line.get_xdata()) == 1500
    assert w.ax_err.get_xlim()[1] >= 1500
    assert w.status.value.startswith("epoch 1501, example 0/340")
    assert_sane(w)

    d = shown(DecisionBoundaryWidget("circles", n=40, grid=10, epochs_per_frame=2, mode="browser"))
    for k, (x, y) in enumerate(xy[:100]):
        d.draw_class.value = k % 2
        click(d, d.ax, x, y)
    assert len(d.X_train) == 30 + 100 and d.epoch == 200
    assert f"{len(d.X_train)} training points" in d.status.value
    assert_sane(d)


def test_a_notice_says_what_a_change_did_to_training_and_no_more():
    a = ApproximationWidget("sin", hidden=4, epochs_per_frame=10, mode="static")
    a.train(40)
    a.hidden.value = 9
    assert a.epoch == 0 and "hidden h changed to 9: a new network, training restarts" in a.notice.value
    assert "had trained 40 epochs" in a.notice.value
    a.train(10)
    a.reset_button.click()
    assert a.notice.value == "", "the notice was of the network before the reset"
    b = DecisionBoundaryWidget("moons", n=40, grid=10, epochs_per_frame=5, mode="static")
    b.train(30)
    b.l2.value = 0.05
    assert "from epoch 30 on" in b.notice.value
    b.dataset.value = "xor"  # a new data set and network: what the notice said is no longer true
    assert b.epoch == 0 and b.notice.value == ""


def test_play_pressed_at_the_end_replays_from_the_start():
    """The front end's first tick after ▶ at the last step is the first step, sent with the value play was
    pressed at as its base (then each tick's base is the tick before): it is applied, not dropped."""
    w = shown(OptimizerWidget("quadratic", optimizers=("sgd",), mode="browser"))
    player = w.player
    answers = []
    player.send = lambda content, *a, **k: answers.append(content)
    assert w.play.value == w.play.max == w.frame, "the whole path is drawn: Play stands at its end"
    base = w.play.value
    for k in range(0, 4):
        player._on_front_end_msg(player, {"tick": k, "base": base}, [])
        base = k
        assert answers[-1] == {"tock": k} and w.frame == k and len(w.lines["sgd"].get_xdata()) == k + 1
    a = shown(ApproximationWidget("abs", hidden=4, epochs_per_frame=10, max_epochs=40, mode="browser"))
    a.play.value = a.play.max
    assert a.epoch == 40
    a.player.send = lambda content, *args, **k: answers.append(content)
    a.player._on_front_end_msg(a.player, {"tick": 0, "base": 4}, [])
    a.player._on_front_end_msg(a.player, {"tick": 1, "base": 0}, [])
    assert answers[-2:] == [{"tock": 0}, {"tock": 1}] and a.epoch == 10, "Play did not start again"
