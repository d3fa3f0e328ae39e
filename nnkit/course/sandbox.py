"""Run one part of one submission in a sandbox and watch it from the trusted side.

Every part of every submission gets a fresh sandbox (:func:`run`): it runs the submission's cells and
then calls that one part's function, with that part's inputs only, writing to a pipe only that part's
results are read from. The sandbox holds an :class:`Image` instead of nnkit: a copy of only the nnkit
modules the assignment's answers may use (declared in its grader, see
:class:`nnkit.course.spec.Environment`), bound first on ``sys.path`` and over every place a full nnkit
would be found, plus the runner (:mod:`nnkit.course.runner`) and the protocol
(:mod:`nnkit.course.wire`). What an assignment grades is not there to import, reload, reach through
``gc`` or read. Bundled data sets (scikit-learn's, ``/usr/share/datasets``) are hidden too, unless
declared: the grader passes the data it evaluates on as inputs.

With bubblewrap (``/usr/bin/bwrap``) the runner gets: new network, PID, IPC and UTS namespaces (no
network at all; every process it forks dies with it), a root file system built from read-only binds
of ``/usr``, ``/etc``, the Python prefix and the image only (not the repository: no ``solutions/``,
``course/``, graders, gradebook, other students, no ``/root`` or host ``/tmp``), the job folder
read-only at ``/job``, and size-capped tmpfs ``/tmp`` and ``/home/student`` (its cwd and HOME). When
the grader runs as root the runner drops to a throw-away uid with no capabilities and
``no_new_privs`` (``setpriv``), which also makes RLIMIT_NPROC effective. rlimits cap CPU time,
address space, file size, open files and core dumps. The trusted side enforces wall-clock limits per
cell and per part (killing the whole sandbox), reads the result pipe as it arrives within the caps of
:class:`nnkit.course.wire.Caps`, and keeps only the first bytes of stdout/stderr while draining the
rest, so its memory stays bounded whatever a submission writes.

Without bubblewrap the runner is a plain child process with the same rlimits, a scrubbed
environment, ``-I`` and the image first on ``sys.path``: it can then read anything the grader's user
can read (nnkit's source and the data sets included). A loud warning is printed and the report
records ``sandbox: rlimit-only``.
"""

from __future__ import annotations

import ast
import atexit
import hashlib
import importlib.util
import itertools
import json
import os
import resource
import select
import shutil
import signal
import site
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import nnkit
from nnkit.course import wire

BWRAP = "/usr/bin/bwrap"
NNKIT_DIR = Path(nnkit.__file__).resolve().parent   # the nnkit the trusted side imported
NNKIT_SOURCE = NNKIT_DIR                             # where the image's modules are copied from
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
    total_seconds: float = 120.0       # everything for one submission, all parts and retries
    output_bytes: int = 64 << 10       # stdout/stderr kept for the report
    event_bytes: int = 16 << 20        # one message on the result pipe
    part_bytes: int = 48 << 20         # all the results of one part
    result_bytes: int = 64 << 20       # everything on the result pipe of one run
    events_per_item: int = 4           # messages allowed per cell and per call (plus a few spare)

    def caps(self) -> wire.Caps:
        return wire.Caps(event_bytes=self.event_bytes, part_bytes=self.part_bytes,
                         total_bytes=self.result_bytes, events_per_item=self.events_per_item)


@dataclass
class RunOutcome:
    reader: wire.EventReader | None = None  # what the run reported, within the caps
    finished: bool = False            # the runner said "done"
    stopped: str = ""                 # "", "timeout", "exit", "overflow", "budget", "fault", "start"
    stage: tuple | None = None        # ("cell", i) / ("part",) / ("startup",) ... when it stopped
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    cells_seconds: float | None = None  # from "ready" to the part's start: the cells' run (None: not
                                        # got through them)


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


# ---------------------------------------------------------------- the image: what nnkit the sandbox holds

SANDBOX_IMAGE = "/opt/nnkit-sandbox"   # where the image is bound inside the sandbox (first on sys.path)
RUNNER_PACKAGE = "_nnkit_sandbox"      # the runner and the protocol module, copied beside the pruned nnkit
ALWAYS_AVAILABLE = ("nnkit.grading",)  # the checks the exercises' set-up cells import
# Data sets installed with the Python packages or the system, by name: the sandbox holds none of them
# unless the assignment's Environment lists it (the grader passes the data it evaluates on as inputs).
DATA_SETS = {
    "sklearn": ("sklearn", ("datasets/data", "datasets/images", "datasets/descr")),
    "debian": (None, ("/usr/share/datasets",)),
}


def _module_file(source: Path, name: str) -> Path | None:
    rel = Path(*name.split(".")[1:])
    for cand in (source / rel / "__init__.py", (source / rel).with_suffix(".py")):
        if cand.is_file():
            return cand
    return None


def _imported_modules(source: Path, name: str, path: Path) -> set[str]:
    """The nnkit modules ``name`` imports anywhere in its file (at the top or inside a function)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "nnkit")
        elif isinstance(node, ast.ImportFrom):
            module = _resolve_from(name, is_package, node)
            if module.split(".")[0] != "nnkit":
                continue
            found.add(module)
            for alias in node.names:  # ``from nnkit import functional``: a module, not a name
                if _module_file(source, f"{module}.{alias.name}"):
                    found.add(f"{module}.{alias.name}")
    return found


def _resolve_from(name: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _bound_names(stmt) -> set[str]:
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {stmt.name}
    if isinstance(stmt, (ast.Import, ast.ImportFrom)):
        return {(a.asname or a.name).split(".")[0] for a in stmt.names}
    return {n.id for n in ast.walk(stmt) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


def slice_module(source: Path, name: str, wanted: set[str]):
    """Only ``wanted`` of module ``name`` and what they use: (source text, nnkit modules needed whole,
    {nnkit module: names needed from it})."""
    path = _module_file(source, name)
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    is_package = path.name == "__init__.py"
    binds: dict[str, list[int]] = {}
    for i, stmt in enumerate(tree.body):
        for bound in _bound_names(stmt):
            binds.setdefault(bound, []).append(i)
    missing = sorted(w for w in wanted if w not in binds)
    if missing:
        raise ValueError(f"{name} has no {', '.join(missing)}")
    keep: set[int] = set()
    needed: set[str] = set()
    todo = list(wanted)
    while todo:
        bound = todo.pop()
        if bound in needed:
            continue
        needed.add(bound)
        for i in binds.get(bound, []):
            if i in keep:
                continue
            keep.add(i)
            if not isinstance(tree.body[i], (ast.Import, ast.ImportFrom)):
                todo.extend(n.id for n in ast.walk(tree.body[i]) if isinstance(n, ast.Name) and n.id in binds)
    whole: set[str] = set()
    names: dict[str, set[str]] = {}
    body = []
    for i, stmt in enumerate(tree.body):
        if isinstance(stmt, ast.ImportFrom) and stmt.module == "__future__":
            body.append(stmt)
        elif i == 0 and isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
            body.append(stmt)  # the docstring
        elif i in keep and isinstance(stmt, (ast.Import, ast.ImportFrom)):
            aliases = [a for a in stmt.names if (a.asname or a.name).split(".")[0] in needed]
            if isinstance(stmt, ast.Import):
                whole.update(a.name for a in aliases if a.name.split(".")[0] == "nnkit")
                body.append(ast.Import(names=aliases))
                continue
            module = _resolve_from(name, is_package, stmt)
            if module.split(".")[0] == "nnkit":
                for a in aliases:
                    if _module_file(source, f"{module}.{a.name}"):
                        whole.add(f"{module}.{a.name}")
                    else:
                        names.setdefault(module, set()).add(a.name)
            body.append(ast.ImportFrom(module=stmt.module, names=aliases, level=stmt.level))
        elif i in keep:
            body.append(stmt)
    text = ast.unparse(ast.fix_missing_locations(ast.Module(body=body, type_ignores=[])))
    text += _SLICE_TAIL.format(module=name, given=sorted(wanted))
    return text + "\n", whole, names


_SLICE_TAIL = '''


def __getattr__(name):
    raise AttributeError(f"{module}.{{name}} is not in the grading sandbox: of {module} it holds only "
                         "the helpers this assignment gives ({given_list})")
'''.replace("{given_list}", "{given}")


def module_closure(modules, source: Path) -> tuple[str, ...]:
    """The declared nnkit modules with every nnkit module they import, and their packages."""
    todo = ["nnkit", *ALWAYS_AVAILABLE, *modules]
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name.split(".")[0] != "nnkit":
            raise ValueError(f"{name!r} is not an nnkit module")
        parts = name.split(".")
        todo.extend(".".join(parts[:k]) for k in range(1, len(parts)))
        seen.add(name)
        if name == "nnkit":
            continue  # the image has its own package file (the real one imports everything)
        path = _module_file(source, name)
        if path is None:
            raise ValueError(f"no module {name} in {source}")
        todo.extend(_imported_modules(source, name, path))
    return tuple(sorted(seen))


_INIT = '''"""nnkit as this grading sandbox holds it: only the modules the assignment's answers may use.

The rest of nnkit was never copied in, so it cannot be imported, reloaded, reached through gc or
read here; importing it says why.
"""

import sys as _sys

AVAILABLE = {available!r}


class _Withheld:
    """Explains a missing nnkit module (the files are simply not here; this only words the error)."""

    @staticmethod
    def find_spec(name, path=None, target=None):
        if name.startswith("nnkit.") and name not in AVAILABLE:
            raise ModuleNotFoundError(
                f"No module named {{name!r}}: while this assignment is graded the sandbox holds only the "
                f"nnkit modules its answers may use ({{', '.join(AVAILABLE[1:])}}); the rest of nnkit, "
                "its reference implementations included, is not installed here. Write it yourself.",
                name=name)
        return None

    @staticmethod
    def invalidate_caches():
        pass


def __getattr__(name):
    if not name.startswith("__"):
        try:
            _Withheld.find_spec(f"nnkit.{{name}}")
        except ModuleNotFoundError as exc:
            raise AttributeError(str(exc)) from None
    raise AttributeError(f"module 'nnkit' has no attribute {{name!r}}")


_sys.meta_path.insert(0, _Withheld)
del _sys
{imports}
'''


def _init_source(source: Path, available: tuple[str, ...], sliced: dict) -> str:
    """The image's ``nnkit/__init__.py``: the real one's imports of what the image holds."""
    lines = []
    tree = ast.parse((source / "__init__.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "nnkit":
            names = [a.name for a in node.names if f"nnkit.{a.name}" in available]
            lines += [f"from nnkit import {n}" for n in names]
        elif isinstance(node, ast.ImportFrom) and node.module in available:
            names = [a.name for a in node.names
                     if node.module not in sliced or a.name in sliced[node.module]]
            if names:
                lines.append(f"from {node.module} import {', '.join(names)}")
        elif isinstance(node, ast.Assign) and "__version__" in [getattr(t, "id", "") for t in node.targets]:
            lines.append(ast.unparse(node))
    return _INIT.format(available=available, imports="\n".join(lines))


@dataclass(frozen=True)
class Image:
    """The files a sandbox gets instead of nnkit: the pruned package, the runner and the protocol.

    Plain bytes, so an :class:`~nnkit.course.engine.Assignment` carrying it can be pickled to another
    process (a Dask worker) and grade there exactly what the instructor's process declared.
    """

    modules: tuple[str, ...]          # the nnkit modules in it, whole
    helpers: tuple[tuple[str, tuple[str, ...]], ...]  # (module, names): modules it holds only part of
    data_sets: tuple[str, ...]        # names of DATA_SETS left in the sandbox
    files: tuple[tuple[str, bytes], ...]

    def holds(self, dotted: str) -> bool:
        """Whether the nnkit object ``dotted`` (``nnkit.optim._adam``) can be reached in the sandbox."""
        parts = dotted.split(".")
        sliced = dict(self.helpers)
        for cut in range(len(parts), 0, -1):
            module = ".".join(parts[:cut])
            if module in self.modules and module != "nnkit":
                return True
            if module in sliced:
                return cut < len(parts) and parts[cut] in sliced[module]
        return False

    @property
    def digest(self) -> str:
        h = hashlib.sha256(repr((self.modules, self.helpers, self.data_sets)).encode())
        for rel, data in self.files:
            h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        return h.hexdigest()[:16]

    def materialize(self) -> Path:
        """The image as a read-only directory tree in this process's temporary folder (cached)."""
        key = self.digest
        if key in _materialized and _materialized[key].is_dir():
            return _materialized[key]
        root = Path(tempfile.mkdtemp(prefix=f"nnkit-image-{key}-"))
        for rel, data in self.files:
            target = root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for path in sorted(root.rglob("*"), reverse=True):
            path.chmod(0o555 if path.is_dir() else 0o444)
        root.chmod(0o555)
        _materialized[key] = root
        atexit.register(_remove_tree, root)
        return root


_materialized: dict[str, Path] = {}


def _remove_tree(root: Path) -> None:
    for path in [root, *root.rglob("*")]:
        try:
            path.chmod(0o755 if path.is_dir() else 0o644)
        except OSError:
            pass
    shutil.rmtree(root, ignore_errors=True)


def _split_dotted(source: Path, dotted: str) -> tuple[str, str]:
    parts = dotted.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        if _module_file(source, ".".join(parts[:cut])) or cut == 1:
            return ".".join(parts[:cut]), parts[cut]
    raise ValueError(f"{dotted!r} is not an nnkit object")


def build_image(modules=(), data_sets=(), source: Path | None = None, helpers=()) -> Image:
    """The image for an assignment whose answers may use ``modules`` whole and ``helpers`` (dotted
    names of functions or constants, given with only what they use)."""
    source = NNKIT_SOURCE if source is None else Path(source)
    unknown = [d for d in data_sets if d not in DATA_SETS]
    if unknown:
        raise ValueError(f"unknown data sets {unknown}; known: {sorted(DATA_SETS)}")
    whole = set(module_closure(tuple(modules), source))
    wanted: dict[str, set[str]] = {}
    todo = [_split_dotted(source, h) for h in helpers]
    sliced: dict[str, tuple[str, set, dict]] = {}
    while todo:
        module, name = todo.pop()
        if module in whole or name in wanted.get(module, set()):
            continue
        wanted.setdefault(module, set()).add(name)
        text, need_whole, need_names = slice_module(source, module, wanted[module])
        sliced[module] = text
        whole |= set(module_closure(tuple(need_whole), source)) if need_whole else set()
        todo += [(m, n) for m, ns in need_names.items() for n in ns]
    sliced = {m: t for m, t in sliced.items() if m not in whole}
    packages = {".".join(m.split(".")[:k]) for m in sliced for k in range(1, len(m.split(".")))}
    available = tuple(sorted(whole | set(sliced) | packages))
    files = [("nnkit/__init__.py", _init_source(source, available, wanted).encode())]
    for name in available:
        if name == "nnkit":
            continue
        path = _module_file(source, name)
        rel = str(path.relative_to(source.parent))
        if name in sliced:
            files.append((rel, sliced[name].encode()))
        elif name in whole:
            files.append((rel, path.read_bytes()))
        else:
            note = f'"""{name}: only some of its modules are in the grading sandbox."""\n'
            files.append((rel, note.encode()))
    here = Path(__file__).resolve().parent
    files.append((f"{RUNNER_PACKAGE}/__init__.py", b""))
    for module in ("runner", "wire"):
        files.append((f"{RUNNER_PACKAGE}/{module}.py", (here / f"{module}.py").read_bytes()))
    helpers_held = tuple(sorted((m, tuple(sorted(wanted[m]))) for m in sliced))
    return Image(tuple(sorted(whole)), helpers_held, tuple(sorted(data_sets)), tuple(sorted(files)))


def _data_dirs(image: Image) -> list[str]:
    dirs = []
    for name, (package, subdirs) in DATA_SETS.items():
        if name in image.data_sets:
            continue
        if package is None:
            dirs += [d for d in subdirs if os.path.isdir(d)]
            continue
        spec = importlib.util.find_spec(package)
        for base in (spec.submodule_search_locations or []) if spec else []:
            dirs += [str(Path(base).resolve() / d) for d in subdirs if (Path(base) / d).is_dir()]
    return dirs


def _interpreter_path() -> list[Path]:
    """``sys.path`` of this interpreter run as the sandbox runs it (``-I``: no PYTHONPATH, no cwd)."""
    if "path" not in _probe_cache:
        out = subprocess.run([sys.executable, "-I", "-c", "import json, sys; print(json.dumps(sys.path))"],
                             capture_output=True, text=True, timeout=60, env={}, cwd="/")
        entries = json.loads(out.stdout) if out.returncode == 0 else [*site.getsitepackages()]
        _probe_cache["path"] = [Path(e).resolve() for e in entries if e and Path(e).is_dir()]
    return _probe_cache["path"]


def _python_trees() -> list[Path]:
    """What the sandbox binds of the Python installation: the prefixes and every directory on the
    interpreter's own path (site-packages given by a ``.pth`` too), never a source checkout nnkit was
    imported from (an editable install: the course repository)."""
    repo = NNKIT_DIR.parent
    hops, exe = [], Path(sys.executable)
    for _ in range(16):  # a venv's python is a symlink (to another venv's, to the base interpreter)
        hops.append(Path(os.path.abspath(exe)).parent.parent)
        if not exe.is_symlink():
            break
        exe = exe.parent / os.readlink(exe)
    trees = {Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(),
             Path(sys.executable).resolve().parent.parent, *hops, *_interpreter_path()}
    checkout = any((repo / marker).exists() for marker in ("pyproject.toml", ".git", "solutions"))
    keep = [t for t in trees if str(t) != "/" and not (checkout and (t == repo or t in repo.parents))]
    out: list[Path] = []
    for t in sorted(keep, key=lambda p: len(p.parts)):
        if not any(t == o or o in t.parents for o in out):
            out.append(t)
    return out


def _nnkit_copies() -> list[Path]:
    """Every place the sandbox's Python could find a full nnkit (the image is bound over each)."""
    found = {NNKIT_DIR}
    for entry in _interpreter_path():
        cand = entry / "nnkit"
        if cand.is_dir() and (cand / "__init__.py").exists():
            found.add(cand.resolve())
    return sorted(found)


# ---------------------------------------------------------------- the sandbox's command line

def _parents(path: Path) -> list[str]:
    return [str(p) for p in reversed(path.parents) if str(p) != "/"]


def _bwrap_command(job_dir: Path, limits: Limits, uid: int | None, image_dir: Path | None = None,
                   image: Image | None = None) -> list[str]:
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
    # at or under the same path, and the Python prefix may well live under /tmp or /home.
    cmd += ["--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
            "--perms", "0755", "--dir", "/home",
            "--perms", "0777", "--size", str(limits.tmpfs_bytes), "--tmpfs", SANDBOX_HOME]
    made: set[str] = {"/usr", "/etc", "/bin", "/sbin", "/lib", "/lib64", "/dev", "/proc", "/tmp", "/home",
                      SANDBOX_HOME}
    roots = [Path("/usr"), Path("/etc")]
    binds = [p for p in _python_trees() if not any(p == r or r in p.parents for r in roots)]
    for target in binds:
        for parent in _parents(target):
            if parent not in made:
                cmd += ["--perms", "0755", "--dir", parent]
                made.add(parent)
        cmd += ["--ro-bind", str(target), str(target)]
        made.add(str(target))
        roots.append(target)
    if image_dir is not None:
        # Where a full nnkit would be found inside the bound trees, the pruned one is found instead.
        for copy in _nnkit_copies():
            if any(copy == r or r in copy.parents for r in roots):
                cmd += ["--ro-bind", str(image_dir / "nnkit"), str(copy)]
        cmd += ["--dir", "/opt", "--ro-bind", str(image_dir), SANDBOX_IMAGE]
    if image is not None:
        for data_dir in _data_dirs(image):
            if any(Path(data_dir) == r or r in Path(data_dir).parents for r in roots):
                cmd += ["--perms", "0555", "--size", "4096", "--tmpfs", data_dir]
    cmd += ["--ro-bind", str(job_dir), "/job", "--chdir", SANDBOX_HOME]
    for key, value in _env().items():
        cmd += ["--setenv", key, value]
    if uid is not None:
        cmd += ["/usr/bin/setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]
    return cmd


def _boot(image_path: str) -> str:
    return (f"import sys; sys.path.insert(0, {image_path!r}); "
            f"from {RUNNER_PACKAGE}.runner import main; main(sys.argv[1:])")


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


def run(image: Image, job_dir: Path, limits: Limits, kind: str, part_seconds: float,
        n_cells: int, n_cases: int) -> RunOutcome:
    """Run the runner on ``job_dir`` in a sandbox holding ``image``; never raises for student behaviour.

    The result pipe is read here, as it arrives, by a :class:`~nnkit.course.wire.EventReader` with
    the caps of ``limits``: this process's memory stays bounded whatever the submission writes.
    ``part_seconds`` is the time allowed for the part's calls (the runner's own soft limit is the
    same; the hard limit here adds a small slack).
    """
    outcome = RunOutcome(reader=wire.EventReader(n_cells, n_cases, limits.caps()))
    reader = outcome.reader
    start = time.monotonic()
    try:
        image_dir = image.materialize()
    except OSError as exc:
        outcome.stopped, outcome.stderr = "start", f"could not build the sandbox image: {exc}"
        return outcome
    read_fd, write_fd = os.pipe()
    workdir = None
    is_root = os.geteuid() == 0
    if kind == "bwrap":
        uid = 100000 + (next(_uid_counter) % 50000) if is_root else None
        cmd = [*_bwrap_command(job_dir, limits, uid, image_dir, image), sys.executable, "-I", "-c",
               _boot(SANDBOX_IMAGE), "/job", str(write_fd)]
        env = {}
        cwd = "/"
        set_nproc = uid is not None
    else:
        workdir = tempfile.mkdtemp(prefix="nnkit-student-")
        cmd = [sys.executable, "-I", "-c", _boot(str(image_dir)), str(job_dir), str(write_fd)]
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
        outcome.stopped = "start"
        outcome.stderr = f"could not start the sandbox: {exc}"
        return outcome
    os.close(write_fd)
    outs: list = []
    errs: list = []
    threads = [threading.Thread(target=_drain, args=(proc.stdout, limits.output_bytes, outs), daemon=True),
               threading.Thread(target=_drain, args=(proc.stderr, limits.output_bytes, errs), daemon=True)]
    for t in threads:
        t.start()

    deadline = start + limits.startup_seconds
    hard_end = start + limits.total_seconds
    cells_from = cells_to = None
    try:
        while True:
            now = time.monotonic()
            wait = min(deadline, hard_end) - now
            if wait <= 0:
                if not reader.done:
                    outcome.stopped = "timeout" if deadline <= hard_end else "budget"
                break
            ready, _, _ = select.select([read_fd], [], [], wait)
            if not ready:
                continue
            try:
                chunk = os.read(read_fd, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                if not reader.done:
                    outcome.stopped = "fault" if reader.fault else "exit"
                break
            if not reader.feed(chunk):
                if reader.overflow:
                    outcome.stopped = "overflow"
                    break
                continue
            now = time.monotonic()
            stage = reader.stage[0]
            if cells_from is None and stage != "startup":
                cells_from = now
            if cells_to is None and stage in ("part", "done"):
                cells_to = now
            if reader.fault:
                outcome.stopped = "fault"
                break
            if stage == "cell":
                deadline = now + limits.cell_seconds + 2.0
            elif stage == "part":
                if not reader.records:
                    deadline = now + part_seconds + 2.0
            elif stage == "between":
                deadline = now + limits.gap_seconds
            elif stage == "done":
                break
    finally:
        outcome.stage = reader.stage
        _kill(proc)
        try:
            outcome.returncode = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            outcome.returncode = None
        for t in threads:
            t.join(timeout=5)
        os.close(read_fd)
        if workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    outcome.finished = reader.done
    outcome.stdout = outs[0] if outs else ""
    outcome.stderr = errs[0] if errs else ""
    outcome.seconds = time.monotonic() - start
    if cells_from is not None and cells_to is not None:
        outcome.cells_seconds = cells_to - cells_from
    return outcome


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.kill()
    except ProcessLookupError:
        pass
