"""Every lecture opened in JupyterLab, run with Run > Run All Cells, checked as a student sees it.

A lecture passes when no cell shows an error (in the page, and in the notebook as saved from the page),
every widget output rendered as a live widget view (never the plain-text ``VBox(...)`` repr, "Error
displaying widget" or "Loading widget..."), and the notebooks that use ipympl show a matplotlib canvas.
The three widget lectures are then driven like a lecturer would: press step, nudge a slider with the
keyboard, and the figure on the ipympl canvas must change.
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


def live_widget(nb: Notebook, control, what: str):
    """The cell output holding ``control``; asserts it shows a drawn ipympl figure."""
    control.first.wait_for()
    widget = nb.output_with(control)
    report = nb.wait_for_figures()
    assert widget.locator(".jupyter-matplotlib-canvas-div").count() >= 1, (
        f"the {what} shows no ipympl canvas next to its controls ({report})"
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
    play_button = widget.locator(".widget-play button").first
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
