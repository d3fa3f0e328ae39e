"""MNIST and Fashion-MNIST from the four standard IDX files: find them locally, else download and verify.

The files are looked for, in order, in: the ``path`` argument, ``$NNKIT_DATA``, ``~/.cache/nnkit/<kind>``
and, for Fashion-MNIST, ``/usr/share/datasets/fashion-mnist`` (Debian/Ubuntu package
``dataset-fashion-mnist``). Each of the first two is tried as ``<dir>/<kind>`` and then ``<dir>`` itself.
A download goes to ``~/.cache/nnkit/<kind>`` through a temporary file that is renamed into place only
after its sha256 matches the published digest, so the cache never holds a partial or corrupted file.
Offline, the error says where to put the files instead of printing a stack of socket errors.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np

from nnkit._validate import check_choice
from nnkit.data.idx import read_idx

__all__ = ["KINDS", "FILES", "MIRRORS", "SHA256", "RAW_SHA256", "DEBIAN_FASHION_DIR", "ChecksumError",
           "DatasetNotFoundError", "load_mnist", "default_cache_dir", "find_mnist"]

KINDS = ("mnist", "fashion")

#: the four files, as published (gzipped)
FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}

#: base URLs tried in order for each kind (a file's URL is base + file name)
MIRRORS = {
    "mnist": [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
    "fashion": [
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
}

#: sha256 of the official .gz files (MNIST: LeCun et al.'s files as mirrored by PyTorch/Google;
#: Fashion-MNIST: zalandoresearch/fashion-mnist, whose README publishes their MD5s)
SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion": {
        "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
}

#: sha256 of the decompressed IDX files: identifies the data whatever gzip made the .gz (Debian's
#: dataset-fashion-mnist recompressed the files, so its .gz digests differ but these match)
RAW_SHA256 = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

DEBIAN_FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
_KIND_SUBDIRS = {"mnist": ("mnist",), "fashion": ("fashion", "fashion-mnist")}
_TITLE = {"mnist": "MNIST", "fashion": "Fashion-MNIST"}
_TIMEOUT = 30.0


class ChecksumError(ValueError):
    """A downloaded file's sha256 differs from the expected digest (it was not saved)."""


class DatasetNotFoundError(FileNotFoundError):
    """The IDX files are not on disk and could not be downloaded."""


def _check_kind(kind) -> str:
    return check_choice(kind, "kind", KINDS)


def _check_dirs(path, cache_dir) -> None:
    for name, value in (("path", path), ("cache_dir", cache_dir)):
        if value is not None and not isinstance(value, (str, os.PathLike)):
            raise TypeError(f"{name}: expected a directory (str or path-like) or None, "
                            f"got {type(value).__name__}")


def default_cache_dir(kind: str = "mnist") -> Path:
    """``~/.cache/nnkit/<kind>``, where downloads go (resolved at call time, so ``HOME`` is honoured)."""
    return Path.home() / ".cache" / "nnkit" / _check_kind(kind)


def _variants(gz_name: str) -> tuple[str, ...]:
    raw = gz_name[: -len(".gz")]
    dotted = raw.replace("-idx", ".idx")  # train-images.idx3-ubyte, as some unzip tools name it
    return (gz_name, raw, dotted + ".gz", dotted)


def _files_in(directory: Path) -> dict[str, Path] | None:
    """The four files found in ``directory`` (any accepted name), or None if any is missing."""
    if not directory.is_dir():
        return None
    found = {}
    for key, gz_name in FILES.items():
        for candidate in _variants(gz_name):
            if (directory / candidate).is_file():
                found[key] = directory / candidate
                break
        else:
            return None
    return found


def _search_dirs(path, kind: str, cache_dir) -> list[Path]:
    dirs: list[Path] = []
    for root in (path, os.environ.get("NNKIT_DATA") or None):
        if root is not None:
            root = Path(root).expanduser()
            dirs += [root / sub for sub in _KIND_SUBDIRS[kind]] + [root]
    dirs.append(Path(cache_dir) if cache_dir is not None else default_cache_dir(kind))
    if kind == "fashion":
        dirs.append(DEBIAN_FASHION_DIR)
    return dirs


def find_mnist(path=None, kind: str = "mnist", cache_dir=None) -> dict[str, Path] | None:
    """Paths of the four IDX files in the first directory of the search order holding all four, or None."""
    _check_kind(kind)
    _check_dirs(path, cache_dir)
    for d in _search_dirs(path, kind, cache_dir):
        found = _files_in(d)
        if found is not None:
            return found
    return None


def _interactive() -> bool:
    if "ipykernel" in sys.modules:
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _download_one(url: str, dest: Path, expected: str, progress: bool) -> None:
    """Stream ``url`` to a temp file next to ``dest``, check sha256, then rename it to ``dest``."""
    from tqdm.auto import tqdm

    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=_TIMEOUT) as resp:
            total = resp.headers.get("Content-Length")
            total = int(total) if total and total.isdigit() else None
            received = 0
            with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name, disable=not progress,
                      leave=False) as bar:
                while chunk := resp.read(1 << 16):
                    out.write(chunk)
                    h.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
        if total is not None and received != total:
            raise ConnectionError(f"connection closed after {received} of {total} bytes")
        got = h.hexdigest()
        if got != expected.lower():
            raise ChecksumError(f"{url}: sha256 mismatch: expected {expected}, got {got}; the download is "
                                "corrupted or not the official file, so it was not saved")
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            tmp.unlink()


def _how_to_fix(kind: str, searched: list[Path], cache: Path) -> str:
    names = ", ".join(FILES.values())
    lines = [
        f"To use {_TITLE[kind]} offline, put its four IDX files ({names}; gzipped or not) in one of:",
        *[f"  - {d}" for d in dict.fromkeys(searched)],
        f"for example {cache}, or pass load_mnist(path='/dir/with/the/files', kind={kind!r}), or set the "
        "environment variable NNKIT_DATA=/dir/with/the/files (or a dir with a "
        f"{_KIND_SUBDIRS[kind][0]}/ subfolder).",
    ]
    if kind == "fashion":
        lines.append(f"On Debian/Ubuntu: sudo apt install dataset-fashion-mnist (installs them in "
                     f"{DEBIAN_FASHION_DIR}).")
    lines.append(f"Online, load_mnist(kind={kind!r}) downloads them from {MIRRORS[kind][0]} (or from the "
                 "base URL in base_url= / $NNKIT_MNIST_URL).")
    return "\n".join(lines)


def _download_all(kind: str, cache: Path, bases: list[str], digests: dict[str, str],
                  progress: bool, searched: list[Path]) -> None:
    missing = [name for name in FILES.values() if name not in digests]
    if missing:
        raise ValueError(f"sha256: no digest for {', '.join(missing)}; expected a dict with keys "
                         f"{list(FILES.values())}")
    cache.mkdir(parents=True, exist_ok=True)
    if not os.access(cache, os.W_OK):
        raise PermissionError(f"cache_dir: {cache} is not writable, so nothing can be downloaded there.\n"
                              + _how_to_fix(kind, searched, cache))
    for gz_name in FILES.values():
        dest = cache / gz_name
        if dest.is_file() and _sha256_file(dest) == digests[gz_name].lower():
            continue
        net_errors: list[str] = []
        http_errors: list[str] = []
        checksum_error: ChecksumError | None = None
        for base in bases:
            url = base.rstrip("/") + "/" + gz_name
            try:
                _download_one(url, dest, digests[gz_name], progress)
                break
            except ChecksumError as err:
                checksum_error = err
            except urllib.error.HTTPError as err:
                http_errors.append(f"{url}: HTTP {err.code} {err.reason}")
            except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as err:
                net_errors.append(f"{url}: {getattr(err, 'reason', err)}")
        else:
            if checksum_error is not None:
                raise checksum_error
            why = "the server refused it" if http_errors and not net_errors else "offline?"
            raise DatasetNotFoundError(
                f"{_TITLE[kind]} files not found and the download failed ({why}):\n  "
                + "\n  ".join(http_errors + net_errors) + "\n" + _how_to_fix(kind, searched, cache))


def _load_arrays(found: dict[str, Path]):
    out = []
    for split in ("train", "test"):
        images = read_idx(found[f"{split}_images"])
        labels = read_idx(found[f"{split}_labels"])
        img_name, lab_name = found[f"{split}_images"], found[f"{split}_labels"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise ValueError(f"{img_name}: expected uint8 images of shape (N, 28, 28), "
                             f"got {images.dtype} {images.shape}")
        if labels.ndim != 1 or labels.dtype != np.uint8:
            raise ValueError(f"{lab_name}: expected uint8 labels of shape (N,), "
                             f"got {labels.dtype} {labels.shape}")
        if labels.shape[0] != images.shape[0]:
            raise ValueError(f"{img_name} has {images.shape[0]} images but {lab_name} has {labels.shape[0]} "
                             "labels")
        if labels.size and labels.max() > 9:
            raise ValueError(f"{lab_name}: labels must be 0..9, found {int(labels.max())}")
        X = images.reshape(images.shape[0], 784).astype(np.float32)
        X /= np.float32(255)
        out += [X, labels.astype(np.int64)]
    return tuple(out)


def load_mnist(path=None, kind: str = "mnist", download: bool = True, *, base_url: str | None = None,
               cache_dir=None, sha256: dict[str, str] | None = None, progress: bool | None = None):
    """Load MNIST or Fashion-MNIST as flat float32 pixel vectors.

    Parameters
    ----------
    path : directory to look in first (``path/<kind>`` then ``path``).
    kind : ``"mnist"`` (handwritten digits) or ``"fashion"`` (Zalando's clothing images, same format).
    download : when the files are nowhere in the search order, download them into ``cache_dir``.
    base_url : a mirror to download from instead of ``MIRRORS[kind]`` (default ``$NNKIT_MNIST_URL``).
    cache_dir : where downloads go and the third place searched; default ``~/.cache/nnkit/<kind>``.
    sha256 : ``{file name: hex digest}`` for the four ``.gz`` files; default ``SHA256[kind]``.
    progress : show a tqdm bar while downloading; default only when interactive (a terminal or Jupyter).

    Returns
    -------
    X_train : (60000, 784) float32 in [0, 1] (pixel / 255, row-major 28x28)
    y_train : (60000,) int64 in 0..9
    X_test : (10000, 784) float32 in [0, 1]
    y_test : (10000,) int64 in 0..9

    Raises
    ------
    DatasetNotFoundError (a FileNotFoundError) when the files are absent and cannot be downloaded; the
    message says where to put them. ChecksumError (a ValueError) when a download's sha256 is wrong.
    ValueError for a malformed IDX file.
    """
    kind = _check_kind(kind)
    _check_dirs(path, cache_dir)
    searched = _search_dirs(path, kind, cache_dir)
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(kind)
    found = find_mnist(path, kind, cache_dir)
    if found is None:
        if not download:
            raise DatasetNotFoundError(f"{_TITLE[kind]} files not found (download=False).\n"
                                       + _how_to_fix(kind, searched, cache))
        base_url = base_url or os.environ.get("NNKIT_MNIST_URL") or None
        bases = [base_url] if base_url else list(MIRRORS[kind])
        digests = SHA256[kind] if sha256 is None else dict(sha256)
        _download_all(kind, cache, bases, digests, _interactive() if progress is None else bool(progress),
                      searched)
        found = _files_in(cache)
        if found is None:  # pragma: no cover - _download_all either fills the cache or raises
            raise DatasetNotFoundError(_how_to_fix(kind, searched, cache))
    return _load_arrays(found)
