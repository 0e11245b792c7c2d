"""The ``shapes`` dataset: synthetic grayscale images, generated, never downloaded.

Each image is ``size × size`` pixels in [0, 1] and holds one filled shape on a
dark background, at a random position and scale, plus Gaussian pixel noise.
Class labels (``CLASS_NAMES``):

- 0: circle
- 1: square (axis-aligned, with the circle's area)
- 2: triangle (pointing up)

The classes are balanced (their counts differ by at most one). The same
options always give the same arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from declml.data.splits import Split, Splits

__all__ = ["CLASS_NAMES", "load_shapes", "make_shapes"]

CLASS_NAMES: tuple[str, ...] = ("circle", "square", "triangle")

# Half-size of a shape's bounding box, as a fraction of the image size.
_MIN_EXTENT, _MAX_EXTENT = 0.22, 0.42
# Half-side of a square with the area of a circle of radius 1: sqrt(pi) / 2.
_SQUARE = float(np.sqrt(np.pi) / 2)
# Images are drawn at this many sub-pixels per pixel and averaged (smooth edges).
_SUPERSAMPLE = 2
# Images generated at once; bounds the memory of the intermediate masks.
_CHUNK = 1024


def make_shapes(n_samples: int = 1500, size: int = 16, noise: float = 0.1,
                seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generate the images and labels.

    Returns:
        ``x``: float32 array ``(n_samples, size, size)`` with values in [0, 1];
        ``y``: int64 array ``(n_samples,)`` of labels 0, 1, 2 (see ``CLASS_NAMES``).
    """
    if n_samples < 1 or size < 4 or noise < 0:
        raise ValueError(f"need n_samples >= 1, size >= 4 and noise >= 0; got "
                         f"n_samples={n_samples}, size={size}, noise={noise}")
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_samples) % len(CLASS_NAMES)).astype(np.int64)
    extent = rng.uniform(_MIN_EXTENT, _MAX_EXTENT, n_samples) * size
    center_x = rng.uniform(extent, size - extent)
    center_y = rng.uniform(extent, size - extent)

    # Sub-pixel centres, in pixel units.
    grid = (np.arange(size * _SUPERSAMPLE, dtype=np.float32) + 0.5) / _SUPERSAMPLE
    images = np.empty((n_samples, size, size), dtype=np.float32)
    for start in range(0, n_samples, _CHUNK):
        part = slice(start, start + _CHUNK)
        dx = grid[None, None, :] - center_x[part, None, None].astype(np.float32)
        dy = grid[None, :, None] - center_y[part, None, None].astype(np.float32)
        r = extent[part, None, None].astype(np.float32)
        label = labels[part, None, None]
        circle = dx * dx + dy * dy <= r * r
        square = np.maximum(np.abs(dx), np.abs(dy)) <= r * _SQUARE
        triangle = (dy <= r) & (2 * np.abs(dx) <= dy + r)  # apex (0, -r), base at dy = r
        mask = np.where(label == 0, circle, np.where(label == 1, square, triangle))
        count = mask.shape[0]
        pixels = mask.reshape(count, size, _SUPERSAMPLE, size, _SUPERSAMPLE)
        image = pixels.mean(axis=(2, 4), dtype=np.float32)
        if noise:
            image += rng.normal(0.0, noise, image.shape).astype(np.float32)
            np.clip(image, 0.0, 1.0, out=image)
        images[part] = image
    return images, labels


def load_shapes(options: Any = None) -> Splits:
    """declml loader: ``options`` is the validated ``ShapesOptions`` (a single split;
    declml holds out the test split itself)."""
    if options is None:
        from declml_example.plugin import ShapesOptions

        options = ShapesOptions()
    x, y = make_shapes(options.n_samples, options.size, options.noise, options.seed)
    return Splits(train=Split(x, y), source="declml_example shapes")
