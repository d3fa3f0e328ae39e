"""Set up (and tear down) one nnkit course on a JupyterHub: accounts, course directory, exchange, release.

Run through ``deploy/demo`` (which makes the virtual environment when none is active), as root::

    deploy/demo up --port 8000                      # demo hub on http://127.0.0.1:8000
    deploy/demo setup --db postgresql+psycopg://nnkit:PW@db.example.org/nnkit --state /srv/nnkit
    deploy/demo down --state /srv/nnkit

``setup`` creates (only what does not exist yet; ``down`` removes only what it created):

* Unix accounts: one instructor, graders, students (``useradd -m``), with passwords (given, or random
  and written to ``STATE/passwords.txt``, mode 600); a group ``<course>-staff`` for instructor and graders;
* ``STATE/lib/nnkit``: the course's copy of nnkit that every user's kernel imports (readable by all);
* ``STATE/course/``: ``solutions/``, ``exercises/`` and ``course/`` (nbgrader_config.py, trusted
  graders), owned by the instructor, group staff, mode 2770: no student can read it. Its
  ``nbgrader_config.py`` gets the course id, the exchange, the gradebook URL and the late policy;
* ``STATE/exchange``: nbgrader's exchange, mode 777 as nbgrader's documentation says (``release_assignment``
  then makes ``<course>/outbound`` 755, ``inbound`` 733 with setgid and ``feedback`` 711: students cannot
  list each other's submissions or feedback);
* as the instructor: ``nnkit-course release`` (records the assignments and their points in the
  gradebook), the due date (``nbgrader db assignment add --duedate``) and ``nbgrader release_assignment``;
* ``STATE/hub.json``: what ``deploy/jupyterhub_config.py`` reads (ports, roles, paths; no secrets).
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ACCOUNTS = "accounts.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=kw.pop("timeout", 1800), **kw)
    if proc.returncode != 0:
        raise SystemExit(f"deploy: {' '.join(cmd[:6])} ... failed ({proc.returncode}):\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return proc


def user_env(settings: dict, name: str, role: str) -> dict[str, str]:
    """The environment a user's server gets from the hub (see jupyterhub_config.pre_spawn_hook)."""
    env = {"HOME": pwd.getpwnam(name).pw_dir, "USER": name, "LOGNAME": name, "LANG": "C.UTF-8",
           "PATH": f"{settings['python_bin']}:/usr/local/bin:/usr/bin:/bin",
           "JUPYTER_CONFIG_PATH": str(HERE / "jupyter" / role), "NNKIT_COURSE_ID": settings["course_id"],
           "NNKIT_EXCHANGE": settings["exchange"], "PYTHONPATH": settings["pythonpath"],
           "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    if role == "staff":
        env["NNKIT_COURSE_ROOT"] = settings["course_root"]
    return env


def as_user(settings: dict, name: str, cmd: list[str], cwd: str | None = None, check: bool = True,
            timeout: float = 1800) -> subprocess.CompletedProcess:
    """Run ``cmd`` as the Unix user ``name`` with the environment the hub gives that user's server."""
    role = "staff" if name in settings["instructors"] + settings["graders"] else "student"
    env = [f"{k}={v}" for k, v in user_env(settings, name, role).items()]
    argv = ["runuser", "-u", name, "--", "env", "-i", *env, *cmd]
    cwd = cwd or pwd.getpwnam(name).pw_dir
    if check:
        return run(argv, cwd=cwd, timeout=timeout)
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def check_python(settings: dict, name: str) -> None:
    """Every user's server runs the course's Python: it must run as a user, not only as root."""
    probe = as_user(settings, name, [settings["python"], "-c", "import jupyterhub, nbgrader, nnkit"],
                    check=False, timeout=120)
    if probe.returncode != 0:
        raise SystemExit(
            f"deploy: {settings['python']} does not run as the user {name}:\n{probe.stderr.strip()[-800:]}\n"
            "The course's Python and its packages must be readable by every account (a virtual "
            "environment made from a python3 under /root is not). Make one from Debian's python3 "
            "(README, 'A course hub') and pass --python /path/to/venv/bin/python.")


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def _group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def _chown_tree(root: Path, user: str, group: str, dir_mode: int, file_mode: int) -> None:
    uid, gid = pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid
    for dirpath, _dirs, files in os.walk(root):
        os.chown(dirpath, uid, gid)
        os.chmod(dirpath, dir_mode)
        for f in files:
            p = os.path.join(dirpath, f)
            os.chown(p, uid, gid)
            os.chmod(p, file_mode)


def _course_config(args, exchange: Path, course: Path) -> str:
    url = args.db or f"sqlite:///{course / 'course' / 'gradebook.db'}"
    return (
        "\n# --- set by deploy/demo setup\n"
        f"c.CourseDirectory.course_id = {args.course_id!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n"
        f"c.CourseDirectory.db_url = {url!r}\n"
        'c.AssignLatePenalties.plugin_class = "nnkit.course.exchange.PercentPerDay"\n'
        f"c.PercentPerDay.percent_per_day = {args.late_percent_per_day!r}\n"
        f"c.PercentPerDay.cap = {args.late_cap!r}\n")


def setup(args) -> dict:
    if os.geteuid() != 0:
        raise SystemExit("deploy: run setup as root (it creates Unix accounts)")
    state = Path(args.state).resolve()
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)
    python = args.python or sys.executable
    instructors, graders, students = [args.instructor], args.grader or [], args.student or []
    staff_group = f"{args.course_id}-staff"
    made = json.loads((state / ACCOUNTS).read_text()) if (state / ACCOUNTS).exists() else \
        {"users": [], "groups": []}
    if not _group_exists(staff_group):
        run(["groupadd", staff_group])
        made["groups"].append(staff_group)
    passwords = {}
    for name in instructors + graders + students:
        if not _exists(name):
            extra = ["-G", staff_group] if name in instructors + graders else []
            run(["useradd", "-m", "-s", "/bin/bash", *extra, name])
            made["users"].append(name)
        elif name in instructors + graders:
            run(["usermod", "-aG", staff_group, name])
        # a student's home holds the secret of each submission (nbgrader's cache): nobody else reads it
        os.chmod(pwd.getpwnam(name).pw_dir, 0o700)
        passwords[name] = args.password or secrets.token_urlsafe(9)
        run(["chpasswd"], input=f"{name}:{passwords[name]}\n")
    (state / ACCOUNTS).write_text(json.dumps(made))
    pw_file = state / "passwords.txt"
    pw_file.write_text("".join(f"{n} {p}\n" for n, p in passwords.items()))
    os.chmod(pw_file, 0o600)

    lib = state / "lib"
    shutil.rmtree(lib, ignore_errors=True)
    shutil.copytree(REPO / "nnkit", lib / "nnkit", ignore=shutil.ignore_patterns("__pycache__"))
    for dirpath, _dirs, files in os.walk(lib):
        os.chmod(dirpath, 0o755)
        for f in files:
            os.chmod(os.path.join(dirpath, f), 0o644)

    course = state / "course"
    if not (course / "course" / "nbgrader_config.py").exists():
        course.mkdir()
        for folder in ("solutions", "exercises"):
            shutil.copytree(REPO / folder, course / folder)
        (course / "course").mkdir()
        shutil.copytree(REPO / "course" / "graders", course / "course" / "graders",
                        ignore=shutil.ignore_patterns("__pycache__"))
        exchange = state / "exchange"
        text = (REPO / "course" / "nbgrader_config.py").read_text() + _course_config(args, exchange, course)
        (course / "course" / "nbgrader_config.py").write_text(text)
    os.chmod(course, 0o2770)
    _chown_tree(course, args.instructor, staff_group, 0o2770, 0o660)
    exchange = state / "exchange"
    exchange.mkdir(exist_ok=True)
    os.chmod(exchange, 0o777)

    settings = {
        "state": str(state), "course_id": args.course_id, "course_root": str(course / "course"),
        "exchange": str(exchange), "instructors": instructors, "graders": graders, "students": students,
        "staff_group": staff_group, "python": python, "python_bin": str(Path(python).parent),
        "pythonpath": str(lib), "ip": args.ip, "port": args.port or free_port(), "hub_port": free_port(),
        "proxy_api_port": free_port(), "authenticator": args.authenticator,
    }
    (state / "hub.json").write_text(json.dumps(settings, indent=1))
    os.chmod(state / "hub.json", 0o644)

    names = args.assignment or sorted(d.name for d in (course / "solutions").iterdir() if d.is_dir())
    root = settings["course_root"]
    check_python(settings, students[0] if students else args.instructor)
    release = [python, "-m", "nnkit.course.cli", "--course", root, "release", *names]
    as_user(settings, args.instructor, release, cwd=root)
    for name in names:
        if args.due:
            as_user(settings, args.instructor, [python, "-m", "nbgrader", "db", "assignment", "add", name,
                                                f"--duedate={args.due}"], cwd=root)
        as_user(settings, args.instructor, [python, "-m", "nbgrader", "release_assignment", name, "--force"],
                cwd=root)
    return settings


def down(args) -> None:
    state = Path(args.state).resolve()
    made = json.loads((state / ACCOUNTS).read_text()) if (state / ACCOUNTS).exists() else \
        {"users": [], "groups": []}
    for name in made["users"]:
        subprocess.run(["userdel", "-r", name], capture_output=True, timeout=60)
    for group in made["groups"]:
        subprocess.run(["groupdel", group], capture_output=True, timeout=60)
    shutil.rmtree(state, ignore_errors=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="deploy/demo", description=__doc__.split("\n\n")[0])
    p.add_argument("command", choices=("up", "setup", "down"))
    p.add_argument("--state", default=os.environ.get("NNKIT_HUB_STATE", "/srv/nnkit-demo"),
                   help="where the course, the exchange, the hub's database and hub.json live")
    p.add_argument("--course-id", default="nnkit")
    p.add_argument("--instructor", default="nnkit-instructor")
    p.add_argument("--grader", action="append", help="a grader's account (repeat; default nnkit-ta)")
    p.add_argument("--student", action="append",
                   help="a student's account (repeat; default nnkit-student1, nnkit-student2)")
    p.add_argument("--password", help="one password for every demo account (default: random, each)")
    p.add_argument("--ip", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="the hub's public port (0: a free one)")
    p.add_argument("--db", metavar="URL", help="the gradebook, e.g. postgresql+psycopg://USER:PW@HOST/DB "
                                               "(default: SQLite in the course directory)")
    p.add_argument("--assignment", action="append", help="release only these (repeat; default all)")
    p.add_argument("--due", metavar="'YYYY-MM-DD HH:MM:SS UTC'", help="due date of the released assignments")
    p.add_argument("--late-percent-per-day", type=float, default=10.0)
    p.add_argument("--late-cap", type=float, default=100.0)
    p.add_argument("--python", help="the Python every user's server and kernel runs (a virtual "
                                    "environment readable by all; default: the one running this)")
    p.add_argument("--authenticator", default="pam",
                   help="JupyterHub authenticator class (default pam: the accounts' Unix passwords)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "down":
        down(args)
        print(f"removed the demo accounts and {args.state}")
        return 0
    args.grader = args.grader or ["nnkit-ta"]
    args.student = args.student or ["nnkit-student1", "nnkit-student2"]
    settings = setup(args)
    print(f"course {settings['course_id']}: {settings['course_root']}; exchange {settings['exchange']}; "
          f"settings {settings['state']}/hub.json; passwords in {settings['state']}/passwords.txt")
    if args.command == "setup":
        return 0
    print(f"JupyterHub on http://{settings['ip']}:{settings['port']}/ (Ctrl-C stops it and every server)")
    env = {**os.environ, "NNKIT_HUB_SETTINGS": f"{settings['state']}/hub.json",
           "PATH": f"{settings['python_bin']}:{os.environ.get('PATH', '/usr/bin:/bin')}"}
    os.chdir(settings["state"])
    os.execvpe(sys.executable, [sys.executable, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")],
               env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
