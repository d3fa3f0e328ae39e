"""Start nnkit grading workers as SLURM jobs and write the scheduler file ``nnkit-course grade`` reads.

Run on the login node (the instructor's machine for the grading run), with the course's environment
active and ``jobqueue.yaml`` from this directory in Dask's configuration::

    DASK_CONFIG=cluster/slurm python cluster/slurm/start_workers.py --jobs 8 --scheduler-file sched.json
    nnkit-course grade --all --scheduler-file sched.json        # in another terminal

The scheduler runs inside this process; the workers are ``sbatch`` jobs that connect back to it. Stop
with Ctrl-C: the jobs are cancelled. ``--print-job-script`` shows the batch script and exits.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def make_cluster(**overrides):
    from dask_jobqueue import SLURMCluster

    return SLURMCluster(config_name="slurm", **overrides)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jobs", type=int, default=4, help="SLURM jobs to start (each runs 4 workers)")
    ap.add_argument("--adapt", type=int, metavar="MAX", help="scale between 1 and MAX jobs with the queue")
    ap.add_argument("--scheduler-file", default="nnkit-scheduler.json")
    ap.add_argument("--print-job-script", action="store_true")
    args = ap.parse_args(argv)
    with make_cluster() as cluster:
        if args.print_job_script:
            print(cluster.job_script())
            return 0
        if args.adapt:
            cluster.adapt(minimum_jobs=1, maximum_jobs=args.adapt)
        else:
            cluster.scale(jobs=args.jobs)
        Path(args.scheduler_file).write_text(json.dumps({"address": cluster.scheduler_address}))
        print(f"scheduler {cluster.scheduler_address} (file {args.scheduler_file}); dashboard "
              f"{cluster.dashboard_link}; Ctrl-C to stop and cancel the jobs", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    raise SystemExit(main())
