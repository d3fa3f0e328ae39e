"""The program that runs INSIDE the sandbox: execute a submission's cells, call ONE graded function.

Started by :func:`nnkit.course.sandbox.run` as ``_nnkit_sandbox.runner JOB_DIR RESULT_FD`` from the
sandbox image (a copy of this file and of :mod:`nnkit.course.wire`, beside the pruned ``nnkit`` that
holds only the modules the assignment's answers may use). ``JOB_DIR/job.json`` holds the code cells
and one part: the function's name, its time limit and its inputs (see :mod:`nnkit.course.wire`).
Every part of a submission gets a fresh sandbox, so nothing running here ever sees another part's
inputs or holds another part's result pipe.

Order of events: set up (import the sandbox's ``nnkit``, read the job; a failure here is the
environment's, reported as ``fault``), ``ready``, the cells in notebook order (the working folder last
on ``sys.path``, as the notebook's folder is in Jupyter, for a module a cell wrote), then the trusted
template cells once more (statement by statement, with pristine builtins) so that helpers the grader
relies on, such as ex05's ``numerical_gradient_probe``, are the template's whatever the student's
cells redefined, and last the part's calls. Every event is written at once to ``RESULT_FD``, so the
calls already made survive a hang, ``os._exit`` or a kill. This process is trusted by no one: the
grader decides every score.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import json
import os
import signal
import sys
import time

import numpy as np  # noqa: F401 - imported before student code so a shadowing numpy.py cannot win

from . import wire

_write = os.write
_monotonic = time.monotonic
_setitimer = signal.setitimer
_exit = os._exit
_signature = inspect.signature
_fingerprint = wire.fingerprint        # bound before student code runs: patching wire cannot blind them
_changed_inputs = wire.changed_inputs
_exec = exec
_compile = compile
_PRISTINE_BUILTINS = dict(vars(builtins))


# The template's own cells (read-only set-up cells, the given helpers the assembler restored) are run
# again after the student's cells, so the grader relies on the template's definitions.
_RESTORED = ("trusted", "template")


class SoftTimeout(BaseException):
    """Raised in student code when its time is up (a hostile loop may swallow it: the host kills)."""


def _alarm(signum, frame):
    raise SoftTimeout("time limit reached")


class Emitter:
    def __init__(self, fd: int):
        self.fd = fd

    def __call__(self, ev: str, **fields) -> None:
        try:
            data = wire.event_line(ev, **fields)
        except Exception as exc:  # noqa: BLE001 - a value JSON cannot hold
            data = wire.event_line(ev, **{k: v for k, v in fields.items() if k in ("c", "i")},
                                   ok=False, exc="EncodeError", msg=_safe_str(exc))
        view = memoryview(data)
        try:
            while view:
                n = _write(self.fd, view)
                view = view[n:]
        except OSError:
            pass


def _safe_str(exc: BaseException, limit: int = 500) -> str:
    try:
        text = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        text = "<unprintable message>"
    if not isinstance(text, str):
        text = "<unprintable message>"
    return text[:limit]


def _exc_name(exc: BaseException) -> str:
    try:
        name = type(exc).__name__
        return str(name)[:80] if isinstance(name, str) else "Exception"
    except BaseException:  # noqa: BLE001
        return "Exception"


def _timer(seconds: float) -> None:
    try:
        _setitimer(signal.ITIMER_REAL, max(seconds, 0.001) if seconds > 0 else 0.0)
    except Exception:  # noqa: BLE001
        pass


def _parameter_names(fn) -> list[str]:
    try:
        return [str(n)[:40] for n in _signature(fn).parameters]
    except Exception:  # noqa: BLE001 - a builtin or an odd callable: positions are named instead
        return []


def _named_inputs(names: list[str], args, kwargs) -> list[tuple[str, object]]:
    out = [(names[i] if i < len(names) else f"argument {i + 1}", a) for i, a in enumerate(args)]
    return out + [(str(k), v) for k, v in kwargs.items()]


def _statements(source: str, name: str) -> list[tuple]:
    """A trusted cell compiled statement by statement (one withheld import does not stop the rest)."""
    tree = ast.parse(source, name)
    return [(_compile(ast.Module(body=[stmt], type_ignores=[]), name, "exec"), stmt) for stmt in tree.body]


def _run_trusted(source: str, ns: dict, name: str) -> None:
    try:
        codes = _statements(source, name)
    except SyntaxError:
        return
    for code, stmt in codes:
        try:
            _exec(code, ns)  # noqa: S102 - the template's own cell
        except ImportError:
            # ``import nnkit.losses`` of a module the sandbox withholds still binds ``nnkit``, so that
            # ``nnkit.losses`` later says why it is not there instead of "name 'nnkit' is not defined"
            for alias in getattr(stmt, "names", ()) if isinstance(stmt, ast.Import) else ():
                if alias.asname is None and "." in alias.name:
                    try:
                        top = alias.name.split(".")[0]
                        ns[top] = __import__(top)
                    except BaseException:  # noqa: BLE001
                        pass
        except BaseException:  # noqa: BLE001 - the rest of the cell still runs
            continue


def set_up(job_dir: str):
    """Everything before student code: the environment check and the part's inputs."""
    import nnkit  # noqa: F401 - the sandbox's copy; a failure here is the environment's fault

    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as fh:
        job = json.load(fh)
    part = job["part"]
    cases = [(wire.load_inputs(c["args"], job_dir), wire.load_inputs(c["kwargs"], job_dir))
             for c in part["cases"]]
    return job, part, cases


def run_cells(job: dict, ns: dict, emit: Emitter) -> None:
    skip = set(job.get("skip", []))
    cell_timeout = float(job.get("cell_timeout", 10.0))
    for cell in job["cells"]:
        index = cell["index"]
        if index in skip:
            continue
        emit(wire.CELL_START, i=index)
        error = None
        name = f"<cell {index}>"
        _timer(cell_timeout)
        try:
            if cell.get("origin") == "trusted":
                _run_trusted(cell["source"], ns, name)
            else:
                _exec(_compile(cell["source"], name, "exec"), ns)  # noqa: S102 - this is the sandbox
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, SoftTimeout...
            error = f"{_exc_name(exc)}: {_safe_str(exc, 300)}"
        finally:
            _timer(0)
        emit(wire.CELL_END, i=index, error=error)


def trusted_namespace(job: dict, ns: dict) -> dict:
    """The student's names with the template's trusted cells run over them again."""
    final = dict(ns)
    final["__builtins__"] = dict(_PRISTINE_BUILTINS)
    _timer(float(job.get("cell_timeout", 10.0)))
    try:
        for cell in job["cells"]:
            if cell.get("origin") in _RESTORED:
                _run_trusted(cell["source"], final, f"<template cell {cell['index']}>")
    except BaseException:  # noqa: BLE001 - a student hook raising in the template's code
        pass
    finally:
        _timer(0)
    return final


def call_part(part: dict, cases: list, ns: dict, emit: Emitter) -> None:
    emit(wire.PART_START)
    fn = ns.get(part["function"])
    if not callable(fn):
        emit(wire.PART_END, missing=True)
        return
    deadline = _monotonic() + float(part["timeout"])
    names = _parameter_names(fn)
    for c, (args, kwargs) in enumerate(cases):
        start = _monotonic()
        record: dict = {"c": c}
        inputs = _named_inputs(names, args, kwargs)  # to tell the grader which inputs a call changed
        before = [_fingerprint(v) for _n, v in inputs]
        try:
            remaining = deadline - _monotonic()
            if remaining <= 0:
                raise SoftTimeout("time limit reached")
            _timer(remaining)
            try:
                got = fn(*args, **kwargs)
                record["value"] = wire.encode_result(got)
                record["changed"] = _changed_inputs([n for n, _v in inputs], before,
                                                    [v for _n, v in inputs])
            finally:
                _timer(0)
            record["ok"] = True
        except BaseException as exc:  # noqa: BLE001
            record["ok"] = False
            record["exc"] = _exc_name(exc)
            record["msg"] = _safe_str(exc)
            if isinstance(exc, SoftTimeout):
                record["timeout"] = True
        record["sec"] = round(_monotonic() - start, 4)
        emit(wire.CASE, **record)
        if record.get("timeout"):
            break
    emit(wire.PART_END, missing=False)


def main(argv: list[str]) -> None:
    job_dir, fd = argv[0], int(argv[1])
    emit = Emitter(fd)
    try:
        job, part, cases = set_up(job_dir)
    except BaseException as exc:  # noqa: BLE001 - no student code has run: the environment is broken
        emit(wire.FAULT, msg=f"{_exc_name(exc)}: {_safe_str(exc, 400)}")
        _exit(3)
    signal.signal(signal.SIGALRM, _alarm)
    emit(wire.READY)
    # a module a cell wrote imports as it would beside the notebook; last on the path, it shadows nothing
    sys.path.append(os.getcwd())
    ns: dict = {"__name__": "__main__", "__builtins__": builtins, "display": lambda *a, **k: None}
    run_cells(job, ns, emit)
    call_part(part, cases, trusted_namespace(job, ns), emit)
    emit(wire.DONE)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    _exit(0)  # do not wait for non-daemon threads the submission started


if __name__ == "__main__":
    main(sys.argv[1:])
