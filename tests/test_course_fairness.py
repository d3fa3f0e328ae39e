"""Fair to honest answers, nothing lost, readable feedback: conversions, assembly and intake, unit by unit.

The whole path (sandbox included) is exercised by tests/test_course_hostile.py; here each mechanism is
checked on its own, fast, with the smallest input that shows it.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections import OrderedDict, deque, namedtuple
from pathlib import Path

import numpy as np
import pytest

from nnkit.course import feedback, report, wire
from nnkit.course.assemble import assemble, find_notebook, read_notebook
from nnkit.course.submissions import Refused, collect, import_submissions, valid_student
from tests._course_fixture import ANSWERS, ASSIGNMENT, make_course, notebook


def roundtrip(value):
    return wire.decode_result(json.loads(json.dumps(wire.encode_result(value))))


# ----------------------------------------------------------------------------- conversions

def test_any_mapping_or_sequence_arrives_as_plain_data():
    state = OrderedDict(t=np.int64(3), m=np.ones(2), v=np.zeros(2))
    got = roundtrip(state)
    assert type(got) is dict and list(got) == ["t", "m", "v"] and got["t"] == 3
    assert np.array_equal(got["m"], np.ones(2))
    Update = namedtuple("Update", "w b mistake")
    got = roundtrip(Update(np.array([1.0, 2.0]), np.float32(0.5), np.bool_(True)))
    assert type(got) is tuple and len(got) == 3 and got[1] == 0.5 and got[2] is True
    assert roundtrip(deque([1.0, 2.0])) == [1.0, 2.0] and roundtrip(range(3)) == [0, 1, 2]
    zero_d = roundtrip(np.array(2.5))
    assert np.shape(zero_d) == () and float(zero_d) == 2.5
    assert roundtrip(np.float16(0.25)) == 0.25 and roundtrip(np.int8(-3)) == -3


def test_a_container_that_cannot_be_read_is_named_not_trusted():
    class Broken(OrderedDict):
        def __iter__(self):
            raise RuntimeError("no")

    got = roundtrip(Broken(a=1))
    assert isinstance(got, wire.Unsupported) and "Broken" in got.type_name
    assert isinstance(roundtrip({1: 2}), wire.Unsupported)  # keys the checks cannot name


def test_fingerprints_see_in_place_changes_only():
    w, state = np.array([1.0, 2.0]), {"v": np.zeros(2)}
    before = [wire.fingerprint(w), wire.fingerprint(state)]
    assert wire.changed_inputs(["w", "state"], before, [w, state]) == []
    w += 1
    state["v"] = state["v"] + 1  # rebinding a key changes the caller's dict too
    assert wire.changed_inputs(["w", "state"], before, [w, state]) == ["w", "state"]


# ----------------------------------------------------------------------------- assembly

def _template_with_helper_and_demo():
    nb = notebook("release")
    answer = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "answer_mse")
    answer["source"] = ("def helper_square(d):\n    \"\"\"Given.\"\"\"\n    return d * d\n\n\n"
                        + answer["source"])
    nb["cells"].insert(3, {"cell_type": "code", "metadata": {}, "source": "print('try it', double(2))",
                           "outputs": [], "execution_count": None})
    return nb


def test_answers_are_found_by_the_functions_they_define_wherever_they_are():
    template = _template_with_helper_and_demo()
    sub = json.loads(json.dumps(template))
    for cell in sub["cells"]:
        cell["metadata"] = {}  # metadata stripped
    # the mse answer cell lost the given helper; the double() answer moved to the very end
    mse_cell = next(c for c in sub["cells"] if "def mse" in c["source"])
    mse_cell["source"] = ANSWERS["mse"]
    double_cell = next(c for c in sub["cells"] if "def double" in c["source"])
    sub["cells"].remove(double_cell)
    sub["cells"].append({**double_cell, "source": ANSWERS["double"]})
    program = assemble(template, sub)
    origins = {c["origin"] for c in program.cells}
    assert "stub:answer_double" not in origins and "stub:answer_mse" not in origins
    sources = [c["source"] for c in program.cells]
    assert ANSWERS["double"] in sources and ANSWERS["mse"] in sources
    assert any(c["origin"] == "template" and "def helper_square" in c["source"] for c in program.cells)
    assert any("helper_square" in n for n in program.notes)


def test_two_answers_in_one_cell_run_no_stub():
    template = notebook("release")
    sub = notebook("release", {"double": ANSWERS["double"] + "\n\n\n" + ANSWERS["total"]})
    sub["cells"] = [c for c in sub["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") != "answer_total"]
    program = assemble(template, sub)
    assert not [c for c in program.cells if c["origin"] == "stub:answer_total"]
    assert any("total()" in n and "other than its answer cell" in n for n in program.notes)


def test_released_demo_cells_are_neither_run_nor_the_students():
    template = _template_with_helper_and_demo()
    sub = json.loads(json.dumps(template))
    program = assemble(template, sub)
    assert not any("try it" in c["source"] for c in program.cells)
    assert not any("try it" in c["source"] for c in program.student_cells)
    sub["cells"][3]["source"] = "print('my own try', double(3))"
    program = assemble(template, sub)
    (mine,) = [c for c in program.cells if "my own try" in c["source"]]
    assert mine["origin"] == "student" and mine["label"] == "a cell you added or changed"


def test_outputs_are_never_read_whatever_their_size(tmp_path):
    nb = notebook("release", ANSWERS)
    plot = {"output_type": "display_data", "metadata": {},
            "data": {"image/png": "A" * (8 << 20), "text/plain": "<Figure>"}}
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = [plot]
    path = tmp_path / "big.ipynb"
    path.write_text(json.dumps(nb))
    assert path.stat().st_size > 22 << 20
    got = read_notebook(path)
    assert all(c.get("outputs", []) == [] for c in got["cells"])
    assert [c["source"] for c in got["cells"]] == [c["source"] for c in nb["cells"]]


def test_notes_are_whole_sentences_with_their_reason():
    cells = [{"source": "def mse(a, b):\n    return 0", "origin": "answer:answer_mse",
              "label": "your answer cell for mse()"},
             {"source": "x = 1", "origin": "student", "label": "a cell you added or changed"},
             {"source": "import numpy", "origin": "trusted"}]
    notes = [feedback.cell_note(cells[0], "raised " + feedback.describe_error("NotImplementedError: ")),
             feedback.cell_note(cells[1], "raised " + feedback.describe_error("ValueError: ")),
             feedback.cell_note(cells[2], "did not finish in time (timeout), so it was skipped")]
    assert notes[0] == ("Your answer cell for mse() (`def mse(a, b):`) raised NotImplementedError (it calls "
                        "a function that is still the released stub).")
    assert notes[1].startswith("A cell you added or changed (`x = 1`) raised ValueError (with no message)")
    for n in notes:
        assert n[0].isupper() and n.endswith(".") and " a a " not in n and "a your" not in n.lower()


# ----------------------------------------------------------------------------- intake

def test_student_ids_follow_nbgrader():
    assert valid_student("a" * 72) and valid_student("x" * 128) and not valid_student("x" * 129)
    assert not valid_student("r bad name") and not valid_student("../up") and not valid_student(".hidden")


def test_every_folder_in_submitted_gets_a_grade_or_a_reason(tmp_path):
    course = make_course(tmp_path)
    sub = course / "submitted"
    for name in ("alice", "r bad name", "b" * 72, "carol"):
        (sub / name / ASSIGNMENT).mkdir(parents=True)
    (tmp_path / "elsewhere" / ASSIGNMENT).mkdir(parents=True)
    os.symlink(tmp_path / "elsewhere", sub / "linked")
    (sub / "stray.ipynb").write_text("{}")
    (sub / "dora").mkdir()
    (sub / "dora" / f"{ASSIGNMENT}.ipynb").write_text("{}")  # not in its assignment folder
    os.symlink(tmp_path / "elsewhere" / ASSIGNMENT, sub / "carol" / "ex_other")
    students, refused = collect(course, ASSIGNMENT)
    assert set(students) == {"alice", "b" * 72, "carol", "dora"} and students["dora"] is None
    why = {r.entry: r.reason for r in refused}
    assert set(why) == {"submitted/r bad name", "submitted/linked", "submitted/stray.ipynb",
                        f"submitted/dora/{ASSIGNMENT}.ipynb"}
    assert "a space" in why["submitted/r bad name"] and "symbolic link" in why["submitted/linked"]
    assert all(r.endswith(".") for r in why.values())


def test_colliding_zip_entries_are_refused_together(tmp_path):
    course = tmp_path / "course"
    nb = json.dumps(notebook("release", ANSWERS))
    other = json.dumps(notebook("release"))
    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("dup.ipynb", nb)
        zf.writestr(f"dup/{ASSIGNMENT}.ipynb", other)
        zf.writestr("twice/a.ipynb", nb)
        zf.writestr(f"twice/{ASSIGNMENT}/a.ipynb", other)
        zf.writestr("ok.ipynb", nb)
        zf.writestr("r bad name/x.ipynb", nb)
        zf.writestr(f"{'l' * 72}.ipynb", nb)
        zf.writestr("nonb/losses.py", "def mse(): pass")
        zf.writestr("ok/notes.txt", "mine")
    imported, refused = import_submissions(archive, course, [ASSIGNMENT], {ASSIGNMENT: set()})
    assert imported == [("l" * 72, ASSIGNMENT), ("ok", ASSIGNMENT)]
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["l" * 72, "ok"]
    rows = {r.entry.split(": ", 1)[1]: r for r in refused}
    assert set(rows) == {"dup.ipynb", f"dup/{ASSIGNMENT}.ipynb", "twice/a.ipynb",
                         f"twice/{ASSIGNMENT}/a.ipynb", "r bad name/x.ipynb", "nonb/losses.py"}
    assert "collides" in rows["dup.ipynb"].reason and rows["dup.ipynb"].student == "dup"
    assert "not a notebook" in rows["nonb/losses.py"].reason and rows["nonb/losses.py"].student == "nonb"


def test_a_collision_never_replaces_an_earlier_import(tmp_path):
    course = tmp_path / "course"
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    with zipfile.ZipFile(first, "w") as zf:
        zf.writestr("dup.ipynb", json.dumps(notebook("release", ANSWERS)))
    with zipfile.ZipFile(second, "w") as zf:
        zf.writestr("dup.ipynb", json.dumps(notebook("release")))
        zf.writestr(f"dup/{ASSIGNMENT}.ipynb", json.dumps(notebook("release")))
    import_submissions(first, course, [ASSIGNMENT], {ASSIGNMENT: set()})
    kept = (course / "submitted" / "dup" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()
    imported, refused = import_submissions(second, course, [ASSIGNMENT], {ASSIGNMENT: set()})
    assert imported == [] and len(refused) == 2
    assert (course / "submitted" / "dup" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes() == kept


def test_a_symlinked_notebook_is_named_in_the_reason(tmp_path):
    real = tmp_path / "real.ipynb"
    real.write_text(json.dumps(notebook("release", ANSWERS)))
    folder = tmp_path / "sub"
    folder.mkdir()
    os.symlink(real, folder / f"{ASSIGNMENT}.ipynb")
    path, note = find_notebook(folder, f"{ASSIGNMENT}.ipynb", notebook("release"))
    assert path is None and "symbolic link" in note


def test_the_report_lists_what_was_not_graded(tmp_path):
    rows = [Refused("submitted/r bad name", "'r bad name' is not a usable student id.", None, ASSIGNMENT)]
    html_path, json_path = report.write(tmp_path, ASSIGNMENT, [], refused=rows)
    data = json.loads(Path(json_path).read_text())
    assert data["not_graded"] == [rows[0].row()]
    assert "r bad name" in Path(html_path).read_text()


@pytest.mark.parametrize("name", ["r bad name", "é", "-x", "a" * 200])
def test_why_not_a_student_is_a_sentence(name):
    from nnkit.course.submissions import why_not_student
    text = why_not_student(name)
    assert text.endswith(".") and not valid_student(name)


def test_an_oversized_entry_is_refused_with_a_row(tmp_path, monkeypatch):
    from nnkit.course import submissions

    archive = tmp_path / "subs.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("big.ipynb", json.dumps(notebook("release", ANSWERS)))
        zf.writestr("small.ipynb", json.dumps({"cells": [], "nbformat": 4}))
    monkeypatch.setattr(submissions, "MAX_FILE", 1000)
    imported, refused = import_submissions(archive, tmp_path / "course", [ASSIGNMENT], {ASSIGNMENT: set()})
    assert imported == [("small", ASSIGNMENT)]
    assert [(r.entry, "larger" in r.reason) for r in refused] == [("subs.zip: big.ipynb", True)]


def test_numbers_and_iterables_of_any_kind_arrive_as_plain_data():
    from decimal import Decimal
    from fractions import Fraction

    assert roundtrip(Fraction(1, 4)) == 0.25 and roundtrip(Decimal("2.5")) == 2.5
    assert roundtrip(x * x for x in range(3)) == [0, 1, 4]
    assert roundtrip({"a": 1}.values()) == [1]
    assert isinstance(roundtrip(iter(range(10**6))), wire.Unsupported)  # too many items, not read whole


def test_outputs_are_cut_from_the_text_exactly():
    from nnkit.course.assemble import without_outputs

    tricky = notebook("release", ANSWERS)
    tricky["cells"][1]["source"] = 'x = {"outputs": [1, "]", "\\\\"]}  # "outputs": [ in a string\n'
    tricky["cells"][1]["outputs"] = [{"output_type": "stream", "name": "stdout",
                                      "text": ['a "quoted" ]] line\\n', "\\\\", '"outputs": [']},
                                     {"output_type": "display_data", "metadata": {},
                                      "data": {"image/png": "A" * 1000, "text/plain": "[]"}}]
    for indent in (None, 1):
        text = json.dumps(tricky, indent=indent).encode()
        cut = json.loads(without_outputs(text))
        expected = json.loads(text)
        for cell in expected["cells"]:
            if "outputs" in cell:
                cell["outputs"] = []
        assert cut == expected
    broken = b'{"cells": [{"outputs": [1, 2'
    assert without_outputs(broken) == broken  # unterminated: left for the parser to reject


def test_a_function_bound_by_assignment_is_an_answer_too():
    template = notebook("release")
    sub = notebook("release", {"double": ANSWERS["double"]})
    sub["cells"] = [c for c in sub["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") != "answer_total"]
    sub["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                         "source": "def my_total(x):\n    return float(np.sum(x))\n\ntotal = my_total"})
    program = assemble(template, sub)
    assert not [c for c in program.cells if c["origin"] == "stub:answer_total"]
    (mine,) = [c for c in program.cells if "total = my_total" in c["source"]]
    assert mine["origin"] == "answer:answer_total"
    sub["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                         "source": "double = np.ones(3) * 2  # data, not a definition"})
    program = assemble(template, sub)
    (data,) = [c for c in program.cells if "data, not" in c["source"]]
    assert data["origin"] == "student"
