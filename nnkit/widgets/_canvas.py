"""The browser front end of a widget's figure: matplotlib draws what stands still, the browser what moves.

A lecture widget changes a handful of artists per frame (a line, some markers, a 60×60 image) over a
figure whose axes, titles and contours stay put. In ``"browser"`` mode the kernel renders the still part
with Agg and sends it as a PNG, once (a custom message with a binary buffer, named by what it shows); each
frame it sends only the moving artists as arrays in canvas pixels (``scene``: lines, markers, polygons, an
RGBA image as a binary buffer, line collections, and the ticks and tick labels of axes whose limits follow
the model, :func:`tick_layers`), with the name of the still picture it goes over, and a small JavaScript
front end (anywidget) paints the picture and the artists on one ``<canvas>``. A frame is then a few
kilobytes and a few canvas calls, instead of an Agg redraw, a PNG and its decoding. The still picture of
every data set or function a dropdown offers is drawn when the widget is made and sent when a view
appears (:meth:`FigureWidget.prerender_stills`), so choosing one costs neither a draw nor a decode.

Pacing and coalescing: nothing waits for the browser. ipywidgets already holds back a control's next
change while the kernel is busy with its previous one (and merges the changes made meanwhile), so a
slider dragged faster than frames can be made reaches the kernel as its latest value. Inside the kernel,
:meth:`BrowserCanvas.hold` collects the redraws of a burst (several controls set at once, a loop setting
a slider) into one scene, sent when the burst ends. In the browser, scenes that arrive within one display
frame are painted once: the newest. A layer equal to the one at its place in the last scene is sent as
a reference to it, so only what moved travels. (Acknowledging each painted scene was tried and traced:
every acknowledgement cost the kernel a message turn, 25-30 ms of each 60 ms frame of the optimizer's
Play.) Play itself is :class:`Player`: it keeps a few ticks in flight instead of one round trip per frame.

Clicks on the canvas come back as canvas pixels and are turned into data coordinates of the axes under
the pointer with matplotlib's own transforms (:meth:`BrowserCanvas.on_click`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path

import anywidget
import numpy as np
import traitlets
from matplotlib import colors as mcolors
from matplotlib.collections import LineCollection
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

_ESM = Path(__file__).with_name("_canvas.js")


class BrowserCanvas(anywidget.AnyWidget):
    """The view of a figure in ``"browser"`` mode (see the module docstring).

    Traits (synced to the front end): ``size`` (width, height) in pixels; ``background`` the PNG of
    the still part; ``scene`` ``{"frame": k, "layers": [...], "caption": html}`` the moving artists
    and the status line shown under the canvas.

    Attributes
    ----------
    frames_sent : int
        Scenes sent to the front end.
    stale : bool
        A redraw was asked for inside :meth:`hold`; it is sent when the outermost hold ends.
    """

    _esm = _ESM
    size = traitlets.List([0, 0]).tag(sync=True)
    scene = traitlets.Dict({"frame": -1, "layers": []}).tag(sync=True)
    background = traitlets.Bytes(b"")  # the PNG the current scene is painted over (not synced: see below)

    def __init__(self, make_scene: Callable[[], dict], **kwargs):
        super().__init__(**kwargs)
        self._make_scene = make_scene
        self.frames_sent = 0
        self.stale = False
        self._holds = 0
        self._last_layers: list = []
        self._click_handlers: list[Callable] = []
        self._backgrounds: dict[str, bytes] = {}  # name -> PNG, every still picture made so far
        self.on_msg(self._on_front_end_msg)

    # -- still pictures --------------------------------------------------------------------------------
    BACKGROUNDS = 24  # kept per widget (kernel and browser)

    def add_background(self, name: str, png: bytes) -> None:
        """Send the still picture ``name`` to the front ends, which decode it before any scene needs it.

        Backgrounds travel once each, as binary buffers of custom messages; a scene names the one it is
        painted over (``scene["background"]``). A view that lacks it (one rendered later) asks for all.
        """
        if self._backgrounds.get(name) == png:
            return
        self._backgrounds.pop(name, None)
        while len(self._backgrounds) >= self.BACKGROUNDS:
            self._backgrounds.pop(next(iter(self._backgrounds)))
        self._backgrounds[name] = png
        self.send({"background": name}, buffers=[png])

    def use_background(self, name: str) -> None:
        """The scenes from now on are painted over ``name`` (added before)."""
        self._background_name = name
        self.background = self._backgrounds[name]

    def _send_all_backgrounds(self) -> None:
        for name, png in self._backgrounds.items():
            self.send({"background": name}, buffers=[png])

    # -- coalescing ----------------------------------------------------------------------------------
    def request(self) -> bool:
        """Send the current scene now, or, inside :meth:`hold`, once the hold ends. True when sent."""
        if self._holds:
            self.stale = True
            return False
        self._send_scene()
        return True

    @contextlib.contextmanager
    def hold(self):
        """Redraws requested inside the block become one scene, of the state at its end."""
        self._holds += 1
        try:
            yield self
        finally:
            self._holds -= 1
            if not self._holds and self.stale:
                self._send_scene()

    def _send_scene(self) -> None:
        """Send the scene; a layer equal to the one at its place in the last scene goes as ``{"same": i}``.

        Only what moved travels: the data points of a frame that only trained, the contours' paths of a
        frame that only moved a head. A view that cannot resolve a reference (it was created after
        the last full scene) asks for a full one (``{"full": true}``).
        """
        self.stale = False
        self.frames_sent += 1
        scene = self._make_scene()
        layers = scene["layers"]
        last = self._last_layers
        scene["layers"] = [{"same": i} if i < len(last) and last[i] == L else L for i, L in enumerate(layers)]
        self._last_layers = layers
        scene["frame"] = self.frames_sent
        scene["background"] = getattr(self, "_background_name", None)
        self.scene = scene

    @property
    def layers(self) -> list:
        """The layers of the last scene sent, in full."""
        return self._last_layers

    def send_full_scene(self) -> None:
        """Send every layer in full (a new view, or one that lost track)."""
        self._last_layers = []
        self._send_scene()

    # -- messages from the front end ----------------------------------------------------------------
    def on_click(self, handler: Callable[[float, float, bool], None]) -> None:
        """Call ``handler(x, y, shift)`` with figure pixel coordinates (origin bottom left) per click."""
        self._click_handlers.append(handler)

    def _on_front_end_msg(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict):
            return
        if content.get("hello"):  # a new view: every still picture, then the whole scene
            self._send_all_backgrounds()
            self.send_full_scene()
        elif content.get("full"):
            self.send_full_scene()
        elif "click" in content:
            x, y = (float(v) for v in content["click"])
            for handler in self._click_handlers:
                handler(x, y, bool(content.get("shift", False)))


class Player(anywidget.AnyWidget):
    """The Play control shown in browser mode, standing in for an ``ipywidgets.Play`` it is linked to.

    ``ipywidgets.Play`` sends its next value only once the kernel has reported idle after the previous
    one, so every frame costs a full browser-kernel-browser round trip and Play can go no faster than
    that. This control sends ticks as messages of its own and keeps up to ``window`` of them
    unanswered: the kernel is asked for the next frame while the browser is still receiving the last,
    and each tick's answer (a "tock", sent after the frame's scene) lets the next one go. The play
    position stays in the linked ``ipywidgets.Play`` (``value``, ``max``), so code that sets
    ``widget.play.value`` works in every mode.

    A tick names the value it advances from (``base``). One that arrives after something else moved the
    model (reset, the step button, another data set, while playing) is stale: it is not applied (it
    would jump the model by every tick sent since, or replay it from the start) and its tock carries
    the current value, from which the front end goes on.
    """

    _esm = Path(__file__).with_name("_player.js")
    value = traitlets.Int(0).tag(sync=True)
    min = traitlets.Int(0).tag(sync=True)
    max = traitlets.Int(100).tag(sync=True)
    interval = traitlets.Int(40).tag(sync=True)
    window = traitlets.Int(3).tag(sync=True)
    playing = traitlets.Bool(False).tag(sync=True)
    description = traitlets.Unicode("").tag(sync=True)

    def __init__(self, play, **kwargs):
        import ipywidgets

        super().__init__(value=play.value, min=play.min, max=play.max, interval=play.interval,
                         description=play.description, **kwargs)
        self.play = play
        # both ways, each side copying the other's *current* value: a Play handler that moves the value
        # back (the model could not advance) leaves both at the model's position (ipywidgets.link
        # raises "Broken link" there, in the kernel, where the lecturer never sees it)
        self.observe(lambda _c: setattr(play, "value", self.value), names="value")
        play.observe(lambda _c: setattr(self, "value", play.value), names="value")
        self._links = [ipywidgets.dlink((play, name), (self, name)) for name in ("min", "max", "interval")]
        self.on_msg(self._on_front_end_msg)

    def tick(self, goal: int) -> None:
        """Advance the linked Play to ``goal`` (clipped to its range): its handler makes the frame."""
        self.value = int(min(max(int(goal), self.min), self.max))

    def _on_front_end_msg(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and "tick" in content:
            base = content.get("base")
            stale = base is not None and int(base) != self.value
            try:
                if not stale:
                    self.tick(int(content["tick"]))
            finally:
                answer = {"tock": int(content["tick"])}
                if stale:
                    answer.update(stale=True, value=int(self.value))
                self.send(answer)


# ------------------------------------------------------------------------------- artists -> layers

def _css(rgba) -> str:
    r, g, b, a = mcolors.to_rgba(rgba)
    return f"rgba({round(255 * r)},{round(255 * g)},{round(255 * b)},{a:.3f})"


def _points(xy: np.ndarray, height: float) -> list:
    """Display coordinates (origin bottom left) -> canvas pixels (origin top left), flat; NaN -> None."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2).copy()
    xy[:, 1] = height - xy[:, 1]
    flat = np.round(xy.ravel(), 1)
    finite = np.isfinite(flat)
    if finite.all():
        return flat.tolist()
    return [v if ok else None for v, ok in zip(flat.tolist(), finite.tolist())]


def _clip(artist, height: float):
    if not artist.get_clip_on() or artist.get_clip_box() is None:
        return None
    x0, y0, w, h = artist.get_clip_box().bounds
    return [round(x0, 1), round(height - y0 - h, 1), round(w, 1), round(h, 1)]


_DASHES = {"-": None, "solid": None, "--": [6, 3], "dashed": [6, 3], ":": [1.5, 2.5], "dotted": [1.5, 2.5],
           "-.": [6, 2.5, 1.5, 2.5], "dashdot": [6, 2.5, 1.5, 2.5]}


def _line(line: Line2D, px: float, height: float) -> dict:
    data = np.asarray(line.get_xydata(), dtype=float).reshape(-1, 2)  # x and y broadcast (tick lines)
    xy = line.get_transform().transform(data) if len(data) else data
    ls = line.get_linestyle()
    marker = line.get_marker()
    marker = None if marker in (None, "None", "none", "", " ") else str(marker)
    return {
        "kind": "line", "xy": _points(xy, height), "clip": _clip(line, height),
        "color": _css(mcolors.to_rgba(line.get_color(), line.get_alpha())),
        "lw": None if ls in ("None", "none", "", " ") else round(line.get_linewidth() * px, 2),
        "dash": [round(d * line.get_linewidth() * px / 1.5, 2) for d in _DASHES.get(ls) or []] or None,
        "marker": marker, "ms": round(line.get_markersize() * px, 2),
        "mfc": _css(mcolors.to_rgba(line.get_markerfacecolor(), line.get_alpha()))
        if str(line.get_markerfacecolor()).lower() != "none" else None,
        "mec": _css(mcolors.to_rgba(line.get_markeredgecolor(), line.get_alpha()))
        if str(line.get_markeredgecolor()).lower() != "none" else None,
        "mew": round(line.get_markeredgewidth() * px, 2),
    }


def _patch(patch: Patch, px: float, height: float) -> dict:
    path = patch.get_transform().transform_path(patch.get_path())
    lw = patch.get_linewidth() * px
    return {"kind": "polygon", "xy": _points(path.vertices, height), "clip": _clip(patch, height),
            "fill": _css(patch.get_facecolor()) if patch.get_fill() else None,
            "stroke": _css(patch.get_edgecolor()) if lw > 0 else None, "lw": round(lw, 2)}


def _image(image: AxesImage, px: float, height: float) -> dict:
    rgba = image.to_rgba(image.get_array(), bytes=True)
    if image.origin == "lower":
        rgba = rgba[::-1]
    x0, x1, y0, y1 = image.get_extent()
    corners = image.axes.transData.transform([[x0, y1], [x1, y0]])  # top left, bottom right
    return {"kind": "image", "w": int(rgba.shape[1]), "h": int(rgba.shape[0]),
            "rgba": np.ascontiguousarray(rgba).tobytes(),  # a binary buffer of the message, not JSON
            "xy": _points(corners, height), "clip": _clip(image, height),
            "smooth": image.get_interpolation() not in ("nearest", "none")}


def _collection(lc: LineCollection, px: float, height: float) -> dict:
    lc.update_scalarmappable()
    segs = lc.get_segments()
    tr = lc.get_transform()
    colors = lc.get_edgecolor()
    widths = lc.get_linewidths()
    return {"kind": "segments", "clip": _clip(lc, height),
            "lines": [_points(tr.transform(s) if len(s) else s, height) for s in segs],
            "colors": [_css(colors[i % len(colors)]) for i in range(len(segs))] if len(colors) else [],
            "lw": [round(float(widths[i % len(widths)]) * px, 2) for i in range(len(segs))]}


LAYERS = {Line2D: _line, AxesImage: _image, LineCollection: _collection, Patch: _patch}


def layer(artist, dpi: float, height: float) -> dict | None:
    """One artist as a layer the front end paints (None when it is invisible).

    Raises TypeError for an artist type the front end cannot paint (the types in :data:`LAYERS`).
    """
    if not artist.get_visible():
        return None
    for kind, convert in LAYERS.items():
        if isinstance(artist, kind):
            out = convert(artist, dpi / 72.0, height)
            out["z"] = float(artist.get_zorder())
            return out
    raise TypeError(f"artist: the browser canvas paints {tuple(k.__name__ for k in LAYERS)}, "
                    f"got {type(artist).__name__}")


def _text(text, px: float, height: float) -> dict | None:
    s = text.get_text()
    if not text.get_visible() or not s:
        return None
    s = re.sub(r"^\$\\mathdefault\{(.*)\}\$$", r"\1", s)
    x, y = text.get_transform().transform(text.get_unitless_position())
    return {"kind": "text", "s": s, "xy": [round(float(x), 1), round(height - float(y), 1)],
            "size": round(text.get_fontsize() * px, 2), "color": _css(text.get_color()),
            "ha": text.get_horizontalalignment(), "va": text.get_verticalalignment(),
            "rot": float(text.get_rotation())}


def drawn_ticks(axis) -> list:
    """The ticks a draw of ``axis`` would draw now, placed and labelled: matplotlib's own (private)
    ``Axis._update_ticks``, the one place this module and the still picture rely on it."""
    return axis._update_ticks()


def tick_layers(ax, dpi: float, height: float) -> dict:
    """The ticks, tick labels, grid lines and offset texts of ``ax`` as one layer (a ``group``).

    For axes whose limits follow the model (a loss curve's): the browser paints their ticks, so a new
    limit costs no new still picture. Uses matplotlib's own tick machinery (locator, formatter, tick
    artists) to place them, as a draw would.
    """
    px = dpi / 72.0
    out = []
    for axis in (ax.xaxis, ax.yaxis):
        if not axis.get_visible():
            continue
        for tick in drawn_ticks(axis):
            if not tick.get_visible():
                continue
            for art in (tick.gridline, tick.tick1line, tick.tick2line):
                if art.get_visible():
                    out.append(_line(art, px, height))
            out += [_text(t, px, height) for t in (tick.label1, tick.label2)]
        out.append(_text(axis.offsetText, px, height))
    return {"kind": "group", "layers": [L for L in out if L is not None], "z": float(ax.xaxis.get_zorder())}


def scene(artists, fig, extra=()) -> dict:
    """The moving artists of ``fig`` as layers, with ``extra`` layers (ticks), in z-order."""
    height = fig.bbox.height
    layers = [layer(a, fig.dpi, height) for a in artists]
    layers = [L for L in layers if L is not None] + list(extra)
    return {"layers": sorted(layers, key=lambda L: L["z"])}
