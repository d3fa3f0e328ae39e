"""A course hub for the tests: ``deploy/demo setup`` in a fresh state folder, JupyterHub started and stopped.

The test environment's Python may live where other accounts cannot run it (a pyenv build under /root):
:func:`course_python` then makes a virtual environment from Debian's ``/usr/bin/python3`` of the same
version that sees the test environment's packages (a ``.pth`` line) and its Jupyter data and config
(``share`` and ``etc`` linked), which every account can run: what the README asks a department to make
with ``python3 -m venv`` + ``pip install -r requirements.txt``, without reinstalling.

Everything here is torn down in ``finally`` blocks by the fixtures: the hub (which stops every user's
server), any process left running as a test account (by pid), the accounts (``deploy/demo down``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "deploy" / "demo"
IN_CI = bool(os.environ.get("CI"))


def deploy_module():
    spec = importlib.util.spec_from_file_location("nnkit_deploy_course", REPO / "deploy" / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def need(condition: bool, message: str) -> None:
    if not condition:
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def require_hub_host() -> None:
    need(os.geteuid() == 0, "the hub tests create Unix accounts: run them as root (CI does)")
    need(shutil.which("configurable-http-proxy") is not None,
         "configurable-http-proxy not found (npm install -g configurable-http-proxy)")
    need(shutil.which("useradd") is not None and shutil.which("runuser") is not None,
         "useradd/runuser missing (apt-get install passwd util-linux)")


def _runs_as_nobody(python: str) -> bool:
    r = subprocess.run(["runuser", "-u", "nobody", "--", python, "-c", "import sys"], capture_output=True,
                       timeout=60)
    return r.returncode == 0


def course_python(base: Path) -> str:
    """A Python every account can run, with the test environment's packages."""
    if _runs_as_nobody(sys.executable):
        return sys.executable
    system = Path("/usr/bin/python3")
    probe = subprocess.run([str(system), "-c", "import sys; print(sys.version_info[:2])"],
                           capture_output=True, text=True, timeout=60) if system.exists() else None
    need(probe is not None and probe.stdout.strip() == str(tuple(sys.version_info[:2])),
         f"{sys.executable} cannot run as another user and /usr/bin/python3 is not Python "
         f"{sys.version_info[0]}.{sys.version_info[1]}")
    venv = base / "venv"
    subprocess.run([str(system), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    purelib = Path(sysconfig.get_paths()["purelib"])
    site = next((venv / "lib").glob("python3*/site-packages"))
    # and the course's copy of nnkit (deploy/demo puts it in STATE/lib), which the hub also puts on
    # PYTHONPATH: the grader's runner starts Python with a clean environment, so it must be on the path
    # the way an installed nnkit is.
    (site / "_nnkit_test_env.pth").write_text(f"{base / 'state' / 'lib'}\n{purelib}\n")
    # its console scripts (alembic, which nbgrader runs to stamp a new gradebook; jupyter; nbgrader)
    python = venv / "bin" / "python"
    for script in (Path(sys.prefix) / "bin").iterdir():
        dest = venv / "bin" / script.name
        if dest.exists() or not script.is_file():
            continue
        try:
            head, _, rest = script.read_text().partition("\n")
        except (UnicodeDecodeError, OSError):
            continue
        if head.startswith("#!") and "python" in head:
            dest.write_text(f"#!{python}\n{rest}")
            dest.chmod(0o755)
    for folder in ("share", "etc"):
        src = Path(sys.prefix) / folder
        if src.exists():
            target = venv / folder
            if target.exists():
                shutil.rmtree(target)
            target.symlink_to(src)
    return str(python)


class Hub:
    """``deploy/demo setup`` then JupyterHub on 127.0.0.1, as ``deploy/demo up`` runs it."""

    def __init__(self, instructor: str, graders: list[str], students: list[str], password: str,
                 course_id: str = "nnkit", assignments: tuple[str, ...] = ("ex01_perceptron",),
                 db: str | None = None):
        self.base = Path(tempfile.mkdtemp(prefix="nnkit-hub-"))
        os.chmod(self.base, 0o755)
        self.state = self.base / "state"
        self.instructor, self.graders, self.students = instructor, graders, students
        self.password, self.course_id, self.assignments, self.db = password, course_id, assignments, db
        self.proc: subprocess.Popen | None = None
        self.settings: dict = {}
        self.log = self.base / "hub.log"
        self.deploy = deploy_module()

    @property
    def users(self) -> list[str]:
        return [self.instructor, *self.graders, *self.students]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.settings['port']}"

    def setup(self) -> None:
        python = course_python(self.base)
        argv = [str(DEMO), "setup", "--state", str(self.state), "--course-id", self.course_id,
                "--instructor", self.instructor, "--password", self.password, "--port", "0",
                "--python", python]
        for g in self.graders:
            argv += ["--grader", g]
        for s in self.students:
            argv += ["--student", s]
        for a in self.assignments:
            argv += ["--assignment", a]
        if self.db:
            argv += ["--db", self.db]
        env = {**os.environ, "VIRTUAL_ENV": sys.prefix}
        r = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env)
        if r.returncode != 0:
            raise RuntimeError(f"deploy/demo setup failed:\n{r.stdout[-3000:]}\n{r.stderr[-5000:]}")
        self.settings = json.loads((self.state / "hub.json").read_text())

    def start(self) -> None:
        env = {**os.environ, "NNKIT_HUB_SETTINGS": str(self.state / "hub.json")}
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "jupyterhub", "-f",
                                          str(REPO / "deploy" / "jupyterhub_config.py")],
                                         cwd=self.state, env=env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterHub exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"JupyterHub did not answer in 120 s:\n{self.log_tail()}")

    def log_tail(self, n: int = 80) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def as_user(self, name: str, cmd: list[str], cwd: str | None = None, check: bool = True, timeout=1800):
        return self.deploy.as_user(self.settings, name, cmd, cwd=cwd, check=check, timeout=timeout)

    def nbgrader(self, name: str, *args: str, check: bool = True, cwd: str | None = None):
        return self.as_user(name, [self.settings["python"], "-m", "nbgrader", *args], check=check, cwd=cwd)

    def stop(self) -> None:
        """Stop the hub (it stops the users' servers), end what still runs as a test account, remove all."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                    self.proc.wait(timeout=30)
            pid_file = self.state / "jupyterhub-proxy.pid"
            if pid_file.exists():
                try:
                    os.kill(int(pid_file.read_text().strip()), signal.SIGTERM)
                except (ValueError, ProcessLookupError):
                    pass
            for name in self.users:
                self._kill_processes_of(name)
        finally:
            subprocess.run([str(DEMO), "down", "--state", str(self.state)], capture_output=True, timeout=300,
                           env={**os.environ, "VIRTUAL_ENV": sys.prefix})
            shutil.rmtree(self.base, ignore_errors=True)

    @staticmethod
    def _kill_processes_of(name: str) -> None:
        try:
            uid = pwd.getpwnam(name).pw_uid
        except KeyError:
            return
        for _ in range(3):
            pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _uid_of(int(p)) == uid]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.5)


def _uid_of(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}").st_uid
    except OSError:
        return None
