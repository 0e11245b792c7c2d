"""Containers for loaded arrays, and deterministic splitting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from declml.errors import DataError

__all__ = ["Split", "Splits", "holdout"]


@dataclass
class Split:
    """Inputs and targets of one split; both have the same first dimension."""

    x: np.ndarray
    y: np.ndarray

    def __post_init__(self) -> None:
        for what, array in (("inputs", self.x), ("targets", self.y)):
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
        return Split(self.x[index], self.y[index])


@dataclass
class Splits:
    """What a dataset loader returns: a training split and, if it has one, a test split."""

    train: Split
    test: Split | None = None
    source: str = ""


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
