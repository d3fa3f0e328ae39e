"""DecisionBoundaryWidget: an MLP learning a 2-D classification, in the spirit of TensorFlow Playground.

Used in lecture 4 (what hidden units and depth buy) and lecture 7 (what L2 and dropout do to the
boundary). The network is ``nnkit.models.MLP([2, h, ..., h, 2], activation, output="softmax", l2=λ,
dropout=p)`` trained full batch with ``nnkit.optim.Adam`` in short chunks; the picture is the predicted
probability of class 1 on a fixed grid, drawn as one image whose pixels are replaced in place, with the
decision boundary P = 0.5 as one line (its 0.5-contour, recomputed with contourpy) updated in place.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from . import _checks
from ._base import FigureWidget, TrainsInFrames, light_ticks, single_thread

DATASETS = ("moons", "circles", "spirals", "xor")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
YOURS = "yours"  # the dropdown's name for a data set passed to the constructor
CLASSES = {0: "0 (blue)", 1: "1 (red)"}  # label -> its name in the "click adds" control
LIM = 2.6  # the map covers [-LIM, LIM]² (the data sets are standardized), more if points lie farther out


def boundary_dataset(name: str, n: int = 300, noise: float | None = None, seed: int = 0):
    """A 2-class 2-D data set, standardized; returns X (N, 2) float64 and y (N,) int64 in {0, 1}."""
    from nnkit import data

    if name == "moons":
        X, y = data.moons(n, noise=0.2 if noise is None else noise, seed=seed)
    elif name == "circles":
        X, y = data.circles(n, noise=0.1 if noise is None else noise, factor=0.5, seed=seed)
    elif name == "spirals":
        X, y = data.spirals(n, n_classes=2, noise=0.15 if noise is None else noise, seed=seed)
    elif name == "xor":
        X, y = data.xor(n, noise=0.25 if noise is None else noise, seed=seed)
    else:
        raise ValueError(f"name: expected one of {DATASETS}, got {name!r}")
    X, _, _ = data.standardize(X)
    return X, np.asarray(y, dtype=np.int64)


class DecisionBoundaryWidget(TrainsInFrames, FigureWidget):
    """Train an MLP on 2-D data and watch P(class 1 | x) over the plane.

    Parameters
    ----------
    dataset : one of :data:`DATASETS`
    hidden : int, units per hidden layer
    layers : int, number of hidden layers
    activation : one of :data:`ACTIVATIONS`
    l2 : float, λ of the L2 penalty
    dropout : float, drop probability p of the hidden units (inverted dropout)
    lr : float in (0, 10], Adam learning rate
    n : int >= 4, number of points (a quarter kept aside as the test set)
    noise : float or None (the data set's default)
    epochs_per_frame : int >= 1, full-batch epochs per animation frame / click of "train"
    grid : int >= 2, resolution of the probability image (grid × grid)
    seed : int
    mode : {"auto", "ipympl", "static"}
    X, y : optional, your own data: ``X`` (N, 2) numbers, ``y`` (N,) labels in {0, 1} or {-1, +1} (-1 is
        shown as class 0). Standardized as the built-in data sets are (the map shows z-scores); a quarter
        is kept aside as the test set when N >= 4. The data set dropdown then offers it as "yours" (chosen
        at first); reset restores it.

    Attributes
    ----------
    model : nnkit.models.MLP
    X_train, y_train, X_test, y_test : the data
    epoch : int
    history : dict of lists "epoch", "loss", "train_acc", "test_acc"
    image : AxesImage of P(class 1) on the grid; ``image.get_array()`` is the current grid
    boundary_line : Line2D of the decision boundary P(class 1 | x) = 0.5 (pieces separated by NaN)
    curve_train, curve_test : Line2D of training loss / test accuracy vs epoch
    dataset, hidden, layers, activation, l2, dropout, play, train_button, reset_button : controls
    """

    def __init__(self, dataset: str = "moons", hidden: int = 8, layers: int = 1, activation: str = "relu",
                 l2: float = 0.0, dropout: float = 0.0, lr: float = 0.03, n: int = 300,
                 noise: float | None = None, epochs_per_frame: int = 10, grid: int = 60, seed: int = 0,
                 mode: str = "auto", X=None, y=None):
        self.n, self.noise, self.seed = _checks.count("n", n, 4), noise, _checks.count("seed", seed, 0)
        self.lr = _checks.positive("lr", lr, 10.0)
        self.epochs_per_frame = _checks.count("epochs_per_frame", epochs_per_frame, 1)
        grid = _checks.count("grid", grid, 2)
        self._yours = None
        if X is not None or y is not None:
            self._yours = _checks.points(X, y, labels=(0, 1))
            dataset = YOURS
        controls = dict(
            dataset=_checks.control(widgets.Dropdown, "dataset", dataset,
                                    options=DATASETS + ((YOURS,) if self._yours is not None else ()),
                                    description="data"),
            hidden=_checks.control(widgets.IntSlider, "hidden", hidden, min=1, max=64, description="hidden"),
            layers=_checks.control(widgets.IntSlider, "layers", layers, min=1, max=4, description="layers"),
            activation=_checks.control(widgets.Dropdown, "activation", activation, options=ACTIVATIONS,
                                       description="activation"),
            l2=_checks.control(widgets.FloatSlider, "l2", l2, min=0.0, max=0.1, step=0.001,
                               readout_format=".3f", description="L2 λ"),
            dropout=_checks.control(widgets.FloatSlider, "dropout", dropout, min=0.0, max=0.8, step=0.05,
                                    description="dropout p"))
        super().__init__(figsize=(9.0, 4.0), mode=mode)
        self.dataset, self.hidden, self.layers, self.activation, self.l2, self.dropout = (
            controls[k] for k in ("dataset", "hidden", "layers", "activation", "l2", "dropout"))
        self.play = widgets.Play(value=0, min=0, max=500, interval=40, description="train")
        self.train_button = widgets.Button(description=f"+{10 * self.epochs_per_frame} epochs")
        self.reset_button = widgets.Button(description="reset", layout=widgets.Layout(width="70px"),
                                           tooltip="the data set as it was and a fresh network")
        self.draw_class = widgets.ToggleButtons(options=[(f"class {name}", k) for k, name in CLASSES.items()],
                                                value=1, description="click adds",
                                                tooltip="shift-click removes",
                                                style={"button_width": "110px"})
        self.status = widgets.HTML()
        self.notice = widgets.HTML()
        self.controls = [self.dataset, self.hidden, self.layers, self.activation, self.l2, self.dropout,
                         self.play, self.train_button, self.reset_button, self.draw_class, self.status,
                         self.notice]

        self.ax, self.ax_curve = self.fig.subplots(1, 2, width_ratios=[1.2, 1])
        self._grid_n = grid
        self.image = self.ax.imshow(np.full((grid, grid), 0.5), extent=(-LIM, LIM, -LIM, LIM),
                                    origin="lower", cmap="RdBu_r", vmin=-0.6, vmax=1.6,
                                    interpolation="bilinear")
        self._set_extent(LIM)
        self.boundary_line, = self.ax.plot([], [], "-", color="k", lw=1.5, zorder=1.5)  # P = 0.5
        self.train_pts0, = self.ax.plot([], [], "o", color="tab:blue", mec="k", mew=0.5, ms=5)
        self.train_pts1, = self.ax.plot([], [], "o", color="tab:red", mec="k", mew=0.5, ms=5)
        self.test_pts0, = self.ax.plot([], [], "o", mfc="none", mec="tab:blue", ms=5)
        self.test_pts1, = self.ax.plot([], [], "o", mfc="none", mec="tab:red", ms=5)
        self.ax.set_title("P(class 1 | x); filled = train, open = test", fontsize=10)
        self.curve_train, = self.ax_curve.plot([], [], ".-", color="tab:purple", ms=3, label="training loss")
        self.curve_test, = self.ax_curve.plot([], [], ".-", color="tab:green", ms=3, label="test accuracy")
        self.ax_curve.set_xlabel("epoch")
        self.ax_curve.set_ylabel("loss, accuracy", fontsize=9)
        self.ax_curve.set_ylim(0, 1.05)
        self.ax_curve.grid(alpha=0.3)
        self.ax_curve.legend(loc="center right", fontsize=8)
        light_ticks(self.ax, self.ax_curve)
        self.dynamic = [self.image, self.boundary_line, self.train_pts0, self.train_pts1, self.test_pts0,
                        self.test_pts1, self.curve_train, self.curve_test]
        self._load_data()
        self.freeze_layout()
        self.leave_room_right(self.ax_curve)  # for epoch labels wider than the first ones
        self.live_axes = [self.ax_curve]  # its limits follow the epochs: the browser paints its ticks
        self._update_artists()
        self.prerender_stills()

        self.dataset.observe(lambda c: self._load_data(), names="value")
        for w in (self.hidden, self.layers, self.activation, self.dropout):
            w.observe(self._on_architecture, names="value")
        self.l2.observe(self._on_l2, names="value")
        self.play.observe(self._on_play, names="value")
        self.train_button.on_click(lambda _b: self.train_in_frames(10 * self.epochs_per_frame, paced=True))
        self.reset_button.on_click(lambda _b: self.restore_data())

    def _layout(self):
        row1 = widgets.HBox([self.dataset, self.activation, self.play, self.train_button, self.reset_button])
        row2 = widgets.HBox([self.hidden, self.layers, self.l2, self.dropout],
                            layout=widgets.Layout(flex_flow="row wrap"))
        return widgets.VBox([row1, row2, self.draw_class, self.view, self.status, self.notice])

    # -- hyper-parameters ----------------------------------------------------------------------------
    def _on_l2(self, change):
        """λ is a term of the loss, not of the network: training goes on from the current weights."""
        self.model.l2 = float(change["new"])
        self.notice.value = (f"<i>L2 λ = {float(change['new']):.3f} from epoch {self.epoch} on; "
                             f"training continues from the current weights</i>")

    # -- state -------------------------------------------------------------------------------------
    def _set_extent(self, lim: float):
        """The map (axes limits, probability grid, image) covers ``[-lim, lim]²``."""
        self.extent = (-lim, lim, -lim, lim)
        g = np.linspace(-lim, lim, self._grid_n)
        gx, gy = np.meshgrid(g, g)
        self._grid_axis = g
        self.grid_points = np.column_stack([gx.ravel(), gy.ravel()])
        self.grid_shape = gx.shape
        self.image.set_extent(self.extent)
        self.ax.set_xlim(-lim, lim)
        self.ax.set_ylim(-lim, lim)

    def _cover(self, X, grow: bool):
        """Widen the map to take in the points ``X`` (beyond :data:`LIM`; by code, a click is always
        inside); without ``grow``, back to the smallest map that holds them."""
        far = float(np.abs(X).max()) if len(X) else 0.0
        lim = max(LIM, float(np.ceil(1.1 * far * 10) / 10))
        if lim != self.extent[1] and (not grow or lim > self.extent[1]):
            self._set_extent(lim)

    def still_choices(self):
        return tuple(self.dataset.options)

    def still_choice(self):
        return self.dataset.value

    def show_still(self, name):
        """The map's extent around data set ``name`` as generated: what of the still picture a data set
        changes (the map itself, points and curves are drawn live)."""
        self._cover(self._data(name)[0], grow=False)

    def _data(self, name):
        """The data set ``name`` (the lecturer's own is standardized as the built-in ones are)."""
        if name != YOURS:
            return boundary_dataset(name, n=self.n, noise=self.noise, seed=self.seed)
        from nnkit import data

        X, y = self._yours
        return data.standardize(X)[0], y.copy()

    def _load_data(self):
        from nnkit import data

        X, y = self._data(self.dataset.value)
        if len(X) >= 4:  # fewer: no test set (each part needs an example)
            self.X_train, self.X_test, self.y_train, self.y_test = data.train_test_split(
                X, y, test_size=0.25, seed=self.seed)
        else:
            self.X_train, self.X_test, self.y_train, self.y_test = X, X[:0], y, y[:0]
        self._cover(X, grow=False)
        self._draw_points()
        self.reset()

    def restore_data(self):
        """The data set as generated (points drawn by hand are dropped) and a fresh network."""
        self._load_data()

    # -- data drawn by the lecturer ------------------------------------------------------------------
    def add_point(self, x: float, y: float, label: int, train: bool = True):
        """Add a training example ``((x, y), label)``; with ``train`` the network trains one frame on it.

        The weights are kept: the network reacts to the new point from where it is.
        """
        if label not in CLASSES:
            raise ValueError(f"label: expected 0 or 1, got {label!r}")
        x, y = _checks.point(x, y)
        self.X_train = np.vstack([self.X_train, [[x, y]]])
        self.y_train = np.append(self.y_train, np.int64(label))
        self._cover(self.X_train[-1:], grow=True)
        self._data_changed(train)

    def remove_nearest(self, x: float, y: float, train: bool = True):
        """Remove the training or test example nearest to ``(x, y)``; returns ("train"|"test", index).

        Every point can go (None when none is left); with no training points the network waits for
        some to be added (the status line says so).
        """
        def distances(X):
            return np.append(np.sum((X - [x, y]) ** 2, axis=1), np.inf)  # inf: an empty set is never nearest

        d_train, d_test = distances(self.X_train), distances(self.X_test)
        if not (len(self.X_train) or len(self.X_test)):
            return None
        if d_test.min() < d_train.min():
            i = int(np.argmin(d_test))
            self.X_test, self.y_test = np.delete(self.X_test, i, axis=0), np.delete(self.y_test, i)
            where = "test"
        else:
            i = int(np.argmin(d_train))
            self.X_train, self.y_train = np.delete(self.X_train, i, axis=0), np.delete(self.y_train, i)
            where = "train"
        self._data_changed(train)
        return where, i

    def _data_changed(self, train: bool):
        self._draw_points()
        self._record()  # the numbers of the data as it is now
        if train:
            self.train()
        else:
            self._update_artists()

    def _draw_points(self):
        for art, Xs, ys, k in ((self.train_pts0, self.X_train, self.y_train, 0),
                               (self.train_pts1, self.X_train, self.y_train, 1),
                               (self.test_pts0, self.X_test, self.y_test, 0),
                               (self.test_pts1, self.X_test, self.y_test, 1)):
            art.set_data(Xs[ys == k, 0], Xs[ys == k, 1])

    def on_canvas_click(self, ax, x, y, shift):
        """Click on the map: add a training point of the class in ``draw_class``; shift-click removes one."""
        if ax is not self.ax:
            return
        if shift:
            self.remove_nearest(x, y)
        else:
            self.add_point(x, y, int(self.draw_class.value))

    def reset(self, _sync_play: bool = True):
        """A fresh network built from the current control values; epoch 0."""
        from nnkit.models import MLP
        from nnkit.optim import Adam

        sizes = [2] + [int(self.hidden.value)] * int(self.layers.value) + [2]
        self.model = MLP(sizes, activation=self.activation.value, output="softmax", l2=float(self.l2.value),
                         dropout=float(self.dropout.value), seed=self.seed)
        self.optimizer = Adam(self.model.params, lr=self.lr)
        self.epoch = 0
        self.stopped = ""
        self.notice.value = ""  # what it said was of the network before
        self.history = {"epoch": [], "loss": [], "train_acc": [], "test_acc": []}
        self._record()
        if _sync_play:
            self._sync_play()
        self._update_artists()

    def _record(self):
        """A point of the curves at the current epoch (NaN for a part with no points: a gap).

        A point at an epoch already recorded (the data changed, the network did not) replaces it.
        """
        def measure(fn, X, y):
            return _checks.overflowing(lambda: float(fn(X, y)), lambda: np.nan) if len(X) else np.nan

        point = {"epoch": self.epoch,
                 "loss": measure(self.model.evaluate, self.X_train, self.y_train),  # test mode
                 "train_acc": measure(self.model.score, self.X_train, self.y_train),
                 "test_acc": measure(self.model.score, self.X_test, self.y_test)}
        again = bool(self.history["epoch"]) and self.history["epoch"][-1] == self.epoch
        for key, value in point.items():
            if again:
                self.history[key][-1] = value
            else:
                self.history[key].append(value)

    def probabilities(self) -> np.ndarray:
        """P(class 1 | x) on the grid, shape ``grid_shape`` (test mode: no dropout)."""
        with single_thread():
            return _checks.overflowing(
                lambda: self.model.predict_proba(self.grid_points)[:, 1].reshape(self.grid_shape),
                lambda: np.full(self.grid_shape, np.nan))

    def train(self, epochs: int | None = None, draw: bool = True) -> float:
        """Train ``epochs`` full-batch epochs (default: one frame's worth); returns the test accuracy."""
        epochs = self.epochs_per_frame if epochs is None else int(epochs)
        with single_thread():
            def curve_point():  # a curve point per frame, however called
                if self.epoch % self.epochs_per_frame == 0:
                    self._record()

            self._train_epochs(epochs if len(self.X_train) else 0,  # no points: nothing to learn from
                               lambda: self.model.loss(self.X_train, self.y_train, train=True), curve_point)
            if self.history["epoch"][-1] != self.epoch:
                self._record()
        self._sync_play()
        if draw:
            self._update_artists()
        return self.history["test_acc"][-1]

    @property
    def train_accuracy(self) -> float:
        return self.history["train_acc"][-1]

    @property
    def test_accuracy(self) -> float:
        return self.history["test_acc"][-1]

    # -- drawing -----------------------------------------------------------------------------------
    def decision_boundary(self, P=None):
        """The curve P(class 1 | x) = 0.5 on the grid: ``(xs, ys)`` with NaN between separate pieces."""
        import contourpy

        P = self.probabilities() if P is None else P
        if not np.isfinite(P).all():
            return np.array([]), np.array([])
        lines = contourpy.contour_generator(self._grid_axis, self._grid_axis, P).lines(0.5)
        if not lines:
            return np.array([]), np.array([])
        pts = np.concatenate([np.vstack([seg, [np.nan, np.nan]]) for seg in lines])
        return pts[:, 0], pts[:, 1]

    def background_state(self):
        return "map and curves"  # the rest (map, points, curves) is drawn live; the limits are in the key

    def _update_artists(self):
        P = self.probabilities()
        self.image.set_data(P)
        self.boundary_line.set_data(*self.decision_boundary(P))
        ep = self.history["epoch"]
        loss = np.array(self.history["loss"])
        self.curve_train.set_data(ep, loss)
        self.curve_test.set_data(ep, self.history["test_acc"])
        xmax = 50
        while xmax < ep[-1]:
            xmax *= 2  # the axis grows in jumps, so most frames keep the cached background
        self.ax_curve.set_xlim(0, xmax)
        top = np.nanmax(loss) if np.isfinite(loss).any() else np.nan
        self.ax_curve.set_ylim(0, max(1.05, _checks.finite_limits(0, np.ceil(top * 2) / 2, (0, 1.05))[1]))
        h = self.history
        notes = [note for note in (_checks.missing_classes(self.y_train, CLASSES, " in the training set"),
                                   self.stopped) if note]
        self.status.value = (f"{self.model.layer_sizes} ({self.model.n_params} parameters), "
                             f"{len(self.X_train)} training points, "
                             f"epoch {self.epoch}: training loss {_number(h['loss'][-1], '.3f')}, "
                             f"train accuracy {_number(self.train_accuracy, '.2f')}, "
                             f"test accuracy {_number(self.test_accuracy, '.2f', 'no test points')}"
                             + "".join(" &nbsp;" + note for note in notes))
        self.redraw()


def _number(value: float, fmt: str, missing: str = "none") -> str:
    """``value`` formatted for the status line; NaN (no points to measure on) as ``missing``."""
    return format(value, fmt) if np.isfinite(value) else missing
