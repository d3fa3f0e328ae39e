"""Every lecture notebook runs headless from top to bottom, widgets included.

The notebooks are executed with nbclient in a fresh python3 kernel, with ``lectures/`` as the working
directory. Their first cell turns on ipympl's widget backend (``%matplotlib widget``), so the widgets take
their interactive-canvas code path exactly as in JupyterLab; the worked examples inside the notebooks
``assert`` their numbers, so a wrong result fails here too. Notebooks are committed without outputs.
"""

import os
from pathlib import Path

import nbformat
import pytest

LECTURES = Path(__file__).resolve().parents[1] / "lectures"
NOTEBOOKS = sorted(LECTURES.glob("[0-9][0-9]_*.ipynb"))
EXPECTED = ["01_perceptron", "02_linear_classifiers_and_losses", "03_gradient_descent_and_backprop",
            "04_mlp_and_activations", "05_universal_approximation", "06_optimizers", "07_regularization",
            "08_digit_classifier"]


def test_the_eight_lectures_exist_without_outputs():
    assert [p.stem for p in NOTEBOOKS] == EXPECTED
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# Lecture")
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "%matplotlib widget" in code[0].source, f"{path.name}: first code cell must set the backend"
        for cell in code:
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: outputs committed"
            assert "sys.path" not in cell.source, f"{path.name}: import the installed nnkit, no path hacks"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_lecture_executes(path):
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    # The kernel inherits this environment: no MPLBACKEND (the notebook chooses ipympl itself), and BLAS
    # on one thread (tiny matrices; on a shared 2-core CI box threads make them 10-20x slower).
    saved = {k: os.environ.get(k) for k in ("MPLBACKEND", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    os.environ.pop("MPLBACKEND", None)
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
    try:
        client = NotebookClient(nb, timeout=180, kernel_name="python3",
                                resources={"metadata": {"path": str(LECTURES)}})
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    errors = [(i, out) for i, cell in enumerate(nb.cells) if cell.cell_type == "code"
              for out in cell.outputs if out.output_type == "error"]
    assert not errors, f"{path.name}: cell {errors[0][0]} raised {errors[0][1].ename}: {errors[0][1].evalue}"
    # the widget backend really was used: the widget cells produced widget views, not just text
    views = [out for cell in nb.cells if cell.cell_type == "code" for out in cell.outputs
             if "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
    assert views, f"{path.name}: no widget or ipympl figure was displayed"
