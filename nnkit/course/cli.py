"""``nnkit-course``: the instructor's command (release exercises, grade submissions).

    nnkit-course release [ASSIGNMENT ...]
    nnkit-course grade ASSIGNMENT ... | --all [--submissions DIR|ZIP] [--jobs N | --scheduler tcp://H:P]
    nnkit-course export --format canvas|moodle|csv [--roster CSV] [ASSIGNMENT ...]
    nnkit-course similarity ASSIGNMENT ... | --all
    nnkit-course --db postgresql+psycopg://USER@HOST/DB grade ...   (any command: the gradebook to use)

Run it from the repository root or from ``course/`` (or pass ``--course PATH``). ``grade`` runs
every submission in a sandbox (see :mod:`nnkit.course.sandbox`), checks the results here against
the trusted graders in ``course/graders/``, and writes the gradebook, ``course/autograded/``,
``course/feedback/``, ``course/grades.csv`` and ``course/reports/``. A broken or hostile submission
gets a grade and a reason; it never stops the batch. Before any submission, each assignment's own
solution is graded in the same sandbox (the canary); if it does not get full marks the environment is
broken, and the run stops with exit code 2 before the gradebook is touched (with ``--scheduler`` the
solution is graded on the cluster, where the submissions will be). The exit code is 2 also
when the command is misused (unknown assignment, no course directory, missing release), 1 when some
submissions could not be graded because of the environment (status "error": not recorded, grade them
again), else 0.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

USAGE_ERROR = 2


def find_course_dir(given: str | None) -> Path:
    """The course directory: ``--course``, else the working directory or the nearest folder above it
    that is one (holds ``nbgrader_config.py``) or holds one as ``course/``. Never the installed package's
    location, so a non-editable install grades the course it is run in."""
    if given:
        path = Path(given).resolve()
        if not (path / "nbgrader_config.py").exists():
            raise SystemExit(_fail(f"{path} is not a course directory (no nbgrader_config.py)"))
        return path
    cwd = Path.cwd().resolve()
    for folder in (cwd, *cwd.parents):
        for cand in (folder, folder / "course"):
            if (cand / "nbgrader_config.py").exists() and (cand.parent / "solutions").is_dir():
                return cand
    raise SystemExit(_fail(f"cannot find the course directory from {cwd}: run inside the course "
                           "repository (or its course/ folder) or pass --course PATH"))


def _fail(msg: str) -> int:
    print(f"nnkit-course: error: {msg}", file=sys.stderr)
    return USAGE_ERROR


def gradebook_ok(course_dir: Path) -> int | None:
    """None when the gradebook answers; else the usage error, printed (never a silent fallback)."""
    from nnkit.course import gradebook

    try:
        gradebook.check_reachable(gradebook.db_url(course_dir))
    except gradebook.GradebookUnreachable as exc:
        return _fail(str(exc))
    return None


def all_assignments(course_dir: Path) -> list[str]:
    sol = course_dir.parent / "solutions"
    return sorted(d.name for d in sol.iterdir() if d.is_dir() and any(d.glob("*.ipynb"))) \
        if sol.is_dir() else []


def cmd_release(args) -> int:
    from nnkit.course.gradebook import db_url, generate_assignments, redacted

    course_dir = find_course_dir(args.course)
    known = all_assignments(course_dir)
    names = args.assignments or known
    unknown = [a for a in names if a not in known]
    if unknown:
        return _fail(f"no such assignment in solutions/: {', '.join(unknown)}")
    if (err := gradebook_ok(course_dir)) is not None:
        return err
    t = time.monotonic()
    try:
        generate_assignments(course_dir, names)
    except RuntimeError as exc:
        return _fail(str(exc))
    for name in names:
        print(f"released {name} -> exercises/{name}/")
    print(f"{len(names)} assignments released in {time.monotonic() - t:.1f} s; gradebook: "
          f"{redacted(db_url(course_dir))}")
    return 0


def cmd_grade(args) -> int:
    from tqdm import tqdm

    from nnkit.course import engine, exchange, feedback, gradebook, report, sandbox, submissions
    from nnkit.course.distributed import ClusterFault

    course_dir = find_course_dir(args.course)
    known = all_assignments(course_dir)
    graders = {p.stem for p in (course_dir / "graders").glob("*.py")}
    if args.all:
        names = [a for a in known if a in graders]
    else:
        names = args.assignments
    if not names:
        return _fail("name an assignment or pass --all")
    unknown = [a for a in names if a not in known or a not in graders]
    if unknown:
        return _fail(f"unknown assignment (needs solutions/<a>/ and course/graders/<a>.py): "
                     f"{', '.join(unknown)}")
    if args.jobs is not None and args.jobs < 1:
        return _fail("--jobs must be at least 1")
    if (err := gradebook_ok(course_dir)) is not None:
        return err
    assignments = {}
    loaded = {}
    for name in names:
        try:
            loaded[name] = engine.Assignment.load(course_dir, name)
        except ValueError as exc:
            return _fail(str(exc))
    pool = None
    try:
        pool = _grading_pool(args)  # a Dask cluster (--scheduler) or None: the local threads
        kind = pool.sandbox_kind(args.sandbox) if pool else sandbox.detect(args.sandbox)
    except (RuntimeError, ValueError, ClusterFault) as exc:
        if pool:
            pool.shutdown()
        return _fail(str(exc))
    if kind != "bwrap":
        sandbox.warn_fallback()
    limits = sandbox.Limits(cell_seconds=args.cell_timeout, part_cap_seconds=args.part_timeout,
                            total_seconds=args.submission_timeout)
    run_seed = args.seed if args.seed is not None else secrets.randbits(62)
    fault = _canary(pool, loaded.values(), run_seed, limits, kind)  # before anything is written
    if fault:
        return _fail_closing(pool, "the grading environment is broken, nothing was graded or recorded: "
                             + fault)
    try:
        gradebook.ensure_in_gradebook(course_dir, names)
    except RuntimeError as exc:
        return _fail_closing(pool, str(exc))
    for name in names:
        a = loaded[name]
        recorded = gradebook.max_points(course_dir, name)
        for gid in list(a.points):
            if gid in recorded:
                a.points[gid] = recorded[gid]
        for gid in list(a.manual):
            if gid in recorded:
                a.manual[gid] = recorded[gid]
        assignments[name] = a

    refused_at_import: list = []
    if args.submissions:
        src = Path(args.submissions)
        if not src.exists():
            return _fail_closing(pool, f"{src} does not exist")
        ids = {n: {str(c.get("metadata", {}).get("nbgrader", {}).get("grade_id"))
                   for c in a.template["cells"] if c.get("metadata", {}).get("nbgrader")}
               for n, a in assignments.items()}
        try:
            imported, notes = submissions.import_submissions(src, course_dir, names, ids)
        except (ValueError, OSError) as exc:
            return _fail_closing(pool, f"cannot read {src}: {exc}")
        for note in notes:
            print(f"not imported: {note}", file=sys.stderr)
        refused_at_import = list(notes)
        print(f"imported {len(imported)} notebooks from {src} into {course_dir / 'submitted'}")

    work = []
    refused = {name: [r for r in refused_at_import if r.assignment in (None, name)] for name in names}
    for name, a in assignments.items():
        students, not_graded = submissions.collect(course_dir, name)
        refused[name] += not_graded
        work += [(a, s, folder) for s, folder in students.items()]
    jobs = args.jobs or os.cpu_count() or 1
    results: dict[str, list] = {name: [] for name in names}
    counts = {"graded": 0, "failed": 0, "missing": 0, "error": 0}
    errors: list[str] = []
    late: list[str] = []
    start = time.monotonic()
    with pool or ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(engine.grade_submission, a, s, folder, run_seed=run_seed, limits=limits,
                               kind=kind): (a, s, folder) for a, s, folder in work}
        bar = tqdm(as_completed(futures), total=len(futures), unit="student", disable=args.quiet,
                   desc="grading")
        for fut in bar:
            a, student, folder = futures[fut]
            try:
                res = fut.result()  # grade_submission never raises; a cluster can fail to run it
            except ClusterFault as exc:  # never a student's zero: not recorded, earlier grade kept
                print(f"error: {exc}", file=sys.stderr)
                counts["not graded"] = counts.get("not graded", 0) + 1
                continue
            results[a.name].append(res)
            counts[res.status] = counts.get(res.status, 0) + 1
            if res.status == "error":  # the environment's fault: nothing recorded, grade it again
                errors.append(f"{student}/{a.name}: {res.notes[-1] if res.notes else ''}")
            elif folder is not None:  # a student with no folder at all has nothing to record
                try:
                    gradebook.record(course_dir, res, a.notebook_name, folder)
                    info = exchange.lateness(course_dir, a.name, student)
                    note = exchange.late_note(info)
                    if note:
                        res.notes.append(note)
                    if info is not None and info.late:
                        late.append(f"late: {student} {a.name}: {note}")
                    feedback.write(course_dir, res, a.notebook_name)
                    exchange.prepare_release(course_dir, student, a.name, folder)
                except Exception as exc:  # noqa: BLE001 - one student never stops the batch
                    print(f"error: could not record {student}/{a.name}: {exc}", file=sys.stderr)
                    counts["failed"] += 1
            bar.set_postfix_str(f"{student}: {res.score:g}/{res.max_score:g}", refresh=False)
    for name, res in results.items():
        html, _js = report.write(course_dir, name, res, refused=refused[name])
    not_graded = {r.entry: r for rs in refused.values() for r in rs}  # one row per entry, not per assignment
    for _entry, r in sorted(not_graded.items()):
        if r not in refused_at_import:
            print(f"not graded: {r}", file=sys.stderr)
    csv_path = gradebook.export_csv(course_dir)
    for line in sorted(late):
        print(line)
    n_refused = len(not_graded)
    print(f"graded {counts['graded']}, failed {counts['failed']}, missing {counts['missing']}, "
          f"error {counts['error']}, not graded {n_refused} (why: in the report) "
          f"({len(work)} submissions of {', '.join(names)} in {time.monotonic() - start:.1f} s, "
          f"sandbox: {kind}) -> {csv_path}, reports in {course_dir / 'reports'}")
    if errors:
        print(f"warning: {len(errors)} submissions were NOT graded because the grading environment failed "
              "(nothing was recorded for them; run `nnkit-course grade` again for them):\n  "
              + "\n  ".join(errors[:50]), file=sys.stderr)
    if counts.get("not graded"):
        print(f"{counts['not graded']} submissions were NOT graded because of cluster faults (see the errors "
              "above); their earlier grades are unchanged: grade them again", file=sys.stderr)
    return 1 if errors or counts.get("not graded") else 0


def _fail_closing(pool, msg: str) -> int:
    if pool:
        pool.shutdown(cancel_futures=True)
    return _fail(msg)


def _canary(pool, assignments, run_seed: int, limits, kind: str) -> str | None:
    """Grade every assignment's own solution first: None if each gets full marks, else why not.

    With a cluster (``pool``) the solution is graded on the cluster, like the submissions after it, so
    the canary checks the workers' environment (their nnkit, numpy and sandbox), not the instructor's;
    a cluster that cannot run it is a broken environment too.
    """
    from nnkit.course import engine
    from nnkit.course.distributed import ClusterFault

    for a in assignments:
        if pool is None:
            fault = engine.canary(a, run_seed=run_seed, limits=limits, kind=kind)
        else:
            try:
                r = pool.submit(engine.grade_submission, a, engine.CANARY, None, run_seed=run_seed,
                                limits=limits, kind=kind, notebook=a.solution).result()
            except ClusterFault as exc:
                return f"the cluster could not grade the solution of {a.name}: {exc}"
            fault = engine.canary_problem(a, r)
        if fault:
            return fault
    return None


def _grading_pool(args):
    """The Dask pool for ``--scheduler``/``--scheduler-file`` (see nnkit.course.distributed), else None."""
    if not (args.scheduler or args.scheduler_file):
        return None
    if args.jobs is not None:
        raise ValueError("--jobs sets the local pool; on a cluster the workers' threads set the parallelism")
    from nnkit.course.distributed import DaskPool

    return DaskPool(args.scheduler, args.scheduler_file)


def cmd_export(args) -> int:
    from nnkit.course import export, gradebook

    course_dir = find_course_dir(args.course)
    url = gradebook.db_url(course_dir)
    if gradebook.is_sqlite(url) and not (gradebook.sqlite_path(url) or Path("/")).exists():
        return _fail(f"no gradebook at {url}: run `nnkit-course grade` first")
    if (err := gradebook_ok(course_dir)) is not None:
        return err
    default = {"canvas": "canvas-import.csv", "moodle": "moodle-import.csv", "csv": "grades.csv"}
    dest = Path(args.output) if args.output else course_dir / "export" / default[args.format]
    try:
        result = export.export(course_dir, args.format, dest, Path(args.roster) if args.roster else None,
                               args.assignments or None, args.match)
    except export.ExportError as exc:
        return _fail(str(exc))
    print(f"wrote {result.path}: {result.rows} rows, {len(result.assignments)} assignments "
          f"({', '.join(result.assignments)}), format {args.format}")
    for g in sorted(result.late, key=lambda g: (g.assignment, g.student)):
        print(f"late: {g.student} {g.assignment}: {g.raw:g} - {g.penalty:g} late penalty = {g.score:g}")
    if result.no_submission:
        print(f"{len(result.no_submission)} roster students have no submission (left blank): "
              f"{', '.join(result.no_submission[:20])}{' ...' if len(result.no_submission) > 20 else ''}")
    if result.needs_manual:
        print(f"warning: {len(result.needs_manual)} submissions still have written answers to grade in "
              "formgrader (they count 0 until graded): "
              + ", ".join(f"{s}/{a}" for s, a in result.needs_manual[:20]), file=sys.stderr)
    if result.not_on_roster:
        side = export.write_not_on_roster(result)
        print(f"warning: {len(result.not_on_roster)} students with grades are NOT on the roster and are not "
              f"in the import: {', '.join(s.id for s in result.not_on_roster)} (listed in {side})",
              file=sys.stderr)
    return 0


def cmd_similarity(args) -> int:
    from nnkit.course import similarity

    course_dir = find_course_dir(args.course)
    known = all_assignments(course_dir)
    names = known if args.all else args.assignments
    if not names:
        return _fail("name an assignment or pass --all")
    unknown = [a for a in names if a not in known]
    if unknown:
        return _fail(f"no such assignment in solutions/: {', '.join(unknown)}")
    if not 0 < args.threshold <= 1:
        return _fail("--threshold must be in (0, 1]")
    for name in names:
        try:
            r = similarity.run(course_dir, name, threshold=args.threshold)
        except ValueError as exc:
            return _fail(str(exc))
        print(f"{name}: {len(r.students)} submissions, {len(r.flagged_pairs())} pairs flagged, "
              f"{len(r.flagged_reference())} answers like nnkit's reference -> {r.html}")
        for m in r.flagged_pairs() + r.flagged_reference():
            print(f"  {m.a} ~ {m.b}: {100 * m.score:.0f} % shared ({m.overlap} tokens)")
    print("(a flag is for a human to read; no grade was changed)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nnkit-course",
        description="The instructor's command: release the exercises, grade submissions in a sandbox.")
    course_help = "the nbgrader course directory (default: ./course, or . when run inside it)"
    db_help = ("the gradebook: postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB for several graders, or "
               "sqlite:////path/gradebook.db (default: CourseDirectory.db_url in the course's "
               "nbgrader_config.py, else course/gradebook.db). Never falls back when it does not answer.")
    parser.add_argument("--course", help=course_help)
    parser.add_argument("--db", metavar="URL", help=db_help)
    sub = parser.add_subparsers(dest="command", required=True)
    rel = sub.add_parser("release",
                         help="regenerate exercises/ from solutions/ (nbgrader generate_assignment)")
    rel.add_argument("assignments", nargs="*", help="default: every assignment in solutions/")
    rel.add_argument("--course", default=argparse.SUPPRESS, help=course_help)
    rel.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=db_help)
    rel.set_defaults(func=cmd_release)
    gr = sub.add_parser("grade", help="autograde submissions in a sandbox; write gradebook, feedback, CSV")
    gr.add_argument("assignments", nargs="*", help="assignment names, e.g. ex02_losses")
    gr.add_argument("--course", default=argparse.SUPPRESS, help=course_help)
    gr.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=db_help)
    gr.add_argument("--all", action="store_true", help="every assignment with a trusted grader")
    gr.add_argument("--submissions", metavar="DIR|ZIP",
                    help="import notebooks named by student (alice.ipynb, alice/<assignment>.ipynb) first")
    gr.add_argument("--jobs", type=int, default=None, help="parallel submissions (default: CPU count)")
    gr.add_argument("--sandbox", choices=("auto", "bwrap", "none"), default="auto",
                    help="auto: bubblewrap if usable, else rlimits only (with a warning)")
    gr.add_argument("--part-timeout", type=float, default=None,
                    help="cap on each part's time limit in seconds (default: the grader's)")
    gr.add_argument("--cell-timeout", type=float, default=30.0, help="seconds per notebook cell")
    gr.add_argument("--submission-timeout", type=float, default=300.0,
                    help="seconds for one submission in total, retries included")
    gr.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    gr.add_argument("--quiet", action="store_true", help="no progress bar")
    cluster = gr.add_mutually_exclusive_group()
    cluster.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                         help="grade on this Dask scheduler's workers (default: local processes)")
    cluster.add_argument("--scheduler-file", metavar="FILE",
                         help="grade on the Dask scheduler described in FILE "
                              "(dask scheduler --scheduler-file)")
    gr.set_defaults(func=cmd_grade)
    ex = sub.add_parser("export", help="write the gradebook's grades in Canvas's or Moodle's import format")
    ex.add_argument("assignments", nargs="*", help="default: every assignment in the gradebook")
    ex.add_argument("--course", default=argparse.SUPPRESS, help=course_help)
    ex.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=db_help)
    ex.add_argument("--format", choices=("canvas", "moodle", "csv"), required=True,
                    help="canvas/moodle: that LMS's grade import CSV; csv: nbgrader's CSV export")
    ex.add_argument("--roster", metavar="CSV",
                    help="the gradebook export of the LMS (Canvas: Grades > Export; Moodle: Export > Plain "
                         "text file): its students, ids and sections")
    ex.add_argument("--match", metavar="COLUMN",
                    help="the roster column holding nbgrader's student id or email (default: Canvas "
                         "SIS Login ID, SIS User ID, ID; Moodle ID number, Email address, Username)")
    ex.add_argument("-o", "--output", metavar="FILE", help="default: course/export/<format>-import.csv")
    ex.set_defaults(func=cmd_export)
    si = sub.add_parser("similarity", help="report answers copied from each other or from nnkit's source "
                                           "(HTML in course/reports/; never changes a grade)")
    si.add_argument("assignments", nargs="*", help="assignment names")
    si.add_argument("--course", default=argparse.SUPPRESS, help=course_help)
    si.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help=db_help)
    si.add_argument("--all", action="store_true", help="every assignment")
    si.add_argument("--threshold", type=float, default=0.5,
                    help="flag when this share of one side's own code is found in the other (default 0.5)")
    si.set_defaults(func=cmd_similarity)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.course:
        args.course = str(Path(args.course).resolve())
    from nnkit.course import gradebook

    if getattr(args, "all", False) and args.assignments:
        parser.error("give assignments or --all, not both")
    gradebook.use_db(args.db)
    try:
        return args.func(args)
    finally:
        gradebook.use_db(None)  # --db is this command's, not the process's (main is called from tests)


if __name__ == "__main__":
    sys.exit(main())
