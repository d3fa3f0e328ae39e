"""The cluster configuration files in cluster/ load and say what the README says.

* SLURM: cluster/slurm/jobqueue.yaml, loaded as Dask configuration, builds a SLURMCluster (dask-jobqueue,
  its scheduler started on 127.0.0.1, nothing submitted) whose job script is valid bash asking for the
  cores, memory and wall time of the file and starting single-threaded workers in the course's
  environment with bubblewrap checked first, pointed at that scheduler.
* Kubernetes: cluster/kubernetes/*.yaml parse; the worker Deployment runs single-threaded workers against
  the scheduler Service's name and port, with the namespaces bubblewrap needs, and scratch that is
  pod-local; the Service selects the scheduler pods and is not exposed outside the cluster.
"""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
from pathlib import Path

import dask.config
import pytest
import yaml

CLUSTER = Path(__file__).resolve().parent.parent / "cluster"


def _start_workers_module():
    path = CLUSTER / "slurm" / "start_workers.py"
    spec = importlib.util.spec_from_file_location("nnkit_start_workers", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def slurm_config():
    raw = yaml.safe_load((CLUSTER / "slurm" / "jobqueue.yaml").read_text())
    loaded = dask.config.collect(paths=[str(CLUSTER / "slurm")], env={})
    assert loaded["jobqueue"]["slurm"]["cores"] == raw["jobqueue"]["slurm"]["cores"] == 4
    with dask.config.set(loaded):
        yield raw["jobqueue"]["slurm"]


def test_the_slurm_config_builds_the_job_script(slurm_config, tmp_path):
    pytest.importorskip("dask_jobqueue")
    make = _start_workers_module().make_cluster
    with make(scheduler_options={"host": "127.0.0.1", "dashboard_address": ":0"}) as cluster:
        script = cluster.job_script()
        address = cluster.scheduler_address
    path = tmp_path / "job.sh"
    path.write_text(script)
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0, script
    directives = re.findall(r"^#SBATCH (.+)$", script, re.M)
    assert f"-J {slurm_config['name']}" in directives
    assert "--cpus-per-task=4" in directives
    assert "-t 04:00:00" in directives
    assert any(d.startswith("--mem=") for d in directives)
    body = [ln for ln in script.splitlines() if ln and not ln.startswith("#")]
    prologue = slurm_config["job-script-prologue"]
    assert body[: len(prologue)] == prologue  # the environment and the bubblewrap check come first
    worker = shlex.split(body[-1])
    assert worker[:3] == ["python", "-m", "distributed.cli.dask_worker"] and worker[3] == address
    assert address.startswith("tcp://127.0.0.1:")
    args = _options(worker[4:])
    assert args["--nthreads"] == "1" and args["--nworkers"] == "4"
    assert args["--local-directory"] == "$TMPDIR"
    assert args["--lifetime"] == "3h50m"


def _options(tokens: list[str]) -> dict[str, str | None]:
    """``--flag value`` and bare ``--flag`` tokens of a command line."""
    out: dict[str, str | None] = {}
    for i, tok in enumerate(tokens):
        if tok.startswith("--"):
            nxt = tokens[i + 1] if i + 1 < len(tokens) else None
            out[tok] = None if nxt is None or nxt.startswith("--") else nxt
    return out


def _docs(name: str) -> list[dict]:
    docs = [d for d in yaml.safe_load_all((CLUSTER / "kubernetes" / name).read_text()) if d]
    for d in docs:
        assert {"apiVersion", "kind", "metadata", "spec"} <= set(d), name
    return docs


def test_the_kubernetes_manifests_point_the_workers_at_the_scheduler():
    (sched_deploy, service) = _docs("scheduler.yaml")
    (workers,) = _docs("workers.yaml")
    assert (sched_deploy["kind"], service["kind"], workers["kind"]) == ("Deployment", "Service", "Deployment")
    for deploy in (sched_deploy, workers):
        assert deploy["apiVersion"] == "apps/v1"
        assert deploy["spec"]["selector"]["matchLabels"].items() <= \
            deploy["spec"]["template"]["metadata"]["labels"].items()
    sched_labels = sched_deploy["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= sched_labels.items()
    assert service["spec"]["type"] == "ClusterIP"  # never reachable from outside (students)
    (sched,) = sched_deploy["spec"]["template"]["spec"]["containers"]
    comm = next(p for p in service["spec"]["ports"] if p["name"] == "comm")
    assert comm["targetPort"] in {p["name"] for p in sched["ports"]}
    assert str(next(p["containerPort"] for p in sched["ports"] if p["name"] == comm["targetPort"])) == \
        sched["command"][sched["command"].index("--port") + 1]

    pod = workers["spec"]["template"]["spec"]
    (worker,) = pod["containers"]
    cmd = worker["command"]
    assert cmd[:2] == ["dask", "worker"]
    assert cmd[2] == f"tcp://{service['metadata']['name']}:{comm['port']}"
    opts = _options(cmd[3:])
    assert opts["--nthreads"] == "1" and opts["--nworkers"] == "1"
    assert worker["image"] == sched["image"]  # one environment for both (the workers check it anyway)
    # what bubblewrap needs in a pod: its own user namespace, an unmasked /proc, unshare(2) allowed
    assert pod["hostUsers"] is False
    sc = worker["securityContext"]
    assert sc["procMount"] == "Unmasked" and sc["seccompProfile"]["type"] == "Unconfined"
    assert sc.get("privileged") is not True
    # scratch (where submissions are unpacked) is pod-local
    env = {e["name"]: e["value"] for e in worker["env"]}
    scratch = next(m for m in worker["volumeMounts"] if m["mountPath"] == env["TMPDIR"])
    volume = next(v for v in pod["volumes"] if v["name"] == scratch["name"])
    assert set(volume) == {"name", "emptyDir"}
    assert opts["--local-directory"] == env["TMPDIR"]
