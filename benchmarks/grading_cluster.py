"""Grading on a Dask cluster: a synthetic cohort graded by ``nnkit-course grade --scheduler`` with 1, 2 and 4
worker processes on a real local scheduler, against the local pool, and a projection to 18,000 notebooks.

The cohort is the one of ``benchmarks/grading.py`` (full / partial / blank / broken submissions built from
the repository's notebooks). Each contender grades it in a fresh copy of the course (gradebook created
before the clock starts):

* ``--jobs 1``: the local pool with one thread (the peer: the same sandbox and checks, no scheduler);
* ``--scheduler`` with N = 1, 2, 4 workers: ``dask scheduler --host 127.0.0.1`` and N ``dask worker
  --nthreads 1 --no-nanny`` processes started for the run; the instructor's command runs as its own
  process, as it would on a cluster's login node.

Measured: wall seconds of the command, its grading loop (nnkit-course's own figure), notebooks per minute,
speed-up over 1 worker, the instructor process's CPU seconds per notebook (it alone records every result:
the serial part) and the scheduler's own overhead per submission: the round trip of one empty task and
the time per empty task with 200 in flight. The projection for 18,000 notebooks on N workers is
``18,000 * max(c / N, r)`` with ``c`` the measured worker-seconds per notebook (1 worker) and ``r`` the
instructor's serial seconds per notebook (its CPU time beyond that of a run with no notebook, or the
scheduler's time per empty task if larger): it assumes workers as fast as this machine's cores and this
cohort's mix of assignments. Nothing is asserted.

Usage: ``python benchmarks/grading_cluster.py [--quick] [--students 4] [--assignments A ...]
[--workers 1 2 4]``
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import cores, machine_info, print_header, table
from grading import available_assignments, build_tree, record_in_gradebook

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests._dask_cluster import local_cluster  # noqa: E402 - the same launcher the tests use

COHORT = 18_000
PROJECT_WORKERS = (1, 8, 32, 128, 512)


def grade(course: Path, assignments: list[str], extra: list[str]) -> dict:
    """Run the instructor's command as a child process; wall and CPU seconds, its summary line."""
    cmd = [sys.executable, "-m", "nnkit.course.cli", "--course", str(course), "grade", *assignments,
           "--quiet", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=24 * 3600)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    lines = (out.stdout + out.stderr).strip().splitlines()
    summary = next((ln for ln in reversed(lines) if ln.startswith("graded ")), lines[-1] if lines else "")
    m = re.search(r" in ([0-9.]+) s", summary)
    graded = re.search(r"graded (\d+), failed (\d+), missing (\d+)", summary)
    return {"wall": wall, "loop": float(m.group(1)) if m else None, "rc": out.returncode, "summary": summary,
            "cpu": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "done": sum(map(int, graded.groups())) if graded else 0,
            "errors": [ln for ln in lines if ln.startswith("error:")][:3]}


def empty_task_seconds(scheduler_file: Path, n: int) -> tuple[float, float]:
    """(median round trip of one empty task, seconds per task when n are in flight) on this cluster."""
    from distributed import Client

    with Client(scheduler_file=str(scheduler_file), set_as_default=False, timeout=30) as c:
        trips = []
        for i in range(max(5, n // 10)):
            t0 = time.perf_counter()
            c.submit(int, i, pure=False).result()
            trips.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        c.gather(c.map(int, range(n), pure=False))
        return statistics.median(trips), (time.perf_counter() - t0) / n


def projection(c: float, r: float, workers: int) -> float:
    return COHORT * max(c / workers, r)


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 students x 1 assignment, 1 and 2 workers")
    ap.add_argument("--students", type=int, default=None, help="default 4 (quick: 4)")
    ap.add_argument("--assignments", nargs="+", default=None,
                    help="default: every assignment with a grader (quick: the first)")
    ap.add_argument("--workers", nargs="+", type=int, default=None, help="default 1 2 4 (quick: 1 2)")
    args = ap.parse_args(argv)
    available = available_assignments()
    assignments = args.assignments or (available[:1] if args.quick else available)
    n_students = args.students or 4
    worker_counts = args.workers or ([1, 2] if args.quick else [1, 2, 4])
    n_nb = n_students * len(assignments)

    info = machine_info(assignments=", ".join(assignments),
                        cohort=f"{n_students} students x {len(assignments)} assignments = {n_nb} notebooks",
                        workers=", ".join(map(str, worker_counts)),
                        load=" ".join(f"{x:.1f}" for x in os.getloadavg()) + " (1, 5, 15 min, at the start)")
    notes = ["each run starts from a fresh copy of the course with the gradebook already created",
             "workers: `dask worker --nthreads 1 --no-nanny` processes on 127.0.0.1, one scheduler process"]
    if max(worker_counts) > cores():
        notes.append(f"{max(worker_counts)} workers on {cores()} cores oversubscribe the machine: "
                     "beyond the core count the speed-up measures contention, not the cluster")
    print_header("Grading on a Dask cluster", info, notes)

    base = Path(tempfile.mkdtemp(prefix="nnkit-cluster-bench-"))
    try:
        template = base / "template"
        labels = build_tree(template, assignments, n_students)
        record_in_gradebook(template / "course", assignments)
        print("cohort: " + ", ".join(f"{k} {v}" for k, v in sorted(labels.items())))

        empty = base / "empty"  # the instructor's fixed cost: start-up, gradebook, reports, no notebook
        shutil.copytree(template, empty)
        shutil.rmtree(empty / "course" / "submitted")
        fixed_cpu = None
        results, trips = [], {}
        runs = [("local pool, --jobs 1", None)] + [(f"Dask, {n} worker{'s' * (n > 1)}", n)
                                                  for n in worker_counts]
        for i, (name, n) in enumerate(runs):
            tree = base / f"run{i}"
            shutil.copytree(template, tree)
            print(f"  running {name} ...", flush=True)
            if n is None:
                res = grade(tree / "course", assignments, ["--jobs", "1"])
            else:
                with local_cluster(base / f"cluster{i}", workers=n) as cluster:
                    if fixed_cpu is None:  # with the cluster client's own start-up (dask imports, connect)
                        fixed = grade(empty / "course", assignments, ["--scheduler", cluster.address])
                        fixed_cpu = fixed["cpu"]
                    res = grade(tree / "course", assignments, ["--scheduler", cluster.address])
                    trips[n] = empty_task_seconds(cluster.scheduler_file, 200 if not args.quick else 40)
            if res["rc"] != 0 or res["done"] != n_nb:
                print(f"    {name} did not grade every notebook (exit {res['rc']}): {res['summary']} "
                      f"{res['errors']}")
            results.append((name, n, res))
            shutil.rmtree(tree, ignore_errors=True)

        local = results[0][2]
        one = next((r for _, n, r in results if n == 1), None)
        rows = []
        for name, _n, r in results:
            speed = one["loop"] / r["loop"] if one and r["loop"] else None
            rows.append([name, r["wall"], r["loop"], 60.0 * n_nb / r["loop"] if r["loop"] else None, speed,
                         r["cpu"] / n_nb])
        print()
        print(table(["contender", "wall s", "grading loop s", "notebooks/min", "speed-up vs 1 worker",
                     "instructor CPU s/nb"], rows))
        print("(notebooks/min from the grading loop; instructor CPU: user+sys of the `grade` process per "
              "notebook, which includes its start-up, gradebook, feedback and reports)")
        print()
        print(table(["workers", "empty task round trip ms", "ms per empty task, 200 in flight"],
                    [[n, 1e3 * t[0], 1e3 * t[1]] for n, t in sorted(trips.items())]))
        if one and one["loop"] and local["loop"]:
            c = one["loop"] / n_nb
            r = max((one["cpu"] - fixed_cpu) / n_nb, trips[1][1])
            print()
            print(f"per notebook: c = {c:.3f} worker-seconds on 1 worker ({local['loop'] / n_nb:.3f} s in "
                  "the "
                  f"local pool --jobs 1, whose one process also records); the instructor's serial share "
                  f"r = {r:.3f} s (its CPU per notebook beyond a fixed {fixed_cpu:.1f} s for no notebook)")
            print(table([f"workers (projection, {COHORT:,} notebooks)", "wall time", "bound by"],
                        [[w, hours(projection(c, r, w)), "workers" if c / w >= r else "instructor"]
                         for w in PROJECT_WORKERS]))
        for name, _, r in results:
            print(f"{name}: {r['summary']}")
        print("load average at the end: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
        return results
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(0 if main() is not None else 1)
