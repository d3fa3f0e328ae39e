"""The course hub's round trip through nbgrader's exchange, as the real Unix accounts, on PostgreSQL.

``deploy/demo setup`` (accounts, course directory, exchange, release of ex01) on a gradebook in a real
PostgreSQL server, then every step as the account that does it in a course: two students fetch ex01;
one submits twice (a stub, then the finished work: the later counts), the instructor sets the due
date, the other submits partly wrong after it; the instructor collects, grades with
``nnkit-course grade`` (reading nbgrader's collected folders), releases the feedback; each student
fetches their own. Then, as one student's Unix user, the other's submission and feedback are out of
reach through the exchange. The browser version of the same round trip is ``browser/test_hub_browser.py``.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests._hub import REPO, Hub, require_hub_host

pytestmark = pytest.mark.slow

A = "ex01_perceptron"
NB = f"{A}/{A}.ipynb"
STUDENTS = ("nnkx-alice", "nnkx-bob")
INSTRUCTOR, GRADER = "nnkx-prof", "nnkx-ta"
WRONG = {"answer_multiclass_update": (
    'def multiclass_update(W, b, x, y, lr=1.0):\n    """Forgot to update."""\n'
    "    return np.asarray(W, dtype=np.float64), np.asarray(b, dtype=np.float64)")}
WRITTEN = "No line separates XOR: the two middle inequalities contradict the last one."


def solution_answers() -> dict[str, str]:
    """grade_id -> the instructor's answer, solution markers removed."""
    nb = json.loads((REPO / "solutions" / NB).read_text())
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and cell["cell_type"] == "code":
            src = "".join(cell["source"])
            out[meta["grade_id"]] = "\n".join(
                ln for ln in src.splitlines() if ln.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))
    return out


def work(student: str, overrides: dict[str, str] | None = None) -> None:
    """The student's fetched notebook, answered (as a student would save it), owned by the student."""
    pw = pwd.getpwnam(student)
    path = Path(pw.pw_dir) / NB
    nb = json.loads(path.read_text())
    answers = {**solution_answers(), **(overrides or {})}
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell["source"] = answers[gid]
        elif gid == "written_xor":
            cell["source"] = WRITTEN
    path.write_text(json.dumps(nb, indent=1))
    os.chown(path, pw.pw_uid, pw.pw_gid)


@pytest.fixture(scope="module")
def hub(postgres):
    require_hub_host()
    db = postgres.create_database("course_exchange")
    h = Hub(INSTRUCTOR, [GRADER], list(STUDENTS), "pw-" + os.urandom(6).hex(), course_id="nnkx", db=db)
    try:
        h.setup()
        yield h
    finally:
        h.stop()


def _feedback_html(student: str) -> str:
    found = glob.glob(str(Path(pwd.getpwnam(student).pw_dir) / A / "feedback" / "*" / f"{A}.html"))
    assert len(found) == 1, found
    return Path(found[0]).read_text()


@pytest.fixture(scope="module")
def round_trip(hub):
    """Release (by setup) -> fetch -> submit -> collect -> grade -> release_feedback -> fetch_feedback."""
    alice, bob = STUDENTS
    root = hub.settings["course_root"]
    for s in STUDENTS:
        hub.nbgrader(s, "fetch_assignment", A)
    # alice submits the untouched stub, then her finished work: the later submission counts
    hub.nbgrader(alice, "submit", A)
    work(alice)
    hub.nbgrader(alice, "submit", A)
    # the instructor sets the due date now; bob submits after it, partly wrong
    due = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")  # after alice's, to the µs
    hub.nbgrader(INSTRUCTOR, "db", "assignment", "add", A, f"--duedate={due}", cwd=root)
    work(bob, WRONG)
    hub.nbgrader(bob, "submit", A)

    hub.nbgrader(INSTRUCTOR, "collect", A, cwd=root)
    graded = hub.as_user(INSTRUCTOR, [hub.settings["python"], "-m", "nnkit.course.cli", "grade", A,
                                      "--sandbox", "bwrap", "--quiet", "--jobs", "1"], cwd=root)
    assert "graded 2, failed 0" in graded.stdout, graded.stdout + graded.stderr[-2000:]
    # the instructor is told who was late, and by how much
    late = [ln for ln in graded.stdout.splitlines() if ln.startswith("late: ")]
    assert len(late) == 1 and late[0].startswith(f"late: {bob} {A}: Submitted ") and "Penalty: 0.5" in late[0]
    hub.nbgrader(INSTRUCTOR, "release_feedback", A, cwd=root)
    for s in STUDENTS:
        hub.nbgrader(s, "fetch_feedback", A)
    return due


def test_round_trip_through_the_exchange(hub, round_trip):
    alice, bob = STUDENTS
    root, due = hub.settings["course_root"], round_trip
    mine, theirs = _feedback_html(alice), _feedback_html(bob)
    assert f"feedback for {alice}" in mine and bob not in mine
    assert f"feedback for {bob}" in theirs and alice not in theirs
    assert _score(mine) == "7 / 7" and "before the due date" in mine and "LATE" not in mine
    assert _score(theirs) == "5 / 7" and "after the due date" in theirs and "LATE" in theirs
    assert "10 % of the score per started day late" in theirs and "Penalty: 0.5 points" in theirs

    # the gradebook (PostgreSQL) keeps nbgrader's timestamps: alice's is her second submission's
    inbound = sorted(p for p in os.listdir(Path(hub.settings["exchange"]) / "nnkx" / "inbound")
                     if p.startswith(alice + "+"))
    assert len(inbound) == 2
    latest = inbound[-1].split("+")[2]
    collected = (Path(root) / "submitted" / alice / A / "timestamp.txt").read_text()
    assert collected == latest
    from nbgrader.api import Gradebook

    with Gradebook(_course_db(hub), "nnkx") as gb:
        stamps = {s: gb.find_submission(A, s).timestamp for s in STUDENTS}
        scores = {s: gb.find_submission(A, s).score for s in STUDENTS}
    assert stamps[alice].strftime("%Y-%m-%d %H:%M:%S") == latest[:19]
    assert stamps[bob] > datetime.strptime(due, "%Y-%m-%d %H:%M:%S.%f UTC") > stamps[alice]
    assert scores == {alice: 7.0, bob: 5.0}


def _score(html: str) -> str:
    m = re.search(r"Autograded score: <strong>([^<]*)</strong>", html)
    assert m, html[:3000]
    if m.group(1) not in ("7 / 7", "5 / 7"):
        print(re.sub(r"<[^>]+>", " ", html)[:6000])
    return m.group(1)


def _course_db(hub: Hub) -> str:
    from traitlets.config.loader import PyFileConfigLoader

    return PyFileConfigLoader("nbgrader_config.py", path=hub.settings["course_root"]).load_config() \
        .CourseDirectory.db_url


PROBE = r"""
import glob, json, os, sys
exchange, course_root, other_home = sys.argv[1:4]
def attempt(fn):
    try:
        fn()
        return "allowed"
    except PermissionError:
        return "denied"
def read_tree(path):
    for d, _dirs, files in os.walk(path, onerror=lambda e: (_ for _ in ()).throw(e)):
        for f in files:
            open(os.path.join(d, f), "rb").read(1)
print(json.dumps({
    "list inbound": attempt(lambda: os.listdir(os.path.join(exchange, "nnkx", "inbound"))),
    "list feedback": attempt(lambda: os.listdir(os.path.join(exchange, "nnkx", "feedback"))),
    "glob others": glob.glob(os.path.join(exchange, "nnkx", "*", "*" + os.path.basename(other_home) + "*")),
    "course directory": attempt(lambda: os.listdir(course_root)),
    "other's home": attempt(lambda: os.listdir(other_home)),
    "other's cache": attempt(lambda: read_tree(os.path.join(other_home, ".local"))),
}))
"""


def test_students_cannot_reach_each_others_work(hub, round_trip):
    """As bob's Unix user: alice's submission, its secret and her feedback are out of reach."""
    alice, bob = STUDENTS
    assert len(glob.glob(str(Path(hub.settings["exchange"]) / "nnkx" / "feedback" / "*.html"))) == 2
    r = hub.as_user(bob, [hub.settings["python"], "-c", PROBE, hub.settings["exchange"],
                          hub.settings["course_root"], pwd.getpwnam(alice).pw_dir], check=False, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen == {"list inbound": "denied", "list feedback": "denied", "glob others": [],
                    "course directory": "denied", "other's home": "denied", "other's cache": "denied"}
    # and through nbgrader itself: collecting is the instructor's
    r = hub.nbgrader(bob, "collect", A, check=False)
    assert r.returncode != 0 and "permission" in (r.stdout + r.stderr).lower()
    # bob fetching feedback finds only his own
    hub.nbgrader(bob, "fetch_feedback", A)
    assert alice not in _feedback_html(bob)
