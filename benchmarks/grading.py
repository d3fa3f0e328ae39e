"""Grading throughput: a synthetic cohort autograded by ``nnkit-course grade`` (serial and parallel) and by
plain ``nbgrader autograde`` run student by student.

The cohort is built from the repository's own notebooks: for every assignment that has ``solutions/``,
``exercises/`` and a trusted grader in ``course/graders/``, each student submits the student version with

* ``full``    - every answer cell filled with the solution (the ``### BEGIN/END SOLUTION`` lines removed);
* ``partial`` - about half of the answer cells filled, the rest left as the stub;
* ``blank``   - the untouched student version;
* ``broken``  - a syntax error in an answer cell, a truncated (invalid JSON) file, or an answer cell
                that imports a module that does not exist (cycling over students and assignments);

in the proportions 40/30/15/15 %. Each contender grades the same cohort in a fresh temporary copy of the
course (course/, solutions/, exercises/; the gradebook is created there before the clock starts), with
the submissions already in ``course/submitted/<student>/<assignment>/``:

* ``nnkit-course --course TMP/course grade A ... --jobs 1`` and ``--jobs N`` (N = cores, at least 2);
* ``nbgrader autograde A --student S`` once per student and assignment, one after the other.

Reported: wall seconds, notebooks per minute and the speed-up over nbgrader. Nothing is asserted.

``--memory``: the trusted grader's peak memory (``ru_maxrss`` of the grading process, one fresh process per
row) for an honest ex07 submission and for one whose ``l2_penalty`` floods the result pipe with 120 MB of
small events (tests/hostile/across.py), with the default caps and with caps raised far above the flood so
every byte streams through the reader; the flood's peak is given as a ratio to the honest one.

Usage: ``python benchmarks/grading.py [--quick] [--students 40] [--assignments ex01_perceptron ...]``
``python benchmarks/grading.py --memory``
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import cores, machine_info, print_header, table

REPO = Path(__file__).resolve().parent.parent
KINDS = ("full", "partial", "blank", "broken")
WEIGHTS = (0.40, 0.30, 0.15, 0.15)


# --------------------------------------------------------------------------- the cohort

def available_assignments(repo: Path = REPO) -> list[str]:
    names = []
    for d in sorted((repo / "solutions").iterdir()):
        if (d.is_dir() and any(d.glob("*.ipynb")) and (repo / "exercises" / d.name).is_dir()
                and (repo / "course" / "graders" / f"{d.name}.py").exists()):
            names.append(d.name)
    return names


def _meta(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def _source(cell):
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _strip_markers(src: str) -> str:
    return "\n".join(line for line in src.splitlines()
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION"))


def kinds_for(n_students: int) -> list[str]:
    """The submission kind of every student: the proportions of WEIGHTS, at least one of each if room."""
    if n_students < len(KINDS):
        return ["full", "partial", "broken", "blank"][:n_students]
    counts = [round(w * n_students) for w in WEIGHTS]
    while sum(counts) > n_students:
        counts[counts.index(max(counts))] -= 1
    while sum(counts) < n_students:
        counts[0] += 1
    if n_students >= len(KINDS):
        for i, c in enumerate(counts):
            if c == 0:
                counts[i], counts[counts.index(max(counts))] = 1, max(counts) - 1
    return [k for k, c in zip(KINDS, counts) for _ in range(c)]


def make_submission(solution: dict, exercise: dict, kind: str, rng: random.Random, variant: int):
    """(text of the submitted .ipynb, kind label) built from the student version."""
    sol = {_meta(c).get("grade_id"): c for c in solution["cells"] if _meta(c).get("solution")}
    nb = json.loads(json.dumps(exercise))
    answers = [c for c in nb["cells"] if c["cell_type"] == "code" and _meta(c).get("solution")
               and _meta(c).get("grade_id") in sol]
    if kind in ("full", "partial"):
        chosen = answers if kind == "full" else rng.sample(answers, max(1, len(answers) // 2))
        for c in chosen:
            c["source"] = _strip_markers(_source(sol[_meta(c)["grade_id"]]))
            c["outputs"], c["execution_count"] = [], None
    label = kind
    if kind == "broken":
        for c in answers:                                   # a complete submission, then break it
            c["source"] = _strip_markers(_source(sol[_meta(c)["grade_id"]]))
        which = variant % 3
        if which == 0 and answers:
            answers[0]["source"] = "def oops(:\n" + _source(answers[0])
            label = "broken (syntax error)"
        elif which == 1:
            text = json.dumps(nb, indent=1)
            return text[: len(text) // 2], "broken (truncated file)"
        elif answers:
            answers[0]["source"] = "import this_module_does_not_exist\n" + _source(answers[0])
            label = "broken (import error)"
    return json.dumps(nb, indent=1), label


def build_tree(dest: Path, assignments: list[str], n_students: int, seed: int = 0) -> dict:
    """A course copy under ``dest`` with the cohort in ``course/submitted``; returns {label: count}."""
    (dest / "course").mkdir(parents=True)
    shutil.copy2(REPO / "course" / "nbgrader_config.py", dest / "course")
    shutil.copytree(REPO / "course" / "graders", dest / "course" / "graders",
                    ignore=shutil.ignore_patterns("__pycache__"))
    for top in ("solutions", "exercises"):
        for a in assignments:
            shutil.copytree(REPO / top / a, dest / top / a,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    rng = random.Random(seed)
    labels: dict[str, int] = {}
    kinds = kinds_for(n_students)
    for k, a in enumerate(assignments):
        sol_path = next((dest / "solutions" / a).glob("*.ipynb"))
        solution = json.loads(sol_path.read_text())
        exercise = json.loads((dest / "exercises" / a / sol_path.name).read_text())
        for i, kind in enumerate(kinds):
            text, label = make_submission(solution, exercise, kind, rng, variant=i + k)
            folder = dest / "course" / "submitted" / f"student{i:03d}" / a
            folder.mkdir(parents=True)
            (folder / sol_path.name).write_text(text)
            labels[label] = labels.get(label, 0) + 1
    return labels


def record_in_gradebook(course: Path, assignments: list[str]) -> None:
    """``nbgrader generate_assignment`` in the copy (records notebooks, grade cells and points)."""
    for a in assignments:
        subprocess.run(["nbgrader", "generate_assignment", a, "--force", "--log-level=WARN"], cwd=course,
                       check=True, capture_output=True, text=True, timeout=600)


# --------------------------------------------------------------------------- contenders

def _loop_seconds(summary: str):
    """The grading-loop time nnkit-course prints in its summary ('... in 6.1 s, ...'), or None."""
    import re

    m = re.search(r" in ([0-9.]+) s", summary)
    return float(m.group(1)) if m else None


def run_nnkit_course(course: Path, assignments: list[str], jobs: int) -> tuple[float, str]:
    cmd = ["nnkit-course", "--course", str(course), "grade", *assignments, "--jobs", str(jobs), "--quiet"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=24 * 3600)
    dt = time.perf_counter() - t0
    lines = (out.stdout + out.stderr).strip().splitlines()
    summary = next((ln for ln in reversed(lines) if ln.startswith("graded ")), lines[-1] if lines else "")
    if out.returncode != 0:
        summary = f"exit {out.returncode}: {summary}"
    return dt, summary


def run_nbgrader(course: Path, assignments: list[str], students: list[str]) -> tuple[float, str]:
    failed = 0
    t0 = time.perf_counter()
    for a in assignments:
        for s in students:
            cmd = ["nbgrader", "autograde", a, f"--student={s}", "--force", "--log-level=WARN"]
            out = subprocess.run(cmd, cwd=course, capture_output=True, text=True, timeout=3600)
            failed += out.returncode != 0
    dt = time.perf_counter() - t0
    done = len(list(course.glob("autograded/*/*/*.ipynb")))
    return dt, f"{done} autograded notebooks written, {failed} runs exited non-zero"


def memory(repeats: int = 3) -> list:
    """Peak RSS of the grading process: honest vs flooding submission (median of ``repeats`` runs)."""
    import statistics

    rows = []
    print_header("Trusted grader memory under a flooding submission", machine_info(), [
        "one fresh process grades one ex07 submission; peak = its ru_maxrss (the sandbox is another process)",
        "flood: l2_penalty writes 120 MB of small events to the result pipe, then returns the right value"])
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from tests.hostile.across import peak_memory

    runs = (("honest", "x07_honest", False), ("flood, default caps", "x07_flood", False),
            ("flood, caps raised (all streamed)", "x07_flood", True))
    for label, student, wide in runs:
        peaks, score = [], None
        for _ in range(repeats):
            data = peak_memory(student, wide=wide)
            peaks.append(data["peak"] / 2**20)
            score = data["score"]
        rows.append([label, score, statistics.median(peaks), max(peaks)])
    base = rows[0][2]
    print(table(["submission", "score", "peak MB (median)", "peak MB (max)", "vs honest"],
                [r + [r[2] / base] for r in rows]))
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="3 students x 1 assignment")
    ap.add_argument("--students", type=int, default=None, help="default 40 (quick: 3)")
    ap.add_argument("--assignments", nargs="+", default=None, help="default: all available (quick: first)")
    ap.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: cores, at least 2)")
    ap.add_argument("--skip", nargs="*", default=[], choices=("serial", "parallel", "nbgrader"))
    ap.add_argument("--memory", action="store_true", help="only the grader's peak memory under a flood")
    args = ap.parse_args(argv)
    if args.memory:
        return memory()
    available = available_assignments()
    assignments = args.assignments or (available[:1] if args.quick else available)
    n_students = args.students or (3 if args.quick else 40)
    jobs = args.jobs or max(2, cores())
    have_cli = shutil.which("nnkit-course") is not None

    info = machine_info(assignments=", ".join(assignments),
                        cohort=f"{n_students} students x {len(assignments)} assignments = "
                               f"{n_students * len(assignments)} notebooks")
    print_header("Grading throughput", info, [
        "each contender starts from a fresh copy of the course with the gradebook already created",
        "nbgrader: one `nbgrader autograde A --student S` process per notebook, one after the other"])
    if not have_cli:
        print("nnkit-course is not installed (pip install -e .): its rows are skipped")

    base = Path(tempfile.mkdtemp(prefix="nnkit-grading-bench-"))
    try:
        template = base / "template"
        labels = build_tree(template, assignments, n_students)
        record_in_gradebook(template / "course", assignments)
        print("cohort: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))
        students = sorted(p.name for p in (template / "course" / "submitted").iterdir())
        n_nb = n_students * len(assignments)

        contenders = []
        if have_cli and "serial" not in args.skip:
            contenders.append(("nnkit-course grade --jobs 1", lambda c: run_nnkit_course(c, assignments, 1)))
        if have_cli and "parallel" not in args.skip:
            contenders.append((f"nnkit-course grade --jobs {jobs}",
                               lambda c: run_nnkit_course(c, assignments, jobs)))
        if "nbgrader" not in args.skip:
            contenders.append(("nbgrader autograde, per student",
                               lambda c: run_nbgrader(c, assignments, students)))

        results = []
        for i, (name, run) in enumerate(contenders):
            tree = base / f"run{i}"
            shutil.copytree(template, tree)
            print(f"  running {name} ...", flush=True)
            sec, summary = run(tree / "course")
            results.append((name, sec, summary))
            shutil.rmtree(tree, ignore_errors=True)
        ref = next((s for n, s, _ in results if n.startswith("nbgrader")), None)
        serial = next((s for n, s, _ in results if n.endswith("--jobs 1")), None)
        rows = [[name, sec, _loop_seconds(summary), 60.0 * n_nb / sec, ref / sec if ref else None,
                 serial / sec if serial else None] for name, sec, summary in results]
        print()
        print(table(["contender", "wall s", "grading loop s", "notebooks/min", "speed-up vs nbgrader",
                     "vs --jobs 1"], rows))
        print("(wall s: the whole command incl. start-up, gradebook, feedback, reports and CSV; "
              "grading loop s: nnkit-course's own figure for the sandboxed runs; notebooks/min from wall s)")
        for name, _, summary in results:
            print(f"{name}: {summary}")
        return results
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
