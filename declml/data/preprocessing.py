"""The declared preprocessing steps: rescale and reshape inputs, one-hot targets."""

from __future__ import annotations

import numpy as np

from declml.data.splits import Split
from declml.errors import DataError
from declml.spec.sections import Preprocessing

__all__ = ["preprocess", "preprocess_inputs"]


def preprocess(split: Split, steps: Preprocessing, name: str) -> Split:
    """Apply ``steps`` to one split; ``name`` labels errors (``train``, ``test``)."""
    x = preprocess_inputs(split.x, steps, name)
    y = split.y
    if steps.one_hot is not None:
        y = _one_hot(y, steps.one_hot, name)
    return Split(x, y)


def preprocess_inputs(x: np.ndarray, steps: Preprocessing, name: str) -> np.ndarray:
    """The input half of :func:`preprocess` (also applied by ``predict`` to new inputs)."""
    if steps.rescale is not None or not np.issubdtype(x.dtype, np.floating):
        if not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
            raise DataError(f"{name} inputs have dtype {x.dtype}; declml needs numeric "
                            "arrays here")
        x = x.astype("float32")
        if steps.rescale is not None:
            x = x * np.float32(steps.rescale)
    if steps.reshape is not None:
        want = tuple(steps.reshape)
        per_example = int(np.prod(x.shape[1:]))
        if per_example != int(np.prod(want)):
            raise DataError(
                f"data.preprocessing.reshape: cannot reshape {name} examples of shape "
                f"{tuple(x.shape[1:])} ({per_example} values) to {list(want)} "
                f"({int(np.prod(want))} values)"
            )
        x = x.reshape((len(x), *want))
    return x


def _one_hot(y: np.ndarray, classes: int, name: str) -> np.ndarray:
    labels = np.asarray(y).reshape(len(y), -1)
    if labels.shape[1] != 1:
        raise DataError(f"data.preprocessing.one_hot: {name} targets have shape "
                        f"{tuple(y.shape)}; one-hot needs one integer label per example")
    labels = labels[:, 0]
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.equal(np.mod(labels, 1), 0)):
            raise DataError(f"data.preprocessing.one_hot: {name} targets are not integer "
                            "class labels")
        labels = labels.astype("int64")
    if labels.size and labels.min() < 0:
        raise DataError(
            f"data.preprocessing.one_hot: the {name} labels include {int(labels.min())}; "
            "one-hot needs class labels numbered from 0"
        )
    if labels.size and labels.max() >= classes:
        top = int(labels.max())
        raise DataError(
            f"data.preprocessing.one_hot is {classes}, but the {name} labels go up to {top}; "
            f"set one_hot to at least {top + 1}"
        )
    out = np.zeros((len(labels), classes), dtype="float32")
    out[np.arange(len(labels)), labels] = 1.0
    return out
