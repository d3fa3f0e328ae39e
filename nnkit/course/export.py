"""Grades out of the gradebook into a learning-management system's own import format.

``nnkit-course export --format canvas|moodle|csv`` reads the nbgrader gradebook (the instructor's
process is its only writer; this module only reads it) and writes:

* **canvas**: Canvas's gradebook import CSV, starting from the gradebook export Canvas gave you (the
  roster): ``Student, ID, SIS User ID, SIS Login ID, Section``, one column per assignment, and the
  ``Points Possible`` row that Canvas's importer reads the assignments' points from. An assignment
  column the roster already has (``ex02_losses`` or ``ex02_losses (1234)``) keeps its header, so Canvas
  updates that assignment instead of creating a new one; columns of other assignments and the
  read-only totals are left out (an import changes only the columns it holds).
* **moodle**: Moodle's grade export layout (the user profile columns of the roster Moodle exported:
  ``First name, Last name, ID number, Institution, Department, Email address``, then one grade column
  per assignment), for Moodle's CSV grade import, which identifies users by a column you map:
  ``Email address`` (email) or ``ID number``.
* **csv**: nbgrader's own CSV export (one row per student per assignment); no roster needed.

Every format applies the late penalty (:func:`late_penalty`, the course's nbgrader policy). A student
on the roster who has no submission gets a blank cell (not a 0: "not submitted" stays visible in the
LMS). A student with grades who is not on the roster (dropped the course, or a different id) is never
dropped silently: :class:`Export` lists them, the CLI prints them and writes them beside the export.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

FORMATS = ("canvas", "moodle", "csv")

CANVAS_IDENTITY = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
# as Canvas's own export writes it; its importer takes any first cell matching /Points Possible/
CANVAS_POINTS_ROW = "    Points Possible"
# Canvas's export puts these read-only totals after the assignments; its importer ignores them
_CANVAS_TOTALS = re.compile(r"Current Score|Current Points|Current Grade|Final Score|Final Points|Final Grade"
                            r"|Override Score|Override Grade")
_CANVAS_TITLE_ID = re.compile(r"^(.*?)\s*\((\d+)\)$")

MOODLE_PROFILE = ("First name", "Last name", "ID number", "Institution", "Department", "Email address")
# a Moodle grade column: "Assignment: ex02 (Real)", "Course total (Real)", "... (Feedback)" ...
_MOODLE_GRADE_COLUMN = re.compile(r"\((Real|Percentage|Letter|Feedback)\)\s*$")
_MOODLE_NOT_PROFILE = ("Last downloaded from this course", "Course total")

# which roster column identifies a gradebook student, tried in this order (first unique match wins)
DEFAULT_MATCH = {"canvas": ("SIS Login ID", "SIS User ID", "ID"),
                 "moodle": ("ID number", "Email address", "Username")}


class ExportError(ValueError):
    """The roster or the request cannot be used; the message says what is wrong."""


@dataclass
class Grade:
    """One student's grade for one assignment, as it goes to the LMS."""

    student: str
    assignment: str
    raw: float
    penalty: float
    max_score: float
    timestamp: object = None
    needs_manual: bool = False

    @property
    def score(self) -> float:
        return max(0.0, self.raw - self.penalty)


@dataclass
class Student:
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


@dataclass
class Export:
    """What was written, and who could not be placed."""

    path: Path
    rows: int
    assignments: list[str]
    not_on_roster: list[Student] = field(default_factory=list)   # have grades, absent from the roster
    no_submission: list[str] = field(default_factory=list)       # roster rows left blank
    needs_manual: list[tuple[str, str]] = field(default_factory=list)  # (student, assignment)
    late: list[Grade] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# The late penalty: one function, the course's nbgrader policy


def _penalty_plugin(course_dir: Path):
    """The course's ``AssignLatePenalties.plugin_class`` (nbgrader's default: no penalty)."""
    from nbgrader.plugins import LateSubmissionPlugin
    from traitlets.config.loader import PyFileConfigLoader

    try:
        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    except Exception:  # noqa: BLE001 - no readable config: nbgrader's defaults
        from traitlets.config import Config

        cfg = Config()
    cls = cfg.AssignLatePenalties.get("plugin_class", LateSubmissionPlugin) \
        if "AssignLatePenalties" in cfg else LateSubmissionPlugin
    if isinstance(cls, str):
        from traitlets.utils.importstring import import_item

        cls = import_item(cls)
    return cls(config=cfg)


def late_penalty(plugin, submission) -> float:
    """The late penalty of one submitted assignment, as ``nbgrader autograde`` assigns it.

    A penalty already stored in the gradebook (by nbgrader's ``AssignLatePenalties``) is used as it
    is; otherwise the course's late-submission plugin is asked per notebook with the submission's
    ``total_seconds_late`` (due date plus extension, from the gradebook), and each penalty is clamped
    to [0, that notebook's score], as nbgrader does. This is the one place the policy is applied.
    """
    stored = [nb.late_submission_penalty for nb in submission.notebooks]
    if any(p is not None for p in stored):
        return float(sum(p or 0.0 for p in stored))
    late = submission.total_seconds_late
    if not late or late <= 0:
        return 0.0
    total = 0.0
    for nb in submission.notebooks:
        p = plugin.late_submission_penalty(submission.student.id, nb.score, late)
        if p is not None:
            total += min(max(float(p), 0.0), float(nb.score))
    return total


def collect(course_dir: Path, assignments: list[str] | None = None
            ) -> tuple[list[str], dict[str, float], dict[str, Student], dict[tuple[str, str], Grade]]:
    """(assignments, max score per assignment, students, grades keyed (student, assignment))."""
    from nbgrader.api import MissingEntry

    from nnkit.course.gradebook import open_gradebook

    plugin = _penalty_plugin(Path(course_dir))
    grades: dict[tuple[str, str], Grade] = {}
    students: dict[str, Student] = {}
    with open_gradebook(course_dir) as gb:
        known = sorted(a.name for a in gb.assignments)
        names = list(assignments) if assignments else known
        unknown = [a for a in names if a not in known]
        if unknown:
            raise ExportError(f"not in the gradebook: {', '.join(unknown)} (grade them first)")
        max_scores = {a: float(gb.find_assignment(a).max_score) for a in names}
        for s in gb.students:
            students[s.id] = Student(s.id, s.first_name, s.last_name, s.email)
        for name in names:
            for s in gb.students:
                try:
                    sub = gb.find_submission(name, s.id)
                except MissingEntry:
                    continue
                grades[(s.id, name)] = Grade(s.id, name, float(sub.score), late_penalty(plugin, sub),
                                             float(sub.max_score), sub.timestamp,
                                             bool(sub.needs_manual_grade))
    return names, max_scores, students, grades


# ---------------------------------------------------------------------------------------------
# Rosters


def _read_csv(path: Path) -> list[list[str]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read the roster {path}: {exc}") from exc
    sample = text[:4096]
    delimiter = ";" if sample.count(";") > sample.count(",") else ","
    rows = [r for r in csv.reader(io.StringIO(text), delimiter=delimiter)]
    rows = [r for r in rows if any(c.strip() for c in r)]
    if not rows:
        raise ExportError(f"the roster {path} is empty")
    return rows


def _canvas_roster(path: Path) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """(header, student rows, assignment title -> existing header) of a Canvas gradebook export."""
    rows = _read_csv(path)
    header = [h.strip() for h in rows[0]]
    missing = [c for c in ("Student", "ID", "SIS Login ID", "Section") if c not in header]
    if missing:
        raise ExportError(f"{path} is not a Canvas gradebook export: no {', '.join(missing)} column "
                          f"(its header is {', '.join(header[:8])}); export the gradebook from Canvas "
                          "(Grades > Export > Export Entire Gradebook)")
    first_grade = header.index("Section") + 1
    existing = {}
    for h in header[first_grade:]:
        if _CANVAS_TOTALS.search(h):
            continue
        m = _CANVAS_TITLE_ID.match(h)
        existing[(m.group(1) if m else h).strip()] = h
    students = []
    name_col = header.index("Student")
    for row in rows[1:]:
        first = row[name_col].strip() if len(row) > name_col else ""
        if "Points Possible" in first:
            continue
        if all(c.strip().lower() in ("", "muted", "manual posting") for c in row):
            continue
        students.append(row + [""] * (len(header) - len(row)))
    return header, students, existing


def _moodle_roster(path: Path) -> tuple[list[str], list[list[str]], dict[str, str]]:
    """(profile columns, student rows, assignment name -> existing header) of a Moodle grade export."""
    rows = _read_csv(path)
    header = [h.strip() for h in rows[0]]
    profile = []
    for h in header:
        if _MOODLE_GRADE_COLUMN.search(h) or any(h.startswith(x) for x in _MOODLE_NOT_PROFILE):
            break
        profile.append(h)
    if not any(c in profile for c in ("Email address", "ID number", "Username")):
        raise ExportError(f"{path} is not a Moodle grade export: no Email address, ID number or Username "
                          f"column before the grades (its header is {', '.join(header[:8])}); export it "
                          "from Moodle (Grades > Export > Plain text file)")
    existing = {}
    for h in header[len(profile):]:
        m = re.match(r"^(?:[^:]+:\s*)?(.*?)\s*\((Real|Percentage|Letter)\)\s*$", h)
        if m:
            existing.setdefault(m.group(1).strip(), h)
    students = [r + [""] * (len(header) - len(r)) for r in rows[1:]]
    return profile, students, existing


def _match(header: list[str], rows: list[list[str]], students: dict[str, Student],
           candidates: tuple[str, ...], path: Path) -> dict[str, int]:
    """gradebook student id -> roster row index, on the first candidate column that places them."""
    cols = [c for c in candidates if c in header]
    if not cols:
        raise ExportError(f"the roster {path} has none of the columns to match students on: "
                          f"{', '.join(candidates)}")
    out: dict[str, int] = {}
    taken: dict[int, str] = {}
    for sid, st in students.items():
        keys = {sid.strip().lower()}
        if st.email:
            keys.add(st.email.strip().lower())
        for col in cols:
            j = header.index(col)
            hits = [i for i, r in enumerate(rows) if r[j].strip() and r[j].strip().lower() in keys]
            if len(hits) > 1:
                raise ExportError(f"{sid} matches {len(hits)} roster rows on {col!r}: fix the roster")
            if hits:
                i = hits[0]
                if i in taken:
                    raise ExportError(f"{sid} and {taken[i]} both match roster row {i + 2} "
                                      f"({col} = {rows[i][j]!r})")
                out[sid], taken[i] = i, sid
                break
    return out


def _fmt(x: float) -> str:
    return f"{x:.2f}"


# ---------------------------------------------------------------------------------------------
# Writers


def _write_rows(dest: Path, rows: list[list[str]]) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, lineterminator="\n").writerows(rows)
    tmp.replace(dest)


def export(course_dir: Path, fmt: str, dest: Path, roster: Path | None = None,
           assignments: list[str] | None = None, match: str | None = None) -> Export:
    """Write the grades of ``assignments`` (default: all in the gradebook) in ``fmt`` to ``dest``."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    if fmt != "csv" and roster is None:
        raise ExportError(f"--format {fmt} starts from the roster the LMS exported: pass --roster FILE")
    names, max_scores, students, grades = collect(course_dir, assignments)
    with_grades = {sid for sid, _a in grades}
    late = [g for g in grades.values() if g.penalty > 0]
    manual = sorted((g.student, g.assignment) for g in grades.values() if g.needs_manual)
    dest = Path(dest)
    if fmt == "csv":
        return _export_csv(course_dir, dest, names, students, grades, late, manual)

    reader = _canvas_roster if fmt == "canvas" else _moodle_roster
    header, rows, existing = reader(Path(roster))
    candidates = (match,) if match else DEFAULT_MATCH[fmt]
    placed = _match(header, rows, students, candidates, Path(roster))
    by_row = {i: sid for sid, i in placed.items()}
    columns = [existing.get(a, a) for a in names]
    if fmt == "canvas":
        ident = [header.index(c) if c in header else None for c in CANVAS_IDENTITY]
        out = [list(CANVAS_IDENTITY) + columns,
               [CANVAS_POINTS_ROW] + [""] * (len(CANVAS_IDENTITY) - 1) + [_fmt(max_scores[a]) for a in names]]
    else:
        ident = list(range(len(header)))
        out = [list(header) + columns]
    blank: list[str] = []
    for i, row in enumerate(rows):
        sid = by_row.get(i)
        cells = [row[j] if j is not None else "" for j in ident]
        for a in names:
            g = grades.get((sid, a)) if sid else None
            cells.append(_fmt(g.score) if g else "")
        if sid is None or not any((sid, a) in grades for a in names):
            blank.append(row[ident[0]] if ident[0] is not None else f"row {i + 2}")
        out.append(cells)
    _write_rows(dest, out)
    missing = [students[s] for s in sorted(with_grades - set(placed))]
    return Export(dest, len(rows), names, missing, blank, manual, late)


def _export_csv(course_dir, dest, names, students, grades, late, manual) -> Export:
    from nnkit.course.gradebook import CSV_COLUMNS, open_gradebook

    rows = [CSV_COLUMNS]
    with open_gradebook(course_dir) as gb:
        duedates = {a: gb.find_assignment(a).duedate for a in names}
    for a in names:
        for sid, st in sorted(students.items()):
            g = grades.get((sid, a))
            row = {"assignment": a, "duedate": duedates[a], "student_id": sid, "last_name": st.last_name,
                   "first_name": st.first_name, "email": st.email,
                   "max_score": g.max_score if g else None}
            if g is None:
                row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
            else:
                row.update(timestamp=g.timestamp, raw_score=g.raw, late_submission_penalty=g.penalty,
                           score=g.score)
            rows.append(["" if row.get(k) is None else str(row[k]) for k in CSV_COLUMNS])
    _write_rows(dest, rows)
    return Export(dest, len(rows) - 1, names, [], [], manual, late)


def write_not_on_roster(result: Export, grades_path: Path | None = None) -> Path | None:
    """``<export>.not-on-roster.csv``: the students with grades the roster does not hold."""
    if not result.not_on_roster:
        return None
    dest = Path(grades_path or result.path)
    dest = dest.with_name(dest.stem + ".not-on-roster.csv")
    _write_rows(dest, [["student_id", "first_name", "last_name", "email"]] +
                [[s.id, s.first_name or "", s.last_name or "", s.email or ""] for s in result.not_on_roster])
    return dest
