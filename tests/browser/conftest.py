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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the item so fixtures can tell whether the test failed."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


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


def _artifact_name(nodeid: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.\-\[\]]+", "_", nodeid.split("tests/browser/")[-1])[:150]


@pytest.fixture
def page(request, browser, lab_server):
    """A fresh page (own context: no shared storage); on failure, save screenshot and logs."""
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda msg: console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda exc: console.append(f"[pageerror] {exc}"))
    try:
        yield page
    finally:
        reports = [getattr(request.node, f"rep_{when}", None) for when in ("setup", "call")]
        failed = any(report is not None and report.failed for report in reports)
        if failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            stem = ARTIFACTS / _artifact_name(request.node.nodeid)
            try:
                page.screenshot(path=f"{stem}.png", full_page=True)
            except Exception as exc:  # noqa: BLE001 - a broken page must not hide the real failure
                console.append(f"[screenshot failed] {exc}")
            Path(f"{stem}.console.log").write_text("\n".join(console) + "\n")
            Path(f"{stem}.server.log").write_text(lab_server.log_tail(200) + "\n")
        context.close()
        lab_server.shutdown_kernels()


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
