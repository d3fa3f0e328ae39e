"""``nnkit-course grade --scheduler``: a real Dask scheduler and worker processes on 127.0.0.1.

The workers run in a mount namespace in which the graded course copy is an empty tmpfs, so they cannot
read the submissions, graders or solutions from disk, nor write the gradebook: everything they grade was
shipped from the instructor's process, and everything written was written by it. Checked here:

* a mixed batch of hostile and honest ex02_losses submissions gets on the cluster exactly the grades,
  reasons and notes of the local pool, and the scores tests/hostile/cases.py expects;
* a worker killed with SIGKILL while it grades (its sandbox is running): every submission is still
  graded, exactly once, with full marks;
* a worker whose environment differs from the instructor's refuses to grade: the canary (the solution,
  graded on the cluster first) finds it, the run stops with exit code 2 and nothing reaches the
  gradebook, rather than zeros; a scheduler lost mid-run leaves the unfinished submissions ungraded
  (exit code 1);
* the grader travels by value: a fresh interpreter that has no grader file can load the assignment.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from nnkit.course import cli, distributed, engine, sandbox
from tests import _course_fixture as fx
from tests._dask_cluster import descendants, local_cluster, start_worker, worker_count
from tests.hostile.cases import ASSIGNMENT, MANIFEST, build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sandbox.detect() != "bwrap",
                       reason="the cluster tests hide the course from the workers with bubblewrap"),
]
OPTS = ["--seed", "11", "--quiet", "--part-timeout", "3", "--cell-timeout", "5", "--submission-timeout", "90"]
MIXED = ["honest_full", "honest_partial", "swallow_loop", "memory_bomb", "kill_self", "os_exit_in_function",
         "fork_outlive", "write_outside", "gradebook_attack", "read_secrets", "invalid_json", "no_notebook",
         "renamed_notebook", "stray_modules", "calls_reference", "nbformat3"]


def _course(tmp: Path, students: dict[str, dict[str, bytes]] | list[str]) -> tuple[Path, dict]:
    course = fx.copy_released(fx.released_tree(), tmp / "repo")
    root = course.parent
    (sol,) = (root / "solutions" / ASSIGNMENT).glob("*.ipynb")
    (rel,) = (root / "exercises" / ASSIGNMENT).glob("*.ipynb")
    ctx = {"release": json.loads(rel.read_text()), "solution": json.loads(sol.read_text()), "repo": root,
           "course": course, "marker": f"{os.getpid()}.{time.monotonic_ns() % 10**6:06d}"}
    files = students if isinstance(students, dict) else {name: build(name, ctx) for name in students}
    for name, content in files.items():
        folder = course / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        for fname, data in content.items():
            (folder / fname).write_bytes(data)
    return course, ctx


def _report(course: Path) -> dict[str, dict]:
    data = json.loads((course / "reports" / f"{ASSIGNMENT}.json").read_text())
    by_student: dict[str, dict] = {}
    for s in data["students"]:
        assert s["student"] not in by_student, f"{s['student']} graded twice"
        by_student[s["student"]] = s
    return by_student


def _grades(course: Path) -> list[tuple]:
    con = sqlite3.connect(f"file:{course / 'gradebook.db'}?mode=ro", uri=True)
    try:
        return sorted(con.execute("""SELECT s.student_id, bc.name, g.auto_score, g.manual_score
                                     FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id
                                     JOIN submitted_assignment s ON sn.assignment_id = s.id
                                     JOIN base_cell bc ON g.cell_id = bc.id""").fetchall())
    finally:
        con.close()


# Two details of the engine's own reports race under load, in the local pool as well as on the cluster:
# the exit code quoted for a sandbox that ended (0 from os._exit, or -9 when the engine's kill of the
# sandbox wins), and kill_self's note about its skipped demo cell. Points, statuses and the rest of
# every reason and note are compared exactly.
RACY_NOTES = {"kill_self"}
_EXIT_CODE = re.compile(r"exit code -?\d+")


def _graded(s: dict) -> tuple:
    notes = None if s["student"] in RACY_NOTES else [_EXIT_CODE.sub("exit code N", n) for n in s["notes"]]
    parts = [(p["grade_id"], p["points"], p["reason"] and _EXIT_CODE.sub("exit code N", p["reason"]))
             for p in s["parts"]]
    return (s["status"], s["score"], parts, notes)


def _workers_see(cluster, path: Path) -> dict[str, list[str]]:
    from distributed import Client

    with Client(scheduler_file=str(cluster.scheduler_file), set_as_default=False, timeout=30) as c:
        return c.run(lambda: sorted(os.listdir(path)) if os.path.isdir(path) else ["<missing>"])


def test_cluster_grades_a_hostile_batch_like_the_local_pool(tmp_path):
    local, _ = _course(tmp_path / "local", MIXED)
    remote, _ = _course(tmp_path / "remote", MIXED)
    assert cli.main(["--course", str(local), "grade", ASSIGNMENT, *OPTS, "--jobs", "2"]) == 0
    with local_cluster(tmp_path / "cluster", workers=2, hide=[remote.parent]) as cluster:
        assert _workers_see(cluster, remote.parent) == {w: [] for w in _workers_see(cluster, remote.parent)}
        assert cli.main(["--course", str(remote), "grade", ASSIGNMENT, *OPTS,
                         "--scheduler", cluster.address]) == 0
    here, there = _report(local), _report(remote)
    assert set(here) == set(there) == set(MIXED)
    differ = {n: (_graded(here[n]), _graded(there[n])) for n in MIXED
              if _graded(here[n]) != _graded(there[n])}
    assert not differ, json.dumps(differ, indent=1)
    wrong = {n: (there[n]["score"], there[n]["status"], MANIFEST[n][:2]) for n in MIXED
             if (there[n]["score"], there[n]["status"]) != MANIFEST[n][:2]}
    assert not wrong, wrong
    assert all(s["sandbox"] == "bwrap" for s in there.values())
    # the instructor's process wrote the same gradebook rows, feedback and autograded notebooks
    assert _grades(remote) == _grades(local) and {r[0] for r in _grades(remote)} == set(MIXED)
    assert sorted(p.relative_to(remote) for p in (remote / "feedback").rglob("*.html")) == \
        sorted(p.relative_to(local) for p in (local / "feedback").rglob("*.html"))
    assert (sorted(p.relative_to(remote) for p in (remote / "autograded").rglob("*.ipynb")) ==
            sorted(p.relative_to(local) for p in (local / "autograded").rglob("*.ipynb")))


def _slow_honest(ctx: dict, seconds: float) -> dict[str, bytes]:
    """The solution plus a student cell that sleeps: the sandbox is busy for a while."""
    nb = json.loads(build("honest_full", ctx)[f"{ASSIGNMENT}.ipynb"])
    nb["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                        "source": f"import time\ntime.sleep({seconds})"})
    return {f"{ASSIGNMENT}.ipynb": json.dumps(nb).encode()}


def test_a_worker_killed_mid_submission_costs_nothing(tmp_path, monkeypatch):
    _, ctx = _course(tmp_path / "template", [])
    students = {f"slow_{i}": _slow_honest(ctx, 2.5) for i in range(6)}
    course, ctx = _course(tmp_path / "batch", students)
    outcome: dict = {}
    # at most 2 submissions per worker thread on the cluster: the others wait in the instructor's queue
    monkeypatch.setattr(distributed, "MIN_IN_FLIGHT", 1)
    pools = []
    real_init = distributed.DaskPool.__init__
    monkeypatch.setattr(distributed.DaskPool, "__init__",
                        lambda self, *a, **k: (pools.append(self), real_init(self, *a, **k))[1])
    with local_cluster(tmp_path / "cluster", workers=2, hide=[course.parent]) as cluster:
        run = threading.Thread(target=lambda: outcome.update(rc=cli.main(
            ["--course", str(course), "grade", ASSIGNMENT, *OPTS, "--scheduler", cluster.address])))
        run.start()
        victim = None
        deadline = time.monotonic() + 240
        while victim is None and time.monotonic() < deadline and run.is_alive():
            for proc in cluster.workers:
                tree = descendants(proc.pid)
                grading = any(f"{sandbox.RUNNER_PACKAGE}.runner" in cmd for _pid, cmd in tree)
                worker = [pid for pid, cmd in tree if "dask worker" in cmd or "dask/__main__" in cmd
                          or " -m dask worker" in cmd]
                if grading and worker:
                    os.kill(worker[0], signal.SIGKILL)
                    victim = (proc, worker[0])
                    break
            time.sleep(0.05)
        run.join(timeout=400)
        assert not run.is_alive(), "grading did not finish"
        assert victim is not None, "no worker was ever seen grading"
        victim[0].wait(timeout=30)  # the worker (and the bubblewrap around it) is gone for good
        survivors = [p for p in cluster.workers if p.poll() is None]
        assert len(survivors) == 1
    assert outcome["rc"] == 0
    assert len(pools) == 1 and 1 <= pools[0].peak_in_flight <= 4  # 2 workers x 1 thread x 2
    report = _report(course)  # raises if a student appears twice
    assert ({n: (s["status"], s["score"]) for n, s in report.items()} ==
            {n: ("graded", 10.0) for n in students})
    rows = _grades(course)
    assert len(rows) == len({(r[0], r[1]) for r in rows})  # one grade per student and cell
    assert {r[0] for r in rows} == set(students)


def test_a_worker_with_another_environment_grades_nothing(tmp_path, monkeypatch, capsys):
    course, _ = _course(tmp_path, ["honest_full", "honest_partial"])
    monkeypatch.setitem(distributed._fingerprint, "fp", "not-the-workers")  # the instructor's nnkit differs
    with local_cluster(tmp_path / "cluster", workers=1, hide=[course.parent]) as cluster:
        rc = cli.main(["--course", str(course), "grade", ASSIGNMENT, *OPTS, "--scheduler-file",
                       str(cluster.scheduler_file)])
    err = capsys.readouterr().err
    # the canary (the solution, graded on the cluster before any submission) finds it: nothing is graded
    assert rc == 2
    assert "grading environment is broken" in err and "runs another nnkit/numpy/Python" in err
    assert _grades(course) == []  # no zeros recorded: the earlier grades (none here) stand
    assert not (course / "feedback").exists() and not (course / "reports").exists()


def test_the_canary_runs_on_the_cluster(tmp_path, monkeypatch, capsys):
    """With a scheduler the solution is graded on a worker, not here; a solution short of full marks
    there stops the run before the gradebook is touched."""
    course, _ = _course(tmp_path, ["honest_full"])
    load = engine.Assignment.load

    def released_as_solution(course_dir, name):  # the canary's "solution" is the stubbed release
        a = load(course_dir, name)
        a.solution = json.loads(next((course_dir.parent / "exercises" / name).glob("*.ipynb")).read_text())
        return a

    def not_here(*_a, **_k):
        raise AssertionError("the canary ran in the instructor's process")

    monkeypatch.setattr(engine.Assignment, "load", staticmethod(released_as_solution))
    monkeypatch.setattr(engine, "canary", not_here)
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    with local_cluster(tmp_path / "cluster", workers=1, hide=[course.parent]) as cluster:
        rc = cli.main(["--course", str(course), "grade", ASSIGNMENT, *OPTS, "--scheduler", cluster.address])
    err = capsys.readouterr().err
    assert rc == 2 and "grading environment is broken" in err and "the solution of" in err, err[-2000:]
    assert {p: p.read_bytes() for p in course.rglob("*") if p.is_file()} == before


def test_cli_refuses_jobs_with_a_scheduler_and_a_missing_scheduler_file(tmp_path, capsys):
    course, _ = _course(tmp_path, ["honest_full"])
    assert cli.main(["--course", str(course), "grade", ASSIGNMENT, "--jobs", "2",
                     "--scheduler-file", str(tmp_path / "none.json")]) == cli.USAGE_ERROR
    assert "--jobs" in capsys.readouterr().err
    assert cli.main(["--course", str(course), "grade", ASSIGNMENT,
                     "--scheduler-file", str(tmp_path / "none.json")]) == cli.USAGE_ERROR
    assert "no scheduler file" in capsys.readouterr().err
    assert _grades(course) == []


def test_the_grader_travels_by_value(tmp_path):
    course = fx.make_course(tmp_path / "repo")
    a = engine.Assignment.load(course, fx.ASSIGNMENT)
    payload = distributed.pack_assignment(a)
    (course / "graders" / f"{fx.ASSIGNMENT}.py").unlink()  # no grader file anywhere for the reader
    code = ("import pickle, sys, numpy as np\n"
            "a = pickle.loads(sys.stdin.buffer.read())\n"
            "part = a.parts[1]\n"
            "case = part.cases(np.random.default_rng(0))[0]\n"
            "good = part.check(case, float(np.mean((case.args[0] - case.args[1]) ** 2)))\n"
            "bad = part.check(case, 123.0)\n"
            "print(a.name, part.function, good, bool(bad))\n")
    out = subprocess.run([sys.executable, "-c", code], input=payload, capture_output=True, cwd=tmp_path,
                         timeout=120)
    assert out.returncode == 0, out.stderr.decode()[-2000:]
    assert out.stdout.decode().split() == [fx.ASSIGNMENT, "mse", "None", "True"]


def test_a_shipped_folder_is_the_folder(tmp_path):
    src = tmp_path / "sub"
    (src / "deep").mkdir(parents=True)
    (src / "a.ipynb").write_bytes(b'{"cells": []}')
    (src / "deep" / "b.ipynb").write_bytes(b"x" * 10)
    with open(src / "huge.ipynb", "wb") as fh:  # over the notebook limit: travels as its size only
        fh.truncate(distributed.MAX_NOTEBOOK_BYTES + 5)
    (src / "link.ipynb").symlink_to(src / "a.ipynb")
    shipped = distributed.ShippedFolder.pack(src)
    assert [(r, s, c is not None) for r, s, c in shipped.files] == [
        ("a.ipynb", 13, True), ("deep/b.ipynb", 10, True),
        ("huge.ipynb", distributed.MAX_NOTEBOOK_BYTES + 5, False)]
    out = shipped.unpack(tmp_path / "out")
    assert (out / "deep" / "b.ipynb").read_bytes() == b"x" * 10
    assert (out / "huge.ipynb").stat().st_size == distributed.MAX_NOTEBOOK_BYTES + 5
    assert not (out / "link.ipynb").exists()
    hostile = distributed.ShippedFolder((("../escape.ipynb", 1, b"x"),))
    hostile.unpack(tmp_path / "out2")
    assert not (tmp_path / "escape.ipynb").exists()
    assert distributed.ShippedFolder.pack(tmp_path / "nope") is None


def test_a_lost_scheduler_leaves_submissions_ungraded_not_zero(tmp_path, monkeypatch, capsys):
    _, ctx = _course(tmp_path / "template", [])
    students = {f"slow_{i}": _slow_honest(ctx, 3) for i in range(3)}
    course, _ = _course(tmp_path / "batch", students)
    outcome: dict = {}
    canary_done = threading.Event()  # the scheduler is killed while submissions, not the canary, grade
    real_canary = cli._canary
    monkeypatch.setattr(cli, "_canary", lambda *a: (real_canary(*a), canary_done.set())[0])
    with local_cluster(tmp_path / "cluster", workers=1, hide=[course.parent]) as cluster:
        run = threading.Thread(target=lambda: outcome.update(rc=cli.main(
            ["--course", str(course), "grade", ASSIGNMENT, *OPTS, "--scheduler", cluster.address])))
        run.start()
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and run.is_alive():
            tree = descendants(cluster.workers[0].pid)
            if canary_done.is_set() and any(f"{sandbox.RUNNER_PACKAGE}.runner" in cmd for _pid, cmd in tree):
                os.killpg(cluster.scheduler.pid, signal.SIGKILL)
                break
            time.sleep(0.05)
        run.join(timeout=400)
        assert not run.is_alive(), "grading did not finish"
        assert cluster.scheduler.wait(timeout=30) is not None
    err = capsys.readouterr().err
    assert outcome["rc"] == 1
    assert "was not graded on the cluster" in err and "were NOT graded" in err
    graded = {r[0] for r in _grades(course)}
    report = _report(course)
    # whatever finished before the scheduler died is recorded with full marks; nothing else is recorded
    assert graded == set(report) and len(graded) < len(students)
    assert all((s["status"], s["score"]) == ("graded", 10.0) for s in report.values())


def test_a_worker_without_bubblewrap_never_grades_unsandboxed(tmp_path, capsys):
    course, _ = _course(tmp_path, ["honest_full"])
    with local_cluster(tmp_path / "cluster", workers=1, hide=[course.parent]) as cluster:
        # a second worker on which /usr/bin/bwrap is an empty, non-executable file
        start_worker(cluster, "nobwrap", hide=[course.parent],
                     wrap_args=["--ro-bind", "/dev/null", sandbox.BWRAP])
        deadline = time.monotonic() + 120
        while worker_count(cluster.scheduler_file) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert worker_count(cluster.scheduler_file) == 2
        for prefer in ("auto", "bwrap"):
            assert cli.main(["--course", str(course), "grade", ASSIGNMENT, *OPTS, "--sandbox", prefer,
                             "--scheduler", cluster.address]) == cli.USAGE_ERROR
            assert "1 of 2 workers have no usable bubblewrap" in capsys.readouterr().err
    assert _grades(course) == []
