"""The gradebook on a real PostgreSQL server (started here, on a free port, and always stopped).

* the same grading run (same seed, same submissions, one of them late under the course's
  per-day policy) writes identical grades to SQLite and to PostgreSQL;
* two graders writing manual grades and comments the way formgrader does (nbgrader's Gradebook API,
  each in its own process) while ``nnkit-course grade`` re-grades the class lose no write;
* a URL that does not answer stops the command with a message naming it, and nothing is written
  anywhere (no SQLite fallback, nbgrader #1661).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from nnkit.course import cli, gradebook
from tests import _course_fixture as fx
from tests._postgres import closed_port

pytestmark = pytest.mark.slow

# The sandbox is tested elsewhere; here a plain child process (the same rlimits) keeps the runs short.
GRADE_OPTS = ["--seed", "11", "--quiet", "--jobs", "1", "--sandbox", "none", "--part-timeout", "20",
              "--cell-timeout", "60"]
DUE = "2026-11-20 12:00:00"
# timestamp.txt as `nbgrader submit` writes it: on time, 1 h late, 1.5 days late (two started days)
ON_TIME, LATE_1H, LATE_36H = ("2026-11-20 09:00:00.000000 UTC", "2026-11-20 13:00:00.000000 UTC",
                              "2026-11-22 00:00:00.000000 UTC")
POLICY = """
c.AssignLatePenalties.plugin_class = "nnkit.course.exchange.PercentPerDay"
c.PercentPerDay.percent_per_day = 10.0
"""
WRONG_MSE = fx.HEADERS["mse"] + "    return float(np.sum((np.asarray(pred) - np.asarray(target)) ** 2))"


def _class(n_extra: int = 0) -> dict[str, tuple[dict, str]]:
    """student -> (notebook, timestamp): full marks, partly wrong, untouched stub, late ones."""
    right = fx.notebook("release", fx.ANSWERS)
    partly = fx.notebook("release", {**fx.ANSWERS, "mse": WRONG_MSE})
    stub = fx.notebook("release")
    students = {"alice": (right, ON_TIME), "bob": (partly, LATE_1H), "carol": (stub, ON_TIME),
                "dave": (right, LATE_36H)}
    for i in range(n_extra):
        students[f"s{i:02d}"] = (right if i % 2 else partly, ON_TIME)
    return students


def _course(root: Path, students: dict) -> Path:
    course = fx.make_course(root)
    with open(course / "nbgrader_config.py", "a") as fh:
        fh.write(POLICY)
    for student, (nb, stamp) in students.items():
        fx.submit(course, student, nb, extra={"timestamp.txt": stamp})
    return course


def _set_due(course: Path, url: str) -> None:
    """The instructor's due date (as `nbgrader db assignment add --duedate` or formgrader set it)."""
    gradebook.use_db(url)
    try:
        gradebook.ensure_in_gradebook(course, [fx.ASSIGNMENT])
        with gradebook.open_gradebook(course) as gb:
            gb.update_or_create_assignment(fx.ASSIGNMENT, duedate=datetime.fromisoformat(DUE))
    finally:
        gradebook.use_db(None)


def _dump(course: Path, url: str) -> dict:
    """Everything graded: per student the timestamp, late penalty and every grade cell's scores."""
    from nnkit.course import export

    gradebook.use_db(url)
    try:
        plugin = export._penalty_plugin(course)
        out = {}
        with gradebook.open_gradebook(course) as gb:
            for s in gb.students:
                sub = gb.find_submission(fx.ASSIGNMENT, s.id)
                cells = {g.name: (g.auto_score, g.manual_score, bool(g.needs_manual_grade))
                         for nb in sub.notebooks for g in nb.grades}
                out[s.id] = {"timestamp": str(sub.timestamp), "late": sub.total_seconds_late,
                             "penalty": export.late_penalty(plugin, sub), "cells": cells}
        return out
    finally:
        gradebook.use_db(None)


def test_same_grades_on_sqlite_and_postgres(postgres, tmp_path):
    students = _class()
    lite = _course(tmp_path / "lite", students)
    pg = _course(tmp_path / "pg", students)
    pg_url = postgres.create_database("same_run")
    lite_url = gradebook.db_url(lite)
    assert lite_url == f"sqlite:///{lite / 'gradebook.db'}"  # the default stays SQLite in the course
    _set_due(lite, lite_url)
    _set_due(pg, pg_url)

    assert cli.main(["--course", str(lite), "grade", fx.ASSIGNMENT, *GRADE_OPTS]) == 0
    assert cli.main(["--course", str(pg), "--db", pg_url, "grade", fx.ASSIGNMENT, *GRADE_OPTS]) == 0
    assert not (pg / "gradebook.db").exists(), "a PostgreSQL run wrote a SQLite gradebook"
    assert gradebook.db_url(pg) == f"sqlite:///{pg / 'gradebook.db'}", "--db outlived its command"

    on_lite, on_pg = _dump(lite, lite_url), _dump(pg, pg_url)
    assert on_lite == on_pg
    # and the grades are the ones the submissions deserve (4 auto points, 1 written)
    auto = {s: sum(v[0] or 0 for v in d["cells"].values()) for s, d in on_pg.items()}
    assert auto == {"alice": 4.0, "bob": 2.0, "carol": 0.0, "dave": 4.0}
    assert {s: d["penalty"] for s, d in on_pg.items()} == {"alice": 0.0, "bob": 0.2, "carol": 0.0,
                                                            "dave": 0.8}
    assert all(d["cells"]["written_why"] == (None, None, True) for d in on_pg.values())
    csv_lite = (lite / "grades.csv").read_text()
    assert csv_lite == (pg / "grades.csv").read_text()
    assert "dave" in csv_lite

    # the late flag and the policy reach the student's feedback; on-time work says so
    dave = (pg / "feedback" / "dave" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.html").read_text()
    assert "1 d 12 h 0 min after the due date 2026-11-20 12:00 UTC: LATE" in dave
    assert "10 % of the score per started day late" in dave and "Penalty: 0.8 points" in dave
    alice = (pg / "feedback" / "alice" / fx.ASSIGNMENT / f"{fx.ASSIGNMENT}.html").read_text()
    assert "before the due date" in alice and "LATE" not in alice
    # what nbgrader release_feedback needs beside the feedback
    assert (pg / "feedback" / "dave" / fx.ASSIGNMENT / "timestamp.txt").read_text() == LATE_36H


GRADER = r"""
import json, os, sys, time
from nbgrader.api import Gradebook
url, course_id, name, assignment, stop, *students = sys.argv[1:]
deadline = time.monotonic() + 300
last, writes, during = {}, 0, 0
with Gradebook(url, course_id) as gb:
    ids = {s: gb.find_grade("written_why", assignment, assignment, s).id for s in students}
    comment_ids = {s: gb.find_comment("written_why", assignment, assignment, s).id for s in students}
    rnd = 0
    while time.monotonic() < deadline and rnd < 2000:
        running = not os.path.exists(stop)
        for s in students:
            score = (rnd % 4 + 1) / 4
            # what formgrader's GradeHandler.put and CommentHandler.put do
            grade = gb.find_grade_by_id(ids[s])
            grade.manual_score = score
            grade.needs_manual_grade = grade.manual_score is None and grade.auto_score is None
            gb.db.commit()
            comment = gb.find_comment_by_id(comment_ids[s])
            comment.manual_comment = f"{name} round {rnd}"
            gb.db.commit()
            last[s] = [score, f"{name} round {rnd}"]
            writes += 1
            during += running
        rnd += 1
        if not running:
            break
        time.sleep(0.05)
print(json.dumps({"last": last, "writes": writes, "during": during}))
"""


def test_concurrent_manual_grades_during_grading_all_kept(postgres, tmp_path):
    students = _class(n_extra=6)
    course = _course(tmp_path / "class", students)
    url = postgres.create_database("two_graders")
    _set_due(course, url)
    assert cli.main(["--course", str(course), "--db", url, "grade", fx.ASSIGNMENT, *GRADE_OPTS]) == 0
    first = _dump(course, url)

    names = sorted(students)
    stop = tmp_path / "stop"
    env = {**os.environ, "PYTHONPATH": str(fx.REPO)}
    grade = subprocess.Popen([sys.executable, "-m", "nnkit.course.cli", "--course", str(course), "--db", url,
                              "grade", fx.ASSIGNMENT, *GRADE_OPTS], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    graders = [subprocess.Popen([sys.executable, "-c", GRADER, url, "nnkit", who, fx.ASSIGNMENT, str(stop),
                                 *names[i::2]], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
               for i, who in enumerate(("ta-one", "ta-two"))]
    try:
        out, err = grade.communicate(timeout=600)
        stop.touch()
        results = [g.communicate(timeout=120) for g in graders]
    finally:
        for p in (grade, *graders):
            if p.poll() is None:
                p.kill()
                p.wait()
    assert grade.returncode == 0, err[-3000:]
    assert "graded 10, failed 0" in out, out + err[-2000:]
    for g, (_gout, gerr) in zip(graders, results):
        assert g.returncode == 0, gerr[-3000:]
    reports = [json.loads(gout) for gout, _gerr in results]
    assert all(r["during"] >= len(r["last"]) for r in reports), reports  # at least a round while grading ran
    expected = {s: v for r in reports for s, v in r["last"].items()}
    assert sorted(expected) == names

    after = _dump(course, url)
    gradebook.use_db(url)
    try:
        with gradebook.open_gradebook(course) as gb:
            comments = {s: gb.find_comment("written_why", fx.ASSIGNMENT, fx.ASSIGNMENT, s).manual_comment
                        for s in names}
    finally:
        gradebook.use_db(None)
    for s in names:
        auto, manual, needs = after[s]["cells"]["written_why"]
        assert (manual, comments[s]) == tuple(expected[s]), s
        assert needs is False, f"{s}: a graded written answer is flagged as still to grade"
        # the re-grade changed no auto score
        auto_scores = {k: v[0] for k, v in after[s]["cells"].items()}
        assert auto_scores == {k: v[0] for k, v in first[s]["cells"].items()}, s


def _grade_with(course: Path, url: str | None, capsys) -> tuple[int, str]:
    argv = ["--course", str(course), *(["--db", url] if url else []), "grade", fx.ASSIGNMENT, *GRADE_OPTS]
    code = cli.main(argv)
    return code, capsys.readouterr().err


def _nothing_written(course: Path) -> None:
    left = sorted(p.name for p in course.iterdir())
    assert left == ["graders", "nbgrader_config.py", "submitted"], left


def test_unreachable_url_fails_loudly(postgres, tmp_path, capsys):
    course = _course(tmp_path / "c", _class())
    port = closed_port()
    code, err = _grade_with(course, f"postgresql://grader:s3cret@127.0.0.1:{port}/gradebook", capsys)
    assert code == cli.USAGE_ERROR
    assert f"cannot reach the gradebook at postgresql+psycopg://grader:***@127.0.0.1:{port}/gradebook" in err
    assert "never falls back" in err and "s3cret" not in err
    _nothing_written(course)

    # the server answers but the database does not exist
    code, err = _grade_with(course, postgres.url("no_such_db"), capsys)
    assert code == cli.USAGE_ERROR and 'database "no_such_db" does not exist' in err, err
    _nothing_written(course)

    # a driver that is not installed
    code, err = _grade_with(course, "mysql://u@127.0.0.1/x", capsys)
    assert code == cli.USAGE_ERROR and "cannot use the gradebook URL mysql://u@127.0.0.1/x" in err, err
    _nothing_written(course)

    # the URL from the course config, not the command line: the same
    cfg = course / "nbgrader_config.py"
    url = f"postgresql+psycopg://u@127.0.0.1:{port}/gb"
    cfg.write_text(cfg.read_text() + f'\nc.CourseDirectory.db_url = "{url}"\n')
    code, err = _grade_with(course, None, capsys)
    assert code == cli.USAGE_ERROR and f"cannot reach the gradebook at {url}" in err, err
    assert cli.main(["--course", str(course), "export", "--format", "csv"]) == cli.USAGE_ERROR
    assert "cannot reach the gradebook" in capsys.readouterr().err
    _nothing_written(course)


def test_a_manual_grade_committed_while_grade_writes_keeps_its_flag(postgres, tmp_path):
    """A grader's open transaction holds alice's written-answer row while ``grade`` records alice.

    Whatever ``grade`` writes to that row lands after the grader's commit, so "needs a manual grade"
    must follow from the manual score as committed then, not from a value read before (a write of
    a value computed from the earlier read would flag the graded answer as ungraded).
    """
    import threading

    import psycopg

    course = _course(tmp_path / "one", {"alice": _class()["alice"]})
    url = postgres.create_database("row_lock")
    _set_due(course, url)
    assert cli.main(["--course", str(course), "--db", url, "grade", fx.ASSIGNMENT, *GRADE_OPTS]) == 0
    gradebook.use_db(url)
    try:
        with gradebook.open_gradebook(course) as gb:
            row = gb.find_grade("written_why", fx.ASSIGNMENT, fx.ASSIGNMENT, "alice").id
    finally:
        gradebook.use_db(None)
    connect = {"host": "127.0.0.1", "port": postgres.port, "user": "postgres", "dbname": "row_lock"}
    result: dict = {}
    with psycopg.connect(**connect) as grader, psycopg.connect(**connect, autocommit=True) as watch:
        grader.execute("UPDATE grade SET manual_score = 1, needs_manual_grade = false WHERE id = %s", (row,))
        run = threading.Thread(target=lambda: result.setdefault("code", cli.main(
            ["--course", str(course), "--db", url, "grade", fx.ASSIGNMENT, *GRADE_OPTS])))
        run.start()
        try:
            deadline = time.monotonic() + 300
            waiting = 0
            while not waiting and run.is_alive() and time.monotonic() < deadline:
                waiting = watch.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = 'row_lock' "
                                        "AND wait_event_type = 'Lock'").fetchone()[0]
                time.sleep(0.1)
            assert waiting or not run.is_alive(), "grade neither waited for the row nor finished"
        finally:
            grader.commit()
            run.join(timeout=300)
    assert result.get("code") == 0
    after = _dump(course, url)
    assert after["alice"]["cells"]["written_why"] == (None, 1.0, False)
