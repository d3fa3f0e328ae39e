"""JupyterHub for one nnkit course: real Unix accounts, nbgrader's exchange, formgrader for the staff.

Everything machine-specific comes from the course's settings file (``hub.json``, written by
``deploy/demo setup``; the path is in ``NNKIT_HUB_SETTINGS``), so this file is the same on every
machine. Run it as root (the local-process spawner starts each user's server as that Unix user)::

    NNKIT_HUB_SETTINGS=/srv/nnkit/hub.json jupyterhub -f deploy/jupyterhub_config.py

Roles, from the settings: ``instructors`` (hub admins, own the course directory), ``graders``
(formgrader on the same course directory and gradebook) and ``students`` (Assignment List only).
Each role's single-user server reads its nbgrader and server configuration from
``deploy/jupyter/<role>/`` (through ``JUPYTER_CONFIG_PATH``).

Authentication: PAM (the accounts' Unix passwords) unless the settings name another authenticator;
see the README ("A course hub") for OAuth / LDAP / LTI.
"""

import json
import os
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when JupyterHub loads this file

HERE = Path(__file__).resolve().parent
SETTINGS = json.loads(Path(os.environ.get("NNKIT_HUB_SETTINGS", HERE / "hub.json")).read_text())
STATE = Path(SETTINGS["state"])
STAFF = set(SETTINGS["instructors"]) | set(SETTINGS["graders"])

# --- where it listens: the public proxy, the hub's API and the proxy's API, all from the settings
c.JupyterHub.ip = SETTINGS.get("ip", "127.0.0.1")
c.JupyterHub.port = int(SETTINGS.get("port", 8000))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(SETTINGS.get("hub_port", 8081))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(SETTINGS.get('proxy_api_port', 8001))}"
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every user's server

# --- who may log in
c.JupyterHub.authenticator_class = SETTINGS.get("authenticator", "pam")
c.Authenticator.allowed_users = STAFF | set(SETTINGS["students"])
c.Authenticator.admin_users = set(SETTINGS["instructors"])

# --- each user's server: JupyterLab from the course's Python, as that Unix user, in their home
BIN = Path(SETTINGS["python_bin"])
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [SETTINGS["python"], "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180


def role_of(name: str) -> str:
    return "staff" if name in STAFF else "student"


def pre_spawn_hook(spawner):
    """The role's configuration and the course's settings, in the server's environment."""
    name = spawner.user.name
    role = role_of(name)
    env = {
        "JUPYTER_CONFIG_PATH": str(HERE / "jupyter" / role),
        "NNKIT_COURSE_ID": SETTINGS["course_id"],
        "NNKIT_EXCHANGE": SETTINGS["exchange"],
        "PATH": f"{BIN}:/usr/local/bin:/usr/bin:/bin",
        "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
    }
    if SETTINGS.get("pythonpath"):
        env["PYTHONPATH"] = SETTINGS["pythonpath"]  # the course's copy of nnkit, readable by everyone
    if role == "staff":
        env["NNKIT_COURSE_ROOT"] = SETTINGS["course_root"]
        # formgrader needs the course inside the server's root: the staff work in the course's folder
        # (solutions/, exercises/, course/), the students in their home
        spawner.notebook_dir = str(Path(SETTINGS["course_root"]).parent)
    spawner.environment.update(env)


c.Spawner.pre_spawn_hook = pre_spawn_hook
