"""`nnkit-course release` and `nnkit-course grade` on the real assignments, in a copy of the course."""

from __future__ import annotations

import csv
import html
import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from nnkit.course import cli, sandbox
from tests._course_fixture import REPO, copy_released, released_tree

ASSIGNMENTS = sorted(p.stem for p in (REPO / "course" / "graders").glob("ex*.py")
                     if (REPO / "solutions" / p.stem).is_dir())
GRADE_OPTS = ["--seed", "5", "--quiet", "--part-timeout", "20", "--cell-timeout", "60"]


def _nb_path(root: Path, folder: str, assignment: str) -> Path:
    (path,) = sorted((root / folder / assignment).glob("*.ipynb"))
    return path


def _cells(path: Path):
    nb = json.loads(path.read_text())
    return [(c["cell_type"], "".join(c["source"]) if isinstance(c["source"], list) else c["source"],
             c.get("metadata", {}).get("nbgrader")) for c in nb["cells"]]


def _autograded_points(assignment: str) -> float:
    nb = json.loads(_nb_path(REPO, "solutions", assignment).read_text())
    return sum(c["metadata"]["nbgrader"].get("points", 0) for c in nb["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("grade") and c["cell_type"] == "code")


@pytest.mark.slow
def test_exercises_equal_a_fresh_release_of_solutions():
    fresh = released_tree()
    released = sorted(d.name for d in (REPO / "solutions").iterdir() if d.is_dir())
    assert released, "no assignments in solutions/"
    for assignment in released:
        committed = REPO / "exercises" / assignment
        assert committed.is_dir(), f"exercises/{assignment} is missing: run `nnkit-course release`"
        got, want = _nb_path(fresh, "exercises", assignment), _nb_path(REPO, "exercises", assignment)
        assert got.name == want.name
        assert _cells(want) == _cells(got), (
            f"exercises/{assignment} differs from a fresh generate_assignment of solutions/: "
            "run `nnkit-course release`")


# carol and erin: hand-written partial submissions of ex02_losses
CAROL = {  # mae, mse, softmax, CE right (7); hinge sums instead of averaging; zero_one left as the stub
    "hinge": "def hinge(scores, y):\n    return float(np.sum(np.maximum(0, 1 - y * scores)))",
}
ERIN = {  # hinge, zero_one, softmax right (5); mae raises, mse has the wrong shape, CE returns the loss only
    "mae": "def mae(pred, target):\n    raise ValueError('I give up')",
    "mse": "def mse(pred, target):\n    return (np.asarray(pred) - np.asarray(target)) ** 2",
    "softmax_cross_entropy": "def softmax_cross_entropy(scores, y):\n"
                             "    p = softmax(scores)\n    return -np.mean(np.log(p[np.arange(len(y)), y]))",
}
PARTIAL = {"carol": (CAROL, 7.0, {"test_hinge", "test_zero_one"}),
           "erin": (ERIN, 5.0, {"test_mae", "test_mse", "test_softmax_cross_entropy"})}


def _partial_notebook(overrides: dict[str, str], keep_stub: tuple[str, ...] = ("zero_one",)) -> dict:
    sol = json.loads(_nb_path(REPO, "solutions", "ex02_losses").read_text())
    rel = json.loads(_nb_path(REPO, "exercises", "ex02_losses").read_text())
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in sol["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for cell in rel["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        fn = gid.removeprefix("answer_")
        if gid.startswith("answer_"):
            if fn in overrides:
                cell["source"] = overrides[fn]
            elif not (overrides is CAROL and fn in keep_stub):
                cell["source"] = answers[gid]
    return rel


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade alice (solutions), bob (untouched student versions), carol and erin (partial ex02)."""
    course = copy_released(released_tree(), tmp_path_factory.mktemp("cli") / "repo")
    root = course.parent
    for assignment in ASSIGNMENTS:
        for student, folder in (("alice", "solutions"), ("bob", "exercises")):
            src = _nb_path(root, folder, assignment)
            dest = course / "submitted" / student / assignment
            dest.mkdir(parents=True)
            (dest / src.name).write_bytes(src.read_bytes())
    for student, (overrides, _score, _failed) in PARTIAL.items():
        dest = course / "submitted" / student / "ex02_losses"
        dest.mkdir(parents=True)
        (dest / "ex02_losses.ipynb").write_text(json.dumps(_partial_notebook(overrides)))
        (dest / "timestamp.txt").write_text("2026-11-20 10:00:00.000000 UTC")  # as nbgrader collect writes
    assert cli.main(["--course", str(course), "grade", "--all", "--jobs", "2", *GRADE_OPTS]) == 0
    parallel = json.loads(json.dumps({a: json.loads((course / "reports" / f"{a}.json").read_text())
                                      for a in ASSIGNMENTS}))
    return course, parallel


def _by_student(report: dict) -> dict:
    return {s["student"]: s for s in report["students"]}


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_full_marks_stub_zero(graded, assignment):
    course, reports = graded
    students = _by_student(reports[assignment])
    alice, bob = students["alice"], students["bob"]
    lost = {p["grade_id"]: p["reason"] for p in alice["parts"] if p["kind"] == "auto" and p["reason"]}
    assert not lost, f"the solution of {assignment} lost points: {lost}"
    assert alice["score"] == _autograded_points(assignment) > 0
    assert bob["score"] == 0 and bob["status"] == "graded"
    assert all(p["points"] == 0 for p in bob["parts"])
    assert alice["sandbox"] == sandbox.detect()
    assert (course / "feedback" / "alice" / assignment).is_dir()
    for student in ("alice", "bob"):  # formgrader reads these: valid nbformat, every grade cell present
        (nb_file,) = (course / "autograded" / student / assignment).glob("*.ipynb")
        nb = nbformat.read(nb_file, as_version=4)
        nbformat.validate(nb)
        ids = {c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells}
        assert {p["grade_id"] for p in alice["parts"]} <= ids


@pytest.mark.slow
def test_feedback_never_shows_hidden_tests(graded):
    course, _reports = graded
    for assignment in ASSIGNMENTS:
        release_text = _nb_path(REPO, "exercises", assignment).read_text()
        hidden, inside = set(), False
        for _type, src, _meta in _cells(_nb_path(REPO, "solutions", assignment)):
            for line in src.splitlines():
                s = line.strip()
                if s in ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"):
                    inside = s.startswith("### BEGIN")
                elif inside and len(s) >= 10 and json.dumps(s)[1:-1] not in release_text:
                    hidden.add(s)
        for f in (course / "feedback").rglob(f"{assignment}/*.html"):
            text = html.unescape(f.read_text())
            assert not [line for line in hidden if line in text], f


@pytest.mark.slow
def test_partial_submissions_and_feedback(graded):
    course, reports = graded
    students = _by_student(reports["ex02_losses"])
    for student, (_overrides, score, failed) in PARTIAL.items():
        s = students[student]
        lost = {p["grade_id"] for p in s["parts"] if p["kind"] == "auto" and p["reason"]}
        assert (s["score"], lost) == (score, failed), s["parts"]
        html = (course / "feedback" / student / "ex02_losses" / "ex02_losses.html").read_text()
        for gid in failed:
            assert gid in html
        assert f"{score:g} / 10" in html
    erin = {p["grade_id"]: p["reason"] for p in students["erin"]["parts"]}
    assert "ValueError: I give up" in erin["test_mae"]
    assert "shape" in erin["test_mse"]


@pytest.mark.slow
def test_csv_has_one_row_per_student_per_assignment(graded):
    course, _reports = graded
    with open(course / "grades.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
                             "email", "raw_score", "late_submission_penalty", "score", "max_score"]
    pairs = [(r["assignment"], r["student_id"]) for r in rows]
    assert len(pairs) == len(set(pairs))
    released = {d.name for d in (course.parent / "solutions").iterdir() if d.is_dir()}
    assert set(pairs) == {(a, s) for a in released for s in ("alice", "bob", "carol", "erin")}
    score = {(r["assignment"], r["student_id"]): float(r["score"]) for r in rows}
    assert score[("ex02_losses", "carol")] == 7.0 and score[("ex02_losses", "bob")] == 0.0
    stamp = {(r["assignment"], r["student_id"]): r["timestamp"] for r in rows}
    assert stamp[("ex02_losses", "carol")].startswith("2026-11-20 10:00:00")
    assert stamp[("ex02_losses", "alice")] == ""  # no timestamp.txt: none, as nbgrader autograde does
    # alice's code earns every autograded point; max_score also counts the written part, graded by hand
    assert score[("ex02_losses", "alice")] == _autograded_points("ex02_losses") < float(next(
        r["max_score"] for r in rows if r["assignment"] == "ex02_losses"))


@pytest.mark.slow
def test_formgrader_sees_autograded_submissions(graded, monkeypatch):
    """nbgrader's own API (what formgrader shows) lists every submission as autograded."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    course, _reports = graded
    monkeypatch.chdir(course)  # formgrader runs in the course directory (db_url is relative)
    cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
    cfg.CourseDirectory.root = str(course)
    api = NbGraderAPI(CourseDirectory(config=cfg), config=cfg)
    subs = {s["student"]: s for s in api.get_submissions("ex02_losses")}
    assert set(subs) == {"alice", "bob", "carol", "erin"}
    assert all(s["autograded"] for s in subs.values())
    assert subs["carol"]["score"] == 7.0 and subs["alice"]["score"] == 10.0


@pytest.mark.slow
def test_serial_equals_parallel(graded):
    course, parallel = graded
    subset = [a for a in ("ex01_perceptron", "ex02_losses", "ex05_backprop") if a in ASSIGNMENTS]
    assert cli.main(["--course", str(course), "grade", *subset, "--jobs", "1", *GRADE_OPTS]) == 0
    for assignment in subset:
        serial = json.loads((course / "reports" / f"{assignment}.json").read_text())

        def key(report):
            return {s["student"]: [(p["grade_id"], p["points"], p["reason"]) for p in s["parts"]]
                    for s in report["students"]}

        assert key(serial) == key(parallel[assignment])


def test_submissions_zip_is_unpacked_safely(tmp_path):
    course = copy_released(released_tree(), tmp_path / "repo")
    sol = _nb_path(course.parent, "solutions", "ex02_losses").read_bytes()
    stub = _nb_path(course.parent, "exercises", "ex02_losses").read_bytes()
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("hand-in/zoe.ipynb", sol)
        zf.writestr("hand-in/yan/ex02_losses.ipynb", stub)
        zf.writestr("hand-in/../../evil.ipynb", sol)
        zf.writestr("/abs/evil.ipynb", sol)
        zf.writestr("hand-in/yan/numpy.py", "raise SystemExit")
    assert cli.main(["--course", str(course), "grade", "ex02_losses", "--submissions", str(archive),
                     *GRADE_OPTS]) == 0
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["yan", "zoe"]
    assert sorted(p.name for p in (course / "submitted" / "yan" / "ex02_losses").iterdir()) == [
        "ex02_losses.ipynb", "timestamp.txt"]  # no numpy.py; the import time recorded as nbgrader does
    assert not (tmp_path / "evil.ipynb").exists() and not (course.parent / "evil.ipynb").exists()
    report = _by_student(json.loads((course / "reports" / "ex02_losses.json").read_text()))
    assert report["zoe"]["score"] == 10 and report["yan"]["score"] == 0


def test_misuse_exits_nonzero(tmp_path, capsys):
    course = copy_released(released_tree(), tmp_path / "repo")
    assert cli.main(["--course", str(course), "grade", "no_such_assignment"]) == 2
    assert cli.main(["--course", str(course), "grade"]) == 2
    assert cli.main(["--course", str(course), "release", "nope"]) == 2
    assert "unknown assignment" in capsys.readouterr().err


def _broken_nnkit(monkeypatch):
    """The sandbox's nnkit cannot be imported (as when a grader imports nnkit from a path no sandbox has)."""
    monkeypatch.setattr(sandbox, "_init_source",
                        lambda *a: "raise ImportError('simulated: this nnkit cannot be imported')\n")


@pytest.mark.slow
def test_broken_environment_stops_before_the_gradebook(tmp_path, monkeypatch, capsys):
    """The canary: the solution must get full marks in the sandbox, or nothing is graded or written."""
    course = copy_released(released_tree(), tmp_path / "repo")
    src = _nb_path(course.parent, "solutions", "ex01_perceptron")
    dest = course / "submitted" / "alice" / "ex01_perceptron"
    dest.mkdir(parents=True)
    (dest / src.name).write_bytes(src.read_bytes())
    before = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    _broken_nnkit(monkeypatch)
    assert cli.main(["--course", str(course), "grade", "ex01_perceptron", *GRADE_OPTS]) == 2
    err = capsys.readouterr().err
    assert "grading environment is broken" in err and "simulated: this nnkit cannot be imported" in err
    after = {p: p.read_bytes() for p in course.rglob("*") if p.is_file()}
    assert after == before  # gradebook, submissions, no feedback, no report: byte for byte


def test_course_is_found_from_the_working_directory(tmp_path, monkeypatch):
    course = copy_released(released_tree(), tmp_path / "repo")
    for where in (course.parent, course, course / "graders"):
        monkeypatch.chdir(where)
        assert cli.find_course_dir(None) == course.resolve()
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        cli.find_course_dir(None)


@pytest.mark.slow
def test_grade_from_a_non_editable_install(tmp_path):
    """`pip install` the wheel (with the course extra's tools from this venv), run `nnkit-course grade`
    from the course directory: no repository on the path, the course found from the working directory."""
    import subprocess
    import sys

    wheel_dir = tmp_path / "wheel"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(wheel_dir), str(REPO)], check=True, timeout=600)
    (wheel,) = wheel_dir.glob("nnkit-*.whl")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    py = venv / "bin" / "python"
    # nnkit's dependencies from this environment's site-packages (a plain path: not its editable nnkit)
    site_dir = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (Path(site_dir) / "course-deps.pth").write_text("\n".join(deps) + "\n")
    subprocess.run([str(py), "-m", "pip", "install", "--no-deps", "--force-reinstall", "-q", str(wheel)],
                   check=True, timeout=600)
    course = copy_released(released_tree(), tmp_path / "repo")
    src = _nb_path(course.parent, "solutions", "ex02_losses")
    dest = course / "submitted" / "alice" / "ex02_losses"
    dest.mkdir(parents=True)
    (dest / src.name).write_bytes(src.read_bytes())
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    where = subprocess.run([str(py), "-c", "import nnkit; print(nnkit.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, check=True)
    assert where.stdout.strip().startswith(str(venv)), where.stdout  # the wheel's nnkit, not the repo's
    out = subprocess.run([str(venv / "bin" / "nnkit-course"), "grade", "ex02_losses", *GRADE_OPTS],
                         cwd=course, env=env, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    report = _by_student(json.loads((course / "reports" / "ex02_losses.json").read_text()))
    assert report["alice"]["score"] == 10
