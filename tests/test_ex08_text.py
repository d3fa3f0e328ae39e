"""ex08's reference written answer says only what its own notebook computes.

The solution notebook is run here (the cells a student runs, in order); the numbers its "try one change"
and "mistakes" cells print are read back, and every accuracy, count and confusion the reference answer
names must be among them: an answer naming confusions the confusion matrix does not show fails.
"""

from __future__ import annotations

import contextlib
import io
import json
import re

import matplotlib
import pytest

from tests._spec_harness import ROOT

NOTEBOOK = ROOT / "solutions" / "ex08_digit_classifier" / "ex08_digit_classifier.ipynb"


def _source(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


@pytest.fixture(scope="module")
def printed() -> dict[str, str]:
    matplotlib.use("Agg", force=True)
    nb = json.loads(NOTEBOOK.read_text())
    ns: dict = {"__name__": "__main__"}
    out = {}
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            exec(compile(_source(cell), cell["id"], "exec"), ns)  # noqa: S102 - our own notebook
        out[cell["id"]] = buf.getvalue()
    return out


@pytest.fixture(scope="module")
def answer() -> str:
    nb = json.loads(NOTEBOOK.read_text())
    (cell,) = [c for c in nb["cells"] if c["id"] == "written_reflection"]
    return " ".join(_source(cell).split())


def test_every_accuracy_in_the_answer_was_printed(printed, answer):
    shown = set(re.findall(r"test accuracy (\d+\.\d)%", printed["try-one-change"] + printed["look-mistakes"]))
    named = set(re.findall(r"(\d+\.\d) %", answer))
    assert named and named <= shown, (named - shown, printed["try-one-change"])
    table = dict(re.findall(r"^(.+?)\s+test accuracy (\d+\.\d)%$", printed["try-one-change"], re.M))
    assert f"lr 0.01 with the same 30 epochs reaches only {table['lr 0.01']} %" in answer
    assert f"5 epochs instead of 30 reach {table['5 epochs']} %" in answer
    assert f"({table['no standardization']} % without it)" in answer
    assert f"16 hidden units do as well as 64 ({table['16 hidden units']} %)" in answer


def test_the_confusions_named_are_the_ones_the_matrix_shows(printed, answer):
    look = printed["look-mistakes"]
    wrong, total = re.search(r"(\d+) of (\d+) test images wrong", look).groups()
    assert f"gets {wrong} of the {total} test images wrong" in answer
    pairs = re.findall(r"true (\d) predicted as (\d): (\d+) times", look)
    named = re.findall(r"true (\d) predicted as (\d), (\w+) times", answer)
    words = {"two": "2", "three": "3", "four": "4", "five": "5"}
    assert [(t, p, words.get(n, n)) for t, p, n in named] == pairs
    worst = re.search(r"true digits wrong most often: (.*)", look).group(1)
    d = re.findall(r"(\d) \((\d+) errors\)", worst)
    assert (f"true digits it gets wrong most often are {d[0][0]} ({d[0][1]} errors), {d[1][0]} ({d[1][1]}) "
            f"and {d[2][0]} ({d[2][1]})") in answer
