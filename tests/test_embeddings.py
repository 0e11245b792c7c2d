"""Pretrained word vectors aligned to a vocabulary (declml.data.embeddings.load_vectors)."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from declml.data.embeddings import PretrainedVectors, load_vectors
from declml.errors import DataError

VOCAB = ["", "[UNK]", "the", "cat", "sat", "zyzzyva"]
VECTORS = {
    "the": [0.1, 0.2, 0.3],
    "cat": [1.0, -1.0, 0.5],
    "sat": [-0.25, 0.0, 2.0],
    "dog": [9.0, 9.0, 9.0],
}


def glove_text(vectors: dict[str, list[float]]) -> str:
    return "".join(f"{w} {' '.join(repr(v) for v in vec)}\n" for w, vec in vectors.items())


def write(path: Path, text: str, *, gz: bool = False) -> Path:
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


@pytest.fixture
def glove(tmp_path) -> Path:
    return write(tmp_path / "glove.test.3d.txt", glove_text(VECTORS))


def assert_aligned(result: PretrainedVectors, vocab=VOCAB, vectors=VECTORS) -> None:
    for i, word in enumerate(vocab):
        if word in vectors:
            np.testing.assert_array_equal(result.matrix[i], np.float32(vectors[word]))


# ---------------------------------------------------------------- formats


def test_glove_format(glove):
    result = load_vectors(glove, VOCAB)
    assert result.matrix.dtype == np.float32
    assert result.matrix.shape == (len(VOCAB), 3)
    assert result.dim == 3
    assert_aligned(result)


def test_word2vec_header_format(tmp_path):
    path = write(tmp_path / "wiki.vec", f"{len(VECTORS)} 3\n" + glove_text(VECTORS))
    result = load_vectors(path, VOCAB)
    assert result.dim == 3 and result.found == 3
    assert_aligned(result)


def test_word2vec_trailing_spaces_and_crlf(tmp_path):
    # fastText .vec files end every line with a space; Windows files with \r\n.
    text = "2 3\r\n" + "".join(f"{w} {' '.join(map(str, v))} \r\n" for w, v in VECTORS.items())
    result = load_vectors(write(tmp_path / "v.vec", text), VOCAB)
    assert result.found == 3
    assert_aligned(result)


def test_gzip_detected_from_content(tmp_path):
    for name in ("glove.txt.gz", "no-suffix"):
        path = write(tmp_path / name, glove_text(VECTORS), gz=True)
        result = load_vectors(path, VOCAB)
        assert result.found == 3
        assert_aligned(result)


def test_utf8_bom_and_blank_lines(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + glove_text(VECTORS).replace("\n", "\n\n").encode())
    result = load_vectors(path, VOCAB)
    assert result.found == 3
    assert_aligned(result)


# -------------------------------------------------------------- alignment


def test_rows_follow_vocabulary_not_file_order(tmp_path):
    vocab = ["", "[UNK]", "sat", "the", "cat"]
    result = load_vectors(write(tmp_path / "g.txt", glove_text(VECTORS)), vocab)
    for i, word in enumerate(vocab[2:], start=2):
        np.testing.assert_array_equal(result.matrix[i], np.float32(VECTORS[word]))


def test_padding_row_is_zeros(glove):
    result = load_vectors(glove, VOCAB)
    np.testing.assert_array_equal(result.matrix[0], np.zeros(3, np.float32))


def test_missing_rows_random_deterministic_per_seed(glove):
    a = load_vectors(glove, VOCAB, seed=7)
    b = load_vectors(glove, VOCAB, seed=7)
    c = load_vectors(glove, VOCAB, seed=8)
    np.testing.assert_array_equal(a.matrix, b.matrix)
    for row in (1, 5):  # [UNK] and 'zyzzyva'
        assert np.any(a.matrix[row] != 0)
        assert not np.array_equal(a.matrix[row], c.matrix[row])
    np.testing.assert_array_equal(a.matrix[2:5], c.matrix[2:5])  # found rows do not depend on it
    # Random rows are small: scaled to the spread of the vectors found.
    assert np.all(np.abs(a.matrix[[1, 5]]) < 10)


def test_nothing_found_uses_small_random_rows(tmp_path):
    path = write(tmp_path / "g.txt", glove_text({"dog": [5.0, 5.0, 5.0]}))
    result = load_vectors(path, VOCAB)
    assert result.found == 0 and result.coverage == 0.0
    assert 0 < float(np.std(result.matrix[1:])) < 0.5


def test_rows_beyond_vocabulary_are_random(glove):
    result = load_vectors(glove, VOCAB, rows=10)
    assert result.matrix.shape == (10, 3)
    assert_aligned(result)
    assert np.all(np.any(result.matrix[len(VOCAB):] != 0, axis=1))
    assert result.words == 4  # extra rows are not vocabulary words


def test_rows_smaller_than_vocabulary_is_an_error(glove):
    with pytest.raises(DataError, match=r"input_dim 4 .*6 tokens.*raise input_dim.*max_tokens"):
        load_vectors(glove, VOCAB, rows=4)


def test_lowercase_fallback(tmp_path):
    vectors = {"paris": [1.0, 1.0], "London": [2.0, 2.0], "BERLIN": [3.0, 3.0],
               "berlin": [4.0, 4.0], "Rome": [5.0, 5.0], "rome": [6.0, 6.0]}
    vocab = ["", "[UNK]", "Paris", "london", "Berlin", "Rome"]
    path = write(tmp_path / "g.txt", glove_text(vectors))
    result = load_vectors(path, vocab)
    np.testing.assert_array_equal(result.matrix[2], [1.0, 1.0])  # Paris -> paris
    np.testing.assert_array_equal(result.matrix[3], [2.0, 2.0])  # london -> London
    np.testing.assert_array_equal(result.matrix[4], [4.0, 4.0])  # lower-case spelling preferred
    np.testing.assert_array_equal(result.matrix[5], [5.0, 5.0])  # exact match wins
    assert result.found == 4 and result.case_fallbacks == 3
    assert "3 of them by case-insensitive match" in result.report()

    strict = load_vectors(path, vocab, lowercase_fallback=False)
    assert strict.found == 1 and strict.case_fallbacks == 0
    assert strict.missing == ["Paris", "london", "Berlin"]


def test_duplicate_words_first_occurrence_wins(tmp_path):
    text = "the 1 1\ncat 2 2\nthe 3 3\n"
    result = load_vectors(write(tmp_path / "g.txt", text), ["", "[UNK]", "the", "cat"])
    np.testing.assert_array_equal(result.matrix[2], [1.0, 1.0])


def test_words_with_spaces(tmp_path):
    text = ", 0.5 0.5\n. . . 1 2\nat name@domain.com 3 4\nthe 5 6\n"
    vocab = ["", "[UNK]", "the", ". . .", "at name@domain.com"]
    result = load_vectors(write(tmp_path / "g.txt", text), vocab)
    assert result.found == 3
    np.testing.assert_array_equal(result.matrix[2:], [[5, 6], [1, 2], [3, 4]])


def test_reserved_tokens_not_looked_up(tmp_path):
    text = "[UNK] 7 7\nthe 1 1\n"
    result = load_vectors(write(tmp_path / "g.txt", text), ["", "[UNK]", "the"], seed=0)
    assert result.words == 1 and result.found == 1
    assert not np.array_equal(result.matrix[1], [7.0, 7.0])


def test_streaming_keeps_only_vocabulary_rows(tmp_path):
    rng = np.random.default_rng(0)
    lines = [f"w{i} {' '.join(f'{v:.3f}' for v in rng.normal(size=4))}" for i in range(20_000)]
    lines.insert(12_345, "the 1 2 3 4")
    path = write(tmp_path / "big.txt", "\n".join(lines) + "\n")
    vocab = ["", "[UNK]", "the", "w7", "w19999", "absent"]
    tracemalloc.start()
    try:
        result = load_vectors(path, vocab)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.matrix.shape == (len(vocab), 4)
    assert result.found == 3 and result.missing == ["absent"]
    assert peak < path.stat().st_size / 10  # streamed, not read whole
    np.testing.assert_array_equal(result.matrix[2], [1, 2, 3, 4])
    np.testing.assert_allclose(result.matrix[4], [float(v) for v in lines[-1].split()[1:]])


def test_reading_stops_once_every_word_is_found(tmp_path):
    # Everything the vocabulary needs comes before the broken tail: no need to read it.
    path = write(tmp_path / "g.txt", "the 1 1\ncat 2 2\nbroken\n")
    result = load_vectors(path, ["", "[UNK]", "the", "cat"])
    assert result.found == 2


# --------------------------------------------------------------- coverage


def test_coverage_report_and_record(glove):
    result = load_vectors(glove, VOCAB)
    assert (result.found, result.words) == (3, 4)
    assert result.coverage == pytest.approx(0.75)
    assert result.missing == ["zyzzyva"]
    assert result.report() == ("glove.test.3d.txt: 3 of 4 vocabulary words have a vector "
                               "(75.0%); missing e.g. 'zyzzyva'")
    record = result.record()
    assert json.loads(json.dumps(record)) == record
    assert record == {"source": str(glove), "rows": 6, "dim": 3, "words": 4, "found": 3,
                      "coverage": 0.75, "case_fallbacks": 0, "undecodable": 0,
                      "missing": ["zyzzyva"]}


def test_report_lists_a_few_missing_most_frequent_first(tmp_path):
    vocab = ["", "[UNK]", "the"] + [f"m{i}" for i in range(30)]
    result = load_vectors(write(tmp_path / "g.txt", "the 1 2\n"), vocab)
    assert result.missing == [f"m{i}" for i in range(20)]
    assert result.report() == ("g.txt: 1 of 31 vocabulary words have a vector (3.2%); "
                               "missing e.g. 'm0', 'm1', 'm2', 'm3', 'm4', ...")


def test_full_coverage_report_has_no_missing_clause(glove):
    result = load_vectors(glove, ["", "[UNK]", "the", "cat"])
    assert result.coverage == 1.0
    assert result.report() == "glove.test.3d.txt: 2 of 2 vocabulary words have a vector (100.0%)"


def test_vocabulary_of_only_reserved_tokens(glove):
    result = load_vectors(glove, ["", "[UNK]"])
    assert result.words == 0 and result.coverage == 0.0
    assert result.matrix.shape == (2, 3)


def test_undecodable_words_are_counted_not_fatal(tmp_path):
    path = tmp_path / "g.txt"
    path.write_bytes(b"caf\xe9 1 1\nthe 2 2\ncat 3 3\n")
    result = load_vectors(path, ["", "[UNK]", "the", "cat", "dog"])
    assert result.found == 2 and result.undecodable == 1
    assert "1 line(s) had words that are not valid UTF-8" in result.report()


# ----------------------------------------------------------------- errors


def test_dim_mismatch(glove):
    with pytest.raises(DataError, match=r"3-dimensional.*output_dim is 50.*set output_dim to 3"):
        load_vectors(glove, VOCAB, dim=50)
    assert load_vectors(glove, VOCAB, dim=3).dim == 3


def test_dim_mismatch_with_word2vec_header(tmp_path):
    path = write(tmp_path / "v.vec", "1 3\nthe 1 2 3\n")
    with pytest.raises(DataError, match=r"v\.vec:1: .*3-dimensional.*output_dim is 4"):
        load_vectors(path, VOCAB, dim=4)


@pytest.mark.parametrize("bad", ["dog 1 2", "dog", "dog 1 2 3 4"])
def test_ragged_line_names_file_and_line(tmp_path, bad):
    path = write(tmp_path / "g.txt", f"cat 1 2 3\nthe 1 2 3\n{bad}\nsat 1 2 3\n")
    with pytest.raises(DataError, match=r"g\.txt:3: expected a word and 3 values"):
        load_vectors(path, VOCAB)


def test_ragged_line_after_word2vec_header(tmp_path):
    path = write(tmp_path / "v.vec", "2 3\nthe 1 2 3\ndog 1 2\n")
    with pytest.raises(DataError, match=r"v\.vec:3: .*as the word2vec header says"):
        load_vectors(path, VOCAB)


def test_non_numeric_value_names_line(tmp_path):
    path = write(tmp_path / "g.txt", "dog 1 2\nthe 1 x\n")
    with pytest.raises(DataError, match=r"g\.txt:2: the vector of 'the' .*not a number: 'x'"):
        load_vectors(path, VOCAB)


def test_non_finite_value_is_an_error(tmp_path):
    path = write(tmp_path / "g.txt", "the 1 nan\n")
    with pytest.raises(DataError, match=r"g\.txt:1: .*NaN"):
        load_vectors(path, VOCAB)


@pytest.mark.parametrize("text", ["", "\n\n", "5 3\n"])
def test_empty_file(tmp_path, text):
    with pytest.raises(DataError, match="holds no word vectors"):
        load_vectors(write(tmp_path / "g.txt", text), VOCAB)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_vectors(tmp_path / "nope.txt", VOCAB)
    with pytest.raises(DataError, match="is a directory"):
        load_vectors(tmp_path, VOCAB)


def test_corrupt_gzip(tmp_path):
    data = gzip.compress(glove_text(VECTORS).encode() * 50)
    path = tmp_path / "g.txt.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_vectors(path, [*VOCAB, "absent"])


def test_binary_word2vec_hint(tmp_path):
    path = tmp_path / "GoogleNews.bin"
    path.write_bytes(b"3 4\nthe " + np.arange(4, dtype="<f4").tobytes() + b"\n")
    with pytest.raises(DataError, match=r"GoogleNews\.bin:2: .*binary word2vec"):
        load_vectors(path, VOCAB)


def test_vocabulary_must_start_with_padding(glove):
    with pytest.raises(DataError, match="padding token"):
        load_vectors(glove, ["the", "cat"])
    with pytest.raises(DataError, match="empty vocabulary"):
        load_vectors(glove, [])
