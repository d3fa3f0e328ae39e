"""The canvas every nnkit widget draws on: one matplotlib Figure, made once, updated in place.

Three ways to show it. ``"browser"`` (the default in a Jupyter kernel when anywidget is installed):
matplotlib renders the still part of the figure (axes, ticks, titles, contours) as a PNG once, and the
browser paints the moving artists from their arrays (:mod:`nnkit.widgets._canvas`). ``"ipympl"``
(``%matplotlib widget`` without anywidget): the figure's canvas *is* an ipywidget; a redraw sends the
changed pixels. ``"static"`` (plain kernels without either, nbclient, tests): the figure lives on an Agg
canvas and is re-rendered into an ``ipywidgets.Image`` after each change. Every way, the Figure and its
artists are created once and handlers only change their data; a frame redraws only the artists that
move (:attr:`FigureWidget.dynamic`) over a cached background.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable

import ipywidgets as widgets
import matplotlib
import numpy as np
from matplotlib.figure import Figure

MODES = ("auto", "browser", "ipympl", "static")


def ipympl_backend_active() -> bool:
    """True when matplotlib's current backend is ipympl (``%matplotlib widget`` / ``ipympl``)."""
    backend = str(matplotlib.get_backend()).lower()
    return "ipympl" in backend or backend == "widget"


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where a widget front end can show a view)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def anywidget_available() -> bool:
    try:
        import anywidget  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_mode(mode: str) -> str:
    """Turn ``"auto"`` into a way of showing the figure.

    ``"browser"`` in a Jupyter kernel with anywidget installed; else ``"ipympl"`` when the widget backend
    is active and ipympl importable; else ``"static"`` (which needs neither).
    """
    if mode not in MODES:
        raise ValueError(f"mode: expected one of {MODES}, got {mode!r}")
    if mode != "auto":
        return mode
    if in_kernel() and anywidget_available():
        return "browser"
    if ipympl_backend_active():
        try:
            import ipympl.backend_nbagg  # noqa: F401
        except ImportError:  # pragma: no cover - ipympl is a course dependency
            return "static"
        return "ipympl"
    return "static"


class FigureWidget:
    """Base class: a Figure, its view widget, the controls, and the redraw logic.

    Subclasses build their axes and artists on ``self.fig`` in ``__init__`` (once), put their
    controls in ``self.controls`` and call :meth:`redraw` after changing artist data.

    Attributes
    ----------
    fig : matplotlib.figure.Figure
        Created once; its identity never changes during the widget's life.
    mode : {"ipympl", "static"}
        How the figure is shown (see module docstring).
    view : ipywidgets.DOMWidget
        The ipympl canvas (``fig.canvas``) or an ``ipywidgets.Image`` holding the latest PNG.
    ui : ipywidgets.Box
        Controls plus view; what a notebook cell displays.
    renders : int
        How many times the figure has been (re)drawn; tests use it to see that handlers redraw.
    dynamic : list of matplotlib artists
        The artists a frame changes; only these are redrawn over a cached background (blitting).
    live_axes : list of Axes
        Browser mode: axes whose limits follow the model (loss and epoch axes); the browser paints their
        ticks, so a new limit needs no new still picture.
    use_blit : bool
        Blit frames (default) or always draw the whole figure.
    """

    def __init__(self, figsize=(9.0, 4.0), mode: str = "auto", dpi: int = 80):
        self.mode = resolve_mode(mode)
        self.fig = Figure(figsize=figsize, dpi=dpi, layout="constrained")
        self.renders = 0
        self.auto_render = True
        self.use_blit = True
        self.dynamic: list = []  # artists that change between frames; subclasses fill it
        self.live_axes: list = []  # axes whose ticks the browser paints (browser mode); subclasses fill it
        self._blit_bg = None
        self._blit_key = None
        self._browser_bg_key = None  # what the browser's background shows (browser mode)
        if self.mode == "browser":
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            from ._canvas import BrowserCanvas

            FigureCanvasAgg(self.fig)
            self.view = BrowserCanvas(self._browser_scene)
            self.view.size = [int(v) for v in self.fig.canvas.get_width_height()]
            self.view.on_click(self._on_pixel_click)
        elif self.mode == "ipympl":
            from ipympl.backend_nbagg import Canvas, FigureManager

            canvas = Canvas(self.fig)
            FigureManager(canvas, id(self))  # not registered with pyplot: no duplicate output
            canvas.header_visible = False
            canvas.footer_visible = False
            canvas.toolbar_visible = False
            canvas.resizable = False
            canvas.mpl_connect("button_press_event", self._on_mpl_click)
            self.view = canvas
        else:
            from matplotlib.backends.backend_agg import FigureCanvasAgg

            FigureCanvasAgg(self.fig)
            self.view = widgets.Image(format="png")
        self.controls: list[widgets.Widget] = []
        self._ui = None

    # -- display ---------------------------------------------------------------------------------
    def _layout(self) -> widgets.Widget:
        """Default layout: controls in a row above the figure. Subclasses may override."""
        return widgets.VBox([widgets.HBox(self.controls, layout=widgets.Layout(flex_flow="row wrap")),
                             self.view])

    @property
    def ui(self) -> widgets.Widget:
        """The controls and the figure in one box, ready to display (built on first use).

        Browser mode shows a :class:`nnkit.widgets._canvas.Player` in place of the ``play`` control,
        and the ``status`` line under the canvas, sent with each scene. The ``play`` and ``status``
        widgets keep their values for code that reads or sets them, but they are not shown, so they
        need no messages to the browser of their own: a frame is one message instead of three.
        """
        if self._ui is None:
            self._ui = self._layout()
            if self.mode == "browser":
                self._browser_controls()
        self._prime_view()
        return self._ui

    def _browser_controls(self) -> None:
        from ._canvas import Player

        play = getattr(self, "play", None)
        if play is not None:
            self.player = Player(play)
            _replace_child(self._ui, play, self.player)
            play.close()  # its value is the player's (linked in the kernel): no view, no messages
        status = getattr(self, "status", None)
        if status is not None and _replace_child(self._ui, status, None):
            status.close()  # shown as the canvas's caption

    def _prime_view(self) -> None:
        """Give the view a first image before the browser sees it.

        An ipympl canvas shown *inside* a box never gets ``_repr_mimebundle_`` called, which is where
        ipympl sets the canvas size and first image; without them the browser draws a broken, 0-size
        canvas. Calling it here does the same as ``display(fig.canvas)`` would. Static mode: the first PNG.
        """
        if self.mode == "ipympl":
            if not self.view._data_url:
                self.view._repr_mimebundle_()
        elif self.mode == "browser":
            if self.view.stale or self.view.frames_sent == 0 or self._browser_key() != self._browser_bg_key:
                self.redraw(force=True)
        elif not self.view.value:
            self.redraw(force=True)

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)

    # -- drawing ---------------------------------------------------------------------------------
    def freeze_layout(self) -> None:
        """Run the constrained layout once, then keep the axes where they are.

        The layout engine costs as much as the drawing itself; artists change data, not the figure's
        structure, so one layout pass at construction is enough. Subclasses call this at the end of
        ``__init__``.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        FigureCanvasAgg.draw(self.fig.canvas)
        self.fig.set_layout_engine("none")
        self.invalidate()

    def leave_room_right(self, ax, px: float = 20.0) -> None:
        """Narrow ``ax`` by ``px`` pixels on the right (after :meth:`freeze_layout`).

        The layout was made with the first tick labels; an axis whose limit grows (epochs: 50, 100, ...,
        800) gets a wider last label, which must not be cut at the figure's edge.
        """
        pos = ax.get_position()
        ax.set_position([pos.x0, pos.y0, pos.width - px / self.fig.bbox.width, pos.height])
        self.invalidate()

    def invalidate(self) -> None:
        """Forget the cached background: the next redraw draws the whole figure.

        Subclasses call this after changing something that is not in :attr:`dynamic` (a title, a legend,
        contour lines). Changes of axis limits, axes positions and canvas size are noticed automatically.
        """
        self._blit_bg = None
        self._browser_bg_key = None
        self._stills_drawn = getattr(self, "_stills_drawn", 0) + 1  # names a new still picture (state None)

    # -- still pictures a control can select (browser mode) ------------------------------------------
    def still_choices(self) -> tuple:
        """The values of the control that changes the still picture (a data set, a function); () if none."""
        return ()

    def still_choice(self):
        """The current one of :meth:`still_choices`."""
        return None

    def show_still(self, choice) -> None:
        """Put the still part of the figure (titles, fixed limits, contours) into ``choice``'s state."""
        raise NotImplementedError

    def prerender_stills(self) -> None:
        """Browser mode: draw the still picture of every :meth:`still_choices` now and send them ahead.

        A data set or function chosen later then costs no Agg draw and no PNG decoding: the browser
        holds it already. Subclasses call this at the end of ``__init__`` (after :meth:`freeze_layout`).
        """
        if self.mode != "browser" or not self.still_choices():
            return
        current = self.still_choice()
        try:
            for choice in self.still_choices():
                if choice != current:
                    self.show_still(choice)
                    self._still_picture()
        finally:
            self.show_still(current)
        self._still_picture()

    def background_state(self):
        """A hashable naming everything the still part of the figure shows besides axis limits and size.

        Browser mode caches background PNGs under it, so a data set or function shown before costs no
        redraw. None (the default) caches nothing. A subclass returning a value must change it whenever
        it changes something it then calls :meth:`invalidate` for.
        """
        return None

    def _blit_key_now(self):
        w, h = self.fig.canvas.get_width_height(physical=True)
        lims = tuple(tuple(float(v) for v in (*ax.viewLim.bounds, *ax.get_position().bounds))
                     for ax in self.fig.axes)
        return (w, h, float(self.fig.dpi), lims)

    def render(self) -> str:
        """Bring the Agg pixel buffer up to date; return ``"blit"`` or ``"full"``.

        Blitting: everything that does not change between frames (axes, ticks, titles, contours, data
        points) is drawn once into a cached background; a frame restores that background and draws only
        the artists in :attr:`dynamic` on top, in z-order. A full draw happens the first time, after
        :meth:`invalidate`, or when axis limits or the canvas size changed.
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = self.fig.canvas
        artists = sorted(self.dynamic, key=lambda a: a.get_zorder())
        if not self.use_blit or not artists:
            FigureCanvasAgg.draw(canvas)  # Agg draw only: ipympl's own draw() would also send the image
            return "full"
        mode = "blit"
        if self._background_stale():
            self._draw_background()
            mode = "full"
        else:
            canvas.restore_region(self._blit_bg)
        renderer = canvas.get_renderer()
        for a in artists:
            a.draw(renderer)  # invisible artists draw nothing
        return mode

    def _background_stale(self) -> bool:
        return self._blit_bg is None or self._blit_key_now() != self._blit_key

    def _draw_background(self) -> None:
        """Draw the figure without the :attr:`dynamic` artists into the Agg buffer and cache it.

        Browser mode also leaves out the ticks of :attr:`live_axes` (the browser paints them).
        """
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = self.fig.canvas
        key = self._blit_key_now()
        hidden = list(self.dynamic)
        if self.mode == "browser":
            # the ticks a draw would draw now (the draw finds the same Tick objects); their labels stay
            # visible, so axis labels are placed as if the ticks were there
            from ._canvas import drawn_ticks

            axes = [axis for ax in self.live_axes for axis in (ax.xaxis, ax.yaxis)]
            hidden += [t for axis in axes for t in drawn_ticks(axis)] + [a.offsetText for a in axes]
        visible = [a.get_visible() for a in hidden]
        for a in hidden:
            a.set_visible(False)
        try:
            FigureCanvasAgg.draw(canvas)
            self._blit_bg = canvas.copy_from_bbox(self.fig.bbox)
            self._blit_key = key
        finally:
            for a, v in zip(hidden, visible):
                a.set_visible(v)

    def _browser_key(self):
        """What the still picture shows: size, axes positions, the limits of axes that are not live, and
        :meth:`background_state` (None: not known, drawn afresh after every :meth:`invalidate`)."""
        w, h = self.fig.canvas.get_width_height(physical=True)
        axes = tuple((tuple(float(v) for v in ax.get_position().bounds),
                      None if ax in self.live_axes else tuple(float(v) for v in ax.viewLim.bounds))
                     for ax in self.fig.axes)
        state = self.background_state()
        if state is None:
            state = ("drawn", self._stills_drawn)
        return (w, h, float(self.fig.dpi), axes, state)

    def _background_name(self, key) -> str:
        import hashlib

        return hashlib.sha1(repr(key).encode()).hexdigest()[:16]

    def _still_picture(self) -> str:
        """The name of the still picture of the current state, drawn and sent to the browser if new."""
        key = self._browser_key()
        name = self._background_name(key)
        if name not in self.view._backgrounds:
            self._draw_background()
            self.view.add_background(name, self._buffer_png())
        return name

    def _ticks(self, ax, tick_layers) -> dict:
        """The tick layer of a live axes, made again only when its limits, place or size changed."""
        key = (tuple(ax.viewLim.bounds), tuple(ax.get_position().bounds), tuple(self.fig.bbox.bounds))
        cache = self.__dict__.setdefault("_tick_cache", {})
        if ax not in cache or cache[ax][0] != key:
            cache[ax] = (key, tick_layers(ax, self.fig.dpi, self.fig.bbox.height))
        return cache[ax][1]

    def _browser_scene(self) -> dict:
        """Browser mode, at send time: the still picture's name (sent first if new), and the layers."""
        from ._canvas import scene, tick_layers

        key = self._browser_key()
        if key != self._browser_bg_key:
            self.view.use_background(self._still_picture())
            self._browser_bg_key = key
        out = scene(self.dynamic, self.fig, [self._ticks(ax, tick_layers) for ax in self.live_axes])
        status = getattr(self, "status", None)
        out["caption"] = status.value if status is not None else ""
        return out

    def batch(self):
        """Context manager: the redraws requested inside become one, of the state at the end.

        In browser mode one scene is sent when the block ends; elsewhere every redraw happens as asked
        (ipympl and static redraws are immediate).
        """
        import contextlib

        return self.view.hold() if self.mode == "browser" else contextlib.nullcontext()

    def redraw(self, force: bool = False) -> None:
        """Push the current artist data to the screen.

        Browser: the moving artists as arrays (one scene; inside :meth:`batch`, one at its end).
        ipympl: :meth:`render` then ``canvas.blit()``, which sends the changed pixels to the browser
        (with ``use_blit = False``: ``draw_idle()``, the browser then asks for a full redraw). Static:
        :meth:`render`, then the pixels as PNG into ``view.value`` (skipped while ``auto_render`` is
        False, e.g. while :meth:`time_interaction` measures the drawing alone).
        """
        self.renders += 1
        if self.mode == "browser":
            if not force and not self.view.frames_sent:
                self.view.stale = True  # not shown yet: the first view gets the whole scene (_prime_view)
            elif force:
                self.view.send_full_scene()
            else:
                self.view.request()  # sent now, or at the end of a hold()
        elif self.mode == "ipympl":
            if self.use_blit and not self.view.syncing_data_url:
                self.render()
                self.fig.canvas.blit()
            else:  # no browser view yet (or no blitting): let the browser ask for a full draw
                self.fig.canvas.draw_idle()
        elif self.auto_render or force:
            self.render()
            self.view.value = self._buffer_png()

    # -- clicks on the figure ------------------------------------------------------------------------
    def on_canvas_click(self, ax, x: float, y: float, shift: bool) -> None:
        """A click at data coordinates ``(x, y)`` of ``ax`` (shift held or not). Subclasses override."""

    def _on_pixel_click(self, px: float, py: float, shift: bool) -> None:
        """Browser mode: figure pixels (origin bottom left) -> the axes under them and data coordinates."""
        for ax in self.fig.axes:
            if ax.bbox.contains(px, py):
                x, y = ax.transData.inverted().transform((px, py))
                self._click(ax, float(x), float(y), shift)
                return

    def _on_mpl_click(self, event) -> None:
        if event.inaxes is not None and event.xdata is not None:
            self._click(event.inaxes, float(event.xdata), float(event.ydata), "shift" in (event.key or ""))

    def _click(self, ax, x: float, y: float, shift: bool) -> None:
        """A click, whatever the front end: a point the model refuses (beyond the coordinate bound, on
        axes widened that far) is not added, and the status line says why (in a kernel an exception
        would only reach the log)."""
        try:
            self.on_canvas_click(ax, x, y, shift)
        except ValueError as exc:
            status = getattr(self, "status", None)
            if status is None:
                raise
            status.value = f"<b>click ignored</b>: {exc}"
            self.redraw()

    def _buffer_png(self) -> bytes:
        from PIL import Image

        rgba = np.asarray(self.fig.canvas.buffer_rgba())
        buf = io.BytesIO()
        Image.fromarray(rgba[..., :3]).save(buf, format="png", compress_level=1)
        return buf.getvalue()

    def png(self) -> bytes:
        """The figure as PNG bytes, from a complete draw (any mode)."""
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png")
        return buf.getvalue()

    def time_interaction(self, action: Callable[[], object], repeat: int = 20, png: bool = False) -> float:
        """Median wall time in ms of one interaction: ``action()`` plus bringing the pixels up to date.

        ``action`` is what a slider change or animation frame runs (e.g. ``w.step``, ``w.train``, or
        ``lambda: setattr(w.lr, "value", 0.1)``); its handler updates the artists and calls
        :meth:`redraw`. Static mode: the PNG encoding for the Image widget is left out unless ``png``
        is True, so the number is the handler plus the Agg rendering (blit or full draw). ipympl mode:
        the handler's redraw already renders and encodes the diff image for the browser.
        """
        previous = self.auto_render
        self.auto_render = png
        times = []
        try:
            for _ in range(repeat):
                t0 = time.perf_counter()
                action()
                if self.mode == "static" and not png:
                    self.render()
                times.append(1000.0 * (time.perf_counter() - t0))
        finally:
            self.auto_render = previous
        return statistics.median(times)

    # -- the Play control ---------------------------------------------------------------------------
    # A widget whose ipywidgets.Play counts progress (examples presented, frames trained) defines
    # ``play``, ``_play_position()`` (where the model is now, in Play units) and
    # ``_play_advance(goal)``. Its buttons call :meth:`_sync_play` after they advance the model, so
    # pressing play continues from there instead of restarting from 0.
    _syncing = False

    def _play_position(self) -> int:
        raise NotImplementedError

    def _play_advance(self, goal: int) -> None:
        raise NotImplementedError

    def _sync_play(self) -> None:
        """Move the Play control to the model's position without triggering its handler."""
        position = min(int(self._play_position()), self.play.max)
        if self.play.value != position:
            self._syncing = True
            try:
                self.play.value = position
            finally:
                self._syncing = False

    def _on_play(self, change) -> None:
        """Advance the model to Play's value; a smaller value restarts from scratch."""
        if self._syncing:
            return
        goal = int(change["new"])
        if goal < self._play_position():
            self.reset(_sync_play=False)
        self._play_advance(goal)
        if self._play_position() < goal:  # nothing to advance (no points, training stopped): stop playing
            self.play.playing = False
            if getattr(self, "player", None) is not None:
                self.player.playing = False
            self._sync_play()



def _kernel_loop():
    """The running event loop of an IPython kernel, or None (a script, a test, a terminal IPython)."""
    import asyncio

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is None:
        return None
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class TrainsInFrames:
    """For a :class:`FigureWidget` whose Play counts frames of ``epochs_per_frame`` training epochs.

    The widget defines ``epoch`` (epochs trained so far), ``epochs_per_frame``, ``train(epochs)``
    (which draws once, at its end), ``reset()``, ``model``, ``optimizer`` and ``notice`` (an HTML line
    saying what the last hyper-parameter change did to training).
    """

    def train_in_frames(self, epochs: int, paced: bool = False) -> None:
        """Train ``epochs`` epochs one frame at a time, drawing each frame (what the train button does).

        The first frame reaches the screen after one frame's work instead of after all of it, and the
        lecturer watches the run instead of waiting for its end. ``paced`` (the buttons, in a kernel's
        event loop): only the first frame is trained now; each next one is a callback of the loop, a few
        ms later, so every frame's scene leaves the kernel before the next is computed and other input
        (a slider, reset) is answered in between. A new network (reset, another data set or architecture),
        another run or Play stops the run; a point added by a click (which trains a frame on it) does not:
        the run goes on, with the point. Outside a kernel (scripts, tests; even with some other library's
        loop running, as Playwright's) all frames are trained before returning.
        """
        remaining = int(epochs)
        loop = _kernel_loop() if paced else None
        if loop is None:
            while remaining > 0 and not self.stopped:
                k = min(self.epochs_per_frame, remaining)
                self.train(k)
                remaining -= k
            return
        run, model = self._new_run(), self.model

        def frame():
            nonlocal remaining
            if remaining <= 0 or self.stopped or self._runs != run or self.model is not model:
                return  # done, stopped, or overtaken
            k = min(self.epochs_per_frame, remaining)
            self.train(k)
            remaining -= k
            if remaining > 0:
                loop.call_later(self.FRAME_GAP, frame)

        frame()

    FRAME_GAP = 0.005  # s between the frames of a paced run: the last frame's scene leaves the kernel

    stopped = ""  # why training stopped for good (a step left finite numbers); "" while it goes on

    def _train_epochs(self, epochs: int, loss_and_grads: Callable[[], tuple],
                      after_epoch: Callable[[], None] | None = None) -> int:
        """Up to ``epochs`` optimizer steps on ``loss_and_grads()``, stopping before one that would leave
        finite numbers; ``after_epoch()`` after each step taken. Returns the number of steps taken.

        A learning rate far too large (or points far out) makes the weights overflow to inf and then
        NaN; every later picture and number would be NaN, and nnkit's layers refuse NaN input with an
        exception that would freeze the widget. So after each step the loss and the new weights must be
        finite; otherwise the weights are put back as they were, training stops (:attr:`stopped` says
        why, the status line shows it) and only a reset starts it again.
        """
        params = self.model.params
        buffer = getattr(params, "buffer", None)  # nnkit's models keep every weight in one array
        arrays = [buffer] if buffer is not None else list(params.values())
        saved = [np.empty_like(a) for a in arrays]
        taken = 0
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while taken < epochs and not self.stopped:
                for keep, a in zip(saved, arrays):
                    np.copyto(keep, a)
                reason = ""
                try:
                    loss, grads = loss_and_grads()
                    if not np.isfinite(loss):
                        reason = f"the loss is {loss}"
                    else:
                        self.optimizer.step(grads)
                        if not all(np.isfinite(a.sum()) or np.isfinite(a).all() for a in arrays):
                            reason = "the weights overflowed"
                except (ValueError, FloatingPointError) as exc:  # nnkit refuses NaN/inf it is given
                    reason = f"the numbers overflowed ({exc})"
                if reason:
                    for keep, a in zip(saved, arrays):
                        np.copyto(a, keep)
                    self.stopped = (f"<b>diverged at epoch {self.epoch + 1}</b>: {reason}; training stopped "
                                    f"with the weights of epoch {self.epoch}. A smaller learning rate, then "
                                    "reset.")
                    break
                taken += 1
                self.epoch += 1
                if after_epoch is not None:
                    after_epoch()
        return taken

    def _on_architecture(self, change):
        """A control that shapes the network changed (units, layers, activation, dropout): a new one is
        built, and ``notice`` says so (training restarts; it is not silently thrown away)."""
        trained = self.epoch
        self.reset()
        name = change["owner"].description
        old = f" (the old one had trained {trained} epochs)" if trained else ""
        self.notice.value = (f"<i>{name} changed to {change['new']}: a new network, training restarts at "
                             f"epoch 0</i>{old}")

    _runs = 0  # paced runs started; a run whose number is no longer the last has been overtaken

    def _new_run(self) -> int:
        self._runs += 1
        return self._runs

    def _play_position(self) -> int:
        return self.epoch // self.epochs_per_frame

    def _play_advance(self, goal: int) -> None:
        self._new_run()  # Play takes over from a train button's run
        if goal * self.epochs_per_frame > self.epoch:
            self.train(goal * self.epochs_per_frame - self.epoch)


def _replace_child(box, old, new) -> bool:
    """Put ``new`` (None: nothing) where ``old`` is among the children of ``box`` or of boxes inside it."""
    children = list(getattr(box, "children", ()))
    for i, child in enumerate(children):
        if child is old:
            children[i:i + 1] = [] if new is None else [new]
            box.children = tuple(children)
            return True
        if _replace_child(child, old, new):
            return True
    return False


_CONTROLLER = None


def single_thread():
    """Context manager: run BLAS on one thread while a widget trains or evaluates its tiny matrices.

    A widget multiplies matrices of a few hundred numbers; a multi-threaded BLAS only adds
    synchronisation, and on a busy machine (a classroom server) that can make a frame 10-20 times
    slower. Uses threadpoolctl (a scikit-learn dependency); without it this does nothing.
    """
    global _CONTROLLER
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:  # pragma: no cover
        import contextlib

        return contextlib.nullcontext()
    if _CONTROLLER is None:
        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def light_ticks(*axes, nbins: int = 4) -> None:
    """Fewer tick labels: text is most of an Agg redraw, and a figure that animates needs few."""
    from matplotlib.ticker import MaxNLocator

    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(nbins=nbins))
        ax.yaxis.set_major_locator(MaxNLocator(nbins=nbins))
        ax.tick_params(labelsize=8)


def clip_line_to_box(w, b, xlim, ylim):
    """End points of the line ``w·x + b = 0`` inside the box ``xlim × ylim``.

    Returns ``(xs, ys)`` with two points each, or two empty lists when the line misses the box or
    ``w = 0`` (no boundary).
    """
    w0, w1 = float(w[0]), float(w[1])
    b = float(b)
    (x0, x1), (y0, y1) = xlim, ylim
    pts = []
    if abs(w1) > 1e-12:
        for x in (x0, x1):
            y = -(w0 * x + b) / w1
            if y0 - 1e-9 <= y <= y1 + 1e-9:
                pts.append((x, y))
    if abs(w0) > 1e-12:
        for y in (y0, y1):
            x = -(w1 * y + b) / w0
            if x0 - 1e-9 <= x <= x1 + 1e-9:
                pts.append((x, y))
    # drop duplicates (line through a corner)
    uniq = []
    for p in pts:
        if all(abs(p[0] - q[0]) + abs(p[1] - q[1]) > 1e-9 for q in uniq):
            uniq.append(p)
    if len(uniq) < 2:
        return [], []
    (xa, ya), (xb, yb) = uniq[0], uniq[1]
    return [xa, xb], [ya, yb]


def half_plane_polygon(w, b, xlim, ylim):
    """Corners of the part of the box where ``w·x + b > 0`` (Sutherland-Hodgman with one edge).

    Returns an array of shape (k, 2), k = 0 when the region is empty.
    """
    box = [(xlim[0], ylim[0]), (xlim[1], ylim[0]), (xlim[1], ylim[1]), (xlim[0], ylim[1])]

    def side(p):
        return w[0] * p[0] + w[1] * p[1] + b

    out = []
    for i, p in enumerate(box):
        q = box[(i + 1) % 4]
        sp, sq = side(p), side(q)
        if sp > 0:
            out.append(p)
        if (sp > 0) != (sq > 0) and sp != sq:
            t = sp / (sp - sq)
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return np.array(out, dtype=float).reshape(-1, 2)
