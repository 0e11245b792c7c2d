"""The IDX reader (declml.data.idx.read_idx), on files written here byte by byte."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from declml.data.idx import read_idx
from declml.errors import DataError

# IDX type codes, as in the MNIST file format description.
_CODES = {np.dtype("uint8"): 0x08, np.dtype("int8"): 0x09, np.dtype(">i2"): 0x0B,
          np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D, np.dtype(">f8"): 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as IDX: 0x00 0x00 <type> <ndim>, big-endian uint32 dims, data."""
    big = array.dtype.newbyteorder(">") if array.dtype.itemsize > 1 else array.dtype
    data = np.ascontiguousarray(array, dtype=big)
    header = bytes([0, 0, _CODES[data.dtype], array.ndim])
    header += struct.pack(f">{array.ndim}I", *array.shape)
    return header + data.tobytes()


def write(path: Path, payload: bytes, *, gz: bool = False) -> Path:
    path.write_bytes(gzip.compress(payload) if gz else payload)
    return path


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_round_trip_uint8_images(tmp_path, gz):
    images = np.arange(5 * 3 * 4, dtype="uint8").reshape(5, 3, 4)
    path = write(tmp_path / "images-idx3-ubyte", idx_bytes(images), gz=gz)
    out = read_idx(path)
    assert out.shape == (5, 3, 4)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_round_trip_labels(tmp_path, gz):
    labels = np.array([7, 2, 1, 0, 4, 1, 9], dtype="uint8")
    out = read_idx(write(tmp_path / "labels-idx1-ubyte", idx_bytes(labels), gz=gz))
    assert out.shape == (7,)
    np.testing.assert_array_equal(out, labels)


@pytest.mark.parametrize("dtype", ["int8", ">i2", ">i4", ">f4", ">f8"])
def test_round_trip_other_types_come_back_in_native_byte_order(tmp_path, dtype):
    values = np.array([[-3, 0, 1], [2, 100, -100]], dtype=dtype)
    out = read_idx(write(tmp_path / "a.idx", idx_bytes(values)))
    assert out.shape == (2, 3)
    np.testing.assert_array_equal(out, values)
    assert out.dtype.isnative
    assert out.dtype.kind == np.dtype(dtype).kind
    assert out.dtype.itemsize == np.dtype(dtype).itemsize


def test_result_is_writable(tmp_path):
    out = read_idx(write(tmp_path / "a.idx", idx_bytes(np.zeros((2, 2), "uint8"))))
    out[0, 0] = 5  # would raise on a read-only view of the file bytes
    assert out[0, 0] == 5


def test_accepts_str_path(tmp_path):
    path = write(tmp_path / "a.idx", idx_bytes(np.ones(3, "uint8")))
    np.testing.assert_array_equal(read_idx(str(path)), [1, 1, 1])


def test_empty_first_dimension(tmp_path):
    out = read_idx(write(tmp_path / "a.idx", idx_bytes(np.zeros((0, 2, 2), "uint8"))))
    assert out.shape == (0, 2, 2)


@pytest.mark.parametrize(
    "payload",
    [
        b"\x01\x00\x08\x01\x00\x00\x00\x01\x05",  # first byte not zero
        b"\x00\x01\x08\x01\x00\x00\x00\x01\x05",  # second byte not zero
        b"\x00\x00\x07\x01\x00\x00\x00\x01\x05",  # unknown type code
        b"PK\x03\x04 this is a zip file",
        b"\x00\x00",  # too short to hold a magic number
        b"",
    ],
    ids=["byte0", "byte1", "type", "zip", "short", "empty"],
)
def test_bad_magic_is_refused(tmp_path, payload):
    path = write(tmp_path / "bad-idx3-ubyte", payload)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "not an IDX file" in str(info.value)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_truncated_header(tmp_path, gz):
    # Declares three dimensions but only holds the first one.
    path = write(tmp_path / "t-idx3-ubyte", b"\x00\x00\x08\x03\x00\x00\x00\x02", gz=gz)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "truncated" in str(info.value)


def test_zero_dimensions_is_refused(tmp_path):
    path = write(tmp_path / "a.idx", b"\x00\x00\x08\x00")
    with pytest.raises(DataError, match="truncated IDX header"):
        read_idx(path)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("delta", [-1, 1], ids=["short", "long"])
def test_data_length_mismatch(tmp_path, gz, delta):
    payload = idx_bytes(np.zeros((2, 3), "uint8"))
    payload = payload[:-1] if delta < 0 else payload + b"\x00"
    path = write(tmp_path / "m-idx2-ubyte", payload, gz=gz)
    with pytest.raises(DataError) as info:
        read_idx(path)
    message = str(info.value)
    assert str(path) in message
    assert "(2, 3)" in message
    assert f"holds {6 + delta} bytes" in message


def test_data_length_counts_item_size(tmp_path):
    # Six int32 values need 24 bytes; 6 bytes (the element count) must not pass.
    header = bytes([0, 0, 0x0C, 1]) + struct.pack(">I", 6)
    path = write(tmp_path / "a.idx", header + bytes(6))
    with pytest.raises(DataError, match="24 bytes"):
        read_idx(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope-idx3-ubyte"
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
    assert "not found" in str(info.value)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(DataError, match="cannot read"):
        read_idx(tmp_path)


def test_truncated_gzip_stream(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(50, dtype="uint8")))
    path = write(tmp_path / "a.gz", good[: len(good) // 2])
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_body_is_a_data_error(tmp_path):
    good = gzip.compress(idx_bytes(np.arange(3, dtype="uint8")))
    # Keep the 10-byte gzip header and the 8-byte trailer, scramble the deflate data.
    bad = good[:10] + bytes(b ^ 0xFF for b in good[10:-8]) + good[-8:]
    path = write(tmp_path / "a.gz", bad)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_overflowing_header_dims_are_a_data_error(tmp_path):
    header = bytes([0, 0, 0x08, 3]) + struct.pack(">3I", 2**31, 2**31, 4)
    path = write(tmp_path / "a.idx", header)
    with pytest.raises(DataError) as info:
        read_idx(path)
    assert str(path) in str(info.value)
