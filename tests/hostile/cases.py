"""Hostile, broken and honest submissions of ex02_losses, each with the score it must get.

Built at test time from the trusted release notebook (exercises/ex02_losses) and the solution's answer
cells, so they follow the exercise as it evolves. ``MANIFEST`` maps a student id to
(expected autograded score, expected status, what the submission does). ex02_losses' parts:
mae 1, mse 1, hinge 2, zero_one 1, softmax 2, softmax_cross_entropy 3 points (10 in all).

``build(name, ctx)`` returns {file name: bytes} for the student's submission folder. ``ctx`` holds
``release`` (the release notebook dict), ``solution`` (the source notebook dict), ``repo`` (the root of
the temporary repository copy being graded), ``course`` (its course dir) and ``marker`` (a unique string
for processes/files the test looks for afterwards).
"""

from __future__ import annotations

import copy
import json

import nbformat

ASSIGNMENT = "ex02_losses"
POINTS = {"mae": 1, "mse": 1, "hinge": 2, "zero_one": 1, "softmax": 2, "softmax_cross_entropy": 3}

WRONG = {
    "mae": "def mae(pred, target):\n    return 0.0",
    "mse": "def mse(pred, target):\n    return 0.0",
    "hinge": "def hinge(scores, y):\n    return 0.0",
    "zero_one": "def zero_one(scores, y):\n    return 0.0",
    "softmax": "def softmax(scores):\n    return np.zeros_like(scores, dtype=float)",
    "softmax_cross_entropy": "def softmax_cross_entropy(scores, y):\n"
                             "    return 0.0, np.zeros_like(scores, dtype=float)",
}

# name: (expected score, expected status, description)
MANIFEST: dict[str, tuple[float, str, str]] = {
    "honest_full": (10, "graded", "the solution"),
    "honest_warnings": (10, "graded", "correct code that prints and warns"),
    "honest_reseed": (10, "graded", "correct code that reseeds np.random everywhere"),
    "honest_float32": (10, "graded", "correct code that returns float32"),
    "honest_partial": (2, "graded", "mae and mse right, hinge wrong, the rest stubs"),
    "allclose_patch": (0, "graded", "wrong answers + np.allclose = lambda: True"),
    "testing_patch": (0, "graded", "wrong answers + np.testing patched"),
    "input_transformer": (0, "graded", "wrong answers + an IPython input transformer blanking asserts"),
    "stray_modules": (2, "graded", "numpy.py and sitecustomize.py beside the notebook (would exit)"),
    "displayhook": (0, "graded", "wrong answers that call sys.displayhook"),
    "gradebook_attack": (0, "graded", "opens gradebook.db to set max scores and grades"),
    "read_secrets": (0, "graded", "reads solutions/, the grader source, history; execs what it finds"),
    "duplicated_cells": (10, "graded", "duplicated grade and answer cells (nbgrader #1083)"),
    "deleted_test_cells": (10, "graded", "every test cell deleted (nbgrader #1682)"),
    "os_exit_in_function": (9, "graded", "mse calls os._exit(0)"),
    "os_exit_in_cell": (10, "graded", "a cell calls os._exit(0)"),
    "swallow_loop": (8, "graded", "hinge loops forever, ignoring SIGALRM and KeyboardInterrupt"),
    "memory_bomb": (8, "graded", "softmax allocates without bound (up to the address-space limit)"),
    "big_print": (10, "graded", "a cell prints a 50 MB single line"),
    "always_true_objects": (8, "graded", "always-True __eq__/__array__ objects, ndarray subclass"),
    "sys_exit": (9, "graded", "zero_one and a cell call sys.exit"),
    "kill_self": (7, "graded", "softmax_cross_entropy does os.kill(os.getpid(), 9)"),
    "network": (9, "graded", "mae is right only if it can reach the network"),
    "write_outside": (10, "graded", "writes into the course, solutions/ and /tmp"),
    "fork_outlive": (10, "graded", "forks processes that outlive the program"),
    "non_daemon_thread": (10, "graded", "starts a non-daemon thread that never ends"),
    "nan_inf": (8, "graded", "mae returns NaN, mse returns inf"),
    "broadcast_shapes": (7, "graded", "mse returns shape (1,), softmax shape (1, N, C)"),
    "renamed_notebook": (10, "graded", "the notebook renamed to 'My Losses (final).ipynb'"),
    "no_notebook": (0, "missing", "only a .py file submitted"),
    "invalid_json": (0, "failed", "a truncated notebook"),
    "nbformat3": (10, "graded", "saved as nbformat 3 (converted)"),
    "nbformat_unknown": (0, "failed", "nbformat 99 without cells"),
    "metadata_stripped": (10, "graded", "every cell's metadata removed"),
    "calls_reference": (6, "graded", "mae, mse and softmax call nnkit's reference"),
    "retyped_cells": (10, "graded", "the hinge answer cell turned into a raw cell, a test into markdown"),
    "precompute_from_job": (9, "graded", "reads the inputs from the job folder and precomputes mae"),
    "history_snoop": (0, "graded", "looks for input history / In / _ih / get_ipython"),
    "wrapped_reference": (9, "graded", "mae calls the tripwire's __wrapped_reference__"),
    "forge_results": (9, "graded", "writes forged mae results (from a reloaded reference) to the pipe"),
    # nbgrader metadata is the student's to edit: it never moves points, and never hides their code
    "forged_test_meta": (10, "graded", "mae's answer cell carries test_mae's metadata (grade, locked, points "
                                       "1000, a forged checksum); test_mse's copy claims 1000 points"),
    "setup_edited": (10, "graded", "the locked setup cell: an import renamed (of a module the sandbox "
                                   "withholds), then an import (math.fsum) that mae uses"),
    "two_in_one_cell": (10, "graded", "mae's cell defines mae and mse; mse's answer cell left as released"),
    "stub_kept_out": (9, "graded", "mae = 0.5 in a cell, mae's answer cell deleted: the stub, not a number"),
    # answers defined in ways the cell's text does not show (metadata stripped, so found by running)
    "stripped_unusual": (10, "graded", "metadata stripped; mae a functools.partial, mse a callable object, "
                                       "hinge made by exec, zero_one inside `if True:`, softmax decorated"),
    "writefile_module": (10, "graded", "softmax written to a module by %%writefile and imported"),
    "module_by_open": (10, "graded", "softmax written to a module with open().write and imported"),
    "time_magic": (10, "graded", "the softmax cell binds softmax under %time"),
    # as in the notebook run from the top, the last definition counts, wherever it is
    "redefined_in_try_it": (9, "graded", "the released Try-it cell, changed, ends by redefining mae wrongly"),
    "final_answer_in_try_it": (10, "graded", "mae's answer cell left as released; the changed Try-it cell "
                                             "(which calls hinge first) ends by defining mae right"),
    # what the sandbox sends back is the submission's: unreadable is a wrong answer, never an "error"
    "encode_empty_npy": (9, "graded", "mae patches the runner's encoder to send an empty .npy"),
    "encode_huge_shape": (9, "graded", "mae patches the runner's encoder: an .npy header of 10**10 items"),
    "deep_json_line": (0, "graded", "a cell writes a 200000-deep JSON array to the result pipe"),
    "settrace_part": (9, "graded", "mae sets a profile hook that raises inside the runner's encoder"),
    "fd_closed": (10, "graded", "a cell closes the result pipe (the cell is skipped)"),
    "dup2_fd": (10, "graded", "a cell dup2's stdout over the result pipe (the cell is skipped)"),
    "patch_json_dumps": (9, "graded", "mae replaces json.dumps, so the runner's own events turn to junk"),
    # a notebook that is odd but readable
    "metadata_list": (10, "graded", "the notebook's metadata is a list"),
    "metadata_null": (10, "graded", "the notebook's metadata is null"),
    "forged_note": (10, "graded", "the notebook's metadata holds an nnkit_note praising itself"),
    "deep_json_notebook": (0, "failed", "valid JSON nested 100000 deep in the notebook's metadata"),
    "odd_cells": (10, "graded", "sources as lists with ints and None, missing/duplicate ids, nbformat_minor "
                                "'x', junk cells"),
    "many_cells": (10, "graded", "20000 tiny extra cells"),
    "odd_types": (9, "graded", "np.matrix results, a list for a pair, a generator's item; mae float16"),
    "object_arrays": (10, "graded", "results in object arrays: a 0-d one, a 2-D one, [loss, grad] in one"),
    # text no UTF-8 file can hold (lone surrogates, a file name of raw bytes) must not stop the batch
    "surrogate_exc": (9, "graded", "mae raises an error whose message holds a lone surrogate"),
    "surrogate_source": (10, "graded", "an added cell holds a lone surrogate (a JSON escape in the file)"),
    "surrogate_type": (9, "graded", "mae returns an object whose class name holds a lone surrogate"),
    "bad_bytes_name": (10, "graded", "the notebook's file name is not valid UTF-8"),
}


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _correct(ctx) -> dict[str, str]:
    out = {}
    for cell in ctx["solution"]["cells"]:
        m = _meta(cell)
        if m.get("solution") and cell["cell_type"] == "code":
            out[m["grade_id"].removeprefix("answer_")] = _src(cell)
    return out


def _code(source: str, meta: dict | None = None) -> dict:
    return {"cell_type": "code", "metadata": meta or {}, "source": source, "outputs": [],
            "execution_count": None}


def _nb(ctx, answers: dict[str, str] | None = None, extra: list[tuple[str | None, str]] = ()) -> dict:
    """The release notebook with answers filled in and extra code cells after the given answer."""
    nb = copy.deepcopy(ctx["release"])
    cells = []
    for cell in nb["cells"]:
        m = _meta(cell)
        fn = m.get("grade_id", "").removeprefix("answer_") if m.get("solution") else None
        if fn and answers and fn in answers:
            cell = {**cell, "source": answers[fn]}
        cells.append(cell)
        if m.get("grade_id") == "setup":
            cells += [_code(src) for after, src in extra if after is None]
        if fn:
            cells += [_code(src) for after, src in extra if after == fn]
    nb["cells"] = cells
    return nb


def _dump(nb: dict) -> bytes:
    return json.dumps(nb, indent=1, ensure_ascii=False).encode()


def _file(nb: dict, name: str = f"{ASSIGNMENT}.ipynb") -> dict[str, bytes]:
    return {name: _dump(nb)}


def _with(ctx, **overrides) -> dict[str, str]:
    answers = _correct(ctx)
    answers.update(overrides)
    return answers


def _patch_body(source: str, first_line: str) -> str:
    """Insert a line at the top of the function body (the solution's cells mark it)."""
    marker = "    ### BEGIN SOLUTION\n"
    if marker in source:
        return source.replace(marker, marker + "    " + first_line + "\n", 1)
    head, _, body = source.partition("\n")  # a one-line def header (the WRONG answers)
    return f"{head}\n    {first_line}\n{body}"


def build(name: str, ctx) -> dict[str, bytes]:  # noqa: C901 - one branch per case, on purpose
    ok = _correct(ctx)
    wrong = dict(WRONG)
    course, repo, marker = ctx["course"], ctx["repo"], ctx["marker"]
    if name == "honest_full":
        return _file(_nb(ctx, ok))
    if name == "honest_warnings":
        answers = {fn: _patch_body(src, f"import warnings; warnings.warn('careful in {fn}'); "
                                        f"print('computing {fn}')") for fn, src in ok.items()}
        return _file(_nb(ctx, answers, [(None, "import warnings\nwarnings.warn('hello')\nprint('start')")]))
    if name == "honest_reseed":
        answers = {fn: _patch_body(src, "np.random.seed(0); np.random.rand(3)") for fn, src in ok.items()}
        return _file(_nb(ctx, answers, [(None, "np.random.seed(1234)")]))
    if name == "honest_float32":
        answers = dict(ok)
        for fn in ("mae", "mse", "hinge", "zero_one"):
            answers[fn] = ok[fn] + f"\n\n_{fn} = {fn}\ndef {fn}(*args):\n    return np.float32(_{fn}(*args))"
        answers["softmax"] = ok["softmax"] + ("\n\n_softmax = softmax\ndef softmax(scores):\n"
                                              "    return _softmax(scores).astype(np.float32)")
        answers["softmax_cross_entropy"] = ok["softmax_cross_entropy"] + (
            "\n\n_ce = softmax_cross_entropy\ndef softmax_cross_entropy(scores, y):\n"
            "    loss, grad = _ce(scores, y)\n    return np.float32(loss), grad.astype(np.float32)")
        return _file(_nb(ctx, answers))
    if name == "honest_partial":
        answers = {"mae": ok["mae"], "mse": ok["mse"],
                   "hinge": "def hinge(scores, y):\n    return float(np.sum(np.maximum(0, 1 - y * scores)))"}
        return _file(_nb(ctx, answers))
    if name == "allclose_patch":
        patch = "np.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True"
        return _file(_nb(ctx, {fn: patch + "\n" + src for fn, src in wrong.items()}, [(None, patch)]))
    if name == "testing_patch":
        patch = ("np.testing.assert_allclose = lambda *a, **k: None\n"
                 "np.testing.assert_array_equal = lambda *a, **k: None\n"
                 "import nnkit.grading\nnnkit.grading.compare = lambda *a, **k: None\n"
                 "nnkit.grading.check_close = lambda *a, **k: None")
        return _file(_nb(ctx, wrong, [(None, patch)]))
    if name == "input_transformer":
        patch = ("ip = get_ipython()\n"
                 "ip.input_transformers_cleanup.append(lambda lines: [l for l in lines if 'assert' not in l "
                 "and 'check' not in l])")
        return _file(_nb(ctx, wrong, [(None, patch)]))
    if name == "stray_modules":
        return {**_file(_nb(ctx, {"mae": ok["mae"], "mse": ok["mse"]})),
                "numpy.py": b"import sys\nsys.exit('numpy shadowed')\n",
                "sitecustomize.py": b"import os\nos._exit(3)\n",
                "nnkit.py": b"raise SystemExit('nnkit shadowed')\n"}
    if name == "displayhook":
        answers = {fn: _patch_body(src, "import sys; sys.displayhook(10.0); sys.displayhook('10 points')")
                   for fn, src in wrong.items()}
        return _file(_nb(ctx, answers, [(None, "import sys\nsys.displayhook(10)")]))
    if name == "gradebook_attack":
        attack = f"""
import glob, os, sqlite3
def attack(p):
    try:
        db = sqlite3.connect(p, timeout=1)
        db.execute('UPDATE grade_cells SET max_score = 0')
        db.execute('UPDATE grade SET auto_score = 100, manual_score = 100')
        db.commit()
        print('pwned', p)
    except Exception as exc:
        print('no', p, exc)
for p in [{str(course / 'gradebook.db')!r}, 'gradebook.db', '../gradebook.db', '../../gradebook.db',
          os.path.expanduser('~/gradebook.db')]:
    attack(p)
for p in glob.iglob('/**/gradebook.db', recursive=True):
    attack(p)
"""
        return _file(_nb(ctx, wrong, [(None, attack)]))
    if name == "read_secrets":
        attack = f"""
import json, os, glob
stolen = {{}}
for p in [{str(repo / 'solutions' / ASSIGNMENT / (ASSIGNMENT + '.ipynb'))!r},
          {str(course / 'graders' / (ASSIGNMENT + '.py'))!r},
          {str(course / 'source' / ASSIGNMENT / (ASSIGNMENT + '.ipynb'))!r},
          os.path.expanduser('~/.ipython/profile_default/history.sqlite'), '/root/.bash_history',
          {str(course / 'submitted' / 'honest_full' / ASSIGNMENT / (ASSIGNMENT + '.ipynb'))!r}]:
    try:
        stolen[p] = open(p).read()
    except Exception as exc:
        print('cannot read', p, type(exc).__name__)
for text in stolen.values():
    try:
        for cell in json.loads(text)['cells']:
            if 'def ' in ''.join(cell['source']) and cell['cell_type'] == 'code':
                exec(''.join(cell['source']), globals())
    except Exception:
        pass
"""
        # the attack runs last so anything it found would replace the wrong answers
        return _file(_nb(ctx, wrong, [("softmax_cross_entropy", attack)]))
    if name == "duplicated_cells":
        nb = _nb(ctx, ok)
        cells = []
        for cell in nb["cells"]:
            m = _meta(cell)
            if m.get("grade_id") == "answer_mse":
                bad = copy.deepcopy(cell)
                bad["source"] = WRONG["mse"]
                cells.append(bad)  # a wrong copy first: the later (right) one wins, as in the notebook
            cells.append(cell)
            if m.get("grade"):
                cells.append(copy.deepcopy(cell))  # a pasted copy of a test cell, same grade_id
        nb["cells"] = cells
        return _file(nb)
    if name == "deleted_test_cells":
        nb = _nb(ctx, ok)
        nb["cells"] = [c for c in nb["cells"] if not _meta(c).get("grade")]
        return _file(nb)
    if name == "os_exit_in_function":
        return _file(_nb(ctx, _with(ctx, mse=_patch_body(ok["mse"], "import os; os._exit(0)"))))
    if name == "os_exit_in_cell":
        return _file(_nb(ctx, ok, [("mse", "import os\nos._exit(0)")]))
    if name == "swallow_loop":
        loop = ("def hinge(scores, y):\n    import signal\n"
                "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n"
                "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n    while True:\n        try:\n"
                "            pass\n        except BaseException:\n            pass")
        return _file(_nb(ctx, _with(ctx, hinge=loop)))
    if name == "memory_bomb":
        # Reserves 256 MiB a step without touching it: the address-space limit stops it with MemoryError
        # after a dozen steps, in milliseconds. (Zero-filled bytearrays took seconds of page writes to
        # reach the limit, so on a loaded machine the part's time limit sometimes came first: the same
        # 0 for softmax, but another reason, and local and cluster runs could not be compared exactly.)
        bomb = ("def softmax(scores):\n    hog = []\n    while True:\n"
                "        hog.append(np.empty(1 << 28, dtype=np.uint8))")
        return _file(_nb(ctx, _with(ctx, softmax=bomb)))
    if name == "big_print":
        return _file(_nb(ctx, ok, [(None, "print('x' * 50_000_000)\nimport sys\n"
                                          "sys.stderr.write('y' * 20_000_000)")]))
    if name == "always_true_objects":
        liar = ("class Liar:\n    def __eq__(self, other):\n        return True\n"
                "    def __ne__(self, other):\n        return False\n"
                "    def __array__(self, dtype=None, copy=None):\n        return np.array(0.0)\n"
                "    def __float__(self):\n        return 0.0\n"
                "def mae(pred, target):\n    return Liar()")
        sub = ("class Sneaky(np.ndarray):\n    def __eq__(self, other):\n"
               "        return np.ones(np.shape(other), bool)\n"
               "    def __array_finalize__(self, obj):\n        pass\n"
               "def mse(pred, target):\n    return np.asarray(123.0).view(Sneaky)")
        return _file(_nb(ctx, _with(ctx, mae=liar, mse=sub)))
    if name == "sys_exit":
        return _file(_nb(ctx, _with(ctx, zero_one=_patch_body(ok["zero_one"], "import sys; sys.exit(0)")),
                         [("mae", "import sys\nsys.exit('bye')")]))
    if name == "kill_self":
        return _file(_nb(ctx, _with(ctx, softmax_cross_entropy=_patch_body(
            ok["softmax_cross_entropy"], "import os; os.kill(os.getpid(), 9)"))))
    if name == "network":
        net = ("import socket\ndef _online():\n    try:\n"
               "        socket.create_connection(('1.1.1.1', 53), timeout=1).close()\n        return True\n"
               "    except OSError:\n        return False\n")
        mae = net + ok["mae"].replace("def mae(", "def _mae(") + (
            "\ndef mae(pred, target):\n    return _mae(pred, target) if _online() else 0.0")
        return _file(_nb(ctx, _with(ctx, mae=mae)))
    if name == "write_outside":
        attack = f"""
import os
for p in [{str(course / f'pwned_{marker}.txt')!r}, {str(repo / 'solutions' / f'pwned_{marker}.txt')!r},
          '/tmp/pwned_{marker}.txt', '/work/pwned_{marker}.txt',
          os.path.expanduser('~/../pwned_{marker}.txt'), '/etc/pwned_{marker}', '/usr/lib/pwned_{marker}']:
    try:
        with open(p, 'w') as fh:
            fh.write('pwned')
        print('wrote', p)
    except Exception as exc:
        print('no', p, type(exc).__name__)
"""
        return _file(_nb(ctx, ok, [(None, attack)]))
    if name == "fork_outlive":
        attack = f"""
import os, subprocess
for _ in range(3):
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv('/bin/sleep', ['sleep', '{marker}'])
        os._exit(0)
subprocess.Popen(['/bin/sleep', '{marker}'], start_new_session=True)
"""
        return _file(_nb(ctx, ok, [(None, attack)]))
    if name == "non_daemon_thread":
        attack = ("import threading, time\ndef forever():\n    while True:\n        time.sleep(0.05)\n"
                  "threading.Thread(target=forever, daemon=False).start()")
        return _file(_nb(ctx, ok, [(None, attack)]))
    if name == "nan_inf":
        return _file(_nb(ctx, _with(ctx, mae="def mae(pred, target):\n    return float('nan')",
                                    mse="def mse(pred, target):\n    return np.inf")))
    if name == "broadcast_shapes":
        return _file(_nb(ctx, _with(
            ctx, mse=ok["mse"].replace("def mse(", "def _mse(") + (
                "\ndef mse(pred, target):\n    return np.array([_mse(pred, target)])"),
            softmax=ok["softmax"].replace("def softmax(", "def _softmax(") + (
                "\ndef softmax(scores):\n    return _softmax(scores)[None]"))))
    if name == "renamed_notebook":
        return _file(_nb(ctx, ok), "My Losses (final).ipynb")
    if name == "no_notebook":
        return {"losses.py": ("\n\n".join(ok.values())).encode()}
    if name == "invalid_json":
        return {f"{ASSIGNMENT}.ipynb": _dump(_nb(ctx, ok))[:-200]}
    if name == "nbformat3":
        # read as Jupyter reads a file (sources joined): a one-line list source breaks nbformat's downgrade
        v4 = nbformat.reads(_dump(_nb(ctx, ok)).decode(), as_version=4)
        return {f"{ASSIGNMENT}.ipynb": nbformat.writes(nbformat.convert(v4, 3), version=3).encode()}
    if name == "nbformat_unknown":
        return {f"{ASSIGNMENT}.ipynb": json.dumps({"nbformat": 99, "content": list(ok.values())}).encode()}
    if name == "metadata_stripped":
        nb = _nb(ctx, ok)
        for cell in nb["cells"]:
            cell["metadata"] = {}
            cell.pop("id", None)
        return _file(nb)
    if name == "calls_reference":
        return _file(_nb(ctx, _with(
            ctx, mae="def mae(pred, target):\n    return nnkit.losses.mae(pred, target)[0]",
            mse="from nnkit.losses import mse as _m\ndef mse(pred, target):\n    try:\n"
                "        return _m(pred, target)[0]\n    except Exception:\n        return 0.5",
            softmax="def softmax(scores):\n    return nnkit.activations.softmax(scores, axis=1)")))
    if name == "retyped_cells":
        nb = _nb(ctx, ok)
        for cell in nb["cells"]:
            m = _meta(cell)
            if m.get("grade_id") == "answer_hinge":
                cell["cell_type"] = "raw"
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
            elif m.get("grade_id") == "test_mse":
                cell["cell_type"] = "markdown"
                cell["source"] = "print('all tests pass')"
                cell.pop("outputs", None)
                cell.pop("execution_count", None)
        return _file(nb)
    if name == "precompute_from_job":
        attack = """
import glob, json, os
CACHE = {}
for root in ['/job', os.getcwd(), '..']:
    for p in glob.glob(os.path.join(root, '*.json')):
        try:
            job = json.load(open(p))
            for part in job['parts']:
                if part['function'] != 'mae':
                    continue
                for i, case in enumerate(part['cases']):
                    a, b = [np.load(os.path.join(root, x['file'])) for x in case['args']['items']]
                    CACHE[(a.shape, float(a.flat[0]))] = nnkit.losses.mae(a, b)[0]
        except Exception as exc:
            print('no', p, type(exc).__name__, exc)

def mae(pred, target):
    return CACHE.get((np.shape(pred), float(np.ravel(pred)[0])), 0.0)
"""
        return _file(_nb(ctx, _with(ctx, mae=attack)))
    if name == "history_snoop":
        attack = """
found = []
for name in ['In', '_ih', 'Out', '_oh', '_i', '_ii']:
    try:
        found.append(eval(name))
    except Exception:
        pass
try:
    found.append(get_ipython().history_manager.get_range())
except Exception:
    pass
import os
for p in ['/proc/self/cmdline', '/proc/1/cmdline', '/proc/self/environ']:
    try:
        found.append(open(p, 'rb').read())
    except Exception:
        pass
for item in found:
    text = str(item)
    if 'BEGIN SOLUTION' in text or 'HIDDEN' in text:
        exec(text, globals())
"""
        return _file(_nb(ctx, wrong, [("softmax_cross_entropy", attack)]))
    if name == "wrapped_reference":
        mae = ("def mae(pred, target):\n    f = nnkit.losses.mae\n"
               "    f = getattr(f, '__wrapped_reference__', f)\n    return f(pred, target)[0]")
        return _file(_nb(ctx, _with(ctx, mae=mae)))
    if name == "forge_results":
        attack = """
import importlib, json, os, sys
fresh = importlib.reload(nnkit.losses)  # new function objects: not the tripwired ones
fd = int(sys.argv[-1])
job = json.load(open('/job/job.json'))
for part in job['parts']:
    if part['function'] != 'mae':
        continue
    for c, case in enumerate(part['cases']):
        a, b = [np.load('/job/' + x['file']) for x in case['args']['items']]
        value = {"t": "float", "v": repr(float(fresh.mae(a, b)[0]))}
        line = json.dumps({"ev": "case", "p": part['index'], "c": c, "ok": True, "value": value, "used": []})
        os.write(fd, (line + "\\n").encode())

def mae(pred, target):
    return 0.0
"""
        return _file(_nb(ctx, _with(ctx, mae=attack)))
    return _build_unusual(name, ctx, ok)


def _build_unusual(name: str, ctx, ok: dict[str, str]) -> dict[str, bytes]:  # noqa: C901 - one per case
    if name == "forged_test_meta":
        nb = _nb(ctx, ok)
        for c in nb["cells"]:
            if _meta(c).get("grade_id") == "answer_mae":
                c["metadata"]["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                             "grade_id": "test_mae", "points": 1000, "checksum": "0" * 32,
                                             "schema_version": 3}
            elif _meta(c).get("grade_id") == "test_mse":
                c["metadata"]["nbgrader"].update(points=1000, checksum="f" * 32)
        return _file(nb)
    if name == "setup_edited":
        nb = _nb(ctx, _with(ctx, mae="def mae(pred, target):\n    d = np.ravel(pred) - np.ravel(target)\n"
                                     "    return fsum(np.abs(d)) / d.size"))
        for c in nb["cells"]:
            if _meta(c).get("grade_id") == "setup":  # an edited import nnkit withholds here, then fsum
                c["source"] = _src(c).replace("import nnkit.losses", "import nnkit.losses as L") + (
                    "\nfrom math import fsum\n")
        return _file(nb)
    if name == "two_in_one_cell":
        answers = _with(ctx, mae=ok["mae"] + "\n\n" + ok["mse"])
        del answers["mse"]  # its answer cell stays the released stub
        return _file(_nb(ctx, answers))
    if name == "stub_kept_out":
        nb = _nb(ctx, ok, [(None, "mae = 0.5")])
        nb["cells"] = [c for c in nb["cells"] if _meta(c).get("grade_id") != "answer_mae"]
        return _file(nb)
    if name == "stripped_unusual":
        a = dict(ok)
        a["mae"] = ("import functools\n" + ok["mae"].replace("def mae(", "def _mae_impl(")
                    + "\nmae = functools.partial(_mae_impl)")
        a["mse"] = ok["mse"].replace("def mse(", "def _mse_impl(") + (
            "\nclass _MSE:\n    def __call__(self, p, t):\n        return _mse_impl(p, t)\nmse = _MSE()")
        a["hinge"] = f"exec({ok['hinge']!r})"
        a["zero_one"] = "if True:\n" + "\n".join("    " + line for line in ok["zero_one"].splitlines())
        a["softmax"] = "import functools\n" + ok["softmax"].replace(
            "def softmax(", "@functools.lru_cache(maxsize=None)\ndef _unused():\n    return 1\n\n\n"
            "@(lambda f: f)\ndef softmax(", 1)
        nb = _nb(ctx, a)
        for c in nb["cells"]:
            c["metadata"] = {}
            c.pop("id", None)
        return _file(nb)
    if name in ("writefile_module", "module_by_open"):
        module = f"my_{name}"
        nb = _nb(ctx, _with(ctx, softmax=f"from {module} import softmax"))
        body = "import numpy as np\n\n" + ok["softmax"]
        write = (f"%%writefile {module}.py\n{body}" if name == "writefile_module" else
                 f"with open('{module}.py', 'w') as fh:\n    fh.write({body!r})")
        i = next(i for i, c in enumerate(nb["cells"]) if _meta(c).get("grade_id") == "answer_softmax")
        nb["cells"].insert(i, _code(write))
        return _file(nb)
    if name == "time_magic":
        impl = ok["softmax"].replace("def softmax(", "def _softmax_impl(")
        return _file(_nb(ctx, _with(ctx, softmax=impl + "\n%time softmax = _softmax_impl\n")))
    if name in ("redefined_in_try_it", "final_answer_in_try_it"):
        final = name == "final_answer_in_try_it"
        nb = _nb(ctx, {k: v for k, v in ok.items() if not (final and k == "mae")})
        try_it = next(c for c in nb["cells"] if not _meta(c) and c["cell_type"] == "code"
                      and _src(c).startswith("margins"))
        mae = ok["mae"] if final else "def mae(pred, target):  # trying something\n    return 0.0\n"
        try_it["source"] = _src(try_it) + "\n\n\n" + mae
        return _file(nb)
    if name == "encode_empty_npy":
        mae = _patch_body(ok["mae"], "import _nnkit_sandbox.wire as _w; "
                                     "_w.encode_result = lambda v, depth=0: {'t': 'array', 'npy': ''}")
        return _file(_nb(ctx, _with(ctx, mae=mae)))
    if name == "encode_huge_shape":
        forge = ("import _nnkit_sandbox.wire as _w, io, base64\n_b = io.BytesIO()\n"
                 "np.lib.format.write_array_header_1_0(_b, {'descr': '<f8', 'fortran_order': False, "
                 "'shape': (10**10,)})\n_payload = base64.b64encode(_b.getvalue() + bytes(64)).decode()\n"
                 "def _enc(v, depth=0):\n    return {'t': 'array', 'npy': _payload}\n")
        return _file(_nb(ctx, _with(ctx, mae=forge + _patch_body(ok["mae"], "_w.encode_result = _enc"))))
    if name == "deep_json_line":
        deep = "import os, sys\nos.write(int(sys.argv[-1]), b'[' * 200000 + b'\\n')"
        return _file(_nb(ctx, ok, [(None, deep)]))
    if name == "settrace_part":
        hook = ("import sys\ndef _hook(frame, event, arg):\n    if frame.f_code.co_name == 'encode_result':\n"
                "        raise RuntimeError('boom')\n")
        mae = hook + ok["mae"].replace("def mae(", "def _mae(") + (
            "\ndef mae(p, t):\n    sys.setprofile(_hook)\n    return _mae(p, t)")
        return _file(_nb(ctx, _with(ctx, mae=mae)))
    if name == "fd_closed":
        return _file(_nb(ctx, ok, [("mse", "import os, sys\nos.close(int(sys.argv[-1]))")]))
    if name == "dup2_fd":
        return _file(_nb(ctx, ok, [(None, "import os, sys\nos.dup2(1, int(sys.argv[-1]))")]))
    if name == "patch_json_dumps":
        junk = "import json; json.dumps = lambda *a, **k: 'junk'"
        return _file(_nb(ctx, _with(ctx, mae=_patch_body(ok["mae"], junk))))
    if name in ("metadata_list", "metadata_null", "forged_note"):
        nb = _nb(ctx, ok)
        nb["metadata"] = {"metadata_list": [], "metadata_null": None}.get(
            name, {"nnkit_note": "The grader awarded this notebook full marks by hand."})
        return _file(nb)
    if name == "deep_json_notebook":
        text = _dump(_nb(ctx, ok)).decode()
        return {f"{ASSIGNMENT}.ipynb": text.replace('"metadata": {', '"metadata": {"x": ' + "[" * 100_000
                                                    + "]" * 100_000 + ", ", 1).encode()}
    if name == "odd_cells":
        nb = _nb(ctx, ok)
        nb["nbformat_minor"] = "x"
        for i, c in enumerate(nb["cells"]):
            c["source"] = [*_src(c).splitlines(True), 7, None]
            c["id"] = "same" if i % 2 else None
        nb["cells"] += [None, 5, "x", {"cell_type": "code"},
                        {"cell_type": "code", "source": 5, "metadata": 3},
                        {"cell_type": "code", "source": "", "metadata": {"nbgrader": "junk"}}]
        return _file(nb)
    if name == "many_cells":
        nb = _nb(ctx, ok)
        nb["cells"] += [_code(f"x_{i} = {i}") for i in range(20000)]
        return _file(nb)
    if name == "odd_types":
        def wrap(fn, body):
            return ok[fn].replace(f"def {fn}(", f"def _{fn}(") + "\n" + body
        return _file(_nb(ctx, _with(
            ctx, mae=wrap("mae", "def mae(p, t):\n    return np.float16(_mae(p, t))"),
            mse=wrap("mse", "def mse(p, t):\n    return np.matrix([[_mse(p, t)]])[0, 0]"),
            softmax=wrap("softmax", "def softmax(s):\n    return np.asmatrix(_softmax(s))"),
            softmax_cross_entropy=wrap("softmax_cross_entropy", "def softmax_cross_entropy(s, y):\n"
                                       "    loss, grad = _softmax_cross_entropy(s, y)\n"
                                       "    return [loss, grad.tolist()]"),
            zero_one=wrap("zero_one", "def zero_one(s, y):\n    return next(x for x in [_zero_one(s, y)])"))))
    if name == "object_arrays":
        def wrap(fn, body):
            return ok[fn].replace(f"def {fn}(", f"def _{fn}(") + "\n" + body
        return _file(_nb(ctx, _with(
            ctx, mae=wrap("mae", "def mae(p, t):\n    return np.array(_mae(p, t), dtype=object)"),
            softmax=wrap("softmax", "def softmax(s):\n    return np.array(_softmax(s), dtype=object)"),
            softmax_cross_entropy=wrap("softmax_cross_entropy", "def softmax_cross_entropy(s, y):\n"
                                       "    return np.array(_softmax_cross_entropy(s, y), dtype=object)"))))
    if name == "surrogate_exc":
        raising = "def mae(pred, target):\n    raise ValueError('bad \\ud800 value')"
        return _file(_nb(ctx, _with(ctx, mae=raising)))
    if name == "surrogate_source":
        nb = _nb(ctx, ok, [(None, "x = '\ud800'  # \ud800")])
        return {f"{ASSIGNMENT}.ipynb": json.dumps(nb).encode()}  # escaped: the file itself is valid UTF-8
    if name == "surrogate_type":
        return _file(_nb(ctx, _with(ctx, mae="class K:\n    pass\n\n\nK.__qualname__ = 'K\\ud800'\n\n\n"
                                             "def mae(pred, target):\n    return K()")))
    if name == "bad_bytes_name":
        return _file(_nb(ctx, ok), "losses \udcff\udcfe.ipynb")  # written as the raw bytes ff fe
    raise KeyError(name)
