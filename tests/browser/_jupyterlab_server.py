"""A throw-away JupyterLab server for the browser tests.

Owns starting JupyterLab from the repository's own Python (``sys.executable``) on 127.0.0.1 with a random
free port and token, in an isolated set of Jupyter user directories (config, data, runtime, settings,
workspaces) so nothing from the developer's own JupyterLab set-up leaks in, while the lab extensions
installed in ``sys.prefix`` (ipywidgets, ipympl, nbgrader) still load. The server works on a temporary
copy of the course folders, so a test run never modifies the repository. ``stop()`` always leaves no
process behind: server and kernels are shut down through the REST API, then terminated, then killed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

#: Lab settings written into the isolated user-settings directory.
#: ``windowingMode: none`` keeps every cell in the DOM (the default virtualises off-screen cells);
#: the notification settings silence the "news" / "check for updates" toasts.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
        "doNotDisturbMode": True,
    },
}
#: Front-end plugins switched off: the first-run "receive Jupyter news?" question.
DISABLED_PLUGINS = {"@jupyterlab/apputils-extension:announcements": True}


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class JupyterLabServer:
    """Start/stop a JupyterLab server serving a temporary copy of ``folders`` from ``source``.

    Parameters
    ----------
    source : Path
        Directory holding the course folders (the repository root).
    folders : sequence of str
        Sub-folders copied into the server's root directory (e.g. ``lectures``, ``exercises``).
    workdir : Path
        Empty temporary directory; receives ``root/`` and the isolated Jupyter directories.
    """

    def __init__(self, source: Path, folders, workdir: Path, startup_timeout: float = 120.0):
        self.source = Path(source)
        self.folders = list(folders)
        self.workdir = Path(workdir)
        self.root = self.workdir / "root"
        self.startup_timeout = startup_timeout
        self.port = free_port()
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.log_path = self.workdir / "jupyterlab.log"
        self._log = None

    # ------------------------------------------------------------------ set-up
    def _prepare(self) -> dict:
        self.root.mkdir(parents=True)
        ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        for name in self.folders:
            src = self.source / name
            if src.is_dir():
                shutil.copytree(src, self.root / name, ignore=ignore)
        dirs = {
            name: self.workdir / "jupyter" / name
            for name in ("config", "data", "runtime", "settings", "workspaces", "ipython", "mpl")
        }
        for d in dirs.values():
            d.mkdir(parents=True)
        (dirs["config"] / "labconfig").mkdir()
        (dirs["config"] / "labconfig" / "page_config.json").write_text(
            json.dumps({"disabledExtensions": DISABLED_PLUGINS})
        )
        for rel, settings in LAB_SETTINGS.items():
            path = dirs["settings"] / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(settings))
        env = dict(os.environ)
        for var in ("MPLBACKEND", "JUPYTER_PATH", "JUPYTER_PREFER_ENV_PATH", "JUPYTER_TOKEN"):
            env.pop(var, None)
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]),
            JUPYTER_DATA_DIR=str(dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
            JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
            JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
            IPYTHONDIR=str(dirs["ipython"]),
            MPLCONFIGDIR=str(dirs["mpl"]),
            JUPYTER_PLATFORM_DIRS="1",
            PYTHONUNBUFFERED="1",
        )
        self.runtime_dir = dirs["runtime"]
        return env

    def start(self) -> JupyterLabServer:
        env = self._prepare()
        cmd = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
            "--ServerApp.open_browser=False",
            "--ServerApp.allow_root=True",
            # A safety net if pytest itself is killed before the finaliser runs.
            "--ServerApp.shutdown_no_activity_timeout=900",
            "--MappingKernelManager.cull_idle_timeout=900",
        ]  # fmt: skip
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            cmd, cwd=self.root, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                raise RuntimeError(f"JupyterLab exited (code {code}) before it was ready:\n{self.log_tail()}")
            try:
                status = self.api("GET", "/api/status", timeout=2)
                if "started" in status:
                    return
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.25)
        raise TimeoutError(f"JupyterLab not ready after {self.startup_timeout:.0f} s:\n{self.log_tail()}")

    # ------------------------------------------------------------------ REST
    def api(self, method: str, path: str, body=None, timeout: float = 10):
        """Call the Jupyter REST API with the token; return the decoded JSON (or None)."""
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path,
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            raw = resp.read()
        return json.loads(raw) if raw else None

    def lab_url(self, path: str = "", workspace: str | None = None) -> str:
        """URL opening ``path`` (relative to the root) in JupyterLab, in a fresh workspace if given."""
        prefix = f"/lab/workspaces/{workspace}" if workspace else "/lab"
        tree = f"/tree/{path}" if path else ""
        return f"{self.url}{prefix}{tree}?token={self.token}"

    def shutdown_kernels(self, paths=None, keep=()) -> None:
        """Shut down the sessions (and kernels) of ``paths`` (default: all), except those in ``keep``.

        Keeps the busy 2-core CI box free between tests. With no ``paths`` orphan kernels go too.
        """
        try:
            kept_kernels = set()
            for session in self.api("GET", "/api/sessions"):
                path = session.get("path")
                if path in keep or (paths is not None and path not in paths):
                    kept_kernels.add((session.get("kernel") or {}).get("id"))
                    continue
                self.api("DELETE", f"/api/sessions/{session['id']}")
            if paths is None:
                for kernel in self.api("GET", "/api/kernels"):
                    if kernel["id"] not in kept_kernels:
                        self.api("DELETE", f"/api/kernels/{kernel['id']}")
        except (OSError, urllib.error.URLError, ValueError):
            pass

    # ------------------------------------------------------------------ teardown
    def _kernel_pids(self) -> list[int]:
        """PIDs of kernels of this server: their command line names a connection file in our runtime dir."""
        pids = []
        marker = str(self.runtime_dir).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue
        return pids

    def stop(self) -> None:
        """Shut everything down; safe to call more than once, and after a failed start."""
        if self.proc is not None and self.proc.poll() is None:
            self.shutdown_kernels()
            kernels = self._kernel_pids() if Path("/proc").is_dir() else []
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
            survivors = set(self._kernel_pids()) & set(kernels)
            for pid in survivors:  # kernels run in their own sessions: end any survivor by its id
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        if self._log is not None:
            self._log.close()
            self._log = None

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return "(no server log)"
