"""Inputs read on demand, for data larger than memory.

A loader that cannot (or should not) hold its inputs in memory returns an
:class:`Examples` object instead of an array: it knows how many examples it
has and reads any batch of them by index. Splitting takes index subsets
without reading anything; training reads one batch at a time through a Keras
``PyDataset`` (:mod:`declml.data.stream`).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

__all__ = ["Examples", "Subset", "iter_batches"]


class Examples:
    """Base class of lazily read inputs.

    Subclasses implement ``__len__`` and :meth:`read`; ``describe`` names the
    source in messages. ``read`` must return examples in the order asked for,
    and raise :class:`declml.errors.DataError` naming the file (and row) of an
    example it cannot read.
    """

    def __len__(self) -> int:
        raise NotImplementedError

    def read(self, index: np.ndarray) -> np.ndarray:
        """The raw inputs of the examples at ``index`` (positions 0..len-1), in order."""
        raise NotImplementedError

    def describe(self) -> str:
        return type(self).__name__

    def subset(self, index: np.ndarray) -> Subset:
        """A view of some examples; nothing is read."""
        return Subset(self, np.asarray(index, dtype="int64"))


class Subset(Examples):
    """Some examples of another :class:`Examples`, by position."""

    def __init__(self, base: Examples, index: np.ndarray) -> None:
        if isinstance(base, Subset):  # flatten, so reads stay one level deep
            base, index = base.base, base.index[index]
        self.base = base
        self.index = index

    def __len__(self) -> int:
        return len(self.index)

    def read(self, index: np.ndarray) -> np.ndarray:
        return self.base.read(self.index[np.asarray(index, dtype="int64")])

    def describe(self) -> str:
        return self.base.describe()


def iter_batches(x: np.ndarray | Examples, size: int) -> Iterator[np.ndarray]:
    """Inputs in order, ``size`` examples at a time (arrays are sliced, lazy ones read)."""
    for start in range(0, len(x), size):
        index = np.arange(start, min(start + size, len(x)))
        yield x.read(index) if isinstance(x, Examples) else x[start:start + size]
