"""Smoke tests of benchmarks/: every script runs in its tiny ``--quick`` mode and prints its table.

No wall-clock assertion anywhere: the tests check that each script runs, prints the header and the
tables, that every number it measured is finite and positive, that the profile's hand-written variants
give the same parameters as nnkit, that the textbook recipe trained by nnkit, PyTorch and the book's
loop agree, and that the synthetic grading cohort holds the submission kinds it claims.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = ("training", "profile_training", "widgets", "widgets_browser", "grading", "grading_cluster",
           "run_all")


def run(script, *args, timeout=600):
    out = subprocess.run([sys.executable, str(BENCH / f"{script}.py"), *args], capture_output=True,
                         text=True, timeout=timeout, cwd=BENCH.parent)
    assert out.returncode == 0, f"{script} failed:\n{out.stdout[-2000:]}\n{out.stderr[-3000:]}"
    return out.stdout


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def check_header(text):
    for key in ("date", "machine", "numpy"):
        assert re.search(rf"^{key}\s+: \S", text, re.M), f"header line {key!r} missing"
    assert not re.search(r"\b(nan|inf)\b", text), "a measured number is not finite"


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_has_help_and_quick(script):
    text = run(script, "--help", timeout=60)
    assert "--quick" in text


def test_training_quick_prints_times_ratios_and_recipe():
    text = run("training", "--quick", "--synthetic")
    check_header(text)
    rows = re.findall(r"^(\d+)\s+(nnkit|fused|torch|sklearn|textbook|np\.matmul only)\s+(float32|float64)"
                      r"\s+(\S+)\s+(\S+)\s+(\S+)", text, re.M)
    peers = {(b, p, d) for b, p, d, *_ in rows}
    for b in ("1", "128"):
        for p, d in (("nnkit", "float32"), ("nnkit", "float64"), ("fused", "float32"), ("torch", "float32"),
                     ("sklearn", "float32"), ("textbook", "float64"), ("np.matmul only", "float32")):
            assert (b, p, d) in peers, f"no row for batch {b} {p} {d}"
    for _b, _p, _d, sec, gflops, mem in rows:
        assert number(sec) > 0 and math.isfinite(number(sec))
        assert number(gflops) > 0
        if mem != "-":
            assert math.isfinite(number(mem))
    assert any(mem != "-" for *_, mem in rows), "no peak memory measured"
    ratios = re.findall(r"^(1|128)\s+((?:\S+\s+){5}\S+)$", text.split("nnkit32/fused32")[1], re.M)
    assert len(ratios) == 2 and all(number(x) > 0 for _, r in ratios for x in r.split())
    recipe = re.search(r"^1\s+(0\.\d+|1\.0+)\s+(0\.\d+|1\.0+)\s+(0\.\d+|1\.0+)\s*$",
                       text.split("textbook recipe")[1], re.M)
    assert recipe, "recipe table missing"
    accs = [float(a) for a in recipe.groups()]
    # identical recipe, initial weights and batch order: the three implementations agree
    assert max(accs) - min(accs) <= 0.01, accs
    early = re.search(r"nnkit vs PyTorch (\S+), nnkit vs textbook loop (\S+) ", text)
    assert early and float(early.group(1)) < 1e-9 and float(early.group(2)) < 1e-9, early


def test_profile_quick_takes_the_gap_apart_on_the_same_trajectory():
    text = run("profile_training", "--quick", "--synthetic", "--pyinstrument")
    check_header(text)
    assert "input checks" in text and "dense layers" in text and "optimizer" in text
    assert "pyinstrument, the same epoch" in text and "MLP.loss" in text
    rows = re.findall(r"^(\d+)\s+(fused numpy loop|\+ [a-zA-Z -]+?|nnkit \(public API\)|np\.matmul only)\s+"
                      r"([\d.,]+)[ ]+([\d.,]+)[ ]+([\d.,]+)[ ]*([^\n]*)$", text, re.M)
    assert [r[1] for r in rows[:6]] == ["fused numpy loop", "+ loss value", "+ gradients and a separate step",
                                        "+ input checks", "nnkit (public API)", "np.matmul only"], rows
    assert len(rows) == 2 * 6, rows
    for *_, sec, fused, mm, check in rows:
        assert number(sec) > 0 and number(fused) > 0 and number(mm) > 0
        assert "DIFFERENT" not in check
    # every hand-written variant ends one epoch where nnkit's MLP.loss + SGD.step end
    assert sum(r[-1].strip() == "same params" for r in rows) == 2 * 4
    assert sum(r[-1].strip() == "reference" for r in rows) == 2


def test_widgets_quick_times_each_widget():
    text = run("widgets", "--quick")
    check_header(text)
    for name in ("PerceptronWidget", "OptimizerWidget", "ApproximationWidget", "DecisionBoundaryWidget"):
        assert name in text
    plays = re.findall(r"^\s+play: [^\n]*?" + r"\s+([\d.,]+)" * 5 + r"\s+(yes|NO)$", text, re.M)
    assert len(plays) == 4
    for full, full95, own, own95, png, _ in plays:
        assert 0 < number(full) <= number(full95) and 0 < number(own) <= number(own95) and number(png) > 0


@pytest.mark.browser
def test_widgets_browser_quick_measures_every_control_in_chromium(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    from widgets_browser import WIDGETS

    text = run("widgets_browser", "--quick")
    check_header(text)
    rows = re.findall(r"^browser\s+(\w+)\s+(slider|button|checkbox|dropdown) '([^']+)'\s+(\d+)"
                      r"\s+([\d.,]+)\s+([\d.,]+)\s+(p50<[^\n]*?)\s+(yes|NO)$", text, re.M)
    measured = {(w, label) for w, _kind, label, *_ in rows}
    for widget, (_make, controls) in WIDGETS.items():
        for _kind, label in controls:
            assert (widget, label) in measured, f"no latency row for {widget} {label!r}"
    for *_, n, p50, p95_, _target, _met in rows:
        assert int(n) == 2 and 0 < number(p50) <= number(p95_), "a latency is missing or not finite"
    plays = re.findall(r"^browser\s+(\w+Widget)\s+play: (\d+) frames, ([\d.]+) fps", text, re.M)
    assert {w for w, *_ in plays} == set(WIDGETS) - {"Floor"}
    assert all(int(frames) >= 2 and float(fps) > 0 for _, frames, fps in plays), plays


@pytest.fixture
def grading(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import grading
    return grading


def test_grading_cohort_holds_the_kinds_it_claims(grading, tmp_path):
    assignment = grading.available_assignments()[0]
    labels = grading.build_tree(tmp_path, [assignment], n_students=20)
    assert sum(labels.values()) == 20
    assert {"full", "partial", "blank"} <= set(labels)
    broken = {k for k in labels if k.startswith("broken")}
    assert broken == {"broken (syntax error)", "broken (truncated file)", "broken (import error)"}
    kinds = grading.kinds_for(20)
    stub = "raise NotImplementedError()"
    for i, kind in enumerate(kinds):
        path = next((tmp_path / "course" / "submitted" / f"student{i:03d}" / assignment).glob("*.ipynb"))
        text = path.read_text()
        if kind == "broken" and i % 3 == 1:
            with pytest.raises(json.JSONDecodeError):
                json.loads(text)
            continue
        cells = [c for c in json.loads(text)["cells"]
                 if c.get("metadata", {}).get("nbgrader", {}).get("solution") and c["cell_type"] == "code"]
        answers = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
        stubs = sum(stub in a for a in answers)
        assert not any("### BEGIN SOLUTION" in a for a in answers)
        if kind == "full":
            assert stubs == 0
        elif kind == "blank":
            assert stubs == len(answers) > 0
        elif kind == "partial":
            assert 0 < stubs < len(answers) or len(answers) == 1


@pytest.mark.slow
def test_grading_quick_runs_every_contender():
    text = run("grading", "--quick", timeout=1800)
    check_header(text)
    rows = re.findall(r"^(nnkit-course grade --jobs \d+|nbgrader autograde, per student)\s+([\d.,]+)\s+(\S+)"
                      r"\s+([\d.,]+)", text, re.M)
    assert [r[0] for r in rows][-1] == "nbgrader autograde, per student"
    assert len(rows) == 3
    assert all(number(r[1]) > 0 and number(r[3]) > 0 for r in rows)
    assert "graded 3, failed 0" in text


@pytest.mark.slow
def test_grading_cluster_quick_grades_the_same_on_every_contender():
    text = run("grading_cluster", "--quick", timeout=1800)
    check_header(text)
    rows = re.findall(r"^(local pool, --jobs 1|Dask, \d+ workers?)\s+([\d.,]+)\s+([\d.,]+)\s+([\d.,]+)",
                      text, re.M)
    assert [r[0] for r in rows] == ["local pool, --jobs 1", "Dask, 1 worker", "Dask, 2 workers"]
    assert all(number(x) > 0 for r in rows for x in r[1:])
    trips = re.findall(r"^([12])\s+([\d.,]+)\s+([\d.,]+)$", text, re.M)
    assert [t[0] for t in trips] == ["1", "2"] and all(number(x) > 0 for t in trips for x in t[1:])
    summaries = re.findall(r"^(?:local pool, --jobs 1|Dask, \d+ workers?): graded (\d+), failed (\d+), "
                           r"missing (\d+)[^\n]*? \((\d+) submissions", text, re.M)
    assert len(summaries) == 3 and len(set(summaries)) == 1  # every contender graded the same cohort alike
    graded, failed, missing, total = map(int, summaries[0])
    assert graded + failed + missing == total == 4
    assert "did not grade every notebook" not in text
    projected = re.findall(r"^(1|8|32|128|512)\s+([\d.]+) (h|min)\s+(workers|instructor)$", text, re.M)
    assert [p[0] for p in projected] == ["1", "8", "32", "128", "512"]
    minutes = [float(v) * (60 if u == "h" else 1) for _, v, u, _ in projected]
    assert minutes == sorted(minutes, reverse=True) and minutes[-1] > 0  # more workers never take longer
