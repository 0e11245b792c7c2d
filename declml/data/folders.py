"""Datasets read from folders of files (images, text) and from IDX files named by path.

Folder layouts, as in Keras' ``*_dataset_from_directory`` and the aclImdb archive:

* ``root/<class>/...`` — one subfolder per class; a single split.
* ``root/train/<class>/...`` and optionally ``root/test/<class>/...`` — the
  dataset's own split. This layout is chosen when ``root/train`` exists and holds
  subfolders; other folders beside ``train/`` and ``test/`` are then ignored.

Class folders are searched recursively; files and folders whose name starts
with ``.`` (and ``__MACOSX`` folders left by macOS archives) are ignored, as are
files with other endings. Examples are ordered class by class, files sorted by
path within a class, so a dataset loads the same way on every machine.

Class names are the folder names, sorted, unless the spec lists ``classes``
(which also selects folders, e.g. ``[neg, pos]`` to leave out aclImdb's
``unsup``); a label is the index of its class in that list.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.idx import read_idx
from declml.data.images import IMAGE_EXTENSIONS, ImageFiles, image_size_of, read_images
from declml.data.splits import Split, Splits
from declml.errors import DataError
from declml.registry.registry import did_you_mean

__all__ = [
    "ClassFiles", "list_class_files", "load_idx", "load_image_dir", "load_text_dir",
    "read_images",
]

_IGNORED_DIRS = {"__MACOSX"}
TEXT_EXTENSIONS = (".txt",)


def _hidden(name: str) -> bool:
    return name.startswith(".") or name in _IGNORED_DIRS


def _existing(path: str, what: str, *, directory: bool) -> Path:
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{what} {str(p)!r} does not exist (resolved to {p.resolve()}); "
                        "relative paths are taken from the current directory")
    if directory and not p.is_dir():
        raise DataError(f"{p}: is a file; expected a directory with one subfolder per class "
                        "(or train/ and test/ folders holding them)")
    if not directory and p.is_dir():
        raise DataError(f"{p}: is a directory; expected an IDX file")
    return p


def _subdirs(directory: Path) -> list[str]:
    try:
        return sorted(e.name for e in os.scandir(directory)
                      if e.is_dir() and not _hidden(e.name))
    except OSError as exc:
        raise DataError(f"{directory}: cannot list this directory ({exc})") from None


def _files(directory: Path, extensions: Sequence[str]) -> list[Path]:
    """Files under ``directory`` with one of ``extensions``, recursively, sorted by path."""
    found: list[Path] = []
    for here, dirs, names in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        found.extend(Path(here, n) for n in names
                     if not _hidden(n) and n.lower().endswith(tuple(extensions)))
    return sorted(found)


def _layout(root: Path) -> tuple[Path, Path | None]:
    """The train folder and the test folder (None when the dataset has a single split)."""
    train = root / "train"
    if train.is_dir() and _subdirs(train):
        test = root / "test"
        return train, test if test.is_dir() else None
    return root, None


def _kinds(extensions: Sequence[str]) -> str:
    return "/".join(e.lstrip(".") for e in extensions)


@dataclass
class ClassFiles:
    """The files of one split and their labels (indices into the class names)."""

    directory: Path
    files: list[Path]
    labels: np.ndarray


def list_class_files(path: str, extensions: Sequence[str], classes: Sequence[str] | None
                     ) -> tuple[dict[str, ClassFiles], list[str], str]:
    """Find the files of each split in a class-per-folder directory.

    Returns:
        ``{"train": ClassFiles, "test": ClassFiles}`` (test only when the directory
        has its own test split), the class names and the layout's description.

    Raises:
        DataError: a missing directory, no class folders, a listed class that has no
            folder, a class folder without files, or a test folder with a class the
            training folder lacks.
    """
    root = _existing(path, "data path", directory=True)
    train_dir, test_dir = _layout(root)
    layout = "train/ and test/ folders" if test_dir else (
        "a train/ folder" if train_dir != root else "one folder per class")
    found = _subdirs(train_dir)
    kinds = _kinds(extensions)
    if not found:
        raise DataError(f"{train_dir}: no class folders; expected one subfolder per class, "
                        f"each holding its {kinds} files (or train/ and test/ folders "
                        "holding those)")
    if classes is None:
        names = found
    else:
        names = list(classes)
        for name in names:
            if name not in found:
                raise DataError(f"{train_dir}: has no folder {name!r} for the class listed in "
                                f"data.classes{did_you_mean(name, found)} (folders: "
                                f"{', '.join(found)}); fix the name or remove it from classes")
    out: dict[str, ClassFiles] = {}
    out["train"] = _split_files(train_dir, names, extensions, required=True)
    if test_dir is not None:
        in_test = _subdirs(test_dir)
        if not in_test:
            raise DataError(f"{test_dir}: has no class folders; a test split needs one "
                            f"subfolder per class, like {train_dir}; move the folder "
                            "away to use the training folder alone")
        unknown = [c for c in in_test if c not in names]
        if classes is None and unknown:
            raise DataError(
                f"{test_dir / unknown[0]}: the test split has class {unknown[0]!r}, which "
                f"{train_dir} does not have (training classes: {', '.join(names)}); add a "
                "training folder for it, remove it, or list the classes to use in "
                "data.classes")
        out["test"] = _split_files(test_dir, [c for c in names if c in in_test], extensions,
                                   required=False, label_of={c: i for i, c in
                                                             enumerate(names)})
        if not out["test"].files:
            raise DataError(f"{test_dir}: the class folders hold no {kinds} files; add "
                            f"them, or move {test_dir} away to use the training folder alone")
    return out, names, layout


def _split_files(directory: Path, names: Sequence[str], extensions: Sequence[str], *,
                 required: bool, label_of: dict[str, int] | None = None) -> ClassFiles:
    label_of = label_of or {c: i for i, c in enumerate(names)}
    files: list[Path] = []
    labels: list[int] = []
    for name in names:
        these = _files(directory / name, extensions)
        if required and not these:
            raise DataError(f"{directory / name}: class folder {name!r} holds no "
                            f"{_kinds(extensions)} files; add some, or leave the class out "
                            "by listing the others in data.classes")
        files.extend(these)
        labels.extend([label_of[name]] * len(these))
    return ClassFiles(directory, files, np.asarray(labels, dtype="int64"))


def _counts(y: np.ndarray, names: Sequence[str]) -> dict[str, int]:
    counts = np.bincount(y, minlength=len(names))
    return {name: int(n) for name, n in zip(names, counts, strict=True)}


# --- image_dir ---------------------------------------------------------------------------


def load_image_dir(options: Any) -> Splits:
    """Images in one folder per class; the inputs are :class:`ImageFiles` read per batch."""
    color_mode = getattr(options, "color_mode", "rgb")
    size = getattr(options, "image_size", None)
    image_size = None if size is None else (int(size[0]), int(size[1]))
    found, names, layout = list_class_files(options.path, IMAGE_EXTENSIONS,
                                            getattr(options, "classes", None))
    first = found["train"].files[0]
    # Without image_size every image must have the first one's size: read just its header.
    reference = None if image_size else (first, image_size_of(first))
    splits = {}
    for name, part in found.items():
        x = ImageFiles(part.files, color_mode, image_size, reference=reference,
                       root=part.directory)
        splits[name] = Split(x, part.labels)
    shape = x.example_shape
    info: dict[str, Any] = {
        "layout": layout, "color_mode": color_mode,
        "image_shape": list(shape) if shape else None,
        "resized": image_size is not None,
        "class_counts": {k: _counts(s.y, names) for k, s in splits.items()},
    }
    return Splits(splits["train"], splits.get("test"), source=str(options.path),
                  class_names=list(names), task="classification", info=info)


# --- text_dir ----------------------------------------------------------------------------


def _read_text(path: Path, encoding: str) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None
    codec = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    try:
        return raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(
            f"{path}, line {line}: not valid {encoding} text (byte {raw[exc.start]:#04x} at "
            f"offset {exc.start}); set data.encoding to the files' encoding (e.g. latin-1 or "
            "cp1252), or re-save the file as UTF-8") from None


def load_text_dir(options: Any) -> Splits:
    """Text files (``.txt``) in one folder per class, read into arrays of strings.

    Empty files are kept as empty strings: they are valid (if uninformative)
    examples, and dropping them would silently change the class counts; their
    number is recorded in ``info["empty_files"]``.
    """
    encoding = getattr(options, "encoding", "utf-8")
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise DataError(f"unknown text encoding {encoding!r} in data.encoding; use a Python "
                        "codec name such as utf-8, latin-1 or cp1252") from None
    found, names, layout = list_class_files(options.path, TEXT_EXTENSIONS,
                                            getattr(options, "classes", None))
    splits: dict[str, Split] = {}
    empty = 0
    for name, part in found.items():
        x = np.empty(len(part.files), dtype=object)
        for i, file in enumerate(part.files):
            x[i] = _read_text(file, encoding)
            empty += not x[i]
        splits[name] = Split(x, part.labels)
    info = {"layout": layout, "encoding": encoding, "empty_files": empty,
            "class_counts": {k: _counts(s.y, names) for k, s in splits.items()}}
    return Splits(splits["train"], splits.get("test"), source=str(options.path),
                  class_names=list(names), task="classification", info=info)


# --- idx ---------------------------------------------------------------------------------


def _idx_split(images: str, labels: str) -> Split:
    x = read_idx(_existing(images, "IDX images file", directory=False))
    y = read_idx(_existing(labels, "IDX labels file", directory=False))
    if y.ndim != 1:
        raise DataError(f"{labels}: holds an array of shape {y.shape}; expected one label per "
                        "example (a 1-D IDX file); are images and labels swapped?")
    if not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{labels}: holds {y.dtype} values; expected integer class labels")
    if len(x) != len(y):
        raise DataError(f"{images} holds {len(x)} examples but {labels} holds {len(y)} "
                        "labels; the files do not belong together (check the paths)")
    return Split(x, y.astype("int64"))


def load_idx(options: Any) -> Splits:
    """Images and labels from IDX files (the MNIST format) named by path."""
    test_images = getattr(options, "test_images", None)
    test_labels = getattr(options, "test_labels", None)
    if (test_images is None) != (test_labels is None):
        given, lacking = (("test_images", "test_labels") if test_images is not None
                          else ("test_labels", "test_images"))
        raise DataError(f"data.{given} is set but data.{lacking} is not; a test split needs "
                        "both files")
    train = _idx_split(options.images, options.labels)
    test = None
    if test_images is not None and test_labels is not None:
        test = _idx_split(test_images, test_labels)
        if test.x.shape[1:] != train.x.shape[1:]:
            raise DataError(f"{test_images} holds examples of shape {test.x.shape[1:]} but "
                            f"{options.images} holds {train.x.shape[1:]}; the splits must "
                            "match")
    info = {"labels": str(options.labels), "test_images": test_images,
            "test_labels": test_labels}
    return Splits(train, test, source=str(options.images), task="classification",
                  info={k: v for k, v in info.items() if v is not None})
