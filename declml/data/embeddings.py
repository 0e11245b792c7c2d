"""Pretrained word vectors aligned to a vectorizer's vocabulary.

An ``Embedding`` layer can start from published word vectors (GloVe,
word2vec, fastText) instead of random weights. This module reads such a file
and builds the layer's initial weight matrix, one row per vocabulary index.

Formats (plain text, UTF-8, plain or gzip-compressed — detected from the
file's first bytes, not its name):

* **GloVe**: one vector per line, ``word v1 v2 ... vd``, no header. The
  dimension ``d`` is the number of fields on the first line minus one.
* **word2vec / fastText text** (``.vec``): the same lines after a header line
  ``count dim``, recognised when the first line is exactly two integers.
  The header's count is not checked (only its dimension is used).
  Binary word2vec files (``.bin``) are not read; convert them to text first.

Fields are separated by single spaces (a trailing space is ignored). Some
GloVe files (``840B``) hold tokens that themselves contain spaces: once the
dimension is known, the last ``d`` fields of a line are the vector and the
fields before them, joined by spaces, are the word. A line with fewer than
``d`` values is an error, and so is one whose extra leading fields are all
numbers (a vector that is too long, not a word with spaces).

Alignment rule, for ``vocabulary`` as produced by
:class:`declml.data.text.TextVectorizer` (index 0 the padding token ``""``,
index 1 the out-of-vocabulary token ``"[UNK]"``, then words):

* row ``i`` is the file's vector for ``vocabulary[i]``; when a file lists a
  word more than once, its first occurrence wins;
* if the word itself is not in the file and ``lowercase_fallback`` is on, a
  case-insensitive match is used: the word's lower-cased form if the file has
  it, otherwise the first file word that lower-cases to the same string
  (GloVe is lower-cased; word2vec's Google News vectors are not);
* row 0 (padding) is zeros; the ``[UNK]`` row, rows of words the file lacks
  and rows beyond the vocabulary (``rows > len(vocabulary)``) get random
  normal values with the standard deviation of the vectors found (0.1 if
  none was found), from a generator seeded with ``seed``, so the same inputs
  always give the same matrix.

The file is streamed line by line and only vectors of vocabulary words are
kept, so memory is O(vocabulary × dim) however large the file is; reading
stops early once every vocabulary word has its exact vector. Numbers are
parsed (and checked) only on the lines that are kept; every line's field
count is checked up to the point where reading stops.

Encoding: numbers must be ASCII, so a numeric field with bad bytes is an
error naming the line. A *word* with bytes that are not UTF-8 (some crawled
vocabularies have them) is decoded with replacement characters — such a word
can never match a vocabulary word — and counted in
:attr:`PretrainedVectors.undecodable`, which the report mentions.
"""

from __future__ import annotations

import gzip
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np

from declml.errors import DataError

__all__ = ["OOV_TOKEN", "PAD_TOKEN", "PretrainedVectors", "load_vectors"]

# The vectorizer's reserved tokens (same values as declml.data.text).
PAD_TOKEN = ""
OOV_TOKEN = "[UNK]"
_RESERVED = frozenset({PAD_TOKEN, OOV_TOKEN})
_FALLBACK_STD = 0.1
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_MISSING_KEPT = 20  # missing words listed in the summary
_MISSING_SHOWN = 5  # of which the one-line report shows this many
_BINARY_HINT = ("; if this is a binary word2vec file (.bin), convert it to text first, e.g. "
                "gensim's KeyedVectors.save_word2vec_format(path, binary=False)")


@dataclass
class PretrainedVectors:
    """An embedding matrix aligned to a vocabulary, with how well the file covered it.

    Attributes:
        matrix: float32 array of shape ``(rows, dim)``; row ``i`` is the
            initial vector of vocabulary index ``i``.
        dim: vector size of the file (the embedding's ``output_dim``).
        found: vocabulary words (reserved tokens excluded) that got a vector
            from the file, case-insensitive matches included.
        words: vocabulary words, reserved tokens excluded.
        missing: the first few words without a vector, in vocabulary order
            (most frequent first).
        source: the file the vectors came from.
        case_fallbacks: how many of ``found`` matched only case-insensitively.
        undecodable: lines whose word was not valid UTF-8 (decoded with
            replacement characters, so they matched nothing).
    """

    matrix: np.ndarray
    dim: int
    found: int
    words: int
    missing: list[str] = field(default_factory=list)
    source: str = ""
    case_fallbacks: int = 0
    undecodable: int = 0

    @property
    def coverage(self) -> float:
        """Fraction of vocabulary words with a vector (0 for an empty vocabulary)."""
        return self.found / self.words if self.words else 0.0

    def report(self) -> str:
        """One line for a person: how many words have a vector and a few that do not."""
        name = Path(self.source).name or self.source
        text = (f"{name}: {self.found:,} of {self.words:,} vocabulary words have a vector "
                f"({self.coverage:.1%})")
        if self.case_fallbacks:
            text += f", {self.case_fallbacks:,} of them by case-insensitive match"
        if self.found < self.words:
            shown = ", ".join(repr(word) for word in self.missing[:_MISSING_SHOWN])
            more = ", ..." if self.words - self.found > _MISSING_SHOWN else ""
            text += f"; missing e.g. {shown}{more}"
        if self.undecodable:
            text += f"; {self.undecodable:,} line(s) had words that are not valid UTF-8"
        return text

    def record(self) -> dict[str, Any]:
        """A JSON-ready summary (for ``run.json``); the matrix itself is left out."""
        return {
            "source": self.source,
            "rows": int(self.matrix.shape[0]),
            "dim": int(self.dim),
            "words": int(self.words),
            "found": int(self.found),
            "coverage": round(float(self.coverage), 4),
            "case_fallbacks": int(self.case_fallbacks),
            "undecodable": int(self.undecodable),
            "missing": list(self.missing),
        }


def load_vectors(path: str | Path, vocabulary: Sequence[str], *, rows: int | None = None,
                 dim: int | None = None, seed: int = 0,
                 lowercase_fallback: bool = True) -> PretrainedVectors:
    """Read a GloVe or word2vec text file and align its vectors to ``vocabulary``.

    Args:
        path: the word-vectors file (``.txt``, ``.vec``, optionally gzipped).
        vocabulary: the vectorizer's vocabulary, index 0 the padding token ``""``.
        rows: the embedding's ``input_dim``; defaults to ``len(vocabulary)``.
            Extra rows (indices the vectorizer never produces) are random.
        dim: the embedding's ``output_dim`` if the spec sets one; it must equal
            the file's dimension.
        seed: seeds the random rows, so a run can be repeated exactly.
        lowercase_fallback: match a word case-insensitively when the file
            lacks its exact spelling.

    Returns:
        The aligned matrix and coverage numbers (see the module docstring).

    Raises:
        DataError: the file is missing, unreadable, empty or malformed (the
            message names the line), or ``rows``/``dim`` do not fit.
    """
    p = Path(path)
    vocab = list(vocabulary)
    if not vocab:
        raise DataError(f"{p}: cannot align word vectors to an empty vocabulary; adapt the "
                        f"text vectorizer to the training texts first")
    if vocab[0] != PAD_TOKEN:
        raise DataError(
            f"{p}: the vocabulary must start with the padding token '' (index 0), got "
            f"{vocab[0]!r}; pass the vectorizer's whole vocabulary, reserved tokens included")
    n_rows = len(vocab) if rows is None else rows
    if n_rows < len(vocab):
        raise DataError(
            f"{p}: the embedding has input_dim {n_rows} but the vocabulary has {len(vocab)} "
            f"tokens; raise input_dim to at least {len(vocab)} or lower the vectorizer's "
            f"max_tokens to {n_rows}")
    if dim is not None and dim < 1:
        raise DataError(f"{p}: output_dim must be a positive integer, got {dim}")

    # Which file words are wanted: vocabulary words exactly, and (for the
    # fallback) anything that lower-cases to a vocabulary word's lower case.
    word_rows = [(i, w) for i, w in enumerate(vocab) if w not in _RESERVED]
    wanted = {w for _, w in word_rows}
    folded = {w.lower() for w in wanted} if lowercase_fallback else set()

    reader = _Reader(p, wanted, folded, dim)
    file_dim = reader.read()

    vectors: list[np.ndarray | None] = []
    fallbacks = 0
    for _, word in word_rows:
        vector = reader.exact.get(word)
        if vector is None and lowercase_fallback:
            match = reader.folded.get(word.lower())
            if match is not None:
                vector = match[1]
                fallbacks += 1
        vectors.append(vector)

    found_vectors = [v for v in vectors if v is not None]
    std = float(np.std(np.stack(found_vectors))) if found_vectors else _FALLBACK_STD
    if not math.isfinite(std) or std <= 0:
        std = _FALLBACK_STD
    rng = np.random.default_rng(seed)
    matrix = rng.normal(0.0, std, size=(n_rows, file_dim)).astype(np.float32)
    matrix[0] = 0.0
    missing: list[str] = []
    for (i, word), vector in zip(word_rows, vectors, strict=True):
        if vector is not None:
            matrix[i] = vector
        elif len(missing) < _MISSING_KEPT:
            missing.append(word)
    return PretrainedVectors(
        matrix=matrix, dim=file_dim, found=len(found_vectors), words=len(word_rows),
        missing=missing, source=str(p), case_fallbacks=fallbacks,
        undecodable=reader.undecodable)


class _Reader:
    """One streaming pass over a vectors file, keeping only the wanted words.

    After :meth:`read`: ``exact`` maps vocabulary words to their first vector
    in the file; ``folded`` maps a lower-cased vocabulary word to
    ``(is_lowercase_spelling, vector)`` of its best case-insensitive match.
    """

    def __init__(self, path: Path, wanted: set[str], folded: set[str],
                 expected_dim: int | None) -> None:
        self.path = path
        self.wanted = wanted
        self.folded_wanted = folded
        self.expected_dim = expected_dim
        self.exact: dict[str, np.ndarray] = {}
        self.folded: dict[str, tuple[bool, np.ndarray]] = {}
        self.undecodable = 0
        self.header = False
        self.seen = False  # at least one vector line

    def read(self) -> int:
        """Stream the file; return its dimension."""
        dim: int | None = None
        with _open(self.path) as fh:
            for number, line in _lines(self.path, fh):
                if dim is None:
                    dim = self._first(number, line)
                    if self.header:
                        continue
                self._line(number, line, dim)
                if len(self.exact) == len(self.wanted):
                    break  # every word has its exact vector: nothing later can change that
        if dim is None or not self.seen:
            raise DataError(f"{self.path}: the file holds no word vectors; expected GloVe "
                            f"('word v1 ... vd' per line) or word2vec text ('count dim' header)")
        return dim

    def _first(self, number: int, line: bytes) -> int:
        """The dimension, from a word2vec header or the first vector line."""
        fields = line.split(b" ")
        if len(fields) == 2 and all(f.isdigit() for f in fields):
            self.header = True
            dim = int(fields[1])
            if dim < 1:
                raise DataError(f"{self.path}:{number}: the word2vec header declares dimension "
                                f"{dim}; expected 'count dim' with dim >= 1")
        elif len(fields) < 2:
            raise DataError(f"{self.path}:{number}: expected 'word v1 v2 ... vd' (GloVe) or "
                            f"'count dim' (word2vec header), got a single field "
                            f"{_show(line)}")
        else:
            dim = len(fields) - 1
        if self.expected_dim is not None and dim != self.expected_dim:
            raise DataError(
                f"{self.path}:{number}: the file holds {dim}-dimensional vectors but the "
                f"embedding's output_dim is {self.expected_dim}; set output_dim to {dim} "
                f"to match the file")
        return dim

    def _line(self, number: int, line: bytes, dim: int) -> None:
        """Check one vector line's shape; keep its vector if its word is wanted."""
        spaces = line.count(b" ")
        if spaces == dim:
            raw_word, _, rest = line.partition(b" ")
            values = None
        elif spaces < dim:
            raise self._ragged(number, spaces, dim)
        else:
            fields = line.split(b" ")
            head, values = fields[:-dim], fields[-dim:]
            if all(_is_number(f) for f in head[1:]):
                raise self._ragged(number, spaces, dim)
            raw_word, rest = b" ".join(head), b""
        self.seen = True
        try:
            word = raw_word.decode("utf-8")
        except UnicodeDecodeError:
            word = raw_word.decode("utf-8", errors="replace")
            self.undecodable += 1
        exact = word in self.wanted and word not in self.exact
        key = word.lower() if self.folded_wanted else ""
        previous = self.folded.get(key)
        fold = key in self.folded_wanted and (
            previous is None or (not previous[0] and word == key))
        if not (exact or fold):
            return
        vector = self._parse(number, word, values if values is not None else rest.split(b" "))
        if exact:
            self.exact[word] = vector
        if fold:
            self.folded[key] = (word == key, vector)

    def _parse(self, number: int, word: str, fields: list[bytes]) -> np.ndarray:
        try:
            values = np.array([float(f) for f in fields], dtype=np.float64)
        except ValueError:
            bad = next(f for f in fields if not _is_number(f))
            hint = _BINARY_HINT if self.header and number == 2 else ""
            raise DataError(f"{self.path}:{number}: the vector of {word!r} has a value that is "
                            f"not a number: {_show(bad)}{hint}") from None
        if not np.all(np.abs(values) <= _FLOAT32_MAX):  # also False for NaN
            raise DataError(f"{self.path}:{number}: the vector of {word!r} holds NaN, infinite "
                            f"or too large (beyond float32) values; fix or drop that line")
        return values.astype(np.float32)

    def _ragged(self, number: int, spaces: int, dim: int) -> DataError:
        origin = "the word2vec header" if self.header else "the first line"
        hint = _BINARY_HINT if self.header and number == 2 else ""
        return DataError(
            f"{self.path}:{number}: expected a word and {dim} values (as {origin} says), got "
            f"{spaces + 1} fields; the file is truncated or not GloVe/word2vec text{hint}")


def _open(path: Path) -> IO[bytes]:
    """Open ``path`` for reading bytes, decompressing gzip when the file starts with its magic."""
    if path.is_dir():
        raise DataError(f"{path}: is a directory; expected a word-vectors text file "
                        f"(e.g. glove.6B.100d.txt)")
    try:
        with path.open("rb") as probe:
            magic = probe.read(2)
        return gzip.open(path, "rb") if magic == b"\x1f\x8b" else path.open("rb")
    except FileNotFoundError:
        raise DataError(f"{path}: word-vectors file not found; check the path (relative "
                        f"paths are resolved from the working directory)") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc})") from None


def _lines(path: Path, fh: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based numbers, trailing whitespace and BOM removed."""
    number = 0
    try:
        for number, raw in enumerate(fh, start=1):
            line = raw.rstrip()
            if number == 1 and line.startswith(b"\xef\xbb\xbf"):
                line = line[3:]
            if line:
                yield number, line
    except (OSError, EOFError, zlib.error) as exc:  # BadGzipFile is an OSError
        raise DataError(f"{path}: cannot read after line {number} ({exc}); the file is "
                        f"truncated or corrupt") from None


def _is_number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True


def _show(raw: bytes, limit: int = 40) -> str:
    text = raw.decode("utf-8", errors="replace")
    return repr(text if len(text) <= limit else text[:limit] + "...")
