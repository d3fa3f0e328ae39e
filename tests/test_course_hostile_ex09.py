"""The ex09_deep_networks corpus (tests/hostile/ex09_cases.py), graded in ONE batch by `nnkit-course grade`.

Every submission gets exactly its expected score, the reasons say what happened, and solutions/, the
graders and the released exercises are byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from nnkit.course import cli, sandbox
from tests._course_fixture import copy_released, released_tree
from tests.hostile.ex09_cases import ASSIGNMENT, MANIFEST, POINTS, build

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sandbox.detect() != "bwrap",
                       reason="the hostile batch needs bubblewrap (apt-get install bubblewrap)"),
]
OPTS = ["--seed", "13", "--quiet", "--jobs", "2", "--part-timeout", "30", "--cell-timeout", "30",
        "--submission-timeout", "240"]


def _tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = copy_released(released_tree(), tmp_path_factory.mktemp("hostile09") / "repo")
    root = course.parent
    (sol,) = (root / "solutions" / ASSIGNMENT).glob("*.ipynb")
    (rel,) = (root / "exercises" / ASSIGNMENT).glob("*.ipynb")
    ctx = {"release": json.loads(rel.read_text()), "solution": json.loads(sol.read_text()),
           "repo": root, "course": course, "marker": "ex09"}
    for name in MANIFEST:
        folder = course / "submitted" / name / ASSIGNMENT
        folder.mkdir(parents=True)
        for fname, data in build(name, ctx).items():
            (folder / fname).write_bytes(data)
    before = {d: _tree_hash(root / d) for d in ("solutions", "exercises")}
    before["graders"] = _tree_hash(course / "graders")
    assert cli.main(["--course", str(course), "grade", ASSIGNMENT, *OPTS]) == 0
    report = json.loads((course / "reports" / f"{ASSIGNMENT}.json").read_text())
    return course, {s["student"]: s for s in report["students"]}, before


def test_the_manifest_adds_up():
    assert sum(POINTS.values()) == MANIFEST["honest_full"][0] == 11


def test_every_expected_score(batch):
    _course, report, _before = batch
    assert set(report) == set(MANIFEST)
    wrong = {name: (report[name]["score"], report[name]["status"], exp[:2],
                    [(p["grade_id"], p["reason"]) for p in report[name]["parts"] if p["reason"]])
             for name, exp in MANIFEST.items()
             if (report[name]["score"], report[name]["status"]) != exp[:2]}
    assert not wrong, json.dumps(wrong, indent=1)
    assert all(s["sandbox"] == "bwrap" for s in report.values())


def test_reasons_say_what_happened(batch):
    _course, report, _before = batch
    r = {name: {p["grade_id"]: p["reason"] or "" for p in s["parts"]} for name, s in report.items()}
    assert "reference" in r["calls_mlp"]["test_network_loss"]
    assert "reference" in r["dense_for_init"]["test_init_params"]
    # one sandbox image per assignment: what Part 1 forbids (nnkit.layers) is absent for every part
    assert "not installed here" in r["dense_for_init"]["test_overfit_small_batch"]
    assert "not below 0.05" in r["fake_overfit"]["test_overfit_small_batch"]
    assert "not the loss at He initialization" in r["zero_init_always"]["test_overfit_small_batch"]
    assert "differ" in r["reseeds_each_layer"]["test_init_params"]
    reason = r["exit_in_overfit"]["test_overfit_small_batch"]
    assert "ended" in reason or "exit" in reason


def test_nothing_outside_the_sandbox_changed(batch):
    course, _report, before = batch
    root = course.parent
    for d in ("solutions", "exercises"):
        assert _tree_hash(root / d) == before[d], d
    assert _tree_hash(course / "graders") == before["graders"]
