"""`nnkit-course export`: Canvas and Moodle import files parsed back and checked column by column.

The gradebook is built with nbgrader's own API (as `nbgrader` and `nnkit-course grade` write it): two
assignments with due dates, five students: alice (on time), bob (late for ex_a: the course's late
policy halves his score), carol (on the roster, never submitted), erin (submitted ex_a only) and dave
(dropped the course: graded, but no longer on the LMS roster, so he must be reported, not lost).
"""

from __future__ import annotations

import csv
import io
import shutil
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.plugins import LateSubmissionPlugin

from nnkit.course import cli, export

DUE = datetime(2026, 11, 20, 12, 0)
# (assignment, notebook, {grade cell: max points})
ASSIGNMENTS = {"ex_a": ("ex_a", {"test_one": 4.0, "test_two": 6.0}), "ex_b": ("ex_b", {"test_x": 5.0})}
# student -> {assignment: ({cell: auto score}, hours after the due date)}
SUBMISSIONS = {
    "alice": {"ex_a": ({"test_one": 4.0, "test_two": 4.5}, -30), "ex_b": ({"test_x": 5.0}, -1)},
    "bob": {"ex_a": ({"test_one": 4.0, "test_two": 6.0}, 2.5), "ex_b": ({"test_x": 2.0}, -3)},
    "erin": {"ex_a": ({"test_one": 0.0, "test_two": 3.0}, -2)},
    "dave": {"ex_a": ({"test_one": 4.0, "test_two": 2.0}, -5)},
}
STUDENTS = {  # id: (first, last, email)
    "alice": ("Alice", "Able", "alice@uni.example"), "bob": ("Bob", "Bunce", "bob@uni.example"),
    "carol": ("Carol", "Cole", "carol@uni.example"), "erin": ("Erin", "Eads", "erin@uni.example"),
    "dave": ("Dave", "Dunn", "dave@uni.example"),
}
# what the LMS must receive: late penalty applied to bob's ex_a (10 -> 5); blanks for no submission
EXPECTED = {"alice": {"ex_a": "8.50", "ex_b": "5.00"}, "bob": {"ex_a": "5.00", "ex_b": "2.00"},
            "carol": {"ex_a": "", "ex_b": ""}, "erin": {"ex_a": "3.00", "ex_b": ""}}


class HalfOffWhenLate(LateSubmissionPlugin):
    """The test course's policy: a late notebook loses half its score."""

    def late_submission_penalty(self, student_id, score, total_seconds_late):
        return score / 2 if total_seconds_late > 0 else None


@pytest.fixture(scope="module")
def _built(tmp_path_factory):
    from nbgrader.api import Gradebook

    course = tmp_path_factory.mktemp("export") / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\nc.CourseDirectory.course_id = 'fx'\n"
        f"c.AssignLatePenalties.plugin_class = '{__name__}.HalfOffWhenLate'\n")
    with warnings.catch_warnings(), Gradebook(f"sqlite:///{course / 'gradebook.db'}", "fx") as gb:
        warnings.simplefilter("ignore")  # nbgrader's add_submission triggers harmless SAWarnings
        for name, (nb, cells) in ASSIGNMENTS.items():
            gb.add_assignment(name, duedate=DUE)
            gb.add_notebook(nb, name)
            for gid, pts in cells.items():
                gb.add_grade_cell(gid, nb, name, max_score=pts, cell_type="code")
        for sid, (first, last, email) in STUDENTS.items():
            gb.add_student(sid, first_name=first, last_name=last, email=email)
        for sid, subs in SUBMISSIONS.items():
            for name, (scores, hours) in subs.items():
                gb.add_submission(name, sid, timestamp=DUE + timedelta(hours=hours))
                for gid, score in scores.items():
                    grade = gb.find_grade(gid, ASSIGNMENTS[name][0], name, sid)
                    grade.auto_score = score
                    grade.needs_manual_grade = False
        gb.db.commit()
    return course


@pytest.fixture
def course(_built, tmp_path):
    """A private copy of the gradebook (built once per module: nbgrader's API commits per row)."""
    return Path(shutil.copytree(_built, tmp_path / "course"))


def _canvas_roster(path: Path) -> Path:
    """What Canvas's "Export Entire Gradebook" gives: a Points Possible row, a posting-policy row,
    other assignments, read-only totals and the Test Student."""
    rows = [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ex_a (1201)", "Quiz 1 (1199)",
         "Current Score", "Unposted Current Score", "Final Score", "Unposted Final Score"],
        ["", "", "", "", "", "Manual Posting", "", "", "", "", ""],
        ["    Points Possible", "", "", "", "", "10.00", "3.00", "(read only)", "(read only)",
         "(read only)", "(read only)"],
        ["Able, Alice", "9001", "S-001", "alice", "NN 101 A", "", "3.00", "100", "100", "90", "90"],
        ["Bunce, Bob", "9002", "S-002", "bob", "NN 101 B", "7.00", "2.00", "80", "80", "70", "70"],
        ["Cole, Carol", "9003", "S-003", "carol", "NN 101 A", "", "", "", "", "", ""],
        ["Eads, Erin", "9005", "S-005", "erin", "NN 101 B", "", "1.00", "", "", "", ""],
        ["Student, Test", "9999", "", "a1b2c3", "NN 101 A", "", "", "", "", "", ""],
    ]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _moodle_roster(path: Path) -> Path:
    """Moodle's Grades > Export > Plain text file: profile fields, grade items "(Real)", the course
    total and the download time. Alice's and Bob's ID numbers are their nbgrader ids; Erin and Carol
    are found by email."""
    header = ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
              "Assignment: ex_b (Real)", "Quiz: Quiz 1 (Real)", "Course total (Real)",
              "Last downloaded from this course"]
    rows = [header,
            ["Alice", "Able", "alice", "Uni", "CS", "a.able@mail.example", "-", "3.00", "3.00", "1764500000"],
            ["Bob", "Bunce", "bob", "Uni", "CS", "b.bunce@mail.example", "-", "2.00", "2.00", "1764500000"],
            ["Carol", "Cole", "77003", "Uni", "CS", "carol@uni.example", "-", "-", "-", "1764500000"],
            ["Erin", "Eads", "77005", "Uni", "CS", "Erin@Uni.Example", "-", "1.00", "1.00", "1764500000"]]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8")
    return path


def _read(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def test_canvas_import_file_column_by_column(course, tmp_path, capsys):
    roster = _canvas_roster(tmp_path / "canvas-roster.csv")
    out = tmp_path / "canvas.csv"
    assert cli.main(["--course", str(course), "export", "--format", "canvas", "--roster", str(roster),
                     "-o", str(out)]) == 0
    rows = _read(out)
    # the header Canvas's importer requires: Student, ID, SIS User ID, SIS Login ID, Section, assignments;
    # ex_a keeps its Canvas id so the existing assignment is updated, ex_b is a new column
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "ex_a (1201)", "ex_b"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][1:] == ["", "", "", "", "10.00", "5.00"]
    body = {r[3]: r for r in rows[2:]}
    assert list(body) == ["alice", "bob", "carol", "erin", "a1b2c3"], "roster order, every roster row"
    roster_rows = {r[3]: r for r in _read(roster)[3:]}
    for login, row in body.items():
        assert len(row) == 7
        # identity columns copied from the roster, byte for byte
        assert row[:5] == [roster_rows[login][i] for i in (0, 1, 2, 3, 4)]
        want = EXPECTED.get(login, {"ex_a": "", "ex_b": ""})
        assert row[5:] == [want["ex_a"], want["ex_b"]], login
    err = capsys.readouterr()
    assert "dave" in err.err and "NOT on the roster" in err.err
    side = out.with_name("canvas.not-on-roster.csv")
    assert [r[0] for r in _read(side)[1:]] == ["dave"]
    assert "late: bob ex_a: 10 - 5 late penalty = 5" in err.out


def test_moodle_import_file_column_by_column(course, tmp_path, capsys):
    roster = _moodle_roster(tmp_path / "moodle-roster.csv")
    result = export.export(course, "moodle", tmp_path / "moodle.csv", roster)
    rows = _read(result.path)
    # the profile columns of Moodle's export, then one column per assignment: ex_b reuses the grade
    # item column Moodle exported, ex_a is new; the course total and the download time are left out
    assert rows[0] == ["First name", "Last name", "ID number", "Institution", "Department", "Email address",
                       "ex_a", "Assignment: ex_b (Real)"]
    roster_rows = _read(roster)[1:]
    assert len(rows) == 1 + len(roster_rows)
    for got, src in zip(rows[1:], roster_rows):
        assert got[:6] == src[:6]
        sid = {"Alice": "alice", "Bob": "bob", "Carol": "carol", "Erin": "erin"}[src[0]]
        assert got[6:] == [EXPECTED[sid]["ex_a"], EXPECTED[sid]["ex_b"]], sid
    assert [s.id for s in result.not_on_roster] == ["dave"]
    assert sorted(result.no_submission) == ["Carol"]
    assert [(g.student, g.assignment, g.penalty) for g in result.late] == [("bob", "ex_a", 5.0)]


def test_nbgrader_csv_applies_the_same_penalty(course, tmp_path):
    result = export.export(course, "csv", tmp_path / "grades.csv")
    rows = list(csv.DictReader(io.StringIO(result.path.read_text())))
    by = {(r["student_id"], r["assignment"]): r for r in rows}
    assert len(rows) == len(STUDENTS) * len(ASSIGNMENTS)  # nbgrader's export: every student, every assignment
    bob = by[("bob", "ex_a")]
    assert (float(bob["raw_score"]), float(bob["late_submission_penalty"]), float(bob["score"])) == (10, 5, 5)
    assert float(by[("alice", "ex_a")]["score"]) == 8.5 and by[("carol", "ex_b")]["timestamp"] == ""


def test_bad_rosters_are_refused_with_the_reason(course, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("name,score\nalice,3\n")
    with pytest.raises(export.ExportError,
                       match="not a Canvas gradebook export: no Student, ID, SIS Login ID, Section"):
        export.export(course, "canvas", tmp_path / "o.csv", junk)
    with pytest.raises(export.ExportError, match="not a Moodle grade export"):
        export.export(course, "moodle", tmp_path / "o.csv", junk)
    with pytest.raises(export.ExportError, match="pass --roster"):
        export.export(course, "canvas", tmp_path / "o.csv")
    dup = _canvas_roster(tmp_path / "dup.csv")
    dup.write_text(dup.read_text() + "\"Bunce, Robert\",9010,S-010,bob,NN 101 A,,,,,,\n")
    with pytest.raises(export.ExportError, match="bob matches 2 roster rows on 'SIS Login ID'"):
        export.export(course, "canvas", tmp_path / "o.csv", dup)
    assert cli.main(["--course", str(course), "export", "--format", "canvas", "--roster", str(junk)]) == 2
