"""nbgrader's gradebook, written only by the trusted main process, and its CSV export.

``release`` runs ``nbgrader generate_assignment`` (which records assignments, notebooks and grade
cells with their points in ``course/gradebook.db``). ``record`` stores one graded submission:
auto scores of autograded cells, written answers left for manual grading in formgrader (an earlier
manual grade is never overwritten), and the assembled notebook under ``course/autograded/``.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path

CSV_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
               "raw_score", "late_submission_penalty", "score", "max_score"]


class GradebookUnreachable(RuntimeError):
    """The gradebook URL given (``--db`` or the course config) cannot be used; the message says why."""


# ``--db URL`` for this process (None: the course config's ``CourseDirectory.db_url``, else SQLite).
_GIVEN_URL: str | None = None
_DRIVERLESS = ("postgresql://", "postgres://")


def normalise_url(url: str) -> str:
    """``postgresql://`` and ``postgres://`` mean psycopg 3 (SQLAlchemy's own default is psycopg2)."""
    url = url.strip()
    for prefix in _DRIVERLESS:
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def use_db(url: str | None) -> None:
    """Make ``url`` this process's gradebook (``nnkit-course --db URL``); None: back to the course's."""
    global _GIVEN_URL
    _GIVEN_URL = normalise_url(url) if url else None


def _config_url(course_dir: Path) -> str | None:
    from traitlets.config.loader import PyFileConfigLoader

    try:
        cfg = PyFileConfigLoader("nbgrader_config.py", path=str(course_dir)).load_config()
    except Exception:  # noqa: BLE001 - no readable config: nbgrader's default
        return None
    value = cfg.CourseDirectory.get("db_url") if "CourseDirectory" in cfg else None
    return value if isinstance(value, str) and value.strip() else None


def db_url(course_dir: Path) -> str:
    """The gradebook's URL: ``--db URL``, else the course config's ``CourseDirectory.db_url``, else
    ``course/gradebook.db``. A relative SQLite path is relative to the course directory (as nbgrader,
    run from there, reads it)."""
    url = _GIVEN_URL or _config_url(Path(course_dir))
    if not url:
        return f"sqlite:///{(Path(course_dir) / 'gradebook.db').resolve()}"
    url = normalise_url(url)
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = Path(url[len("sqlite:///"):])
        if not path.is_absolute():
            return f"sqlite:///{(Path(course_dir) / path).resolve()}"
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for any other database)."""
    return Path(url[len("sqlite:///"):]) if url.startswith("sqlite:///") else None


def redacted(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        from sqlalchemy.engine import make_url

        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL has no password we could find
        return url.split("@")[-1] if "@" in url else url


def check_reachable(url: str, timeout: float = 10.0) -> None:
    """Connect once and run ``SELECT 1``; raise :class:`GradebookUnreachable` naming the cause.

    Grading never falls back to another database (nbgrader #1661): a URL that was given and does not
    answer stops the command before any student is graded.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = redacted(url)
    try:
        args = {"connect_timeout": int(max(1, timeout))} if url.startswith("postgresql") else {}
        engine = create_engine(url, connect_args=args)
    except (ArgumentError, NoSuchModuleError, ImportError, ValueError) as exc:
        raise GradebookUnreachable(
            f"cannot use the gradebook URL {shown}: {exc} (PostgreSQL: postgresql+psycopg://USER:PASSWORD"
            f"@HOST:PORT/DATABASE; SQLite: sqlite:////absolute/path/gradebook.db)") from exc
    path = sqlite_path(url)
    if path is not None and not path.parent.is_dir():
        raise GradebookUnreachable(f"cannot use the gradebook {shown}: folder {path.parent} does not exist")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - every driver error means the same to the instructor
        cause = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise GradebookUnreachable(
            f"cannot reach the gradebook at {shown}: {cause[0] if cause else type(exc).__name__}. "
            "Nothing was graded; start the database server or fix the URL (--db, or CourseDirectory.db_url "
            "in nbgrader_config.py). nnkit-course never falls back to another gradebook.") from exc
    finally:
        engine.dispose()


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
import json, os, sys
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory
from traitlets.config.loader import PyFileConfigLoader
release, names = sys.argv[1], sys.argv[2:]
cfg = PyFileConfigLoader("nbgrader_config.py", path=".").load_config()
cfg.CourseDirectory.root = "."
cfg.CourseDirectory.db_url = os.environ["NNKIT_GRADEBOOK_URL"]
if release:
    cfg.CourseDirectory.release_directory = release
cfg.Application.log_level = "WARN"
api = NbGraderAPI(CourseDirectory(config=cfg), config=cfg)
out = {}
for name in names:
    r = api.generate_assignment(name, force=True, create=True)
    why = (r.get("log") or "")[-3000:] + (r.get("error") or "failed")[-3000:]  # the log names the cause
    out[name] = None if r["success"] else why
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
    env = {**os.environ, "NNKIT_GRADEBOOK_URL": db_url(course_dir)}  # not in argv: it may hold a password
    proc = subprocess.run(cmd, cwd=course_dir, capture_output=True, text=True, timeout=1800, env=env)
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


def _transient(exc) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return any(w in text for w in ("database is locked", "deadlock", "could not serialize", "lock timeout"))


def _record_scores(course_dir: Path, result, submitted: datetime | None) -> None:
    """One transaction: the submission row and the auto scores of its grade cells.

    Graders write manual scores and comments in formgrader at the same time (each in its own
    process). This writes only ``auto_score`` and ``needs_manual_grade``, and computes the latter in
    the database from the row's ``manual_score`` as it is when the update runs (never from a value
    read earlier), so a manual grade committed meanwhile is neither lost nor flagged as missing.
    """
    from nbgrader.api import Grade, MissingEntry
    from sqlalchemy import case, update

    with warnings.catch_warnings(), open_gradebook(course_dir) as gb:
        warnings.simplefilter("ignore")  # nbgrader's add_submission triggers harmless SAWarnings
        try:
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
                    grade_id = gb.find_grade(gc.name, nb.name, result.assignment, result.student).id
                    part = by_id.get(gc.name)
                    if part is None or part.kind == "manual":
                        unmarked = case((Grade.manual_score.is_(None), True), else_=False)
                        values = {"auto_score": None, "needs_manual_grade": unmarked}
                    else:
                        values = {"auto_score": float(part.points), "needs_manual_grade": False}
                    gb.db.execute(update(Grade).where(Grade.id == grade_id).values(**values)
                                  .execution_options(synchronize_session=False))
            gb.db.commit()
        except BaseException:
            gb.db.rollback()
            raise


RETRIES = 5  # a write that lost a deadlock or lock timeout against a grader is tried again


def record(course_dir: Path, result, notebook_name: str, folder: Path | None = None) -> None:
    """Write one :class:`~nnkit.course.engine.SubmissionResult` to the gradebook and autograded/."""
    from sqlalchemy.exc import DBAPIError

    course_dir = Path(course_dir)
    nb_id = Path(notebook_name).stem
    now = datetime.now(UTC)
    submitted = _submitted_at(folder)
    for attempt in range(RETRIES):
        try:
            _record_scores(course_dir, result, submitted)
            break
        except DBAPIError as exc:  # locked (SQLite), deadlock or serialisation failure (PostgreSQL)
            if attempt == RETRIES - 1 or not _transient(exc):
                raise
            time.sleep(0.2 * 2 ** attempt)
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
