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


def open_lecture(page, lab_server, course_file, relpath: str) -> Notebook:
    return Notebook.open(page, lab_server, course_file(relpath))


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

    report = nb.widget_report()
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
    return report


@pytest.mark.parametrize("relpath", all_lectures(), ids=lambda p: Path(p).stem)
def test_lecture_runs_in_jupyterlab(page, lab_server, course_file, relpath):
    nb = open_lecture(page, lab_server, course_file, relpath)
    source = notebook_source(relpath)
    interactive = Path(relpath).stem in INTERACTIVE.values()
    nb.run_all()
    assert_ran_cleanly(
        nb,
        expect_widgets=bool(WIDGETS.search(source)) or interactive,
        expect_canvas=bool(IPYMPL.search(source)) or interactive,
    )


def test_perceptron_step_and_play_redraw(page, lab_server, course_file):
    nb = open_lecture(page, lab_server, course_file, lecture_path("01"))
    nb.run_all()
    assert nb.widget_report()["canvases"] >= 1, "the perceptron widget shows no ipympl canvas"
    before = nb.wait_for_canvas_stable()
    nb.button("step").first.click()
    after_step = nb.wait_for_canvas_change(before)
    assert after_step != before, "pressing 'step' did not change the perceptron figure"

    # Play animates: the canvas keeps changing without further clicks; pause stops it.
    play = nb.panel.locator(".widget-play").first
    play.locator("button").first.click()  # the play button
    after_play = nb.wait_for_canvas_change(nb.canvas_png())
    assert after_play != after_step, "pressing play did not animate the perceptron figure"
    play.locator("button").nth(1).click()  # pause


def test_optimizer_learning_rate_slider_redraws(page, lab_server, course_file):
    nb = open_lecture(page, lab_server, course_file, lecture_path("06"))
    nb.run_all()
    assert nb.widget_report()["canvases"] >= 1, "the optimizer widget shows no ipympl canvas"
    before = nb.wait_for_canvas_stable()
    old, new = nb.nudge_slider("lr", "ArrowRight", presses=4)
    assert new != old, f"the learning-rate slider did not move with the keyboard (readout {old!r})"
    after = nb.wait_for_canvas_change(before)
    assert after != before, f"moving the learning rate {old} -> {new} did not redraw the trajectories"


def test_approximation_hidden_units_slider_redraws(page, lab_server, course_file):
    nb = open_lecture(page, lab_server, course_file, lecture_path("05"))
    nb.run_all()
    assert nb.widget_report()["canvases"] >= 1, "the approximation widget shows no ipympl canvas"
    before = nb.wait_for_canvas_stable()
    old, new = nb.nudge_slider("hidden", "ArrowRight", presses=5)
    assert new != old, f"the hidden-units slider did not move with the keyboard (readout {old!r})"
    after = nb.wait_for_canvas_change(before)
    assert after != before, f"changing the hidden units {old} -> {new} did not redraw the fit"
