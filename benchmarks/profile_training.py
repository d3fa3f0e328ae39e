"""Where the time of one nnkit.MLP epoch goes, and what a proposed patch buys back.

1. cProfile of one epoch of ``MLP.loss`` + ``SGD.step`` (784-30-10, ReLU, softmax CE): the functions with the
   most self time, grouped as "dense layers" (the matrix products live there: cProfile cannot see ``@``),
   "input checks" (nnkit._validate, numpy dtype tests), "optimizer", "loss", "other".
2. An ablation, cumulative, each step timed as a median over repeats, every row next to the fused numpy
   loop (the floor) and to the bare matrix products:

   * ``nnkit (current)``: the installed nnkit.models.MLP + nnkit.optim.SGD;
   * ``+ no dX for the input layer``: ``loss()`` never uses dL/dX, yet ``backward`` computes
     ``dout @ W1.T`` (N x 784), a third of the first layer's work;
   * ``+ trusted kernels``: X and y are validated once per batch; the layers after that run unchecked
     kernels (no re-validation, no ``isfinite`` pass over every intermediate, no dtype tests);
   * ``+ in-place SGD step``: hyper-parameters were checked in the constructor; the step is
     ``x -= lr * g`` (no re-validation per array, no temporaries copied back);
   * ``+ trusted loss kernel``: softmax cross-entropy on labels already checked by ``_targets``, with a
     single finiteness test on the loss value (a diverging run still stops with a clear error).

   The patched classes below (:class:`ProposedMLP`, :class:`ProposedSGD`) are the proposal written as
   subclasses so it can be measured without touching nnkit; the report gives the same change as a patch of
   nnkit/models/mlp.py, nnkit/functional.py and nnkit/optim.py. Once it is applied, the "current" row shows
   the "after" ratio. Every patched variant is checked to give the same parameters as the current code.

Usage: ``python benchmarks/profile_training.py [--quick] [--batch-size 32 ...] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats

import numpy as np
from _common import load_data, machine_info, median, print_header, repeat, table
from training import LR, SIZES, blas_threads, make_epoch, make_fused, make_matmul, set_threads

from nnkit.models import MLP
from nnkit.optim import SGD

# --------------------------------------------------------------------------- the proposal, as subclasses

#: unchecked activation kernels: name -> (forward(z) -> out, backward(d, z, out) -> dz)
KERNELS = {
    "relu": (lambda z: np.maximum(z, 0), lambda d, z, out: d * (z > 0)),
    "tanh": (np.tanh, lambda d, z, out: d * (1 - out * out)),
    "sigmoid": (None, lambda d, z, out: d * out * (1 - out)),   # forward filled in below (stable form)
    "linear": (lambda z: z, lambda d, z, out: d),
}


def _sigmoid(z):
    from nnkit import activations
    return activations._sigmoid(z)


KERNELS["sigmoid"] = (_sigmoid, KERNELS["sigmoid"][1])


class ProposedMLP(MLP):
    """MLP with the proposed changes; ``skip_input_dx`` and ``trusted`` switch them on one by one."""

    skip_input_dx = True
    trusted = True
    trusted_loss = True

    def _use_trusted(self, train):
        return self.trusted and self.activation in KERNELS and not (train and self.dropout > 0)

    def loss(self, X, y, train=True):
        X = self._check_X(X)                              # the only checks of the batch: X and y
        t = self._targets(y, X.shape[0])
        if self._use_trusted(train):
            scores = self._forward_trusted(X)
        else:
            scores = self._forward(X, train)
        value, dscores = self._data_loss(scores, t)
        self._backward(dscores, need_dx=not self.skip_input_dx)
        for lam, penalty in ((self.l2, _l2), (self.l1, _l1)):
            if lam:
                extra, g = penalty(self.params, lam)
                value += extra
                for Wn, _ in self._names:
                    self.grads[Wn] += g[Wn]
        return value, self.grads

    def _data_loss(self, scores, t):
        if not (self.trusted and self.trusted_loss and self.loss_name == "cross_entropy"):
            return super()._data_loss(scores, t)
        # labels t were checked by _targets; scores come from our own layers: one finiteness test, on the loss
        n = scores.shape[0]
        rows = np.arange(n)
        shifted = scores - scores.max(axis=1, keepdims=True)
        p = np.exp(shifted)
        sums = p.sum(axis=1, keepdims=True)
        value = float(np.log(sums[:, 0]).sum() - shifted[rows, t].sum()) / n
        if not math.isfinite(value):
            raise ValueError(f"loss is {value} (training diverged: lower the learning rate)")
        p /= sums
        p[rows, t] -= 1
        p *= 1 / n
        return value, p

    def _forward_trusted(self, a):
        fwd = KERNELS[self.activation][0]
        caches = []
        for l, (Wn, bn) in enumerate(self._names):
            z = a @ self.params[Wn]
            z += self.params[bn]
            out = fwd(z) if l < len(self._names) - 1 else z
            caches.append(("trusted", a, z, out))
            a = out
        self._caches = caches
        return a

    def _backward(self, d, need_dx=True):
        if self._caches and self._caches[0][0] == "trusted":
            bwd = KERNELS[self.activation][1]
            for l in range(len(self._names) - 1, -1, -1):
                (Wn, bn), (_, a_in, z, out) = self._names[l], self._caches[l]
                if l < len(self._names) - 1:
                    d = bwd(d, z, out)
                self.grads[Wn], self.grads[bn] = a_in.T @ d, d.sum(axis=0)
                if l > 0 or need_dx:
                    d = d @ self.params[Wn].T
            return d if need_dx else None
        from nnkit.functional import activation_backward, dense_backward, dropout_backward
        for l in range(len(self._names) - 1, -1, -1):
            (Wn, bn), (c_dense, c_act, c_drop) = self._names[l], self._caches[l]
            if c_drop is not None:
                d = dropout_backward(d, c_drop)
            if c_act is not None:
                d = activation_backward(d, c_act)
            if l > 0 or need_dx:
                d, self.grads[Wn], self.grads[bn] = dense_backward(d, c_dense)
            else:                                         # input layer: dW and db only
                _, x, _ = c_dense
                self.grads[Wn], self.grads[bn] = x.T @ d, d.sum(axis=0)
                d = None
        return d


def _l2(params, lam):
    from nnkit.functional import l2_penalty
    return l2_penalty(params, lam)


def _l1(params, lam):
    from nnkit.functional import l1_penalty
    return l1_penalty(params, lam)


class ProposedSGD(SGD):
    """SGD whose plain step (no momentum, no weight decay) updates in place with the checked lr."""

    def step(self, grads):
        if self.momentum or self.weight_decay:
            return super().step(grads)
        lr = self.lr
        for name, x in self.params.items():
            x -= lr * grads[name]
        return None


# --------------------------------------------------------------------------- the variants

VARIANTS = [
    ("nnkit (current)", dict(proposed=False)),
    ("+ no dX for the input layer", dict(proposed=True, skip_input_dx=True, trusted=False, sgd=False,
                                         loss=False)),
    ("+ trusted layer kernels", dict(proposed=True, skip_input_dx=True, trusted=True, sgd=False, loss=False)),
    ("+ in-place SGD step", dict(proposed=True, skip_input_dx=True, trusted=True, sgd=True, loss=False)),
    ("+ trusted loss kernel", dict(proposed=True, skip_input_dx=True, trusted=True, sgd=True, loss=True)),
]


def build(variant, dtype):
    if not variant["proposed"]:
        net = MLP(SIZES, seed=0, dtype=dtype)
        return net, SGD(net.params, lr=LR)
    net = ProposedMLP(SIZES, seed=0, dtype=dtype)
    net.skip_input_dx, net.trusted = variant["skip_input_dx"], variant["trusted"]
    net.trusted_loss = variant["loss"]
    opt = (ProposedSGD if variant["sgd"] else SGD)(net.params, lr=LR)
    return net, opt


CATEGORIES = [
    ("dense layers (matmuls)", ("functional.py:dense_", "functional.py:_dense_")),
    ("activations", ("_forward_kernel", "_backward_kernel", "activations.py:_")),
    ("input checks", ("_validate.py", "numerictypes.py", "_methods.py", "functional.py:_dout",
                      "functional.py:_cache", "functional.py:_x", "activations.py:check_",
                      "builtins.issubclass", "numpy.asarray", "method 'all'")),
    ("optimizer", ("optim.py",)),
    ("loss", ("losses.py", "mlp.py:_targets", "mlp.py:_data_loss")),
]


def categorize(key):
    filename, _, func = key
    label = f"{filename.rsplit('/', 1)[-1]}:{func}"
    for cat, needles in CATEGORIES:
        if any(nd in label for nd in needles):
            return cat, label
    return "other (glue, activations, ufunc reductions)", label


def profile_epoch(X, y, batch, dtype, top):
    net, opt = build(VARIANTS[0][1], dtype)
    epoch = make_epoch(net, opt, X, y, batch)
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


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="tiny run (1,000 rows, 1 repeat)")
    ap.add_argument("--batch-size", type=int, nargs="+", default=None, help="default: 1 32 128 512")
    ap.add_argument("--rows", type=int, default=None,
                    help="rows per timed epoch (default 60,000; b=1: 5,000)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--synthetic", action="store_true", help="synthetic data even if Fashion-MNIST is there")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default) or process CPU time (steadier on a busy machine; use 1 thread)")
    args = ap.parse_args(argv)
    quick = args.quick
    batches = args.batch_size or ([1, 128] if quick else [1, 32, 128, 512])
    repeats = args.repeats or (1 if quick else 5)
    threads = args.threads or (1 if quick else blas_threads())
    set_threads(threads, torch_too=False)
    dtype = np.float32 if args.dtype == "float32" else np.float64
    X, y, *_ = load_data(n_train=1_000 if quick else None, synthetic=args.synthetic)
    X = X.astype(dtype)
    print_header("Where the time of an nnkit.MLP epoch goes", machine_info(
        network=f"784-30-10 ReLU, softmax CE, SGD lr={LR}, {args.dtype}",
        repeats=f"median of {repeats} after 1 warm-up",
        clock="wall time" if args.clock == "wall" else "process CPU time (--clock cpu)"),
        [f"rows per timed epoch: {args.rows or X.shape[0]:,} (batch 1: {min(X.shape[0], 5_000):,}), "
         "times scaled to 60,000 rows"])

    # 1. profile
    pb = 32 if 32 in batches else batches[0]
    prof_rows = min(X.shape[0], 10_000)
    total, cats, top = profile_epoch(X[:prof_rows], y[:prof_rows], pb, dtype, args.top)
    print(f"cProfile, one epoch of {prof_rows:,} rows at batch {pb} (self time; profiling adds overhead):")
    print(table(["category", "self s", "share"],
                [[c, s, f"{100 * s / total:.0f}%"] for c, s in sorted(cats.items(), key=lambda kv: -kv[1])]))
    print()
    print(table(["function", "calls", "self s", "cum s", "category"],
                [[label, nc, tt, ct, cat] for tt, label, nc, ct, cat in top]))

    # 2. ablation
    results = []
    for batch in batches:
        rows = args.rows or (min(X.shape[0], 5_000) if batch == 1 else X.shape[0])
        Xb, yb = X[:rows], y[:rows]
        scale = 60_000 / rows
        fused = median(repeat(make_fused(Xb, yb, batch, dtype), repeats, clock=args.clock)) * scale
        mm = median(repeat(make_matmul(Xb, yb, batch, dtype), repeats, clock=args.clock)) * scale
        ref_params = None
        for name, variant in VARIANTS:
            net, opt = build(variant, dtype)
            epoch = make_epoch(net, opt, Xb, yb, batch)
            try:
                sec = median(repeat(epoch, repeats, clock=args.clock)) * scale
            except Exception as exc:  # the model's internals changed under the subclass
                results.append([f"{batch}", name, None, None, None, f"failed: {type(exc).__name__}"])
                continue
            # same trajectory as the current code (fresh models, one epoch each)
            check_net, check_opt = build(variant, dtype)
            make_epoch(check_net, check_opt, Xb[:2_000], yb[:2_000], batch)()
            if ref_params is None:
                ref_params, same = {k: v.copy() for k, v in check_net.params.items()}, "reference"
            else:
                tol = 1e-4 if dtype == np.float32 else 1e-10
                ok = all(np.allclose(check_net.params[k], ref_params[k], rtol=tol, atol=tol)
                         for k in ref_params)
                same = "same params" if ok else "DIFFERENT"
            results.append([f"{batch}", name, sec, sec / fused, sec / mm, same])
        results.append([f"{batch}", "fused numpy loop", fused, 1.0, fused / mm, ""])
        results.append([f"{batch}", "np.matmul only", mm, mm / fused, 1.0, ""])
    print()
    print(table(["batch", "variant", "s/epoch", "/fused", "/matmul", "check"], results))
    print("(nnkit (current) is the installed code: its /fused is the before/after ratio. The '+' rows build "
          "the proposal\n step by step from nnkit's public functional pairs, each adding its change to the "
          "row above)")
    return results


if __name__ == "__main__":
    main()
