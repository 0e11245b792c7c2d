"""CIFAR-10 and CIFAR-100: the Keras download, an ``.npz``, or the official binary version.

The binary version (``cifar-10-binary.tar.gz`` / ``cifar-100-binary.tar.gz``, or
the folders they unpack to) is read directly: each record is its label byte(s)
followed by 3,072 pixel bytes, the red, green and blue 32×32 planes in turn.
The python version is a set of pickles, which declml never loads.
"""

from __future__ import annotations

import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.library import class_labels, download, read_arrays, split_arrays
from declml.data.sources import _resolve
from declml.data.splits import Split, Splits
from declml.errors import DataError

__all__ = ["CIFAR10_CLASSES", "CIFAR100_COARSE_CLASSES", "CIFAR100_FINE_CLASSES",
           "load_cifar10", "load_cifar100", "read_cifar_records"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
                   "ship", "truck"]
#: The 20 superclasses, index = coarse label (batches.meta of the official release).
CIFAR100_COARSE_CLASSES = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
]
#: The 100 classes, index = fine label (alphabetical, as in the official meta file).
CIFAR100_FINE_CLASSES = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
]

_PIXELS = 3 * 32 * 32
_CIFAR_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
# Compressed (gzip, bzip2, xz) or plain tar archives; anything else is read as an .npz.
_TAR_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ")


def read_cifar_records(data: bytes, label_bytes: int, where: str) -> tuple[np.ndarray,
                                                                            np.ndarray]:
    """CIFAR binary records → ``(labels (n, label_bytes), images (n, 32, 32, 3))`` uint8."""
    size = label_bytes + _PIXELS
    if not data or len(data) % size:
        raise DataError(f"{where}: {len(data)} bytes is not a whole number of {size}-byte "
                        f"records ({label_bytes} label byte(s) + {_PIXELS} pixels); the file is "
                        "truncated or not from this dataset's binary version")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, size)
    images = records[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return records[:, :label_bytes].copy(), np.ascontiguousarray(images)


@dataclass(frozen=True)
class _Layout:
    """How one dataset's binary version is laid out."""

    what: str  # the dataset's name, for messages
    archive: str  # the binary version's download
    folder: str  # what it unpacks to
    pickled_folder: str  # what the python version unpacks to, to recognise it
    train: tuple[str, ...]
    test: str
    label_bytes: int

    @property
    def never_unpickle(self) -> str:
        return (f"declml never unpickles data; download the binary version instead "
                f"({self.archive} from {_CIFAR_PAGE}) or save the arrays as an .npz (numpy.savez)")


_CIFAR10 = _Layout(
    what="CIFAR-10", archive="cifar-10-binary.tar.gz", folder="cifar-10-batches-bin",
    pickled_folder="cifar-10-batches-py",
    train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)), test="test_batch.bin",
    label_bytes=1)
_CIFAR100 = _Layout(  # records hold the coarse label, then the fine one
    what="CIFAR-100", archive="cifar-100-binary.tar.gz", folder="cifar-100-binary",
    pickled_folder="cifar-100-python", train=("train.bin",), test="test.bin", label_bytes=2)


def _members(path: Path, layout: _Layout) -> tuple[dict[str, Callable[[], bytes]], str]:
    """File name → reader of the files of a binary-version folder or its archive.

    The folder the archive unpacks to is looked into when ``path`` is its parent
    (so is the python version's, to recognise it). Archives are read in memory,
    never extracted. Returns ``({}, "")`` when ``path`` is neither a folder nor
    an archive, and so may be an .npz.
    """
    if path.is_dir():
        base = next((path / f for f in (layout.folder, layout.pickled_folder)
                     if (path / f).is_dir()), path)
        return ({f.name: f.read_bytes for f in base.iterdir() if f.is_file()}, str(base))
    with path.open("rb") as fh:
        head = fh.read(262)
    if not (head.startswith(_TAR_MAGIC) or head[257:262] == b"ustar"):
        return {}, ""
    contents: dict[str, bytes] = {}
    try:
        with tarfile.open(path) as archive:
            for member in archive.getmembers():
                name = Path(member.name).name
                fh = archive.extractfile(member) if member.isfile() else None
                if fh is not None:  # only the record files are worth reading
                    contents[name] = fh.read() if name.endswith(".bin") else b""
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{path}: not a readable .tar.gz archive ({exc})") from None
    return {name: (lambda data=data: data) for name, data in contents.items()}, str(path)


def _looks_pickled(names: set[str]) -> bool:
    return bool(names & {"data_batch_1", "test_batch", "batches.meta", "train", "meta"})


def _binary_splits(layout: _Layout, files: dict[str, Callable[[], bytes]], where: str
                   ) -> tuple[tuple[np.ndarray, np.ndarray] | None,
                              tuple[np.ndarray, np.ndarray] | None]:
    if not {*layout.train, layout.test} & files.keys():
        if _looks_pickled(set(files)):
            raise DataError(f"{where}: this is the python version of {layout.what}, which is "
                            f"pickled; {layout.never_unpickle}")
        raise DataError(f"{where}: no {layout.what} binary files found; expected "
                        f"{', '.join([*layout.train, layout.test])} (the binary version's "
                        "folder or its .tar.gz), or an .npz with x_train, y_train, x_test, "
                        "y_test")
    train = None
    if any(n in files for n in layout.train):
        missing = [n for n in layout.train if n not in files]
        if missing:
            raise DataError(f"{where}: {', '.join(missing)} missing; the training split of "
                            f"{layout.what} needs all of {', '.join(layout.train)}")
        parts = [read_cifar_records(files[n](), layout.label_bytes, f"{where}/{n}")
                 for n in layout.train]
        train = (np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]))
    test = None
    if layout.test in files:
        test = read_cifar_records(files[layout.test](), layout.label_bytes,
                                  f"{where}/{layout.test}")
    return train, test


def _images(x: np.ndarray, where: str) -> tuple[np.ndarray, bool]:
    """``(n, 32, 32, 3)`` images; ``(n, 3, 32, 32)`` ones are turned channels-last."""
    x = np.asarray(x)
    if x.ndim == 4 and x.shape[1] == 3 and x.shape[3] != 3:
        return np.ascontiguousarray(x.transpose(0, 2, 3, 1)), True
    if x.ndim != 4 or x.shape[3] != 3:
        raise DataError(f"{where}: images have shape {x.shape}; expected (n, 32, 32, 3) "
                        "(or channels-first (n, 3, 32, 32))")
    return x, False


def _from_npz(p: Path, layout: _Layout, names: list[str]) -> Splits:
    arrays = read_arrays(p, pickled=f"holds object arrays; {layout.never_unpickle}",
                         expected="an .npz file, or the binary version's folder or .tar.gz")
    (x_train, y_train), test_xy = split_arrays(arrays, p, single=False)
    where = str(p)
    x_train, moved = _images(x_train, where)
    train = Split(x_train, class_labels(y_train, where, len(names)))
    test = None
    if test_xy is not None:
        x_test, _ = _images(test_xy[0], where)
        test = Split(x_test, class_labels(test_xy[1], where, len(names)))
    info = {"converted": "channels-first to channels-last"} if moved else {}
    return Splits(train, test, source=where, class_names=list(names),
                  task="classification", info=info)


def _from_binary(path: Path, layout: _Layout, column: int, names: list[str],
                 info: dict[str, Any]) -> Splits | None:
    """The binary version at ``path``, or None when ``path`` is no folder or archive.

    ``column`` picks the label byte (CIFAR-100 records hold coarse, then fine).
    """
    files, where = _members(path, layout)
    if not where:
        return None
    train, test = _binary_splits(layout, files, where)

    def split(part: tuple[np.ndarray, np.ndarray]) -> Split:
        return Split(part[1], class_labels(part[0][:, column], where, len(names)))

    if train is None:
        assert test is not None
        return Splits(split(test), source=f"{where} (test batch only)",
                      class_names=list(names), task="classification", info=info)
    return Splits(split(train), split(test) if test is not None else None, source=where,
                  class_names=list(names), task="classification", info=info)


def _download_cifar(name: str, title: str, names: list[str], info: dict[str, Any],
                    **kwargs: Any) -> Splits:
    (x_train, y_train), (x_test, y_test) = download(
        name, title, "an .npz with x_train, y_train, x_test, y_test, or the binary version's "
        "folder or .tar.gz", **kwargs)
    source = f"keras.datasets.{name}"
    return Splits(Split(x_train, class_labels(y_train, source, len(names))),
                  Split(x_test, class_labels(y_test, source, len(names))), source=source,
                  class_names=list(names), task="classification", info=info)


def load_cifar10(options: Any) -> Splits:
    """CIFAR-10: 60,000 32×32 colour images in 10 classes (50,000 train, 10,000 test)."""
    path = getattr(options, "path", None)
    if path is None:
        return _download_cifar("cifar10", "CIFAR-10", CIFAR10_CLASSES, {})
    p = _resolve(path)
    found = _from_binary(p, _CIFAR10, 0, CIFAR10_CLASSES, {})
    return found if found is not None else _from_npz(p, _CIFAR10, CIFAR10_CLASSES)


def load_cifar100(options: Any) -> Splits:
    """CIFAR-100: 60,000 32×32 colour images, 100 classes in 20 superclasses."""
    mode = getattr(options, "label_mode", "fine")
    names = CIFAR100_FINE_CLASSES if mode == "fine" else CIFAR100_COARSE_CLASSES
    info = {"label_mode": mode}
    path = getattr(options, "path", None)
    if path is None:
        return _download_cifar("cifar100", "CIFAR-100", names, info, label_mode=mode)
    p = _resolve(path)
    found = _from_binary(p, _CIFAR100, 1 if mode == "fine" else 0, names, info)
    if found is not None:
        return found
    splits = _from_npz(p, _CIFAR100, names)
    splits.info.update(info)
    return splits
