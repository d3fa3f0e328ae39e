"""Reader for the IDX format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number ``00 00 TT NN`` (two zero bytes, a type code ``TT``, the number of
dimensions ``NN``), then ``NN`` big-endian uint32 sizes, then the values in C order, big-endian.
The files are usually gzipped; gzip is recognised by its own magic bytes, whatever the file is called.
A damaged download is the common failure, so every inconsistency (wrong magic, unknown type code,
short header, payload length different from the product of the sizes) is a ``ValueError`` that names
the file and says what was expected.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

__all__ = ["IDX_DTYPES", "read_idx"]

#: type code -> big-endian numpy dtype
IDX_DTYPES = {
    0x08: np.dtype(">u1"),  # unsigned byte
    0x09: np.dtype(">i1"),  # signed byte
    0x0B: np.dtype(">i2"),  # short
    0x0C: np.dtype(">i4"),  # int
    0x0D: np.dtype(">f4"),  # float
    0x0E: np.dtype(">f8"),  # double
}

_GZIP_MAGIC = b"\x1f\x8b"


def _read_bytes(path) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"{os.fspath(path)}: damaged gzip file ({err}); "
                             "delete it and download it again") from None
    return data


def read_idx(path) -> np.ndarray:
    """Read an IDX file (raw or gzipped) into an ndarray.

    Parameters
    ----------
    path : str or path-like to e.g. ``train-images-idx3-ubyte.gz`` or ``train-images-idx3-ubyte``.

    Returns
    -------
    array of shape ``(d_1, ..., d_NN)`` in native byte order; dtype from the type code
    (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E float64).
    MNIST images come out as ``(N, 28, 28)`` uint8, labels as ``(N,)`` uint8.

    Raises
    ------
    ValueError
        bad magic (the first two bytes must be zero), unknown type code, truncated header, or a payload
        whose length is not ``prod(dims) · itemsize`` bytes (truncated or padded file).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path: expected a file name (str or path-like), got {type(path).__name__}")
    name = os.fspath(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"{name}: not an IDX file: only {len(data)} bytes, the magic number needs 4")
    if data[0] != 0 or data[1] != 0:
        raise ValueError(f"{name}: not an IDX file: magic number {data[:4].hex(' ')} must start with "
                         "two zero bytes (00 00 <type> <ndim>)")
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        valid = ", ".join(f"0x{c:02X} ({d.name})" for c, d in IDX_DTYPES.items())
        raise ValueError(f"{name}: unknown IDX type code 0x{code:02X}; valid codes are {valid}")
    if ndim == 0:
        raise ValueError(f"{name}: IDX header says 0 dimensions; expected at least 1")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{name}: truncated IDX header: {ndim} dimensions need {header} bytes, "
                         f"the file has {len(data)}")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    actual = len(data) - header
    if actual != expected:
        what = "truncated" if actual < expected else "too long"
        raise ValueError(f"{name}: {what} IDX payload: shape {dims} of {dtype.name} needs {expected} bytes "
                         f"after the {header}-byte header, found {actual}")
    arr = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return arr.astype(dtype.newbyteorder("="))
