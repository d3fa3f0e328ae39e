"""Find students' submissions, and import a folder or zip of notebooks into ``course/submitted/``.

Accepted layouts (in a folder or a zip): ``alice.ipynb``, ``alice/ex02_losses.ipynb`` or
``alice/ex02_losses/<any>.ipynb`` (one top-level folder around everything is ignored). Only
``.ipynb`` files are taken. Unpacking is defensive: no absolute paths, no ``..``, no symlinks,
size caps per file and in total, student ids restricted to a safe alphabet.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from nnkit.course.assemble import nbgrader_meta

STUDENT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,63}$")
MAX_FILE = 20 << 20
MAX_TOTAL = 2 << 30
MAX_FILES = 20000


def valid_student(name: str) -> bool:
    return bool(STUDENT_RE.match(name)) and ".." not in name


def students_for(course_dir: Path, assignment: str) -> dict[str, Path | None]:
    """student -> their submitted folder for ``assignment`` (None: no folder, i.e. missing)."""
    from nnkit.course.gradebook import open_gradebook

    out: dict[str, Path | None] = {}
    submitted = Path(course_dir) / "submitted"
    if submitted.is_dir():
        for d in sorted(submitted.iterdir()):
            if d.is_dir() and not d.is_symlink() and valid_student(d.name):
                folder = d / assignment
                out[d.name] = folder if folder.is_dir() and not folder.is_symlink() else None
    if (Path(course_dir) / "gradebook.db").exists():
        with open_gradebook(course_dir) as gb:
            for s in gb.students:
                out.setdefault(s.id, None)
    return dict(sorted(out.items()))


def _entries_from_zip(path: Path, warnings: list[str]):
    total = 0
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_FILES:
            raise ValueError(f"{path.name} holds {len(infos)} files (limit {MAX_FILES})")
        for info in infos:
            name = info.filename.replace("\\", "/")
            if info.is_dir():
                continue
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                warnings.append(f"skipped symlink {name!r} in the zip")
                continue
            pure = PurePosixPath(name)
            if pure.is_absolute() or ".." in pure.parts or any(p in ("", ".") for p in pure.parts[:-1]):
                warnings.append(f"skipped unsafe path {name!r} in the zip")
                continue
            if pure.suffix != ".ipynb" or "__MACOSX" in pure.parts or ".ipynb_checkpoints" in pure.parts:
                continue
            if info.file_size > MAX_FILE:
                warnings.append(f"skipped {name!r}: larger than {MAX_FILE >> 20} MB")
                continue
            with zf.open(info) as fh:
                data = fh.read(MAX_FILE + 1)
            if len(data) > MAX_FILE:
                warnings.append(f"skipped {name!r}: larger than {MAX_FILE >> 20} MB")
                continue
            total += len(data)
            if total > MAX_TOTAL:
                raise ValueError(f"{path.name} unpacks to more than {MAX_TOTAL >> 30} GB")
            yield pure.parts, data


def _entries_from_dir(root: Path, warnings: list[str]):
    total = 0
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != ".ipynb_checkpoints"
                       and not os.path.islink(os.path.join(dirpath, d))]
        for fname in filenames:
            full = Path(dirpath) / fname
            if not fname.endswith(".ipynb") or full.is_symlink():
                continue
            if full.stat().st_size > MAX_FILE:
                warnings.append(f"skipped {full}: larger than {MAX_FILE >> 20} MB")
                continue
            data = full.read_bytes()
            total += len(data)
            if total > MAX_TOTAL:
                raise ValueError(f"{root} holds more than {MAX_TOTAL >> 30} GB of notebooks")
            yield full.relative_to(root).parts, data


def _guess_assignment(data: bytes, grade_ids: dict[str, set[str]]) -> str | None:
    try:
        nb = json.loads(data)
        ids = {str(nbgrader_meta(c).get("grade_id")) for c in nb.get("cells", []) if nbgrader_meta(c)}
    except Exception:  # noqa: BLE001 - an unreadable notebook cannot be matched by content
        return None
    best = max(grade_ids, key=lambda a: len(ids & grade_ids[a]), default=None)
    return best if best is not None and ids & grade_ids[best] else None


def import_submissions(source: Path, course_dir: Path, assignments: list[str],
                       grade_ids: dict[str, set[str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Copy the notebooks of a folder/zip into ``course/submitted/<student>/<assignment>/``."""
    source = Path(source)
    warnings: list[str] = []
    if source.is_dir():
        entries = list(_entries_from_dir(source, warnings))
    elif zipfile.is_zipfile(source):
        entries = list(_entries_from_zip(source, warnings))
    else:
        raise ValueError(f"{source} is neither a folder nor a zip file")
    tops = {parts[0] for parts, _data in entries}
    if len(tops) == 1 and all(len(parts) > 1 for parts, _data in entries):
        # one folder around everything (submissions/alice.ipynb), unless it is one student's folder
        inner_firsts = {Path(p[1]).stem if len(p) == 2 else p[1] for p, _d in entries}
        if not inner_firsts <= set(assignments):
            entries = [(p[1:], d) for p, d in entries]
    single = assignments[0] if len(assignments) == 1 else None
    placed: dict[tuple[str, str], list[tuple[str, bytes]]] = {}
    for parts, data in entries:
        if len(parts) == 1:
            student, assignment = Path(parts[0]).stem, single or _guess_assignment(data, grade_ids)
        elif len(parts) == 2:
            student = parts[0]
            stem = Path(parts[1]).stem
            assignment = stem if stem in assignments else (single or _guess_assignment(data, grade_ids))
        else:
            student = parts[0]
            assignment = parts[1] if parts[1] in assignments else (
                single or _guess_assignment(data, grade_ids))
        if not valid_student(student):
            warnings.append(f"skipped {'/'.join(parts)!r}: {student!r} is not a usable student id")
            continue
        if assignment not in assignments:
            warnings.append(f"skipped {'/'.join(parts)!r}: not a notebook of {', '.join(assignments)}")
            continue
        fname = Path(parts[-1]).name
        if len(parts) == 1 or not valid_student(Path(fname).stem):
            fname = f"{assignment}.ipynb"  # alice.ipynb names the student, not a renamed notebook
        placed.setdefault((student, assignment), []).append((fname, data))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f UTC")
    for (student, assignment), files in placed.items():
        dest = Path(course_dir) / "submitted" / student / assignment
        if dest.exists():
            shutil.rmtree(dest)
        dest.mkdir(parents=True)
        for fname, data in files:
            (dest / fname).write_bytes(data)
        (dest / "timestamp.txt").write_text(now)  # as `nbgrader collect` records it
    return sorted(placed), warnings
