"""`nnkit-course similarity`: planted copies rank first; honest work and untouched stubs are not flagged.

A cohort of ex02_losses submissions (the real released template): three honest students who solved
it independently in their own styles, one who did half and left the rest as stubs, two who handed in
the untouched template, dana and eve (eve copied dana, renaming every variable, rewording the comments
and reordering the functions), and finn, who pasted nnkit's own implementation (taken from the
installed package's source at test time, so the test follows nnkit as it changes).
"""

from __future__ import annotations

import inspect
import json
import shutil

import pytest

from nnkit.course import cli, similarity
from tests._course_fixture import REPO

ASSIGNMENT = "ex02_losses"

HONEST = {
    "alice": {  # vectorised, close to the textbook
        "mae": "    p = np.asarray(pred, dtype=float)\n    t = np.asarray(target, dtype=float)\n"
               "    return float(np.mean(np.abs(p - t)))",
        "mse": "    d = np.asarray(pred, dtype=float) - np.asarray(target, dtype=float)\n"
               "    return float(np.mean(d * d))",
        "hinge": "    margins = 1.0 - np.asarray(y, float) * np.asarray(scores, float)\n"
                 "    return float(np.maximum(margins, 0.0).mean())",
        "zero_one": "    guesses = np.asarray(scores).argmax(axis=1)\n"
                    "    return float((guesses != np.asarray(y)).mean())",
        "softmax": "    s = np.asarray(scores, dtype=float)\n    s = s - np.max(s, axis=1, keepdims=True)\n"
                   "    e = np.exp(s)\n    return e / np.sum(e, axis=1, keepdims=True)",
        "softmax_cross_entropy":
            "    s = np.asarray(scores, dtype=float)\n    n = s.shape[0]\n    p = softmax(s)\n"
            "    idx = np.arange(n)\n    loss = -np.mean(np.log(p[idx, y]))\n    g = p.copy()\n"
            "    g[idx, y] -= 1\n    return float(loss), g / n",
    },
    "bruno": {  # explicit loops, the way a first-year programmer writes it
        "mae": "    flat_p = np.ravel(pred)\n    flat_t = np.ravel(target)\n    total = 0.0\n"
               "    for a, b in zip(flat_p, flat_t):\n        total += abs(float(a) - float(b))\n"
               "    return total / len(flat_p)",
        "mse": "    flat_p = np.ravel(pred)\n    flat_t = np.ravel(target)\n    acc = 0.0\n"
               "    for i in range(len(flat_p)):\n"
               "        acc = acc + (float(flat_p[i]) - float(flat_t[i])) ** 2\n"
               "    return acc / len(flat_p)",
        "hinge": "    cost = 0.0\n    for s_i, y_i in zip(scores, y):\n"
                 "        cost += max(0.0, 1.0 - float(y_i) * float(s_i))\n    return cost / len(scores)",
        "zero_one": "    wrong = 0\n    for row, label in zip(scores, y):\n"
                    "        if int(np.argmax(row)) != int(label):\n            wrong += 1\n"
                    "    return wrong / len(y)",
        "softmax": "    out = []\n    for row in np.asarray(scores, dtype=float):\n        top = max(row)\n"
                   "        ex = [np.exp(v - top) for v in row]\n        z = sum(ex)\n"
                   "        out.append([v / z for v in ex])\n    return np.array(out)",
        "softmax_cross_entropy":
            "    probs = softmax(scores)\n    count = len(y)\n    loss = 0.0\n"
            "    grad = np.array(probs, dtype=float)\n    for i in range(count):\n"
            "        loss -= np.log(probs[i][y[i]])\n        grad[i][y[i]] -= 1.0\n"
            "    return loss / count, grad / count",
    },
    "chen": {  # other numpy idioms: norms, where, log-sum-exp
        "mae": "    residual = np.subtract(pred, target, dtype=np.float64)\n"
               "    return float(np.linalg.norm(residual.ravel(), ord=1) / residual.size)",
        "mse": "    residual = np.subtract(pred, target, dtype=np.float64).ravel()\n"
               "    return float(residual @ residual / residual.size)",
        "hinge": "    yy = np.asarray(y, dtype=np.float64)\n"
        "    prod = yy * np.asarray(scores, dtype=np.float64)\n"
                 "    return float(np.where(prod < 1.0, 1.0 - prod, 0.0).sum() / prod.shape[0])",
        "zero_one": "    labels = np.asarray(y)\n"
        "    hits = np.count_nonzero(np.argmax(scores, axis=-1) == labels)\n"
                    "    return 1.0 - hits / labels.shape[0]",
        "softmax": "    x = np.asarray(scores, dtype=np.float64)\n    m = x.max(axis=-1)[:, None]\n"
                   "    lse = m + np.log(np.exp(x - m).sum(axis=-1))[:, None]\n    return np.exp(x - lse)",
        "softmax_cross_entropy":
            "    x = np.asarray(scores, dtype=np.float64)\n    m = x.max(axis=-1)[:, None]\n"
            "    logp = x - (m + np.log(np.exp(x - m).sum(axis=-1))[:, None])\n"
            "    onehot = np.eye(x.shape[1])[np.asarray(y)]\n"
            "    loss = -(onehot * logp).sum() / x.shape[0]\n"
            "    return float(loss), (np.exp(logp) - onehot) / x.shape[0]",
    },
    "ivan": {  # did three parts, the rest still the stub
        "mae": "    e = np.abs(np.asarray(pred, np.float64) - target)\n    return float(e.sum() / e.size)",
        "mse": "    sq = np.square(np.asarray(pred, np.float64) - target)\n"
        "    return float(sq.sum() / sq.size)",
        "zero_one": "    return float(np.mean(np.argmax(scores, 1) != y))",
    },
}

DANA = {  # her own style: helper-free, with running comments
    "mae": "    # mean of the absolute differences\n    gaps = np.fabs(np.asarray(pred, dtype=np.float64)"
           " - np.asarray(target, dtype=np.float64))\n    n_items = gaps.size\n"
           "    return float(np.add.reduce(gaps.ravel()) / n_items)",
    "mse": "    # mean of the squared differences\n    gaps = np.asarray(pred, dtype=np.float64)"
           " - np.asarray(target, dtype=np.float64)\n    n_items = gaps.size\n"
           "    return float(np.add.reduce((gaps ** 2).ravel()) / n_items)",
    "hinge": "    # margins below one cost\n    marg = np.multiply(np.asarray(y, dtype=np.float64),"
             " np.asarray(scores, dtype=np.float64))\n    cost = np.clip(1.0 - marg, 0.0, None)\n"
             "    return float(np.add.reduce(cost) / cost.shape[0])",
    "zero_one": "    # predicted class per row\n    chosen = np.argmax(np.asarray(scores), axis=1)\n"
                "    bad = np.not_equal(chosen, np.asarray(y)).astype(np.float64)\n"
                "    return float(np.add.reduce(bad) / bad.shape[0])",
    "softmax": "    # shift each row so its largest entry is 0\n"
    "    arr = np.asarray(scores, dtype=np.float64)\n"
               "    arr = arr - np.amax(arr, axis=1, keepdims=True)\n    ex = np.exp(arr)\n"
               "    tot = np.add.reduce(ex, axis=1, keepdims=True)\n    return np.divide(ex, tot)",
    "softmax_cross_entropy":
        "    # probabilities first, then the true-class log-probability\n    pr = softmax(scores)\n"
        "    rows = np.arange(pr.shape[0])\n    lab = np.asarray(y)\n"
        "    loss = -np.add.reduce(np.log(pr[rows, lab])) / pr.shape[0]\n"
        "    gr = np.array(pr)\n    gr[rows, lab] = gr[rows, lab] - 1.0\n"
        "    return float(loss), np.divide(gr, pr.shape[0])",
}
RENAME = {"gaps": "delta", "n_items": "count", "marg": "m_vals", "cost": "hl", "chosen": "pick",
          "bad": "wrong_mask", "arr": "z", "ex": "expd", "tot": "denom", "pr": "probs", "rows": "ii",
          "lab": "cls", "gr": "dz", "loss": "value"}


def _eve() -> dict[str, str]:
    import re

    out = {}
    for fn, body in DANA.items():
        for old, new in RENAME.items():
            body = re.sub(rf"\b{old}\b", new, body)
        body = re.sub(r"# .*", "# my own working", body)
        out[fn] = body
    return dict(reversed(out.items()))  # and in another order


def _finn() -> dict[str, str]:
    """nnkit's implementations, pasted whole (the function cells then define them)."""
    import nnkit.activations
    import nnkit.losses

    srcs = {}
    for fn in ("mae", "mse", "hinge", "zero_one", "softmax_cross_entropy"):
        srcs[fn] = inspect.getsource(getattr(nnkit.losses, fn))
    srcs["softmax"] = inspect.getsource(nnkit.activations.softmax)
    return srcs


def _notebook(template: dict, answers: dict[str, str], whole: bool = False) -> dict:
    nb = json.loads(json.dumps(template))
    for cell in nb["cells"]:
        gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
        fn = gid.removeprefix("answer_")
        if gid.startswith("answer_") and fn in answers:
            src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
            header = src.split("    # YOUR CODE HERE")[0]
            cell["source"] = answers[fn] if whole else header + answers[fn] + "\n"
    return nb


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("similarity")
    for sub in ("solutions", "exercises"):
        shutil.copytree(REPO / sub / ASSIGNMENT, root / sub / ASSIGNMENT)
    (root / "course" / "graders").mkdir(parents=True)
    shutil.copy(REPO / "course" / "nbgrader_config.py", root / "course")
    shutil.copy(REPO / "course" / "graders" / f"{ASSIGNMENT}.py", root / "course" / "graders")
    (tpath,) = (root / "exercises" / ASSIGNMENT).glob("*.ipynb")
    template = json.loads(tpath.read_text())
    notebooks = {s: _notebook(template, a) for s, a in HONEST.items()}
    notebooks["dana"] = _notebook(template, DANA)
    notebooks["eve"] = _notebook(template, _eve())
    notebooks["finn"] = _notebook(template, _finn(), whole=True)
    notebooks["gus"] = notebooks["hana"] = template
    for student, nb in notebooks.items():
        folder = root / "course" / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / tpath.name).write_text(json.dumps(nb))
    (root / "course" / "submitted" / "kai" / ASSIGNMENT).mkdir(parents=True)  # a folder, no notebook
    return root / "course"


def test_planted_copies_rank_first_and_nothing_honest_is_flagged(cohort):
    report = similarity.run(cohort, ASSIGNMENT)
    top = report.pairs[0]
    assert {top.a, top.b} == {"dana", "eve"} and top.flagged, report.pairs[:3]
    assert [{m.a, m.b} for m in report.flagged_pairs()] == [{"dana", "eve"}], report.flagged_pairs()
    assert report.reference[0].a == "finn" and report.reference[0].flagged, report.reference[:3]
    assert [m.a for m in report.flagged_reference()] == ["finn"], report.reference[:4]
    # untouched stubs are not compared at all (nothing of their own), so they cannot match each other
    assert report.nothing_own == ["gus", "hana"]
    assert not any({"gus", "hana"} & {m.a, m.b} for m in report.pairs)
    assert report.not_submitted == ["kai"]
    # honest students: clearly below the threshold, against each other and against nnkit
    honest = set(HONEST)
    worst_pair = max(m.score for m in report.pairs if {m.a, m.b} <= honest | {"dana"})
    worst_ref = max(m.share_a for m in report.reference if m.a in honest | {"dana", "eve"})
    assert worst_pair < similarity.THRESHOLD and worst_ref < similarity.THRESHOLD, (worst_pair, worst_ref)
    assert top.score > 0.8 and report.reference[0].share_a > 0.8


def test_cli_writes_the_report_and_leaves_grades_alone(cohort, capsys):
    before = sorted(p.relative_to(cohort) for p in cohort.rglob("*") if "reports" not in p.parts)
    assert cli.main(["--course", str(cohort), "similarity", ASSIGNMENT]) == 0
    out = capsys.readouterr().out
    assert "1 pairs flagged" in out and "1 answers like nnkit's reference" in out
    html = (cohort / "reports" / f"{ASSIGNMENT}-similarity.html").read_text()
    assert "does not change any grade" in html and "<mark>" in html
    assert html.index("dana") < html.index("alice")  # the flagged pair is listed first
    data = json.loads((cohort / "reports" / f"{ASSIGNMENT}-similarity.json").read_text())
    assert {data["pairs"][0]["a"], data["pairs"][0]["b"]} == {"dana", "eve"}
    after = sorted(p.relative_to(cohort) for p in cohort.rglob("*") if "reports" not in p.parts)
    assert before == after and not (cohort / "gradebook.db").exists()


def test_reference_source_is_the_package_without_the_course_tooling():
    src = similarity.reference_source()
    assert "# ---- nnkit/losses.py ----" in src and "def softmax_cross_entropy" in src
    assert "nnkit/course/" not in src
