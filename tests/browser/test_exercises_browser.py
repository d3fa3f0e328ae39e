"""A student works an exercise in JupyterLab: the public test cell guides them.

Opens the student version of an nbgrader exercise (``exercises/``), runs the cells above the first
answer, types the correct answer (taken from the instructor's ``solutions/`` notebook) into the answer
cell, runs it and its public test cell: the checks pass. Then types a typical wrong answer: the same
test cell fails with the helpful message (the part, expected vs got), not a bare ``AssertionError``.
"""

from __future__ import annotations

import json
import re

import pytest

from ._lab_ui import STDERR, Notebook
from ._paths import SOURCE

pytestmark = pytest.mark.browser

ASSIGNMENT = "ex02_losses"
NOTEBOOK = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
ANSWER_ID, TEST_ID = "answer_mae", "test_mae"
# Summing instead of averaging: 4 instead of 4/3 on the public test's first example.
WRONG_ANSWER = '''def mae(pred, target):
    """Mean absolute error over all elements."""
    return float(np.sum(np.abs(pred - target)))'''


def cell_index(nb_json: dict, grade_id: str) -> int:
    for i, cell in enumerate(nb_json["cells"]):
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            return i
    raise AssertionError(f"no cell with nbgrader grade_id {grade_id!r}")


def solution_source(solution_json: dict, grade_id: str) -> str:
    """The instructor's answer cell with nbgrader's solution markers removed."""
    source = "".join(solution_json["cells"][cell_index(solution_json, grade_id)]["source"])
    return "\n".join(
        line for line in source.splitlines() if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
    )


def test_exercise_public_tests_pass_and_guide(page, lab_server, course_file):
    student_path = course_file(f"exercises/{NOTEBOOK}")
    solution_path = course_file(f"solutions/{NOTEBOOK}")
    student = json.loads((SOURCE / student_path).read_text())
    answer, test = cell_index(student, ANSWER_ID), cell_index(student, TEST_ID)
    assert "raise NotImplementedError()" in "".join(student["cells"][answer]["source"])
    correct = solution_source(json.loads((SOURCE / solution_path).read_text()), ANSWER_ID)
    assert "NotImplementedError" not in correct

    nb = Notebook.open(page, lab_server, student_path)
    assert nb.panel.locator(".jp-Toolbar-item", has_text="Validate").count() == 1, (
        "nbgrader's Validate button is missing from the notebook toolbar"
    )
    # Set-up cells: select the answer cell, Run > Run All Above Selected Cell.
    nb.cell(answer).locator(".jp-InputPrompt").first.click()
    before = nb.panel.locator(".jp-InputPrompt").all_inner_texts()
    nb.menu("Run", "Run All Above Selected Cell")
    nb.wait_started(before)
    nb.wait_until_done()
    assert not nb.error_outputs(), f"set-up cells failed: {nb.error_outputs()}"

    # A correct answer: the public tests print their check marks, no error.
    nb.set_cell_source(answer, correct)
    nb.run_cell(answer)
    nb.run_cell(test)
    passed = nb.outputs_text(test)
    errors = nb.cell(test).locator(STDERR).all_inner_texts()
    assert not errors, f"public test failed on the reference answer:\n{errors}"
    assert passed.count("\u2713") >= 2 and "mae" in passed, f"no success message: {passed!r}"

    # A typical wrong answer: the failure names the part and shows expected vs got.
    nb.set_cell_source(answer, WRONG_ANSWER)
    nb.run_cell(answer)
    nb.run_cell(test)
    failure = "\n".join(nb.cell(test).locator(STDERR).all_inner_texts())
    assert failure, f"the wrong answer passed the public test: {nb.outputs_text(test)!r}"
    assert "mae" in failure, f"the failure does not name the part: {failure}"
    assert re.search(r"expected\s+1\.333", failure) and re.search(r"got\s+4\b", failure), (
        f"the failure does not show expected (4/3) vs got (4): {failure}"
    )
