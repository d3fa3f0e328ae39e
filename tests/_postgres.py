"""A real PostgreSQL server for the tests: Debian's binaries, a throw-away cluster on a free port.

``initdb`` refuses to run as root, so as root the cluster belongs to the ``postgres`` account Debian's
package creates (as anyone else, to that user). The server listens on 127.0.0.1 only, with its socket
in the cluster's folder; :meth:`PostgresServer.stop` (called from a ``finally``) stops it fast and
removes the folder. Without PostgreSQL the tests skip locally with the install hint and fail under CI.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

IN_CI = bool(os.environ.get("CI"))
HINT = "PostgreSQL server binaries not found (apt-get install postgresql)"


def pg_bindir() -> Path | None:
    given = os.environ.get("NNKIT_PG_BINDIR")
    candidates = [given] if given else sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for cand in candidates:
        if cand and (Path(cand) / "initdb").exists():
            return Path(cand)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def require_postgres() -> Path:
    bindir = pg_bindir()
    if bindir is None:
        if IN_CI:
            pytest.fail(HINT)
        pytest.skip(HINT)
    return bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.owner = "postgres" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self.dir = Path(tempfile.mkdtemp(prefix="nnkit-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        self.proc_log = self.dir / "server.log"
        self.started = False

    def _as_owner(self, *cmd: str, timeout: float = 120) -> subprocess.CompletedProcess:
        argv = [str(self.bindir / cmd[0]), *cmd[1:]]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", self.owner, "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.dir)

    def start(self) -> PostgresServer:
        if os.geteuid() == 0:
            pw = pwd.getpwnam(self.owner)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        os.chmod(self.dir, 0o700)
        r = self._as_owner("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                           "--no-instructions")
        if r.returncode != 0:
            raise RuntimeError(f"initdb failed: {r.stderr[-2000:]}")
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        r = self._as_owner("pg_ctl", "start", "-D", str(self.data), "-w", "-t", "60", "-l",
                           str(self.proc_log), "-o", opts)
        self.started = True
        if r.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {r.stderr[-2000:]}\n{self.log_tail()}")
        return self

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.proc_log.read_text().splitlines()[-n:])
        except OSError:
            return ""

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres", dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            if self.started:
                self._as_owner("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w", "-t", "30",
                               timeout=60)
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on (bound and released)."""
    port = free_port()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) != 0:
                return port
        port = free_port()
    raise RuntimeError("no closed port found")
