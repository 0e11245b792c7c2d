"""Loaders of the built-in datasets. Each takes its validated options, returns Splits."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.idx import read_idx
from declml.data.splits import Split, Splits
from declml.errors import DataError

__all__ = ["load_digits", "load_mnist", "load_npy", "load_npz", "read_arrays"]

# Names the original MNIST files go by (some mirrors use a dot instead of a dash).
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def load_digits(options: Any = None) -> Splits:
    """scikit-learn's 8×8 digits (1,797 images, pixel values 0–16), as one split."""
    from sklearn.datasets import load_digits as sk_load_digits

    bunch = sk_load_digits()
    return Splits(train=Split(bunch.images.astype("float32"), bunch.target.astype("int64")),
                  source="scikit-learn digits")


def _resolve(path: str) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"data path {str(p)!r} does not exist (resolved to {p.resolve()}); "
                        "relative paths are taken from the current directory")
    return p


def _find_idx(directory: Path, stem: str) -> Path | None:
    alt = stem.replace("-idx", ".idx")
    for name in (stem, f"{stem}.gz", alt, f"{alt}.gz"):
        candidate = directory / name
        if candidate.is_file():
            return candidate
    return None


def _mnist_from_dir(directory: Path) -> Splits:
    found: dict[str, Split] = {}
    for split, (images_stem, labels_stem) in _MNIST_FILES.items():
        images, labels = _find_idx(directory, images_stem), _find_idx(directory, labels_stem)
        if images is None and labels is None:
            continue
        if images is None or labels is None:
            missing = images_stem if images is None else labels_stem
            raise DataError(f"{directory}: found half of the MNIST {split} split; "
                            f"{missing}[.gz] is missing")
        x, y = read_idx(images), read_idx(labels).astype("int64")
        if len(x) != len(y):
            raise DataError(f"{images.name} holds {len(x)} images but {labels.name} holds "
                            f"{len(y)} labels; the files do not belong together")
        found[split] = Split(x, y)
    if not found:
        raise DataError(
            f"{directory}: no MNIST IDX files found; expected train-images-idx3-ubyte[.gz] "
            "and train-labels-idx1-ubyte[.gz] and/or the t10k-* test files"
        )
    if "train" in found:
        return Splits(train=found["train"], test=found.get("test"), source=str(directory))
    return Splits(train=found["test"], source=f"{directory} (test files only)")


def load_mnist(options: Any) -> Splits:
    """MNIST: the Keras download, or a local ``.npz`` / IDX directory given as ``path``."""
    path = getattr(options, "path", None)
    if path is None:
        from declml.backend import import_keras

        keras = import_keras()
        try:
            (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as exc:  # network errors come in many types
            raise DataError(
                f"could not download MNIST ({type(exc).__name__}: {exc}); without network "
                "access, point data.path at a local copy (an .npz or the IDX files)"
            ) from None
        return Splits(Split(x_train, y_train.astype("int64")),
                      Split(x_test, y_test.astype("int64")), source="keras.datasets.mnist")
    p = _resolve(path)
    if p.is_dir():
        return _mnist_from_dir(p)
    return _read_npz(p, "x", "y")


def load_npz(options: Any) -> Splits:
    """Arrays from an ``.npz``: x_train/y_train[/x_test/y_test], or a single x/y pair."""
    return _read_npz(_resolve(options.path), options.x_key, options.y_key)


def read_arrays(path: Path, *, pickled: str, expected: str = "an .npz file") -> dict[str, Any]:
    """Every array of an ``.npz`` file, read without pickle (the one .npz reader).

    Args:
        path: the file.
        pickled: what to tell the user when the file holds object arrays
            (after ``"{path}: "``).
        expected: what the dataset accepts, for the message about other files.
    """
    if path.is_dir():
        raise DataError(f"{path}: is a directory; expected {expected}")
    try:
        with path.open("rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc}); expected {expected}"
                        ) from None
    if not magic.startswith(b"PK"):
        raise DataError(f"{path}: not a readable .npz file (not an .npz archive); expected "
                        f"{expected} (save arrays with numpy.savez)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {name: archive[name] for name in archive.files}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{path}: {pickled}") from None
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from None


def _read_npz(path: Path, x_key: str, y_key: str) -> Splits:
    arrays = read_arrays(path, pickled="holds object arrays; declml reads .npz files without "
                                       "pickle, so save plain numeric arrays (numpy.savez)")
    keys = sorted(arrays)
    if ("x_test" in arrays) != ("y_test" in arrays):
        have, lack = ("x_test", "y_test") if "x_test" in arrays else ("y_test", "x_test")
        raise DataError(f"{path}: has {have} but no {lack}; a test split needs both")
    if {"x_train", "y_train"} <= arrays.keys():
        test = None
        if {"x_test", "y_test"} <= arrays.keys():
            test = Split(arrays["x_test"], arrays["y_test"])
        return Splits(Split(arrays["x_train"], arrays["y_train"]), test, source=str(path))
    if {x_key, y_key} <= arrays.keys():
        return Splits(Split(arrays[x_key], arrays[y_key]), source=str(path))
    raise DataError(
        f"{path}: expected arrays x_train and y_train (optionally x_test, y_test), or "
        f"{x_key!r} and {y_key!r}; the file has {', '.join(keys) or 'no arrays'}"
    )


def _read_npy(path: Path, role: str) -> np.ndarray:
    if path.is_dir():
        raise DataError(f"{path}: is a directory; expected an .npy file ({role})")
    try:
        with path.open("rb") as fh:
            magic = fh.read(6)
    except OSError as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    if not (magic.startswith(b"\x93NUMPY") or magic.startswith(b"PK")):
        raise DataError(f"{path}: not a NumPy file; save the {role} with numpy.save")
    try:
        array = np.load(path, allow_pickle=False)
    except ValueError as exc:
        if "pickle" in str(exc):
            raise DataError(f"{path}: holds object arrays; declml reads .npy files without "
                            "pickle, so save plain numeric or string arrays") from None
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(array, np.ndarray):
        raise DataError(f"{path}: is an .npz archive; use dataset npz for it")
    return array


def load_npy(options: Any) -> Splits:
    """Inputs and targets from separate ``.npy`` files (and optionally a test pair)."""
    from declml.data.labels import LabelColumn, encode_labels

    pairs = [(options.path, options.targets)]
    if (options.test_path is None) != (options.test_targets is None):
        raise DataError("data.test_path and data.test_targets go together: set both or neither")
    if options.test_path is not None:
        pairs.append((options.test_path, options.test_targets))
    inputs, columns = [], []
    for x_path, y_path in pairs:
        x = _read_npy(_resolve(x_path), "inputs")
        y = _read_npy(_resolve(y_path), "targets")
        if len(x) != len(y):
            raise DataError(f"{x_path} holds {len(x)} examples but {y_path} holds {len(y)} "
                            "targets; the files do not belong together")
        inputs.append(x)
        if y.ndim == 1:
            values = y.tolist() if y.dtype.kind in "USO" else y
            columns.append(LabelColumn(list(values), range(1, len(y) + 1), str(y_path)))
        else:
            columns.append(y)
    if all(isinstance(c, LabelColumn) for c in columns):
        targets, names, task = encode_labels(columns, task=options.task, classes=options.classes)
    else:  # multi-valued targets (one-hot, several regression outputs) are used as they are
        targets, names, task = [np.asarray(c) for c in columns], None, None
    splits = [Split(x, y) for x, y in zip(inputs, targets, strict=True)]
    return Splits(splits[0], splits[1] if len(splits) > 1 else None, source=str(options.path),
                  class_names=names, task=task)
