"""Small pieces of nnkit.course: the result wire format, assembly, redaction, unpacking, isolation."""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest

from nnkit.course import engine, sandbox, wire
from nnkit.course.assemble import NotebookProblem, assemble, read_notebook, strip_magics
from nnkit.course.submissions import import_submissions
from tests._course_fixture import ANSWERS, ASSIGNMENT, HEADERS, STUB, make_course, notebook, submit


def roundtrip(value):
    return wire.decode_result(json.loads(json.dumps(wire.encode_result(value))))


def test_results_become_plain_float64_data():
    got = roundtrip((np.float32(1.5), np.arange(6, dtype=np.float32).reshape(2, 3), [1, True, None],
                     {"a": 2.5}))
    assert isinstance(got, tuple) and got[0] == 1.5
    assert type(got[1]) is np.ndarray and got[1].dtype == np.float32 and got[1].shape == (2, 3)
    assert roundtrip(np.arange(3, dtype=np.int32)).dtype == np.int32
    assert roundtrip(np.array([True, False])).dtype == np.bool_
    assert roundtrip(np.array([1.5], dtype=np.longdouble)).dtype == np.float64
    assert got[2] == [1, True, None] and got[3] == {"a": 2.5}
    assert np.isnan(roundtrip(float("nan"))) and roundtrip(-np.inf) == -np.inf
    pair = np.empty(2, dtype=object)
    pair[:] = [0.5, np.ones((2, 2), dtype=np.float32)]  # np.array([loss, grad], dtype=object)
    loss, grad = roundtrip(pair)
    assert loss == 0.5 and grad.dtype == np.float32 and grad.shape == (2, 2)
    assert roundtrip(np.array(1.5, dtype=object)) == 1.5


def test_student_classes_do_not_survive():
    class Liar(np.ndarray):
        def __eq__(self, other):
            return True

    class Fake:
        def __array__(self, *a, **k):
            return np.ones(3)

    sub = roundtrip(np.zeros(3).view(Liar))
    assert type(sub) is np.ndarray and not (sub == np.ones(3)).all()
    assert isinstance(roundtrip(Fake()), wire.Unsupported)
    assert isinstance(roundtrip(np.array(["a"])), wire.Unsupported)
    assert isinstance(roundtrip(1 + 2j), wire.Unsupported)


def test_decoder_refuses_pickles_and_nan_literals():
    buf = io.BytesIO()
    np.save(buf, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    evil = {"t": "array", "npy": base64.b64encode(buf.getvalue()).decode()}
    with pytest.raises(ValueError):
        wire.decode_result(evil)
    with pytest.raises(ValueError):
        wire.loads_strict('{"t": "float", "v": NaN}')


def test_decoder_reads_only_headers_that_match_their_data():
    def npy(shape, payload: bytes, descr="<f8"):
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
        return {"t": "array", "npy": base64.b64encode(buf.getvalue() + payload).decode()}

    assert np.array_equal(wire.decode_result(npy((2,), np.array([1.0, 2.0]).tobytes())), [1.0, 2.0])
    for forged in (npy((10**10,), bytes(64)),      # a huge claim: nothing is allocated for it
                   npy((3,), bytes(16)),             # too little data
                   npy((2,), bytes(16), ">f8"),      # not the plain dtype the runner writes
                   {"t": "array", "npy": ""},        # no header at all
                   {"t": "array", "npy": base64.b64encode(b"\x93NUMPY\x03\x00").decode()}):
        with pytest.raises(wire.WireError):
            wire.decode_result(forged)


def test_text_from_outside_becomes_valid_unicode():
    parsed = json.loads('{"k\\ud800": ["x\\udfff", {"ok": "\\ud83d\\ude00"}], "n": 1}')
    clean = wire.valid_text(parsed)
    assert clean == {"k\ufffd\ufffd\ufffd": ["x\ufffd\ufffd\ufffd", {"ok": "\U0001f600"}], "n": 1}
    json.dumps(clean, ensure_ascii=False).encode("utf-8")  # now any file can hold it
    deep = json.loads("[" * 500 + "]" * 500)
    assert wire.valid_text(deep) == deep  # walked without recursion


def test_redact_hides_expected_values_only():
    msg = ("a batch: values differ in 2 of 5 entries; largest at index (3,): expected 0.123457, got 0.5 "
           "(max relative error 6.0e-01); expected shape (3,), expected 2 items")
    out = engine.redact(msg)
    assert "0.123457" not in out and "got 0.5" in out and "expected shape (3,)" in out
    assert "expected 2 items" in out and "relative error" in out


def test_strip_magics(tmp_path):
    assert strip_magics("%matplotlib inline\nx = 1\n  !pip install foo\nfiles = !ls") == (
        "pass  # IPython magic removed by the grader\nx = 1\n  pass  # IPython magic removed by the grader\n"
        "files = None  # IPython magic removed by the grader")
    assert strip_magics("%%time\ny = 2") == "y = 2"
    assert strip_magics("%%bash\nrm -rf /") is None
    # what Python can do itself is done: %%writefile writes its file, %time runs its statement
    code = strip_magics("%%writefile -a 'my mod.py'\ndef f():\n    return 1")
    ns: dict = {}
    cwd = os.getcwd()
    try:
        os.chdir(tmp_path)
        exec(code, ns)  # noqa: S102 - the generated code
        assert (tmp_path / "my mod.py").read_text() == "def f():\n    return 1\n"
    finally:
        os.chdir(cwd)
    assert strip_magics("%time W = np.ones(2)\n  %timeit f()") == (
        "W = np.ones(2)\n  pass  # IPython magic removed by the grader")


def test_assemble_keeps_student_cells_in_order_and_restores_trusted_ones():
    template = notebook("release")
    sub = notebook("release", ANSWERS)
    # the student deleted every test cell
    sub["cells"] = [c for c in sub["cells"] if not c["metadata"].get("nbgrader", {}).get("grade")]
    sub["cells"].insert(4, {"cell_type": "code", "metadata": {}, "source": "HELPER = 1", "outputs": []})
    sub["cells"][1]["source"] = "import os\nos.system('evil')"  # an edited locked setup cell
    program = assemble(template, sub)
    sources = [c["source"] for c in program.cells]
    assert sources[0] == template["cells"][1]["source"]  # the trusted setup cell, not the edited one
    # the edited copy's code is the student's: it runs after the trusted cell, never as a trusted cell,
    # a statement at a time (as the released cell's statements do)
    assert [(c["source"], c["origin"]) for c in program.cells[1:3]] == [
        ("import os", "student"), ("os.system('evil')", "student")]
    assert any("read-only cells (setup)" in n for n in program.notes)
    assert sources.index("HELPER = 1") == 4  # right after the double() answer it followed
    grade_ids = [c["metadata"].get("nbgrader", {}).get("grade_id") for c in program.notebook["cells"]]
    assert "test_double" in grade_ids and "test_total" in grade_ids  # restored from the template
    assert not any("def double" in c["source"] and c["origin"] == "trusted" for c in program.cells)


def test_missing_answer_uses_the_stub_with_a_note():
    sub = notebook("release", ANSWERS)
    sub["cells"] = [c for c in sub["cells"] if "def total" not in c["source"]]
    program = assemble(notebook("release"), sub)
    assert any("total()" in n and "stub" in n for n in program.notes)


def _run_student_side(program) -> dict:
    ns: dict = {"np": np}
    for cell in program.cells:
        if cell["origin"] != "trusted":  # the set-up cell imports what the fixture does not need here
            exec(cell["source"], ns)  # noqa: S102 - the fixture's own code
    return ns


def test_a_stub_never_replaces_what_the_program_defined():
    sub = notebook("release", ANSWERS)
    # total() made by functools.partial in an added cell (no definition the text shows), its answer cell
    # deleted; double's answer cell left as the released stub, double() made by exec in the same cell
    sub["cells"] = [c for c in sub["cells"] if "def total" not in c["source"]]
    for c in sub["cells"]:
        if "def double" in c["source"]:
            c["source"] = HEADERS["double"] + STUB
    body = ANSWERS["total"].replace("def total(", "def _total(")
    sub["cells"].insert(2, {"cell_type": "code", "metadata": {}, "outputs": [], "source":
                            f"import functools\n{body}\ntotal = functools.partial(_total)\n"
                            f"exec({ANSWERS['double']!r})"})
    program = assemble(notebook("release"), sub)
    ns = _run_student_side(program)
    assert ns["total"](np.ones(3)) == 3.0 and np.array_equal(ns["double"](np.ones(2)), [2.0, 2.0])
    assert any("double() is the released stub as it was" in n for n in program.notes)
    # a name bound to data is not a function: the stub stands in
    sub["cells"][2]["source"] = "total = 0.5"
    ns = _run_student_side(assemble(notebook("release"), sub))
    with pytest.raises(NotImplementedError):
        ns["total"](np.ones(2))


def test_a_written_answer_in_several_cells_is_kept_whole():
    sub = notebook("release", ANSWERS)
    i = next(i for i, c in enumerate(sub["cells"]) if c["metadata"].get("nbgrader", {}).get("grade_id")
             == "written_why")
    sub["cells"][i]["source"] = "Because the square is smooth"
    copy = json.loads(json.dumps(sub["cells"][i]))
    copy["source"] = "(a pasted copy of the cell)"
    own = [copy, {"cell_type": "markdown", "metadata": {}, "source": "and its derivative is 2d."},
           {"cell_type": "code", "metadata": {}, "outputs": [], "source": "print(2 * 3)"},
           {"cell_type": "markdown", "metadata": {}, "source": "See the plot above."}]
    sub["cells"][i + 1:i + 1] = own
    sub["cells"].append({"cell_type": "markdown", "metadata": {}, "source": "My notes after the notebook."})
    program = assemble(notebook("release"), sub)
    answer = program.written["written_why"]
    for text in ("Because the square is smooth", "pasted copy", "2d.", "See the plot above."):
        assert text in answer
    # the released cell after it ends the answer: later notes of the student's are not part of it
    assert "My notes" not in answer
    merged = next(c for c in program.notebook["cells"]
                  if c["metadata"].get("nbgrader", {}).get("grade_id") == "written_why")
    assert merged["source"] == answer
    # metadata stripped: the student's markdown after the question is still the answer
    for cell in sub["cells"]:
        cell["metadata"] = {}
    answer = assemble(notebook("release"), sub).written.get("written_why", "")
    assert "Because the square is smooth" in answer and "See the plot above." in answer


def test_read_notebook_problems(tmp_path):
    (tmp_path / "a.ipynb").write_text('{"cells": [')
    (tmp_path / "b.ipynb").write_text('{"nbformat": 4, "cells": [], "x": NaN}')
    (tmp_path / "c.ipynb").write_text('[1, 2]')
    (tmp_path / "d.ipynb").write_bytes(b"\xff\xfe")
    deep = "[" * 100_000 + "]" * 100_000
    (tmp_path / "f.ipynb").write_text('{"nbformat": 4, "cells": [], "x": ' + deep + "}")
    for name in "abcdf":
        with pytest.raises(NotebookProblem):
            read_notebook(tmp_path / f"{name}.ipynb")
    (tmp_path / "e.ipynb").write_text("{}" + " " * 100)
    with pytest.raises(NotebookProblem, match="over the"):
        read_notebook(tmp_path / "e.ipynb", file_bytes=50)


def test_zip_import_skips_symlinks_traversal_and_bad_ids(tmp_path):
    course = tmp_path / "course"
    archive = tmp_path / "s.zip"
    nb = json.dumps(notebook("release", ANSWERS))
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("ann.ipynb", nb)
        zf.writestr(f"ben/{ASSIGNMENT}/whatever.ipynb", nb)
        zf.writestr("../up.ipynb", nb)
        zf.writestr(".hidden.ipynb", nb)
        link = zipfile.ZipInfo("cat.ipynb")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(link, "/etc/passwd")
    placed, notes = import_submissions(archive, course, [ASSIGNMENT], {ASSIGNMENT: set()})
    assert placed == [("ann", ASSIGNMENT), ("ben", ASSIGNMENT)]
    assert sorted(os.listdir(course / "submitted")) == ["ann", "ben"]
    # ann.ipynb names the student: stored under the assignment's own name, so no "renamed" note
    assert (course / "submitted" / "ann" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
    assert (course / "submitted" / "ben" / ASSIGNMENT / "whatever.ipynb").is_file()
    assert any("symbolic link" in str(n) for n in notes) and any("unsafe" in str(n) for n in notes)
    assert not (tmp_path / "up.ipynb").exists()


@pytest.mark.skipif(sandbox.detect() != "bwrap", reason="needs bubblewrap")
def test_what_the_sandbox_sees(tmp_path):
    """Print what a submission can see and do from inside the sandbox, and check it."""
    course = make_course(tmp_path)
    probe = f"""
import os, socket, resource
print('UID', os.getuid())
print('REPO', sorted(os.listdir({str(tmp_path)!r})) if os.path.exists({str(tmp_path)!r}) else 'absent')
print('ROOT', sorted(os.listdir('/')))
print('ROOTHOME', sorted(os.listdir('/root')) if os.path.isdir('/root') else 'absent')
repo = {str(sandbox.NNKIT_DIR.parent)!r}
print('NNKITPARENT', sorted(os.listdir(repo)) if os.path.exists(repo) else 'absent')
import nnkit
print('NNKIT', sorted(f for f in os.listdir(os.path.dirname(nnkit.__file__)) if f.endswith('.py')))
print('HOME', os.getcwd(), os.environ.get('HOME'))
print('ENV', sorted(os.environ))
try:
    socket.create_connection(('1.1.1.1', 53), timeout=1)
    print('NET open')
except OSError as exc:
    print('NET', type(exc).__name__)
print('NPROC', resource.getrlimit(resource.RLIMIT_NPROC)[0])
print('AS', resource.getrlimit(resource.RLIMIT_AS)[0])
print('PID', os.getpid())
for p in ['/usr/x', '/etc/x', '/job/x']:
    try:
        open(p, 'w')
        print('WROTE', p)
    except OSError:
        pass
"""
    nb = notebook("release", ANSWERS)
    nb["cells"].insert(2, {"cell_type": "code", "metadata": {}, "source": probe, "outputs": []})
    folder = submit(course, "probe", nb)
    assignment = engine.Assignment.load(course, ASSIGNMENT)
    r = engine.grade_submission(assignment, "probe", folder, run_seed=1, limits=sandbox.Limits(),
                                kind="bwrap")
    out = dict(line.split(" ", 1) for line in r.output.splitlines() if line[:3].isupper() and " " in line)
    assert r.score == 4
    assert out["REPO"] == "absent"  # the course, solutions/ and graders are not there at all
    assert out["NNKITPARENT"] == "absent"  # not even the repository's nnkit
    assert out["NNKIT"] == "['__init__.py', 'grading.py']"  # only what the assignment's answers may use
    assert out["ROOTHOME"] in ("absent", "['.pyenv']")  # at most the Python installation
    assert out["HOME"] == "/home/student /home/student"
    assert out["NET"] in ("OSError", "ConnectionRefusedError") or "unreachable" in out["NET"].lower()
    assert out["PID"] != "1" and int(out["PID"]) < 100  # its own PID namespace
    assert "WROTE" not in out
    if os.geteuid() == 0:
        assert int(out["UID"]) >= 100000 and int(out["NPROC"]) == sandbox.Limits().nproc
    assert int(out["AS"]) == sandbox.Limits().memory_bytes
    assert "PYTHONPATH" not in out["ENV"]


@pytest.mark.parametrize("image_dir", ["/tmp/clone/image", "/home/ci/src/image", "/work/main/image"])
def test_scratch_mounts_never_hide_the_image(tmp_path, image_dir):
    """bwrap applies mounts in order: the image (wherever the temporary folder is) is bound after /tmp."""
    from pathlib import Path
    cmd = sandbox._bwrap_command(tmp_path, sandbox.Limits(), uid=None, image_dir=Path(image_dir))
    pairs = list(zip(cmd, cmd[1:]))
    bind_at = cmd.index(image_dir)
    for scratch in ("/tmp", sandbox.SANDBOX_HOME):
        assert pairs.index(("--tmpfs", scratch)) < bind_at, f"the tmpfs on {scratch} would hide the image"


def _events(*events) -> bytes:
    return b"".join(wire.event_line(ev, **fields) for ev, fields in events)


def test_event_reader_keeps_what_the_protocol_allows_where_the_run_is():
    r = wire.EventReader(n_cells=2, n_cases=2)
    stream = _events(("case", {"c": 0, "ok": True}),                      # before ready: not the runner's
                     ("ready", {}), ("cell_start", {"i": 0}), ("cell_end", {"i": 0, "error": "boom"}),
                     ("part_start", {}), ("case", {"c": 0, "ok": True, "value": {"t": "none"}}),
                     ("case", {"c": 1, "ok": False, "exc": "ValueError"}), ("part_end", {"missing": False}),
                     ("done", {}))
    for i in range(0, len(stream), 7):  # any chunking
        r.feed(stream[i:i + 7])
    assert r.ready and r.done and r.part_ended and not r.overflow
    assert r.cells == {0: "boom"} and sorted(r.records) == [0, 1] and r.forged == 0 and r.dropped == 1


def test_event_reader_counts_forgeries_and_keeps_the_first_record():
    r = wire.EventReader(n_cells=1, n_cases=1)
    r.feed(_events(("ready", {}), ("part_start", {}), ("case", {"c": 0, "ok": True, "value": {"t": "none"}}),
                   ("case", {"c": 0, "ok": True, "value": {"t": "int", "v": "1"}}), ("case", {"c": 5}),
                   ("part_start", {"p": 3})) + b"not json\n")
    assert r.records[0]["value"] == {"t": "none"}
    assert r.forged == 4
    r.feed(b"[" * 200_000 + b"\n")  # nested past what the parser can follow: a forgery, not a crash
    assert r.forged == 5


def test_event_reader_stops_at_its_caps():
    small = wire.Caps(event_bytes=1 << 10, part_bytes=1 << 20, total_bytes=1 << 20)
    r = wire.EventReader(n_cells=1, n_cases=1, caps=small)
    r.feed(b"x" * 4096)  # one endless line
    assert r.overflow and "single message" in r.overflow
    r = wire.EventReader(n_cells=1, n_cases=1, caps=small)
    r.feed(_events(("ready", {})) + b'{"ev": "cell_end"}\n' * 200)
    assert r.overflow and "messages" in r.overflow
    r = wire.EventReader(n_cells=1, n_cases=1, caps=wire.Caps(total_bytes=1000, events_per_item=10**6))
    for _ in range(100):
        r.feed(b"{}\n" * 10)
    assert r.overflow and "MB" in r.overflow


def test_image_holds_only_what_the_environment_declares():
    img = sandbox.build_image(helpers=("nnkit.losses.softmax_cross_entropy",))
    files = dict(img.files)
    assert "nnkit/functional.py" not in files and "nnkit/optim.py" not in files
    assert img.holds("nnkit.losses.softmax_cross_entropy") and not img.holds("nnkit.losses.mse")
    assert not img.holds("nnkit.activations.relu") and not img.holds("nnkit.optim._adam")
    assert "def relu(" not in files["nnkit/activations.py"].decode()
    whole = sandbox.build_image(modules=("nnkit.models",))
    assert whole.holds("nnkit.models.MLP.loss") and whole.holds("nnkit.functional._dense_forward_kernel")
    assert not whole.holds("nnkit.data.load_digits") and not whole.holds("nnkit.plotting.confusion_matrix")
    with pytest.raises(ValueError):
        sandbox.build_image(modules=("nnkit.no_such_module",))
