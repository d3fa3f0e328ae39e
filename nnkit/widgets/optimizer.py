"""OptimizerWidget: optimizer trajectories on 2-D test functions, side by side (lecture 6).

Trajectories come from nnkit.optim's pure step rules (``RULES``), the same code that trains the
networks, applied to a point p = (x, y) with the exact gradient of a function from
:mod:`nnkit.widgets.functions`. The widget computes every trajectory once per setting (cheap: a few
hundred steps) and the Play control only reveals them step by step.
"""

from __future__ import annotations

import ipywidgets as widgets
import numpy as np

from nnkit import optim as _optim

from . import _checks
from . import functions as fns
from ._base import FigureWidget, light_ticks

# derived from nnkit.optim's declarations: adding an optimizer there adds it here
OPTIMIZERS = tuple(_optim.DECLARATIONS)
LABELS = {name: rule.label for name, rule in _optim.DECLARATIONS.items()}
_PALETTE = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "black", "tab:brown", "tab:pink",
            "tab:olive", "tab:cyan", "tab:gray")
COLORS = {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(OPTIMIZERS)}
# settings that make each function's story visible; loaded when the function is chosen
SUGGESTED = {
    "quadratic": dict(lr=0.06, rho=0.9, steps=100),
    "rosenbrock": dict(lr=0.001, rho=0.9, steps=500),
    "saddle": dict(lr=0.05, rho=0.9, steps=150),
    "local_minimum": dict(lr=0.02, rho=0.9, steps=150),
}
BOUND = 1e6  # a trajectory that leaves |x| < BOUND has diverged; the rest of it is NaN
FLOOR = 1e-12  # f - f_min below it is drawn (on the log scale) and reported as FLOOR


def _swatch(name: str) -> str:
    """A checkbox label in the optimizer's colour: a short line, as in a legend, then the name."""
    from matplotlib.colors import to_hex

    return f'<span style="color:{to_hex(COLORS[name])}; font-weight:bold">━━</span> {LABELS[name]}'


def hyperparameters(name: str, lr: float, rho: float = 0.9, beta1: float = 0.9, beta2: float = 0.999) -> dict:
    """Keyword arguments for ``nnkit.optim.RULES[name]`` from the widget's sliders.

    Which slider drives which hyper-parameter is declared with the rule (``Rule.sliders``): ρ is the
    momentum of SGD+momentum/Nesterov and the decay of RMSProp's running mean of g².
    """
    if name not in _optim.DECLARATIONS:
        raise ValueError(f"name: expected one of {OPTIMIZERS}, got {name!r}")
    sliders = {"lr": lr, "rho": rho, "beta1": beta1, "beta2": beta2}
    return {k: sliders[slider] for k, slider in _optim.DECLARATIONS[name].sliders.items()}


def trajectory(name: str, function, start, steps: int, **hp) -> np.ndarray:
    """Run ``nnkit.optim.RULES[name]`` for ``steps`` steps from ``start`` on ``function``.

    Returns
    -------
    path : ndarray, shape (steps + 1, 2)
        ``path[0] = start``; ``path[k]`` is the point after k steps. Points after a divergence
        (non-finite or beyond ``BOUND``) are NaN.
    """
    f = fns.get(function) if isinstance(function, str) else function
    rule = _optim.RULES[name]
    path = np.full((int(steps) + 1, 2), np.nan)
    x = np.asarray(start, dtype=np.float64).copy()
    path[0] = x
    state = None
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(steps) + 1):
            g = f.grad(x)
            if not (abs(g[0]) < np.inf and abs(g[1]) < np.inf):  # also False for NaN
                break
            x, state = rule(x, g, state, **hp)
            if not (abs(x[0]) <= BOUND and abs(x[1]) <= BOUND):
                break
            path[k] = x
    return path


class OptimizerWidget(FigureWidget):
    """Contours of a 2-D function with the paths of several optimizers, and loss vs step.

    Parameters
    ----------
    function : name in :data:`nnkit.widgets.functions.FUNCTIONS`
    optimizers : iterable of names in :data:`OPTIMIZERS` shown initially
    lr, rho, beta1, beta2, steps : initial slider values (None: the function's suggested ones)
    start : (x, y) finite, or None (the function's default start); the plot widens to take it in
    mode : {"auto", "ipympl", "static"}

    Attributes
    ----------
    paths : dict name -> ndarray (steps + 1, 2)
        Trajectories of the checked optimizers at the current settings.
    frame : int
        How many steps are shown (Play drives it; settings changes keep it, clipped to steps).
    lines, heads, loss_lines : dict name -> Line2D
        Path so far, current point, and log10(f(x_k) - f_min) vs k, for every optimizer (hidden if unchecked).
    function, checks, lr, rho, beta1, beta2, steps, play : ipywidgets controls
    """

    def __init__(self, function: str = "quadratic", optimizers=("sgd", "momentum", "adam"),
                 lr: float | None = None, rho: float | None = None, beta1: float = 0.9,
                 beta2: float = 0.999, steps: int | None = None, start=None, mode: str = "auto"):
        function_control = _checks.control(widgets.Dropdown, "function", function,
                                           options=tuple(fns.FUNCTIONS), description="f")
        optimizers = (optimizers,) if isinstance(optimizers, str) else tuple(optimizers)
        for name in optimizers:
            if name not in OPTIMIZERS:
                raise ValueError(f"optimizers: expected names from {OPTIMIZERS}, got {name!r}")
        sug = SUGGESTED[function]
        sliders = dict(
            lr=_checks.control(widgets.FloatLogSlider, "lr", sug["lr"] if lr is None else lr, base=10, min=-4,
                               max=0, step=0.05, description="lr α", readout_format=".4f"),
            rho=_checks.control(widgets.FloatSlider, "rho", sug["rho"] if rho is None else rho, min=0.0,
                                max=0.995, step=0.005, description="ρ", readout_format=".3f"),
            beta1=_checks.control(widgets.FloatSlider, "beta1", beta1, min=0.0, max=0.995, step=0.005,
                                  description="β1", readout_format=".3f"),
            beta2=_checks.control(widgets.FloatSlider, "beta2", beta2, min=0.9, max=0.9999, step=0.0001,
                                  description="β2", readout_format=".4f"),
            steps=_checks.control(widgets.IntSlider, "steps", sug["steps"] if steps is None else steps,
                                  min=10, max=1000, step=10, description="steps"))
        if start is not None:
            start = np.asarray(start, dtype=float) if not isinstance(start, (str, bytes)) else np.array(())
            if start.shape != (2,) or not np.isfinite(start).all():
                raise ValueError(f"start: expected two finite numbers (x, y), got {start.tolist()!r}")
        super().__init__(figsize=(10.0, 4.2), mode=mode)
        self.function = function_control
        # the checkboxes are the legend: each label carries its optimizer's colour, so checking one
        # changes no still part of the figure
        self.checks = {name: widgets.Checkbox(value=name in optimizers, description=_swatch(name),
                                              description_allow_html=True, indent=False,
                                              layout=widgets.Layout(width="auto"))
                       for name in OPTIMIZERS}
        self.lr, self.rho, self.beta1, self.beta2, self.steps = (sliders[k] for k in
                                                                 ("lr", "rho", "beta1", "beta2", "steps"))
        self.play = widgets.Play(value=0, min=0, max=self.steps.value, step=1, interval=40,
                                 description="play")
        self.start = None if start is None else tuple(float(v) for v in start)
        self.status = widgets.HTML()
        self.controls = [self.function, self.lr, self.rho, self.beta1, self.beta2, self.steps, self.play,
                         *self.checks.values(), self.status]

        self.ax, self.ax_loss = self.fig.subplots(1, 2, width_ratios=[1.3, 1])
        self._contours = None
        self._contour_sets: dict = {}
        self._contour_cache: dict[str, tuple] = {}
        self.lines, self.heads, self.loss_lines = {}, {}, {}
        for name in OPTIMIZERS:
            c = COLORS[name]
            self.lines[name], = self.ax.plot([], [], "-", color=c, lw=1.6, label=LABELS[name])
            self.heads[name], = self.ax.plot([], [], "o", color=c, ms=6, mec="white")
            self.loss_lines[name], = self.ax_loss.plot([], [], "-", color=c, lw=1.6, label=LABELS[name])
        self.start_marker, = self.ax.plot([], [], "k*", ms=11, zorder=5)
        self.ax_loss.set_xlabel("step k")
        self.ax_loss.set_ylabel(r"$\log_{10}(f(x_k) - f_{min})$")
        self.ax_loss.set_title("loss vs step", fontsize=10)
        self.ax_loss.grid(alpha=0.3)
        light_ticks(self.ax, self.ax_loss)
        self.dynamic = [*self.lines.values(), *self.heads.values(), *self.loss_lines.values()]
        self.frame = self.steps.value
        self.paths: dict[str, np.ndarray] = {}
        self._loss_ylim = None
        self._set_function()

        self._sync_play()  # the whole path is drawn: Play shows its last step (pressing it replays)
        self.freeze_layout()
        self.live_axes = [self.ax_loss]  # its limits follow the losses: the browser paints its ticks
        self.prerender_stills()
        self.function.observe(self._on_function, names="value")
        for w in (self.lr, self.rho, self.beta1, self.beta2, self.steps, *self.checks.values()):
            w.observe(self._on_setting, names="value")
        self.play.observe(self._on_play, names="value")

    def _layout(self):
        row1 = widgets.HBox([self.function, self.play, self.steps])
        row2 = widgets.HBox([self.lr, self.rho, self.beta1, self.beta2],
                            layout=widgets.Layout(flex_flow="row wrap"))
        row3 = widgets.HBox(list(self.checks.values()))
        return widgets.VBox([row1, row2, row3, self.view, self.status])

    # -- state -------------------------------------------------------------------------------------
    @property
    def selected(self) -> list[str]:
        """Names of the checked optimizers, in :data:`OPTIMIZERS` order."""
        return [n for n in OPTIMIZERS if self.checks[n].value]

    @property
    def fn(self) -> fns.TestFunction:
        return fns.get(self.function.value)

    @property
    def start_point(self) -> tuple:
        return self.start if self.start is not None else self.fn.start

    def hyperparameters(self, name: str) -> dict:
        """The keyword arguments passed to ``RULES[name]`` at the current slider values."""
        return hyperparameters(name, float(self.lr.value), float(self.rho.value),
                               float(self.beta1.value), float(self.beta2.value))

    def compute(self):
        """Recompute the trajectories of the checked optimizers at the current settings."""
        f, steps = self.fn, int(self.steps.value)
        self.refused: dict[str, str] = {}
        self.paths = {n: self._trajectory(n, f, steps) for n in self.selected}
        with np.errstate(invalid="ignore", over="ignore"):
            self.losses = {n: np.maximum(f.value(p[:, 0], p[:, 1]) - f.minimum, FLOOR)
                           for n, p in self.paths.items()}
            self.log_losses = {n: np.log10(v) for n, v in self.losses.items()}
        finite = np.concatenate([v[np.isfinite(v)] for v in self.log_losses.values()] + [np.zeros(0)])
        # whole decades, only widening until the function changes: slider moves keep the limits, so
        # the frame can be blitted over the cached background; no finite loss (every run diverged at
        # once, or none is checked): the decades around 0
        lo, hi = _checks.finite_limits(np.floor(finite.min()) - 0.2 if finite.size else np.nan,
                                       np.ceil(finite.max()) + 0.2 if finite.size else np.nan, (-1.2, 1.2))
        if self._loss_ylim is not None:
            lo, hi = min(lo, self._loss_ylim[0]), max(hi, self._loss_ylim[1])
        self._loss_ylim = (lo, hi)
        self.ax_loss.set_ylim(lo, hi)
        self.ax_loss.set_xlim(0, steps)
        self.frame = min(self.frame, steps)

    TRAJECTORIES = 256  # kept: going back to a setting shown before computes nothing

    def _trajectory(self, name, f, steps):
        hp = self.hyperparameters(name)
        key = (name, f.name, self.start_point, steps, tuple(sorted(hp.items())))
        cache = self.__dict__.setdefault("_trajectories", {})
        if key not in cache:
            while len(cache) >= self.TRAJECTORIES:
                cache.pop(next(iter(cache)))
            try:
                path, refused = trajectory(name, f, self.start_point, steps, **hp), ""
            except ValueError as exc:  # the rule refuses these settings (Nesterov with ρ = 0)
                path, refused = np.full((steps + 1, 2), np.nan), str(exc)
                path[0] = self.start_point
            path.flags.writeable = False
            cache[key] = (path, refused)
        path, refused = cache[key]
        self.refused[name] = refused
        return path

    def show_frame(self, k: int | None = None):
        """Draw every trajectory up to step ``k`` (default: the current frame)."""
        if k is not None:
            self.frame = int(np.clip(k, 0, int(self.steps.value)))
        k = self.frame
        for name in OPTIMIZERS:
            on = name in self.paths
            for art in (self.lines[name], self.heads[name], self.loss_lines[name]):
                art.set_visible(on)
            if not on:
                continue
            p = self.paths[name][: k + 1]
            self.lines[name].set_data(p[:, 0], p[:, 1])
            last = p[np.isfinite(p).all(axis=1)][-1:]
            self.heads[name].set_data(last[:, 0], last[:, 1])
            self.loss_lines[name].set_data(np.arange(k + 1), self.log_losses[name][: k + 1])
        vals = ", ".join(f"{LABELS[n]} {self.describe(n, k)}" for n in self.paths)
        self.status.value = (f"step {k}: f - f<sub>min</sub> = " + vals if self.paths
                             else f"step {k}: no optimizer checked: tick one below")
        self.redraw()

    def describe(self, name: str, k: int) -> str:
        """What the status line says of optimizer ``name`` at step ``k``: f - f_min, or what went wrong."""
        if self.refused.get(name):
            return f"not run: {self.refused[name]}"
        path, loss = self.paths[name], self.losses[name]
        gone = np.flatnonzero(~np.isfinite(path).all(axis=1))
        if gone.size and gone[0] <= k:
            return f"<b>diverged</b> at step {gone[0]}"
        if not np.isfinite(loss[k]):
            return "<b>overflow</b> (f is too large for float64 here)"
        return f"{loss[k]:.3g}" if loss[k] > FLOOR else f"≤ {FLOOR:g}"

    def step(self, n: int = 1):
        """Advance the animation by ``n`` steps (wraps to 0 after the last one)."""
        k = self.frame + int(n)
        self.show_frame(0 if k > int(self.steps.value) else k)

    def reset(self):
        """Back to step 0 (only the starting point shown)."""
        self.show_frame(0)

    # -- function / contours -------------------------------------------------------------------------
    def window(self, f) -> tuple:
        """``(xlim, ylim)`` of the trajectory plot of ``f``: its window, widened to take in a start given
        outside it (up to :data:`BOUND`; a start farther out counts as diverged at once)."""
        xlim, ylim = f.xlim, f.ylim
        s = self.start
        if s is not None and max(abs(s[0]), abs(s[1])) <= BOUND and not (
                xlim[0] <= s[0] <= xlim[1] and ylim[0] <= s[1] <= ylim[1]):
            def widen(lim, v):
                lo, hi = min(lim[0], v), max(lim[1], v)
                return (lo - 0.1 * (hi - lo), hi + 0.1 * (hi - lo))
            xlim, ylim = widen(xlim, s[0]), widen(ylim, s[1])
        return xlim, ylim

    def _background(self, f):
        if f.name not in self._contour_cache:
            xlim, ylim = self.window(f)
            xs = np.linspace(*xlim, 90)
            ys = np.linspace(*ylim, 70)
            gx, gy = np.meshgrid(xs, ys)
            z = np.log10(f.value(gx, gy) - f.minimum + 1e-3)
            self._contour_cache[f.name] = (gx, gy, z)
        return self._contour_cache[f.name]

    def _set_function(self):
        self.show_still(self.fn.name)
        self._loss_ylim = None
        self.compute()
        self.show_frame()

    def still_choices(self):
        return tuple(fns.FUNCTIONS)

    def still_choice(self):
        return self.fn.name

    def show_still(self, name):
        """Contours, limits, title and start marker of function ``name``."""
        f = fns.get(name)
        if self._contours is not None:
            self._contours.set_visible(False)
        if f.name not in self._contour_sets:  # made once per function, then only shown or hidden
            gx, gy, z = self._background(f)
            self._contour_sets[f.name] = self.ax.contour(gx, gy, z, levels=14, cmap="viridis",
                                                         linewidths=0.8, zorder=0)
        self._contours = self._contour_sets[f.name]
        self._contours.set_visible(True)
        xlim, ylim = self.window(f)
        self.ax.set_xlim(xlim)
        self.ax.set_ylim(ylim)
        self.ax.set_title(f.title, fontsize=10)
        s = self.start if self.start is not None else f.start
        self.start_marker.set_data([s[0]], [s[1]])
        self._still = (f.name, s)
        self.invalidate()

    def background_state(self):
        return self._still  # contours, title, start marker

    # -- handlers ----------------------------------------------------------------------------------
    def _on_function(self, change):
        sug = SUGGESTED[change["new"]]
        with self.hold():
            self.lr.value, self.rho.value, self.steps.value = sug["lr"], sug["rho"], sug["steps"]
        self.frame = self.steps.value
        self.play.max = self.steps.value
        self._set_function()
        self._sync_play()  # the Play control shows the step drawn (the whole new path)

    def _on_setting(self, change):
        if self._holding:
            return
        self.play.max = int(self.steps.value)
        self.compute()
        self.show_frame()

    def _on_play(self, change):
        if not self._syncing:
            self.show_frame(int(change["new"]))

    def _play_position(self) -> int:
        return self.frame

    _holding = False

    def hold(self):
        """Context manager: change several sliders, recompute once at the end (by the caller)."""
        import contextlib

        @contextlib.contextmanager
        def _cm():
            self._holding = True
            try:
                yield
            finally:
                self._holding = False

        return _cm()
