"""Suite-wide options and environment-dependent skips.

`pytest --no-browser` skips the JupyterLab-in-Chromium tests. Tests that need something only a
system package provides (Debian's chromium, the Fashion-MNIST IDX files) skip with the install hint
on a developer's machine without it, but fail under CI (`CI` set), where .ci/run installs them: a
missing install step must never pass silently as a skip.
"""

import os
import shutil
from pathlib import Path

# Tests use small matrices on a shared 2-core machine, where a multi-threaded BLAS spends its time
# contending for cores (an epoch measured 15-40x slower). One thread here and in every kernel and
# sandbox the tests start; the benchmarks set their own thread counts and report them.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import pytest  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

threadpool_limits(1)

IN_CI = bool(os.environ.get("CI"))
CHROMIUM = Path("/usr/bin/chromium")
FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")


def pytest_addoption(parser):
    parser.addoption("--no-browser", action="store_true", default=False,
                     help="skip tests that drive JupyterLab in headless Chromium (marked 'browser')")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--no-browser"):
        reason = "--no-browser given"
    elif not IN_CI and not (CHROMIUM.exists() or shutil.which("chromium")):
        reason = "Chromium not installed (apt-get install chromium); CI installs and runs these"
    else:
        return
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


def require_fashion_mnist() -> Path:
    """The Debian Fashion-MNIST directory, or a skip (locally) / failure (CI) saying how to get it."""
    if FASHION_DIR.is_dir() and any(FASHION_DIR.iterdir()):
        return FASHION_DIR
    message = f"Fashion-MNIST IDX files not found in {FASHION_DIR} (apt-get install dataset-fashion-mnist)"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def postgres():
    """A real PostgreSQL server per test module, started as ``postgres`` on a free port, always stopped."""
    from tests._postgres import PostgresServer, require_postgres

    server = PostgresServer(require_postgres())
    try:
        server.start()
        yield server
    finally:
        server.stop()
