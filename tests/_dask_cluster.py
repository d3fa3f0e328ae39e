"""A real Dask cluster on 127.0.0.1 for tests and benchmarks: ``dask scheduler`` and ``dask worker``.

``local_cluster(tmp, workers=2, hide=[paths])`` starts the scheduler and the workers as separate processes
(``--no-nanny``: the process started is the worker itself, so killing it kills the worker) and always
stops them on exit, even when the body fails. With ``hide``, every worker runs in a mount namespace in
which those directories are empty tmpfs (bubblewrap), so a worker cannot read or write the course at all.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

BWRAP = "/usr/bin/bwrap"


@dataclass
class Cluster:
    scheduler_file: Path
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)
    logs: Path | None = None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


def _wait_for(cond, timeout: float, what: str, procs) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return
        dead = [p for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{what}: a cluster process exited with {dead[0].returncode}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} within {timeout:g} s")


def start_worker(cluster: Cluster, name: str, hide=(), nthreads: int = 1, wrap_args=()) -> subprocess.Popen:
    """One ``dask worker`` process; ``hide``/``wrap_args`` run it in a bubblewrap mount namespace."""
    cmd = [sys.executable, "-m", "dask", "worker", "--scheduler-file", str(cluster.scheduler_file),
           "--nthreads", str(nthreads), "--no-nanny", "--no-dashboard", "--name", name,
           "--local-directory", str(cluster.scheduler_file.parent / f"scratch-{name}")]
    if hide or wrap_args:
        wrap = [BWRAP, "--dev-bind", "/", "/", "--die-with-parent"]
        if os.geteuid() != 0:  # as the sandbox does: an unprivileged user namespace
            wrap.insert(1, "--unshare-user")
        for path in hide:
            wrap += ["--tmpfs", str(path)]
        cmd = [*wrap, *wrap_args, "--", *cmd]
    log = open(cluster.scheduler_file.parent / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    cluster.workers.append(proc)
    return proc


def worker_count(scheduler_file: Path) -> int:
    from distributed import Client

    with Client(scheduler_file=str(scheduler_file), set_as_default=False, timeout=30) as c:
        return len(c.scheduler_info(n_workers=-1)["workers"])


@contextmanager
def local_cluster(tmp: Path, workers: int = 2, hide=(), timeout: float = 120.0):
    tmp.mkdir(parents=True, exist_ok=True)
    sfile = tmp / "scheduler.json"
    log = open(tmp / "scheduler.log", "wb")  # noqa: SIM115
    sched = subprocess.Popen([sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", "0",
                              "--no-dashboard", "--scheduler-file", str(sfile)],
                             stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    log.close()
    cluster = Cluster(sfile, "", sched, logs=tmp)
    try:
        _wait_for(lambda: sfile.exists() and sfile.stat().st_size > 0, timeout, "the scheduler did not start",
                  [sched])
        time.sleep(0.2)
        cluster.address = json.loads(sfile.read_text())["address"]
        for i in range(workers):
            start_worker(cluster, f"w{i}", hide)
        from distributed import Client

        with Client(scheduler_file=str(sfile), set_as_default=False, timeout=30) as c:
            c.wait_for_workers(workers, timeout=timeout)
        yield cluster
    finally:
        for proc in [*cluster.workers, sched]:
            _stop(proc)


def descendants(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every live descendant of ``pid``."""
    children: dict[int, list[int]] = {}
    cmds: dict[int, str] = {}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
            cmds[int(proc.name)] = cmd.decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(proc.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        p = todo.pop()
        out.append((p, cmds.get(p, "")))
        todo += children.get(p, [])
    return out
