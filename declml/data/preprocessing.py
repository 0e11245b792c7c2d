"""The declared preprocessing: text vectorization, resize, rescale, reshape; one-hot targets.

A :class:`Preprocessor` is fitted on the training split only (the text
vocabulary), applied to every split batch by batch, and saved with the run
(``vocabulary.json``), so ``evaluate``, ``predict`` and ``serve`` turn raw
inputs into exactly what the model was trained on.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.lazy import Examples, iter_batches
from declml.data.splits import Split
from declml.data.text import VOCABULARY_FILE, TextVectorizer
from declml.errors import ArtifactError, DataError
from declml.spec.sections import Preprocessing

__all__ = ["Preprocessor", "one_hot", "preprocess", "preprocess_inputs", "resize_images"]


class Preprocessor:
    """The ``data.preprocessing`` steps, with their fitted state."""

    def __init__(self, steps: Preprocessing, vectorizer: TextVectorizer | None = None) -> None:
        self.steps = steps
        self.vectorizer = vectorizer

    @property
    def fitted(self) -> bool:
        return self.steps.text is None or self.vectorizer is not None

    def fit(self, x_train: np.ndarray | Examples, batch_size: int = 4096) -> Preprocessor:
        """Build what needs data (the text vocabulary) from the training inputs only."""
        text = self.steps.text
        if text is not None:
            _check_text(x_train)
            self.vectorizer = TextVectorizer(
                text.max_tokens, text.length, lowercase=text.lowercase,
                strip_punctuation=text.strip_punctuation, pad=text.pad, truncate=text.truncate,
                min_count=text.min_count)
            texts = (t for batch in iter_batches(x_train, batch_size) for t in batch)
            self.vectorizer.fit(texts)
        return self

    def inputs(self, x: Any, name: str) -> np.ndarray:
        """A batch of raw inputs → model inputs."""
        if self.steps.text is not None:
            if not self.fitted:
                raise DataError("text preprocessing was applied before its vocabulary was built")
            _check_text(x, name)
            return self.vectorizer(x)  # type: ignore[misc]
        return preprocess_inputs(np.asarray(x), self.steps, name)

    def targets(self, y: np.ndarray, name: str) -> np.ndarray:
        if self.steps.one_hot is not None:
            return one_hot(y, self.steps.one_hot, name)
        return y

    def split(self, split: Split, name: str) -> Split:
        """Preprocess an in-memory split (a lazy one keeps raw inputs, read per batch)."""
        x = split.x if split.lazy else self.inputs(split.x, name)
        return Split(x, self.targets(split.y, name))

    def notes(self) -> list[str]:
        if self.vectorizer is None or self.vectorizer.vocabulary is None:
            return []
        counts = getattr(self.vectorizer, "counts", {})
        kept = len(self.vectorizer.vocabulary) - 2
        return [f"text: vocabulary of {kept:,} words from the training split "
                f"({len(counts):,} distinct words seen; index 0 = padding, 1 = out-of-"
                f"vocabulary), sequences of {self.vectorizer.length}"]

    def save(self, directory: Path) -> list[str]:
        """Write the fitted state into a run directory; returns the files written."""
        if self.vectorizer is None:
            return []
        target = directory / VOCABULARY_FILE
        temporary = target.with_name(target.name + ".tmp")
        temporary.write_text(json.dumps(self.vectorizer.get_state(), ensure_ascii=False),
                             encoding="utf-8")
        temporary.replace(target)
        return [VOCABULARY_FILE]

    @classmethod
    def load(cls, steps: Preprocessing, directory: Path) -> Preprocessor:
        """The preprocessor a run was trained with, fitted state included."""
        if steps.text is None:
            return cls(steps)
        path = directory / VOCABULARY_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ArtifactError(f"{directory} has text preprocessing but no {VOCABULARY_FILE}; "
                                "the run directory is incomplete") from None
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read {path}: {exc}") from None
        return cls(steps, TextVectorizer.from_state(state, str(path)))


def _check_text(x: Any, name: str = "train") -> None:
    if isinstance(x, Examples):
        return
    array = np.asarray(x)
    if array.ndim != 1 or array.dtype.kind not in "OUS":
        raise DataError(
            f"data.preprocessing.text needs one raw string per example, but the {name} inputs "
            f"have shape {list(array.shape)} and dtype {array.dtype}; name a text column with "
            "data.text (csv/tsv/jsonl) or use a text dataset")


def preprocess(split: Split, steps: Preprocessing, name: str) -> Split:
    """Apply stateless ``steps`` to one split; ``name`` labels errors (``train``, ``test``)."""
    return Preprocessor(steps).split(split, name)


def preprocess_inputs(x: np.ndarray, steps: Preprocessing, name: str) -> np.ndarray:
    """The numeric input steps: resize, rescale, reshape (also applied by ``predict``)."""
    if x.dtype.kind in "OUS":
        raise DataError(f"the {name} inputs are text; add data.preprocessing.text to turn "
                        "them into word indices")
    if steps.resize is not None:
        x = resize_images(x, tuple(steps.resize), name)  # type: ignore[arg-type]
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


def resize_images(x: np.ndarray, size: tuple[int, int], name: str) -> np.ndarray:
    """Bilinear resize of images shaped (n, h, w) or (n, h, w, channels) to ``size``."""
    if x.ndim not in (3, 4):
        raise DataError(f"data.preprocessing.resize: the {name} inputs have shape "
                        f"{list(x.shape)}; resize needs images (examples, height, width"
                        "[, channels])")
    if tuple(x.shape[1:3]) == tuple(size):
        return x
    if 0 in x.shape[1:3]:
        raise DataError(f"data.preprocessing.resize: the {name} inputs have shape "
                        f"{list(x.shape)}; an image needs at least one pixel")
    from PIL import Image

    height, width = size
    channels = x.shape[3:] or (1,)
    out = np.empty((len(x), height, width, *channels), dtype="float32")
    planes = x.reshape(*x.shape[:3], -1).astype("float32")
    for i in range(len(x)):
        for c in range(planes.shape[3]):
            image = Image.fromarray(np.ascontiguousarray(planes[i, :, :, c]))
            out[i, ..., c] = np.asarray(image.resize((width, height), Image.BILINEAR))
    return out if x.ndim == 4 else out[..., 0]


def one_hot(y: np.ndarray, classes: int, name: str) -> np.ndarray:
    """Integer class labels → one-hot rows of ``classes`` values."""
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
