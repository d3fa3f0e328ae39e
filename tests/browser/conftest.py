"""Fixtures for the browser tests: one JupyterLab server and one headless Chromium per session.

``lab_server`` serves a temporary copy of ``lectures/`` and ``exercises/`` (plus ``solutions/``, which
the exercise test reads its correct answers from) and is always shut down, kernels included, even when
tests fail. ``page`` is a fresh browser context per test; when a test fails its screenshot, the page's
console log and the tail of the server log are written to ``test-artifacts/browser/``.

Chromium comes from Debian (``/usr/bin/chromium``; override with ``NNKIT_CHROMIUM``): ``playwright
install`` is not needed. A student without Chromium skips all of this with ``pytest --no-browser``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ._paths import ARTIFACTS, SOURCE

CHROMIUM = os.environ.get("NNKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
]
VIEWPORT = {"width": 1400, "height": 1000}


_CONSOLE: dict[int, list[str]] = {}  # id(page) -> the page's console messages


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """When a test fails, save a screenshot and the console log of each of its pages, and the server log.

    Runs right after the failing phase, before fixtures tear down, so the pages are still open.
    """
    outcome = yield
    report = outcome.get_result()
    if report.failed and report.when in ("setup", "call"):
        item.browser_failed = True
        save_artifacts(item)


def save_artifacts(item) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    stem = ARTIFACTS / re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", item.nodeid.split("tests/browser/")[-1])[:150]
    pages = getattr(item, "browser_pages", [])
    for i, page in enumerate(pages):
        suffix = f"-{i}" if len(pages) > 1 else ""
        console = _CONSOLE.get(id(page), [])
        try:
            page.screenshot(path=f"{stem}{suffix}.png", full_page=True)
        except Exception as exc:  # noqa: BLE001 - a broken page must not hide the real failure
            console = [*console, f"[screenshot failed] {exc}"]
        Path(f"{stem}{suffix}.console.log").write_text("\n".join(console) + "\n")
    server = getattr(item, "funcargs", {}).get("lab_server")
    if server is not None:
        Path(f"{stem}.server.log").write_text(server.log_tail(200) + "\n")


def register_page(item, page) -> None:
    """Make ``page`` part of ``item``'s failure artefacts."""
    if not hasattr(item, "browser_pages"):
        item.browser_pages = []
    item.browser_pages.append(page)


def new_page(browser):
    """A page in its own browser context (no shared storage), logging its console; returns (context, page)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)  # a busy 2-core CI box is slow
    page = context.new_page()
    console = _CONSOLE.setdefault(id(page), [])
    page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))
    return context, page


def close_page(context, page) -> None:
    _CONSOLE.pop(id(page), None)
    context.close()


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory):
    from ._jupyterlab_server import JupyterLabServer

    server = JupyterLabServer(
        SOURCE, ["lectures", "exercises", "solutions"], tmp_path_factory.mktemp("jupyterlab")
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def browser():
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        pytest.fail(
            f"Chromium not found at {CHROMIUM}: install Debian's chromium (or set NNKIT_CHROMIUM), "
            "or skip the browser tests with `pytest --no-browser`"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class LectureRuns:
    """Each lecture opened and run (Run All) once per session; the widget tests reuse its page.

    ``entries`` maps a notebook path to ``[context, page, notebook]``; ``notebook`` is None when opening
    or running failed (the page is kept until the test's teardown, for the failure screenshot).
    """

    def __init__(self, browser, server):
        self.browser, self.server = browser, server
        self.entries: dict[str, list] = {}

    def run(self, relpath: str):
        from ._lab_ui import Notebook

        entry = self.entries.get(relpath)
        if entry is not None and entry[2] is not None:
            return entry[2]
        self.release(relpath)
        context, page = new_page(self.browser)
        self.entries[relpath] = [context, page, None]
        nb = Notebook.open(page, self.server, relpath)
        nb.run_all()
        self.entries[relpath][2] = nb
        return nb

    def page(self, relpath: str):
        entry = self.entries.get(relpath)
        return None if entry is None else entry[1]

    def ok(self, relpath: str) -> bool:
        entry = self.entries.get(relpath)
        return entry is not None and entry[2] is not None

    def release(self, relpath: str) -> None:
        """Close the lecture's page and shut its kernel down."""
        entry = self.entries.pop(relpath, None)
        if entry is not None:
            close_page(entry[0], entry[1])
            self.server.shutdown_kernels(paths=[relpath])

    def close(self) -> None:
        for relpath in list(self.entries):
            self.release(relpath)


@pytest.fixture(scope="session")
def lecture_runs(browser, lab_server):
    runs = LectureRuns(browser, lab_server)
    try:
        yield runs
    finally:
        runs.close()


@pytest.fixture
def run_lecture(request, lecture_runs):
    """``run_lecture(relpath, keep=False)`` -> the Notebook after Run All.

    With ``keep`` a successful run stays open for a later test (the widget tests); otherwise, or when
    this test fails, the page is closed and the kernel shut down when the test ends.
    """
    used: dict[str, bool] = {}

    def run(relpath: str, keep: bool = False):
        used[relpath] = used.get(relpath, False) or keep
        try:
            return lecture_runs.run(relpath)
        finally:
            page = lecture_runs.page(relpath)
            if page is not None:
                register_page(request.node, page)

    yield run
    for relpath, keep in used.items():
        if not keep or getattr(request.node, "browser_failed", False) or not lecture_runs.ok(relpath):
            lecture_runs.release(relpath)


@pytest.fixture
def page(request, browser, lab_server, lecture_runs):
    """A fresh page for one test; afterwards it is closed and its kernels shut down."""
    context, page = new_page(browser)
    register_page(request.node, page)
    try:
        yield page
    finally:
        close_page(context, page)
        lab_server.shutdown_kernels(keep=tuple(lecture_runs.entries))


@pytest.fixture
def course_file(lab_server):
    """``course_file("lectures/01_perceptron.ipynb")`` -> the path relative to the server root.

    Skips (naming the file) only when the notebook does not exist in the course.
    """

    def find(relpath: str) -> str:
        if not (Path(lab_server.root) / relpath).is_file():
            pytest.skip(f"{relpath} is missing from the repository (not written yet)")
        return relpath

    return find
