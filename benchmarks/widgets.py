"""Widget responsiveness: the kernel-side cost of one interaction with each lecture widget.

An interaction is what a student does: move a slider, pick from a dropdown, click a button, or let the
Play control advance one animation frame. Each is driven through the ipywidgets control itself (setting
``.value`` or ``.click()``, so the widget's own observers run), then the figure is rendered on its Agg
canvas with ``fig.canvas.draw()`` (ipympl's canvas is an Agg canvas too; the browser only receives the
image). The static PNG encoding is switched off for that column (``auto_render = False``) and measured
separately in the last column (static mode: handler + draw + PNG, what a kernel without ipympl sends).

Target: median under 30 ms (a 30 fps animation). Nothing is asserted.

Usage: ``python benchmarks/widgets.py [--quick] [--repeats 30]``
"""

from __future__ import annotations

import argparse
import itertools
import time

import matplotlib

matplotlib.use("Agg")

from _common import machine_info, median, p95, print_header, table  # noqa: E402

TARGET_MS = 30.0


def _alternate(control, values):
    """An action that sets ``control.value`` to the next of ``values`` (cycling), so every call changes it."""
    cycle = itertools.cycle(values)

    def act():
        control.value = next(cycle)
    return act


def _cycle_options(dropdown):
    """An action that steps a dropdown through its other options and back to the current one."""
    current = dropdown.value
    return _alternate(dropdown, [o for o in dropdown.options if o != current] + [current])


def _advance(play):
    """An action that moves a Play control one frame forward (back to 1 after its last frame)."""
    def act():
        play.value = play.value + 1 if play.value < play.max else 1
    return act


def interactions():
    """(widget name, factory) -> list of (interaction name, action(widget))."""
    from nnkit.widgets import ApproximationWidget, DecisionBoundaryWidget, OptimizerWidget, PerceptronWidget

    return [
        ("PerceptronWidget", lambda: PerceptronWidget(mode="static"), [
            ("play: one presentation", lambda w: _advance(w.play)),
            ("step button", lambda w: w.step_button.click),
            ("lr slider", lambda w: _alternate(w.lr, [0.1, 1.0])),
            ("dataset dropdown", lambda w: _cycle_options(w.dataset)),
        ]),
        ("OptimizerWidget", lambda: OptimizerWidget(mode="static"), [
            ("play: one step", lambda w: _advance(w.play)),
            ("lr slider", lambda w: _alternate(w.lr, [w.lr.value * 0.5, w.lr.value])),
            ("momentum slider", lambda w: _alternate(w.rho, [0.5, 0.9])),
            ("function dropdown", lambda w: _cycle_options(w.function)),
        ]),
        ("ApproximationWidget", lambda: ApproximationWidget(mode="static"), [
            ("play: one frame (25 epochs)", lambda w: _advance(w.play)),
            ("hidden-units slider", lambda w: _alternate(w.hidden, [12, 6])),
            ("target dropdown", lambda w: _cycle_options(w.target)),
        ]),
        ("DecisionBoundaryWidget", lambda: DecisionBoundaryWidget(mode="static"), [
            ("play: one frame (10 epochs)", lambda w: _advance(w.play)),
            ("hidden-units slider", lambda w: _alternate(w.hidden, [16, 8])),
            ("l2 slider", lambda w: _alternate(w.l2, [0.01, 0.0])),
            ("activation dropdown", lambda w: _cycle_options(w.activation)),
        ]),
    ]


def time_action(widget, action, repeats, warmup, how):
    """Milliseconds of ``repeats`` calls of ``action()`` followed by bringing the pixels up to date.

    ``how``: "draw" - a full ``fig.canvas.draw()`` (Agg) after the handler; "render" - the widget's own
    ``render()`` (blitting only the artists that change, when the widget supports it); "png" - static
    mode as a student without ipympl gets it (the handler's redraw renders and encodes the PNG).
    """
    widget.auto_render = how == "png"
    times = []
    for i in range(warmup + repeats):
        t0 = time.perf_counter()
        action()
        if how == "draw":
            widget.fig.canvas.draw()
        elif how == "render":
            widget.render()
        dt = 1000.0 * (time.perf_counter() - t0)
        if i >= warmup:
            times.append(dt)
    widget.auto_render = True
    return times


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the Play frame of each widget only, 2 repeats")
    ap.add_argument("--repeats", type=int, default=None, help="timed interactions each (default 30)")
    args = ap.parse_args(argv)
    repeats = args.repeats or (2 if args.quick else 30)
    warmup = 1 if args.quick else 3
    print_header("Widget responsiveness: one interaction = handler + Agg draw", machine_info(
        matplotlib=f"{matplotlib.__version__} (Agg)",
        repeats=f"{repeats} timed interactions after {warmup} warm-up, per row"),
        [f"target: median < {TARGET_MS:.0f} ms (30 fps)",
         "PerceptronWidget's lr slider only sets the rate (the widget does not redraw; the draw is timed)"])
    rows = []
    for wname, factory, acts in interactions():
        t0 = time.perf_counter()
        widget = factory()
        build_ms = 1000.0 * (time.perf_counter() - t0)
        own = "render" if callable(getattr(widget, "render", None)) else "draw"
        rows.append([wname, "(construction, once)", build_ms, None, None, None, None, ""])
        draw = time_action(widget, lambda: None, repeats, warmup, "draw")
        rows.append(["", "(full Agg draw alone, no change)", median(draw), p95(draw), None, None, None, ""])
        for iname, make in acts[:1] if args.quick else acts:
            full = time_action(widget, make(widget), repeats, warmup, "draw")
            mine = time_action(widget, make(widget), repeats, warmup, own) if own == "render" else full
            png = time_action(widget, make(widget), max(1 if args.quick else 3, repeats // 3), 1, "png")
            med = median(mine)
            rows.append(["", iname, median(full), p95(full), med, p95(mine), median(png),
                         "yes" if med < TARGET_MS else "NO"])
    print(table(["widget", "interaction", "full draw ms", "p95", "own render ms", "p95", "static+PNG ms",
                 f"< {TARGET_MS:.0f} ms"], rows))
    print("full draw: handler + fig.canvas.draw(); own render: handler + the widget's render() (blits the "
          "changing artists\n onto a cached background when it can; = full draw for a widget without "
          f"render()); the < {TARGET_MS:.0f} ms verdict uses own render's median")
    return rows


if __name__ == "__main__":
    main()
