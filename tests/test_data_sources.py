"""Dataset loaders (declml.data.sources) on small files written here; no network."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from declml.builtins.datasets import MnistOptions, NpzOptions
from declml.data.sources import load_digits, load_mnist, load_npz
from declml.data.splits import Splits
from declml.errors import DataError


def idx_bytes(array: np.ndarray) -> bytes:
    """uint8 array → IDX bytes (magic 0x00 0x00 0x08 ndim, big-endian uint32 dims, data)."""
    assert array.dtype == np.uint8
    return (bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.tobytes())


def images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 4, 4), dtype="uint8")


def labels(n: int) -> np.ndarray:
    return (np.arange(n) % 10).astype("uint8")


def write_idx(directory: Path, name: str, array: np.ndarray) -> None:
    payload = idx_bytes(array)
    if name.endswith(".gz"):
        payload = gzip.compress(payload)
    (directory / name).write_bytes(payload)


def mnist_dir(directory: Path, *, train: bool = True, test: bool = True, suffix: str = "",
              dotted: bool = False, n_train: int = 12, n_test: int = 5) -> Path:
    directory.mkdir(exist_ok=True)
    sep = "." if dotted else "-"
    if train:
        write_idx(directory, f"train-images{sep}idx3-ubyte{suffix}", images(n_train, 1))
        write_idx(directory, f"train-labels{sep}idx1-ubyte{suffix}", labels(n_train))
    if test:
        write_idx(directory, f"t10k-images{sep}idx3-ubyte{suffix}", images(n_test, 2))
        write_idx(directory, f"t10k-labels{sep}idx1-ubyte{suffix}", labels(n_test))
    return directory


def mnist(path: Path | str) -> Splits:
    return load_mnist(MnistOptions(path=str(path)))


def npz(path: Path | str, **keys: str) -> Splits:
    return load_npz(NpzOptions(path=str(path), **keys))


# --- mnist from a directory of IDX files -------------------------------------------------


@pytest.mark.parametrize(
    ("suffix", "dotted"),
    [("", False), (".gz", False), ("", True), (".gz", True)],
    ids=["plain", "gzip", "dotted", "dotted-gzip"],
)
def test_mnist_dir_with_both_splits(tmp_path, suffix, dotted):
    directory = mnist_dir(tmp_path / "mnist", suffix=suffix, dotted=dotted)
    splits = mnist(directory)
    assert isinstance(splits, Splits)
    assert splits.train.x.shape == (12, 4, 4)
    assert splits.train.y.shape == (12,)
    assert splits.test is not None
    assert splits.test.x.shape == (5, 4, 4)
    np.testing.assert_array_equal(splits.train.x, images(12, 1))
    np.testing.assert_array_equal(splits.test.x, images(5, 2))
    np.testing.assert_array_equal(splits.train.y, labels(12))
    assert splits.train.y.dtype == np.int64
    assert splits.test.y.dtype == np.int64
    assert splits.source == str(directory)


def test_mnist_dir_mixed_gzip_and_plain(tmp_path):
    directory = tmp_path / "mixed"
    directory.mkdir()
    write_idx(directory, "train-images-idx3-ubyte.gz", images(6, 1))
    write_idx(directory, "train-labels-idx1-ubyte", labels(6))
    splits = mnist(directory)
    assert len(splits.train) == 6
    assert splits.test is None


def test_mnist_dir_with_only_test_files_is_a_single_split(tmp_path):
    directory = mnist_dir(tmp_path / "t10k", train=False, n_test=7)
    splits = mnist(directory)
    assert splits.test is None
    assert splits.train.x.shape == (7, 4, 4)
    np.testing.assert_array_equal(splits.train.x, images(7, 2))
    assert "test files only" in splits.source


def test_mnist_dir_with_only_train_files(tmp_path):
    splits = mnist(mnist_dir(tmp_path / "train", test=False))
    assert splits.test is None
    assert len(splits.train) == 12


@pytest.mark.parametrize(
    ("present", "missing"),
    [
        ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
        ("train-labels-idx1-ubyte.gz", "train-images-idx3-ubyte"),
        ("t10k-images.idx3-ubyte", "t10k-labels-idx1-ubyte"),
    ],
)
def test_mnist_dir_with_half_a_split(tmp_path, present, missing):
    directory = tmp_path / "half"
    directory.mkdir()
    array = images(3, 0) if "images" in present else labels(3)
    write_idx(directory, present, array)
    with pytest.raises(DataError) as info:
        mnist(directory)
    message = str(info.value)
    assert str(directory) in message
    assert "half" in message
    assert missing in message


def test_mnist_dir_half_test_split_next_to_full_train_split(tmp_path):
    directory = mnist_dir(tmp_path / "d", test=False)
    write_idx(directory, "t10k-images-idx3-ubyte", images(3, 0))
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        mnist(directory)


def test_mnist_empty_dir(tmp_path):
    directory = tmp_path / "empty"
    directory.mkdir()
    (directory / "README.txt").write_text("not mnist")
    with pytest.raises(DataError) as info:
        mnist(directory)
    message = str(info.value)
    assert str(directory) in message
    assert "no MNIST IDX files" in message
    assert "train-images-idx3-ubyte" in message


def test_mnist_dir_images_and_labels_differ_in_length(tmp_path):
    directory = tmp_path / "d"
    directory.mkdir()
    write_idx(directory, "train-images-idx3-ubyte", images(4, 0))
    write_idx(directory, "train-labels-idx1-ubyte", labels(3))
    with pytest.raises(DataError, match="holds 4 images but train-labels-idx1-ubyte holds 3"):
        mnist(directory)


def test_mnist_dir_with_corrupt_file_names_the_file(tmp_path):
    directory = mnist_dir(tmp_path / "d", test=False)
    bad = directory / "train-labels-idx1-ubyte"
    bad.write_bytes(b"garbage!")
    with pytest.raises(DataError) as info:
        mnist(directory)
    assert str(bad) in str(info.value)


def test_mnist_missing_path(tmp_path):
    path = tmp_path / "does-not-exist"
    with pytest.raises(DataError) as info:
        mnist(path)
    assert str(path) in str(info.value)
    assert "does not exist" in str(info.value)


def test_mnist_npz(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=images(10, 1), y_train=labels(10),
             x_test=images(4, 2), y_test=labels(4))
    splits = mnist(path)
    assert splits.train.x.shape == (10, 4, 4)
    assert splits.test is not None
    assert splits.test.x.shape == (4, 4, 4)
    np.testing.assert_array_equal(splits.train.x, images(10, 1))
    np.testing.assert_array_equal(splits.test.y, labels(4))
    assert splits.source == str(path)


def test_mnist_options_path_defaults_to_download():
    # Only the option model: the download itself must not run in the tests.
    assert MnistOptions().path is None


# --- npz ---------------------------------------------------------------------------------


def test_npz_two_splits(tmp_path):
    path = tmp_path / "d.npz"
    x_train, y_train = np.arange(24.0).reshape(6, 4), np.array([0, 1, 2, 0, 1, 2])
    x_test, y_test = -np.arange(8.0).reshape(2, 4), np.array([1, 0])
    np.savez(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    splits = npz(path)
    np.testing.assert_array_equal(splits.train.x, x_train)
    np.testing.assert_array_equal(splits.train.y, y_train)
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.x, x_test)
    np.testing.assert_array_equal(splits.test.y, y_test)


def test_npz_train_only_is_single_split(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x_train=np.zeros((3, 2)), y_train=np.zeros(3))
    splits = npz(path)
    assert len(splits.train) == 3
    assert splits.test is None


def test_npz_single_split_default_keys(tmp_path):
    path = tmp_path / "d.npz"
    np.savez_compressed(path, x=np.ones((5, 2), "float32"), y=np.arange(5))
    splits = npz(path)
    assert splits.test is None
    assert splits.train.x.shape == (5, 2)
    np.testing.assert_array_equal(splits.train.y, np.arange(5))
    assert splits.source == str(path)


def test_npz_single_split_custom_keys(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, features=np.ones((4, 3)), target=np.arange(4), x=np.zeros((9, 1)))
    splits = npz(path, x_key="features", y_key="target")
    assert splits.train.x.shape == (4, 3)
    np.testing.assert_array_equal(splits.train.y, np.arange(4))


def test_npz_wrong_keys_lists_what_the_file_has(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, inputs=np.zeros((2, 2)), outputs=np.zeros(2))
    with pytest.raises(DataError) as info:
        npz(path)
    message = str(info.value)
    assert str(path) in message
    assert "inputs" in message
    assert "outputs" in message
    assert "x_train" in message  # what it expected
    assert "'x'" in message and "'y'" in message


def test_npz_wrong_keys_mentions_custom_keys(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(DataError, match="'feat' and 'lab'"):
        npz(path, x_key="feat", y_key="lab")


def test_npz_empty_archive(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path)
    with pytest.raises(DataError, match="no arrays"):
        npz(path)


def test_npz_length_mismatch(tmp_path):
    path = tmp_path / "d.npz"
    np.savez(path, x=np.zeros((3, 2)), y=np.zeros(4))
    with pytest.raises(DataError, match="3 inputs, 4 targets"):
        npz(path)


def test_npz_object_array_is_refused_without_unpickling(tmp_path, monkeypatch):
    path = tmp_path / "d.npz"
    obj = np.empty(2, dtype=object)
    obj[0], obj[1] = {"a": 1}, [1, 2]
    np.savez(path, x=obj, y=np.zeros(2))

    import pickle

    def forbidden(*args, **kwargs):
        raise AssertionError("the npz loader unpickled data")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    with pytest.raises(DataError) as info:
        npz(path)
    assert str(path) in str(info.value)
    assert "pickle" in str(info.value)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is a text file\n", b"PK\x03\x04 not really a zip"],
    ids=["empty", "text", "broken-zip"],
)
def test_npz_not_an_npz_file(tmp_path, content):
    path = tmp_path / "d.npz"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        npz(path)
    assert str(path) in str(info.value)
    assert "not a readable .npz" in str(info.value)


def test_npz_given_a_npy_file(tmp_path):
    path = tmp_path / "d.npy"
    np.save(path, np.zeros((3, 2)))
    with pytest.raises(DataError) as info:
        npz(path)
    assert str(path) in str(info.value)


def test_npz_directory_instead_of_file(tmp_path):
    with pytest.raises(DataError, match=r"is a directory; expected an \.npz file"):
        npz(tmp_path)


def test_npz_missing_path(tmp_path):
    path = tmp_path / "missing.npz"
    with pytest.raises(DataError) as info:
        npz(path)
    assert str(path) in str(info.value)
    assert "does not exist" in str(info.value)


def test_npz_loader_accepts_any_options_object(tmp_path):
    # Loaders take whatever validated options object the registry gives them.
    path = tmp_path / "d.npz"
    np.savez(path, a=np.zeros((2, 1)), b=np.ones(2))
    splits = load_npz(SimpleNamespace(path=str(path), x_key="a", y_key="b"))
    np.testing.assert_array_equal(splits.train.y, [1.0, 1.0])


# --- digits ------------------------------------------------------------------------------


def test_digits():
    splits = load_digits()
    assert splits.train.x.shape == (1797, 8, 8)
    assert splits.train.y.shape == (1797,)
    assert splits.train.x.dtype == np.float32
    assert splits.train.y.dtype == np.int64
    assert splits.test is None
    assert splits.train.x.min() == 0
    assert splits.train.x.max() == 16
    assert sorted(np.unique(splits.train.y)) == list(range(10))
    assert "digits" in splits.source
