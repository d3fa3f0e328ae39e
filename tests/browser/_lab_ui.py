"""Driving a JupyterLab notebook through its user interface with Playwright (sync API).

Owns the few UI gestures the browser tests need (open a notebook, Run All from the menu, wait until the
kernel is idle and no cell is queued, type into a cell, save) and readers for what a user would see
(error outputs, widget views, ipympl canvases). Everything goes through the page the user sees: no
``window.jupyterapp`` back door, so a broken menu or a missing extension fails the tests.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # playwright is imported only where a browser test actually runs
    from playwright.sync_api import Locator, Page

KERNEL_START_TIMEOUT = 180_000  # ms; a busy 2-core CI box can take a while to start a kernel
RUN_TIMEOUT = 600_000  # ms; the longest lecture still has to finish

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"  # in saved notebooks
STDERR = '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'
# Text that means a widget did not render as a widget.
WIDGET_FAILURE_TEXT = ("Error displaying widget", "Loading widget...", "Failed to load model class")
# The text/plain repr of an ipywidgets/ipympl widget, shown when no widget manager rendered it.
WIDGET_REPR = re.compile(
    r"^\s*(VBox|HBox|Box|GridBox|Tab|Accordion|Output|Button|\w*Slider|\w*Text|Dropdown|Checkbox|"
    r"ToggleButtons?|Play|Image|HTML|Label|Canvas|Figure|\w*Widget|interactive)\((children|layout|value|"
    r"description|toolbar|outputs|min|max|options)?"
)

_workspaces = itertools.count()


class Notebook:
    """The notebook open in a JupyterLab page."""

    def __init__(self, page: Page, server, path: str):
        self.page = page
        self.server = server
        self.path = path
        self.console_errors: list[str] = []  # errors the page logged (e.g. a widget view that failed)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, page: Page, server, path: str) -> Notebook:
        """Open ``path`` (relative to the server root) in a fresh workspace and wait for an idle kernel."""
        workspace = f"t{next(_workspaces)}-{int(time.time() * 1000) % 100000}"
        page.goto(server.lab_url(path, workspace=workspace), wait_until="domcontentloaded")
        nb = cls(page, server, path)
        page.on("console", lambda msg: msg.type == "error" and nb.console_errors.append(msg.text))
        nb.panel.locator(".jp-Cell").first.wait_for(timeout=KERNEL_START_TIMEOUT)
        nb.wait_for_kernel(KERNEL_START_TIMEOUT)
        return nb

    @property
    def panel(self) -> Locator:
        return self.page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").first

    @property
    def cells(self) -> Locator:
        return self.panel.locator(".jp-Notebook .jp-Cell")

    def cell(self, index: int) -> Locator:
        return self.cells.nth(index)

    def _accept_kernel_dialog(self) -> None:
        """If JupyterLab asks which kernel to start, take the default (Python 3)."""
        dialog = self.page.locator(".jp-Dialog")
        if dialog.count() and "kernel" in dialog.first.inner_text().lower():
            dialog.first.locator(".jp-mod-accept").first.click()

    def kernel_status(self) -> str:
        indicator = self.panel.locator(".jp-Notebook-ExecutionIndicator")
        if not indicator.count():
            return "unknown"
        return indicator.first.get_attribute("data-status") or "unknown"

    def server_kernel(self) -> dict | None:
        """The server's record of this notebook's kernel (execution_state, connections), if any."""
        for session in self.server.api("GET", "/api/sessions"):
            if session.get("path") == self.path and session.get("kernel"):
                return session["kernel"]
        return None

    def wait_for_kernel(self, timeout_ms: float = KERNEL_START_TIMEOUT) -> None:
        """Poll until the page is connected to an idle kernel.

        The toolbar can say "idle" before the page's websocket to the kernel is open (a Run All then
        silently does nothing), so this also waits for the server to count the page's connection.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        status, kernel = "unknown", None
        while time.monotonic() < deadline:
            self._accept_kernel_dialog()
            status = self.kernel_status()
            kernel = self.server_kernel()
            if (
                status == "idle"
                and kernel
                and kernel.get("connections", 0) >= 1
                and kernel.get("execution_state") == "idle"
            ):
                return
            self.page.wait_for_timeout(250)
        raise TimeoutError(
            f"kernel for {self.path} not ready after {timeout_ms / 1000:.0f} s "
            f"(page status {status!r}, server record {kernel!r})"
        )

    # ------------------------------------------------------------------ running
    def menu(self, *labels: str) -> None:
        """Click through the main menu, e.g. ``menu("Run", "Run All Cells")``."""
        self.page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(labels[0])}$")).click()
        for label in labels[1:]:
            item = self.page.locator(".lm-Menu-content > .lm-Menu-item:not(.lm-mod-hidden)").filter(
                has=self.page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(label)}$"))
            )
            item.first.click()

    def run_all(self, timeout_ms: float = RUN_TIMEOUT) -> None:
        """Run > Run All Cells, then wait until every cell ran and the kernel is idle."""
        before = self.panel.locator(".jp-InputPrompt").all_inner_texts()
        self.menu("Run", "Run All Cells")
        self.wait_started(before)
        self.wait_until_done(timeout_ms)

    def wait_started(self, before: list[str], timeout_ms: float = 30_000) -> None:
        """Poll until some input prompt changed (queued ``[*]`` or a new count) after a run command."""
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            if self.panel.locator(".jp-InputPrompt").all_inner_texts() != before:
                return
            self.page.wait_for_timeout(100)
        raise AssertionError(f"{self.path}: the run command started no cell in {timeout_ms / 1000:.0f} s")

    def wait_until_done(self, timeout_ms: float = RUN_TIMEOUT) -> None:
        """Poll until no cell is queued or running ("[*]") and the kernel reports idle."""
        self.page.wait_for_timeout(300)  # let the first execute request reach the kernel
        deadline = time.monotonic() + timeout_ms / 1000
        quiet_since = None
        while time.monotonic() < deadline:
            pending = self.panel.locator(".jp-InputPrompt", has_text="*").count()
            if pending == 0 and self.kernel_status() == "idle":
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since > 1.0:  # idle, and still idle a moment later
                    return
            else:
                quiet_since = None
            self.page.wait_for_timeout(250)
        prompts = self.panel.locator(".jp-InputPrompt").all_inner_texts()
        raise TimeoutError(f"{self.path}: still running after {timeout_ms / 1000:.0f} s; prompts {prompts}")

    def run_cell(self, index: int, timeout_ms: float = RUN_TIMEOUT) -> None:
        """Select cell ``index`` and run it with Ctrl+Enter (run in place)."""
        cell = self.cell(index)
        cell.locator(".jp-InputPrompt").first.click()  # selects the cell, command mode
        before = self.panel.locator(".jp-InputPrompt").all_inner_texts()
        self.page.keyboard.press("Control+Enter")
        self.wait_started(before)
        self.wait_until_done(timeout_ms)

    def set_cell_source(self, index: int, source: str) -> None:
        """Replace the text of cell ``index`` the way a user would: click in the editor, select all, type."""
        editor = self.cell(index).locator(".cm-content").first
        editor.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        # insert_text behaves like a paste: no auto-indent or bracket closing from the editor.
        self.page.keyboard.insert_text(source)
        self.page.keyboard.press("Escape")  # back to command mode
        got = self.cell(index).locator(".cm-content").first.inner_text()
        if _normalise(got) != _normalise(source):
            raise AssertionError(f"editor of cell {index} holds {got!r}, expected {source!r}")

    def save(self) -> dict:
        """Save with Ctrl+S and return the notebook JSON as written to the server's disk."""
        self.panel.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
        self.page.keyboard.press("Control+s")
        tab = self.page.locator(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty")
        deadline = time.monotonic() + 30
        while tab.count() and time.monotonic() < deadline:
            self.page.wait_for_timeout(200)
        return json.loads((Path(self.server.root) / self.path).read_text())

    # ------------------------------------------------------------------ reading
    def outputs_text(self, index: int) -> str:
        return self.cell(index).locator(".jp-OutputArea").first.inner_text()

    def error_outputs(self) -> list[str]:
        """Texts of stderr/error outputs that carry a traceback or an exception name."""
        texts = self.panel.locator(STDERR).all_inner_texts()
        return [t for t in texts if "Traceback" in t or re.search(r"^\w*(Error|Exception)\b", t, re.M)]

    def widget_report(self) -> dict:
        """What became of the widget outputs: rendered views, failures, plain-text reprs, ipympl figures.

        A rendered widget view is an output whose child is a ``.jupyter-widgets`` element; views nested
        inside other widgets (e.g. in an ``Output`` widget) are counted in ``views`` but not ``top_views``.
        """
        return self.panel.evaluate(
            """(panel, args) => {
                const [failures, reprSource] = args;
                const repr = new RegExp(reprSource);
                const outputs = [...panel.querySelectorAll('.jp-OutputArea-output')];
                const isView = el => el && [...el.classList].some(
                    c => c === 'jupyter-widgets' || c === 'jupyter-matplotlib' || c.startsWith('widget-'));
                const views = outputs.filter(o => [...o.children].some(isView));
                const inWidget = el => el.parentElement.closest('.jupyter-widgets, .jupyter-matplotlib');
                const top = views.filter(v => !inWidget(v));
                const failed = outputs.map(o => o.innerText)
                                      .filter(t => failures.some(f => t.includes(f)))
                                      .map(t => t.slice(0, 300));
                const plain = outputs.filter(o => o.dataset.mimeType === 'text/plain')
                                     .map(o => o.innerText).filter(t => repr.test(t))
                                     .map(t => t.slice(0, 300));
                return {
                    views: views.length,
                    top_views: top.length,
                    failed: failed,
                    plain_reprs: plain,
                    // ipympl figures, and nnkit widget figures drawn by their browser front end
                    figures: panel.querySelectorAll('.jupyter-matplotlib, .nnkit-figure').length,
                    canvases: panel.querySelectorAll(
                        '.jupyter-matplotlib-canvas-div > canvas, canvas.nnkit-canvas').length,
                    // figures not drawn: a 0-size canvas, or one colour all over
                    undrawn: [...panel.querySelectorAll('.jupyter-matplotlib-canvas-div, .nnkit-figure')]
                                 .map((div, i) => {
                        const c = div.querySelector('canvas');
                        if (!c || c.width === 0 || c.height === 0) return `figure ${i}: 0 size`;
                        const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                        for (let k = 4; k < data.length; k += 4) {
                            if (data[k] !== data[0] || data[k + 1] !== data[1] || data[k + 2] !== data[2]
                                || data[k + 3] !== data[3]) return null;
                        }
                        return `figure ${i}: blank ${c.width}x${c.height}`;
                    }).filter(x => x),
                };
            }""",
            [list(WIDGET_FAILURE_TEXT), WIDGET_REPR.pattern],
        )

    def wait_for_figures(self, timeout_ms: float = 60_000) -> dict:
        """Poll the widget report until every ipympl figure is drawn (or time is up); return it.

        An ipympl canvas gets its size and first image from the kernel after the view is created, so
        it can lag behind the kernel going idle.
        """
        deadline = time.monotonic() + timeout_ms / 1000
        report = self.widget_report()
        while report["undrawn"] and time.monotonic() < deadline:
            self.page.wait_for_timeout(250)
            report = self.widget_report()
        return report

    def button(self, name: str) -> Locator:
        """The widget buttons labelled exactly ``name`` (page-rooted: usable in ``has=``)."""
        label = re.compile(f"^\\s*{re.escape(name)}\\s*$")
        return self.page.locator("button.jupyter-button", has_text=label)

    def slider(self, label: str, scope: Locator | None = None) -> Locator:
        """The ipywidgets sliders whose description starts with ``label`` (page-rooted unless ``scope``)."""
        return (
            (scope or self.page)
            .locator(".widget-slider")
            .filter(has=self.page.locator(".widget-label", has_text=re.compile(f"^\\s*{re.escape(label)}")))
        )

    def nudge_slider(
        self, label: str, key: str = "ArrowRight", presses: int = 3, scope: Locator | None = None
    ) -> tuple[str, str]:
        """Focus the slider's handle and press ``key`` a few times, like a user at the keyboard.

        Returns the slider's readout before and after.
        """
        slider = self.slider(label, scope).first
        slider.scroll_into_view_if_needed()
        readout = slider.locator(".widget-readout").first
        before = readout.inner_text()
        handle = slider.locator(".noUi-handle").first
        handle.focus()
        for _ in range(presses):
            self.page.keyboard.press(key)
            self.page.wait_for_timeout(100)
        deadline = time.monotonic() + 10
        after = readout.inner_text()
        while after == before and time.monotonic() < deadline:
            self.page.wait_for_timeout(100)
            after = readout.inner_text()
        return before, after

    def output_with(self, control: Locator) -> Locator:
        """The outermost cell output that contains ``control`` (e.g. the whole widget of a button)."""
        return (
            self.panel.locator(".jp-Cell-outputArea > .jp-OutputArea-child > .jp-OutputArea-output")
            .filter(has=control)
            .first
        )

    def canvas(self, scope: Locator | None = None) -> Locator:
        """The first figure canvas (ipympl's or an nnkit widget's) inside ``scope`` (default: notebook)."""
        return (scope or self.panel).locator(".jupyter-matplotlib-canvas-div, canvas.nnkit-canvas").first

    def canvas_png(self, scope: Locator | None = None) -> bytes:
        canvas = self.canvas(scope)
        canvas.scroll_into_view_if_needed()
        return canvas.screenshot(animations="disabled")

    def wait_for_canvas_change(self, before: bytes, scope: Locator | None = None, timeout_ms: float = 60_000):
        """Poll screenshots of the canvas until they differ from ``before``; return the latest one."""
        deadline = time.monotonic() + timeout_ms / 1000
        now = self.canvas_png(scope)
        while now == before and time.monotonic() < deadline:
            self.page.wait_for_timeout(250)
            now = self.canvas_png(scope)
        return now

    def wait_for_canvas_stable(self, scope: Locator | None = None, timeout_ms: float = 60_000) -> bytes:
        """Poll until two screenshots 0.75 s apart are identical (figure done drawing); return it."""
        deadline = time.monotonic() + timeout_ms / 1000
        last = self.canvas_png(scope)
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(750)
            now = self.canvas_png(scope)
            if now == last:
                return now
            last = now
        return last


def _normalise(text: str) -> str:
    """Editor text without blank lines (CodeMirror's DOM renders an empty line as an extra newline)."""
    lines = (line.rstrip() for line in text.replace("\u200b", "").splitlines())
    return "\n".join(line for line in lines if line)


def saved_errors(nb_json: dict) -> list[str]:
    """``ename: evalue`` (with the cell's first line) of every error output in a saved notebook."""
    errors = []
    for i, cell in enumerate(nb_json.get("cells", [])):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                first = ("".join(cell.get("source", "")).splitlines() or [""])[0]
                errors.append(f"cell {i} ({first!r}): {out.get('ename')}: {out.get('evalue')}")
    return errors


def saved_widget_views(nb_json: dict) -> int:
    """How many top-level widget-view outputs a saved notebook holds."""
    return sum(
        WIDGET_MIME in out.get("data", {})
        for cell in nb_json.get("cells", [])
        for out in cell.get("outputs", [])
    )


__all__ = ["Notebook", "saved_errors", "saved_widget_views"]
