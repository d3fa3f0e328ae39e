"""Widget responsiveness as the lecturer sees it: from input to changed pixels, in a real browser.

The script starts its own JupyterLab (the browser tests' throw-away server: random port and token,
isolated Jupyter directories, a temporary folder) and headless Chromium (Playwright, Debian's
``/usr/bin/chromium``), opens a notebook that shows every lecture widget, and drives each control the way
a lecturer does: a key press on a slider's handle, a click on a button or checkbox, a changed selection
in a dropdown, the Play button.

What is timed, in the page's own clock (``performance.now()``), with a probe installed in the page: the
moment the input event reached the document (capture phase), and the first animation frame after it in
which the widget's pixels differ (every ``<canvas>`` of the widget read with ``getImageData`` and hashed
once per frame, plus the ``src`` of a static ``<img>``). A frame is ~16 ms, so a latency is known to that
resolution and errs long. Play: the frames with changed pixels during a few seconds of playing, as
frames per second, and the longest gap between two of them.

Every widget is measured in each display mode asked for (default: ``ipympl``, the matplotlib canvas the
widgets used before, and ``browser``, the front end that draws the moving artists itself), one kernel at a
time, so the modes are peers in the same run. Targets (issue 14, this 2-core machine): sliders, buttons
and Play frames p50 < 50 ms and p95 < 100 ms; dropdowns p50 < 100 ms; Play >= 20 fps, no gap > 150 ms.
Nothing is asserted: the verdict column only reports.

Usage: ``python benchmarks/widgets_browser.py [--quick] [--modes ipympl browser] [--repeats 10]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import machine_info, median, p95, print_header, table  # noqa: E402

# Targets of issue 14 in ms (p50, p95); a dropdown has no p95 target.
TARGETS = {"slider": (50.0, 100.0), "button": (50.0, 100.0), "checkbox": (50.0, 100.0),
           "dropdown": (100.0, None)}
PLAY_FPS, PLAY_GAP = 20.0, 150.0

# One declaration of what is measured: name -> (constructor, controls as (kind, label)).
# A slider is nudged with ArrowRight/ArrowLeft alternately, a dropdown steps through its options, a
# button or checkbox is clicked; a widget with a Play control is also played. "Floor" is the reference:
# one line moved by a slider, in the same figure machinery, so its latency is the cost of the round trip
# (browser, server, kernel, server, browser) and the paint, with next to no computing.
# Perceptron's lr slider is left out: it changes the rate, not the picture.
WIDGETS = {
    "Floor": ("Floor", [("slider", "k")]),
    "PerceptronWidget": ("W.PerceptronWidget", [("button", "step"), ("dropdown", "data")]),
    "OptimizerWidget": ("W.OptimizerWidget", [("slider", "lr"), ("slider", "ρ"), ("checkbox", "momentum"),
                                              ("dropdown", "f")]),
    "ApproximationWidget": ("W.ApproximationWidget", [("slider", "hidden"), ("dropdown", "target")]),
    "DecisionBoundaryWidget": ("W.DecisionBoundaryWidget", [
        ("slider", "hidden"), ("slider", "layers"), ("button", "+100 epochs"), ("dropdown", "activation"),
        ("dropdown", "data")]),
}
FLOOR = """
import ipywidgets
from nnkit.widgets import FigureWidget


class Floor(FigureWidget):
    def __init__(self, mode):
        super().__init__(figsize=(4.0, 2.0), mode=mode)
        ax = self.fig.subplots()
        ax.set_ylim(0, 10)
        self.line, = ax.plot([0, 1], [0, 0], lw=3)
        self.dynamic = [self.line]
        self.k = ipywidgets.IntSlider(0, min=0, max=10, description="k")
        self.controls = [self.k]
        self.freeze_layout()
        self.k.observe(lambda c: (self.line.set_ydata([c.new, c.new]), self.redraw()), names="value")
"""

# Installed once per page. ``arm(root)`` points the probe at one widget's output; it then records input
# events (capture phase, so before any widget handler) and every animation frame whose pixels changed.
PROBE = """() => {
    if (window.__probe) return;
    const P = window.__probe = {root: null, events: [], changes: [], last: null};
    const digest = () => {
        if (!P.root) return null;
        let h = 2166136261 >>> 0;
        for (const c of P.root.querySelectorAll('canvas')) {
            if (!c.width || !c.height) continue;
            const ctx = c.getContext('2d');
            if (!ctx) continue;
            const d = new Uint32Array(ctx.getImageData(0, 0, c.width, c.height).data.buffer);
            for (let i = 0; i < d.length; i++) h = Math.imul(h ^ d[i], 16777619);
        }
        const imgs = [...P.root.querySelectorAll('img')].filter(i => i.complete).map(i => i.src.slice(-48));
        return h + '|' + imgs.join(',');
    };
    const tick = () => {
        const now = performance.now();
        const d = digest();
        if (d !== null && P.last !== null && d !== P.last) P.changes.push(now);
        P.last = d;
        requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
    for (const type of ['keydown', 'click', 'change'])
        document.addEventListener(type, e => P.events.push({type: type, t: performance.now()}), true);
    P.arm = root => { P.root = root; P.last = null; P.events = []; P.changes = []; };
}"""

# --trace: where an interaction's time goes. The kernel stamps each scene with the wall-clock times at
# which the last widget message arrived, the scene's making began and ended; the front end records each
# scene's arrival and paint in ``window.__nnkitTrace`` (see _canvas.js).
TRACE_KERNEL = """
import time as _time
import ipywidgets as _ipw
from nnkit.widgets import _base as _wb
_last_msg = [0.0]
_handle = _ipw.Widget._handle_msg
def _traced_handle(self, msg):
    _last_msg[0] = _time.time()
    return _handle(self, msg)
_ipw.Widget._handle_msg = _traced_handle
_scene = _wb.FigureWidget._browser_scene
def _traced_scene(self):
    t0 = _time.time()
    out = _scene(self)
    out["t"] = [_last_msg[0], t0, _time.time()]
    return out
_wb.FigureWidget._browser_scene = _traced_scene
"""
SEGMENTS = ("to kernel", "handler", "scene", "kernel to ws", "ws to model", "in browser", "to frame")
# --trace, in the page before JupyterLab loads: the arrival time of every websocket message that carries
# a scene (its frame number), before JupyterLab's own handler sees it.
TRACE_WEBSOCKET = """(() => {
    const Native = window.WebSocket;
    const decoder = new TextDecoder();
    window.__wsScenes = {};
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            this.addEventListener('message', (e) => {
                const t = performance.timeOrigin + performance.now();
                const text = typeof e.data === 'string' ? e.data : decoder.decode(e.data);
                const m = text.includes('"layers"') && /"frame":\\s*(\\d+)/.exec(text);
                if (m && !(m[1] in window.__wsScenes)) window.__wsScenes[m[1]] = t;
            });
        }
    };
})();"""

EVENT = {"slider": "keydown", "button": "click", "checkbox": "click", "dropdown": "change"}


def notebook(mode: str, trace: bool = False) -> dict:
    """A notebook with one cell per widget (in ``mode``), plus the set-up cell."""
    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
              "source": "%matplotlib widget\nimport nnkit.widgets as W\n" + FLOOR
              + (TRACE_KERNEL if trace else "")}]
    for make, _controls in WIDGETS.values():
        cells.append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                      "source": f"{make}(mode={mode!r})"})
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


class Bench:
    """One notebook open in a page, with the probe installed."""

    def __init__(self, nb, quiet_ms: float = 300.0, trace: bool = False):
        self.nb, self.page, self.quiet_ms = nb, nb.page, quiet_ms
        self.page.evaluate(PROBE)
        self.trace = trace
        self.segments: list[dict] = []  # with trace: one per timed interaction
        if trace:
            self.page.evaluate("() => { window.__nnkitTrace = []; }")

    def arm(self, root) -> None:
        root.scroll_into_view_if_needed()
        root.evaluate("r => window.__probe.arm(r)")

    def state(self) -> dict:
        return self.page.evaluate("() => ({events: window.__probe.events, changes: window.__probe.changes,"
                                  " now: performance.now()})")

    def reset_log(self) -> None:
        self.page.evaluate("() => { window.__probe.events = []; window.__probe.changes = [];"
                           " if (window.__nnkitTrace) window.__nnkitTrace = [];"
                           " if (window.__wsScenes) window.__wsScenes = {}; }")

    def breakdown(self, event_t: float, change_t: float) -> dict | None:
        """With trace: the segments of the interaction whose input came at ``event_t`` (page clock) and
        whose first changed frame was at ``change_t``: input to the kernel's receipt of the message, the
        handler up to the scene, making the scene, the scene to the front end, its paint, the frame."""
        T = self.page.evaluate("() => ({trace: window.__nnkitTrace || [], origin: performance.timeOrigin,"
                               " ws: window.__wsScenes || {}})")
        origin, records = T["origin"], T["trace"]
        paints = [r for r in records
                  if r["kind"] == "paint" and r["t"] <= origin + change_t and r.get("kernel")]
        if not paints:
            return None
        paint = paints[-1]
        recv = next((r for r in records if r["kind"] == "recv" and r["frame"] == paint["frame"]), None)
        if recv is None:  # a repaint of a scene that came before the input
            return None
        k_msg, k_start, k_end = (1000.0 * v for v in paint["kernel"])
        ws = T["ws"].get(str(paint["frame"]), float("nan"))
        times = [origin + event_t, k_msg, k_start, k_end, ws, recv["t"], paint["t"], origin + change_t]
        return dict(zip(SEGMENTS, np.diff(times)))

    def wait_quiet(self, timeout_s: float = 15.0) -> None:
        """Until no pixel changed for ``quiet_ms`` (the previous interaction has finished drawing)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s = self.state()
            if not s["changes"] or s["now"] - s["changes"][-1] > self.quiet_ms:
                return
            self.page.wait_for_timeout(50)

    def latency(self, act, event: str, timeout_s: float = 20.0) -> float | None:
        """Milliseconds from the ``event`` that ``act()`` causes to the first changed frame (None: none)."""
        self.wait_quiet()
        self.page.wait_for_timeout(self.quiet_ms)
        self.reset_log()
        act()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            s = self.state()
            starts = [e["t"] for e in s["events"] if e["type"] == event]
            if starts:
                after = [t for t in s["changes"] if t >= starts[0]]
                if after:
                    if self.trace:
                        self.segments.append(self.breakdown(starts[0], after[0]))
                    return after[0] - starts[0]
            self.page.wait_for_timeout(20)
        return None

    def play(self, root, seconds: float) -> dict:
        """Press Play, watch ``seconds``, pause; frames per second and the longest gap between frames."""
        buttons = root.locator(".nnkit-player button, .widget-play button")  # play, pause, ...
        self.wait_quiet()
        self.reset_log()
        buttons.nth(0).click()
        self.page.wait_for_timeout(int(1000 * seconds))
        s = self.state()
        buttons.nth(1).click()  # pause
        starts = [e["t"] for e in s["events"] if e["type"] == "click"]
        t0 = starts[0] if starts else s["changes"][0]
        frames = [t for t in s["changes"] if t >= t0]
        if len(frames) < 2:
            return {"frames": len(frames), "fps": 0.0, "gap": float("inf"), "first": None}
        gaps = np.diff(frames)
        return {"frames": len(frames), "fps": (len(frames) - 1) / (frames[-1] - frames[0]) * 1000.0,
                "gap": float(gaps.max()), "first": frames[0] - t0}


def control_action(nb, root, kind: str, label: str, i: int):
    """The input of interaction ``i`` with control (kind, label) inside ``root``."""
    import re

    page = nb.page
    if kind == "slider":
        handle = nb.slider(label, root).first.locator(".noUi-handle").first
        key = "ArrowRight" if i % 2 == 0 else "ArrowLeft"
        return lambda: (handle.focus(), page.keyboard.press(key))
    if kind == "button":
        button = root.locator("button.jupyter-button", has_text=re.compile(f"^\\s*{re.escape(label)}\\s*$"))
        return lambda: button.first.click()
    if kind == "checkbox":
        box = root.locator(".widget-checkbox").filter(has_text=label).first.locator("input")
        return lambda: box.click()
    if kind == "dropdown":
        select = root.locator(".widget-dropdown").filter(
            has=page.locator("label", has_text=re.compile(f"^\\s*{re.escape(label)}\\s*$"))).first.locator(
            "select")
        options = select.locator("option").all_inner_texts()
        current = select.evaluate("s => s.options[s.selectedIndex].text")
        k = options.index(current)
        nxt = options[(k + 1) % len(options)]
        return lambda: select.select_option(label=nxt)
    raise ValueError(f"kind: expected one of {tuple(EVENT)}, got {kind!r}")


def measure_mode(browser, server, mode: str, repeats: int, play_s: float, widgets,
                 trace: bool = False) -> tuple[list[list], list[list]]:
    from tests.browser._lab_ui import Notebook
    from tests.browser.conftest import VIEWPORT

    path = f"bench/widgets_{mode}.ipynb"
    (Path(server.root) / path).write_text(json.dumps(notebook(mode, trace)))
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    if trace:
        context.add_init_script(TRACE_WEBSOCKET)
    page = context.new_page()
    rows, traced = [], []
    try:
        nb = Notebook.open(page, server, path)
        nb.run_all()
        errors = nb.error_outputs()
        if errors:
            raise RuntimeError(f"{mode}: the notebook failed:\n" + "\n".join(errors))
        bench = Bench(nb, trace=trace)
        for k, name in enumerate(WIDGETS, start=1):
            if name not in widgets:
                continue
            root = nb.cell(k).locator(".jp-OutputArea-output").first
            root.locator("canvas, img").first.wait_for()
            page.wait_for_timeout(1000)
            bench.arm(root)
            for kind, label in WIDGETS[name][1]:
                times = []
                bench.segments = []
                for i in range(repeats):
                    act = control_action(nb, root, kind, label, i)
                    ms = bench.latency(act, EVENT[kind])
                    times.append(float("inf") if ms is None else ms)
                p50, p95_ = median(times), p95(times)
                goal50, goal95 = TARGETS[kind]
                ok = p50 < goal50 and (goal95 is None or p95_ < goal95)
                rows.append([mode, name, f"{kind} '{label}'", len(times), p50, p95_,
                             f"p50<{goal50:.0f}" + (f", p95<{goal95:.0f}" if goal95 else ""),
                             "yes" if ok else "NO"])
                traced += trace_rows(name, f"{kind} '{label}'", times, bench.segments)
            if not root.locator(".nnkit-player button, .widget-play button").count():
                continue
            play = bench.play(root, play_s)
            ok = play["fps"] >= PLAY_FPS and play["gap"] <= PLAY_GAP
            rows.append([mode, name, f"play: {play['frames']} frames, {play['fps']:.1f} fps",
                         play["frames"], play["first"], play["gap"],
                         f">={PLAY_FPS:.0f} fps, gap<={PLAY_GAP:.0f}", "yes" if ok else "NO"])
            print(f"  {mode} {name} done", file=sys.stderr, flush=True)
    finally:
        context.close()
        server.shutdown_kernels()
    return rows, traced


def trace_rows(name: str, control: str, times: list, segments: list) -> list[list]:
    """The median of each segment, and the segments of the slowest interaction (what its time was)."""
    known = [(t, s) for t, s in zip(times, segments) if s is not None]
    if not known:
        return []
    med = [median([s[k] for _, s in known]) for k in SEGMENTS]
    slowest_t, slowest = max(known, key=lambda ts: ts[0])
    return [[name, control, "median", median([t for t, _ in known]), *med],
            [name, control, "slowest", slowest_t, *(slowest[k] for k in SEGMENTS)]]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 interactions per control, 1.5 s of Play, the browser mode only (smoke test)")
    ap.add_argument("--repeats", type=int, default=None, help="interactions per control (default 10)")
    ap.add_argument("--modes", nargs="+", default=None, choices=("ipympl", "browser", "static"),
                    help="display modes to compare (default: ipympl browser)")
    ap.add_argument("--widgets", nargs="+", default=list(WIDGETS), choices=list(WIDGETS))
    ap.add_argument("--play-seconds", type=float, default=None)
    ap.add_argument("--trace", action="store_true",
                    help="also print where each interaction's time went (browser mode: kernel and page "
                         "timestamps)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 10)
    play_s = args.play_seconds or (1.5 if args.quick else 4.0)
    modes = args.modes or (["browser"] if args.quick else ["ipympl", "browser"])

    from importlib.metadata import version

    import matplotlib

    from tests.browser._jupyterlab_server import JupyterLabServer
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    print_header("Widgets in the browser: input to changed pixels, JupyterLab + headless Chromium",
                 machine_info(matplotlib=matplotlib.__version__,
                              playwright=version("playwright"), anywidget=version("anywidget"),
                              chromium=CHROMIUM,
                              load=" / ".join(f"{v:.2f}" for v in os.getloadavg())
                              + " (1, 5, 15 min load average before the run: other work on the machine)",
                              repeats=f"{repeats} interactions per control, Play watched {play_s:.1f} s"),
                 ["latency: page clock, input event (capture phase) to the first animation frame with "
                  "changed pixels (~16 ms resolution)",
                  "play rows: 'n' = frames with changed pixels, 'p50' = first frame after the click, "
                  "'p95' = longest gap between frames (ms)"])
    rows, traced = [], []
    with tempfile.TemporaryDirectory(prefix="nnkit-widgets-bench-") as tmp:
        source = Path(tmp) / "source"
        (source / "bench").mkdir(parents=True)
        server = JupyterLabServer(source, ["bench"], Path(tmp) / "lab")
        from playwright.sync_api import sync_playwright

        try:
            server.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
                try:
                    for mode in modes:
                        more, more_traced = measure_mode(browser, server, mode, repeats, play_s, args.widgets,
                                                         args.trace)
                        rows += more
                        traced += more_traced
                finally:
                    browser.close()
        finally:
            server.stop()
    print(table(["mode", "widget", "control", "n", "p50 ms", "p95 ms", "target", "met"], rows))
    if traced:
        print("\nWhere the time went (ms, browser mode; 'slowest': the slowest interaction's segments):")
        print(table(["widget", "control", "which", "total", *SEGMENTS], traced))
    return rows


if __name__ == "__main__":
    main()
