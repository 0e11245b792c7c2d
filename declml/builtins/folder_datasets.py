"""Built-in datasets read from the user's files: image and text folders, IDX files.

The loaders live in :mod:`declml.data.folders`; these models are the options a
spec writes under ``data:`` next to ``dataset: image_dir`` (or ``text_dir``, ``idx``).
"""

from __future__ import annotations

import codecs
from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from declml.registry.registry import DatasetRegistrar
from declml.spec.base import StrictModel

__all__ = ["IdxOptions", "ImageDirOptions", "TextDirOptions", "register_folder_datasets"]

_PATH = ("directory with one subfolder per class, or with train/ and test/ folders "
         "that each hold the class subfolders (the dataset's own split)")
_CLASSES = ("the class subfolders to use, in label order (default: every subfolder, sorted "
            "by name); e.g. [neg, pos] to leave out aclImdb's unsup folder")


def _unique_classes(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    repeated = sorted({c for c in value if value.count(c) > 1})
    if repeated:
        raise ValueError(f"classes must be listed once each; repeated: {', '.join(repeated)}")
    empty = [c for c in value if not c.strip() or "/" in c or "\\" in c]
    if empty:
        raise ValueError(f"classes are folder names (not empty, no slashes); got {empty[0]!r}")
    return value


class ImageDirOptions(StrictModel):
    """Images in one folder per class (png, jpg, bmp, gif, webp), read batch by batch."""

    path: str = Field(description=_PATH)
    image_size: list[PositiveInt] | None = Field(
        None, min_length=2, max_length=2,
        description="[height, width] every image is resized to; when omitted every image "
                    "must have the size of the first one")
    color_mode: Literal["rgb", "grayscale", "rgba"] = Field(
        "rgb", description="channels of the decoded images: rgb (3), grayscale (1) or rgba (4)")
    classes: list[str] | None = Field(None, min_length=1, description=_CLASSES)

    _check_classes = field_validator("classes")(_unique_classes)


class TextDirOptions(StrictModel):
    """Text files (.txt) in one folder per class, like the aclImdb reviews."""

    path: str = Field(description=_PATH)
    classes: list[str] | None = Field(None, min_length=1, description=_CLASSES)
    encoding: str = Field(
        "utf-8", description="encoding of the text files, a Python codec name (utf-8, latin-1, "
                             "cp1252, ...); a UTF-8 byte-order mark is skipped")

    _check_classes = field_validator("classes")(_unique_classes)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, value: str) -> str:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown text encoding {value!r}; use a Python codec name such "
                             "as utf-8, latin-1 or cp1252") from None
        return value


class IdxOptions(StrictModel):
    """Images and labels from IDX files (the format of the original MNIST files), by path."""

    images: str = Field(description="IDX file of the training inputs, gzipped or not")
    labels: str = Field(description="IDX file of the training labels, one per input")
    test_images: str | None = Field(
        None, description="IDX file of the test inputs (give test_labels with it)")
    test_labels: str | None = Field(
        None, description="IDX file of the test labels (give test_images with it)")

    @model_validator(mode="after")
    def _both_test_files(self) -> IdxOptions:
        if (self.test_images is None) != (self.test_labels is None):
            given, lacking = (("test_images", "test_labels") if self.test_images is not None
                              else ("test_labels", "test_images"))
            raise ValueError(f"{given} is set but {lacking} is not; a test split needs both "
                             "files (or leave out both to hold out part of the training data)")
        return self


def register_folder_datasets(register: DatasetRegistrar) -> None:
    """Register these datasets (called by declml.builtins.datasets)."""
    register.dataset("image_dir", "declml.data.folders:load_image_dir",
                     spec_model=ImageDirOptions)
    register.dataset("text_dir", "declml.data.folders:load_text_dir", spec_model=TextDirOptions)
    register.dataset("idx", "declml.data.folders:load_idx", spec_model=IdxOptions)
