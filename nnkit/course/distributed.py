"""Grade on a Dask cluster: the same submissions, sandbox and checks, fanned out to remote workers.

:class:`DaskPool` has the shape of the local pool ``nnkit-course grade`` uses (``submit`` returns a
:class:`concurrent.futures.Future`, so ``as_completed`` and the progress bar work unchanged), but each
call runs on a worker of a ``distributed`` scheduler. What travels, and which way:

* instructor -> worker: the trusted :class:`~nnkit.course.engine.Assignment` (template, points and the
  grader's parts, serialised *by value* from the instructor's memory, so a worker never reads graders
  or solutions from a shared, possibly student-writable file system), and the student's submission
  folder as bytes (:class:`ShippedFolder`). The worker unpacks the folder into its own temporary
  directory and calls ``engine.grade_submission`` there, exactly as the local pool would.
* worker -> instructor: the :class:`~nnkit.course.engine.SubmissionResult`. Only the instructor's
  process writes the gradebook, ``autograded/``, ``feedback/`` and the reports.

A worker that dies mid-submission costs nothing: the scheduler reruns the task elsewhere (grading has no
side effect on a worker beyond its temporary directory) and the instructor's future resolves once. A
grading-environment fault (a worker without bubblewrap, a worker with another nnkit or numpy, a task
whose workers keep dying, a lost scheduler) is never a student's zero: the future fails with
:class:`ClusterFault` and the submission is left ungraded, its earlier grade (if any) untouched.

``dask`` and ``distributed`` are imported only when a pool is made, so importing this module is cheap.
"""

from __future__ import annotations

import collections
import concurrent.futures as cf
import hashlib
import importlib.machinery
import os
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy

import nnkit
from nnkit.course.assemble import MAX_NOTEBOOK_BYTES

SHIP_BYTES = 64 << 20            # at most this much of one submission folder travels as content
ENVIRONMENT_RETRIES = 2          # a task refused by a misconfigured worker is retried this often
WAIT_FOR_WORKERS_SECONDS = 600.0  # how long ``grade`` waits for the first worker to join
MIN_IN_FLIGHT = 32               # submissions on the cluster at once, at least (else 2 per worker thread)


class ClusterFault(Exception):
    """The cluster could not grade a submission; the student is not at fault and gets no grade for it."""


# --------------------------------------------------------------------------- what a worker must match

def environment_fingerprint() -> str:
    """A digest of what decides a grade on this machine: nnkit's source, numpy's and Python's versions."""
    if "fp" not in _fingerprint:
        h = hashlib.sha256()
        root = Path(nnkit.__file__).resolve().parent
        for p in sorted(root.rglob("*.py")):
            if "__pycache__" not in p.parts:
                h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes() + b"\0")
        h.update(f"numpy {numpy.__version__}; python {sys.version_info[:2]}".encode())
        _fingerprint["fp"] = h.hexdigest()[:16]
    return _fingerprint["fp"]


_fingerprint: dict[str, str] = {}


class _EnvironmentRefused(Exception):
    """Raised on a worker that cannot grade as the instructor asked (the task is retried elsewhere)."""


def _worker_name() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except ValueError:
        return f"pid {os.getpid()}"


def _check_worker(fingerprint: str, kind: str) -> None:
    from nnkit.course import sandbox

    mine = environment_fingerprint()
    if mine != fingerprint:
        raise _EnvironmentRefused(
            f"worker {_worker_name()} runs another nnkit/numpy/Python (environment {mine}, the instructor's "
            f"is {fingerprint}): install the course's environment there")
    if kind == "bwrap" and sandbox.detect() != "bwrap":
        raise _EnvironmentRefused(f"worker {_worker_name()} has no usable bubblewrap (/usr/bin/bwrap): "
                                  "install it there (apt-get install bubblewrap)")
    problem = _sandbox_problem(kind)
    if problem:
        raise _EnvironmentRefused(f"worker {_worker_name()} cannot run the sandbox ({kind}): {problem}")


_probed: dict[str, str] = {}


def _sandbox_problem(kind: str) -> str:
    """Run an empty job in the sandbox once per process: "" when the runner starts and finishes.

    The job is the engine's format (one part, here with no cases and no cells) in the smallest image
    (:func:`nnkit.course.sandbox.build_image` with nothing declared: the pruned nnkit with only
    ``nnkit.grading``). A worker whose sandbox cannot even start the runner would otherwise make every
    submission it grades an "error".
    """
    if kind not in _probed:
        import json

        from nnkit.course import sandbox

        with tempfile.TemporaryDirectory(prefix="nnkit-probe-") as tmp:
            job = Path(tmp)
            job.chmod(0o755)
            part = {"function": "probe", "timeout": 30.0, "cases": []}
            (job / "job.json").write_text(json.dumps({"cells": [], "skip": [], "cell_timeout": 30.0,
                                                      "part": part}))
            (job / "job.json").chmod(0o644)
            try:
                out = sandbox.run(sandbox.build_image(), job, sandbox.Limits(total_seconds=60.0), kind,
                                  30.0, 0, 0)
                _probed[kind] = "" if out.finished else (
                    f"an empty job did not finish ({out.stopped or 'stopped'}, exit code {out.returncode}): "
                    + ((out.reader.fault if out.reader is not None and out.reader.fault else "")
                       or (out.stderr or out.stdout)[-400:].strip()))
            except Exception as exc:  # noqa: BLE001 - any failure here is the environment's
                _probed[kind] = f"{type(exc).__name__}: {exc}"
    return _probed[kind]


def worker_sandbox() -> str:
    """Run on a worker: the sandbox kind it can provide ("bwrap" or "rlimit-only")."""
    from nnkit.course import sandbox

    return sandbox.detect()


# --------------------------------------------------------------------------- a submission as bytes

@dataclass(frozen=True)
class ShippedFolder:
    """A submission folder's regular files, to be recreated in a worker's private temporary directory.

    Symbolic links are not followed or shipped (the engine ignores them). A file over the notebook size
    limit, or past :data:`SHIP_BYTES` in all, travels as its size only and is recreated as a sparse
    file of that size: the engine reads the size and rejects it with the same message as locally.
    """

    files: tuple[tuple[str, int, bytes | None], ...]   # (relative path, size, content or None)

    @classmethod
    def pack(cls, folder: Path | None) -> ShippedFolder | None:
        if folder is None or not Path(folder).is_dir():
            return None
        folder = Path(folder)
        files, budget = [], SHIP_BYTES
        for p in sorted(folder.rglob("*")):
            if p.is_symlink() or not p.is_file():
                continue
            size = p.stat().st_size
            content = None
            if size <= min(MAX_NOTEBOOK_BYTES, budget):
                content = p.read_bytes()[:size]
                budget -= len(content)
            files.append((p.relative_to(folder).as_posix(), size, content))
        return cls(tuple(files))

    def unpack(self, dest: Path) -> Path:
        dest.mkdir(parents=True, exist_ok=True)
        root = dest.resolve()
        for rel, size, content in self.files:
            target = (dest / rel).resolve()
            if root not in target.parents:  # relative paths come from rglob; refuse anything else
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as fh:
                if content is None:
                    fh.truncate(size)
                else:
                    fh.write(content)
        return dest


# --------------------------------------------------------------------------- the trusted assignment

def _not_importable(module_name: str) -> bool:
    """True for a module loaded from a file path (a grader), which a worker could not import by name."""
    module = sys.modules.get(module_name)
    if module is None or not getattr(module, "__file__", None):
        return False
    top = module_name.partition(".")[0]
    return importlib.machinery.PathFinder.find_spec(top) is None


def _modules_of(obj, seen: set[int], depth: int = 0) -> set[str]:
    """Names of the modules defining the functions reachable from ``obj`` (fields, closures, defaults)."""
    if depth > 6 or id(obj) in seen:
        return set()
    seen.add(id(obj))
    found: set[str] = set()
    if callable(obj) and getattr(obj, "__module__", None):
        found.add(obj.__module__)
    children = []
    if hasattr(obj, "__closure__") and obj.__closure__:
        children += [c.cell_contents for c in obj.__closure__ if c.cell_contents is not None]
    if hasattr(obj, "__dataclass_fields__"):
        children += [getattr(obj, f) for f in obj.__dataclass_fields__]
    if isinstance(obj, (list, tuple)):
        children += list(obj)
    for child in children:
        found |= _modules_of(child, seen, depth + 1)
    return found


def pack_assignment(assignment) -> bytes:
    """The assignment pickled with its grader module's functions by value (workers hold no graders)."""
    import cloudpickle

    modules = {m for m in _modules_of(list(assignment.parts), set()) if _not_importable(m)}
    registered = []
    try:
        for name in sorted(modules):
            cloudpickle.register_pickle_by_value(sys.modules[name])
            registered.append(name)
        return cloudpickle.dumps(assignment)
    finally:
        for name in registered:
            cloudpickle.unregister_pickle_by_value(sys.modules[name])


def _load_assignment(payload: bytes):
    import cloudpickle

    return cloudpickle.loads(payload)


# --------------------------------------------------------------------------- the task run on a worker

def grade_on_worker(fn, assignment, student: str, shipped: ShippedFolder | None, fingerprint: str,
                    kwargs: dict):
    """Unpack the submission into a private temporary folder and call ``fn`` as the local pool would."""
    _check_worker(fingerprint, kwargs.get("kind", ""))
    with tempfile.TemporaryDirectory(prefix="nnkit-shipped-") as tmp:
        folder = None
        if shipped is not None:
            folder = shipped.unpack(Path(tmp) / "submission" / assignment.name)
        return fn(assignment, student, folder, **kwargs)


# --------------------------------------------------------------------------- the pool

class DaskPool:
    """``submit(fn, assignment, student, folder, **kwargs)`` on a Dask cluster; use like an Executor.

    Give the scheduler's address (``tcp://host:8786``) or a scheduler file written by
    ``dask scheduler --scheduler-file``. Security settings (TLS) come from Dask's configuration.
    """

    def __init__(self, address: str | None = None, scheduler_file: str | None = None, *,
                 timeout: float = 30.0, wait_for_workers: float = WAIT_FOR_WORKERS_SECONDS):
        from distributed import Client

        if bool(address) == bool(scheduler_file):
            raise ValueError("give the scheduler's address or its scheduler file (one of them)")
        where = address or f"the scheduler in {scheduler_file}"
        if scheduler_file and not Path(scheduler_file).is_file():
            raise ClusterFault(f"no scheduler file {scheduler_file}")
        try:
            self.client = Client(address, scheduler_file=scheduler_file, timeout=timeout,
                                 set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ClusterFault(f"cannot reach the Dask scheduler at {where}: {exc}") from None
        self.where = where
        self.fingerprint = environment_fingerprint()
        self._assignments: dict[int, object] = {}
        self._queue: collections.deque = collections.deque()
        self._in_flight: dict[object, object] = {}   # token -> distributed future (None while sending)
        self._lock = threading.Lock()
        self._closed = False
        self.peak_in_flight = 0
        self._threads, self._threads_at = 0, 0.0
        try:
            if not self.workers:
                print(f"waiting up to {wait_for_workers:g} s for a worker to join {where} ...",
                      file=sys.stderr)
            self.client.wait_for_workers(1, timeout=wait_for_workers)
        except (TimeoutError, OSError) as exc:
            self.client.close()
            raise ClusterFault(f"no worker joined the scheduler at {where} within {wait_for_workers:g} s "
                               f"({exc})") from None

    # the sandbox the workers can give: all of them must have bubblewrap for "bwrap"
    def sandbox_kind(self, prefer: str = "auto") -> str:
        if prefer == "none":
            return "rlimit-only"
        kinds = self.client.run(worker_sandbox)
        without = sorted(w for w, k in kinds.items() if k != "bwrap")
        if not without:
            return "bwrap"
        if prefer == "bwrap" or len(without) < len(kinds):
            raise ClusterFault(f"{len(without)} of {len(kinds)} workers have no usable bubblewrap "
                               f"({', '.join(without[:5])}): install it there (apt-get install bubblewrap)"
                               + ("" if prefer == "bwrap" else ", or pass --sandbox none"))
        return "rlimit-only"

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info(n_workers=-1)["workers"])

    def _assignment_future(self, assignment):
        # A task (not scattered data): if the worker holding it dies, the scheduler recomputes it.
        key = id(assignment)
        if key not in self._assignments:
            self._assignments[key] = (assignment, self.client.submit(
                _load_assignment, pack_assignment(assignment), pure=False,
                key=f"nnkit-assignment-{assignment.name}-{uuid.uuid4().hex[:8]}"))
        return self._assignments[key][1]

    def submit(self, fn, assignment, student: str, folder: Path | None, /, **kwargs) -> cf.Future:
        """Like ``ThreadPoolExecutor.submit(fn, assignment, student, folder, **kwargs)``.

        The submission is queued here and read from disk only when it is sent, with at most
        :meth:`in_flight_limit` on the cluster at a time: a cohort of 18,000 notebooks is never held
        in the instructor's or the scheduler's memory at once.
        """
        done = cf.Future()
        item = (fn, self._assignment_future(assignment), assignment.name, student, folder, kwargs, done)
        with self._lock:
            self._queue.append(item)
        self._dispatch()
        return done

    def in_flight_limit(self) -> int:
        """Two submissions per worker thread, at least MIN_IN_FLIGHT (threads counted every 5 s)."""
        now = time.monotonic()
        if now - self._threads_at > 5.0:
            try:
                self._threads = sum(self.client.nthreads().values())
            except Exception:  # noqa: BLE001 - keep the last known count; a lost scheduler shows elsewhere
                pass
            self._threads_at = now
        return max(MIN_IN_FLIGHT, 2 * self._threads)

    def _dispatch(self) -> None:
        while True:
            with self._lock:
                if not self._queue or len(self._in_flight) >= self.in_flight_limit():
                    return
                fn, assignment, name, student, folder, kwargs, done = self._queue.popleft()
                if not done.set_running_or_notify_cancel():
                    continue
                token = object()
                self._in_flight[token] = None
                self.peak_in_flight = max(self.peak_in_flight, len(self._in_flight))
            try:
                shipped = ShippedFolder.pack(folder)
                remote = self.client.submit(
                    grade_on_worker, fn, assignment, student, shipped, self.fingerprint, kwargs, pure=False,
                    retries=ENVIRONMENT_RETRIES, key=f"nnkit-grade-{name}-{student}-{uuid.uuid4().hex[:8]}")
            except Exception as exc:  # noqa: BLE001 - unreadable folder, closed client: this one is not graded
                with self._lock:
                    del self._in_flight[token]
                done.set_exception(_fault(student, name, "error", exc, self.where))
                continue
            with self._lock:
                self._in_flight[token] = remote
            remote.add_done_callback(
                lambda f, t=token, d=done, s=student, n=name: self._resolve(f, t, d, s, n))

    def _resolve(self, remote, token, done: cf.Future, student: str, assignment: str) -> None:
        try:
            if remote.status == "finished":
                done.set_result(remote.result())
            else:
                exc = remote.exception() if remote.status == "error" else None
                done.set_exception(_fault(student, assignment, remote.status, exc, self.where))
        except BaseException as exc:  # noqa: BLE001 - whatever happened, the future must resolve
            if not done.done():
                done.set_exception(_fault(student, assignment, "error", exc, self.where))
        finally:
            with self._lock:
                self._in_flight.pop(token, None)
            if not self._closed:
                self._dispatch()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._closed = True
            queued = list(self._queue)
            self._queue.clear()
            remote = [f for f in self._in_flight.values() if f is not None]
        for item in queued:
            item[-1].cancel()
        if cancel_futures and remote:
            self.client.cancel(remote)
        self.client.close()

    def __enter__(self) -> DaskPool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.shutdown(cancel_futures=exc_type is not None)


def _fault(student: str, assignment: str, status: str, exc, where: str) -> ClusterFault:
    if isinstance(exc, _EnvironmentRefused):
        why = str(exc)
    elif exc is not None and type(exc).__name__ == "KilledWorker":
        why = "the workers running it kept dying (a worker crash or its memory limit, not the sandbox)"
    elif exc is not None:
        why = f"{type(exc).__name__}: {exc}"
    else:
        why = f"the task was {status} (the connection to {where} was lost?)"
    return ClusterFault(f"{student}/{assignment} was not graded on the cluster: {why}")
