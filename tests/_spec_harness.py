"""Run an assignment's trusted parts against a notebook in this process (no sandbox).

For checking that graders and solutions agree while writing exercises; the real grading path,
sandboxed, lives in nnkit.course and has its own tests.
"""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import numpy as np

from nnkit.course.wire import decode_result, encode_result, fingerprint
from nnkit.grading import forbid_reference

ROOT = Path(__file__).resolve().parents[1]


def load_parts(assignment: str):
    path = ROOT / "course" / "graders" / f"{assignment}.py"
    spec = importlib.util.spec_from_file_location(f"_graders_{assignment}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.PARTS


def notebook_program(path: Path) -> list[str]:
    """The code cells a grader executes: nbgrader's setup and answer cells (not tests, not the free
    "Try it" cells, which nnkit.course.assemble does not run either), magics dropped."""
    nb = json.loads(Path(path).read_text())
    sources = []
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if not meta or (meta.get("grade") and not meta.get("solution")):
            continue
        src = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        kept = [line for line in src.splitlines() if not line.lstrip().startswith(("%", "!"))]
        sources.append("\n".join(kept))
    return sources


def run_parts(assignment: str, notebook: Path, seed: int = 0,
              only: str | None = None) -> dict[str, str | None]:
    """{grade_id: None if every case passed else the first reason} (``only``: just that part)."""
    ns: dict = {"__name__": "__main__"}
    for src in notebook_program(notebook):
        try:
            exec(compile(src, str(notebook), "exec"), ns)
        except Exception:  # noqa: BLE001 - a stub raising NotImplementedError is expected
            pass
    rng = np.random.default_rng(seed)
    results = {}
    for part in load_parts(assignment):
        if only is not None and part.grade_id != only:
            continue
        fn = ns.get(part.function)
        if not callable(fn):
            results[part.grade_id] = f"function {part.function!r} is not defined"
            continue
        reason = None
        for case in part.cases(rng):
            used: list = []
            args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)  # as the sandbox gets them
            inputs = [*args, *kwargs.values()]
            before = [fingerprint(v) for v in inputs]
            try:
                with forbid_reference(part.forbidden, namespaces=(ns,), used=used):
                    got = fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001
                reason = f"{case.label}: raised {type(exc).__name__}: {exc}"
                break
            if used:
                reason = f"{case.label}: called the reference {used[0]}"
                break
            if part.keeps_inputs and [fingerprint(v) for v in inputs] != before:
                reason = f"{case.label}: changed an argument in place"
                break
            got = decode_result(json.loads(json.dumps(encode_result(got))))  # plain data, as graded
            why = part.check(case, got)
            if why:
                reason = f"{case.label}: {why}"
                break
        results[part.grade_id] = reason
    return results
