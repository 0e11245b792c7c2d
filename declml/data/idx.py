"""Reader for the IDX format of the original MNIST files (gzipped or not)."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from declml.errors import DataError

__all__ = ["read_idx"]

_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file into an array of its declared shape.

    Raises:
        DataError: the file is missing, truncated or not IDX.
    """
    p = Path(path)
    try:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"{p}: file not found") from None
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{p}: cannot read ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _DTYPES:
        raise DataError(f"{p}: not an IDX file (bad magic number {raw[:4].hex()!r})")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise DataError(f"{p}: truncated IDX header")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[raw[2]])
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    body = raw[header:]
    if len(body) != expected:
        raise DataError(
            f"{p}: IDX header declares shape {shape} ({expected} bytes of data) but the "
            f"file holds {len(body)} bytes; the file is truncated or corrupt"
        )
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
