"""Run every benchmark in turn, each in its own interpreter, and print their tables.

    python benchmarks/run_all.py            # the full set (training is the long one: several minutes)
    python benchmarks/run_all.py --quick    # a tiny run of each, to check they work
    python benchmarks/run_all.py --only training widgets

Each script also runs alone (``python benchmarks/training.py --help``). A failing script is reported and
the others still run; the exit code is the number of failures.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = ("training", "profile_training", "widgets", "widgets_browser", "grading", "grading_cluster")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script")
    ap.add_argument("--only", nargs="+", choices=SCRIPTS, default=list(SCRIPTS))
    args = ap.parse_args(argv)
    failures = 0
    for name in args.only:
        cmd = [sys.executable, str(HERE / f"{name}.py")] + (["--quick"] if args.quick else [])
        print(f"\n##### {name} ({' '.join(cmd[1:])})", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        print(f"##### {name}: exit {rc} after {time.perf_counter() - t0:.0f} s", flush=True)
        failures += rc != 0
    return failures


if __name__ == "__main__":
    sys.exit(main())
