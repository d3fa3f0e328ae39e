"""Training speed: one epoch of mini-batch SGD on 60,000 x 784 float32, network 784-30-10 (ReLU, softmax CE).

Peers, measured in the same run on the same pre-shuffled rows (every peer slices contiguous batches):

* ``nnkit``     - nnkit.models.MLP + nnkit.optim.SGD through the public API (``loss`` then ``step``);
* ``fused``     - the same network as one hand-fused numpy loop: the floor for numpy (matmuls + a few
                  in-place element-wise ops, no checks, no dX for the input layer);
* ``torch``     - PyTorch CPU, nn.Sequential + optim.SGD + CrossEntropyLoss, threads = numpy's BLAS threads;
* ``sklearn``   - MLPClassifier(solver="sgd", momentum=0, alpha=0, shuffle=False).partial_fit with
                  max_iter=1 = one epoch (includes sklearn's per-call input validation);
* ``textbook``  - Nielsen's network.py style: column vectors, per-example backprop summed over the batch.
* ``np.matmul`` - only the six matrix products of forward + backward on the same shapes (the reference for
                  GFLOP/s).

Batch size 1 and the per-example textbook loop are timed on a fixed subset (5,000 rows) and scaled to the
epoch. Peak memory: each peer runs one epoch in a fresh subprocess; the number is the peak resident set
size during the epoch minus the resident set size just before it (VmHWM reset via /proc/self/clear_refs),
so it counts everything an epoch allocates (numpy, torch's allocator, BLAS buffers) beyond the data and
the model. Second table: the textbook 784-30-10 recipe (sigmoid + sigmoid, quadratic cost, batch 10,
η = 3.0) trained by nnkit, PyTorch and the textbook loop from identical initial weights.

Usage: ``python benchmarks/training.py [--quick] [--repeats 5] [--batch-sizes 1 10 32 128 512]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import warnings

import numpy as np
from _common import (
    CLOCKS,
    N_CLASSES,
    N_FEATURES,
    N_TRAIN,
    blas_threads,
    load_data,
    machine_info,
    median,
    print_header,
    table,
)

HIDDEN = 30
SIZES = [N_FEATURES, HIDDEN, N_CLASSES]
LR = 0.01
#: nominal floating-point operations per example: forward, backward dX, backward dW, each 2·(784·30+30·10)
FLOPS_PER_EXAMPLE = 2 * (N_FEATURES * HIDDEN + HIDDEN * N_CLASSES) * 3
PEERS = ("nnkit", "fused", "torch", "sklearn", "textbook", "matmul")
DTYPES = {"float32": np.float32, "float64": np.float64}
QUICK_MEMORY = (("nnkit", "float32"), ("torch", "float32"))     # --quick measures memory for these only


def initial_params(dtype, seed=0):
    """The initial weights every peer starts from: nnkit's own (He init, zero biases)."""
    from nnkit.models import MLP

    return {k: v.copy() for k, v in MLP(SIZES, seed=seed, dtype=dtype).params.items()}


# --------------------------------------------------------------------------- the peers (one epoch each)

def make_epoch(net, opt, X, y, batch):
    """One epoch of mini-batch training through nnkit's public API: ``loss`` then ``step``."""
    n = X.shape[0]

    def epoch():
        for i in range(0, n, batch):
            _, grads = net.loss(X[i:i + batch], y[i:i + batch])
            opt.step(grads)
    return epoch


def make_nnkit(X, y, batch, dtype):
    from nnkit.models import MLP
    from nnkit.optim import SGD

    net = MLP(SIZES, activation="relu", output="softmax", seed=0, dtype=dtype)
    return make_epoch(net, SGD(net.params, lr=LR), X, y, batch)


def make_fused(X, y, batch, dtype):
    p = initial_params(dtype)
    W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
    n, lr = X.shape[0], LR

    def epoch():
        for i in range(0, n, batch):
            xb, yb = X[i:i + batch], y[i:i + batch]
            m = xb.shape[0]
            h = xb @ W1
            h += b1
            np.maximum(h, 0, out=h)                      # ReLU in place
            s = h @ W2
            s += b2
            s -= s.max(axis=1, keepdims=True)
            np.exp(s, out=s)
            s /= s.sum(axis=1, keepdims=True)            # s = softmax
            s[np.arange(m), yb] -= 1
            s *= lr / m                                  # s = lr · dL/dscores
            dh = s @ W2.T
            dh *= h > 0
            np.subtract(W2, h.T @ s, out=W2)             # in place: the arrays are the closure's
            np.subtract(b2, s.sum(axis=0), out=b2)
            np.subtract(W1, xb.T @ dh, out=W1)
            np.subtract(b1, dh.sum(axis=0), out=b1)
    return epoch


def make_torch(X, y, batch, dtype):
    import torch
    from torch import nn

    tdtype = torch.float32 if dtype == np.float32 else torch.float64
    p = initial_params(dtype)
    model = nn.Sequential(nn.Linear(N_FEATURES, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_CLASSES)).to(tdtype)
    with torch.no_grad():
        for layer, l in ((model[0], 1), (model[2], 2)):
            layer.weight.copy_(torch.from_numpy(p[f"W{l}"].T.copy()))
            layer.bias.copy_(torch.from_numpy(p[f"b{l}"]))
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    loss_fn = nn.CrossEntropyLoss()
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    n = X.shape[0]

    def epoch():
        for i in range(0, n, batch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xt[i:i + batch]), yt[i:i + batch])
            loss.backward()
            opt.step()
    return epoch


def make_sklearn(X, y, batch, dtype):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", solver="sgd", alpha=0.0,
                        batch_size=batch, learning_rate_init=LR, momentum=0.0, nesterovs_momentum=False,
                        max_iter=1, shuffle=False, random_state=0)
    classes = np.arange(N_CLASSES)

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.partial_fit(X, y, classes=classes)
    return epoch


def make_matmul(X, y, batch, dtype):
    """Only the matrix products of one epoch: the ceiling for GFLOP/s on these shapes."""
    p = initial_params(dtype)
    W1, W2 = p["W1"], p["W2"]
    n = X.shape[0]
    rng = np.random.default_rng(0)
    H = rng.random((batch, HIDDEN)).astype(dtype)
    S = rng.random((batch, N_CLASSES)).astype(dtype)

    def epoch():
        for i in range(0, n, batch):
            xb = X[i:i + batch]
            m = xb.shape[0]
            h, s = H[:m], S[:m]
            xb @ W1, h @ W2                              # forward
            s @ W2.T, h.T @ s                            # backward, output layer
            h @ W1.T, xb.T @ h                           # backward, hidden layer (dX, dW)
    return epoch


class TextbookNetwork:
    """Nielsen's network.py, kept in its style: weights (n_out, n_in), column vectors, one example at a time.

    ``recipe="relu-softmax"`` (ReLU hidden, softmax + cross-entropy, for the speed table) or
    ``"sigmoid-quadratic"`` (the book's recipe: sigmoid everywhere, C_x = ½‖y - a‖²). The update of
    ``update_mini_batch`` is the book's: ``w ← w - (η/m) Σ_x ∇C_x``.
    """

    def __init__(self, weights, biases, recipe="relu-softmax"):
        self.weights = [np.array(w, dtype=np.float64) for w in weights]
        self.biases = [np.array(b, dtype=np.float64).reshape(-1, 1) for b in biases]
        self.recipe = recipe

    def feedforward(self, a):
        for i, (b, w) in enumerate(zip(self.biases, self.weights)):
            a = self._act(w @ a + b, last=i == len(self.weights) - 1)
        return a

    def _act(self, z, last):
        if self.recipe == "sigmoid-quadratic":
            return 1.0 / (1.0 + np.exp(-z))
        if last:
            e = np.exp(z - z.max())
            return e / e.sum()
        return np.maximum(z, 0)

    def _act_prime(self, z):
        if self.recipe == "sigmoid-quadratic":
            s = 1.0 / (1.0 + np.exp(-z))
            return s * (1 - s)
        return (z > 0).astype(np.float64)

    def update_mini_batch(self, mini_batch, eta):
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b)]

    def backprop(self, x, y):
        nabla_b = [None] * len(self.biases)
        nabla_w = [None] * len(self.weights)
        activation, activations, zs = x, [x], []
        for i, (b, w) in enumerate(zip(self.biases, self.weights)):
            z = w @ activation + b
            zs.append(z)
            activation = self._act(z, last=i == len(self.weights) - 1)
            activations.append(activation)
        delta = activations[-1] - y                       # softmax + cross-entropy
        if self.recipe == "sigmoid-quadratic":
            delta = delta * self._act_prime(zs[-1])       # quadratic cost on sigmoid outputs
        nabla_b[-1] = delta
        nabla_w[-1] = delta @ activations[-2].T
        for l in range(2, len(self.weights) + 1):
            delta = (self.weights[-l + 1].T @ delta) * self._act_prime(zs[-l])
            nabla_b[-l] = delta
            nabla_w[-l] = delta @ activations[-l - 1].T
        return nabla_b, nabla_w

    def evaluate(self, X, y):
        return float(np.mean([int(np.argmax(self.feedforward(x.reshape(-1, 1)))) == t for x, t in zip(X, y)]))


def as_columns(X, y):
    """The book's data format: a list of (x (784, 1), one-hot y (10, 1)) tuples, float64."""
    eye = np.eye(N_CLASSES)
    return [(x.reshape(-1, 1).astype(np.float64), eye[t].reshape(-1, 1)) for x, t in zip(X, y)]


def make_textbook(X, y, batch, dtype):
    p = initial_params(np.float64)
    net = TextbookNetwork([p["W1"].T, p["W2"].T], [p["b1"], p["b2"]])
    data = as_columns(X, y)

    def epoch():
        for i in range(0, len(data), batch):
            net.update_mini_batch(data[i:i + batch], LR)
    return epoch


MAKERS = {"nnkit": make_nnkit, "fused": make_fused, "torch": make_torch, "sklearn": make_sklearn,
          "textbook": make_textbook, "matmul": make_matmul}


# --------------------------------------------------------------------------- peak memory (subprocess)

def _status_kib(field):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def memory_child(peer, dtype_name, batch, n_rows, data_path, threads):
    """Run in a fresh interpreter: one epoch of ``peer``, print the peak extra RSS in MiB as JSON."""
    set_threads(threads, torch_too=peer == "torch")
    data = np.load(data_path)
    dtype = DTYPES[dtype_name]
    X, y = data["X"][:n_rows].astype(dtype), data["y"][:n_rows]
    epoch = MAKERS[peer](X, y, batch, dtype)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")                                     # reset VmHWM to the current RSS
    before = _status_kib("VmRSS")
    epoch()
    peak = _status_kib("VmHWM")
    print(json.dumps({"peak_mib": (peak - before) / 1024}))


def measure_memory(peer, dtype_name, batch, n_rows, data_path, threads):
    if not os.path.exists("/proc/self/clear_refs"):
        return None
    cmd = [sys.executable, os.path.abspath(__file__), "--_memory-child", peer, dtype_name, str(batch),
           str(n_rows), data_path, str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        print(f"  (memory of {peer} {dtype_name} b={batch} failed: {out.stderr.strip()[-300:]})")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])["peak_mib"]


def set_threads(threads, torch_too=True):
    """Pin numpy's BLAS (threadpoolctl) and, if asked, PyTorch to ``threads`` threads.

    scipy's BLAS (nnkit's optimizers step with its axpy) is loaded first, so the limit reaches it too.
    """
    try:
        import scipy.linalg.blas  # noqa: F401
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads, user_api="blas")
    except ImportError:  # pragma: no cover
        pass
    if not torch_too:
        return
    try:
        import torch
        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover
        pass


# --------------------------------------------------------------------------- the textbook recipe

def nielsen_recipe(X, y, Xt, yt, epochs, eta=3.0, batch=10, seed=0, with_textbook=True):
    """Sigmoid 784-30-10, quadratic cost, batch 10, η = 3.0 from identical N(0, 1) weights (as network.py).

    nnkit's ``mse`` is a mean over all N·K elements, so its gradient is (2/K) × the gradient of the book's
    per-batch cost (1/m) Σ_x ½‖y - a‖²; the book's step η·∇ equals nnkit/torch SGD with lr = η·K/2 = 15.
    Every epoch uses the same permutation for every implementation. Returns {name: [test acc per epoch]}.
    """
    import torch
    from torch import nn

    from nnkit.models import MLP
    from nnkit.optim import SGD

    rng = np.random.default_rng(seed)
    W = [rng.standard_normal((HIDDEN, N_FEATURES)), rng.standard_normal((N_CLASSES, HIDDEN))]   # (out, in)
    B = [rng.standard_normal(HIDDEN), rng.standard_normal(N_CLASSES)]
    lr = eta * N_CLASSES / 2
    perms = [rng.permutation(X.shape[0]) for _ in range(epochs)]
    X64, Xt64 = X.astype(np.float64), Xt.astype(np.float64)

    net = MLP(SIZES, activation="sigmoid", output="sigmoid", loss="mse", dtype=np.float64)
    for l in (1, 2):
        net.params[f"W{l}"][...] = W[l - 1].T
        net.params[f"b{l}"][...] = B[l - 1]
    opt = SGD(net.params, lr=lr)

    tnet = nn.Sequential(nn.Linear(N_FEATURES, HIDDEN), nn.Sigmoid(), nn.Linear(HIDDEN, N_CLASSES),
                         nn.Sigmoid()).double()
    with torch.no_grad():
        for layer, l in ((tnet[0], 1), (tnet[2], 2)):
            layer.weight.copy_(torch.from_numpy(W[l - 1]))
            layer.bias.copy_(torch.from_numpy(B[l - 1]))
    topt = torch.optim.SGD(tnet.parameters(), lr=lr)
    mse = nn.MSELoss()
    onehot = torch.from_numpy(np.eye(N_CLASSES)[y])
    TX, TXt = torch.from_numpy(X64), torch.from_numpy(Xt64)

    book = TextbookNetwork(W, B, recipe="sigmoid-quadratic") if with_textbook else None
    data = as_columns(X, y) if with_textbook else None

    acc = {"nnkit": [], "torch": [], "textbook": [], "early": None}
    for perm in perms:
        for i in range(0, len(perm), batch):
            if acc["early"] is None and i == 10 * batch:     # after 10 steps: same arithmetic?
                w = net.params["W1"]
                acc["early"] = (float(np.abs(w - tnet[0].weight.detach().numpy().T).max()),
                                float(np.abs(w - book.weights[0].T).max()) if book is not None else None)
            idx = perm[i:i + batch]
            _, grads = net.loss(X64[idx], y[idx])
            opt.step(grads)
            topt.zero_grad()
            mse(tnet(TX[idx]), onehot[idx]).backward()
            topt.step()
            if book is not None:
                book.update_mini_batch([data[j] for j in idx], eta)
        acc["nnkit"].append(net.score(Xt64, yt))
        with torch.no_grad():
            acc["torch"].append(float((tnet(TXt).argmax(1).numpy() == yt).mean()))
        if book is not None:
            acc["textbook"].append(book.evaluate(Xt64, yt))
    return acc


# --------------------------------------------------------------------------- main

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="tiny run (1,000 rows, 1 repeat, little memory measuring): does it work?")
    ap.add_argument("--repeats", type=int, default=None, help="timed repeats per cell (default 5; quick 1)")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    ap.add_argument("--subset", type=int, default=None,
                    help="rows timed for batch 1 and the textbook loop (default 5,000), scaled to the epoch")
    ap.add_argument("--epochs", type=int, default=None, help="epochs of the textbook recipe (default 3)")
    ap.add_argument("--threads", type=int, default=None, help="BLAS/torch threads (default: numpy's)")
    ap.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--synthetic", action="store_true", help="synthetic data even if Fashion-MNIST is there")
    ap.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                    help="wall time (default) or process CPU time (steadier on a busy machine; use 1 thread)")
    ap.add_argument("--no-recipe", action="store_true")
    ap.add_argument("--_memory-child", nargs=6, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args._memory_child:
        peer, dtype_name, batch, n_rows, path, threads = args._memory_child
        memory_child(peer, dtype_name, int(batch), int(n_rows), path, int(threads))
        return None

    quick = args.quick
    repeats = args.repeats or (1 if quick else 5)
    batch_sizes = args.batch_sizes or ([1, 128] if quick else [1, 10, 32, 128, 512])
    subset = args.subset or (100 if quick else 5_000)
    epochs = args.epochs or (1 if quick else 3)
    threads = args.threads or (1 if quick else blas_threads())   # quick: 1 thread, robust on a busy box
    import sklearn
    import torch
    set_threads(threads)                                # after the imports: scipy/torch bring their own

    X, y, Xt, yt, source = load_data(n_train=1_000 if quick else None, synthetic=args.synthetic)
    n_epoch = N_TRAIN                                   # per-epoch figures are for 60,000 rows
    info = machine_info(torch=f"{torch.__version__} ({torch.get_num_threads()} threads, the same as "
                              f"numpy's BLAS)", sklearn=sklearn.__version__, data=source,
                        network=f"784-30-10 ReLU, softmax cross-entropy, plain SGD lr={LR}",
                        repeats=f"median of {repeats} timed epochs after 1 warm-up, repeats interleaved "
                                f"across peers",
                        clock="wall time" if args.clock == "wall" else "process CPU time (--clock cpu)")
    notes = []
    if quick:
        notes.append(f"--quick: {X.shape[0]} rows timed, scaled to {n_epoch:,}; numbers are not meaningful")
    notes.append(f"batch 1 and the textbook per-example loop: {subset:,} rows timed, scaled to {n_epoch:,}")
    notes.append("GFLOP/s = nominal 2·N·(784·30+30·10)·3 (forward, dX, dW) / s; peers that skip the "
                 "input layer's dX (fused, torch, sklearn) do ~1/3 less work than counted")
    print_header("Training speed: one epoch, 784-30-10, mini-batch SGD", info, notes)

    data32 = {"float32": X, "float64": X.astype(np.float64)}
    plan = []                                           # (peer, dtype name)
    for peer in args.peers:
        if peer in ("nnkit", "fused", "matmul"):
            plan += [(peer, "float32"), (peer, "float64")]
        elif peer == "textbook":
            plan.append((peer, "float64"))
        else:
            plan.append((peer, "float32"))

    tmpdir = tempfile.mkdtemp(prefix="nnkit-bench-")
    data_path = os.path.join(tmpdir, "data.npz")
    if not args.no_memory:
        np.savez(data_path, X=X, y=y)

    results = {}                                        # (batch, peer, dtype) -> dict
    timer = CLOCKS[args.clock]
    for batch in batch_sizes:
        runs, times = {}, {}
        for peer, dname in plan:
            rows = min(subset if (batch == 1 or peer == "textbook") else X.shape[0], X.shape[0])
            runs[peer, dname] = (MAKERS[peer](data32[dname][:rows], y[:rows], batch, DTYPES[dname]), rows)
            runs[peer, dname][0]()                     # warm-up
            times[peer, dname] = []
        # repeats interleaved across peers: a burst of load on the shared machine hits one repeat of
        # several peers, not every repeat of one peer; the median then ignores it
        for _ in range(repeats):
            for key, (epoch, _rows) in runs.items():
                t0 = timer()
                epoch()
                times[key].append(timer() - t0)
        for (peer, dname), (_epoch, rows) in runs.items():
            sec = median(times[peer, dname]) * n_epoch / rows
            want_mem = not args.no_memory and (not quick or (batch == batch_sizes[-1] and
                                                             (peer, dname) in QUICK_MEMORY))
            mem = measure_memory(peer, dname, batch, rows, data_path, threads) if want_mem else None
            results[batch, peer, dname] = {"sec": sec, "rows": rows, "gflops": FLOPS_PER_EXAMPLE * n_epoch
                                           / sec / 1e9, "mem": mem}
            print(f"  batch {batch:>4}  {peer:<9} {dname}: {sec:8.3f} s/epoch", flush=True)
        del runs

    rows_out = []
    for batch in batch_sizes:
        for peer, dname in plan:
            r = results[batch, peer, dname]
            timed = f"{r['rows']:,}" + ("" if r["rows"] == n_epoch else f" (x{n_epoch / r['rows']:.0f})")
            label = "np.matmul only" if peer == "matmul" else peer
            rows_out.append([f"{batch}", label, dname, r["sec"], r["gflops"], r["mem"], timed])
    print()
    print(table(["batch", "peer", "dtype", "s/epoch", "GFLOP/s", "peak MiB", "rows timed"], rows_out))

    def ratio(batch, a, b):
        ra, rb = results.get((batch, *a)), results.get((batch, *b))
        return ra["sec"] / rb["sec"] if ra and rb else None

    print()
    print(table(["batch", "nnkit32/fused32", "nnkit64/fused64", "nnkit32/torch32", "nnkit32/sklearn32",
                 "nnkit32/textbook", "fused32/matmul32"],
                [[f"{b}", ratio(b, ("nnkit", "float32"), ("fused", "float32")),
                  ratio(b, ("nnkit", "float64"), ("fused", "float64")),
                  ratio(b, ("nnkit", "float32"), ("torch", "float32")),
                  ratio(b, ("nnkit", "float32"), ("sklearn", "float32")),
                  ratio(b, ("nnkit", "float32"), ("textbook", "float64")),
                  ratio(b, ("fused", "float32"), ("matmul", "float32"))] for b in batch_sizes], digits=3))
    print("(ratios of seconds per epoch: < 1 means nnkit is faster)")

    acc = None
    if not args.no_recipe:
        n_rec = X.shape[0]
        Xte, yte = (Xt[:500], yt[:500]) if quick else (Xt, yt)
        print(f"\n== The textbook recipe: 784-30-10 sigmoid/sigmoid, quadratic cost, batch 10, eta = 3.0, "
              f"{n_rec:,} training rows, test accuracy on {Xte.shape[0]:,} ==")
        print("nnkit/torch: MSE is a mean over all N·10 elements, so lr = eta·10/2 = 15 gives the book's "
              "step w -= (eta/m) Σ_x ∇½‖y-a‖²; identical N(0,1) initial weights and batch order; float64.")
        acc = nielsen_recipe(X, y, Xte, yte, epochs)
        print(table(["epoch", "nnkit", "PyTorch", "textbook loop"],
                    [[f"{e + 1}", acc["nnkit"][e], acc["torch"][e], acc["textbook"][e]]
                     for e in range(epochs)],
                    digits=4))
        if acc["early"] is not None:
            print(f"max |W1 difference| after the first 10 steps: nnkit vs PyTorch {acc['early'][0]:.1e}, "
                  f"nnkit vs textbook loop {acc['early'][1]:.1e} (the same arithmetic up to rounding; with "
                  "eta = 3\non saturated sigmoids those rounding differences grow over the following "
                  "thousands of steps, so the\nper-epoch accuracies agree to a point or two, not to every "
                  "digit)")
    return {"results": results, "recipe": acc}


if __name__ == "__main__":
    main()
