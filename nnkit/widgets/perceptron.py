"""PerceptronWidget: watch the perceptron learning rule move a line, one example at a time (lecture 1).

Every presentation of an example calls :meth:`nnkit.models.Perceptron.update`; the widget only draws
what the model holds: the boundary ``w·x + b = 0``, the weight vector ``w`` (normal to the boundary),
the example being presented, and the number of mistakes in each finished epoch. On separable data the
mistakes fall to zero; on XOR they never do.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from . import _checks
from ._base import FigureWidget, clip_line_to_box, half_plane_polygon, light_ticks

DATASETS = ("separable", "xor", "noisy")
YOURS = "yours"  # the dropdown's name for a data set passed to the constructor
CLASSES = {1: "+1", -1: "-1"}  # label -> its name in the "click adds" control


def perceptron_dataset(name: str, n: int = 40, seed: int = 0):
    """2-D data for the perceptron with labels ±1.

    ``separable``: two classes with a margin; ``xor``: noisy clouds around the four XOR corners (no
    line separates them); ``noisy``: two overlapping Gaussian blobs.

    Returns
    -------
    X : ndarray, shape (N, 2)
    y : ndarray, shape (N,), int64 in {-1, +1}
    """
    from nnkit import data

    if name == "separable":
        X, y = data.linearly_separable(n, margin=0.3, seed=seed)
    elif name == "xor":
        X, y = data.xor(n, noise=0.15, seed=seed)
    elif name == "noisy":
        X, y = data.blobs(n, centers=np.array([[-1.0, -1.0], [1.0, 1.0]]), std=1.0, seed=seed)
    else:
        raise ValueError(f"name: expected one of {DATASETS}, got {name!r}")
    X = np.asarray(X, dtype=np.float64)
    y = np.where(np.asarray(y).ravel() > 0, 1, -1).astype(np.int64)
    return X, y


class PerceptronWidget(FigureWidget):
    """Play/step/reset through the perceptron learning rule on 2-D data.

    Parameters
    ----------
    dataset : {"separable", "xor", "noisy"}
    lr : float in [0.01, 10]
        Learning rate α of the rule ``w ← w + α y_i x_i``, ``b ← b + α y_i`` (on a mistake).
    n : int >= 2
        Number of points.
    seed : int
    mode : {"auto", "ipympl", "static"}
    X, y : optional, your own data: ``X`` (N, 2) numbers, ``y`` (N,) labels in {-1, +1} or {0, 1} (0 is
        shown as -1). The data set dropdown then offers it as "yours" (chosen at first); reset restores it.

    Attributes
    ----------
    model : nnkit.models.Perceptron
    X, y : the data (N, 2) and labels (N,) in ±1
    t : int
        Number of presentations so far (Play's position).
    pos : int
        Index of the next example to present in the current epoch (examples go in order; an epoch ends
        when ``pos`` reaches N, however the lecturer added or removed points meanwhile).
    mistakes_per_epoch : list[int]
        Mistakes in every finished epoch.
    boundary_line, weight_arrow, current_marker, mistakes_line : matplotlib artists
        The decision boundary (2 points on w·x+b = 0), the weight vector drawn from the boundary point
        closest to the origin, the example last presented, and the mistakes-per-epoch curve.
    dataset, lr, play, step_button, reset_button : ipywidgets controls
    """

    def __init__(self, dataset: str = "separable", lr: float = 1.0, n: int = 40, seed: int = 1,
                 mode: str = "auto", X=None, y=None):
        self.n, self.seed = _checks.count("n", n, 2), _checks.count("seed", seed, 0)
        self._yours = None
        if X is not None or y is not None:
            self._yours = _checks.points(X, y, labels=(-1, 1))
            dataset = YOURS
        options = DATASETS + ((YOURS,) if self._yours is not None else ())
        dataset_control = _checks.control(widgets.Dropdown, "dataset", dataset, options=options,
                                           description="data")
        lr_control = _checks.control(widgets.FloatLogSlider, "lr", lr, base=10, min=-2, max=1, step=0.1,
                                     description="lr α")
        super().__init__(figsize=(9.0, 4.0), mode=mode)
        self.dataset, self.lr = dataset_control, lr_control
        self.play = widgets.Play(value=0, min=0, max=100_000, step=1, interval=40, description="play")
        self.step_button = widgets.Button(description="step", layout=widgets.Layout(width="70px"))
        self.reset_button = widgets.Button(description="reset", layout=widgets.Layout(width="70px"),
                                           tooltip="the data set as it was, w = 0, b = 0")
        self.draw_class = widgets.ToggleButtons(options=[(name, label) for label, name in CLASSES.items()],
                                                value=1,
                                                description="click adds", tooltip="shift-click removes",
                                                style={"button_width": "40px"})
        self.status = widgets.HTML()
        self.controls = [self.dataset, self.lr, self.play, self.step_button, self.reset_button,
                         self.draw_class, self.status]

        self.ax, self.ax_err = self.fig.subplots(1, 2, width_ratios=[1.25, 1])
        self._build_artists()
        self._load_data()
        self.freeze_layout()
        self.leave_room_right(self.ax_err)  # for epoch labels wider than the first ones
        self.live_axes = [self.ax_err]  # its limits follow the epochs: the browser paints its ticks
        self._update_artists()
        self.prerender_stills()

        self.dataset.observe(self._on_dataset, names="value")
        self.lr.observe(self._on_lr, names="value")
        self.play.observe(self._on_play, names="value")
        self.step_button.on_click(lambda _b: self.step())
        self.reset_button.on_click(lambda _b: self.restore_data())

    # -- artists (made once) ---------------------------------------------------------------------
    def _build_artists(self):
        from matplotlib.patches import Polygon

        ax = self.ax
        self.region = Polygon(np.zeros((0, 2)), closed=True, color="tab:blue", alpha=0.12, lw=0)
        ax.add_patch(self.region)
        self.points_pos, = ax.plot([], [], "o", color="tab:blue", ms=6, label="y = +1")
        self.points_neg, = ax.plot([], [], "s", color="tab:red", ms=6, label="y = -1")
        self.boundary_line, = ax.plot([], [], "-", color="k", lw=2, label="w·x + b = 0")
        self.weight_arrow = Polygon(np.zeros((0, 2)), closed=True, color="tab:green", lw=0, zorder=4)
        ax.add_patch(self.weight_arrow)
        self.current_marker, = ax.plot([], [], "o", ms=16, mfc="none", mec="orange", mew=2.5,
                                       label="presented")
        ax.set_aspect("equal", adjustable="box")
        self.mistakes_line, = self.ax_err.plot([], [], "o-", color="tab:purple")
        self.ax_err.set_xlabel("epoch")
        self.ax_err.set_ylabel("mistakes in the epoch")
        self.ax_err.set_title("mistakes per epoch")
        self.ax_err.grid(alpha=0.3)
        light_ticks(self.ax, self.ax_err)
        self.ax_err.xaxis.get_major_locator().set_params(integer=True)
        self.ax_err.yaxis.get_major_locator().set_params(integer=True)
        handles = [self.points_pos, self.points_neg, self.boundary_line, self.current_marker]
        # below both panels: inside the mistakes panel it covered the curve
        self.fig.legend(handles=handles, loc="outside lower center", ncols=4, fontsize=8, frameon=False)
        self.dynamic = [self.region, self.points_pos, self.points_neg, self.boundary_line, self.weight_arrow,
                        self.current_marker, self.mistakes_line]

    # -- state -------------------------------------------------------------------------------------
    def _data(self, name):
        if name == YOURS:
            return self._yours[0].copy(), self._yours[1].copy()
        return perceptron_dataset(name, n=self.n, seed=self.seed)

    def _load_data(self):
        self.X, self.y = self._data(self.dataset.value)
        self.show_still(self.dataset.value)
        self.reset()

    def still_choices(self):
        return tuple(self.dataset.options)

    def still_choice(self):
        return self.dataset.value

    def show_still(self, name):
        """The data axes' limits (around the data set as generated) and title for data set ``name``."""
        self._set_limits(self._data(name)[0], grow=False)
        self.ax.set_title(f"perceptron on '{name}' data")
        self._still = name
        self.invalidate()

    def _set_limits(self, X, grow: bool):
        """Axis limits around the points ``X`` (padded); with ``grow``, only widened to take them in.

        A point added outside the axes (by code: a click is always inside) widens them, so nothing the
        model is presented is off the picture.
        """
        if len(X) == 0:
            return
        lo, hi = X.min(axis=0), X.max(axis=0)
        if grow:
            inside = (lo[0] >= self.xlim[0] and hi[0] <= self.xlim[1] and lo[1] >= self.ylim[0]
                      and hi[1] <= self.ylim[1])
            if inside:
                return
            lo = np.minimum(lo, [self.xlim[0], self.ylim[0]])
            hi = np.maximum(hi, [self.xlim[1], self.ylim[1]])
        span = hi - lo
        if grow:
            pad = 0.05 * span
        else:  # a quarter of the data's extent, plus 0.3 (less for data spanning less than 1)
            widest = float(span.max())
            pad = 0.25 * span + 0.3 * (min(1.0, widest) if widest > 0 else max(1.0, float(np.abs(lo).max())))
        self.xlim = (float(lo[0] - pad[0]), float(hi[0] + pad[0]))
        self.ylim = (float(lo[1] - pad[1]), float(hi[1] + pad[1]))
        self.ax.set_xlim(self.xlim)
        self.ax.set_ylim(self.ylim)

    def restore_data(self):
        """The data set as generated (points drawn by hand are dropped), then :meth:`reset`."""
        self._load_data()

    # -- data drawn by the lecturer ------------------------------------------------------------------
    def add_point(self, x: float, y: float, label: int):
        """Add the example ``((x, y), label)`` and present it to the perceptron at once.

        The weights are kept: the model reacts to the new point (the line moves if it was a mistake) and
        the epochs go on over the enlarged data set (the new point comes last in each). A point outside
        the axes widens them.
        """
        if label not in CLASSES:
            raise ValueError(f"label: expected -1 or +1, got {label!r}")
        x, y = _checks.point(x, y)
        self.X = np.vstack([self.X, [[x, y]]])
        self.y = np.append(self.y, np.int64(label))
        self._set_limits(self.X[-1:], grow=True)
        self.current = len(self.X) - 1
        self.last_was_mistake = bool(self.model.update(self.X[-1], self.y[-1]))
        self._epoch_mistakes += int(self.last_was_mistake)
        self._update_artists()

    def remove_nearest(self, x: float, y: float):
        """Remove the example nearest to ``(x, y)`` and return its index (None when there is none left).

        Every point can go: with none left, the model waits for points to be added (the status says so).
        The epoch in progress goes on where it was.
        """
        if len(self.X) == 0:
            return None
        i = int(np.argmin(np.sum((self.X - [x, y]) ** 2, axis=1)))
        self.X = np.delete(self.X, i, axis=0)
        self.y = np.delete(self.y, i)
        if i < self.pos:
            self.pos -= 1  # one of the examples already presented in this epoch
        if self.current is not None:
            self.current = None if self.current == i else self.current - (self.current > i)
        if self.pos >= len(self.X) > 0:  # the examples still to come this epoch were removed
            self._end_epoch()
        self._update_artists()
        return i

    def on_canvas_click(self, ax, x, y, shift):
        """Click on the data: add a point of the class chosen in ``draw_class``; shift-click removes one."""
        if ax is not self.ax:
            return
        if shift:
            self.remove_nearest(x, y)
        else:
            self.add_point(x, y, int(self.draw_class.value))

    def reset(self, _sync_play: bool = True):
        """New perceptron (w = 0, b = 0), presentation counter and mistake curve back to zero."""
        from nnkit.models import Perceptron

        self.model = Perceptron(lr=float(self.lr.value))
        self.model.w = np.zeros(self.X.shape[1])
        self.model.b = 0.0
        self.t = 0
        self.pos = 0
        self.current = None
        self.last_was_mistake = False
        self.mistakes_per_epoch: list[int] = []
        self._epoch_mistakes = 0
        if _sync_play:
            self._sync_play()
        self._update_artists()

    @property
    def epoch(self) -> int:
        """Number of finished epochs."""
        return len(self.mistakes_per_epoch)

    @property
    def converged(self) -> bool:
        """True once an epoch finished without a mistake and none was made since (a point added by a
        click can be one)."""
        return bool(self.mistakes_per_epoch) and self.mistakes_per_epoch[-1] == 0 and not self._epoch_mistakes

    def _end_epoch(self):
        self.mistakes_per_epoch.append(self._epoch_mistakes)
        self._epoch_mistakes = 0
        self.pos = 0

    def step(self, n: int = 1, draw: bool = True) -> bool:
        """Present the next ``n`` examples (in order, cycling); return whether the last was a mistake.

        With no points there is nothing to present: nothing changes (the status line asks for points).
        """
        N = len(self.X)
        for _ in range(int(n) if N else 0):
            i = self.pos
            self.current = i
            self.last_was_mistake = bool(self.model.update(self.X[i], self.y[i]))
            self._epoch_mistakes += int(self.last_was_mistake)
            self.t += 1
            self.pos += 1
            if self.pos == N:
                self._end_epoch()
        self._sync_play()
        if draw:
            self._update_artists()
        return self.last_was_mistake

    def run_epochs(self, epochs: int) -> list[int]:
        """Present ``epochs`` full epochs (stopping after one with 0 mistakes) and redraw once."""
        for _ in range(int(epochs) if len(self.X) else 0):
            self.step(len(self.X) - self.pos, draw=False)
            if self.converged:
                break
        self._update_artists()
        return self.mistakes_per_epoch

    # -- drawing -----------------------------------------------------------------------------------
    def background_state(self):
        return self._still  # the data set whose title and axis limits are shown

    def _weight_arrow(self, foot, v):
        """Corners of an arrow from ``foot`` along ``v`` (data coordinates; the axes have equal aspect)."""
        length = float(np.hypot(*v))
        if length == 0:
            return np.zeros((0, 2))
        u = np.asarray(v, dtype=float) / length
        n = np.array([-u[1], u[0]])
        span = self.xlim[1] - self.xlim[0]
        half, head_w = 0.006 * span, 0.02 * span
        head = min(0.35 * length, 0.06 * span)
        neck = np.asarray(foot) + (length - head) * u
        tip = np.asarray(foot) + length * u
        return np.array([foot + half * n, neck + half * n, neck + head_w * n, tip, neck - head_w * n,
                         neck - half * n, foot - half * n])

    def _update_artists(self):
        pos = self.y > 0
        self.points_pos.set_data(self.X[pos, 0], self.X[pos, 1])
        self.points_neg.set_data(self.X[~pos, 0], self.X[~pos, 1])
        w = np.asarray(self.model.w, dtype=float)
        b = float(self.model.b)
        xs, ys = clip_line_to_box(w, b, self.xlim, self.ylim)
        self.boundary_line.set_data(xs, ys)
        self.region.set_xy(half_plane_polygon(w, b, self.xlim, self.ylim) if np.any(w) else np.zeros((0, 2)))
        norm2 = float(w @ w)
        foot = -b * w / norm2 if norm2 > 0 else np.zeros(2)   # point of the boundary nearest the origin
        longest = min(1.0, 0.25 * (self.xlim[1] - self.xlim[0]))
        scale = longest / max(longest, np.sqrt(norm2))         # keep the arrow inside the plot
        self.weight_arrow.set_xy(self._weight_arrow(foot, w * scale))
        if self.current is None:
            self.current_marker.set_data([], [])
        else:
            x = self.X[self.current]
            self.current_marker.set_data([x[0]], [x[1]])
            self.current_marker.set_markeredgecolor("red" if self.last_was_mistake else "orange")
        E = len(self.mistakes_per_epoch)
        self.mistakes_line.set_data(np.arange(1, E + 1), self.mistakes_per_epoch)
        xmax = 10
        while xmax < E:
            xmax *= 2  # the axis grows in jumps, so most frames keep the cached background
        self.ax_err.set_xlim(0.5, xmax + 0.5)
        self.ax_err.set_ylim(-0.3, max([len(self.X) // 2, *self.mistakes_per_epoch]) + 0.5)
        notes = [note for note in (_checks.missing_classes(self.y, CLASSES),
                                   "<b>converged</b>" if self.converged else "") if note]
        self.status.value = (f"epoch {self.epoch + 1}, example {self.pos}/{len(self.X)}, "
                             f"w = ({w[0]:.2f}, {w[1]:.2f}), b = {b:.2f}"
                             + "".join(" &nbsp;" + note for note in notes))
        self.redraw()

    # -- handlers ----------------------------------------------------------------------------------

    def _on_dataset(self, change):
        self._load_data()

    def _on_lr(self, change):
        self.model.lr = float(change["new"])

    def _play_position(self) -> int:
        """Play's value counts presentations."""
        return self.t

    def _play_advance(self, goal: int) -> None:
        if goal > self.t:
            self.step(goal - self.t)
