"""The program that runs INSIDE the sandbox: execute a submission, call its graded functions.

Run as ``python -I -m nnkit.course.runner JOB_DIR RESULT_FD``. ``JOB_DIR/job.json`` (written by the
trusted grader) holds the code cells to execute and, per part, the function name, the forbidden
nnkit references and the inputs (arrays in ``.npy`` files beside it). Nothing in the job says what
the answers should be.

Every event is written at once as one JSON line to ``RESULT_FD`` (a pipe the trusted grader reads
with a size cap), so whatever happens later (a hang, ``os._exit``, a kill) the parts already called
are kept. Results are converted to plain data here (:func:`nnkit.course.wire.encode_result`) before
they leave the process. This process is not trusted by anyone: the grader decides every score.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import numpy as np  # noqa: F401 - imported before student code so a shadowing numpy.py cannot win

from nnkit.course import wire
from nnkit.grading import forbid_reference

_write = os.write
_dumps = json.dumps
_monotonic = time.monotonic
_setitimer = signal.setitimer
_exit = os._exit
_fingerprint = wire.fingerprint        # bound before student code runs: patching wire cannot blind them
_changed_inputs = wire.changed_inputs


class SoftTimeout(BaseException):
    """Raised in student code when its time is up (a hostile loop may swallow it: the host kills)."""


def _alarm(signum, frame):
    raise SoftTimeout("time limit reached")


class Emitter:
    def __init__(self, fd: int):
        self.fd = fd

    def __call__(self, **event) -> None:
        try:
            data = (_dumps(event, allow_nan=False) + "\n").encode()
        except Exception as exc:  # noqa: BLE001
            data = (_dumps({"ev": "encode_error", "msg": _safe_str(exc)}) + "\n").encode()
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
        import inspect

        return [str(n)[:40] for n in inspect.signature(fn).parameters]
    except Exception:  # noqa: BLE001 - a builtin or an odd callable: positions are named instead
        return []


def _named_inputs(names: list[str], args, kwargs) -> list[tuple[str, object]]:
    out = [(names[i] if i < len(names) else f"argument {i + 1}", a) for i, a in enumerate(args)]
    return out + [(str(k), v) for k, v in kwargs.items()]


def main(argv: list[str]) -> None:
    job_dir, fd = argv[0], int(argv[1])
    emit = Emitter(fd)
    with open(os.path.join(job_dir, "job.json"), encoding="utf-8") as fh:
        job = json.load(fh)
    parts = []
    for part in job["parts"]:
        cases = [(wire.load_inputs(c["args"], job_dir), wire.load_inputs(c["kwargs"], job_dir))
                 for c in part["cases"]]
        parts.append((part, cases))
    skip = set(job.get("skip", []))
    cell_timeout = float(job.get("cell_timeout", 10.0))
    signal.signal(signal.SIGALRM, _alarm)
    emit(ev="ready")

    ns: dict = {"__name__": "__main__", "__builtins__": __builtins__,
                "display": lambda *a, **k: None}
    # While the notebook's cells run, every forbidden reference is a tripwire too, so answers cannot
    # be precomputed with nnkit's reference at import time from the inputs in the job folder.
    all_forbidden = tuple(sorted({name for part, _c in parts for name in part["forbidden"]}))
    top_level_used: list = []
    for cell in job["cells"]:
        index = cell["index"]
        if index in skip:
            continue
        emit(ev="cell_start", i=index)
        error = None
        try:
            code = compile(cell["source"], f"<cell {index}>", "exec")
            _timer(cell_timeout)
            try:
                with forbid_reference(all_forbidden, namespaces=(ns,), used=top_level_used):
                    exec(code, ns)  # noqa: S102 - this is the sandbox
            finally:
                _timer(0)
        except BaseException as exc:  # noqa: BLE001 - SystemExit, KeyboardInterrupt, SoftTimeout...
            error = f"{_exc_name(exc)}: {_safe_str(exc, 300)}"
        emit(ev="cell_end", i=index, error=error)

    for part, cases in parts:
        p = part["index"]
        emit(ev="part_start", p=p)
        fn = ns.get(part["function"])
        if not callable(fn):
            emit(ev="part_end", p=p, missing=True)
            continue
        deadline = _monotonic() + float(part["timeout"])
        names = _parameter_names(fn)
        for c, (args, kwargs) in enumerate(cases):
            used: list = []
            start = _monotonic()
            record: dict = {"ev": "case", "p": p, "c": c}
            inputs = _named_inputs(names, args, kwargs)  # to tell the grader which inputs a call changed
            before = [_fingerprint(v) for _n, v in inputs]
            try:
                remaining = deadline - _monotonic()
                if remaining <= 0:
                    raise SoftTimeout("time limit reached")
                _timer(remaining)
                try:
                    with forbid_reference(tuple(part["forbidden"]), namespaces=(ns,), used=used):
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
            record["used"] = [str(u)[:200] for u in list(used)[:5]]
            record["sec"] = round(_monotonic() - start, 4)
            emit(**record)
            if record.get("timeout"):
                break
        emit(ev="part_end", p=p)
    emit(ev="done")
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BaseException:  # noqa: BLE001
        pass
    _exit(0)  # do not wait for non-daemon threads the submission started


if __name__ == "__main__":
    main(sys.argv[1:])
