"""Build the program to grade from a submission and the trusted release notebook.

The trusted template is ``exercises/<assignment>/<nb>.ipynb`` (the released student version: it has
no solutions and no hidden tests). From the submission only the *student's* cells are taken:

* answer cells, matched to the template's answer cells by nbgrader ``grade_id``, else (for an answer
  no cell carries the id of) by the functions they define, wherever they are, so deleted, duplicated,
  moved, retyped or metadata-stripped cells still count; a cell of the student's that redefines an
  answer found by its id runs where it is (the last definition counts, as in the notebook). The stub
  of an answer (a missing answer cell, or one left as released) runs only if no cell of the student
  defines its function, and it never replaces a function the program already defined in a way the
  text does not show (``exec``, ``functools.partial``, a callable object, a definition inside
  ``if``); a helper the template gives in an answer cell (``sigmoid_forward`` beside
  ``sigmoid_backward``) that the student's cell lost is restored from the template;
* written (markdown) answers, by ``grade_id``, for manual grading, with every markdown cell of the
  student's that continues one (a copy of the cell, new cells below it) before the next released cell;
* code cells the student added or changed, kept in order after the answer they follow.

Setup, test and read-only cells always come from the template; unchanged copies of them in the
submission are dropped. nbgrader metadata is the student's to edit, so it never hides code: what a
student added to a read-only cell (an import in the set-up cell) or wrote under a read-only cell's id
runs as their own cell, after the template's (of a test cell, only the functions and classes added: its
other statements are tests). The template's free cells ("Try it" demonstrations, no
nbgrader metadata) are not graded, so they are not run, and an unchanged copy in the submission is
neither run nor shown as the student's. Outputs are never read: they are dropped on reading, whatever
their size. IPython magics and shell escapes are removed (the sandbox has no IPython), except what
Python can do itself: ``%%writefile`` writes its file (a module a later cell imports), ``%time`` runs
its statement. Reading a submission never raises: every problem becomes a note that ends up in the
feedback.
"""

from __future__ import annotations

import ast
import copy
import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from nnkit.course.wire import valid_text

MAX_NOTEBOOK_BYTES = 20 << 20     # what is left of a notebook once its outputs are dropped
MAX_FILE_BYTES = 256 << 20        # the file as saved, outputs (plots, prints) included
DEF_RE = re.compile(r"^[ \t]*def[ \t]+([A-Za-z_][A-Za-z0-9_]*)[ \t]*\(", re.MULTILINE)
_NON_PYTHON_CELL_MAGICS = ("%%bash", "%%sh", "%%html", "%%javascript", "%%js", "%%latex",
                           "%%markdown", "%%writefile", "%%script", "%%svg", "%%perl", "%%ruby",
                           "%%file", "%%system", "%%!")


class NotebookProblem(Exception):
    """The file is not a notebook we can read; the message goes into the feedback."""


def source_of(cell) -> str:
    """A cell's source as one string, whatever shape the JSON has."""
    if not isinstance(cell, dict):
        return ""
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def nbgrader_meta(cell) -> dict:
    if not isinstance(cell, dict):
        return {}
    meta = cell.get("metadata")
    if not isinstance(meta, dict):
        return {}
    nbg = meta.get("nbgrader")
    return nbg if isinstance(nbg, dict) else {}


def _strict_constant(name):
    raise NotebookProblem(f"the notebook is not valid JSON (it contains {name})")


def read_notebook(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES,
                  file_bytes: int = MAX_FILE_BYTES) -> dict:
    """Parse a submitted notebook defensively; raise :class:`NotebookProblem` with the reason (see
    :func:`_read_notebook`)."""
    try:
        return _read_notebook(Path(path), max_bytes, file_bytes)
    except RecursionError:
        raise NotebookProblem(f"{Path(path).name} nests its JSON too deeply to be a notebook") from None


def _read_notebook(path: Path, max_bytes: int, file_bytes: int) -> dict:
    """Parse a submitted notebook defensively; raise :class:`NotebookProblem` with the reason.

    Outputs are dropped as soon as the file is parsed: they are never graded, so a notebook that
    saved megabytes of plots is read like any other. ``max_bytes`` bounds what is left (the cells'
    sources and metadata), ``file_bytes`` the file as saved.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise NotebookProblem(f"cannot read {path.name}: {exc.strerror}") from None
    if size > file_bytes:
        raise NotebookProblem(f"{path.name} is {size / 1e6:.1f} MB, over the {file_bytes >> 20} MB limit "
                              "for a notebook file even with its outputs; clear the outputs and save again")
    with open(path, "rb") as fh:
        raw = fh.read(file_bytes + 1)
    nb = None
    if len(raw) > max_bytes:  # cut the outputs out of the text first: the parse then holds only code and text
        try:
            nb = json.loads(without_outputs(raw).decode("utf-8"), parse_constant=_strict_constant)
        except (ValueError, NotebookProblem):
            nb = None  # not what it seemed: the full parse below says what is wrong
    if nb is None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NotebookProblem(f"{path.name} is not UTF-8 text, so not a notebook") from None
        del raw
        try:
            nb = json.loads(text, parse_constant=_strict_constant)
        except json.JSONDecodeError as exc:
            raise NotebookProblem(f"{path.name} is not valid JSON (line {exc.lineno}, column {exc.colno}: "
                                  f"{exc.msg}); was it saved completely?") from None
        del text
    if not isinstance(nb, dict):
        raise NotebookProblem(f"{path.name} is JSON but not a notebook (no cells)")
    _drop_outputs(nb)
    valid_text(nb)  # a lone surrogate in a JSON escape would break every file written from it later
    kept = len(json.dumps(nb, default=str))
    if kept > max_bytes:
        raise NotebookProblem(f"{path.name} holds {kept / 1e6:.1f} MB of code and text (outputs not "
                              f"counted), over the {max_bytes >> 20} MB limit")
    if not isinstance(nb.get("metadata"), dict):
        nb["metadata"] = {}  # never read for grading; every reader below may rely on a dict
    nb["metadata"].pop("nnkit_note", None)  # the reader's own note below: never the file's
    major = nb.get("nbformat")
    if major == 4 and isinstance(nb.get("cells"), list):
        return nb
    if major == 3 or (major is None and isinstance(nb.get("worksheets"), list)):
        try:
            import nbformat

            converted = nbformat.convert(nbformat.from_dict(nb), 4)
            out = json.loads(nbformat.writes(converted))
            out.setdefault("metadata", {})["nnkit_note"] = "converted from nbformat 3"
            return out
        except Exception as exc:  # noqa: BLE001 - any failure is the notebook's
            raise NotebookProblem(f"{path.name} uses nbformat 3 and could not be converted: "
                                  f"{type(exc).__name__}") from None
    if isinstance(nb.get("cells"), list):
        nb["metadata"]["nnkit_note"] = f"nbformat {major!r} is not 4; read its cells anyway"
        return nb
    raise NotebookProblem(f"{path.name} has nbformat {major!r} and no list of cells: not a notebook "
                          "this course can read (expected nbformat 4)")


_TOKEN = re.compile(rb'[\[\]"]')
_SPACE = b" \t\r\n"


def _string_end(raw: bytes, start: int) -> int:
    """Index just after the JSON string whose opening quote is at ``start`` (-1: unterminated)."""
    i = start
    while True:
        i = raw.find(b'"', i + 1)
        if i < 0:
            return -1
        backslashes = 0
        while raw[i - 1 - backslashes] == 0x5C:
            backslashes += 1
        if backslashes % 2 == 0:
            return i + 1


def _array_end(raw: bytes, start: int) -> int:
    """Index just after the JSON array whose ``[`` is at ``start`` (-1: unterminated)."""
    depth, i = 0, start
    while True:
        m = _TOKEN.search(raw, i)
        if m is None:
            return -1
        i = m.start()
        if raw[i] == 0x22:  # a string: jump over it whole (base64 images are one long string)
            i = _string_end(raw, i)
            if i < 0:
                return -1
            continue
        depth += 1 if raw[i] == 0x5B else -1
        i += 1
        if depth == 0:
            return i


def without_outputs(raw: bytes) -> bytes:
    """The notebook's JSON text with every ``"outputs": [...]`` emptied, without parsing the outputs.

    A key is a quote not escaped by a backslash (inside a JSON string every quote is escaped), followed
    by ``:`` and an array; the array is skipped string by string, so megabytes of images cost a few
    ``find`` calls. Anything unexpected leaves the text as it is, for the full parse to judge.
    """
    key, out, copied, pos, n = b'"outputs"', [], 0, 0, len(raw)
    while True:
        i = raw.find(key, pos)
        if i < 0:
            break
        backslashes = 0
        while i - 1 - backslashes >= 0 and raw[i - 1 - backslashes] == 0x5C:
            backslashes += 1
        k = i + len(key)
        while k < n and raw[k] in _SPACE:
            k += 1
        if backslashes % 2 or k >= n or raw[k] != 0x3A:
            pos = i + 1
            continue
        k += 1
        while k < n and raw[k] in _SPACE:
            k += 1
        end = _array_end(raw, k) if k < n and raw[k] == 0x5B else -1
        if end < 0:
            pos = i + 1
            continue
        out += [raw[copied:k], b"[]"]
        copied = pos = end
    out.append(raw[copied:])
    return b"".join(out)


def _drop_outputs(nb: dict) -> None:
    """Empty every code cell's outputs (nbformat 4 cells and nbformat 3 worksheets alike)."""
    groups = [nb.get("cells")]
    worksheets = nb.get("worksheets")
    if isinstance(worksheets, list):
        groups += [w.get("cells") for w in worksheets if isinstance(w, dict)]
    for cells in groups:
        if isinstance(cells, list):
            for cell in cells:
                if isinstance(cell, dict) and "outputs" in cell:
                    cell["outputs"] = []


def _writefile(first: str, body: str) -> str | None:
    """``%%writefile [-a] NAME`` as the Python that writes the file (a module a later cell imports:
    the sandbox's working folder is on ``sys.path``, last, as the notebook's folder is in Jupyter)."""
    try:
        words = shlex.split(first)
    except ValueError:
        return None
    if not words or words[0] not in ("%%writefile", "%%file"):
        return None
    append = any(w in ("-a", "--append") for w in words[1:])
    names = [w for w in words[1:] if w not in ("-a", "--append")]
    if len(names) != 1:
        return None
    return (f"with open({names[0]!r}, {'a' if append else 'w'!r}, encoding='utf-8') as _nnkit_file:\n"
            f"    _nnkit_file.write({body!r})\ndel _nnkit_file")


def strip_magics(source: str) -> str | None:
    """Python source with IPython magics/shell escapes neutralised; None for a non-Python cell."""
    lines = source.splitlines()
    if lines and lines[0].lstrip().startswith("%%"):
        first = lines[0].strip()
        written = _writefile(first, "\n".join(lines[1:]) + "\n")
        if written is not None:
            return written
        if first.startswith(_NON_PYTHON_CELL_MAGICS):
            return None
        lines = lines[1:]
    out = []
    for line in lines:
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if stripped.startswith("%time ") and stripped[6:].strip():
            out.append(f"{indent}{stripped[6:].strip()}")  # %time runs its statement (and times it)
            continue
        if stripped.startswith(("%", "!")):
            out.append(f"{indent}pass  # IPython magic removed by the grader")
            continue
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_, ]*)=\s*[%!]", stripped)
        if m:
            out.append(f"{indent}{m.group(1).strip()} = None  # IPython magic removed by the grader")
            continue
        out.append(line)
    return "\n".join(out)


def defined_functions(source: str, *, assigned: bool = False) -> tuple[str, ...]:
    """Names of the functions a cell defines at top level (by a regex if it does not parse).

    ``assigned``: also names bound at top level to another name, an attribute or a lambda
    (``mse = my_mse``, ``mse = lambda p, t: ...``), as a student's cell may define a function that way;
    data (``scores = X @ W``) is not a definition.
    """
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return tuple(DEF_RE.findall(source))
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.append(node.name)
        elif assigned and isinstance(node, (ast.Assign, ast.AnnAssign)) and isinstance(
                node.value, (ast.Name, ast.Attribute, ast.Lambda)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return tuple(names)


def _given_helpers(source: str) -> dict[str, str]:
    """Functions of a template answer cell that are complete (given), not stubs: name -> source."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    out = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            text = ast.get_source_segment(source, node) or ""
            if "NotImplementedError" not in text:
                out[node.name] = text
    return out


def _added_statements(source: str, released: str, definitions_only: bool = False) -> list[str]:
    """The top-level statements of ``source`` that the released cell does not have, one source each: what
    a student added to a copy of a read-only cell (``definitions_only``: only its functions and classes).
    All of it if it does not parse, unless ``definitions_only`` (then nothing)."""
    try:
        mine, theirs = ast.parse(source), ast.parse(released)
    except (SyntaxError, ValueError):
        return [] if definitions_only else [source]
    known = {ast.dump(stmt) for stmt in theirs.body}
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef) if definitions_only else ast.stmt
    return [ast.unparse(stmt) for stmt in mine.body
            if isinstance(stmt, kinds) and ast.dump(stmt) not in known]


def _top_level_names(source: str) -> set[str]:
    """Every name a cell binds at top level (definitions, imports, assignments)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set(DEF_RE.findall(source))
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in stmt.names)
        else:
            names.update(n.id for n in ast.walk(stmt)
                         if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    return names


def _stub_keeping(stub: str, name: str) -> str:
    """The stub, leaving in place a function ``name`` that the student's cells already defined.

    Which cell defines a function cannot always be read from its text (``exec``, ``functools.partial``,
    a callable object, a definition inside ``if``): the program itself tells, when it runs.
    """
    if not name.isidentifier() or "__future__" in stub:  # a future import must come first in its cell
        return stub
    keep = f"_nnkit_defined_{name}"
    return (f"{keep} = globals().get({name!r})\n{stub}\n"
            f"if callable({keep}):\n    {name} = {keep}\ndel {keep}")


@dataclass
class Slot:
    """An answer cell of the template."""

    position: int
    grade_id: str
    functions: tuple[str, ...]
    stub: str
    graded: str = ""                                    # the function the part calls
    given: dict = field(default_factory=dict)           # helpers the template gives in this cell
    untouched: bool = False                             # the submission holds the stub as released
    cells: list = field(default_factory=list)           # (submission position, source)


@dataclass
class Program:
    cells: list[dict]            # {"index", "source", "origin", "label"}: what the sandbox executes
    notebook: dict               # the assembled notebook (for the autograded copy / formgrader)
    student_cells: list[dict]    # {"title", "source"}: the student's own code, for the feedback
    written: dict[str, str]      # grade_id -> the student's written answer (markdown)
    notes: list[str]             # what the grader had to repair, each a whole sentence


def _norm(src: str) -> str:
    return "\n".join(line.rstrip() for line in src.strip().splitlines())


def _slots(tcells: list[dict]) -> dict[str, Slot]:
    slots: dict[str, Slot] = {}
    for pos, cell in enumerate(tcells):
        meta = nbgrader_meta(cell)
        if cell.get("cell_type") == "code" and meta.get("solution") and not meta.get("grade"):
            src = source_of(cell)
            gid = str(meta.get("grade_id") or f"cell{pos}")
            fns = defined_functions(src)
            named = gid.removeprefix("answer_")
            graded = named if named in fns else (fns[0] if fns else "")
            given = {k: v for k, v in _given_helpers(src).items() if k != graded}
            slots[gid] = Slot(pos, gid, fns, src, graded, given)
    return slots


def assemble(template: dict, submission: dict | None) -> Program:  # noqa: C901 - one pass per kind
    """Merge a submission into the trusted template (see the module docstring)."""
    notes: list[str] = []
    tcells = [c for c in template.get("cells", []) if isinstance(c, dict)]
    slots = _slots(tcells)
    by_graded = {s.graded: s for s in slots.values() if s.graded}
    by_helper: dict[str, Slot] = {}
    for s in slots.values():
        for fn in s.functions:
            if fn not in by_graded:
                by_helper.setdefault(fn, s)
    manual: dict[str, int] = {}
    trusted_ids: dict[str, int] = {}
    trusted_sources: dict[str, int] = {}
    free_sources: dict[str, int] = {}       # the template's "Try it" cells, not graded, not run
    trusted_bound: set[str] = set()         # names the template's own code cells bind
    for pos, cell in enumerate(tcells):
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id")
        src = source_of(cell)
        if str(gid) in slots and cell.get("cell_type") == "code" and meta.get("solution"):
            continue
        if cell.get("cell_type") == "markdown" and meta.get("solution") and meta.get("grade"):
            manual[str(gid)] = pos
        elif meta:
            if gid:
                trusted_ids[str(gid)] = pos
            if cell.get("cell_type") == "code" and src.strip():
                trusted_sources[_norm(src)] = pos
                trusted_bound.update(_top_level_names(src))
        elif cell.get("cell_type") == "code" and src.strip():
            free_sources[_norm(src)] = pos

    written: dict[str, str] = {}
    extras: list[tuple[int, int, int, str]] = []  # (anchor template position, submission position,
    #                                                  statement within it, source)
    defined_anywhere: set[str] = set()
    found_by_name: list[str] = []
    changed_trusted: list[str] = []
    template_texts = {_norm(source_of(c)) for c in tcells}
    # the cell just before a written answer in the template (its question, or the test before it): the
    # student's own markdown after it answers it, even where the answer cell's metadata was lost
    asks = {_norm(source_of(tcells[pos - 1])): gid for gid, pos in manual.items()
            if pos > 0 and source_of(tcells[pos - 1]).strip()}
    writing: str | None = None   # the written answer whose cells the student's own markdown continues
    anchor = -1
    scells = submission.get("cells", []) if isinstance(submission, dict) else []
    if not isinstance(scells, list):
        scells = []
    # Answers whose cell is there under its grade id: a cell elsewhere defining the same function is
    # then not moved to it, but runs where it is (the last definition counts, as in the notebook); only
    # an answer with no such cell (its metadata lost or changed) is looked for by the functions defined.
    claimed = {nbgrader_meta(c).get("grade_id") for c in scells if isinstance(c, dict)
               and isinstance(nbgrader_meta(c).get("grade_id"), str)
               and nbgrader_meta(c)["grade_id"] in slots and c.get("cell_type") == "code"}
    for spos, cell in enumerate(scells):
        if not isinstance(cell, dict):
            continue
        ctype = cell.get("cell_type")
        meta = nbgrader_meta(cell)
        gid = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else None
        src = source_of(cell)
        known = gid in slots or gid in manual or gid in trusted_ids or _norm(src) in template_texts
        if ctype == "markdown" and writing and not known and src.strip():
            # a written answer in several cells, none of it lost
            written[writing] = f"{written[writing]}\n\n{src}" if writing in written else src
            continue
        if known:
            writing = asks.get(_norm(src))
        defined = defined_functions(src, assigned=True)
        if gid in slots and (ctype == "code" or any(fn in slots[gid].functions for fn in defined)):
            anchor = slots[gid].position
            if ctype == "code" and _norm(src) == _norm(slots[gid].stub):
                slots[gid].untouched = True  # the released stub: it stands in only if nothing else defines it
                continue
            slots[gid].cells.append((spos, src))
            defined_anywhere.update(defined)
            if ctype != "code":
                notes.append(f"The answer cell {gid} had been turned into a {ctype} cell; its code was used.")
            continue
        if gid in manual and ctype == "markdown":
            written[gid] = f"{written[gid]}\n\n{src}" if gid in written else src
            writing, anchor = gid, manual[gid]
            continue
        norm = _norm(src)
        if gid in trusted_ids:
            anchor = max(anchor, trusted_ids[gid]) if ctype == "code" else anchor
            if ctype != "code" or not norm or norm == _norm(source_of(tcells[trusted_ids[gid]])):
                continue  # the trusted copy is used
            # A read-only cell's id on code of the student's (imports added to the set-up cell, an answer
            # under a copied test cell's metadata): the trusted cell still runs, and what was added is the
            # student's, like any cell they added. Of a test cell only the functions and classes added
            # count (an answer typed into it): its other statements are tests, maybe the hidden ones of a
            # submitted source notebook, which are neither run nor shown back.
            # Each added statement of a set-up cell runs on its own, as the released cell's statements do
            # (an import the sandbox withholds stops nothing else).
            released = tcells[trusted_ids[gid]]
            is_test = bool(nbgrader_meta(released).get("grade"))
            added = _added_statements(src, source_of(released), definitions_only=is_test)
            if not added:
                continue  # only reformatted or commented
            changed_trusted.append(gid)
            if not is_test:
                for k, stmt in enumerate(added):
                    defined_anywhere.update(defined_functions(stmt, assigned=True))
                    extras.append((anchor, spos, k, stmt))
                continue
            src = "\n\n".join(added)
            norm = _norm(src)
            defined = defined_functions(src, assigned=True)
        if ctype != "code":
            continue
        if norm in trusted_sources:
            anchor = max(anchor, trusted_sources[norm])
            continue
        if norm in free_sources:
            anchor = max(anchor, free_sources[norm])
            continue  # an unchanged "Try it" cell of the template: not graded, so not run
        if not src.strip():
            continue
        matched = [s for s in [by_graded[fn] for fn in defined if fn in by_graded] or
                   [by_helper[fn] for fn in defined if fn in by_helper] if s.grade_id not in claimed]
        if matched and norm == _norm(min(matched, key=lambda s: s.position).stub):
            slot = min(matched, key=lambda s: s.position)
            slot.untouched, anchor = True, slot.position
            continue
        defined_anywhere.update(defined)
        if matched:
            slot = min(matched, key=lambda s: s.position)
            slot.cells.append((spos, src))
            if gid not in slots:
                found_by_name.append(f"{slot.graded or slot.functions[0]}()")
            anchor = slot.position
            continue
        extras.append((anchor, spos, 0, src))

    if changed_trusted:
        notes.append(f"Your cells carrying the ids of read-only cells ({', '.join(changed_trusted[:5])}) had "
                     "changed code: the released cells ran as released, and what you added ran after them as "
                     "cells of yours.")
    if found_by_name:
        notes.append(f"Your cells defining {', '.join(found_by_name)} were used as those answers, found by "
                     "the functions they define (their nbgrader metadata was missing or changed).")
    first_code = next((i for i, c in enumerate(tcells) if c.get("cell_type") == "code"), -1)
    cells: list[dict] = []
    student_cells: list[dict] = []
    nb_cells: list[dict] = []
    index = 0

    def add(source: str, origin: str, label: str):
        nonlocal index
        clean = strip_magics(source)
        if clean is None:
            notes.append(f"A non-Python cell ({source.splitlines()[0][:40]}) was skipped: the grader runs "
                         "Python only.")
            return
        cells.append({"index": index, "source": clean, "origin": origin, "label": label})
        index += 1

    def add_extras(anchor_pos: int):
        for _a, _spos, _k, src in sorted(e for e in extras if e[0] == anchor_pos):
            add(src, "student", "a cell you added or changed")
            student_cells.append({"title": "A cell you added or changed", "source": src})
            nb_cells.append({"cell_type": "code", "metadata": {}, "source": src,
                             "outputs": [], "execution_count": None})

    slot_at = {s.position: s for s in slots.values()}
    for pos, cell in enumerate(tcells):
        meta = nbgrader_meta(cell)
        ctype = cell.get("cell_type")
        src = source_of(cell)
        slot = slot_at.get(pos)
        if slot is not None:
            fn = slot.graded or slot.grade_id
            sources = [s for _p, s in sorted(slot.cells)]
            if len(sources) > 1:
                notes.append(f"{len(sources)} cells answer {slot.grade_id}; they run in order (the last "
                             "definition counts, as in the notebook).")
            if sources:
                have = {f for s in sources for f in defined_functions(s, assigned=True)}
                for helper, helper_src in slot.given.items():
                    if helper not in have and helper not in defined_anywhere:
                        add(helper_src, "template", f"the given helper {helper}() of the released notebook")
                        notes.append(f"Your answer cell for {fn}() no longer defines the given helper "
                                     f"{helper}(); the released notebook's version was used.")
                for s in sources:
                    add(s, f"answer:{slot.grade_id}", f"your answer cell for {fn}()")
                    student_cells.append({"title": f"Your answer ({slot.grade_id})", "source": s})
            elif slot.graded and slot.graded in defined_anywhere:
                notes.append(f"{fn}() is defined in a cell of yours other than its answer cell; that "
                             "definition was graded.")
            else:
                add(slot.stub if slot.graded in trusted_bound else _stub_keeping(slot.stub, slot.graded),
                    f"stub:{slot.grade_id}", f"the released stub of {fn}()")
                notes.append((f"Your answer cell for {fn}() is the released stub as it was" if slot.untouched
                              else f"No answer cell for {fn}() was found") +
                             ", so the released stub stands in for it (unless another cell of yours defines "
                             "it).")
            merged = copy.deepcopy(cell)
            merged["source"] = "\n\n".join(sources) if sources else slot.stub
            merged["outputs"], merged["execution_count"] = [], None
            nb_cells.append(merged)
        elif ctype == "markdown" and str(meta.get("grade_id")) in manual:
            merged = copy.deepcopy(cell)
            gid = str(meta.get("grade_id"))
            if gid in written:
                merged["source"] = written[gid]
            else:
                notes.append(f"The written answer {gid} is missing.")
            nb_cells.append(merged)
        elif ctype == "code" and not meta:
            pass  # a free cell of the template: not graded, not run; the student's changed copy is an extra
        else:
            if ctype == "code" and not (meta.get("grade") and not meta.get("solution")):
                add(src, "trusted", f"the notebook's read-only cell {meta.get('grade_id') or pos}")
            trusted = copy.deepcopy(cell)
            if ctype == "code":
                trusted["outputs"], trusted["execution_count"] = [], None
            nb_cells.append(trusted)
        add_extras(pos)
        if pos == first_code:
            add_extras(-1)
    if first_code < 0:
        add_extras(-1)

    notebook = {"cells": nb_cells, "metadata": copy.deepcopy(template.get("metadata", {})),
                "nbformat": 4, "nbformat_minor": template.get("nbformat_minor", 5)}
    seen: set[str] = set()
    for i, c in enumerate(notebook["cells"]):  # nbformat 4.5 wants unique cell ids
        if not isinstance(c.get("id"), str) or c["id"] in seen:
            c["id"] = f"nnkit-cell-{i}"
        seen.add(c["id"])
    return Program(cells, notebook, student_cells, written, notes)


def find_notebook(folder: Path | None, expected_name: str, template: dict) -> tuple[Path | None, str | None]:
    """The submitted notebook in ``folder`` (renamed ones accepted) and a note, or (None, reason)."""
    if folder is None or not Path(folder).is_dir():
        return None, "no submission folder"
    found, links = [], []
    for p in sorted(Path(folder).rglob("*.ipynb")):
        if ".ipynb_checkpoints" in p.parts:
            continue
        if p.is_symlink():
            links.append(p.name)
        elif p.is_file():
            found.append(p)
    if not found and links:
        return None, (f"the only notebook, {links[0]}, is a symbolic link, which the grader does not follow "
                      "(submit the file itself)")
    if not found:
        return None, "no notebook was submitted"
    exact = [p for p in found if p.name == expected_name]
    if len(exact) == 1:
        others = [p.name for p in found if p != exact[0]]
        return exact[0], (f"{len(found)} notebooks were submitted; {expected_name} (the assignment's own "
                          f"name) was graded, not {', '.join(others[:3])}." if others else None)
    if len(found) == 1:
        return found[0], f"The notebook was renamed to {found[0].name}; it was graded anyway."
    ids = {str(nbgrader_meta(c).get("grade_id")) for c in template.get("cells", []) if nbgrader_meta(c)}

    def score(p: Path) -> int:
        try:
            nb = read_notebook(p)
        except NotebookProblem:
            return -1
        return sum(1 for c in nb.get("cells", []) if str(nbgrader_meta(c).get("grade_id")) in ids)

    best = max(found, key=score)
    return best, (f"{len(found)} notebooks were submitted; {best.name} (the one most like "
                  f"{expected_name}) was graded.")
