"""The grading engine on a tiny fixture assignment: sandbox, retries, partial credit, fallbacks."""

from __future__ import annotations

import json

import pytest

from nnkit.course import engine, sandbox
from tests._course_fixture import ANSWERS, ASSIGNMENT, HEADERS, make_course, notebook, submit

LIMITS = sandbox.Limits(cell_seconds=5, part_cap_seconds=2.0, total_seconds=60)
KIND = sandbox.detect()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return make_course(tmp_path_factory.mktemp("fxcourse"))


@pytest.fixture(scope="module")
def assignment(course):
    return engine.Assignment.load(course, ASSIGNMENT)


def grade(course, assignment, student, nb, kind=KIND, **kw):
    folder = submit(course, student, nb, **kw)
    return engine.grade_submission(assignment, student, folder, run_seed=7, limits=LIMITS, kind=kind)


def scores(result):
    return {p.grade_id: p.points for p in result.parts if p.kind == "auto"}


def with_answers(**answers):
    return notebook("release", {fn: HEADERS[fn] + body for fn, body in answers.items()})


def test_points_come_from_the_source_notebook(assignment):
    assert assignment.points == {"test_double": 1.0, "test_mse": 2.0, "test_total": 1.0}
    assert assignment.manual == {"written_why": 1.0}


def test_bubblewrap_is_used_here():
    """CI installs bubblewrap, so there the sandbox must be the real one (the hostile batch needs it);
    on a developer's machine without it, the rlimit fallback is what runs and this says how to fix it."""
    from tests.conftest import IN_CI
    if KIND != "bwrap" and not IN_CI:
        pytest.skip("bubblewrap not usable here (apt-get install bubblewrap); grading falls back to rlimits")
    assert KIND == "bwrap", "bubblewrap is installed on this machine and must be usable"


def test_solution_gets_full_marks_and_manual_part_is_left(course, assignment):
    r = grade(course, assignment, "sol", notebook("release", ANSWERS))
    assert scores(r) == {"test_double": 1, "test_mse": 2, "test_total": 1}
    assert r.score == 4 and r.max_score == 5 and r.status == "graded"
    manual = [p for p in r.parts if p.kind == "manual"]
    assert [p.grade_id for p in manual] == ["written_why"]
    assert r.sandbox == KIND and r.runs == 3  # one fresh sandbox per part


def test_stub_gets_zero_with_reasons(course, assignment):
    r = grade(course, assignment, "stub", notebook("release"))
    assert r.score == 0
    assert all("NotImplementedError" in p.reason for p in r.parts if p.kind == "auto")


def test_partial_submission(course, assignment):
    r = grade(course, assignment, "partial", with_answers(
        double="    return 2 * x", mse="    return float(np.sum((pred - target) ** 2))"))
    assert scores(r) == {"test_double": 1, "test_mse": 0, "test_total": 0}
    mse = next(p for p in r.parts if p.grade_id == "test_mse")
    assert "values differ" in mse.reason and "relative error" in mse.reason
    assert "expected another value" in mse.reason  # the expected number itself is not shown


def test_hang_in_one_part_keeps_the_others(course, assignment):
    # ignores the runner's alarm and swallows everything: only the trusted side's kill stops it
    loop = ("    import signal\n    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
            "    while True:\n        try:\n            pass\n"
            "        except BaseException:\n            pass")
    r = grade(course, assignment, "hang", with_answers(
        double=ANSWERS["double"].split('"""\n', 2)[-1], mse=loop, total="    return float(np.sum(x))"))
    assert scores(r) == {"test_double": 1, "test_mse": 0, "test_total": 1}
    assert "timed out" in next(p for p in r.parts if p.grade_id == "test_mse").reason
    assert r.runs == 3


def test_exit_in_a_cell_is_skipped_and_graded(course, assignment):
    nb = notebook("release", ANSWERS)
    nb["cells"].insert(3, {"cell_type": "code", "metadata": {}, "source": "import os\nos._exit(0)",
                           "outputs": [], "execution_count": None})
    r = grade(course, assignment, "exitcell", nb)
    assert r.score == 4
    assert any("skipped" in n for n in r.notes)


def test_the_reference_is_not_in_the_sandbox(course, assignment):
    swallowed = ("    try:\n        return nnkit.losses.mse(pred, target)[0]\n"
                 "    except Exception:\n        return 0.0")
    r = grade(course, assignment, "ref", with_answers(mse=swallowed))
    assert scores(r)["test_mse"] == 0
    direct = "    from nnkit.losses import mse as reference\n    return reference(pred, target)[0]"
    r = grade(course, assignment, "ref2", with_answers(mse=direct))
    mse = next(p for p in r.parts if p.grade_id == "test_mse")
    assert mse.points == 0
    assert "nnkit.losses" in mse.reason and "sandbox holds only the nnkit modules" in mse.reason


def test_reference_cannot_be_precomputed_at_top_level(course, assignment):
    nb = notebook("release", ANSWERS)
    # a cell that calls the reference at import time fails; the answer itself is graded normally
    nb["cells"].insert(3, {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                           "source": "CACHE = nnkit.losses.mse(np.ones(2), np.zeros(2))"})
    r = grade(course, assignment, "precompute", nb)
    assert r.score == 4
    assert any("not in the grading sandbox" in n or "nnkit.losses" in n for n in r.notes)


def test_fallback_without_bubblewrap_grades_the_same(course, assignment):
    nb = with_answers(double="    return 2 * x", mse="    raise ValueError('nope')",
                      total="    return float(np.sum(x))")
    a = grade(course, assignment, "fb1", nb, kind="rlimit-only")
    b = grade(course, assignment, "fb1", nb, kind=KIND)
    assert a.sandbox == "rlimit-only"
    assert scores(a) == scores(b) == {"test_double": 1, "test_mse": 0, "test_total": 1}
    assert [p.reason for p in a.parts] == [p.reason for p in b.parts]


def test_missing_and_unreadable_notebooks(course, assignment):
    none = engine.grade_submission(assignment, "ghost", None, run_seed=1, limits=LIMITS, kind=KIND)
    assert none.status == "missing" and none.score == 0 and len(none.parts) == 4
    bad = grade(course, assignment, "badjson", '{"cells": [', )
    assert bad.status == "failed" and bad.score == 0
    assert "not valid JSON" in bad.parts[0].reason


def test_renamed_notebook_with_stray_files(course, assignment):
    r = grade(course, assignment, "renamed", notebook("release", ANSWERS), name="my work.ipynb",
              extra={"numpy.py": "raise SystemExit('shadowed')", "sitecustomize.py": "raise SystemExit(3)"})
    assert r.score == 4
    assert any("renamed" in n for n in r.notes)


def test_results_are_plain_data(course, assignment):
    hostile = ("    class Liar(np.ndarray):\n        def __eq__(self, other):\n            return True\n"
               "    return np.zeros(np.shape(x)).view(Liar)")
    weird = ("    class Any:\n        def __eq__(self, o):\n            return True\n"
             "        def __array__(self, *a, **k):\n            return np.zeros(3)\n    return Any()")
    r = grade(course, assignment, "liar", with_answers(double=hostile, total=weird))
    assert scores(r) == {"test_double": 0, "test_mse": 0, "test_total": 0}
    total = next(p for p in r.parts if p.grade_id == "test_total")
    assert "returned an object of type" in total.reason


def test_job_folder_holds_one_part_and_no_expected_values(course, assignment, monkeypatch):
    """What goes into a sandbox: the program and ONE part's inputs, never the reference's answers."""
    seen = []
    real_run = sandbox.run

    def spy(image, job_dir, *args):
        files = sorted(p.name for p in job_dir.iterdir())
        seen.append((json.loads((job_dir / "job.json").read_text()), files))
        return real_run(image, job_dir, *args)

    monkeypatch.setattr(sandbox, "run", spy)
    r = grade(course, assignment, "spy", notebook("release", ANSWERS))
    assert r.score == 4
    assert [job["part"]["function"] for job, _files in seen] == ["double", "mse", "total"]
    for job, files in seen:
        text = json.dumps(job)
        assert "HIDDEN" not in text and "37.515625" not in text and "GRADER" not in text
        assert set(job) == {"cells", "skip", "cell_timeout", "part"}
        n_cases = len(job["part"]["cases"])
        assert all(f == "job.json" or f.endswith(".npy") for f in files)
        assert len(files) - 1 == sum(1 for f in files if f.endswith(".npy")) <= 2 * n_cases


def test_environment_fault_is_an_error_not_a_zero(course, assignment, monkeypatch):
    """The sandbox cannot import nnkit: no student code ran, so the submission is to be graded again."""
    monkeypatch.setattr(sandbox, "_init_source",
                        lambda *a: "raise ImportError('simulated: this nnkit cannot be imported')\n")
    broken = engine.Assignment.load(course, ASSIGNMENT)
    r = grade(course, broken, "unlucky", notebook("release", ANSWERS))
    assert r.status == "error" and r.score == 0
    assert all(p.reason.startswith("not graded") for p in r.parts if p.kind == "auto")
    assert "simulated: this nnkit cannot be imported" in r.notes[-1] and "graded again" in r.notes[-1]
    assert engine.canary(broken, run_seed=1, limits=LIMITS, kind=KIND).startswith("the solution of fx_tiny")
    assert engine.canary(assignment, run_seed=1, limits=LIMITS, kind=KIND) is None


def test_assignment_travels_to_another_process(course, assignment, tmp_path):
    """Pickled (as Dask ships it), the assignment grades the same in a fresh interpreter that never reads
    the course directory: it carries the grader's source, the template and the sandbox image."""
    import pickle
    import shutil
    import subprocess
    import sys

    folder = submit(course, "travel", with_answers(double="    return 2 * x"))
    here = grade(course, assignment, "travel", with_answers(double="    return 2 * x"))
    blob = tmp_path / "assignment.pickle"
    blob.write_bytes(pickle.dumps(assignment))
    moved = tmp_path / "elsewhere"
    shutil.copytree(folder, moved)
    shutil.rmtree(course.parent / "course" / "graders", ignore_errors=False)
    try:
        script = ("import pickle, sys, json\nfrom nnkit.course import engine, sandbox\n"
                  f"a = pickle.loads(open({str(blob)!r}, 'rb').read())\n"
                  f"r = engine.grade_submission(a, 'travel', {str(moved)!r}, run_seed=7, "
                  "limits=sandbox.Limits(cell_seconds=5, part_cap_seconds=2.0, total_seconds=60))\n"
                  "print(json.dumps([(p.grade_id, p.points, p.reason) for p in r.parts]))\n")
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    finally:
        (course / "graders").mkdir(exist_ok=True)
        from tests._course_fixture import GRADER
        (course / "graders" / f"{ASSIGNMENT}.py").write_text(GRADER)
    assert out.returncode == 0, out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[-1]) == [[p.grade_id, p.points, p.reason] for p in here.parts]


def test_cells_are_charged_to_the_budget_once_not_once_per_part(course, assignment):
    """Every part runs the cells again in its own sandbox: the grader's doing, not the student's. A
    notebook whose cells take 2.5 s fits a 6 s budget (charged once), though its three runs take ~8 s of
    cells; cells that take longer than the budget still use it up in the first run."""
    slow = {**ANSWERS, "double": ANSWERS["double"] + "\nimport time\ntime.sleep(2.5)\n"}
    folder = submit(course, "slowcells", notebook("release", slow))
    tight = sandbox.Limits(cell_seconds=5, part_cap_seconds=2.0, total_seconds=6)
    r = engine.grade_submission(assignment, "slowcells", folder, run_seed=7, limits=tight, kind=KIND)
    assert scores(r) == {"test_double": 1, "test_mse": 2, "test_total": 1}, [p.reason for p in r.parts]
    assert r.runs == 3

    slower = {**ANSWERS, "double": ANSWERS["double"] + "\nimport time\ntime.sleep(4)\n",
              "mse": ANSWERS["mse"] + "\nimport time\ntime.sleep(4)\n"}
    folder = submit(course, "slowercells", notebook("release", slower))
    r = engine.grade_submission(assignment, "slowercells", folder, run_seed=7, limits=tight, kind=KIND)
    assert r.score == 0
    assert any("total time budget" in p.reason for p in r.parts if p.kind == "auto"), \
        [p.reason for p in r.parts]
