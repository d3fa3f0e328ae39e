"""Every lecture opened in JupyterLab, run with Run > Run All Cells, checked as a student sees it.

A lecture passes when no cell shows an error (in the page, and in the notebook as saved from the page),
every widget output rendered as a live widget view (never the plain-text ``VBox(...)`` repr, "Error
displaying widget" or "Loading widget..."), and the notebooks that use ipympl show a matplotlib canvas.
The three widget lectures are then driven like a lecturer would: press step, nudge a slider with the
keyboard, and the figure on the ipympl canvas must change.

Every lecture's outputs must also fit the notebook column as a student sees it in a 1400 px window with
the file browser open: no output scrolls or sticks out horizontally, and no image is shown shrunk below
its natural width (shrunk figures have unreadable labels). The measurement is taken in the same run.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ._lab_ui import Notebook, saved_errors, saved_widget_views
from ._paths import SOURCE

pytestmark = pytest.mark.browser

# The lectures whose live widget is driven below; each must draw on an ipympl canvas.
INTERACTIVE = {"01": "01_perceptron", "05": "05_universal_approximation", "06": "06_optimizers"}
IPYMPL = re.compile(r"%matplotlib\s+(widget|ipympl)|import ipympl|matplotlib\.use\(['\"](module://)?ipympl")
PERCEPTRON_STATUS = re.compile(r"epoch (\d+), example (\d+)/(\d+)")
WIDGETS = re.compile(r"ipywidgets|nnkit\.widgets|%matplotlib\s+(widget|ipympl)|\binteract(ive)?\(")


def lecture_path(number: str) -> str:
    """``lectures/<number>_*.ipynb`` as found in the repository (or the expected name when missing)."""
    found = sorted((SOURCE / "lectures").glob(f"{number}_*.ipynb"))
    if found:
        return f"lectures/{found[0].name}"
    known = {"08": "08_digit_classifier", **INTERACTIVE}
    return f"lectures/{known.get(number, number + '_*')}.ipynb"


def all_lectures() -> list[str]:
    """The eight numbered lectures (missing ones included, so they show up as skips) and any extra."""
    paths = [lecture_path(f"{n:02d}") for n in range(1, 9)]
    extra = sorted(f"lectures/{p.name}" for p in (SOURCE / "lectures").glob("*.ipynb"))
    return paths + [p for p in extra if p not in paths]


def notebook_source(relpath: str) -> str:
    import json

    cells = json.loads((SOURCE / relpath).read_text())["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def assert_ran_cleanly(nb: Notebook, expect_widgets: bool, expect_canvas: bool) -> dict:
    shown_errors = nb.error_outputs()
    assert not shown_errors, f"{nb.path}: error output in the page:\n" + "\n---\n".join(shown_errors)
    saved = nb.save()
    assert not saved_errors(saved), f"{nb.path}: error outputs in the saved notebook: {saved_errors(saved)}"
    unexecuted = [
        i for i, c in enumerate(saved["cells"])
        if c["cell_type"] == "code" and "".join(c["source"]).strip() and c.get("execution_count") is None
    ]  # fmt: skip
    assert not unexecuted, f"{nb.path}: code cells {unexecuted} did not run"

    report = nb.wait_for_figures()
    assert not report["failed"], f"{nb.path}: widgets failed to display: {report['failed']}"
    assert not report["plain_reprs"], f"{nb.path}: widgets shown as plain text: {report['plain_reprs']}"
    expected_views = saved_widget_views(saved)
    assert report["top_views"] == expected_views, (
        f"{nb.path}: the notebook holds {expected_views} widget outputs but the page rendered "
        f"{report['top_views']} as widgets ({report})"
    )
    if expect_widgets:
        assert report["top_views"] >= 1, f"{nb.path}: uses widgets but none is shown ({report})"
    if expect_canvas:
        assert report["figures"] >= 1 and report["canvases"] >= 1, f"{nb.path}: no ipympl canvas ({report})"
    assert not report["undrawn"], (
        f"{nb.path}: ipympl figures shown but never drawn: {report['undrawn']}; "
        f"browser console errors: {nb.console_errors}"
    )
    return report


# What the column check found in the run of each lecture (the run is shared with the clean-run test).
OVERFLOWS: dict[str, list[str]] = {}

# For every top-level output: does it scroll or stick out sideways, and is any image shown shrunk?
MEASURE_OUTPUT = """(o) => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    const cell = [...panel.querySelectorAll('.jp-Notebook .jp-Cell')].indexOf(o.closest('.jp-Cell'));
    const box = o.getBoundingClientRect();
    const cls = el => (typeof el.className === 'string' ? el.className.trim().split(/\\s+/)[0] : '');
    const what = el => el.tagName.toLowerCase() + (cls(el) ? '.' + cls(el) : '');
    const found = [];
    if (o.scrollWidth > o.clientWidth + 1)
        found.push(`cell ${cell}: output scrolls sideways `
                   + `(content ${o.scrollWidth} px, column ${o.clientWidth} px)`);
    const parts = o.querySelectorAll('img, canvas, svg, .jupyter-matplotlib-figure, .jupyter-widgets');
    const widest = [...parts].find(el => el.getBoundingClientRect().right > box.right + 1);
    if (widest) {
        const r = widest.getBoundingClientRect();
        found.push(`cell ${cell}: ${what(widest)} ends ${Math.round(r.right - box.right)} px beyond `
                   + `the column (${Math.round(r.width)} px wide, column ${Math.round(box.width)} px)`);
    }
    for (const img of o.querySelectorAll('img')) {
        const shown = img.getBoundingClientRect().width * window.devicePixelRatio;
        if (img.naturalWidth && shown + 1 < img.naturalWidth)
            found.push(`cell ${cell}: image shown at ${Math.round(100 * shown / img.naturalWidth)}% `
                       + `of its width (${img.naturalWidth} px in ${Math.round(shown)} px)`);
    }
    return {found: found, width: Math.round(box.width)};
}"""


def open_file_browser(nb: Notebook) -> None:
    """Open the left sidebar's file browser (as a student has it), if it is not open already."""
    browser_panel = nb.page.locator("#filebrowser")
    if browser_panel.count() and browser_panel.first.is_visible():
        return
    nb.page.locator('.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="filebrowser"]').first.click()
    browser_panel.first.wait_for(state="visible")
    nb.page.wait_for_timeout(500)  # let the notebook re-layout


def column_overflows(nb: Notebook) -> tuple[list[str], int]:
    """Every output (top level, each scrolled into view) measured against the notebook column."""
    open_file_browser(nb)
    outputs = nb.panel.locator(".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output")
    found, widths = [], []
    for k in range(outputs.count()):
        out = outputs.nth(k)
        out.scroll_into_view_if_needed()
        report = out.evaluate(MEASURE_OUTPUT)
        found += report["found"]
        widths.append(report["width"])
    return found, min(widths, default=0)


@pytest.mark.parametrize("relpath", all_lectures(), ids=lambda p: Path(p).stem)
def test_lecture_runs_in_jupyterlab(run_lecture, course_file, relpath):
    source = notebook_source(course_file(relpath))
    interactive = Path(relpath).stem in INTERACTIVE.values()
    nb = run_lecture(relpath, keep=interactive)  # the widget tests below reuse the run
    assert_ran_cleanly(
        nb,
        expect_widgets=bool(WIDGETS.search(source)) or interactive,
        expect_canvas=bool(IPYMPL.search(source)) or interactive,
    )
    OVERFLOWS[relpath], _ = column_overflows(nb)


@pytest.mark.parametrize("relpath", all_lectures(), ids=lambda p: Path(p).stem)
def test_lecture_outputs_fit_the_column(run_lecture, course_file, relpath):
    course_file(relpath)
    if relpath not in OVERFLOWS:  # the clean-run test did not get that far: run and measure here
        nb = run_lecture(relpath, keep=Path(relpath).stem in INTERACTIVE.values())
        OVERFLOWS[relpath], _ = column_overflows(nb)
    found = OVERFLOWS[relpath]
    assert not found, (
        f"{relpath}: outputs wider than the notebook column (1400 px window, file browser open):\n"
        + "\n".join(found)
    )


def live_widget(nb: Notebook, control, what: str):
    """The cell output holding ``control``; asserts it shows a drawn ipympl figure."""
    control.first.wait_for()
    widget = nb.output_with(control)
    report = nb.wait_for_figures()
    assert widget.locator(".jupyter-matplotlib-canvas-div, canvas.nnkit-canvas").count() >= 1, (
        f"the {what} shows no figure canvas (ipympl's or its browser front end's) next to its controls "
        f"({report})"
    )
    assert not report["undrawn"], (
        f"{nb.path}: ipympl figures never drawn: {report['undrawn']}; console errors: {nb.console_errors}"
    )
    return widget


def presentations(widget) -> int | None:
    """Examples presented so far, read from the perceptron widget's status line, if it shows one."""
    match = PERCEPTRON_STATUS.search(widget.inner_text())
    if match is None:
        return None
    epoch, example, n = (int(g) for g in match.groups())
    return (epoch - 1) * n + example


def test_perceptron_step_and_play_redraw(run_lecture, course_file):
    nb = run_lecture(course_file(lecture_path("01")))
    widget = live_widget(nb, nb.button("step"), "perceptron widget")
    before = nb.wait_for_canvas_stable(widget)
    t0 = presentations(widget)
    widget.locator("button.jupyter-button", has_text="step").first.click()
    after_step = nb.wait_for_canvas_change(before, widget)
    assert after_step != before, "pressing 'step' did not change the perceptron figure"
    if t0 is not None:
        assert presentations(widget) == t0 + 1, f"one step presented {presentations(widget) - t0} examples"

    # Play animates: the figure keeps changing with no further clicks.
    play_button = widget.locator(".nnkit-player button, .widget-play button").first
    play_button.click()
    after_play = nb.wait_for_canvas_change(nb.canvas_png(widget), widget)
    assert after_play != after_step, "pressing play did not animate the perceptron figure"
    if t0 is not None:  # and it keeps presenting examples, frame after frame
        t1 = presentations(widget)
        nb.wait_for_canvas_change(nb.canvas_png(widget), widget)
        nb.wait_for_canvas_change(nb.canvas_png(widget), widget)
        assert presentations(widget) > t1, f"play stopped presenting examples at {t1}"
    play_button.click()  # pause


def test_optimizer_learning_rate_slider_redraws(run_lecture, course_file):
    nb = run_lecture(course_file(lecture_path("06")))
    widget = live_widget(nb, nb.slider("lr"), "optimizer widget")
    before = nb.wait_for_canvas_stable(widget)
    old, new = nb.nudge_slider("lr", "ArrowRight", presses=4, scope=widget)
    assert new != old, f"the learning-rate slider did not move with the keyboard (readout {old!r})"
    after = nb.wait_for_canvas_change(before, widget)
    assert after != before, f"moving the learning rate {old} -> {new} did not redraw the trajectories"


def test_approximation_hidden_units_slider_redraws(run_lecture, course_file):
    nb = run_lecture(course_file(lecture_path("05")))
    widget = live_widget(nb, nb.slider("hidden"), "approximation widget")
    before = nb.wait_for_canvas_stable(widget)
    old, new = nb.nudge_slider("hidden", "ArrowRight", presses=5, scope=widget)
    assert new != old, f"the hidden-units slider did not move with the keyboard (readout {old!r})"
    after = nb.wait_for_canvas_change(before, widget)
    assert after != before, f"changing the hidden units {old} -> {new} did not redraw the fit"
