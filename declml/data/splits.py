"""Containers for loaded data, and deterministic splitting.

A split's inputs are a NumPy array (numbers, or strings for text) or lazy
:class:`~declml.data.lazy.Examples` read batch by batch (image directories,
large CSV files); its targets are always an array held in memory.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from declml.data.lazy import Examples
from declml.errors import DataError

__all__ = ["Split", "Splits", "holdout"]


@dataclass
class Split:
    """Inputs and targets of one split; both have the same first dimension."""

    x: np.ndarray | Examples
    y: np.ndarray

    def __post_init__(self) -> None:
        for what, array in (("inputs", self.x), ("targets", self.y)):
            if isinstance(array, Examples):
                continue
            if getattr(array, "ndim", 0) < 1:
                shape = getattr(array, "shape", "?")
                raise DataError(f"the {what} are a single value (shape {shape}); expected one "
                                "entry per example")
        if len(self.x) != len(self.y):
            raise DataError(
                f"inputs and targets differ in length: {len(self.x)} inputs, "
                f"{len(self.y)} targets"
            )

    def __len__(self) -> int:
        return len(self.x)

    def take(self, index: np.ndarray) -> Split:
        x = self.x.subset(index) if isinstance(self.x, Examples) else self.x[index]
        return Split(x, self.y[index])

    @property
    def lazy(self) -> bool:
        """True when the inputs are read on demand rather than held in memory."""
        return isinstance(self.x, Examples)


@dataclass
class Splits:
    """What a dataset loader returns.

    Attributes:
        train: the training split (the whole dataset when it has a single split).
        test: the dataset's own test split, if it has one.
        source: where the data came from, for messages (a path or a dataset name).
        class_names: the name of each class label, index = label, for classifiers
            whose labels have names (string labels in a file, a dataset's label names).
        task: ``"classification"`` or ``"regression"`` when the loader knows it.
        info: anything else worth recording in ``run.json`` (e.g. the label mapping's
            origin, the number of rows skipped).
    """

    train: Split
    test: Split | None = None
    source: str = ""
    class_names: list[str] | None = None
    task: Literal["classification", "regression"] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _is_class_labels(y: np.ndarray) -> bool:
    return y.ndim == 1 and np.issubdtype(y.dtype, np.integer)


def holdout(split: Split, fraction: float, seed: int, *, stratify: bool) -> tuple[Split, Split]:
    """Split off ``fraction`` of the examples, the same way for the same seed.

    Stratifies on integer class labels when asked and possible (every class needs
    at least two examples); otherwise shuffles uniformly.

    Raises:
        DataError: too few examples for the requested fraction.
    """
    n = len(split)
    n_out = round(n * fraction)
    if n_out < 1 or n_out >= n:
        raise DataError(
            f"cannot hold out {fraction:g} of {n} examples: that leaves "
            f"{n - n_out} to keep and {n_out} to hold out; choose another fraction"
        )
    from sklearn.model_selection import train_test_split

    labels = split.y if stratify and _is_class_labels(split.y) else None
    if labels is not None:
        counts = np.bincount(labels - labels.min())
        classes = np.count_nonzero(counts)
        if counts[counts > 0].min() < 2 or min(n_out, n - n_out) < classes:
            labels = None
    keep, out = train_test_split(np.arange(n), test_size=n_out, random_state=seed,
                                 shuffle=True, stratify=labels)
    return split.take(np.sort(keep)), split.take(np.sort(out))
