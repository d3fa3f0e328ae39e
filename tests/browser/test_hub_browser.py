"""Two students and an instructor on a real JupyterHub, the students in headless Chromium.

The hub (``deploy/``: PAM logins on real Unix accounts, the local-process spawner, nbgrader's exchange)
runs on 127.0.0.1 on a free port, with the gradebook on a real PostgreSQL server. Each student logs in
with their Unix password, opens the Assignment List, fetches ex01, answers it in JupyterLab (alice
right, after first submitting the untouched stub; bob partly wrong) and submits. The instructor
collects, grades with ``nnkit-course grade`` and releases the feedback, as the instructor's account.
Each student fetches the feedback in the Assignment List and reads their own; the other's server, and
so their feedback, refuses them. The hub, every user's server and the accounts are removed even when
the test fails (a screenshot of each page is kept in ``test-artifacts/hub/``).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import time
from pathlib import Path

import pytest

from tests._hub import Hub, require_hub_host
from tests.browser._lab_ui import Notebook
from tests.test_hub_exchange import WRONG, solution_answers

pytestmark = [pytest.mark.browser, pytest.mark.slow]

A = "ex01_perceptron"
NB = f"{A}/{A}.ipynb"
ALICE, BOB = "nnkw-alice", "nnkw-bob"
INSTRUCTOR = "nnkw-prof"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "hub"
UI_TIMEOUT = 180_000  # ms: a spawn on a busy 2-core machine


class UserServer:
    """What ``tests.browser._lab_ui.Notebook`` needs of a server: a lab URL and the files' root."""

    def __init__(self, hub: Hub, name: str):
        self.hub, self.name = hub, name
        self.root = pwd.getpwnam(name).pw_dir

    def lab_url(self, path: str = "", workspace: str | None = None) -> str:
        lab = f"{self.hub.url}/user/{self.name}/lab"
        return f"{lab}/tree/{path}" if path else lab


@pytest.fixture(scope="module")
def hub(postgres):
    require_hub_host()
    h = Hub(INSTRUCTOR, ["nnkw-ta"], [ALICE, BOB], "pw-" + os.urandom(6).hex(), course_id="nnkw",
            db=postgres.create_database("course_browser"))
    try:
        h.setup()
        h.start()
        yield h
    finally:
        h.stop()


def login(browser, hub: Hub, name: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT)
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", hub.password)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{re.escape(name)}/lab"), timeout=UI_TIMEOUT)
    page.locator("#jp-main-dock-panel").wait_for()
    return context, page


def nbgrader_menu(page) -> list[str]:
    """The items of the Nbgrader menu (opened, read, closed)."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    items = page.locator(".lm-Menu-content > .lm-Menu-item:not(.lm-mod-hidden) .lm-Menu-itemLabel")
    items.first.wait_for()
    labels = items.all_inner_texts()
    page.keyboard.press("Escape")
    return labels


def assignment_list(page):
    """Nbgrader > Assignment List; returns the panel once the lists have loaded."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Nbgrader$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Assignment List$")).first.click()
    panel = page.locator("#nbgrader-assignment-list")
    panel.wait_for()
    refresh(page)
    return panel


def refresh(page) -> None:
    panel = page.locator("#nbgrader-assignment-list")
    button = panel.locator("#refresh_assignments_list")
    if button.count():
        button.first.click()
    for list_id in ("released", "fetched", "submitted"):
        panel.locator(f"#{list_id}_assignments_list_loading").wait_for(state="hidden")


def click_in(page, list_id: str, label: str, then: str | None = None) -> None:
    """Click the ``label`` button of ex01's row in one of the Assignment List's lists."""
    row = page.locator(f"#{list_id}_assignments_list .list_item", has_text=A).first
    row.locator("button", has_text=re.compile(f"^{label}$")).first.click()
    if then:
        page.locator(f"#{then}_assignments_list .list_item", has_text=A).first.wait_for()


STAMP = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+ UTC")


def submitted_count(page) -> int:
    """How many submissions of ex01 the Assignment List shows (one timestamp each)."""
    return len(STAMP.findall(page.locator("#submitted_assignments_list").inner_text()))


def answer(page, server: UserServer, overrides: dict[str, str] | None = None) -> None:
    """Open the fetched notebook in JupyterLab, type the answers into the answer cells, save."""
    path = Path(server.root) / NB
    cells = json.loads(path.read_text())["cells"]
    nb = Notebook(page, server, NB)
    page.goto(server.lab_url(NB))
    nb.panel.locator(".jp-Cell").first.wait_for()
    answers = {**solution_answers(), **(overrides or {})}
    for i, cell in enumerate(cells):
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            nb.cell(i).scroll_into_view_if_needed()
            nb.set_cell_source(i, answers[gid])
    nb.panel.locator(".jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        saved = json.loads(path.read_text())["cells"]
        if all("NotImplementedError" not in "".join(saved[i]["source"]) for i, c in enumerate(cells)
               if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") in answers):
            return
        page.wait_for_timeout(500)
    raise AssertionError("the answers typed in JupyterLab never reached the saved notebook")


def feedback_page(page, hub: Hub, owner: str):
    """The feedback fetched into ``owner``'s home (its timestamped folder), opened as ``page``'s user."""
    found = sorted((Path(pwd.getpwnam(owner).pw_dir) / A / "feedback").glob(f"*/{A}.html"))
    assert len(found) == 1, found
    rel = found[0].relative_to(pwd.getpwnam(owner).pw_dir)
    return page.goto(f"{hub.url}/user/{owner}/files/{rel}")


def test_two_students_and_an_instructor_through_the_hub(hub, browser):
    pages = {}
    servers = {s: UserServer(hub, s) for s in (ALICE, BOB)}
    root = hub.settings["course_root"]
    try:
        for s in (ALICE, BOB):
            pages[s] = login(browser, hub, s)
            page = pages[s][1]
            # a student's JupyterLab has the Assignment List, not the instructor's tools
            menu = nbgrader_menu(page)
            assert "Assignment List" in menu and "Formgrader" not in menu, menu
            assert page.goto(f"{hub.url}/user/{s}/formgrader").status == 404
            page.goto(servers[s].lab_url())
            page.locator("#jp-main-dock-panel").wait_for()
            assignment_list(page)
            click_in(page, "released", "Fetch", then="fetched")
            assert (Path(servers[s].root) / NB).exists()

        # alice: the untouched stub first, then her answers: two submissions, the later one counts
        page = pages[ALICE][1]
        click_in(page, "fetched", "Submit", then="submitted")
        answer(page, servers[ALICE])
        # with a notebook open, a student's right sidebar has no Create Assignment panel
        assert page.locator(".lm-TabBar-tab", has_text="Create Assignment").count() == 0
        assignment_list(page)
        click_in(page, "fetched", "Submit")
        deadline = time.monotonic() + 120
        while submitted_count(page) < 2 and time.monotonic() < deadline:
            page.wait_for_timeout(500)
        assert submitted_count(page) == 2
        # bob: one part wrong
        page = pages[BOB][1]
        answer(page, servers[BOB], WRONG)
        assignment_list(page)
        click_in(page, "fetched", "Submit", then="submitted")

        # the instructor, as the instructor's account
        hub.nbgrader(INSTRUCTOR, "collect", A, cwd=root)
        graded = hub.as_user(INSTRUCTOR, [hub.settings["python"], "-m", "nnkit.course.cli", "grade", A,
                                          "--sandbox", "bwrap", "--quiet", "--jobs", "1"], cwd=root)
        assert "graded 2, failed 0" in graded.stdout, graded.stdout + graded.stderr[-2000:]
        hub.nbgrader(INSTRUCTOR, "release_feedback", A, cwd=root)
        # the instructor sees both graded submissions in formgrader (served from the PostgreSQL gradebook)
        pages[INSTRUCTOR] = login(browser, hub, INSTRUCTOR)
        page = pages[INSTRUCTOR][1]
        assert "Formgrader" in nbgrader_menu(page)
        page.goto(f"{hub.url}/user/{INSTRUCTOR}/formgrader/manage_submissions/{A}")
        table = page.locator("table", has_text=BOB)
        table.wait_for()
        rows = {s: page.locator("tr", has_text=s).first.inner_text() for s in (ALICE, BOB)}
        assert re.search(r"\b7\s*/\s*9\b", rows[ALICE]) and re.search(r"\b5\s*/\s*9\b", rows[BOB]), rows

        for s, score in ((ALICE, "7 / 7"), (BOB, "5 / 7")):
            page = pages[s][1]
            assignment_list(page)
            click_in(page, "submitted", "Fetch Feedback")
            page.locator("#submitted_assignments_list", has_text="view feedback").wait_for()
            response = feedback_page(page, hub, s)
            assert response is not None and response.ok
            text = page.locator("body").inner_text()
            assert f"feedback for {s}" in text and f"Autograded score: {score}" in text, text[:2000]
            other = BOB if s == ALICE else ALICE
            assert other not in text
        # each student's session cannot open the other's feedback
        for s, other in ((ALICE, BOB), (BOB, ALICE)):
            page = pages[s][1]
            response = feedback_page(page, hub, other)
            body = page.locator("body").inner_text()
            assert f"feedback for {other}" not in body
            assert response is None or response.status in (403, 404) or "/hub/" in page.url, \
                (response.status if response else None, page.url)
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for s, (_ctx, page) in pages.items():
            try:
                page.screenshot(path=str(ARTIFACTS / f"{s}.png"), full_page=True)
            except Exception:  # noqa: BLE001 - a broken page must not hide the real failure
                pass
        (ARTIFACTS / "hub.log").write_text(hub.log_tail(300))
        raise
    finally:
        for ctx, _page in pages.values():
            ctx.close()
