"""Batches for Keras read on demand: lazily loaded inputs become a ``PyDataset``.

Used when a dataset returns :class:`~declml.data.lazy.Examples` (image
directories, large CSV files): every batch is read from disk, preprocessed
and transformed as it is needed, so memory holds a few batches, never the
whole dataset. Keras's ``PyDataset`` works the same on JAX, TensorFlow and
PyTorch; it is read in the training thread (see :func:`batches` for why).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from declml.backend import import_keras
from declml.data.splits import Split

__all__ = ["batches"]


def batches(split: Split, inputs: Callable[[Any, str], np.ndarray], *, batch_size: int,
            shuffle: bool = False, seed: int = 0, name: str = "train",
            workers: int = 1) -> Any:
    """A Keras ``PyDataset`` over ``split``; ``inputs`` maps a raw batch to model inputs.

    With ``shuffle`` the order changes every epoch, reproducibly from ``seed``:
    a batch's epoch is counted per batch index (how many times it was asked
    for), not from ``on_epoch_end``. Batches are read in the training thread
    (``workers=1``): Keras's reader threads start early to peek at the data and
    are stopped with a timing-dependent number of batches already requested,
    which made shuffled runs differ; backends still overlap reading with the
    device's asynchronous compute.
    """
    keras = import_keras()

    class SplitBatches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=workers, use_multiprocessing=False,
                             max_queue_size=max(2, workers * 2))
            self.lock = threading.Lock()
            self.fetches = np.zeros(len(self), dtype="int64")
            self.orders: dict[int, np.ndarray] = {}

        def _order(self, epoch: int) -> np.ndarray:
            if not shuffle:
                return np.arange(len(split))
            if epoch not in self.orders:
                self.orders = {e: o for e, o in self.orders.items() if e >= epoch - 1}
                self.orders[epoch] = np.random.default_rng([seed, epoch]).permutation(
                    len(split))
            return self.orders[epoch]

        def __len__(self) -> int:
            return math.ceil(len(split) / batch_size)

        @property
        def num_batches(self) -> int:
            return len(self)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            with self.lock:
                epoch = int(self.fetches[index])
                self.fetches[index] += 1
                order = self._order(epoch)
            rows = np.sort(order[index * batch_size:(index + 1) * batch_size])
            raw = split.x.read(rows) if split.lazy else split.x[rows]
            return inputs(raw, name), split.y[rows]

    return SplitBatches()
