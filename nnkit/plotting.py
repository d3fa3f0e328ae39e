"""Static figures the lectures share: training curves, images and templates, confusion matrices, and the
computational graph of an ``nnkit.autograd`` expression with forward values and gradients on its nodes.

Every function draws on a given ``ax`` (or makes a new pyplot figure) and returns the figure, so a lecture
cell is one call and the drawing code is tested once, here.
"""

from __future__ import annotations

import numpy as np

from nnkit._validate import as_count, as_float_array, as_labels, check_nonempty

# Widest figure (inches at matplotlib's 100 dpi) that fits the notebook column of JupyterLab in a
# 1400 px window with the file browser open (measured: 968 px for the output, ipympl adds ~8 px). Every
# figure drawn here obeys it; the lectures size their own figures by it too (the browser tests check).
MAX_WIDTH = 9.0

# One colour per class, for points *and* the regions they are predicted in (regions use a paler tint).
CLASS_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf"]


def _axes(ax, figsize):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=(min(figsize[0], MAX_WIDTH), figsize[1]), layout="constrained")
        return fig, ax
    return ax.figure, ax


def _tint(color, amount: float = 0.6):
    """``color`` mixed with white: ``amount`` 0 keeps it, 1 is white."""
    from matplotlib.colors import to_rgb

    return tuple(c + (1.0 - c) * amount for c in to_rgb(color))


def class_cmaps(n_classes: int):
    """``(points, regions)``: two ListedColormaps with one entry per class, the regions a pale tint of
    the points' colour, so a point sits on the region of its own class in the same hue."""
    from matplotlib.colors import ListedColormap

    if not 1 <= int(n_classes) <= len(CLASS_COLORS):
        raise ValueError(f"n_classes: expected 1..{len(CLASS_COLORS)}, got {n_classes!r}")
    colors = CLASS_COLORS[: int(n_classes)]
    return ListedColormap(colors), ListedColormap([_tint(c) for c in colors])


def plot_regions(predict, X, y, ax=None, n_classes: int | None = None, lim=None, resolution: int = 150,
                 title: str | None = None, s: float = 14):
    """Predicted class regions of ``predict`` (a function of an (M, 2) array) with the points ``X`` (N, 2)
    coloured by their labels ``y`` in the same colours as their regions.

    ``lim`` is ``(lo, hi)`` for both axes, or ``((x0, x1), (y0, y1))``; default: the data's range plus a
    margin. Labels are class indices 0..C-1 (±1 labels are mapped to 0 and 1). Returns the figure.
    """
    if not callable(predict):
        raise TypeError(f"predict: expected a function of an (M, 2) array, got {type(predict).__name__}")
    X = as_float_array(X, "X", ndim=2)
    if X.shape[1] != 2:
        raise ValueError(f"X: expected shape (N, 2), got {X.shape}")
    check_nonempty(X, "X")
    y = np.asarray(y).ravel()
    if y.shape != (len(X),):
        raise ValueError(f"y: expected shape ({len(X)},), got {y.shape}")
    signs = set(np.unique(y).tolist()) <= {-1, 1}
    if n_classes is not None:
        n_classes = as_count(n_classes, "n_classes")
    labels = (y > 0).astype(int) if signs else as_labels(y, "y", n_classes)
    C = int(n_classes or max(2, labels.max() + 1))
    points, regions = class_cmaps(C)
    resolution = as_count(resolution, "resolution", minimum=2)
    lim = _limits(X, lim)
    g0, g1 = np.meshgrid(np.linspace(*lim[0], resolution), np.linspace(*lim[1], resolution))
    raw = np.asarray(predict(np.column_stack([g0.ravel(), g1.ravel()])))
    if raw.size != g0.size:
        raise ValueError(f"predict: expected one label per row of its ({g0.size}, 2) input, got shape "
                         f"{raw.shape}")
    if signs or set(np.unique(raw).tolist()) <= {-1, 1}:  # a perceptron's ±1 predictions
        pred = (raw > 0).astype(int).reshape(g0.shape)
    else:
        pred = as_labels(raw.ravel(), "predict's labels", C).reshape(g0.shape)
    fig, ax = _axes(ax, (4.2, 4.0))
    ax.pcolormesh(g0, g1, pred, cmap=regions, vmin=-0.5, vmax=C - 0.5, shading="auto")
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap=points, vmin=-0.5, vmax=C - 0.5, s=s, edgecolors="k",
               linewidths=0.3)
    ax.set_xlim(lim[0])
    ax.set_ylim(lim[1])
    if title:
        ax.set_title(title)
    return fig


def _limits(X, lim):
    """``((x0, x1), (y0, y1))`` from ``lim`` (``(lo, hi)`` for both axes, or one pair per axis), or
    around the data with a margin."""
    if lim is None:
        pad = 0.1 * (X.max(0) - X.min(0)) + 0.2
        lo, hi = X.min(0) - pad, X.max(0) + pad
        return ((lo[0], hi[0]), (lo[1], hi[1]))
    arr = as_float_array(lim, "lim", ndim=(1, 2))
    if arr.shape == (2,):
        arr = np.stack([arr, arr])
    if arr.shape != (2, 2) or not np.all(arr[:, 0] < arr[:, 1]):
        raise ValueError(f"lim: expected (lo, hi) or ((x0, x1), (y0, y1)) with lo < hi, got {lim!r}")
    return ((arr[0, 0], arr[0, 1]), (arr[1, 0], arr[1, 1]))


def _get(history, key):
    value = history.get(key) if isinstance(history, dict) else getattr(history, key, None)
    return [] if value is None else list(value)


def plot_history(history, ax=None, title: str | None = None):
    """Loss (left axis) and accuracy (right axis) per epoch from ``nnkit.train.fit``'s History.

    ``history`` may also be a dict with keys ``loss``, ``acc``, ``val_loss``, ``val_acc`` (missing or
    empty entries are skipped).
    """
    if history is None or isinstance(history, (list, tuple, np.ndarray, str, int, float)):
        raise TypeError(f"history: expected fit's History or a dict with 'loss', 'acc', 'val_loss', "
                        f"'val_acc', got {type(history).__name__}")
    loss, val_loss = _get(history, "loss"), _get(history, "val_loss")
    acc, val_acc = _get(history, "acc"), _get(history, "val_acc")
    if not (loss or val_loss or acc or val_acc):
        raise ValueError("history: no 'loss', 'acc', 'val_loss' or 'val_acc' values to plot")
    fig, ax = _axes(ax, (7.5, 3.3))
    epochs = np.arange(1, len(loss) + 1)
    ax.plot(epochs, loss, "-", color="tab:blue", label="training loss")
    if val_loss:
        ax.plot(np.arange(1, len(val_loss) + 1), val_loss, "--", color="tab:blue", label="validation loss")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    handles, labels = ax.get_legend_handles_labels()
    if acc or val_acc:
        ax2 = ax.twinx()
        if acc:
            ax2.plot(np.arange(1, len(acc) + 1), acc, "-", color="tab:green", label="training accuracy")
        if val_acc:
            ax2.plot(np.arange(1, len(val_acc) + 1), val_acc, "--", color="tab:green",
                     label="validation accuracy")
        ax2.set_ylabel("accuracy")
        ax2.set_ylim(0, 1.02)
        h2, l2 = ax2.get_legend_handles_labels()
        handles, labels = handles + h2, labels + l2
    best = getattr(history, "best_epoch", None)
    if best is not None and val_loss:
        ax.axvline(best + 1 if best < len(loss) else best, color="0.5", lw=1, ls=":")
    # the legend in its own space right of the plot (never over the curves)
    ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.13 if (acc or val_acc) else 1.02, 1.0),
              fontsize=8, borderaxespad=0.0)
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


def show_images(images, shape=(8, 8), titles=None, ncols: int = 10, cmap: str = "gray_r", scale: float = 1.0,
                symmetric: bool = False, title: str | None = None):
    """A grid of small images (rows of ``images`` reshaped to ``shape``), with optional titles.

    ``symmetric=True`` centres the colour map on 0 (for weights: red positive, blue negative);
    ``title`` goes above the whole grid.
    """
    import matplotlib.pyplot as plt

    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ValueError(f"shape: expected (height, width) of one image, got {shape!r}")
    shape = tuple(as_count(v, "shape") for v in shape)
    images = as_float_array(images, "images", finite=False)
    size = int(np.prod(shape))
    if images.size == 0 or images.size % size:
        raise ValueError(f"images: expected one or more images of {' x '.join(map(str, shape))} = {size} "
                         f"values each, got shape {images.shape}")
    images = images.reshape(-1, *shape)
    n = len(images)
    if titles is not None and len(titles) < n:
        raise ValueError(f"titles: expected one per image ({n}), got {len(titles)}")
    ncols = max(1, min(as_count(ncols, "ncols"), n))
    nrows = int(np.ceil(n / ncols))
    scale = min(scale, MAX_WIDTH / (1.1 * ncols))  # shrink the tiles rather than overflow the column
    height = scale * 1.25 * nrows + (0.45 if title else 0.0)
    fig, axes = plt.subplots(nrows, ncols, figsize=(scale * 1.1 * ncols, height), squeeze=False,
                             layout="constrained")
    if title:
        fig.suptitle(title, fontsize=11)
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        if symmetric:
            m = float(np.abs(images[k]).max()) or 1.0
            ax.imshow(images[k], cmap="RdBu_r", vmin=-m, vmax=m)
        else:
            ax.imshow(images[k], cmap=cmap)
        if titles is not None:
            ax.set_title(str(titles[k]), fontsize=9 if scale >= 0.9 else 8)
    return fig


def plot_templates(W, shape=(8, 8), class_names=None, scale: float = 1.3, title: str | None = None):
    """Each column of a weight matrix ``W`` (D, C) as an image: the template the classifier matches."""
    W = as_float_array(W, "W", ndim=2, finite=False)
    if not isinstance(shape, (tuple, list)) or W.shape[0] != int(np.prod(shape)):
        raise ValueError(f"W: expected one template of shape {shape!r} per column, got W of shape {W.shape}")
    names = list(range(W.shape[1])) if class_names is None else list(class_names)
    if len(names) != W.shape[1]:
        raise ValueError(f"class_names: expected one per column of W ({W.shape[1]}), got {len(names)}")
    return show_images(W.T, shape=shape, titles=names, ncols=W.shape[1], scale=scale, symmetric=True,
                       title=title)


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts ``C[i, j]`` of examples of true class ``i`` predicted as ``j`` (int64, shape (C, C))."""
    if n_classes is not None:
        n_classes = as_count(n_classes, "n_classes")
    y_true = as_labels(np.asarray(y_true).ravel(), "y_true", n_classes).astype(np.int64)
    y_pred = as_labels(np.asarray(y_pred).ravel(), "y_pred", n_classes).astype(np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_pred: expected shape {y_true.shape} like y_true, got {y_pred.shape}")
    C = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)) + 1) if n_classes is None else n_classes
    cm = np.zeros((C, C), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def plot_confusion_matrix(cm, class_names=None, ax=None, title: str = "confusion matrix", figsize=(5.0, 4.5)):
    """Draw a confusion matrix with the count in every cell (rows: true class, columns: predicted)."""
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm: expected a square (C, C) matrix of counts, got shape {cm.shape}")
    if cm.dtype.kind not in "iuf":
        raise TypeError(f"cm: expected counts (numbers), got dtype {cm.dtype}")
    C = cm.shape[0]
    names = [str(c) for c in (range(C) if class_names is None else class_names)]
    if len(names) != C:
        raise ValueError(f"class_names: expected one per class ({C}), got {len(names)}")
    fig, ax = _axes(ax, figsize)
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(C), names, rotation=45 if max(map(len, names)) > 2 else 0, fontsize=8)
    ax.set_yticks(range(C), names, fontsize=8)
    thresh = cm.max() / 2 if cm.size else 0
    for i in range(C):
        for j in range(C):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if cm[i, j] > thresh else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return fig


def _fmt(a) -> str:
    a = np.asarray(a)
    return f"{float(a):.4g}" if a.size == 1 else f"shape {a.shape}"


def graph_layout(root):
    """Positions for :func:`draw_graph`: ``{id(node): (x, y)}``.

    Operations sit at x = length of the longest path from an input; an input sits one column before
    the first operation that uses it. The chain of operations through the first non-input operand
    stays on one row, inputs go just above and below the operation that consumes them.

    Returns
    -------
    nodes, edges : as ``nnkit.autograd.trace(root)``
    pos : dict id(Tensor) -> (x, y)
    """
    from nnkit.autograd import trace

    nodes, edges = trace(root)
    level = {}
    for node in nodes:  # topological: operands come first
        level[id(node)] = 1 + max((level[id(c)] for c in node._prev), default=-1)
    consumers: dict[int, list] = {}
    for child, parent in edges:
        consumers.setdefault(id(child), []).append(parent)
    for node in nodes:
        if not node._prev and id(node) in consumers:
            level[id(node)] = min(level[id(p)] for p in consumers[id(node)]) - 1
    ys: dict[int, float] = {id(root): 0.0}
    for node in reversed(nodes):
        y = ys.setdefault(id(node), 0.0)
        inner = [c for c in node._prev if c._prev]
        leaves = [c for c in node._prev if not c._prev]
        for k, c in enumerate(inner):
            ys.setdefault(id(c), y + (k - (len(inner) - 1) / 2.0) * 1.2 * (len(inner) > 1))
        offsets = [0.0] if not inner and len(leaves) == 1 else []
        step = 1
        while len(offsets) < len(leaves):
            offsets += [step, -step]
            step += 1
        for c, off in zip(leaves, offsets):
            ys.setdefault(id(c), y + 0.9 * off)
    pos: dict[int, tuple] = {}
    taken: dict[tuple, bool] = {}
    for node in nodes:
        x, y = float(level[id(node)]), ys[id(node)]
        while taken.get((x, round(y, 3))):
            y -= 0.9
        taken[(x, round(y, 3))] = True
        pos[id(node)] = (x, y)
    return nodes, edges, pos


def _wrap_rows(nodes, edges, pos, max_columns: int):
    """Fold a left-to-right layout into rows of at most ``max_columns`` columns, as a serpentine
    (the second row runs right to left), so a long chain reads in lines and each arrow stays short.

    Operations are folded by their column; every input is then put back next to the operation that
    uses it, on the side the row comes from (or just below it where that side is off the edge).
    """
    xs = [p[0] for p in pos.values()]
    x0 = min(xs)
    if max(xs) - x0 + 1 <= max_columns:
        return dict(pos)
    span = max(p[1] for p in pos.values()) - min(p[1] for p in pos.values())
    row_height = span + 1.5
    wrapped, direction, taken = {}, {}, set()
    for node in nodes:
        if node._prev or not any(c is node for c, _ in edges):
            x, y = pos[id(node)]
            row, col = divmod(int(round(x - x0)), max_columns)
            direction[id(node)] = -1 if row % 2 else 1
            if row % 2:
                col = max_columns - 1 - col
            wrapped[id(node)] = (float(col), y - row * row_height)
            taken.add((col, round(wrapped[id(node)][1], 3)))
    for child, parent in edges:
        if child._prev or id(child) in wrapped:
            continue
        (cx, cy), (px, py) = pos[id(child)], pos[id(parent)]
        col, row_y = wrapped[id(parent)]
        new_col = col + (cx - px) * direction[id(parent)]
        y = row_y + (cy - py)
        entry = max_columns - 1 if direction[id(parent)] < 0 else 0  # where the row's incoming arrow lands
        if not 0 <= new_col <= max_columns - 1:
            new_col, y = col, row_y - 0.9
        elif new_col == entry and row_y < -0.5 and y > row_y:  # keep clear of the arrow from the row above
            new_col, y = col, row_y - (y - row_y)
        while (new_col, round(y, 3)) in taken:
            y -= 0.9
        taken.add((new_col, round(y, 3)))
        wrapped[id(child)] = (float(new_col), y)
    return wrapped


def draw_graph(root, ax=None, grads: bool = True, title: str | None = None, max_width: float = MAX_WIDTH):
    """Draw the computational graph below ``root`` (an ``nnkit.autograd.Tensor``).

    Every node is a box ``label = op`` with its forward value and, if ``grads``, the gradient
    ``dL/d(node)`` stored by ``root.backward()`` (upstream × local, accumulated). Arrows point from an
    operand to the operation that uses it, so the forward pass follows the arrows and backprop runs
    against them. A graph too long for ``max_width`` inches is folded into rows (a serpentine: the
    second row runs right to left) instead of being shrunk.
    """
    nodes, edges, pos = graph_layout(root)
    column = 1.65  # inches per column of boxes
    pos = _wrap_rows(nodes, edges, pos, max(2, int(max_width // column)))
    width = 1 + max(p[0] for p in pos.values()) - min(p[0] for p in pos.values())
    height = 1 + max(p[1] for p in pos.values()) - min(p[1] for p in pos.values())
    fig, ax = _axes(ax, (min(max_width, max(6.0, column * width)), max(2.5, 0.95 * height)))
    half_w, half_h = 0.4, 0.36  # half a box, in data units: arrows start and end at the box edges
    for child, parent in edges:
        (x0, y0), (x1, y1) = pos[id(child)], pos[id(parent)]
        dx, dy = x1 - x0, y1 - y0
        t = min(half_w / abs(dx) if dx else np.inf, half_h / abs(dy) if dy else np.inf)
        ax.annotate("", xy=(x1 - t * dx, y1 - t * dy), xytext=(x0 + t * dx, y0 + t * dy),
                    arrowprops=dict(arrowstyle="->", color="0.4", lw=1.2, shrinkA=0, shrinkB=0))
    for node in nodes:
        x, y = pos[id(node)]
        name = node.label or "·"
        head = f"{name} = {node.op}" if node.op else name
        text = f"{head}\n{_fmt(node.data)}"
        if grads:
            text += f"\ngrad {_fmt(node.grad)}"
        face = "#e8f1fb" if not node.op else "#fdf2e3"
        ax.text(x, y, text, ha="center", va="center", fontsize=8, family="monospace",
                bbox=dict(boxstyle="round,pad=0.35", fc=face, ec="0.35"))
    xs = [p[0] for p in pos.values()]
    ys = [p[1] for p in pos.values()]
    ax.set_xlim(min(xs) - 0.55, max(xs) + 0.55)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


def plot_functions(fs, z=None, names=None, ax=None, title: str | None = None):
    """Plot several functions of one variable on one axes (activations, their derivatives, losses)."""
    fs = list(fs) if isinstance(fs, (list, tuple)) else fs
    if not isinstance(fs, list) or not all(callable(f) for f in fs):
        raise TypeError(f"fs: expected a list of functions of z, got {type(fs).__name__}")
    if names is not None and len(names) != len(fs):
        raise ValueError(f"names: expected one per function ({len(fs)}), got {len(names)}")
    z = np.linspace(-4, 4, 401) if z is None else as_float_array(z, "z", ndim=1)
    fig, ax = _axes(ax, (4.0, 3.0))
    for k, f in enumerate(fs):
        label = None if names is None else names[k]
        ax.plot(z, f(z), label=label)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.axvline(0, color="0.7", lw=0.8)
    ax.grid(alpha=0.3)
    if names is not None:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return fig
