"""Find students' submissions, and import a folder or zip of notebooks into ``course/submitted/``.

Accepted layouts (in a folder or a zip): ``alice.ipynb``, ``alice/ex02_losses.ipynb`` or
``alice/ex02_losses/<any>.ipynb`` (one top-level folder around everything is ignored). Only
``.ipynb`` files are taken. Unpacking is defensive: no absolute paths, no ``..``, no symlinks,
size caps per file and in total, student ids restricted to a safe alphabet (nbgrader's 128
characters at most).

Nothing given to the grader vanishes: every folder or entry that is not graded becomes a
:class:`Refused` row (the entry, the student if known, and a whole sentence saying why), which the
command prints and the run report lists. Entries that would land on the same student's same
assignment (``dup.ipynb`` beside ``dup/ex02_losses.ipynb``) are refused together, never written over
each other: the grader does not choose between two submissions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from nnkit.course.assemble import MAX_FILE_BYTES, nbgrader_meta

MAX_ID = 128                     # nbgrader's Student.id is a VARCHAR(128)
STUDENT_RE = re.compile(rf"^[A-Za-z0-9][A-Za-z0-9_.@+-]{{0,{MAX_ID - 1}}}$")
MAX_FILE = MAX_FILE_BYTES        # one notebook file, outputs included (they are dropped on reading)
MAX_TOTAL = 2 << 30
MAX_FILES = 20000
_IGNORED = ("__MACOSX", ".ipynb_checkpoints", ".DS_Store")


@dataclass(frozen=True)
class Refused:
    """Something given to ``grade`` that gets no grade, and why (a whole sentence)."""

    entry: str
    reason: str
    student: str | None = None
    assignment: str | None = None

    def __str__(self) -> str:
        return f"{self.entry}: {self.reason}"

    def row(self) -> dict:
        return {"entry": self.entry, "student": self.student, "assignment": self.assignment,
                "reason": self.reason}


def valid_student(name: str) -> bool:
    return bool(STUDENT_RE.match(name)) and ".." not in name


def why_not_student(name: str) -> str:
    """Why ``name`` cannot be a student id (a whole sentence)."""
    if len(name) > MAX_ID:
        return (f"{name[:20]!r}... is {len(name)} characters long, over the {MAX_ID} an nbgrader student id "
                "may have.")
    bad = sorted({c for c in name if not re.match(r"[A-Za-z0-9_.@+-]", c)})
    if bad:
        shown = ", ".join("a space" if c == " " else repr(c) for c in bad[:5])
        return (f"{name!r} is not a usable student id: it contains {shown} (ids use letters, digits and "
                "_ . @ + - only); rename it to the student's id.")
    if ".." in name:
        return f"{name!r} is not a usable student id: it contains '..'."
    return f"{name!r} is not a usable student id: it must start with a letter or a digit."


def collect(course_dir: Path, assignment: str) -> tuple[dict[str, Path | None], list[Refused]]:
    """Every student of ``assignment`` -> their submitted folder (None: missing), and what was refused."""
    from nnkit.course.gradebook import open_gradebook

    out: dict[str, Path | None] = {}
    refused: list[Refused] = []
    submitted = Path(course_dir) / "submitted"
    if submitted.is_dir():
        for d in sorted(submitted.iterdir()):
            entry = f"submitted/{d.name}"
            if d.name.startswith(".") or d.name in _IGNORED:
                continue
            if d.is_symlink():
                refused.append(Refused(entry, "is a symbolic link, which the grader does not follow: copy "
                                       "the folder itself into submitted/.", None, assignment))
            elif not d.is_dir():
                refused.append(Refused(entry, f"is a file, not a student folder: put it at "
                                       f"submitted/<student>/{assignment}/.", None, assignment))
            elif not valid_student(d.name):
                refused.append(Refused(entry, why_not_student(d.name), None, assignment))
            else:
                folder = d / assignment
                if folder.is_symlink():
                    refused.append(Refused(f"{entry}/{assignment}", "is a symbolic link, which the grader "
                                           "does not follow: copy the folder itself.", d.name, assignment))
                    out[d.name] = None
                else:
                    out[d.name] = folder if folder.is_dir() else None
                    loose = sorted(p.name for p in d.glob("*.ipynb"))
                    if out[d.name] is None and loose:
                        refused.append(Refused(f"{entry}/{loose[0]}", f"is not inside {entry}/{assignment}/, "
                                               "where the grader looks: move it there (or import it with "
                                               "--submissions).", d.name, assignment))
    if (Path(course_dir) / "gradebook.db").exists():
        with open_gradebook(course_dir) as gb:
            for s in gb.students:
                out.setdefault(s.id, None)
    return dict(sorted(out.items())), refused


def students_for(course_dir: Path, assignment: str) -> dict[str, Path | None]:
    """student -> their submitted folder for ``assignment`` (None: no folder, i.e. missing)."""
    return collect(course_dir, assignment)[0]


# ----------------------------------------------------------------------------- importing

@dataclass
class _Entry:
    parts: tuple[str, ...]
    load: Callable[[], bytes] | None = None   # None: not a notebook we take (the reason says why)
    reason: str | None = None

    @property
    def name(self) -> str:
        return "/".join(self.parts)


def _capped(read: Callable[[int], bytes]) -> Callable[[], bytes]:
    """A loader that reads at most MAX_FILE bytes (a larger file is an error), only when called."""
    def load() -> bytes:
        data = read(MAX_FILE + 1)
        if len(data) > MAX_FILE:
            raise ValueError(f"is larger than {MAX_FILE >> 20} MB")
        return data
    return load


def _entries_from_zip(zf: zipfile.ZipFile, label: str):
    infos = zf.infolist()
    if len(infos) > MAX_FILES:
        raise ValueError(f"{label} holds {len(infos)} files (limit {MAX_FILES})")
    for info in infos:
        name = info.filename.replace("\\", "/")
        if info.is_dir():
            continue
        pure = PurePosixPath(name)
        if any(p in _IGNORED for p in pure.parts):
            continue
        if pure.is_absolute() or ".." in pure.parts or any(p in ("", ".") for p in pure.parts[:-1]):
            yield _Entry((name,), reason="has an unsafe path (absolute or with '..'): not unpacked.")
            continue
        if stat.S_ISLNK(info.external_attr >> 16):
            yield _Entry(pure.parts, reason="is a symbolic link, which the grader does not follow.")
            continue
        if pure.suffix != ".ipynb":
            yield _Entry(pure.parts, reason="is not a notebook (.ipynb).")
            continue
        if info.file_size > MAX_FILE:
            yield _Entry(pure.parts, reason=f"is larger than {MAX_FILE >> 20} MB.")
            continue

        def read(n, info=info):
            with zf.open(info) as fh:
                return fh.read(n)
        yield _Entry(pure.parts, _capped(read))


def _entries_from_dir(root: Path):
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        keep = []
        for d in sorted(dirnames):
            full = Path(dirpath) / d
            if d in _IGNORED:
                continue
            if full.is_symlink():
                yield _Entry(full.relative_to(root).parts,
                             reason="is a symbolic link, which the grader does not follow.")
                continue
            keep.append(d)
        dirnames[:] = keep
        for fname in sorted(filenames):
            full = Path(dirpath) / fname
            parts = full.relative_to(root).parts
            if fname in _IGNORED:
                continue
            if full.is_symlink():
                yield _Entry(parts, reason="is a symbolic link, which the grader does not follow.")
                continue
            if not fname.endswith(".ipynb"):
                yield _Entry(parts, reason="is not a notebook (.ipynb).")
                continue
            if full.stat().st_size > MAX_FILE:
                yield _Entry(parts, reason=f"is larger than {MAX_FILE >> 20} MB.")
                continue

            def read(n, full=full):
                with open(full, "rb") as fh:
                    return fh.read(n)
            yield _Entry(parts, _capped(read))


def _guess_assignment(load: Callable[[], bytes], grade_ids: dict[str, set[str]]) -> str | None:
    try:
        nb = json.loads(load())
        ids = {str(nbgrader_meta(c).get("grade_id")) for c in nb.get("cells", []) if nbgrader_meta(c)}
    except Exception:  # noqa: BLE001 - an unreadable notebook cannot be matched by content
        return None
    best = max(grade_ids, key=lambda a: len(ids & grade_ids[a]), default=None)
    return best if best is not None and ids & grade_ids[best] else None


def _unwrap(entries: list[_Entry], assignments: list[str]) -> None:
    """Drop one folder around everything (submissions/alice.ipynb), unless it is one student's folder."""
    safe = [e for e in entries if "/" not in e.parts[0]]  # an unsafe path is kept whole, for its row
    tops = {e.parts[0] for e in safe}
    if len(tops) == 1 and all(len(e.parts) > 1 for e in safe):
        notebooks = [e for e in safe if e.load is not None]
        inner_firsts = {Path(e.parts[1]).stem if len(e.parts) == 2 else e.parts[1] for e in notebooks}
        if not inner_firsts <= set(assignments):
            for e in safe:
                e.parts = e.parts[1:]


def _place(entry: _Entry, assignments: list[str], grade_ids) -> tuple[str, str | None, str]:
    """(student, assignment or None, file name) of a notebook entry (read only to guess an assignment)."""
    parts = entry.parts
    single = assignments[0] if len(assignments) == 1 else None

    def guess():
        return single or _guess_assignment(entry.load, grade_ids)
    if len(parts) == 1:
        student, assignment = Path(parts[0]).stem, guess()
    elif len(parts) == 2:
        student = parts[0]
        stem = Path(parts[1]).stem
        assignment = stem if stem in assignments else guess()
    else:
        student = parts[0]
        assignment = parts[1] if parts[1] in assignments else guess()
    fname = Path(parts[-1]).name
    if len(parts) == 1 or not valid_student(Path(fname).stem):
        fname = f"{assignment}.ipynb"  # alice.ipynb names the student, not a renamed notebook
    return student, assignment, fname


def import_submissions(source: Path, course_dir: Path, assignments: list[str],
                       grade_ids: dict[str, set[str]]) -> tuple[list[tuple[str, str]], list[Refused]]:
    """Copy the notebooks of a folder/zip into ``course/submitted/<student>/<assignment>/``.

    Returns the (student, assignment) pairs imported and a :class:`Refused` row for every entry that
    was not (with the reason); colliding entries are all refused and the student's earlier import,
    if any, is left as it was.
    """
    source = Path(source)
    if source.is_dir():
        return _import(list(_entries_from_dir(source)), source.name, course_dir, assignments, grade_ids)
    if zipfile.is_zipfile(source):
        with zipfile.ZipFile(source) as zf:  # open while the entries are read, one at a time
            return _import(list(_entries_from_zip(zf, source.name)), source.name, course_dir, assignments,
                           grade_ids)
    raise ValueError(f"{source} is neither a folder nor a zip file")


def _import(entries: list[_Entry], label: str, course_dir: Path, assignments: list[str],
            grade_ids) -> tuple[list[tuple[str, str]], list[Refused]]:
    _unwrap(entries, assignments)
    refused: list[Refused] = []
    placed: dict[tuple[str, str], list[tuple[_Entry, str]]] = {}
    students_with_notebooks: set[str] = set()
    for e in entries:
        if e.load is None:
            continue
        student, assignment, fname = _place(e, assignments, grade_ids)
        if not valid_student(student):
            refused.append(Refused(f"{label}: {e.name}", why_not_student(student), None, assignment))
            continue
        students_with_notebooks.add(student)
        if assignment not in assignments:
            refused.append(Refused(f"{label}: {e.name}", f"is not a notebook of {', '.join(assignments)} "
                                   "(neither its path nor its cells name one).", student, None))
            continue
        placed.setdefault((student, assignment), []).append((e, fname))
    for e in entries:
        if e.load is not None:
            continue
        student = e.parts[0] if len(e.parts) > 1 and valid_student(e.parts[0]) else None
        if student is None or student not in students_with_notebooks:
            refused.append(Refused(f"{label}: {e.name}", e.reason or "was not imported.", student, None))
        # a stray file beside a student's notebook (a .py copy, a PNG) is simply not part of the submission

    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    imported, total = [], 0
    for (student, assignment), files in sorted(placed.items()):
        names = [fname for _e, fname in files]
        layouts = {len(e.parts) == 1 for e, _f in files}
        if len(set(names)) < len(names) or len(layouts) > 1:
            listed = " and ".join(e.name for e, _f in files)
            for e, _f in files:
                refused.append(Refused(
                    f"{label}: {e.name}",
                    f"collides with another entry: {listed} are all {student}'s {assignment}, so none was "
                    "imported (the grader does not choose between submissions); keep one and import again.",
                    student, assignment))
            continue
        try:
            data = [(fname, e.load()) for e, fname in files]
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            for e, _f in files:
                refused.append(Refused(f"{label}: {e.name}", f"could not be read ({exc}).", student,
                                       assignment))
            continue
        total += sum(len(d) for _f, d in data)
        if total > MAX_TOTAL:
            raise ValueError(f"{label} holds more than {MAX_TOTAL >> 30} GB of notebooks")
        dest = Path(course_dir) / "submitted" / student / assignment
        if dest.is_symlink():
            dest.unlink()
        elif dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for fname, blob in data:
            (dest / fname).write_bytes(blob)
        (dest / "timestamp.txt").write_text(now)  # as `nbgrader collect` records it
        imported.append((student, assignment))
    return imported, refused
