"""Grade one submission: a pipeline of small stages, each with one job.

    collect   find and read the submitted notebook            -> the notebook, or a result saying why not
    assemble  the student's cells into the trusted template    -> a Program (nnkit.course.assemble)
    run       each part in its own fresh sandbox               -> a PartRun (events read within caps)
    decode    each case's result back into plain data          -> value or the reason it is unreadable
    score     the trusted check of every case                  -> PartResult with a reason per lost point
    record    gradebook, feedback, report                      -> nnkit.course.cli (not here)

Everything here runs in the trusted grader process; only the runner runs in the sandbox. Nothing a
submission does can raise out of :func:`grade_submission`: every outcome is a
:class:`SubmissionResult`. A fault of the grading environment (the sandbox did not start, the runner
reported a broken set-up before any student code ran, the grader itself raised) makes the status
``"error"``: the submission is to be graded again, it never gets a 0 for it. :func:`canary` grades an
assignment's own solution through the same pipeline; a run that does not give it full marks must stop.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
import tempfile
import time
import traceback
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from nnkit.course import feedback, sandbox, wire
from nnkit.course.assemble import (
    NotebookProblem,
    Program,
    assemble,
    find_notebook,
    nbgrader_meta,
    read_notebook,
)
from nnkit.course.spec import Environment


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
    status: str = "graded"          # "graded"; "failed" (unreadable), "missing" (no notebook): the
    #                                 student's; "error": the grading environment's, grade it again
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


# ---------------------------------------------------------------- the assignment (trusted, picklable)

@dataclass
class Assignment:
    """Everything trusted about one assignment, loaded once per grading run in the instructor's process.

    Self-contained: it carries the grader's source, the release template, the solution (for the canary)
    and the sandbox image as data, so a pickled copy grades the same in another process (a Dask
    worker) without reading the course directory. ``parts`` is rebuilt from the grader's source there.
    """

    name: str
    notebook_name: str
    template: dict                  # exercises/<a>/<nb>.ipynb (release version)
    points: dict[str, float]        # autograded grade_id -> points (from solutions/)
    manual: dict[str, float]        # written-answer grade_id -> points
    grade_order: list[str]          # grade ids in notebook order
    grader_source: str              # course/graders/<a>.py
    solution: dict                  # solutions/<a>/<nb>.ipynb
    environment: Environment
    image: sandbox.Image
    parts: list = field(default_factory=list, compare=False)  # nnkit.course.spec.Part, from grader_source

    @classmethod
    def load(cls, course_dir: Path, name: str) -> Assignment:
        course_dir = Path(course_dir)
        root = course_dir.parent
        sources = sorted((root / "solutions" / name).glob("*.ipynb"))
        if len(sources) != 1:
            raise ValueError(f"solutions/{name} must hold exactly one notebook, found {len(sources)}")
        solution = json.loads(sources[0].read_text(encoding="utf-8"))
        release = root / "exercises" / name / sources[0].name
        if not release.exists():
            raise ValueError(f"{release} is missing: run `nnkit-course release {name}` first")
        template = json.loads(release.read_text(encoding="utf-8"))
        points, manual, order = {}, {}, []
        for cell in solution["cells"]:
            meta = nbgrader_meta(cell)
            if not meta.get("grade"):
                continue
            gid = str(meta["grade_id"])
            order.append(gid)
            if cell["cell_type"] == "markdown" or (meta.get("solution") and meta.get("task")):
                manual[gid] = float(meta.get("points", 0))
            else:
                points[gid] = float(meta.get("points", 0))
        grader = course_dir / "graders" / f"{name}.py"
        if not grader.exists():
            raise ValueError(f"no trusted grader {grader}")
        source = grader.read_text(encoding="utf-8")
        module = _grader_module(name, source)
        environment = getattr(module, "ENVIRONMENT", Environment())
        image = sandbox.build_image(environment.modules, environment.data_sets, helpers=environment.helpers)
        parts = list(module.PARTS)
        _check_nothing_graded_is_given(name, parts, image)
        return cls(name, sources[0].name, template, points, manual, order, source, solution, environment,
                   image, parts)

    def __getstate__(self):
        state = dict(self.__dict__)
        state["parts"] = None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.parts = list(_grader_module(self.name, self.grader_source).PARTS)


def _grader_module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(f"_nnkit_graders_{name}")
    module.__file__ = f"course/graders/{name}.py"
    sys.modules[module.__name__] = module
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102 - the trusted grader
    return module


def _check_nothing_graded_is_given(name: str, parts: list, image: sandbox.Image) -> None:
    """A part's ``forbidden`` reference must not be in the sandbox its answers run in."""
    for part in parts:
        for dotted in getattr(part, "forbidden", ()):
            if image.holds(dotted):
                raise ValueError(f"course/graders/{name}.py: part {part.grade_id} grades what {dotted} does, "
                                 "but the grader's ENVIRONMENT puts it in the sandbox: remove its module "
                                 "from ENVIRONMENT (or give only the helpers the answers need)")


def student_seed(run_seed: int, student: str, assignment: str) -> int:
    digest = hashlib.sha256(f"{run_seed}:{assignment}:{student}".encode()).digest()
    return int.from_bytes(digest[:8], "little")


_EXPECTED_VALUE = re.compile(
    r"expected (?:-?(?:\d[\d.]*(?:e[+-]?\d+)?|nan|inf))(?! items| entries| keys| rows| columns| values)",
    re.IGNORECASE)


def redact(reason: str) -> str:
    """Remove expected values from a check's message (shapes and relative errors stay)."""
    return _EXPECTED_VALUE.sub("expected another value", reason)[:600]


class EnvironmentFault(Exception):
    """The grading environment, not the submission, failed: the submission is graded again later."""


# ---------------------------------------------------------------- stage 1: collect

def collect(assignment: Assignment, folder: Path | None, result: SubmissionResult) -> dict | None:
    """The submitted notebook, or None with the result filled in (missing / unreadable)."""
    path, note = find_notebook(folder, assignment.notebook_name, assignment.template)
    note = wire.valid_text(note) if note else note  # a file name need not be valid UTF-8
    if path is None:
        result.status = "missing"
        result.notes.append(note)
        _zero_all(assignment, result, f"not submitted ({note})")
        return None
    result.notebook = wire.valid_text(path.name)
    if note:
        result.notes.append(note)
    try:
        nb = read_notebook(path)
    except NotebookProblem as exc:
        result.status = "failed"
        result.notes.append(str(exc))
        _zero_all(assignment, result, f"the notebook could not be read: {exc}")
        return None
    if nb.get("metadata", {}).get("nnkit_note"):
        result.notes.append(str(nb["metadata"]["nnkit_note"]))
    return nb


# ---------------------------------------------------------------- stage 3: run

@dataclass
class PartRun:
    """What the sandbox runs of one part reported, within the protocol's caps."""

    records: dict[int, dict] = field(default_factory=dict)  # case index -> case event
    failed: str | None = None          # why the part could not be (completely) called
    missing: bool = False              # the function is not defined
    fault: str | None = None           # the environment failed (not the student's doing)


class Runs:
    """Runs the parts of one submission, one fresh sandbox each, sharing what the cells taught."""

    def __init__(self, assignment: Assignment, program: Program, limits: sandbox.Limits, kind: str,
                 result: SubmissionResult):
        self.assignment, self.program, self.limits, self.kind = assignment, program, limits, kind
        self.result = result
        self.skip: set[int] = set()          # cells that hung or ended the program: not run again
        self.cell_errors: dict[int, str] = {}
        self.outputs: list[str] = []
        # The budget is the submission's: its cells are charged once, in the first run that got through
        # them; running them again before every other part is the grader's doing (a fresh sandbox per
        # part), so a later run may take that long again (with slack) and gets it back.
        self.deadline = time.monotonic() + limits.total_seconds
        self.cells_once: float | None = None

    def part_seconds(self, part) -> float:
        t = float(part.timeout)
        return min(t, self.limits.part_cap_seconds) if self.limits.part_cap_seconds is not None else t

    def run_part(self, part, cases: list) -> PartRun:
        seconds = self.part_seconds(part)
        out = PartRun()
        job_dir = Path(tempfile.mkdtemp(prefix="nnkit-job-"))
        try:
            encoded = {"function": part.function, "timeout": seconds,
                       "cases": [{"args": wire.dump_inputs(tuple(c.args), job_dir, f"c{j}a"),
                                  "kwargs": wire.dump_inputs(dict(c.kwargs), job_dir, f"c{j}k")}
                                 for j, c in enumerate(cases)]}
            for _attempt in range(len(self.program.cells) + 2):
                remaining = self.deadline - time.monotonic()
                if remaining <= 1:
                    out.failed = "not graded: the submission used up its total time budget"
                    return out
                job = {"cells": self.program.cells, "skip": sorted(self.skip),
                       "cell_timeout": self.limits.cell_seconds, "part": encoded}
                (job_dir / "job.json").write_text(json.dumps(job))
                job_dir.chmod(0o755)
                for f in job_dir.iterdir():
                    f.chmod(0o644)
                again = 0.0 if self.cells_once is None else 1.5 * self.cells_once + 2.0
                run_limits = sandbox.Limits(**{**self.limits.__dict__, "total_seconds": remaining + again})
                outcome = sandbox.run(self.assignment.image, job_dir, run_limits, self.kind, seconds,
                                      len(self.program.cells), len(cases))
                self.result.runs += 1
                if self.cells_once is None:
                    self.cells_once = outcome.cells_seconds
                elif outcome.cells_seconds is not None:
                    self.deadline += min(outcome.cells_seconds, again)
                if outcome.stdout or outcome.stderr:
                    self.outputs.append((outcome.stdout + outcome.stderr)[: self.limits.output_bytes])
                if self._settle(outcome, out, seconds):
                    return out
            out.failed = "not graded: the program stopped too often"
            return out
        finally:
            shutil.rmtree(job_dir, ignore_errors=True)

    def _settle(self, outcome: sandbox.RunOutcome, out: PartRun, seconds: float) -> bool:
        """Take a run's outcome into ``out``; False when the part must run again (a cell was skipped)."""
        reader = outcome.reader
        if outcome.stopped == "start" or (reader is not None and not reader.ready):
            detail = (reader.fault if reader is not None and reader.fault else
                      outcome.stderr.strip()[-500:] or f"{outcome.stopped or 'no'} event, exit code "
                      f"{outcome.returncode}")
            out.fault = f"the sandbox did not start ({outcome.stopped or 'exit'}): {detail}"
            return True
        for i, err in reader.cells.items():
            if err and i not in self.cell_errors:
                self.cell_errors[i] = err
        if reader.forged:
            out.records.clear()
            out.failed = (f"the program wrote {reader.forged} message(s) of its own to the grader's result "
                          "channel, so none of this part's results can be trusted: no credit for this part")
            return True
        out.records.update({c: r for c, r in reader.records.items() if c not in out.records})
        if reader.part_ended:
            out.missing = reader.missing
            return True
        why = {"timeout": "did not finish within the time limit",
               "exit": "ended the program abruptly",
               "overflow": reader.overflow or "wrote too much data",
               "budget": "used up its total time budget"}.get(outcome.stopped, "stopped")
        stage = outcome.stage or ("startup",)
        if stage[0] == "part":
            if outcome.stopped == "timeout":
                out.failed = (f"did not finish within the time limit of {seconds:g} s "
                              "(timed out; the program was stopped)")
            elif outcome.stopped == "exit":
                out.failed = ("the process ended while this function ran (exit code "
                              f"{outcome.returncode}): sys.exit/os._exit/a crash or the memory limit")
            else:
                out.failed = f"{why} while this function ran"
            return True
        if stage[0] == "cell" and stage[1] not in self.skip:
            self.skip.add(stage[1])
            cell = self.program.cells[stage[1]]
            self.result.notes.append(feedback.cell_note(
                cell, f"{why} ({outcome.stopped}), so it was skipped when grading"))
            return False
        out.failed = f"the program could not run to this function (it {why}; exit code {outcome.returncode})"
        return True


# ---------------------------------------------------------------- stages 4 and 5: decode, score

def decode(record: dict, label: str, timeout: float):
    """(value, None) for a result that came back, else (None, the reason)."""
    if not record.get("ok"):
        if record.get("timeout"):
            return None, f"{label}did not finish within the time limit of {timeout:g} s (timed out)"
        exc, msg = str(record.get("exc", "Exception")), str(record.get("msg", ""))
        if exc == "NotImplementedError":
            return None, "not implemented yet (the function raises NotImplementedError)"
        return None, f"{label}raised {exc}: {msg}" if msg else f"{label}raised {exc}"
    try:
        got = wire.decode_result(record.get("value"))
    except Exception as exc:  # noqa: BLE001 - the sandbox wrote these bytes: unreadable is the answer's
        return None, f"{label}the returned value could not be read ({type(exc).__name__}: {str(exc)[:200]})"
    if isinstance(got, wire.Unsupported):
        return None, (f"{label}returned an object of type {got.type_name}; expected numbers, numpy arrays, "
                      "or tuples/lists/dicts of those")
    return got, None


def score(part, cases: list, run: PartRun, timeout: float) -> str | None:
    """The reason the part loses its points, or None."""
    if run.failed and not run.records:
        return run.failed
    if run.missing:
        return (f"the function {part.function}() is not defined: check its name, and that its "
                "cell runs without errors")
    for c, case in enumerate(cases):
        record = run.records.get(c)
        if record is None:
            return run.failed or "the function stopped before every case was called"
        label = f"{case.label}: " if case.label else ""
        got, why = decode(record, label, timeout)
        if why:
            return why
        changed = record.get("changed")
        if part.keeps_inputs and isinstance(changed, list) and changed:
            return (f"{label}the function changed its argument {str(changed[0])[:40]} in place (the caller's "
                    "data is modified); work on a copy and return new arrays")
        try:
            why = part.check(case, got)
        except Exception as exc:  # noqa: BLE001 - a check that chokes on odd data is a wrong answer
            return f"{label}the result could not be checked ({type(exc).__name__}); check its type and shape"
        if why:
            return redact(f"{label}{why}")
    return run.failed


# ---------------------------------------------------------------- the pipeline

def grade_submission(assignment: Assignment, student: str, folder: Path | None, *, run_seed: int,
                     limits: sandbox.Limits | None = None, kind: str | None = None,
                     notebook: dict | None = None) -> SubmissionResult:
    """Grade one student's submission of ``assignment`` (see the module docstring).

    ``notebook`` grades that notebook instead of looking in ``folder`` (the canary's solution).
    """
    limits = limits if limits is not None else sandbox.Limits()
    kind = kind if kind is not None else sandbox.detect()
    start = time.monotonic()
    result = SubmissionResult(student, assignment.name, sandbox=kind)
    try:
        nb = notebook if notebook is not None else collect(assignment, folder, result)
        if nb is not None:
            _grade_notebook(assignment, student, nb, run_seed, limits, kind, result)
    except EnvironmentFault as exc:
        _error(assignment, result, str(exc))
    except Exception as exc:  # noqa: BLE001 - nothing stops the batch
        result.internal_error = "".join(traceback.format_exception(exc))[-4000:]
        _error(assignment, result, f"the grader failed on this submission ({type(exc).__name__})")
    result.seconds = round(time.monotonic() - start, 3)
    return result


def _grade_notebook(assignment, student, nb, run_seed, limits, kind, result: SubmissionResult) -> None:
    program = assemble(assignment.template, nb)
    result.notes.extend(program.notes)
    result.student_cells = program.student_cells
    result.autograded = program.notebook
    seed = student_seed(run_seed, student, assignment.name)
    runs = Runs(assignment, program, limits, kind, result)
    for i, part in enumerate(assignment.parts):
        cases = list(part.cases(np.random.default_rng([seed, i])))
        run = runs.run_part(part, cases)
        if run.fault:
            raise EnvironmentFault(run.fault)
        max_pts = assignment.points.get(part.grade_id, 0.0)
        reason = score(part, cases, run, runs.part_seconds(part))
        result.parts.append(PartResult(part.grade_id, part.description or part.function,
                                       0.0 if reason else max_pts, max_pts, reason, function=part.function))
    result.output = "\n".join(runs.outputs)[: limits.output_bytes]
    for i, err in sorted(runs.cell_errors.items()):
        if 0 <= i < len(program.cells):
            what = f"raised {feedback.describe_error(err)}"
            result.notes.append(feedback.cell_note(program.cells[i], what))
    _add_manual(assignment, result)


def canary(assignment: Assignment, *, run_seed: int, limits: sandbox.Limits | None = None,
           kind: str | None = None) -> str | None:
    """Grade the assignment's own solution in the same sandbox: None if it gets full marks, else why not."""
    r = grade_submission(assignment, CANARY, None, run_seed=run_seed, limits=limits, kind=kind,
                         notebook=assignment.solution)
    return canary_problem(assignment, r)


CANARY = "canary"  # the pseudo-student whose submission is the assignment's own solution


def canary_problem(assignment: Assignment, r: SubmissionResult) -> str | None:
    """None if ``r``, the grade of the assignment's solution, is full marks, else why it is not.

    Split from :func:`canary` so that a pool (a Dask cluster) can grade the solution where the
    students' submissions are graded: ``grade_submission(..., notebook=assignment.solution)``.
    """
    auto_max = sum(assignment.points.values())
    if r.status == "graded" and r.score == auto_max:
        return None
    lost = [f"{p.grade_id}: {p.reason}" for p in r.parts if p.kind == "auto" and p.reason]
    detail = "; ".join(lost[:3]) or "; ".join(r.notes[:3])
    return (f"the solution of {assignment.name} scored {r.score:g}/{auto_max:g} in the sandbox "
            f"(status {r.status}): {detail}")[:2000]


def _error(assignment: Assignment, result: SubmissionResult, why: str) -> None:
    result.status = "error"
    result.notes.append(f"not graded: {why}; this submission will be graded again (no points were "
                        "taken for it)")
    result.parts = [PartResult(p.grade_id, p.description or p.function, 0.0,
                               assignment.points.get(p.grade_id, 0.0), f"not graded: {why}",
                               function=p.function) for p in assignment.parts]
    _add_manual(assignment, result)


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


