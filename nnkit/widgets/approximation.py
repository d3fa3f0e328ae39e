"""ApproximationWidget: a one-hidden-layer ReLU network fitting a 1-D function, piece by piece (lecture 5).

The network is ``y = Σ_j w2_j · relu(w1_j x + b1_j) + b2``: each hidden unit adds one hinge at
``x = -b1_j / w1_j``, so the fit is a linear spline with at most ``h`` kinks. The widget trains an
``nnkit.models.MLP([1, h, 1], activation="relu", output="linear", loss="mse")`` with ``nnkit.optim.Adam``
in small chunks, and draws the fit, every unit's piece ``w2_j·relu(w1_j x + b1_j)`` and the error.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import LineCollection

from . import _checks
from ._base import FigureWidget, TrainsInFrames, light_ticks, single_thread

TARGET_NAMES = ("sin", "abs", "step", "bumpy", "noisy")


def spline_init(model, x_range=(-1.0, 1.0), seed=0):
    """Spread the hidden units' kinks evenly over ``x_range`` (in place).

    Unit j gets ``w1_j = ±1`` (random sign) and ``b1_j = -w1_j c_j`` with knots ``c_j`` evenly spaced
    (plus a little jitter), so every unit starts as a different hinge inside the data, rather than all
    kinks piling up at x = 0 as with zero biases. Output weights start small.
    """
    rng = np.random.default_rng(seed)
    W1, b1, W2, b2 = (model.params[k] for k in ("W1", "b1", "W2", "b2"))
    h = W1.shape[1]
    lo, hi = x_range
    knots = np.linspace(lo, hi, h + 2)[1:-1] + rng.uniform(-0.25, 0.25, h) * (hi - lo) / (h + 1)
    sign = rng.choice([-1.0, 1.0], size=h)
    W1[...] = sign[None, :]
    b1[...] = -sign * knots
    W2[...] = 0.1 * rng.standard_normal(W2.shape)
    b2[...] = 0.0


def pieces(model, x):
    """Each hidden unit's contribution ``w2_j · relu(w1_j x + b1_j)``.

    Parameters
    ----------
    model : MLP with layer sizes [1, h, 1]
    x : ndarray, shape (M,)

    Returns
    -------
    ndarray, shape (h, M); ``pieces(model, x).sum(0) + b2`` is the network's output.
    """
    W1, b1, W2 = model.params["W1"], model.params["b1"], model.params["W2"]
    z = np.asarray(x, dtype=float)[:, None] * W1[0][None, :] + b1[None, :]  # (M, h)
    return (np.maximum(z, 0.0) * W2[:, 0][None, :]).T


class ApproximationWidget(TrainsInFrames, FigureWidget):
    """Fit a 1-D target with h ReLU units; watch the spline form while it trains.

    Parameters
    ----------
    target : one of ``TARGET_NAMES``
    hidden : int in [1, 50], number of hidden units h
    lr : float in (0, 10], Adam learning rate
    epochs_per_frame : int >= 1, full-batch epochs per animation frame
    max_epochs : int >= epochs_per_frame, length of a full training run (the Play's last frame)
    n : int >= 1, number of samples of the target
    seed : int
    mode : {"auto", "ipympl", "static"}

    Attributes
    ----------
    model : nnkit.models.MLP, shape [1, h, 1]
    x, y : training data (n, 1)
    grid : ndarray (M,), where the fit is drawn
    epoch : int, epochs trained so far
    errors : list of (epoch, mse)
    fit_line, piece_lines, error_line, knot_marks, data_points, target_line : matplotlib artists
    target, hidden, play, train_button, reset_button : ipywidgets controls
    notice : ipywidgets.HTML, what changing h did to training (a new network)
    """

    def __init__(self, target: str = "sin", hidden: int = 6, lr: float = 0.02, epochs_per_frame: int = 25,
                 max_epochs: int = 2000, n: int = 100, seed: int = 0, mode: str = "auto"):
        target_control = _checks.control(widgets.Dropdown, "target", target, options=TARGET_NAMES,
                                         description="target")
        hidden_control = _checks.control(widgets.IntSlider, "hidden", hidden, min=1, max=50,
                                         description="hidden h")
        self.lr, self.n = _checks.positive("lr", lr, 10.0), _checks.count("n", n, 1)
        self.seed = _checks.count("seed", seed, 0)
        self.epochs_per_frame = _checks.count("epochs_per_frame", epochs_per_frame, 1)
        self.max_epochs = _checks.count("max_epochs", max_epochs, self.epochs_per_frame)
        super().__init__(figsize=(11.0, 3.6), mode=mode)
        self.target, self.hidden = target_control, hidden_control
        self.play = widgets.Play(value=0, min=0, max=self.max_epochs // self.epochs_per_frame, interval=40,
                                 description="train")
        self.train_button = widgets.Button(description=f"train {self.max_epochs} epochs")
        self.reset_button = widgets.Button(description="reset", layout=widgets.Layout(width="70px"))
        self.status = widgets.HTML()
        self.notice = widgets.HTML()
        self.controls = [self.target, self.hidden, self.play, self.train_button, self.reset_button,
                         self.status, self.notice]

        self.ax, self.ax_pieces, self.ax_err = self.fig.subplots(1, 3, width_ratios=[1.2, 1.2, 1])
        self.grid = np.linspace(-1.05, 1.05, 211)
        self.data_points, = self.ax.plot([], [], ".", color="0.55", ms=4, label="data")
        self.target_line, = self.ax.plot([], [], "--", color="0.3", lw=1, label="target")
        self.fit_line, = self.ax.plot([], [], "-", color="tab:red", lw=2, label="network")
        self.knot_marks, = self.ax.plot([], [], "|", color="tab:red", ms=10, mew=1.5)
        self.ax.legend(loc="upper left", fontsize=8)
        self.piece_lines = LineCollection([], cmap="tab10", linewidths=1.3)
        self.ax_pieces.add_collection(self.piece_lines)
        self.ax_pieces.axhline(0, color="0.7", lw=0.8)
        self.ax_pieces.set_title(r"pieces $w_{2j}\,\mathrm{relu}(w_{1j}x + b_{1j})$", fontsize=10)
        self.ax_pieces.set_xlim(self.grid[0], self.grid[-1])
        self.error_line, = self.ax_err.plot([], [], "-", color="tab:purple")
        self.ax_err.set_xlim(0, self.max_epochs)
        self.ax_err.set_xlabel("epoch")
        self.ax_err.set_title(r"$\log_{10}$ training MSE", fontsize=10)
        self.ax_err.grid(alpha=0.3)
        self.ax.set_xlim(self.grid[0], self.grid[-1])
        light_ticks(self.ax, self.ax_pieces, self.ax_err)
        self.dynamic = [self.fit_line, self.knot_marks, self.piece_lines, self.error_line]
        self._pieces_ylim = None
        self._load_target()
        self.freeze_layout()
        self.live_axes = [self.ax_pieces, self.ax_err]  # limits follow the network: ticks in the browser
        self.prerender_stills()

        self.target.observe(lambda c: self._load_target(), names="value")
        self.hidden.observe(self._on_architecture, names="value")
        self.play.observe(self._on_play, names="value")
        self.train_button.on_click(lambda _b: self.train_in_frames(self.max_epochs - self.epoch,
                                                                           paced=True))
        self.reset_button.on_click(lambda _b: self.reset())

    # -- state -------------------------------------------------------------------------------------
    def _load_target(self):
        from nnkit import data

        self.x, self.y = data.target_function(self.target.value, n=self.n, seed=self.seed)
        self.show_still(self.target.value)
        self.reset()

    def still_choices(self):
        return TARGET_NAMES

    def still_choice(self):
        return self.target.value

    def show_still(self, name):
        """The data, the target curve, the limits and the title of target ``name``."""
        from nnkit import data

        x, y = data.target_function(name, n=self.n, seed=self.seed)
        self.data_points.set_data(x[:, 0], y[:, 0])
        self.target_line.set_data(self.grid, data.target(name)(self.grid))
        lo, hi = float(y.min()), float(y.max())
        pad = 0.2 * (hi - lo) + 0.1
        self.ylim = (lo - pad, hi + pad)
        self.ax.set_ylim(self.ylim)
        self.ax.set_title(f"target '{name}'", fontsize=10)
        self._still = name
        self.invalidate()

    def reset(self, _sync_play: bool = True):
        """A fresh network with ``hidden.value`` units (knots spread over the data), epoch 0."""
        from nnkit.models import MLP
        from nnkit.optim import Adam

        h = int(self.hidden.value)
        self.model = MLP([1, h, 1], activation="relu", output="linear", loss="mse", seed=self.seed)
        spline_init(self.model, seed=self.seed)
        self.optimizer = Adam(self.model.params, lr=self.lr)
        self.epoch = 0
        self.stopped = ""
        self.notice.value = ""  # what it said was of the network before
        self._pieces_ylim = None
        self.errors: list[tuple[int, float]] = [(0, self.mse())]
        if _sync_play:
            self._sync_play()
        self._update_artists()

    def mse(self) -> float:
        """Mean squared error of the current network on the training data."""
        return _checks.overflowing(lambda: float(np.mean((self.model.forward(self.x) - self.y) ** 2)),
                                   lambda: np.inf)

    def train(self, epochs: int | None = None, draw: bool = True) -> float:
        """Train ``epochs`` full-batch Adam epochs (default: one frame's worth); returns the MSE."""
        epochs = self.epochs_per_frame if epochs is None else int(epochs)
        with single_thread():
            self._train_epochs(epochs, lambda: self.model.loss(self.x, self.y))
            if self.errors[-1][0] != self.epoch:
                self.errors.append((self.epoch, self.mse()))
        self._sync_play()
        if draw:
            self._update_artists()
        return self.errors[-1][1]

    def fit_values(self) -> np.ndarray:
        """The network's output on ``grid``, shape (M,)."""
        return _checks.overflowing(lambda: self.model.forward(self.grid[:, None])[:, 0],
                                   lambda: np.full(len(self.grid), np.nan))

    # -- drawing -----------------------------------------------------------------------------------
    def background_state(self):
        return self._still  # its data points, target curve and title

    def _update_artists(self):
        with np.errstate(over="ignore", invalid="ignore"):  # weights of a run that diverged
            self._draw(self.fit_values())

    def _draw(self, fit):
        self.fit_line.set_data(self.grid, fit)
        W1, b1 = self.model.params["W1"][0], self.model.params["b1"]
        with np.errstate(divide="ignore", invalid="ignore"):
            knots = -b1 / W1
        knots = knots[np.isfinite(knots) & (knots >= self.grid[0]) & (knots <= self.grid[-1])]
        self.knot_marks.set_data(knots, np.interp(knots, self.grid, fit))
        P = _checks.overflowing(lambda: pieces(self.model, self.grid),
                                lambda: np.full((self.model.layer_sizes[1], len(self.grid)), np.nan))
        self.piece_lines.set_segments([np.column_stack([self.grid, p]) for p in P])
        self.piece_lines.set_array(np.arange(len(P)) % 10)
        self.piece_lines.set_clim(0, 9)
        # y-limits only widen, in steps, so that most frames keep the cached background
        lo, hi = _checks.finite_limits(min(P.min(), self.ylim[0]), max(P.max(), self.ylim[1]), self.ylim)
        old = self._pieces_ylim
        if old is None or lo < old[0] or hi > old[1]:
            span = hi - lo
            self._pieces_ylim = _checks.finite_limits(lo - 0.25 * span, hi + 0.25 * span, (lo, hi))
            self.ax_pieces.set_ylim(self._pieces_ylim)
        ep, err = np.array(self.errors).T
        with np.errstate(invalid="ignore"):
            logerr = np.log10(np.maximum(err, 1e-12))
        self.error_line.set_data(ep, logerr)
        low = np.floor(min(logerr.min(), -4.0)) - 0.2  # room for a good fit: few background redraws
        self.ax_err.set_ylim(_checks.finite_limits(low, max(np.ceil(logerr.max()), 0.0) + 0.2, (-4.2, 0.2)))
        self.status.value = (f"h = {self.hidden.value} hidden units ({self.model.n_params} parameters), "
                             f"epoch {self.epoch}, training MSE {self.errors[-1][1]:.4g}"
                             + (" &nbsp;" + self.stopped if self.stopped else ""))
        self.redraw()
