"""Every trusted grader agrees with its solution notebook, and gives nothing to the empty stub."""

from pathlib import Path

import pytest

from tests._spec_harness import ROOT, load_parts, run_parts

ASSIGNMENTS = sorted(p.stem for p in (ROOT / "course" / "graders").glob("ex*.py"))


def _notebook(folder: str, assignment: str) -> Path:
    notebooks = sorted((ROOT / folder / assignment).glob("*.ipynb"))
    if len(notebooks) != 1:
        pytest.fail(f"{folder}/{assignment} must hold exactly one notebook, found {notebooks}")
    return notebooks[0]


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_passes_every_part(assignment):
    results = run_parts(assignment, _notebook("solutions", assignment), seed=1234)
    assert results, f"{assignment} defines no parts"
    failed = {gid: why for gid, why in results.items() if why}
    assert not failed, f"the solution of {assignment} fails its own grader: {failed}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_student_stub_earns_nothing(assignment):
    released = ROOT / "exercises" / assignment
    if not released.exists():
        pytest.fail(f"exercises/{assignment} is missing: run `nnkit-course release`")
    results = run_parts(assignment, _notebook("exercises", assignment), seed=99)
    passed = [gid for gid, why in results.items() if why is None]
    assert not passed, f"the untouched student version of {assignment} passes {passed}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_parts_have_grade_cells(assignment):
    import json
    nb = json.loads(_notebook("solutions", assignment).read_text())
    grade_ids = {c["metadata"]["nbgrader"]["grade_id"] for c in nb["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    for part in load_parts(assignment):
        assert part.grade_id in grade_ids, f"{assignment}: part {part.grade_id} has no graded cell"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_forbidden_references_exist(assignment):
    """A forbidden name that does not resolve would make every call of the part fail."""
    from nnkit.grading import _resolve
    for part in load_parts(assignment):
        for name in part.forbidden:
            _resolve(name)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_forbidden_references_coexist(assignment):
    """The sandbox sets every part's tripwires at once: forbidding a class must not hide its methods."""
    from nnkit.grading import forbid_reference
    names = sorted({name for part in load_parts(assignment) for name in part.forbidden})
    with forbid_reference(names):
        pass
