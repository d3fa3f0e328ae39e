"""Hostile and broken submissions, graded in batches by `nnkit-course grade`: ex02_losses' corpus
(tests/hostile/cases.py) in one batch, and one batch of every other assignment's (tests/hostile/across.py).

Every submission must get exactly its expected score (tests/hostile/cases.py MANIFEST), honest students
the same grade as when graded alone, the gradebook must hold only what the grader wrote, solutions/
and the graders must be byte-identical, nothing may be written outside the sandbox, no process may
outlive its sandbox, and no feedback file may contain hidden-test or grader source.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import random
import sqlite3
from pathlib import Path

import pytest

from nnkit.course import cli, sandbox
from tests._course_fixture import copy_released, released_tree
from tests.hostile import across
from tests.hostile.cases import ASSIGNMENT, MANIFEST, build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sandbox.detect() != "bwrap",
                       reason="the hostile batch needs bubblewrap (apt-get install bubblewrap)"),
]
OPTS = ["--seed", "11", "--quiet", "--jobs", "2", "--part-timeout", "3", "--cell-timeout", "5",
        "--submission-timeout", "90"]
STRUCTURE_TABLES = ("course", "assignment", "notebook", "base_cell", "grade_cells", "solution_cells",
                    "task_cells", "source_cell")


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def _dump_tables(db: Path, tables) -> dict:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
    finally:
        con.close()


def _setup(tmp: Path, names) -> tuple[Path, dict]:
    course = copy_released(released_tree(), tmp / "repo")
    root = course.parent
    (sol,) = (root / "solutions" / ASSIGNMENT).glob("*.ipynb")
    (rel,) = (root / "exercises" / ASSIGNMENT).glob("*.ipynb")
    marker = f"{random.randint(900, 998)}.{random.randint(0, 10**6):06d}"
    ctx = {"release": json.loads(rel.read_text()), "solution": json.loads(sol.read_text()),
           "repo": root, "course": course, "marker": marker}
    for name in names:
        folder = course / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        for fname, data in build(name, ctx).items():
            (folder / fname).write_bytes(data)
    return course, ctx


def _report(course: Path) -> dict:
    data = json.loads((course / "reports" / f"{ASSIGNMENT}.json").read_text())
    return {s["student"]: s for s in data["students"]}


def _hidden_lines(solution: dict, release_text: str) -> set[str]:
    lines, inside = set(), False
    for cell in solution["cells"]:
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for line in src.splitlines():
            s = line.strip()
            if s == "### BEGIN HIDDEN TESTS":
                inside = True
            elif s == "### END HIDDEN TESTS":
                inside = False
            elif inside and len(s) >= 10 and s not in release_text:
                lines.add(s)
    return lines


def _live_processes_with(text: str) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if text in cmd:
                found.append(f"{proc.name}: {cmd}")
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    course, ctx = _setup(tmp, MANIFEST)
    root = course.parent
    db = course / "gradebook.db"
    before = {"solutions": _tree_hash(root / "solutions"), "graders": _tree_hash(course / "graders"),
              "exercises": _tree_hash(root / "exercises"), "tables": _dump_tables(db, STRUCTURE_TABLES)}
    assert cli.main(["--course", str(course), "grade", ASSIGNMENT, *OPTS]) == 0
    return course, ctx, before


def test_every_expected_score(batch):
    course, _ctx, _before = batch
    report = _report(course)
    assert set(report) == set(MANIFEST)
    wrong = {name: (report[name]["score"], report[name]["status"], exp[:2],
                    [(p["grade_id"], p["reason"]) for p in report[name]["parts"] if p["reason"]],
                    report[name]["notes"])
             for name, exp in MANIFEST.items()
             if (report[name]["score"], report[name]["status"]) != exp[:2]}
    assert not wrong, json.dumps(wrong, indent=1)
    assert all(s["sandbox"] == "bwrap" for s in report.values())


def test_reasons_say_what_happened(batch):
    course, _ctx, _before = batch
    r = {name: {p["grade_id"]: p["reason"] or "" for p in s["parts"]} for name, s in _report(course).items()}
    # the reference is not in the sandbox, and the message says so
    assert "reference implementations included, is not installed here" in r["calls_reference"]["test_mae"]
    assert r["calls_reference"]["test_mse"]  # the swallowed error leaves a wrong answer
    assert "timed out" in r["swallow_loop"]["test_hinge"]
    assert "ended" in r["os_exit_in_function"]["test_mse"] or "exit" in r["os_exit_in_function"]["test_mse"]
    assert "NaN or inf" in r["nan_inf"]["test_mae"]
    assert "shape" in r["broadcast_shapes"]["test_mse"] and "shape" in r["broadcast_shapes"]["test_softmax"]
    assert "returned an object of type" in r["always_true_objects"]["test_mae"]
    assert "SystemExit" in r["sys_exit"]["test_zero_one"]
    assert "not valid JSON" in r["invalid_json"]["test_mae"]
    assert "not submitted" in r["no_notebook"]["test_mae"]


def test_unusual_submissions_say_what_happened(batch):
    course, _ctx, _before = batch
    report = _report(course)
    r = {name: {p["grade_id"]: p["reason"] or "" for p in s["parts"]} for name, s in report.items()}
    notes = {name: " ".join(s["notes"]) for name, s in report.items()}
    # what the sandbox sent and the grader could not read costs that part, with the reason
    assert "could not be read" in r["encode_empty_npy"]["test_mae"]
    assert "does not match its header" in r["encode_huge_shape"]["test_mae"]
    assert "of its own to the grader's result channel" in r["deep_json_line"]["test_mae"]
    # the student's code under a read-only cell's id ran as theirs, and the feedback says so
    assert "read-only cells (setup)" in notes["setup_edited"]
    assert "read-only cells (test_mae)" in notes["forged_test_meta"]
    assert "ended the program abruptly" in notes["fd_closed"]
    assert "not implemented" in r["stub_kept_out"]["test_mae"]
    # a note comes from the grader, never from the notebook's own metadata
    assert "by hand" not in notes["forged_note"]
    assert not notes["metadata_list"] and not notes["many_cells"]
    assert "too deeply" in r["deep_json_notebook"]["test_mae"]
    # text that no UTF-8 file can hold arrives replaced, and the batch's files were all written
    assert "bad \ufffd" in r["surrogate_exc"]["test_mae"]
    assert report["bad_bytes_name"]["notebook"].startswith("losses \ufffd")


def test_gradebook_holds_only_what_the_grader_wrote(batch):
    course, _ctx, before = batch
    db = course / "gradebook.db"
    assert _dump_tables(db, STRUCTURE_TABLES) == before["tables"]  # max scores, cells, checksums intact
    report = _report(course)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("""SELECT s.student_id, bc.name, g.auto_score, g.manual_score
                          FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id
                          JOIN submitted_assignment s ON sn.assignment_id = s.id
                          JOIN base_cell bc ON g.cell_id = bc.id""").fetchall()
    con.close()
    assert {r[0] for r in rows} == set(MANIFEST)
    for student, gid, auto, manual in rows:
        part = next(p for p in report[student]["parts"] if p["grade_id"] == gid)
        want = None if part["kind"] == "manual" else part["points"]  # written answers wait for formgrader
        assert (auto, manual) == (want, None), (student, gid)


def test_nothing_outside_the_sandbox_changed(batch):
    course, ctx, before = batch
    root = course.parent
    assert _tree_hash(root / "solutions") == before["solutions"]
    assert _tree_hash(course / "graders") == before["graders"]
    assert _tree_hash(root / "exercises") == before["exercises"]
    marker = ctx["marker"]
    leaked = [p for p in [course / f"pwned_{marker}.txt", root / "solutions" / f"pwned_{marker}.txt",
                          Path(f"/tmp/pwned_{marker}.txt"), Path(f"/work/pwned_{marker}.txt")] if p.exists()]
    assert not leaked
    assert not _live_processes_with(f"sleep {marker}"), "a forked process outlived its sandbox"


def test_feedback_has_no_hidden_tests_or_grader_source(batch):
    course, ctx, _before = batch
    release_text = json.dumps(ctx["release"])
    hidden = _hidden_lines(ctx["solution"], release_text)
    assert hidden, "ex02_losses should have hidden tests"
    grader_lines = {s for s in (l.strip() for l in (course / "graders" / f"{ASSIGNMENT}.py").read_text()
                                .splitlines()) if len(s) >= 30}
    files = list((course / "feedback").rglob("*.html"))
    assert len(files) == len(MANIFEST)
    for f in files:
        text = f.read_text()
        plain = html.unescape(text)
        assert not [line for line in hidden if line in plain], f
        assert not [line for line in grader_lines if line in plain], f


def test_honest_students_grade_the_same_alone(batch, tmp_path):
    course, _ctx, _before = batch
    honest = [n for n in MANIFEST if n.startswith("honest_")]
    alone_course, _ = _setup(tmp_path, honest)
    assert cli.main(["--course", str(alone_course), "grade", ASSIGNMENT, *OPTS]) == 0
    alone, together = _report(alone_course), _report(course)
    for name in honest:
        assert ([(p["grade_id"], p["points"], p["reason"]) for p in alone[name]["parts"]] ==
                [(p["grade_id"], p["points"], p["reason"]) for p in together[name]["parts"]])


def test_no_sandbox_process_left_behind(batch):
    assert not _live_processes_with(sandbox.RUNNER_PACKAGE)
    assert os.path.exists(sandbox.BWRAP)


# ----------------------------------------------------------------------------------------------------------
# Fairness, intake and process checks across assignments (tests/hostile/fairness.py), graded in ONE batch:
# honest answers in any container, answers wherever they are, outputs never graded; training functions
# checked on the process; what the public tests check, the grader checks; nothing given to `grade` is lost.

from tests.hostile import fairness  # noqa: E402

# nothing here loops forever: generous limits, so a slow shared machine never turns a score into a timeout
FAIR_OPTS = ["--seed", "11", "--quiet", "--jobs", "2", "--part-timeout", "60", "--cell-timeout", "60",
             "--submission-timeout", "400"]


@pytest.fixture(scope="module")
def fair_batch(tmp_path_factory):
    import os as _os
    import zipfile

    tmp = tmp_path_factory.mktemp("fair")
    course = copy_released(released_tree(), tmp / "repo")
    root = course.parent
    for assignment, student in {**fairness.MANIFEST, **fairness.NEEDS_HIDDEN_DATA}:
        (sol,) = (root / "solutions" / assignment).glob("*.ipynb")
        (rel,) = (root / "exercises" / assignment).glob("*.ipynb")
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        built = fairness.build(assignment, student, json.loads(rel.read_text()), json.loads(sol.read_text()))
        for fname, data in built.items():
            (folder / fname).write_bytes(data)
    (sol,) = (root / "solutions" / "ex04_activations").glob("*.ipynb")
    (course / "submitted" / fairness.INTAKE["folder_bad_id"] / "ex04_activations").mkdir(parents=True)
    (course / "submitted" / fairness.INTAKE["folder_bad_id"] / "ex04_activations" / "ex04_activations.ipynb"
     ).write_bytes(sol.read_bytes())
    elsewhere = tmp / "elsewhere" / "ex04_activations"
    elsewhere.mkdir(parents=True)
    (elsewhere / "ex04_activations.ipynb").write_bytes(sol.read_bytes())
    _os.symlink(elsewhere.parent, course / "submitted" / fairness.INTAKE["folder_symlink"])
    archive = tmp / "hand-in.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        dup = fairness.INTAKE["zip_collision"]
        zf.writestr(f"{dup}.ipynb", sol.read_bytes())
        zf.writestr(f"{dup}/ex04_activations.ipynb", sol.read_bytes())
        zf.writestr(f"{fairness.INTAKE['zip_no_notebook']}/answers.py", "def sigmoid(z): ...")
    before = {"solutions": _tree_hash(root / "solutions"), "graders": _tree_hash(course / "graders"),
              "exercises": _tree_hash(root / "exercises"),
              "tables": _dump_tables(course / "gradebook.db", STRUCTURE_TABLES)}
    assert cli.main(["--course", str(course), "grade", *fairness.ASSIGNMENTS, "--submissions", str(archive),
                     *FAIR_OPTS]) == 0
    reports = {a: {s["student"]: s for s in json.loads((course / "reports" / f"{a}.json").read_text())[
        "students"]} for a in fairness.ASSIGNMENTS}
    return course, reports, before


def test_fair_batch_every_expected_score(fair_batch):
    _course, reports, _before = fair_batch
    wrong = {}
    for (assignment, student), (score, status, what) in fairness.MANIFEST.items():
        got = reports[assignment].get(student)
        if got is None or (got["score"], got["status"]) != (score, status):
            wrong[f"{assignment}/{student}"] = (what, score, got and got["score"], got and got["status"],
                                                got and [(p["grade_id"], p["reason"]) for p in got["parts"]
                                                         if p["reason"] and p["kind"] == "auto"],
                                                got and got["notes"])
    assert not wrong, json.dumps(wrong, indent=1)


def test_fair_batch_held_out_data_cannot_be_looked_up(fair_batch):
    _course, reports, _before = fair_batch
    got = {k: reports[k[0]][k[1]]["score"] for k in fairness.NEEDS_HIDDEN_DATA}
    assert got == {k: v[0] for k, v in fairness.NEEDS_HIDDEN_DATA.items()}


def test_fair_batch_reasons_name_the_process(fair_batch):
    _course, reports, _before = fair_batch
    r = {(a, s): {p["grade_id"]: p["reason"] or "" for p in st["parts"]}
         for a, by in reports.items() for s, st in by.items()}
    assert "gradient descent" in r[("ex03_softmax_regression", "ridge_fake")]["test_train_softmax_regression"]
    assert "perceptron rule" in r[("ex01_perceptron", "fit_faked")]["test_fit_perceptron"]
    assert "in place" in r[("ex01_perceptron", "in_place")]["test_perceptron_update"]
    assert "in place" in r[("ex06_optimizers", "state_in_place")]["test_momentum_step"]
    assert "in place" in r[("ex08_digit_classifier", "params_in_place")]["test_train_mlp"]
    assert "model" in r[("ex08_digit_classifier", "predictions_not_model")]["test_train_digit_classifier"]


def test_fair_batch_nothing_given_is_lost(fair_batch):
    course, reports, _before = fair_batch
    data = json.loads((course / "reports" / "ex04_activations.json").read_text())
    rows = {r["entry"]: r for r in data["not_graded"]}
    why = " ".join(f"{e}: {r['reason']}" for e, r in rows.items())
    assert "submitted/r bad name" in rows and "a space" in rows["submitted/r bad name"]["reason"]
    assert "submitted/linked" in rows and "symbolic link" in rows["submitted/linked"]["reason"]
    dup = [r for e, r in rows.items() if r["student"] == fairness.INTAKE["zip_collision"]]
    assert len(dup) == 2 and all("collides" in r["reason"] for r in dup), why
    assert any(r["student"] == fairness.INTAKE["zip_no_notebook"] and "not a notebook" in r["reason"]
               for r in rows.values()), why
    assert not (course / "submitted" / fairness.INTAKE["zip_collision"]).exists()
    assert reports["ex04_activations"][fairness.LONG_ID]["score"] == 10
    html_text = (course / "reports" / "ex04_activations.html").read_text()
    assert "Not graded" in html_text and "r bad name" in html_text


def test_fair_batch_the_solution_needs_no_repair(fair_batch):
    _course, reports, _before = fair_batch
    notes = {a: by["honest_full"]["notes"] for a, by in reports.items() if by["honest_full"]["notes"]}
    assert not notes, notes  # no cell of the released notebook raised, nothing was matched by name


def test_fair_batch_feedback_reads_as_sentences(fair_batch):
    course, _reports, _before = fair_batch
    files = list((course / "feedback").rglob("*.html"))
    assert len(files) == len(fairness.MANIFEST) + len(fairness.NEEDS_HIDDEN_DATA)
    for f in files:
        text = html.unescape(f.read_text())
        assert "a your " not in text.lower() and " a a " not in text.lower(), f
        if "honest_full" in f.parts:
            assert "A cell you added" not in text, f  # the released Try-it cells are not the student's


def test_fair_batch_changes_nothing_it_should_not(fair_batch):
    course, reports, before = fair_batch
    assert _tree_hash(course.parent / "solutions") == before["solutions"]
    assert _tree_hash(course / "graders") == before["graders"]
    assert _tree_hash(course.parent / "exercises") == before["exercises"]
    assert _dump_tables(course / "gradebook.db", STRUCTURE_TABLES) == before["tables"]
    con = sqlite3.connect(f"file:{course / 'gradebook.db'}?mode=ro", uri=True)
    rows = con.execute("""SELECT a.name, s.student_id, bc.name, g.auto_score
                          FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id
                          JOIN submitted_assignment s ON sn.assignment_id = s.id
                          JOIN assignment a ON s.assignment_id = a.id
                          JOIN base_cell bc ON g.cell_id = bc.id WHERE g.auto_score IS NOT NULL""").fetchall()
    con.close()
    for assignment, student, gid, auto in rows:  # the gradebook holds exactly what the report says
        want = next(p["points"] for p in reports[assignment][student]["parts"] if p["grade_id"] == gid)
        assert auto == want, (assignment, student, gid)
    assert {(a, s) for a, s, _g, _p in rows} >= set(fairness.MANIFEST)


def test_fair_batch_feedback_has_no_hidden_tests(fair_batch):
    course, _reports, _before = fair_batch
    root = course.parent
    for assignment in fairness.ASSIGNMENTS:
        (sol,) = (root / "solutions" / assignment).glob("*.ipynb")
        (rel,) = (root / "exercises" / assignment).glob("*.ipynb")
        hidden = _hidden_lines(json.loads(sol.read_text()), rel.read_text())
        for f in (course / "feedback").rglob(f"{assignment}/*.html"):
            plain = html.unescape(f.read_text())
            assert not [line for line in hidden if line in plain], f


# ------------------------------------------------------------------ every other assignment, one batch

ACROSS_OPTS = ["--seed", "11", "--quiet", "--jobs", "2", "--cell-timeout", "20",
               "--submission-timeout", "300"]


@pytest.fixture(scope="module")
def across_batch(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("across")
    course = copy_released(released_tree(), tmp / "repo")
    root = course.parent
    for assignment, student in across.MANIFEST:
        (sol,) = (root / "solutions" / assignment).glob("*.ipynb")
        (rel,) = (root / "exercises" / assignment).glob("*.ipynb")
        folder = course / "submitted" / student / assignment
        folder.mkdir(parents=True)
        for fname, data in across.build(assignment, student, json.loads(rel.read_text()),
                                        json.loads(sol.read_text())).items():
            (folder / fname).write_bytes(data)
    db = course / "gradebook.db"
    before = {"solutions": _tree_hash(root / "solutions"), "graders": _tree_hash(course / "graders"),
              "exercises": _tree_hash(root / "exercises"), "tables": _dump_tables(db, STRUCTURE_TABLES)}
    assert cli.main(["--course", str(course), "grade", *across.ASSIGNMENTS, *ACROSS_OPTS]) == 0
    return course, before


def _reports(course: Path) -> dict:
    """(assignment, student) -> report row, for the submissions made (every student has a row for every
    assignment graded; the others are "missing")."""
    out = {}
    for assignment in across.ASSIGNMENTS:
        data = json.loads((course / "reports" / f"{assignment}.json").read_text())
        for s in data["students"]:
            if (assignment, s["student"]) in across.MANIFEST:
                out[assignment, s["student"]] = s
            else:
                assert s["status"] == "missing" and s["score"] == 0, s
    return out


def test_across_every_expected_score(across_batch):
    course, _before = across_batch
    report = _reports(course)
    assert set(report) == set(across.MANIFEST)
    wrong = {f"{a}/{s}": (report[a, s]["score"], report[a, s]["status"], exp[:2],
                          [(p["grade_id"], p["reason"]) for p in report[a, s]["parts"] if p["reason"]])
             for (a, s), exp in across.MANIFEST.items()
             if (report[a, s]["score"], report[a, s]["status"]) != exp[:2]}
    assert not wrong, json.dumps(wrong, indent=1)


def test_across_reasons_say_why(across_batch):
    course, _before = across_batch
    r = {key: {p["grade_id"]: p["reason"] or "" for p in s["parts"]} for key, s in _reports(course).items()}
    assert "NotImplementedError" in r["ex05_backprop", "x05_probe_redefined"]["test_numerical_gradient"]
    assert "of its own to the grader's result channel" in r["ex06_optimizers", "x06_forge_other_part"][
        "test_momentum_step"]
    flood = r["ex07_regularization", "x07_flood"]["test_l2_penalty"]
    assert "of its own to the grader's result channel" in flood
    assert r["ex06_optimizers", "x06_private_kernel"]["test_adam_step"]
    # the answer printed what its import of nnkit.optim raised: why it is not there
    assert "not installed here" in _reports(course)["ex06_optimizers", "x06_private_kernel"]["output"]


def test_across_nothing_changed_but_the_new_grades(across_batch):
    course, before = across_batch
    root = course.parent
    assert _tree_hash(root / "solutions") == before["solutions"]
    assert _tree_hash(course / "graders") == before["graders"]
    assert _tree_hash(root / "exercises") == before["exercises"]
    db = course / "gradebook.db"
    assert _dump_tables(db, STRUCTURE_TABLES) == before["tables"]
    report = _reports(course)
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rows = con.execute("""SELECT a.name, s.student_id, bc.name, g.auto_score, g.manual_score
                          FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id
                          JOIN submitted_assignment s ON sn.assignment_id = s.id
                          JOIN assignment a ON s.assignment_id = a.id
                          JOIN base_cell bc ON g.cell_id = bc.id""").fetchall()
    con.close()
    assert {(a, s) for a, s, *_ in rows} == set(across.MANIFEST)
    for assignment, student, gid, auto, manual in rows:
        part = next(p for p in report[assignment, student]["parts"] if p["grade_id"] == gid)
        want = (part["points"], None) if part["kind"] == "auto" else (None, None)  # written: by hand
        assert (auto, manual) == want, (assignment, student, gid)


def test_across_feedback_has_no_hidden_tests(across_batch):
    course, _before = across_batch
    root = course.parent
    files = list((course / "feedback").rglob("*.html"))
    assert len(files) == len(across.MANIFEST)
    for assignment in across.ASSIGNMENTS:
        (sol,) = (root / "solutions" / assignment).glob("*.ipynb")
        (rel,) = (root / "exercises" / assignment).glob("*.ipynb")
        hidden = _hidden_lines(json.loads(sol.read_text()), rel.read_text())
        for f in (course / "feedback").rglob(f"{assignment}/*.html"):
            plain = html.unescape(f.read_text())
            assert not [line for line in hidden if line in plain], f


def test_flood_keeps_the_grader_small():
    """The trusted process reads the result pipe as a stream and keeps only what the protocol allows:
    a submission writing 120 MB of small events costs it no more memory than an honest one."""
    honest = across.peak_memory("x07_honest")
    flood = across.peak_memory("x07_flood")
    streamed = across.peak_memory("x07_flood", wide=True)
    assert honest["score"] == 10 and flood["score"] == streamed["score"] == 8
    for run in (flood, streamed):
        assert run["peak"] < honest["peak"] + (32 << 20), (honest, run)
