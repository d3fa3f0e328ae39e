"""A tiny nbgrader assignment ("fx_tiny") built in a temporary course, for the grading engine's tests.

Three autograded parts (double 1 pt, mse 2 pts, total 1 pt) and one written answer (1 pt, manual),
with a trusted grader module. Built without nbgrader, so the engine tests stay fast.
"""

from __future__ import annotations

import json
from pathlib import Path

ASSIGNMENT = "fx_tiny"

SETUP = "import numpy as np\n\nimport nnkit.losses\nfrom nnkit.grading import check_close, forbid_reference"

HEADERS = {
    "double": 'def double(x):\n    """Twice x (any shape)."""\n',
    "mse": 'def mse(pred, target):\n    """Mean squared error."""\n',
    "total": 'def total(x):\n    """Sum of all entries."""\n',
}
BODIES = {
    "double": "    return 2 * np.asarray(x, dtype=float)",
    "mse": "    d = np.asarray(pred, float) - np.asarray(target, float)\n    return float(np.mean(d ** 2))",
    "total": "    return float(np.sum(x))",
}
ANSWERS = {fn: HEADERS[fn] + BODIES[fn] for fn in HEADERS}
STUB = "    # YOUR CODE HERE\n    raise NotImplementedError()"
POINTS = {"double": 1, "mse": 2, "total": 1}
PUBLIC = {
    "double": "check_close(double(np.ones(2)), np.array([2.0, 2.0]), 'double')",
    "mse": "check_close(mse(np.ones(2), np.zeros(2)), 1.0, 'mse')",
    "total": "check_close(total(np.ones(2)), 2.0, 'total')",
}
HIDDEN = {
    "double": "check_close(double(np.array([1e300])), np.array([2e300]), 'double of a huge number')",
    "mse": "check_close(mse(np.array([[7.25]]), np.array([[1.125]])), 37.515625, 'mse hidden fx')",
    "total": "check_close(total(np.arange(17.0).reshape(1, 17)), 136.0, 'total hidden fx')",
}

GRADER = '''
import numpy as np

from nnkit import losses
from nnkit.course.spec import Case, Part, close_to


def _one(rng):
    n = int(rng.integers(2, 6))
    return [Case((rng.normal(size=(n, 3)),), label=f"a ({n}, 3) array"),
            Case((rng.normal(size=1),), label="one number")]


def _pairs(rng):
    n = int(rng.integers(2, 6))
    return [Case((rng.normal(size=n), rng.normal(size=n)), label=f"{n} predictions"),
            Case((rng.normal(size=(2, 3)).astype(np.float32), rng.normal(size=(2, 3))),
                 label="float32 predictions")]


PARTS = [
    Part("test_double", "double", _one, close_to(lambda x: 2.0 * x), description="double it"),
    Part("test_mse", "mse", _pairs, close_to(lambda p, t: losses.mse(p, t)[0], rtol=1e-5),
         forbidden=("nnkit.losses.mse",), description="mean squared error"),
    Part("test_total", "total", _one, close_to(lambda x: float(np.sum(x))), description="sum"),
]
'''


def _meta(grade_id, *, grade=False, solution=False, locked=False, points=None):
    m = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
    if points is not None:
        m["points"] = points
    return {"nbgrader": m}


def _code(source, meta=None):
    return {"cell_type": "code", "metadata": meta or {}, "source": source, "outputs": [],
            "execution_count": None}


def _md(source, meta=None):
    return {"cell_type": "markdown", "metadata": meta or {}, "source": source}


def notebook(version: str, answers: dict[str, str] | None = None) -> dict:
    """version: "source" (solutions + hidden tests), "release" (stubs, no hidden tests)."""
    cells = [_md("# Tiny exercise", _meta("intro", locked=True)),
             _code(SETUP, _meta("setup", locked=True))]
    for fn in ANSWERS:
        if version == "source":
            src = HEADERS[fn] + "    ### BEGIN SOLUTION\n" + BODIES[fn] + "\n    ### END SOLUTION"
        else:
            src = HEADERS[fn] + STUB
        if answers and fn in answers:
            src = answers[fn]
        cells.append(_md(f"## {fn}", _meta(f"task_{fn}", locked=True)))
        cells.append(_code(src, _meta(f"answer_{fn}", solution=True)))
        test = PUBLIC[fn]
        if version == "source":
            test += f"\n### BEGIN HIDDEN TESTS\n{HIDDEN[fn]}\n### END HIDDEN TESTS"
        cells.append(_code(test, _meta(f"test_{fn}", grade=True, locked=True, points=POINTS[fn])))
    cells.append(_md("Why is the mean squared error differentiable?" if version == "release" else
                     "Because the square is smooth.",
                     _meta("written_why", grade=True, solution=True, points=1)))
    cells.append(_code("print(double(3))"))
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                        "language": "python"}},
            "nbformat": 4, "nbformat_minor": 5}


def make_course(root: Path) -> Path:
    """root/{solutions,exercises,course} with fx_tiny; returns the course dir."""
    course = root / "course"
    (course / "graders").mkdir(parents=True)
    (course / "nbgrader_config.py").write_text(
        (Path(__file__).resolve().parents[1] / "course" / "nbgrader_config.py").read_text())
    (course / "graders" / f"{ASSIGNMENT}.py").write_text(GRADER)
    for folder, version in (("solutions", "source"), ("exercises", "release")):
        d = root / folder / ASSIGNMENT
        d.mkdir(parents=True)
        (d / f"{ASSIGNMENT}.ipynb").write_text(json.dumps(notebook(version), indent=1))
    return course


def submit(course: Path, student: str, nb: dict | str | bytes | None, name: str = f"{ASSIGNMENT}.ipynb",
           extra: dict[str, str] | None = None) -> Path:
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    if nb is not None:
        data = nb if isinstance(nb, (str, bytes)) else json.dumps(nb, indent=1)
        (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)
    for fname, text in (extra or {}).items():
        (folder / fname).write_text(text)
    return folder


REPO = Path(__file__).resolve().parents[1]
_VOLATILE = ("gradebook.db", "submitted", "autograded", "feedback", "reports", "grades.csv", "__pycache__",
             "source", "release", "*.tmp")


def released_copy(dest: Path) -> Path:
    """A copy of the repository's solutions/ and course/ under ``dest``, released there with the CLI.

    ``nnkit-course release`` regenerates ``dest/exercises`` and records every assignment in
    ``dest/course/gradebook.db``; the real repository is never touched.
    """
    import shutil

    from nnkit.course import cli

    shutil.copytree(REPO / "solutions", dest / "solutions")
    shutil.copytree(REPO / "course", dest / "course", ignore=shutil.ignore_patterns(*_VOLATILE))
    assert cli.main(["--course", str(dest / "course"), "release"]) == 0
    return dest


def copy_released(released: Path, dest: Path) -> Path:
    """A private copy of a released tree (the gradebook included); returns its course dir."""
    import shutil

    shutil.copytree(released, dest)
    return dest / "course"


_RELEASED: dict = {}


def released_tree() -> Path:
    """One released copy per test session (release takes ~10-20 s), removed at exit."""
    if "path" not in _RELEASED:
        import atexit
        import shutil
        import tempfile

        base = Path(tempfile.mkdtemp(prefix="nnkit-released-"))
        atexit.register(shutil.rmtree, base, True)
        _RELEASED["path"] = released_copy(base / "repo")
    return _RELEASED["path"]
