"""The IDX reader and load_mnist: files the tests write, the real Fashion-MNIST, and the download path
against a local HTTP server on 127.0.0.1 (never the internet, never the real ~/.cache)."""

import functools
import gzip
import hashlib
import http.server
import socket
import struct
import threading
from pathlib import Path

import numpy as np
import pytest

from nnkit import data
from nnkit.data import mnist as mnist_mod
from tests.conftest import require_fashion_mnist

FILE_NAMES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
              "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D, np.float64: 0x0E}


def idx_bytes(arr: np.ndarray, code: int | None = None) -> bytes:
    """IDX encoding of ``arr``, written independently of nnkit: magic, big-endian dims, big-endian data."""
    code = CODES[arr.dtype.type] if code is None else code
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def write(path: Path, payload: bytes, gz: bool) -> Path:
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    """No test may read or write the real ~/.cache or pick up the developer's NNKIT_* settings."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("NNKIT_DATA", raising=False)
    monkeypatch.delenv("NNKIT_MNIST_URL", raising=False)
    return home


def make_set(directory: Path, n_train=12, n_test=5, seed=0, gz=True, names=None):
    """Write a small MNIST-shaped set of four IDX files; return the arrays written."""
    rng = np.random.default_rng(seed)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    directory.mkdir(parents=True, exist_ok=True)
    for i, (stem, arr) in enumerate(arrays.items()):
        name = names[i] if names else stem + (".gz" if gz else "")
        write(directory / name, idx_bytes(arr), gz=name.endswith(".gz"))
    return arrays


def check_loaded(out, arrays):
    X_tr, y_tr, X_te, y_te = out
    imgs_tr, labs_tr = arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]
    imgs_te, labs_te = arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]
    assert X_tr.dtype == np.float32 and X_te.dtype == np.float32
    assert y_tr.dtype == np.int64 and y_te.dtype == np.int64
    assert X_tr.shape == (len(imgs_tr), 784) and X_te.shape == (len(imgs_te), 784)
    np.testing.assert_allclose(X_tr, imgs_tr.reshape(-1, 784) / 255.0, rtol=1e-6)
    np.testing.assert_allclose(X_te, imgs_te.reshape(-1, 784) / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(y_tr, labs_tr)
    np.testing.assert_array_equal(y_te, labs_te)


# ---------------------------------------------------------------------------------------------------
# read_idx


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_ubyte_images_and_labels(tmp_path, gz):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    suffix = ".gz" if gz else ""
    img_path = write(tmp_path / f"imgs-idx3-ubyte{suffix}", idx_bytes(images), gz)
    lab_path = write(tmp_path / f"labs-idx1-ubyte{suffix}", idx_bytes(labels), gz)
    got = data.read_idx(img_path)
    assert got.dtype == np.uint8 and got.shape == (7, 28, 28)
    np.testing.assert_array_equal(got, images)
    np.testing.assert_array_equal(data.read_idx(str(lab_path)), labels)
    got[0, 0, 0] = 1  # a normal writable array, not a view on a bytes object


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.float32, np.float64])
def test_read_idx_other_types_big_endian(tmp_path, dtype):
    arr = (np.arange(24).reshape(2, 3, 4) - 11).astype(dtype) * (3 if dtype in (np.int16, np.int32) else 1)
    if np.dtype(dtype).kind == "f":
        arr = arr / 7
    path = write(tmp_path / "x.idx", idx_bytes(arr), gz=False)
    got = data.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative
    np.testing.assert_array_equal(got, arr)


def test_read_idx_detects_gzip_by_content_not_name(tmp_path):
    arr = np.arange(10, dtype=np.uint8)
    gz_named_raw = write(tmp_path / "a.gz", idx_bytes(arr), gz=False)
    raw_named_gz = write(tmp_path / "b-idx1-ubyte", idx_bytes(arr), gz=True)
    np.testing.assert_array_equal(data.read_idx(gz_named_raw), arr)
    np.testing.assert_array_equal(data.read_idx(raw_named_gz), arr)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_truncated_payload(tmp_path, gz):
    images = np.zeros((10, 28, 28), dtype=np.uint8)
    payload = idx_bytes(images)[:-100]
    path = write(tmp_path / "cut-idx3-ubyte", payload, gz)
    with pytest.raises(ValueError, match=r"truncated IDX payload.*needs 7840 bytes.*found 7740") as err:
        data.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_payload_too_long(tmp_path):
    path = write(tmp_path / "long", idx_bytes(np.zeros(5, dtype=np.uint8)) + b"\x00", gz=False)
    with pytest.raises(ValueError, match="too long IDX payload.*needs 5 bytes.*found 6"):
        data.read_idx(path)


def test_read_idx_damaged_gzip(tmp_path):
    blob = gzip.compress(idx_bytes(np.arange(5000, dtype=np.int32)))
    path = tmp_path / "broken.gz"
    path.write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ValueError, match="damaged gzip") as err:
        data.read_idx(path)
    assert "broken.gz" in str(err.value)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_bad_magic(tmp_path, gz):
    good = idx_bytes(np.zeros(4, dtype=np.uint8))
    path = write(tmp_path / "bad", b"\x01\x00" + good[2:], gz)
    with pytest.raises(ValueError, match="not an IDX file.*magic number 01 00 08 01") as err:
        data.read_idx(path)
    assert str(path) in str(err.value)


def test_read_idx_unknown_type_code(tmp_path):
    path = write(tmp_path / "code", idx_bytes(np.zeros(4, dtype=np.uint8), code=0x0A), gz=False)
    with pytest.raises(ValueError, match="unknown IDX type code 0x0A.*0x08 \\(uint8\\)"):
        data.read_idx(path)


@pytest.mark.parametrize("payload, match", [
    (b"\x00\x00", "only 2 bytes"),
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated IDX header: 3 dimensions need 16 bytes"),
    (b"\x00\x00\x08\x00", "0 dimensions"),
])
def test_read_idx_short_or_empty_header(tmp_path, payload, match):
    path = write(tmp_path / "short", payload, gz=False)
    with pytest.raises(ValueError, match=match):
        data.read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        data.read_idx(tmp_path / "nope.gz")


# ---------------------------------------------------------------------------------------------------
# load_mnist from local directories


def test_load_mnist_from_path(tmp_path):
    arrays = make_set(tmp_path / "mine", gz=True)
    check_loaded(data.load_mnist(tmp_path / "mine", download=False), arrays)


def test_load_mnist_raw_and_dotted_names(tmp_path):
    names = ["train-images.idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte.gz",
             "t10k-labels.idx1-ubyte.gz"]
    arrays = make_set(tmp_path / "d", names=names)
    check_loaded(data.load_mnist(str(tmp_path / "d"), kind="fashion", download=False), arrays)


def test_load_mnist_kind_subfolder_wins(tmp_path):
    make_set(tmp_path / "root", seed=1)
    arrays = make_set(tmp_path / "root" / "fashion", seed=2)
    check_loaded(data.load_mnist(tmp_path / "root", kind="fashion", download=False), arrays)


def test_load_mnist_from_env(tmp_path, monkeypatch):
    arrays = make_set(tmp_path / "envdir" / "mnist", gz=False)
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path / "envdir"))
    check_loaded(data.load_mnist(download=False), arrays)
    flat = make_set(tmp_path / "flat", seed=4)
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path / "flat"))
    check_loaded(data.load_mnist(download=False), flat)


def test_load_mnist_path_before_env_before_cache(tmp_path, monkeypatch, isolated_home):
    in_cache = make_set(isolated_home / ".cache" / "nnkit" / "mnist", seed=1)
    check_loaded(data.load_mnist(download=False), in_cache)
    in_env = make_set(tmp_path / "env", seed=2)
    monkeypatch.setenv("NNKIT_DATA", str(tmp_path / "env"))
    check_loaded(data.load_mnist(download=False), in_env)
    in_path = make_set(tmp_path / "arg", seed=3)
    check_loaded(data.load_mnist(tmp_path / "arg", download=False), in_path)
    # an incomplete directory is skipped, not half-used
    (tmp_path / "arg" / "t10k-labels-idx1-ubyte.gz").unlink()
    check_loaded(data.load_mnist(tmp_path / "arg", download=False), in_env)


def test_load_mnist_not_found_offline_message(tmp_path, monkeypatch, isolated_home):
    monkeypatch.setattr(mnist_mod, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load_mnist(tmp_path / "empty", kind="fashion", download=False)
    msg = str(err.value)
    assert isinstance(err.value, FileNotFoundError)
    for needle in ["train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", "NNKIT_DATA",
                   str(isolated_home / ".cache" / "nnkit" / "fashion"), str(tmp_path / "empty"),
                   "apt install dataset-fashion-mnist", "path="]:
        assert needle in msg, needle
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load_mnist(kind="mnist", download=False)
    assert "dataset-fashion-mnist" not in str(err.value)


def test_load_mnist_bad_kind():
    with pytest.raises(ValueError, match="kind: expected one of mnist, fashion"):
        data.load_mnist(kind="kmnist")


def test_load_mnist_rejects_inconsistent_sets(tmp_path):
    make_set(tmp_path / "a")
    write(tmp_path / "a" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.zeros(4, dtype=np.uint8)), gz=True)
    with pytest.raises(ValueError, match="has 5 images but .* has 4 labels"):
        data.load_mnist(tmp_path / "a", download=False)
    make_set(tmp_path / "b")
    write(tmp_path / "b" / "train-images-idx3-ubyte.gz", idx_bytes(np.zeros((12, 8, 8), np.uint8)), gz=True)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        data.load_mnist(tmp_path / "b", download=False)
    make_set(tmp_path / "c")
    write(tmp_path / "c" / "t10k-labels-idx1-ubyte.gz", idx_bytes(np.full(5, 12, np.uint8)), gz=True)
    with pytest.raises(ValueError, match="labels must be 0..9"):
        data.load_mnist(tmp_path / "c", download=False)


def test_real_fashion_mnist_from_debian():
    debian = require_fashion_mnist()
    X_tr, y_tr, X_te, y_te = data.load_mnist(kind="fashion", download=False)
    assert X_tr.shape == (60000, 784) and X_te.shape == (10000, 784)
    assert X_tr.dtype == np.float32 and y_tr.dtype == np.int64
    assert X_tr.min() == 0.0 and X_tr.max() == 1.0 and 0 <= X_te.min() and X_te.max() <= 1
    np.testing.assert_array_equal(np.bincount(y_tr, minlength=10), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_te, minlength=10), [1000] * 10)
    assert 0.2 < X_tr.mean() < 0.4  # mostly dark background, not all zeros or all ones
    raw = data.read_idx(debian / "train-labels-idx1-ubyte.gz")
    np.testing.assert_array_equal(raw, y_tr)


def test_debian_fashion_files_are_the_official_data():
    """Debian recompressed the .gz files (other gzip digests), but the IDX content is the published one."""
    debian = require_fashion_mnist()
    for gz_name in FILE_NAMES:
        raw = gzip.decompress((debian / gz_name).read_bytes())
        assert hashlib.sha256(raw).hexdigest() == mnist_mod.RAW_SHA256["fashion"][gz_name[:-3]], gz_name


# ---------------------------------------------------------------------------------------------------
# download from a local HTTP server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list  # set per server
    cut: set  # paths whose connection drops half-way through the body

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.requests.append(self.path)
        if self.path in self.cut:
            body = Path(self.translate_path(self.path)).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        super().do_GET()


@pytest.fixture
def http_server(tmp_path):
    """A static file server on 127.0.0.1 (free port) in a thread.

    Yields (base_url, served_dir, requests seen, set of paths whose body is cut off half-way)."""
    served = tmp_path / "served"
    served.mkdir()
    requests: list = []
    cut: set = set()
    handler = functools.partial(type("H", (_QuietHandler,), {"requests": requests, "cut": cut}),
                                directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/files/", served / "files", requests, cut
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def served_set(served_dir: Path, seed=0):
    arrays = make_set(served_dir, seed=seed)
    digests = {name: hashlib.sha256((served_dir / name).read_bytes()).hexdigest() for name in FILE_NAMES}
    return arrays, digests


def leftovers(directory: Path):
    return sorted(p.name for p in directory.iterdir()) if directory.exists() else []


def test_download_verify_and_load(tmp_path, http_server):
    base, served, requests, _ = http_server
    arrays, digests = served_set(served)
    cache = tmp_path / "cache"
    out = data.load_mnist(download=True, base_url=base, cache_dir=cache, sha256=digests, progress=False)
    check_loaded(out, arrays)
    assert leftovers(cache) == sorted(FILE_NAMES), "exactly the four files, no temp files"
    for name in FILE_NAMES:
        assert (cache / name).read_bytes() == (served / name).read_bytes()
    assert sorted(requests) == sorted("/files/" + n for n in FILE_NAMES)
    # second call: found in the cache, no new request
    check_loaded(data.load_mnist(base_url=base, cache_dir=cache, sha256=digests), arrays)
    assert len(requests) == 4


def test_download_to_default_cache_with_env_url(tmp_path, http_server, monkeypatch, isolated_home):
    base, served, requests, _ = http_server
    arrays, digests = served_set(served, seed=5)
    monkeypatch.setattr(mnist_mod, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    monkeypatch.setenv("NNKIT_MNIST_URL", base.rstrip("/"))  # a base URL without trailing slash works too
    out = data.load_mnist(kind="fashion", sha256=digests, progress=False)
    check_loaded(out, arrays)
    cache = isolated_home / ".cache" / "nnkit" / "fashion"
    assert leftovers(cache) == sorted(FILE_NAMES)


def test_download_shows_progress_when_asked(tmp_path, http_server, capsys):
    base, served, _, _ = http_server
    _, digests = served_set(served)
    data.load_mnist(base_url=base, cache_dir=tmp_path / "c", sha256=digests, progress=True)
    assert "train-images-idx3-ubyte.gz" in capsys.readouterr().err


def test_download_checksum_mismatch_leaves_no_file(tmp_path, http_server):
    base, served, _, _ = http_server
    _, digests = served_set(served)
    blob = bytearray((served / "t10k-images-idx3-ubyte.gz").read_bytes())
    blob[-20] ^= 0xFF  # corrupted in transit / on the mirror
    (served / "t10k-images-idx3-ubyte.gz").write_bytes(bytes(blob))
    cache = tmp_path / "cache"
    with pytest.raises(data.ChecksumError, match="sha256 mismatch") as err:
        data.load_mnist(base_url=base, cache_dir=cache, sha256=digests, progress=False)
    assert isinstance(err.value, ValueError)
    assert digests["t10k-images-idx3-ubyte.gz"] in str(err.value)
    assert "t10k-images-idx3-ubyte.gz" not in leftovers(cache)
    assert not [n for n in leftovers(cache) if n.startswith(".") or n.endswith(".part")]


def test_download_replaces_a_corrupted_cached_file(tmp_path, http_server):
    base, served, requests, _ = http_server
    arrays, digests = served_set(served)
    cache = tmp_path / "cache"
    cache.mkdir()
    for name in FILE_NAMES[:3]:
        (cache / name).write_bytes((served / name).read_bytes())
    (cache / FILE_NAMES[0]).write_bytes(b"garbage")
    check_loaded(data.load_mnist(base_url=base, cache_dir=cache, sha256=digests, progress=False), arrays)
    assert sorted(requests) == sorted("/files/" + n for n in (FILE_NAMES[0], FILE_NAMES[3]))


def test_download_dropped_connection_leaves_no_partial_file(tmp_path, http_server):
    base, served, _, cut = http_server
    _, digests = served_set(served)
    cut.add("/files/t10k-images-idx3-ubyte.gz")
    cache = tmp_path / "cache"
    with pytest.raises(data.DatasetNotFoundError, match="(?s)offline.*t10k-images-idx3-ubyte.gz"):
        data.load_mnist(base_url=base, cache_dir=cache, sha256=digests, progress=False)
    assert leftovers(cache) == sorted(FILE_NAMES[:2]), "the files before it are kept, no partial file"


def test_download_404_is_reported(tmp_path, http_server):
    base, served, _, _ = http_server
    _, digests = served_set(served)
    (served / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(data.DatasetNotFoundError, match=r"(?s)refused it.*labels-idx1-ubyte\.gz: HTTP 404"):
        data.load_mnist(base_url=base, cache_dir=tmp_path / "c", sha256=digests, progress=False)


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("kind", ["mnist", "fashion"])
def test_download_unreachable_gives_offline_message(tmp_path, monkeypatch, kind):
    monkeypatch.setattr(mnist_mod, "DEBIAN_FASHION_DIR", tmp_path / "no-debian")
    base = f"http://127.0.0.1:{_closed_port()}/"
    cache = tmp_path / "cache"
    with pytest.raises(data.DatasetNotFoundError) as err:
        data.load_mnist(kind=kind, base_url=base, cache_dir=cache, progress=False)
    msg = str(err.value)
    assert "download failed (offline?)" in msg and base in msg
    assert "NNKIT_DATA" in msg and str(cache) in msg and "train-images-idx3-ubyte.gz" in msg
    assert ("dataset-fashion-mnist" in msg) == (kind == "fashion")
    assert leftovers(cache) == []


def test_download_timeout_gives_offline_message(tmp_path, monkeypatch):
    """A server that accepts the connection but never answers: the timeout is reported, not a hang."""
    monkeypatch.setattr(mnist_mod, "_TIMEOUT", 0.3)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        base = f"http://127.0.0.1:{silent.getsockname()[1]}/"
        with pytest.raises(data.DatasetNotFoundError, match="(?s)offline.*timed out"):
            data.load_mnist(base_url=base, cache_dir=tmp_path / "c", progress=False)
    assert leftovers(tmp_path / "c") == []


def test_official_digest_tables_are_complete(tmp_path):
    for kind in ("mnist", "fashion"):
        assert sorted(data.SHA256[kind]) == sorted(FILE_NAMES)
        assert sorted(mnist_mod.RAW_SHA256[kind]) == sorted(n[:-3] for n in FILE_NAMES)
        for digest in data.SHA256[kind].values():
            assert len(digest) == 64 and int(digest, 16) >= 0
        assert data.MIRRORS[kind] and all(u.startswith(("http://", "https://")) for u in data.MIRRORS[kind])
    with pytest.raises(ValueError, match="no digest"):
        data.load_mnist(base_url="http://127.0.0.1:9/", cache_dir=tmp_path / "unused",
                        sha256={"train-images-idx3-ubyte.gz": "0" * 64})
    assert not (tmp_path / "unused").exists()
