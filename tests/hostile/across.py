"""Hostile and honest submissions of the assignments other than ex02 (cases.py), each with its due score.

One class of attack per case, each closed by the structure of the sandbox rather than a list of names:

* the reference is not there: private kernels, sibling classes, ``importlib.reload``, objects found
  through ``gc`` and nnkit's source files on disk all fail, because the sandbox holds only the nnkit
  modules the grader's ENVIRONMENT declares (ex01, ex05, ex06, ex08);
* bundled data sets are not there: an ex08 "classifier" that looks the test labels up in
  scikit-learn's digits finds no file;
* a part's points come only from its own calls: forged events for another part, written from inside
  one part's call, reach nothing (ex06);
* trusted helpers stay trusted: a later cell redefining ex05's ``numerical_gradient_probe`` is
  overridden by the template's (ex05);
* the grader is bounded: an answer flooding the result pipe with 120 MB of small events loses that
  part only (ex07).

``MANIFEST`` maps (assignment, student) to (expected autograded score, status, what it does). Answers
are the solution's answer cells (by grade id) with the named ones replaced.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

# (assignment, student): (expected score, status, description)
MANIFEST: dict[tuple[str, str], tuple[float, str, str]] = {
    ("ex01_perceptron", "x01_honest"): (7, "graded", "the solution"),
    ("ex01_perceptron", "x01_sibling"): (4, "graded", "predict via Perceptron, fit via MulticlassPerceptron"),
    ("ex01_perceptron", "x01_read_source"): (6, "graded", "predict execs nnkit/models/perceptron.py from disk"),
    ("ex03_softmax_regression", "x03_honest"): (8, "graded", "the solution"),
    # scores fails, and accuracy, built on scores
    ("ex03_softmax_regression", "x03_functional"): (6, "graded", "scores calls nnkit.functional.dense_forward"),
    ("ex04_activations", "x04_honest"): (10, "graded", "the solution"),
    ("ex04_activations", "x04_import_reference"): (8, "graded", "the sigmoid cell imports nnkit's sigmoid"),
    ("ex05_backprop", "x05_honest"): (10, "graded", "the solution"),
    ("ex05_backprop", "x05_probe_redefined"): (8, "graded", "stub numerical_gradient, probe redefined later"),
    # dense_forward, relu_backward, sigmoid_backward fail, and two_layer_loss, built on dense_forward
    ("ex05_backprop", "x05_kernels"): (5, "graded", "private kernel, gc-found original, reloaded module"),
    ("ex06_optimizers", "x06_honest"): (10, "graded", "the solution"),
    ("ex06_optimizers", "x06_private_kernel"): (7, "graded", "adam_step calls nnkit.optim's private rule"),
    # momentum_step runs only in its own part's sandbox (the released Try-it/demo cells that call it are
    # not run), so its forgery costs momentum its points and gives the stub nesterov_step none: the other
    # three optimizers keep theirs
    ("ex06_optimizers", "x06_forge_other_part"): (6, "graded", "momentum forges nesterov's events"),
    ("ex07_regularization", "x07_honest"): (10, "graded", "the solution"),
    ("ex07_regularization", "x07_flood"): (8, "graded", "l2_penalty floods the pipe with 120 MB"),
    ("ex08_digit_classifier", "x08_honest"): (13, "graded", "the solution"),
    # standardize and confusion_matrix reach for nnkit.data / nnkit.plotting, not in ex08's sandbox; the
    # classifier's lookup of the held-out labels is tests/hostile/fairness.py's looks_up_digits
    ("ex08_digit_classifier", "x08_lookup"): (9, "graded", "calls nnkit's standardize and confusion matrix"),
}

ASSIGNMENTS = sorted({a for a, _s in MANIFEST})


def _src(cell) -> str:
    s = cell.get("source", "")
    return "".join(s) if isinstance(s, list) else s


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def _code(source: str) -> dict:
    return {"cell_type": "code", "metadata": {}, "source": source, "outputs": [], "execution_count": None}


def notebook(release: dict, solution: dict, answers: dict[str, str] | None = None,
             after: dict[str, str] | None = None) -> dict:
    """The release notebook with the solution's answers, ``answers`` replacing some (by grade id), and
    extra code cells after the answer cells named in ``after``."""
    sol = {_meta(c)["grade_id"]: _src(c) for c in solution["cells"]
           if c["cell_type"] == "code" and _meta(c).get("solution")}
    sol.update(answers or {})
    nb = copy.deepcopy(release)
    cells = []
    for cell in nb["cells"]:
        gid = _meta(cell).get("grade_id")
        if cell["cell_type"] == "code" and _meta(cell).get("solution") and gid in sol:
            cell = {**cell, "source": sol[gid]}
        cells.append(cell)
        if gid in (after or {}):
            cells.append(_code(after[gid]))
    nb["cells"] = cells
    return nb


FALLBACK = "    except Exception as exc:\n        print('no luck:', type(exc).__name__, exc)\n"

SIBLING = {
    "answer_predict": "def predict(X, w, b):\n    try:\n        p = nnkit.models.Perceptron(len(w))\n"
                      "        p.w, p.b = np.asarray(w, float), float(b)\n        return p.predict(X)\n"
                      + FALLBACK + "    return np.ones(len(X))",
    "answer_fit_perceptron": "def fit_perceptron(X, y, lr=1.0, epochs=100):\n    try:\n"
                             "        m = nnkit.models.MulticlassPerceptron(X.shape[1], 2)\n"
                             "        m.fit(X, (np.asarray(y) > 0).astype(int), epochs=epochs)\n"
                             "        W, b = m.W, m.b\n"
                             "        return W[:, 1] - W[:, 0], float(b[1] - b[0]), [0]\n"
                             + FALLBACK + "    return np.zeros(X.shape[1]), 0.0, []",
}

READ_SOURCE = """
import glob, os, sys
STOLEN = {}
candidates = [os.path.join(p, 'nnkit', 'models', 'perceptron.py') for p in sys.path]
candidates += glob.glob('/work/*/nnkit/models/perceptron.py')
candidates += glob.glob('/work/wt/*/nnkit/models/perceptron.py')
try:
    import nnkit
    candidates.append(os.path.join(os.path.dirname(nnkit.__file__), 'models', 'perceptron.py'))
except Exception:
    pass
for path in candidates:
    try:
        exec(open(path).read().replace('from nnkit._validate', 'from nnkit._validate'), STOLEN)
        print('read', path)
        break
    except Exception as exc:
        print('cannot read', path, type(exc).__name__)

def predict(X, w, b):
    if 'Perceptron' in STOLEN:
        p = STOLEN['Perceptron'](len(w)); p.w, p.b = np.asarray(w, float), float(b)
        return p.predict(X)
    return np.ones(len(X))
"""

EXACT_PROBE = """
def numerical_gradient_probe(kind, A, c, x, h=1e-5):
    x = np.array(x, dtype=np.float64)
    v, A, c = x.ravel(), np.asarray(A, float), np.asarray(c, float)
    if kind == 'logsumexp':
        s = A @ v + c
        p = np.exp(s - s.max())
        g = A.T @ (p / p.sum())
    elif kind == 'sin':
        g = A.T @ (np.cos(A @ v) * c)
    else:
        g = A.T @ ((A @ v + c) ** 3)
    return g.reshape(x.shape), x
"""

KERNELS = {
    "answer_dense_forward": "def dense_forward(x, W, b):\n    try:\n"
                            "        from nnkit.functional import _dense_forward_kernel\n"
                            "        return _dense_forward_kernel(x, W, b), (x, W, b)\n"
                            + FALLBACK + "    return np.zeros((x.shape[0], W.shape[1])), (x, W, b)",
    "answer_relu_backward": "def relu_backward(dout, cache):\n    import gc\n    try:\n"
                            "        for f in gc.get_objects():\n"
                            "            if getattr(f, '__name__', '') == 'relu_backward' and "
                            "'nnkit' in str(getattr(f, '__module__', '')):\n"
                            "                return f(dout, cache)\n"
                            + FALLBACK + "    return np.zeros_like(dout)",
    "answer_sigmoid_backward": "def sigmoid_forward(x):\n    out = 1 / (1 + np.exp(-x))\n"
                               "    return out, out\n\n"
                               "def sigmoid_backward(dout, cache):\n    import importlib\n    try:\n"
                               "        F = importlib.reload(importlib.import_module('nnkit.functional'))\n"
                               "        return F.sigmoid_backward(dout, cache)\n"
                               + FALLBACK + "    return np.zeros_like(dout)",
}

PRIVATE_ADAM = ("def adam_step(x, dx, state=None, *, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8):\n"
                "    import importlib\n    try:\n        optim = importlib.import_module('nnkit.optim')\n"
                "        return optim._adam(x, dx, state, lr=lr, beta1=beta1, beta2=beta2, eps=eps)\n"
                + FALLBACK + "    return x, {'t': 1, 'm': np.zeros_like(x), 'v': np.zeros_like(x)}")

FORGE = """
import glob, json, os, sys

def _forge():
    # events for nesterov_step (old protocol: part index 1; new protocol: no index), on every open fd
    value = {"t": "tuple", "items": [{"t": "float", "v": "0.0"}, {"t": "dict", "items": []}]}
    lines = [{"ev": "part_end", "p": 0}, {"ev": "part_start", "p": 1}, {"ev": "part_start"}]
    lines += [{"ev": "case", "p": 1, "c": c, "ok": True, "value": value} for c in range(40)]
    lines += [{"ev": "part_end", "p": 1}, {"ev": "part_end"}, {"ev": "done"}]
    data = "".join(json.dumps(x) + "\\n" for x in lines).encode()
    for fd in range(3, 40):
        try:
            os.write(fd, data)
        except OSError:
            pass
    for path in glob.glob('/job/*'):
        print('saw', path)

_momentum = momentum_step

def momentum_step(x, dx, state=None, *, lr=1e-2, momentum=0.9):
    _forge()
    return _momentum(x, dx, state, lr=lr, momentum=momentum)
"""

FLOOD = """
import os, sys

_l2 = l2_penalty

def l2_penalty(params, lam):
    fd = int(sys.argv[-1])
    chunk = b'{"ev": "cell_end", "i": 0, "error": null}\\n' * 4096
    sent = 0
    try:
        while sent < 120 << 20:
            sent += os.write(fd, chunk)
    except OSError:
        pass
    return _l2(params, lam)
"""

LOOKUP = {
    "answer_standardize_train_test": "def standardize_train_test(X_train, X_test):\n    try:\n"
                                     "        Xs, m, s = nnkit.data.standardize(X_train)\n"
                                     "        return Xs, nnkit.data.standardize(X_test, m, s)[0]\n"
                                     + FALLBACK + "    return X_train, X_test",
    "answer_confusion_matrix": "def confusion_matrix(y_true, y_pred, n_classes):\n    try:\n"
                               "        return nnkit.plotting.confusion_matrix(y_true, y_pred, n_classes)\n"
                               + FALLBACK + "    return np.zeros((n_classes, n_classes), dtype=int)",
}


FUNCTIONAL_SCORES = ("def scores(X, W, b):\n    try:\n        return nnkit.functional.dense_forward(X, W, b)[0]\n"
                     + FALLBACK + "    return np.zeros((len(X), W.shape[1]))")
IMPORT_SIGMOID = ("from nnkit.activations import sigmoid as _reference, sigmoid_grad as _grad\n\n"
                  "def sigmoid(z):\n    return _reference(z), _grad(z)")


def _stub(release: dict, grade_id: str) -> str:
    return next(_src(c) for c in release["cells"] if _meta(c).get("grade_id") == grade_id)


def build(assignment: str, student: str, release: dict, solution: dict) -> dict[str, bytes]:
    """{file name: bytes} of the submission folder."""
    kind = student.split("_", 1)[1]
    if kind == "honest":
        nb = notebook(release, solution)
    elif kind == "sibling":
        nb = notebook(release, solution, SIBLING)
    elif kind == "read_source":
        nb = notebook(release, solution, {"answer_predict": READ_SOURCE})
    elif kind == "probe_redefined":
        nb = notebook(release, solution, {"answer_numerical_gradient": _stub(release, "answer_numerical_gradient")},
                      after={"answer_two_layer_loss": EXACT_PROBE})
    elif kind == "kernels":
        nb = notebook(release, solution, KERNELS)
    elif kind == "private_kernel":
        nb = notebook(release, solution, {"answer_adam_step": PRIVATE_ADAM})
    elif kind == "forge_other_part":
        nb = notebook(release, solution, {"answer_nesterov_step": _stub(release, "answer_nesterov_step")},
                      after={"answer_momentum_step": FORGE})
    elif kind == "flood":
        nb = notebook(release, solution, after={"answer_l2_penalty": FLOOD})
    elif kind == "functional":
        nb = notebook(release, solution, {"answer_scores": FUNCTIONAL_SCORES})
    elif kind == "import_reference":
        nb = notebook(release, solution, {"answer_sigmoid": IMPORT_SIGMOID})
    elif kind == "lookup":
        nb = notebook(release, solution, LOOKUP)
    else:
        raise KeyError(student)
    return {f"{assignment}.ipynb": json.dumps(nb, indent=1).encode()}


_PEAK = """
import json, resource, sys, tempfile
from pathlib import Path
from nnkit.course import engine, sandbox
from tests.hostile import across
repo, student, wide = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "wide"
a = engine.Assignment.load(repo / "course", "ex07_regularization")
rel = json.loads((repo / "exercises/ex07_regularization/ex07_regularization.ipynb").read_text())
sol = json.loads((repo / "solutions/ex07_regularization/ex07_regularization.ipynb").read_text())
folder = Path(tempfile.mkdtemp())
for name, data in across.build("ex07_regularization", student, rel, sol).items():
    (folder / name).write_bytes(data)
# wide: caps far above the flood, so all of it streams through the trusted side's reader
limits = sandbox.Limits(result_bytes=256 << 20, events_per_item=10**9, part_cap_seconds=60) if wide else None
r = engine.grade_submission(a, "s", folder, run_seed=1, limits=limits)
print(json.dumps({"score": r.score, "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}))
"""


def peak_memory(student: str, wide: bool = False, timeout: float = 900) -> dict:
    """Grade one ex07 submission of this manifest in a fresh process: ``{"score", "peak"}`` (peak RSS in
    bytes of the trusted grading process; the sandbox is another process). ``wide``: caps far above the
    flood. The hostile tests and ``benchmarks/grading.py --memory`` both measure with it."""
    repo = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _PEAK, str(repo), student, "wide" if wide else "caps"],
                         capture_output=True, text=True, timeout=timeout, cwd=repo,
                         env={**os.environ, "PYTHONPATH": str(repo)})
    if out.returncode != 0:
        raise RuntimeError(f"grading {student} for its peak memory failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.splitlines()[-1])
