"""Text vectorization without TensorFlow: raw strings → padded word-index sequences.

``keras.layers.TextVectorization`` needs TensorFlow, so a text spec could not
run on JAX or PyTorch alone. This vectorizer follows the tutorial's semantics
with NumPy and the standard library:

* standardize: lower-case (optional), punctuation replaced by spaces
  (optional; like Keras's ``Tokenizer`` filters — "don't" gives "don", "t",
  where ``TextVectorization`` would delete it and give "dont"), split on
  whitespace;
* vocabulary: built from the **training split only** — index 0 is padding
  (``""``), index 1 the out-of-vocabulary token (``"[UNK]"``), then the most
  frequent words, ties broken alphabetically, so ``max_tokens`` (like Keras's
  ``TextVectorization``) counts the two reserved entries;
* sequences: padded with 0 or truncated to ``length``, at the start (``pre``,
  the default of ``pad_sequences``, which suits recurrent layers reading to
  the end) or at the end (``post``).

The vocabulary is saved in the run directory (``vocabulary.json``) and applied
again, identically, by ``declml evaluate``, ``predict`` and ``serve``.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Iterable
from typing import Any

import numpy as np

from declml.errors import DataError

__all__ = ["OOV_TOKEN", "PAD_TOKEN", "VOCABULARY_FILE", "TextVectorizer"]

PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
VOCABULARY_FILE = "vocabulary.json"
_PUNCTUATION = re.compile("[" + re.escape(string.punctuation) + "]")


class TextVectorizer:
    """Maps strings to fixed-length integer sequences with a fitted vocabulary."""

    def __init__(self, max_tokens: int = 10_000, length: int = 100, *,
                 lowercase: bool = True, strip_punctuation: bool = True,
                 pad: str = "pre", truncate: str = "pre", min_count: int = 1) -> None:
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be at least 3 (padding, out-of-vocabulary and "
                             f"one word), got {max_tokens}")
        self.max_tokens = max_tokens
        self.length = length
        self.lowercase = lowercase
        self.strip_punctuation = strip_punctuation
        self.pad = pad
        self.truncate = truncate
        self.min_count = min_count
        self.vocabulary: list[str] | None = None
        self._index: dict[str, int] = {}

    def tokens(self, text: str) -> list[str]:
        """The words of one text, standardized as configured."""
        if self.lowercase:
            text = text.lower()
        if self.strip_punctuation:
            text = _PUNCTUATION.sub(" ", text)
        return text.split()

    def fit(self, texts: Iterable[Any]) -> TextVectorizer:
        """Build the vocabulary from the training texts (and nothing else)."""
        counts: Counter[str] = Counter()
        for row, text in enumerate(texts):
            counts.update(self.tokens(_as_text(text, row)))
        ranked = sorted((w for w, c in counts.items() if c >= self.min_count),
                        key=lambda w: (-counts[w], w))
        self._set([PAD_TOKEN, OOV_TOKEN, *ranked[: self.max_tokens - 2]])
        self.counts = counts
        return self

    def _set(self, vocabulary: list[str]) -> None:
        self.vocabulary = vocabulary
        self._index = {word: i for i, word in enumerate(vocabulary)}

    def __call__(self, texts: Iterable[Any]) -> np.ndarray:
        """Vectorize a batch of texts into an ``int32`` array (examples, length)."""
        if self.vocabulary is None:
            raise DataError("the text vectorizer was used before its vocabulary was built")
        items = list(texts)
        out = np.zeros((len(items), self.length), dtype="int32")
        for row, text in enumerate(items):
            ids = [self._index.get(w, 1) for w in self.tokens(_as_text(text, row))]
            if len(ids) > self.length:
                ids = ids[-self.length:] if self.truncate == "pre" else ids[: self.length]
            if ids:
                if self.pad == "pre":
                    out[row, self.length - len(ids):] = ids
                else:
                    out[row, : len(ids)] = ids
        return out

    def coverage(self, texts: Iterable[Any]) -> float:
        """Share of the words in ``texts`` that are in the vocabulary (not out-of-vocabulary)."""
        total = known = 0
        for row, text in enumerate(texts):
            words = self.tokens(_as_text(text, row))
            total += len(words)
            known += sum(1 for w in words if w in self._index)
        return known / total if total else 1.0

    def get_state(self) -> dict[str, Any]:
        """Settings and vocabulary, JSON-ready (what ``vocabulary.json`` holds)."""
        return {"max_tokens": self.max_tokens, "length": self.length,
                "lowercase": self.lowercase, "strip_punctuation": self.strip_punctuation,
                "pad": self.pad, "truncate": self.truncate, "min_count": self.min_count,
                "vocabulary": list(self.vocabulary or [])}

    @classmethod
    def from_state(cls, state: dict[str, Any], source: str = VOCABULARY_FILE) -> TextVectorizer:
        """Rebuild a fitted vectorizer from :meth:`get_state`'s output."""
        try:
            made = cls(int(state["max_tokens"]), int(state["length"]),
                       lowercase=bool(state["lowercase"]),
                       strip_punctuation=bool(state["strip_punctuation"]),
                       pad=str(state["pad"]), truncate=str(state["truncate"]),
                       min_count=int(state.get("min_count", 1)))
            vocabulary = [str(w) for w in state["vocabulary"]]
            if made.length < 1 or {made.pad, made.truncate} - {"pre", "post"}:
                raise ValueError("length must be positive; pad and truncate 'pre' or 'post'")
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{source} is damaged ({type(exc).__name__}: {exc}); retrain the "
                            "run to write it again") from None
        if vocabulary[:2] != [PAD_TOKEN, OOV_TOKEN]:
            raise DataError(f"{source} is damaged: its vocabulary must start with the padding "
                            f"and out-of-vocabulary tokens ({PAD_TOKEN!r}, {OOV_TOKEN!r})")
        made._set(vocabulary)
        return made


def _as_text(value: Any, row: int) -> str:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"text example {row + 1} is not valid UTF-8") from None
    if isinstance(value, str):
        return value
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    raise DataError(f"text example {row + 1} is a {type(value).__name__} ({value!r}), not a "
                    "string; text preprocessing needs raw strings as inputs")
