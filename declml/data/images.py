"""Image files decoded on demand: one decoder for training data and for ``predict``.

Decoding goes through Pillow. Every image becomes a ``uint8`` array of shape
``(height, width, channels)`` with 3 (``rgb``), 1 (``grayscale``) or 4 (``rgba``)
channels, turned upright by its EXIF orientation (as image viewers show it) and,
when a size is given, resized with bilinear filtering to exactly that size
(aspect ratio not kept, as in Keras' ``image_dataset_from_directory``).
Animated GIF/WebP files give their first frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from declml.data.lazy import Examples
from declml.errors import DataError

if TYPE_CHECKING:
    from PIL.Image import Image

__all__ = ["CHANNELS", "IMAGE_EXTENSIONS", "ImageFiles", "image_size_of", "read_images"]

#: File name endings (lower case) taken as images; other files are ignored.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")

#: Channels per colour mode.
CHANNELS = {"rgb": 3, "grayscale": 1, "rgba": 4}
_PIL_MODES = {"rgb": "RGB", "grayscale": "L", "rgba": "RGBA"}
_ORIENTATION = 0x0112  # EXIF tag; values 5-8 swap width and height
_SIZE_HINT = "set image_size: [height, width] under data: to resize every image to one size"


def _check_mode(color_mode: str) -> None:
    if color_mode not in CHANNELS:
        raise DataError(f"unknown color_mode {color_mode!r}; expected one of "
                        f"{', '.join(CHANNELS)}")


def _cannot_read(path: Path, exc: BaseException) -> DataError:
    if isinstance(exc, FileNotFoundError):
        return DataError(f"{path}: image file not found; it was listed when the data was "
                         "loaded; was it moved or deleted since?")
    from PIL import UnidentifiedImageError

    if isinstance(exc, UnidentifiedImageError):  # its message repeats the path
        detail = "not in an image format Pillow can read"
    else:
        detail = " ".join(str(exc).split()) or type(exc).__name__
    return DataError(f"{path}: cannot decode this image ({detail}); the file is corrupt or "
                     "not an image; remove or replace it")


def _upright(img: Image) -> Image:
    """The image turned by its EXIF orientation (a no-op, without copying, for most files)."""
    from PIL import ImageOps

    if img.getexif().get(_ORIENTATION, 1) in (2, 3, 4, 5, 6, 7, 8):
        return ImageOps.exif_transpose(img)
    return img


def _to_mode(img: Image, color_mode: str) -> Image:
    """Convert to RGB/L/RGBA, scaling 16-bit greyscale down rather than clipping it."""
    from PIL import Image as PILImage

    mode = img.mode
    if mode.startswith("I") or mode == "F":
        arr = np.asarray(img)
        if mode != "F":  # 16-bit samples (Pillow opens 16-bit PNGs as I;16 or I)
            arr = np.clip(arr.astype("int64"), 0, 65535) // 257
        img = PILImage.fromarray(np.clip(arr, 0, 255).astype("uint8"), "L")
        mode = "L"
    elif mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")  # avoids Pillow's warning
        mode = "RGBA"
    target = _PIL_MODES[color_mode]
    return img if mode == target else img.convert(target)


def _decode(path: Path, color_mode: str, size: tuple[int, int] | None, *, resize: bool,
            reference: Path | None) -> np.ndarray:
    """One image as ``(h, w, c)`` uint8; a size mismatch is an error unless ``resize``."""
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as opened:
            img = _upright(opened)
            width, height = img.size
            if size is not None and (height, width) != tuple(size):
                if not resize:
                    raise DataError(
                        f"{path}: image is {height}×{width} (height×width) but "
                        f"{reference or 'the first image'} is {size[0]}×{size[1]}; images "
                        f"must share one size, so {_SIZE_HINT}")
                img = img.resize((size[1], size[0]), PILImage.Resampling.BILINEAR)
            array = np.asarray(_to_mode(img, color_mode), dtype="uint8")
    except DataError:
        raise
    except Exception as exc:  # decoders raise many kinds (OSError, SyntaxError, ValueError...)
        raise _cannot_read(path, exc) from None
    return array[..., None] if array.ndim == 2 else array


def image_size_of(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image as decoded (after EXIF orientation), reading the header.

    Raises:
        DataError: the file cannot be opened as an image.
    """
    from PIL import Image as PILImage

    try:
        with PILImage.open(path) as img:
            width, height = img.size
            if img.getexif().get(_ORIENTATION, 1) in (5, 6, 7, 8):
                width, height = height, width
    except Exception as exc:  # as in _decode
        raise _cannot_read(path, exc) from None
    return height, width


def _read(paths: Sequence[Path], color_mode: str, size: tuple[int, int] | None, *,
          resize: bool, reference: Path | None = None) -> np.ndarray:
    _check_mode(color_mode)
    channels = CHANNELS[color_mode]
    if not paths:
        height, width = size if size is not None else (0, 0)
        return np.empty((0, height, width, channels), dtype="uint8")
    if size is None:  # the first image decides
        first = _decode(paths[0], color_mode, None, resize=False, reference=None)
        size, reference = (first.shape[0], first.shape[1]), paths[0]
    else:
        first = None
    out = np.empty((len(paths), size[0], size[1], channels), dtype="uint8")
    for i, path in enumerate(paths):
        if i == 0 and first is not None:
            out[0] = first
        else:
            out[i] = _decode(path, color_mode, size, resize=resize, reference=reference)
    return out


def read_images(paths: Sequence[Path], image_size: tuple[int, int] | None = None,
                color_mode: str = "rgb") -> np.ndarray:
    """Decode image files into one ``uint8`` array ``(n, height, width, channels)``.

    Args:
        paths: the files, in the order wanted.
        image_size: ``(height, width)`` to resize every image to; None keeps the
            images' own size, which must then be the same for all of them.
        color_mode: ``rgb`` (3 channels), ``grayscale`` (1) or ``rgba`` (4).

    Raises:
        DataError: a file that cannot be decoded, or (without ``image_size``) an
            image whose size differs from the first one's; the message names it.
    """
    size = None if image_size is None else (int(image_size[0]), int(image_size[1]))
    return _read([Path(p) for p in paths], color_mode, size, resize=size is not None)


class ImageFiles(Examples):
    """Image files read batch by batch; the dataset holds only their paths.

    Args:
        paths: the files, one per example.
        color_mode: see :func:`read_images`.
        image_size: resize every image to this ``(height, width)``; None means
            every image must have the size of ``reference``.
        reference: the file whose size all images must share (the dataset's first
            image) and that size, used when ``image_size`` is None.
        root: the directory the files were found in, for messages.
    """

    def __init__(self, paths: Sequence[Path], color_mode: str = "rgb",
                 image_size: tuple[int, int] | None = None, *,
                 reference: tuple[Path, tuple[int, int]] | None = None,
                 root: str | Path | None = None) -> None:
        _check_mode(color_mode)
        if image_size is None and reference is None and paths:
            reference = (Path(paths[0]), image_size_of(Path(paths[0])))
        self.paths = [Path(p) for p in paths]
        self.color_mode = color_mode
        self.image_size = None if image_size is None else (int(image_size[0]),
                                                           int(image_size[1]))
        self.reference = reference
        self.root = str(root) if root is not None else None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def example_shape(self) -> tuple[int, int, int] | None:
        """``(height, width, channels)`` of every example, known without decoding."""
        size = self.image_size or (self.reference[1] if self.reference else None)
        return None if size is None else (*size, CHANNELS[self.color_mode])

    def read(self, index: np.ndarray) -> np.ndarray:
        chosen = [self.paths[i] for i in np.asarray(index, dtype="int64").reshape(-1)]
        if self.image_size is not None:
            return _read(chosen, self.color_mode, self.image_size, resize=True)
        size, reference = (self.reference[1], self.reference[0]) if self.reference else (
            None, None)
        return _read(chosen, self.color_mode, size, resize=False, reference=reference)

    def describe(self) -> str:
        where = f" under {self.root}" if self.root else ""
        return f"{len(self.paths)} image files{where} ({self.color_mode})"
