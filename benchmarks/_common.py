"""Shared helpers of the benchmark scripts: machine description, timing, aligned tables, data.

Every script prints the same header (date, CPU, cores, library versions, BLAS threads) so a table can be
read on its own, times with :func:`repeat` (medians and 95th percentiles, never a single run) and prints
with :func:`table`. Nothing here asserts anything about wall-clock time.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence

import numpy as np

N_TRAIN, N_FEATURES, N_CLASSES = 60_000, 784, 10


# --------------------------------------------------------------------------- machine

def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cores() -> int:
    """CPUs this process may run on (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _numpy_blas() -> list[dict]:
    """threadpoolctl's records of the BLAS numpy uses (other libraries, e.g. torch, may bring their own)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover
        return []
    infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    mine = [i for i in infos if "numpy" in i.get("filepath", "")]
    return mine or infos


def blas_threads() -> int:
    """Threads numpy's BLAS uses (threadpoolctl); falls back to the core count."""
    infos = _numpy_blas()
    return max(i["num_threads"] for i in infos) if infos else cores()


def blas_name() -> str:
    infos = _numpy_blas()
    if infos:
        return f"{infos[0]['internal_api']} {infos[0].get('version') or ''}".strip()
    return "?"


def machine_info(**extra) -> dict:
    """Facts printed above every table."""
    info = {
        "date": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_model()}, {cores()} cores ({platform.system()} {platform.machine()})",
        "python": platform.python_version(),
        "numpy": f"{np.__version__} ({blas_name()}, {blas_threads()} BLAS threads)",
    }
    info.update(extra)
    return info


def print_header(title: str, info: dict, notes: Sequence[str] = ()) -> None:
    print(f"\n== {title} ==")
    width = max(len(k) for k in info)
    for k, v in info.items():
        print(f"{k:<{width}} : {v}")
    for n in notes:
        print(f"note: {n}")
    print()


# --------------------------------------------------------------------------- timing

CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def repeat(fn: Callable[[], object], n: int, warmup: int = 1, clock: str = "wall") -> list[float]:
    """Seconds of ``n`` calls of ``fn`` after ``warmup`` untimed calls.

    ``clock="wall"`` (default) is elapsed time; ``clock="cpu"`` is this process's CPU time (all its
    threads), which a busy shared machine disturbs far less, but which also counts BLAS threads that
    spin while waiting: use it with one thread.
    """
    timer = CLOCKS[clock]
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(n):
        t0 = timer()
        fn()
        times.append(timer() - t0)
    return times


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def p95(xs: Sequence[float]) -> float:
    """95th percentile (linear interpolation between order statistics)."""
    return float(np.percentile(np.asarray(xs, dtype=float), 95))


# --------------------------------------------------------------------------- printing

def fmt(x, digits: int = 3) -> str:
    """Numbers with ``digits`` significant digits; None -> '-' (not measured); strings unchanged."""
    if x is None:
        return "-"
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return str(int(x))
    x = float(x)
    if not math.isfinite(x):
        return str(x)                                   # 'nan' / 'inf': shown, never hidden
    if x == 0:
        return "0"
    if abs(x) >= 10 ** digits:
        return f"{x:,.0f}"
    if abs(x) < 1e-3:
        return f"{x:.{digits}g}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:.{decimals}f}"


def table(headers: Sequence[str], rows: Sequence[Sequence], digits: int = 3) -> str:
    """An aligned plain-text table (first column left-aligned, the others right-aligned)."""
    cells = [[fmt(c, digits) for c in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) if cells else len(str(h))
              for i, h in enumerate(headers)]

    def line(items):
        return "  ".join(str(s).ljust(w) if i == 0 else str(s).rjust(w)
                         for i, (s, w) in enumerate(zip(items, widths)))

    out = [line(headers), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells]
    return "\n".join(out)


# --------------------------------------------------------------------------- data

def synthetic_mnist(n: int, seed: int = 0):
    """A learnable stand-in with Fashion-MNIST's shape: 10 random 28×28 templates plus noise, in [0, 1]."""
    rng = np.random.default_rng(seed)
    templates = rng.random((N_CLASSES, N_FEATURES), dtype=np.float32)
    y = rng.integers(0, N_CLASSES, n)
    X = templates[y] + rng.normal(0, 0.35, (n, N_FEATURES)).astype(np.float32)
    np.clip(X, 0, 1, out=X)
    return X.astype(np.float32), y.astype(np.int64)


def load_data(n_train: int | None = None, seed: int = 0, synthetic: bool = False):
    """Fashion-MNIST (X float32 (N, 784) in [0, 1], y int64) or a synthetic set of the same shape.

    Returns ``(X_train, y_train, X_test, y_test, source)``; the training rows are shuffled once with
    ``seed`` (every peer then walks the same rows in the same order) and cut to ``n_train`` if given.
    ``synthetic=True`` skips the real data (quick smoke runs).
    """
    try:
        if synthetic:
            raise FileNotFoundError("synthetic data requested")
        from nnkit.data import load_mnist

        X, y, Xt, yt = load_mnist(kind="fashion", download=False)
        source = "Fashion-MNIST (real, /usr/share/datasets/fashion-mnist)"
    except Exception as exc:  # no local copy: same shape, synthetic
        X, y = synthetic_mnist(N_TRAIN, seed)
        Xt, yt = synthetic_mnist(10_000, seed + 1)
        source = f"synthetic 60,000 x 784 float32 (Fashion-MNIST not available: {type(exc).__name__})"
    perm = np.random.default_rng(seed).permutation(X.shape[0])
    X, y = np.ascontiguousarray(X[perm]), y[perm]
    if n_train is not None:
        X, y = X[:n_train], y[:n_train]
    return X, y, Xt, yt, source
