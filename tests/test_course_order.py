"""The order of the assignments, read from the folders themselves so that it cannot drift.

``solutions/`` is the single source: its folders ``exNN_topic`` are numbered 01, 02, ... without a gap,
``exercises/`` and ``course/graders/`` hold exactly the same names, each notebook is named after its
folder and titled "Exercise N" with its folder's number (cell ids that carry a number carry that one),
and the course's prerequisites come first: a topic is taught before the exercises that build on it.
"""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"ex(\d\d)_([a-z0-9_]+)")

# (earlier topic, later topic): the later exercise builds on the earlier one
PREREQUISITES = [
    ("losses", "softmax_regression"),     # softmax regression trains with ex02's softmax cross-entropy
    ("activations", "backprop"),          # backprop chains the derivatives the activations exercise derives
    ("backprop", "digit_classifier"),     # the digit classifier trains the backprop exercise's network
    ("backprop", "deep_networks"),        # a deep network repeats the two-layer backward pass
]


def _folders(top: str) -> list[str]:
    return sorted(p.name for p in (ROOT / top).iterdir() if p.is_dir() and NAME.fullmatch(p.name))


ASSIGNMENTS = _folders("solutions")


def _number(name: str) -> int:
    return int(NAME.fullmatch(name).group(1))


def test_numbered_from_one_without_gaps():
    assert ASSIGNMENTS, "no exNN_topic folders in solutions/"
    assert [_number(a) for a in ASSIGNMENTS] == list(range(1, len(ASSIGNMENTS) + 1)), ASSIGNMENTS


def test_every_name_is_used_once():
    topics = [NAME.fullmatch(a).group(2) for a in ASSIGNMENTS]
    assert len(set(topics)) == len(topics), topics


def test_solutions_exercises_and_graders_name_the_same_assignments():
    graders = sorted(p.stem for p in (ROOT / "course" / "graders").glob("ex*.py"))
    assert _folders("exercises") == ASSIGNMENTS, "exercises/ differs from solutions/: `nnkit-course release`"
    assert graders == ASSIGNMENTS, "course/graders/ differs from solutions/"


@pytest.mark.parametrize("top", ["solutions", "exercises"])
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_is_named_and_titled_after_its_folder(top, assignment):
    notebooks = sorted((ROOT / top / assignment).glob("*.ipynb"))
    assert [p.name for p in notebooks] == [f"{assignment}.ipynb"]
    cells = json.loads(notebooks[0].read_text())["cells"]
    title = "".join(cells[0]["source"]).splitlines()[0]
    number = _number(assignment)
    assert re.match(rf"# Exercise {number}:", title), f"{top}/{assignment} starts with {title!r}"
    stale = [c["id"] for c in cells if (m := re.match(r"ex(\d\d)-", c.get("id", ""))) and int(m[1]) != number]
    assert not stale, f"{top}/{assignment}: cell ids of another exercise number: {stale}"


@pytest.mark.parametrize(("earlier", "later"), PREREQUISITES)
def test_prerequisite_comes_first(earlier, later):
    position = {NAME.fullmatch(a).group(2): i for i, a in enumerate(ASSIGNMENTS)}
    missing = [t for t in (earlier, later) if t not in position]
    assert not missing, f"no exercise on {missing} in {ASSIGNMENTS}"
    assert position[earlier] < position[later], f"{earlier} must come before {later}: {ASSIGNMENTS}"
