"""Grade one submission: assemble, run in the sandbox (retrying past hangs and crashes), check.

Everything here runs in the trusted grader process except the runner, which runs in the sandbox.
Nothing a submission does can raise out of :func:`grade_submission`: every outcome is a
:class:`SubmissionResult` with points and a reason for every lost point.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nnkit.course import feedback, sandbox, wire
from nnkit.course.assemble import NotebookProblem, assemble, find_notebook, nbgrader_meta, read_notebook


@dataclass
class PartResult:
    grade_id: str
    description: str
    points: float
    max_points: float
    reason: str | None = None       # None: full marks
    kind: str = "auto"              # "auto" or "manual" (written answers, graded in formgrader)
    function: str = ""


@dataclass
class SubmissionResult:
    student: str
    assignment: str
    status: str = "graded"          # "graded", "failed" (unreadable), "missing" (no notebook)
    notebook: str | None = None
    parts: list[PartResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sandbox: str = ""
    seconds: float = 0.0
    runs: int = 0
    output: str = ""                # the first bytes the program printed
    student_cells: list[dict] = field(default_factory=list)
    autograded: dict | None = None
    internal_error: str | None = None

    @property
    def score(self) -> float:
        return float(sum(p.points for p in self.parts if p.kind == "auto"))

    @property
    def max_score(self) -> float:
        return float(sum(p.max_points for p in self.parts))

    def summary(self) -> dict:
        d = asdict(self)
        d.pop("student_cells")
        d.pop("autograded")
        d["score"] = self.score
        d["max_score"] = self.max_score
        return d


@dataclass
class Assignment:
    """Everything trusted about one assignment, loaded once per grading run."""

    name: str
    notebook_name: str
    template: dict                  # exercises/<a>/<nb>.ipynb (release version)
    points: dict[str, float]        # autograded grade_id -> points (from solutions/)
    manual: dict[str, float]        # written-answer grade_id -> points
    parts: list                     # nnkit.course.spec.Part
    grade_order: list[str]          # grade ids in notebook order

    @classmethod
    def load(cls, course_dir: Path, name: str) -> Assignment:
        course_dir = Path(course_dir)
        root = course_dir.parent
        sources = sorted((root / "solutions" / name).glob("*.ipynb"))
        if len(sources) != 1:
            raise ValueError(f"solutions/{name} must hold exactly one notebook, found {len(sources)}")
        source = json.loads(sources[0].read_text(encoding="utf-8"))
        release = root / "exercises" / name / sources[0].name
        if not release.exists():
            raise ValueError(f"{release} is missing: run `nnkit-course release {name}` first")
        template = json.loads(release.read_text(encoding="utf-8"))
        points, manual, order = {}, {}, []
        for cell in source["cells"]:
            meta = nbgrader_meta(cell)
            if not meta.get("grade"):
                continue
            gid = str(meta["grade_id"])
            order.append(gid)
            if cell["cell_type"] == "markdown" or (meta.get("solution") and meta.get("task")):
                manual[gid] = float(meta.get("points", 0))
            else:
                points[gid] = float(meta.get("points", 0))
        parts = load_parts(course_dir / "graders" / f"{name}.py", name)
        return cls(name, sources[0].name, template, points, manual, parts, order)


def load_parts(path: Path, name: str) -> list:
    spec = importlib.util.spec_from_file_location(f"_nnkit_graders_{name}", path)
    if spec is None or not path.exists():
        raise ValueError(f"no trusted grader {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return list(module.PARTS)


def student_seed(run_seed: int, student: str, assignment: str) -> int:
    digest = hashlib.sha256(f"{run_seed}:{assignment}:{student}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


_EXPECTED_VALUE = re.compile(
    r"expected (?:-?(?:\d[\d.]*(?:e[+-]?\d+)?|nan|inf))(?! items| entries| keys| rows| columns| values)",
    re.IGNORECASE)


def redact(reason: str) -> str:
    """Remove expected values from a check's message (shapes and relative errors stay)."""
    return _EXPECTED_VALUE.sub("expected another value", reason)[:600]


def _ref_message(used: list[str]) -> str:
    return (f"calls the reference {used[0]}, nnkit's own implementation of this very part: "
            "no credit for this part (implement it yourself)")


def _case_reason(part, case, record, timeout: float) -> str | None:
    label = f"{case.label}: " if case.label else ""
    if record.get("used"):
        return _ref_message(record["used"])
    if not record.get("ok"):
        if record.get("timeout"):
            return f"{label}did not finish within the time limit of {timeout:g} s (timed out)"
        exc, msg = str(record.get("exc", "Exception")), str(record.get("msg", ""))
        if exc == "NotImplementedError":
            return "not implemented yet (the function raises NotImplementedError)"
        return f"{label}raised {exc}: {msg}" if msg else f"{label}raised {exc}"
    changed = record.get("changed")
    if getattr(part, "keeps_inputs", False) and isinstance(changed, list) and changed:
        return (f"{label}the function changed its argument {str(changed[0])[:40]} in place (the caller's "
                "data is modified); work on a copy and return new arrays")
    try:
        got = wire.decode_result(record.get("value"))
    except (wire.WireError, ValueError, TypeError, KeyError) as exc:
        return f"{label}the returned value could not be read ({exc})"
    if isinstance(got, wire.Unsupported):
        return (f"{label}returned an object of type {got.type_name}; expected numbers, numpy arrays, "
                "or tuples/lists/dicts of those")
    try:
        why = part.check(case, got)
    except Exception as exc:  # noqa: BLE001 - a check that chokes on odd data is a wrong answer
        return f"{label}the result could not be checked ({type(exc).__name__}); check its type and shape"
    return redact(f"{label}{why}") if why else None


def grade_submission(assignment: Assignment, student: str, folder: Path | None, *, run_seed: int,
                     limits: sandbox.Limits, kind: str) -> SubmissionResult:
    """Grade one student's submission of ``assignment`` (see the module docstring)."""
    start = time.monotonic()
    result = SubmissionResult(student, assignment.name, sandbox=kind)
    try:
        _grade(assignment, student, folder, run_seed, limits, kind, result)
    except Exception as exc:  # noqa: BLE001 - nothing stops the batch
        result.status = "failed"
        result.internal_error = "".join(traceback.format_exception(exc))[-4000:]
        result.notes.append(f"the grader failed on this submission ({type(exc).__name__}); "
                            "the instructor has been told")
        graded = {p.grade_id for p in result.parts}
        for part in assignment.parts:
            if part.grade_id not in graded:
                result.parts.append(PartResult(part.grade_id, part.description, 0.0,
                                               assignment.points.get(part.grade_id, 0.0),
                                               "not graded: internal grader error", function=part.function))
        _add_manual(assignment, result)
    result.seconds = round(time.monotonic() - start, 3)
    return result


def _add_manual(assignment: Assignment, result: SubmissionResult) -> None:
    have = {p.grade_id for p in result.parts}
    for gid, pts in assignment.manual.items():
        if gid not in have:
            result.parts.append(PartResult(gid, "written answer", 0.0, pts,
                                           "graded by the instructor", kind="manual"))
    # any graded cell without a trusted part would otherwise be lost
    for gid, pts in assignment.points.items():
        if gid not in {p.grade_id for p in result.parts}:
            result.parts.append(PartResult(gid, gid, 0.0, pts, "no trusted grader for this cell"))
    order = {g: i for i, g in enumerate(assignment.grade_order)}
    result.parts.sort(key=lambda p: order.get(p.grade_id, 1 << 30))


def _zero_all(assignment: Assignment, result: SubmissionResult, reason: str) -> None:
    for part in assignment.parts:
        result.parts.append(PartResult(part.grade_id, part.description, 0.0,
                                       assignment.points.get(part.grade_id, 0.0), reason,
                                       function=part.function))
    _add_manual(assignment, result)


def _grade(assignment, student, folder, run_seed, limits, kind, result: SubmissionResult) -> None:
    path, note = find_notebook(folder, assignment.notebook_name, assignment.template)
    if path is None:
        result.status = "missing"
        result.notes.append(note)
        _zero_all(assignment, result, f"not submitted ({note})")
        return
    result.notebook = path.name
    if note:
        result.notes.append(note)
    try:
        nb = read_notebook(path)
    except NotebookProblem as exc:
        result.status = "failed"
        result.notes.append(str(exc))
        _zero_all(assignment, result, f"the notebook could not be read: {exc}")
        return
    if nb.get("metadata", {}).get("nnkit_note"):
        result.notes.append(str(nb["metadata"]["nnkit_note"]))
    program = assemble(assignment.template, nb)
    result.notes.extend(program.notes)
    result.student_cells = program.student_cells
    result.autograded = program.notebook

    seed = student_seed(run_seed, student, assignment.name)
    part_cases = []
    for i, part in enumerate(assignment.parts):
        rng = np.random.default_rng([seed, i])
        part_cases.append(list(part.cases(rng)))
    timeouts = {}
    for i, part in enumerate(assignment.parts):
        t = float(part.timeout)
        if limits.part_cap_seconds is not None:
            t = min(t, limits.part_cap_seconds)
        timeouts[i] = t

    job_dir = Path(tempfile.mkdtemp(prefix="nnkit-job-"))
    try:
        job_dir.chmod(0o755)
        encoded = []
        for i, (part, cases) in enumerate(zip(assignment.parts, part_cases)):
            encoded.append({
                "index": i, "function": part.function, "forbidden": list(part.forbidden),
                "timeout": timeouts[i],
                "cases": [{"args": wire.dump_inputs(tuple(c.args), job_dir, f"p{i}c{j}a"),
                           "kwargs": wire.dump_inputs(dict(c.kwargs), job_dir, f"p{i}c{j}k")}
                          for j, c in enumerate(cases)]})
        records: dict[int, dict[int, dict]] = {i: {} for i in range(len(assignment.parts))}
        failed: dict[int, str] = {}
        missing: set[int] = set()
        ended: set[int] = set()
        pending = list(range(len(assignment.parts)))
        skip: set[int] = set()
        cell_errors: dict[int, str] = {}
        outputs = []
        deadline = time.monotonic() + limits.total_seconds
        attempts = 0
        while pending and attempts < len(program.cells) + len(assignment.parts) + 2:
            attempts += 1
            remaining = deadline - time.monotonic()
            if remaining <= 1:
                for p in pending:
                    failed[p] = "not graded: the submission used up its total time budget"
                break
            job = {"cells": program.cells, "skip": sorted(skip), "cell_timeout": limits.cell_seconds,
                   "parts": [encoded[p] for p in pending]}
            (job_dir / "job.json").write_text(json.dumps(job))
            (job_dir / "job.json").chmod(0o644)
            for f in job_dir.iterdir():
                f.chmod(0o644)
            run_limits = sandbox.Limits(**{**limits.__dict__, "total_seconds": remaining})
            outcome = sandbox.run(job_dir, run_limits, kind, timeouts)
            result.runs += 1
            if outcome.stdout or outcome.stderr:
                outputs.append((outcome.stdout + outcome.stderr)[: limits.output_bytes])
            progressed = False
            current = None  # results count only between part_start and part_end of that part
            for ev in outcome.events:
                kind_ = ev.get("ev")
                try:
                    if kind_ == "part_start":
                        current = int(ev["p"])
                    elif kind_ == "case":
                        p, c = int(ev["p"]), int(ev["c"])
                        if p == current and p in pending and c not in records[p]:
                            records[p][c] = ev
                    elif kind_ == "part_end":
                        p = int(ev["p"])
                        if p == current and p in pending:
                            ended.add(p)
                            progressed = True
                            if ev.get("missing"):
                                missing.add(p)
                        current = None
                    elif kind_ == "cell_end":
                        progressed = True
                        if ev.get("error"):
                            cell_errors[int(ev["i"])] = str(ev["error"])[:300]
                except (KeyError, TypeError, ValueError):
                    continue
            pending = [p for p in pending if p not in ended and p not in failed]
            if outcome.finished or not pending:
                break
            stage = outcome.stage or ("startup",)
            why = {"timeout": "did not finish within the time limit",
                   "exit": "the program ended abruptly",
                   "overflow": "wrote too much data",
                   "budget": "used up its total time budget"}.get(outcome.stopped, "stopped")
            if stage[0] == "part" and stage[1] in pending:
                p = int(stage[1])
                if outcome.stopped == "timeout":
                    failed[p] = (f"did not finish within the time limit of {timeouts[p]:g} s "
                                 "(timed out; the program was stopped)")
                elif outcome.stopped == "exit":
                    failed[p] = ("the process ended while this function ran (exit code "
                                 f"{outcome.returncode}): sys.exit/os._exit/a crash or the memory limit")
                else:
                    failed[p] = f"{why} while this function ran"
                pending = [q for q in pending if q != p]
                continue
            if stage[0] == "cell" and isinstance(stage[1], int) and stage[1] not in skip:
                skip.add(stage[1])
                cell = program.cells[stage[1]] if stage[1] < len(program.cells) else {}
                result.notes.append(feedback.cell_note(
                    cell, f"{why} ({outcome.stopped}), so it was skipped when grading"))
                continue
            if not progressed:
                reason = (f"the program could not run in the sandbox ({why}; exit code "
                          f"{outcome.returncode})")
                if outcome.stderr and "Traceback" in outcome.stderr and not outcome.events:
                    result.notes.append("sandbox start-up error: " + outcome.stderr[-500:])
                for p in pending:
                    failed[p] = reason
                break
        for p in pending:
            failed.setdefault(p, "not graded: the program stopped too often")
        result.output = "\n".join(outputs)[: limits.output_bytes]
        for i, err in sorted(cell_errors.items()):
            cell = program.cells[i] if i < len(program.cells) else {}
            if cell:
                result.notes.append(feedback.cell_note(cell, f"raised {feedback.describe_error(err)}"))

        for i, part in enumerate(assignment.parts):
            max_pts = assignment.points.get(part.grade_id, 0.0)
            reason = None
            if i in failed:
                reason = failed[i]
            elif i in missing:
                reason = (f"the function {part.function}() is not defined: check its name, and that its "
                          "cell runs without errors")
            else:
                for c, case in enumerate(part_cases[i]):
                    rec = records[i].get(c)
                    if rec is None:
                        reason = "the function stopped before every case was called"
                        break
                    reason = _case_reason(part, case, rec, timeouts[i])
                    if reason:
                        break
            result.parts.append(PartResult(part.grade_id, part.description or part.function,
                                           0.0 if reason else max_pts, max_pts, reason,
                                           function=part.function))
        _add_manual(assignment, result)
    finally:
        shutil.rmtree(job_dir, ignore_errors=True)
