"""Run one submission's program in a sandbox and watch it from the trusted side.

With bubblewrap (``/usr/bin/bwrap``) the runner gets: new network, PID, IPC and UTS namespaces (no
network at all; every process it forks dies with it), a root file system built from read-only binds
of ``/usr``, ``/etc``, the Python prefix and the ``nnkit`` package only (not the repository: no
``solutions/``, ``course/``, graders, gradebook, other students, no ``/root`` or host ``/tmp``), the
job folder read-only at ``/job``, and size-capped tmpfs ``/tmp`` and ``/home/student`` (its cwd and
HOME). When the grader runs as root the runner drops to a throw-away uid with no capabilities and
``no_new_privs`` (``setpriv``), which also makes RLIMIT_NPROC effective. rlimits cap CPU time,
address space, file size, open files and core dumps. The trusted side enforces wall-clock limits
per cell and per part (killing the whole sandbox), and keeps only the first bytes of stdout/stderr
while draining the rest.

Without bubblewrap the runner is a plain child process with the same rlimits, a scrubbed
environment and ``-I``: it can then read anything the grader's user can read. A loud warning is
printed and the report records ``sandbox: rlimit-only``.
"""

from __future__ import annotations

import itertools
import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import nnkit

BWRAP = "/usr/bin/bwrap"
NNKIT_DIR = Path(nnkit.__file__).resolve().parent
SANDBOX_HOME = "/home/student"


@dataclass
class Limits:
    """Resource limits for one sandboxed run."""

    cpu_seconds: int | None = None     # default: the wall-clock budget (total_seconds) + 10 s
    memory_bytes: int = 3 << 30
    file_bytes: int = 64 << 20
    nproc: int = 64
    tmpfs_bytes: int = 128 << 20
    startup_seconds: float = 30.0      # interpreter + numpy + nnkit import, under load
    cell_seconds: float = 10.0         # one notebook cell
    part_cap_seconds: float | None = None  # cap on Part.timeout (tests use small values)
    gap_seconds: float = 10.0          # between events (no student code should be running)
    total_seconds: float = 120.0       # everything for one submission, retries included
    output_bytes: int = 64 << 10       # stdout/stderr kept for the report
    result_bytes: int = 256 << 20      # everything on the result pipe


@dataclass
class RunOutcome:
    events: list = field(default_factory=list)
    finished: bool = False            # the runner said "done"
    stopped: str = ""                 # "", "timeout", "exit", "overflow", "budget"
    stage: tuple | None = None        # ("cell", i) / ("part", p) / ("startup",) when it stopped
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


_uid_counter = itertools.count()
_probe_cache: dict = {}


def detect(prefer: str = "auto") -> str:
    """The sandbox kind to use: "bwrap" when it works here, else "rlimit-only"."""
    if prefer == "none":
        return "rlimit-only"
    if "kind" not in _probe_cache:
        ok = False
        if os.path.exists(BWRAP):
            try:
                cmd = [BWRAP, "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent"]
                if os.geteuid() != 0:
                    cmd.insert(1, "--unshare-user")
                ok = subprocess.run([*cmd, "true"], capture_output=True, timeout=20).returncode == 0
            except (OSError, subprocess.SubprocessError):
                ok = False
        _probe_cache["kind"] = "bwrap" if ok else "rlimit-only"
    kind = _probe_cache["kind"]
    if prefer == "bwrap" and kind != "bwrap":
        raise RuntimeError("bubblewrap was requested but does not work here")
    return kind


def warn_fallback() -> None:
    msg = ("WARNING: bubblewrap (/usr/bin/bwrap) is not usable here; student code runs as a child "
           "process with rlimits only and can read every file this user can read. Install "
           "bubblewrap (apt-get install bubblewrap) before grading real submissions.")
    warnings.warn(msg, RuntimeWarning, stacklevel=2)
    print(msg, file=sys.stderr)


def _parents(path: Path) -> list[str]:
    return [str(p) for p in reversed(path.parents) if str(p) != "/"]


def _bwrap_command(job_dir: Path, limits: Limits, uid: int | None) -> list[str]:
    cmd = [BWRAP, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
           "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--clearenv"]
    if uid is None:
        cmd += ["--unshare-user"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            cmd += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            cmd += ["--ro-bind", top, top]
    cmd += ["--ro-bind", "/etc", "/etc"]
    # The scratch mounts come before the binds below: a later mount hides what an earlier one put
    # at or under the same path, and the Python prefix or the repository (so nnkit) may well live
    # under /tmp or /home (CI clones into a temporary directory).
    cmd += ["--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
            "--perms", "0755", "--dir", "/home",
            "--perms", "0777", "--size", str(limits.tmpfs_bytes), "--tmpfs", SANDBOX_HOME]
    made: set[str] = {"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/dev", "/proc", "/tmp", "/home",
                      SANDBOX_HOME}
    binds = []
    for p in {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
              Path(sys.executable).resolve().parent.parent}:
        if not str(p).startswith(("/usr/", "/etc/")) and str(p) != "/usr":
            binds.append(p)
    binds.append(NNKIT_DIR)
    for target in sorted(set(binds), key=lambda p: len(p.parts)):
        for parent in _parents(target):
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        cmd += ["--ro-bind", str(target), str(target)]
        made.add(str(target))
    cmd += ["--ro-bind", str(job_dir), "/job", "--chdir", SANDBOX_HOME]
    for key, value in _env().items():
        cmd += ["--setenv", key, value]
    if uid is not None:
        cmd += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return cmd


def _env() -> dict[str, str]:
    return {"HOME": SANDBOX_HOME, "PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1",
            "PYTHONDONTWRITEBYTECODE": "1", "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": "/tmp/mpl", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}


def _preexec(limits: Limits, set_nproc: bool):
    def apply():
        os.setsid()
        cpu = limits.cpu_seconds if limits.cpu_seconds is not None else int(limits.total_seconds) + 10
        for res, value in ((resource.RLIMIT_CPU, cpu),
                           (resource.RLIMIT_AS, limits.memory_bytes),
                           (resource.RLIMIT_FSIZE, limits.file_bytes),
                           (resource.RLIMIT_CORE, 0),
                           (resource.RLIMIT_NOFILE, 256)):
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass
        if set_nproc:
            try:
                resource.setrlimit(resource.RLIMIT_NPROC, (limits.nproc, limits.nproc))
            except (ValueError, OSError):
                pass
    return apply


def _drain(stream, keep: int, sink: list) -> None:
    kept = bytearray()
    try:
        while True:
            chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
            if not chunk:
                break
            if len(kept) < keep:
                kept += chunk[: keep - len(kept)]
    except (OSError, ValueError):
        pass
    sink.append(kept.decode("utf-8", "replace"))


def _read_events(fd: int, limits: Limits, out: queue.Queue) -> None:
    total = 0
    buf = bytearray()
    overflow = False
    try:
        while True:
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            total += len(chunk)
            if overflow:
                continue
            if total > limits.result_bytes:
                out.put(("overflow", None))
                overflow = True
                continue
            buf += chunk
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                line = bytes(buf[:nl])
                del buf[: nl + 1]
                out.put(("line", line))
    except OSError:
        pass
    finally:
        out.put(("eof", None))


def run(job_dir: Path, limits: Limits, kind: str, timeouts: dict[int, float]) -> RunOutcome:
    """Run the runner on ``job_dir`` and collect its events; never raises for student behaviour.

    ``timeouts`` maps part index -> seconds allowed for that part's calls (the runner's own soft
    limit is the same; the hard limit here adds a small slack).
    """
    outcome = RunOutcome()
    start = time.monotonic()
    read_fd, write_fd = os.pipe()
    runner_args = ["-I", "-m", "nnkit.course.runner", None, str(write_fd)]
    workdir = None
    is_root = os.geteuid() == 0
    if kind == "bwrap":
        uid = 100000 + (next(_uid_counter) % 50000) if is_root else None
        runner_args[3] = "/job"
        cmd = [*_bwrap_command(job_dir, limits, uid), sys.executable, *runner_args]
        env = {}
        cwd = "/"
        set_nproc = uid is not None
    else:
        workdir = tempfile.mkdtemp(prefix="nnkit-student-")
        runner_args[3] = str(job_dir)
        cmd = [sys.executable, *runner_args]
        env = {**_env(), "HOME": workdir, "TMPDIR": workdir, "MPLCONFIGDIR": workdir}
        cwd = workdir
        set_nproc = False
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, pass_fds=(write_fd,), cwd=cwd, env=env,
                                preexec_fn=_preexec(limits, set_nproc))
    except OSError as exc:
        os.close(read_fd)
        os.close(write_fd)
        outcome.stopped = "exit"
        outcome.stderr = f"could not start the sandbox: {exc}"
        return outcome
    os.close(write_fd)
    events: queue.Queue = queue.Queue()
    outs: list = []
    errs: list = []
    threads = [threading.Thread(target=_read_events, args=(read_fd, limits, events), daemon=True),
               threading.Thread(target=_drain, args=(proc.stdout, limits.output_bytes, outs), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, limits.output_bytes, errs), daemon=True)]
    for t in threads:
        t.start()

    stage: tuple = ("startup",)
    deadline = start + limits.startup_seconds
    hard_end = start + limits.total_seconds
    try:
        while True:
            now = time.monotonic()
            wait = min(deadline, hard_end) - now
            if wait <= 0:
                if outcome.finished:
                    break
                outcome.stopped = "timeout" if deadline <= hard_end else "budget"
                break
            try:
                kind_, line = events.get(timeout=wait)
            except queue.Empty:
                continue
            if kind_ == "eof":
                if not outcome.finished:
                    outcome.stopped = "exit"
                break
            if kind_ == "overflow":
                outcome.stopped = "overflow"
                break
            try:
                event = json.loads(line, parse_constant=_reject)
            except (ValueError, UnicodeDecodeError):
                continue  # garbage written to the result pipe by the submission
            if not isinstance(event, dict):
                continue
            outcome.events.append(event)
            ev = event.get("ev")
            now = time.monotonic()
            if ev == "cell_start":
                stage = ("cell", event.get("i"))
                deadline = now + limits.cell_seconds + 2.0
            elif ev == "part_start":
                p = event.get("p")
                stage = ("part", p)
                deadline = now + timeouts.get(p, 10.0) + 2.0
            elif ev in ("cell_end", "part_end", "ready"):
                stage = ("between",)
                deadline = now + limits.gap_seconds
            elif ev == "done":
                outcome.finished = True
                stage = ("done",)
                deadline = now + 5.0
    finally:
        outcome.stage = None if outcome.finished else stage
        _kill(proc)
        try:
            outcome.returncode = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            outcome.returncode = None
        for t in threads:
            t.join(timeout=5)
        try:
            os.close(read_fd)
        except OSError:
            pass
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    outcome.stdout = outs[0] if outs else ""
    outcome.stderr = errs[0] if errs else ""
    outcome.seconds = time.monotonic() - start
    return outcome


def _reject(name):
    raise ValueError(name)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
