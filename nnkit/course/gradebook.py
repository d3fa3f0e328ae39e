"""nbgrader's gradebook, written only by the trusted main process, and its CSV export.

``release`` runs ``nbgrader generate_assignment`` (which records assignments, notebooks and grade
cells with their points in ``course/gradebook.db``). ``record`` stores one graded submission:
auto scores of autograded cells, written answers left for manual grading in formgrader (an earlier
manual grade is never overwritten), and the assembled notebook under ``course/autograded/``.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
import warnings
from datetime import UTC, datetime
from pathlib import Path

CSV_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score"]


def db_url(course_dir: Path) -> str:
    return f"sqlite:///{(Path(course_dir) / 'gradebook.db').resolve()}"


def course_id(course_dir: Path) -> str:
    """``CourseDirectory.course_id`` from ``nbgrader_config.py`` (the gradebook rows carry it)."""
    from traitlets.config.loader import PyFileConfigLoader

    try:
        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
        value = cfg.CourseDirectory.course_id
        return value if isinstance(value, str) and value else "default_course"
    except Exception:  # noqa: BLE001 - no config: nbgrader's default
        return "default_course"


def open_gradebook(course_dir: Path):
    from nbgrader.api import Gradebook

    return Gradebook(db_url(course_dir), course_id(course_dir))


_GENERATE = """
import json, sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader
release, names = sys.argv[1], sys.argv[2:]
cfg = PyFileConfigLoader("nbgrader_config.py", path=".").load_config()
cfg.CourseDirectory.root = "."
if release:
    cfg.CourseDirectory.release_directory = release
cfg.Application.log_level = "WARN"
api = NbGraderAPI(CourseDirectory(config=cfg), config=cfg)
out = {}
for name in names:
    r = api.generate_assignment(name, force=True, create=True)
    out[name] = None if r["success"] else (r.get("error") or "failed")[-3000:]
print("@@RESULT@@" + json.dumps(out))
"""


def generate_assignments(course_dir: Path, names: list[str], release_dir: Path | None = None) -> None:
    """``nbgrader generate_assignment NAME --force`` for every name, in one nbgrader process.

    Run from the course root, so ``course/nbgrader_config.py`` applies: the student versions go to
    ``exercises/`` and the gradebook records each assignment's notebooks, grade cells and points.
    With ``release_dir`` the student versions go there instead (used to record an assignment in
    the gradebook without touching the committed ``exercises/``).
    """
    if not names:
        return
    cmd = [sys.executable, "-c", _GENERATE, str(release_dir or ""), *names]
    proc = subprocess.run(cmd, cwd=course_dir, capture_output=True, text=True, timeout=1800)
    marker = [line for line in proc.stdout.splitlines() if line.startswith("@@RESULT@@")]
    if proc.returncode != 0 or not marker:
        raise RuntimeError(f"nbgrader generate_assignment failed:\n{proc.stderr[-3000:]}")
    errors = {k: v for k, v in json.loads(marker[-1][len("@@RESULT@@"):]).items() if v}
    if errors:
        raise RuntimeError("nbgrader generate_assignment failed for "
                           + "; ".join(f"{k}: {v}" for k, v in errors.items()))


def ensure_in_gradebook(course_dir: Path, assignments: list[str]) -> None:
    """Record the assignments (notebooks, grade cells, points) in the gradebook if they are not."""
    from nbgrader.api import MissingEntry

    todo = []
    with open_gradebook(course_dir) as gb:
        for name in assignments:
            try:
                a = gb.find_assignment(name)
                if a.notebooks and any(nb.grade_cells for nb in a.notebooks):
                    continue
            except MissingEntry:
                pass
            todo.append(name)
    with tempfile.TemporaryDirectory(prefix="nnkit-release-") as tmp:
        generate_assignments(course_dir, todo, release_dir=Path(tmp))


def max_points(course_dir: Path, assignment: str) -> dict[str, float]:
    """grade_id -> max score, as recorded in the gradebook (from solutions/ at release time)."""
    with open_gradebook(course_dir) as gb:
        a = gb.find_assignment(assignment)
        return {gc.name: float(gc.max_score) for nb in a.notebooks for gc in nb.grade_cells}


def _submitted_at(folder: Path | None) -> datetime | None:
    """The time in nbgrader's ``timestamp.txt`` beside the submission (None without one).

    formgrader treats a submission as autograded only when this equals the gradebook's timestamp,
    so it is copied exactly, None included, as ``nbgrader autograde`` does.
    """
    from nbgrader.utils import parse_utc

    if folder is None:
        return None
    try:
        text = (Path(folder) / "timestamp.txt").read_text()[:100].strip()
    except OSError:
        return None
    try:
        return parse_utc(text)
    except Exception:  # noqa: BLE001 - a garbled timestamp counts as none
        return None


def record(course_dir: Path, result, notebook_name: str, folder: Path | None = None) -> None:
    """Write one :class:`~nnkit.course.engine.SubmissionResult` to the gradebook and autograded/."""
    from nbgrader.api import MissingEntry

    course_dir = Path(course_dir)
    nb_id = Path(notebook_name).stem
    now = datetime.now(UTC)
    submitted = _submitted_at(folder)
    with warnings.catch_warnings(), open_gradebook(course_dir) as gb:
        warnings.simplefilter("ignore")  # nbgrader's add_submission triggers harmless SAWarnings
        gb.update_or_create_student(result.student)
        try:
            sub = gb.find_submission(result.assignment, result.student)
            sub.timestamp = submitted
        except MissingEntry:
            extra = {"timestamp": submitted} if submitted is not None else {}
            gb.add_submission(result.assignment, result.student, **extra)
        by_id = {p.grade_id: p for p in result.parts}
        a = gb.find_assignment(result.assignment)
        for nb in a.notebooks:
            for gc in nb.grade_cells:
                grade = gb.find_grade(gc.name, nb.name, result.assignment, result.student)
                part = by_id.get(gc.name)
                if part is None or part.kind == "manual":
                    grade.auto_score = None
                    grade.needs_manual_grade = grade.manual_score is None
                else:
                    grade.auto_score = float(part.points)
                    grade.needs_manual_grade = False
        gb.db.commit()
    if result.autograded is not None:
        out = course_dir / "autograded" / result.student / result.assignment
        out.mkdir(parents=True, exist_ok=True)
        nb = json.loads(json.dumps(result.autograded))
        by_id = {p.grade_id: p for p in result.parts}
        for cell in nb["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            part = by_id.get(meta.get("grade_id"))
            if cell.get("cell_type") == "code" and part is not None and part.kind == "auto":
                text = (f"✓ {part.points:g}/{part.max_points:g} points\n" if part.reason is None else
                        f"✗ {part.points:g}/{part.max_points:g} points: {part.reason}\n")
                cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": text}]
        (out / f"{nb_id}.ipynb").write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
        (out / "timestamp.txt").write_text(now.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))


def export_csv(course_dir: Path, dest: Path | None = None) -> Path:
    """``course/grades.csv`` with the columns and rows of ``nbgrader export`` (CSV plugin)."""
    from nbgrader.api import MissingEntry

    dest = Path(dest) if dest else Path(course_dir) / "grades.csv"
    rows = []
    with open_gradebook(course_dir) as gb:
        for a in gb.assignments:
            for s in gb.students:
                row = {"assignment": a.name, "duedate": a.duedate, "student_id": s.id,
                       "last_name": s.last_name, "first_name": s.first_name, "email": s.email,
                       "max_score": a.max_score}
                try:
                    sub = gb.find_submission(a.name, s.id)
                except MissingEntry:
                    row.update(timestamp="", raw_score=0.0, late_submission_penalty=0.0, score=0.0)
                else:
                    penalty = sub.late_submission_penalty or 0.0
                    row.update(timestamp=sub.timestamp, raw_score=sub.score,
                               late_submission_penalty=penalty, score=max(0.0, sub.score - penalty))
                rows.append({k: "" if row.get(k) is None else str(row[k]) for k in CSV_COLUMNS})
    tmp = dest.with_suffix(".csv.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, CSV_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(dest)
    return dest
