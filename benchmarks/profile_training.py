"""Where the time of one nnkit.MLP epoch goes, and what each of nnkit's obligations costs.

1. A profile of one epoch of ``MLP.loss`` + ``SGD.step`` (784-30-10, ReLU, softmax CE): cProfile's self
   time grouped by category ("dense layers": the matrix products live there, cProfile cannot see ``@``;
   "activations", "input checks", "loss", "optimizer", "glue": the Python of the layer and optimizer
   objects), then, with ``--pyinstrument``, pyinstrument's call tree of the same epoch.
2. The gap to the hand-fused loop, taken apart. Starting from the fused numpy loop of
   benchmarks/training.py (the floor: no checks, no loss value, the learning rate folded into
   backpropagation), each row adds one thing the public API must do, cumulatively:

   * ``+ loss value``: ``loss()`` returns the batch loss (the fused loop never computes it);
   * ``+ gradients and a separate step``: the gradients are returned as arrays (``dL/dW``, not ``lr·dL/dW``)
     and the optimizer applies ``x -= lr * g`` to each: one more pass over every parameter;
   * ``+ input checks``: X by its attributes, the labels by one reduction, NaN/inf by one sum over the
     first layer's output (what ``MLP.loss`` checks per call);
   * ``nnkit (public API)``: ``MLP.loss`` + ``SGD.step`` themselves; the step from the row above is the
     Python of the layer, model and optimizer objects.

   Every row is checked to give the same parameters as nnkit after an epoch on the same rows (the
   variants are written out as plain numpy here, not as subclasses of nnkit's classes, so a change of
   nnkit's internals cannot silently turn them into something else).

Usage: ``python benchmarks/profile_training.py [--quick] [--batch-size 10 32 ...] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import cProfile
import inspect
import math
import pstats

import numpy as np
from _common import load_data, machine_info, median, print_header, table
from training import LR, SIZES, blas_threads, initial_params, make_epoch, make_matmul, set_threads

from nnkit import layers as _layers
from nnkit.models import MLP
from nnkit.models import mlp as _mlp
from nnkit.optim import SGD

# --------------------------------------------------------------------------- the variants

_max, _sum = np.maximum.reduce, np.add.reduce


def make_variant(X, y, batch, dtype, *, loss_value=True, separate_step=True, checks=True):
    """The fused loop with some of nnkit's obligations switched on (see the module docstring).

    With all three off this is, operation for operation, ``make_fused`` of benchmarks/training.py.
    """
    p = initial_params(dtype)
    params = [p["W1"], p["b1"], p["W2"], p["b2"]]
    W1, b1, W2, b2 = params
    n, lr, d_in, n_classes = X.shape[0], LR, SIZES[0], SIZES[-1]
    unsigned = np.dtype(f"u{y.dtype.itemsize}")
    last_loss = [math.nan]

    def epoch():
        for i in range(0, n, batch):
            xb, yb = X[i:i + batch], y[i:i + batch]
            m = xb.shape[0]
            if checks:
                if not (type(xb) is np.ndarray and xb.dtype == dtype and xb.ndim == 2
                        and xb.shape[1] == d_in):
                    raise ValueError("X: bad batch")
                if yb.shape[0] != m or _max(yb.view(unsigned)) >= n_classes:
                    raise ValueError("y: bad labels")
            h = xb @ W1
            h += b1
            if checks and not math.isfinite(_sum(h, None)):
                raise ValueError("X: contains NaN or inf")
            np.maximum(h, 0, out=h)                          # ReLU in place
            s = h @ W2
            s += b2
            rows = np.arange(m)
            s -= s.max(axis=1, keepdims=True)
            picked = s[rows, yb] if loss_value else None
            np.exp(s, out=s)
            sums = s.sum(axis=1, keepdims=True)
            if loss_value:
                per_row = np.log(sums[:, 0])
                per_row -= picked
                last_loss[0] = float(_sum(per_row)) / m
            s /= sums
            s[rows, yb] -= 1
            s *= (1 / m) if separate_step else (lr / m)      # dL/dscores, or lr · dL/dscores
            dh = s @ W2.T
            dh *= h > 0
            if separate_step:                                # gradients as arrays, then x -= lr * g
                for x, g in zip(params, (xb.T @ dh, dh.sum(axis=0), h.T @ s, s.sum(axis=0))):
                    x -= lr * g
            else:                                            # the fused loop's in-place updates
                np.subtract(W2, h.T @ s, out=W2)
                np.subtract(b2, s.sum(axis=0), out=b2)
                np.subtract(W1, xb.T @ dh, out=W1)
                np.subtract(b1, dh.sum(axis=0), out=b1)
    epoch.params = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    return epoch


def make_nnkit(X, y, batch, dtype):
    net = MLP(SIZES, activation="relu", output="softmax", seed=0, dtype=dtype)
    epoch = make_epoch(net, SGD(net.params, lr=LR), X, y, batch)
    epoch.params = net.params
    return epoch


VARIANTS = [
    ("fused numpy loop", lambda X, y, b, d: make_variant(X, y, b, d, loss_value=False, separate_step=False,
                                                         checks=False)),
    ("+ loss value", lambda X, y, b, d: make_variant(X, y, b, d, separate_step=False, checks=False)),
    ("+ gradients and a separate step", lambda X, y, b, d: make_variant(X, y, b, d, checks=False)),
    ("+ input checks", make_variant),
    ("nnkit (public API)", make_nnkit),
]


# --------------------------------------------------------------------------- the profile

def _where(fn):
    code = inspect.unwrap(fn).__code__
    return code.co_filename, code.co_firstlineno


#: (file, first line) of nnkit's functions -> category; everything else by file name below
_FUNCTIONS = {
    **{_where(f): "dense layers (matmuls)" for f in (_layers.Dense._forward, _layers.Dense._backward)},
    **{_where(f): "activations" for f in (_layers.Activation._forward, _layers.Activation._backward,
                                          _layers.Activation._backward_into)},
    **{_where(f): "input checks" for f in (MLP._check_X, MLP._targets)},
    **{_where(f): "loss" for f in (MLP._data_loss,)},
}
_FILES = [("activations.py", "activations"), ("losses.py", "loss"), ("optim.py", "optimizer"),
          ("_validate.py", "input checks")]


def _qualnames(*modules):
    """(file, first line) -> qualified name (``Dense._backward``) of the functions and methods of modules."""
    out = {}
    for module in modules:
        for obj in vars(module).values():
            own_class = inspect.isclass(obj) and obj.__module__ == module.__name__
            members = vars(obj).values() if own_class else [obj]
            for fn in members:
                fn = getattr(fn, "fget", fn)                     # properties: their getter
                if inspect.isfunction(fn):
                    out[_where(fn)] = fn.__qualname__
    return out


_QUALNAMES = _qualnames(_layers, _mlp)


def categorize(key):
    filename, line, func = key
    func = _QUALNAMES.get((filename, line), func)
    label = f"{filename.rsplit('/', 1)[-1]}:{func}" if filename != "~" else func
    cat = _FUNCTIONS.get((filename, line))
    if cat is None and filename == _mlp.__file__ and func == "_first_layer":
        cat = "dense layers (matmuls)"                     # the first layer's matmul + the NaN/inf sum
    if cat is None:
        cat = next((c for f, c in _FILES if filename.endswith(f)), None)
    if cat is None:
        cat = "glue (layers, model, optimizer objects)" if "nnkit" in filename else "other (numpy, the loop)"
    return cat, label


def profile_epoch(X, y, batch, dtype, top):
    epoch = make_nnkit(X, y, batch, dtype)
    epoch()                                               # warm-up
    prof = cProfile.Profile()
    prof.enable()
    epoch()
    prof.disable()
    stats = pstats.Stats(prof).stats
    total = sum(v[2] for v in stats.values())
    rows, cats = [], {}
    for key, (_cc, nc, tt, ct, _) in stats.items():
        cat, label = categorize(key)
        cats[cat] = cats.get(cat, 0.0) + tt
        rows.append((tt, label, nc, ct, cat))
    rows.sort(reverse=True)
    return total, cats, rows[:top]


def pyinstrument_epoch(X, y, batch, dtype):
    """pyinstrument's call tree of one epoch (None if pyinstrument is not installed)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return None
    epoch = make_nnkit(X, y, batch, dtype)
    epoch()
    prof = Profiler(interval=1e-4)
    prof.start()
    epoch()
    prof.stop()
    return prof.output_text(unicode=False, color=False, show_all=False)


# --------------------------------------------------------------------------- timing

def time_interleaved(epochs, repeats, clock):
    """Median seconds of each epoch function, the repeats interleaved across them (one warm-up each)."""
    from _common import CLOCKS

    timer = CLOCKS[clock]
    times = {name: [] for name in epochs}
    for fn in epochs.values():
        fn()
    for _ in range(repeats):
        for name, fn in epochs.items():
            t0 = timer()
            fn()
            times[name].append(timer() - t0)
    return {name: median(ts) for name, ts in times.items()}


def same_params(make, X, y, batch, dtype, reference):
    """'same params' if ``make``'s epoch on these rows ends where nnkit's does, else 'DIFFERENT'."""
    epoch = make(X, y, batch, dtype)
    epoch()
    tol = 1e-4 if dtype == np.float32 else 1e-10
    ok = all(np.allclose(epoch.params[k], reference[k], rtol=tol, atol=tol) for k in reference)
    return "same params" if ok else "DIFFERENT"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny run (1,000 rows, 1 repeat)")
    ap.add_argument("--batch-size", type=int, nargs="+", default=None, help="default: 1 10 32 128 512")
    ap.add_argument("--rows", type=int, default=None,
                    help="rows per timed epoch (default 60,000; b=1: 5,000)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--pyinstrument", action="store_true", help="also print pyinstrument's call tree")
    ap.add_argument("--synthetic", action="store_true", help="synthetic data even if Fashion-MNIST is there")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default) or process CPU time (steadier on a busy machine; use 1 thread)")
    args = ap.parse_args(argv)
    quick = args.quick
    batches = args.batch_size or ([1, 128] if quick else [1, 10, 32, 128, 512])
    repeats = args.repeats or (1 if quick else 5)
    threads = args.threads or (1 if quick else blas_threads())
    set_threads(threads, torch_too=False)
    dtype = np.float32 if args.dtype == "float32" else np.float64
    X, y, *_ = load_data(n_train=1_000 if quick else None, synthetic=args.synthetic)
    X = X.astype(dtype)
    print_header("Where the time of an nnkit.MLP epoch goes", machine_info(
        network=f"784-30-10 ReLU, softmax CE, SGD lr={LR}, {args.dtype}",
        repeats=f"median of {repeats} after 1 warm-up, interleaved across the rows of a batch size",
        clock="wall time" if args.clock == "wall" else "process CPU time (--clock cpu)"),
        [f"rows per timed epoch: {args.rows or X.shape[0]:,} (batch 1: {min(X.shape[0], 5_000):,}), "
         "times scaled to 60,000 rows"])

    # 1. profile
    pb = 10 if 10 in batches else batches[0]
    prof_rows = min(X.shape[0], 10_000)
    total, cats, top = profile_epoch(X[:prof_rows], y[:prof_rows], pb, dtype, args.top)
    print(f"cProfile, one epoch of {prof_rows:,} rows at batch {pb} (self time; profiling adds overhead):")
    print(table(["category", "self s", "share"],
                [[c, s, f"{100 * s / total:.0f}%"] for c, s in sorted(cats.items(), key=lambda kv: -kv[1])]))
    print()
    print(table(["function", "calls", "self s", "cum s", "category"],
                [[label, nc, tt, ct, cat] for tt, label, nc, ct, cat in top]))
    if args.pyinstrument:
        text = pyinstrument_epoch(X[:prof_rows], y[:prof_rows], pb, dtype)
        print("\npyinstrument, the same epoch:\n" + (text or "(pyinstrument is not installed)"))

    # 2. the gap to the fused loop, taken apart
    results = []
    for batch in batches:
        rows = args.rows or (min(X.shape[0], 5_000) if batch == 1 else X.shape[0])
        Xb, yb = X[:rows], y[:rows]
        scale = 60_000 / rows
        epochs = {name: make(Xb, yb, batch, dtype) for name, make in VARIANTS}
        epochs["np.matmul only"] = make_matmul(Xb, yb, batch, dtype)
        sec = {k: v * scale for k, v in time_interleaved(epochs, repeats, args.clock).items()}
        check_rows = min(rows, 2_000)
        reference = make_nnkit(Xb[:check_rows], yb[:check_rows], batch, dtype)
        reference()
        fused, mm = sec["fused numpy loop"], sec["np.matmul only"]
        for name, make in VARIANTS:
            check = "reference" if make is make_nnkit else same_params(make, Xb[:check_rows], yb[:check_rows],
                                                                     batch, dtype, reference.params)
            results.append([f"{batch}", name, sec[name], sec[name] / fused, sec[name] / mm, check])
        results.append([f"{batch}", "np.matmul only", mm, mm / fused, 1.0, ""])
    print()
    print(table(["batch", "variant", "s/epoch", "/fused", "/matmul", "check"], results))
    print("(cumulative: each row adds its obligation to the row above; 'nnkit (public API)' /fused is the "
          "ratio\n benchmarks/training.py reports, and its step from '+ input checks' is the Python of the "
          "objects)")
    return results


if __name__ == "__main__":
    main()
