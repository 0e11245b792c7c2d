"""Text vectorization (vocabulary from the training split only), its saved state, resizing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import ValidationError

from declml.data.pipeline import prepare
from declml.data.preprocessing import Preprocessor, resize_images
from declml.data.text import OOV_TOKEN, PAD_TOKEN, VOCABULARY_FILE, TextVectorizer
from declml.errors import ArtifactError, DataError, SpecError
from declml.registry.manager import get_registry
from declml.spec.api import load_spec, spec_from_data
from declml.spec.sections import Preprocessing, TextPreprocessing


def fitted(texts: list[Any], **kwargs: Any) -> TextVectorizer:
    return TextVectorizer(**{"max_tokens": 100, "length": 5, **kwargs}).fit(texts)


# --- standardization and vocabulary -------------------------------------------------------------


def test_tokens_lowercase_and_strip_punctuation():
    v = TextVectorizer()
    assert v.tokens("Hello, World!  (again)...") == ["hello", "world", "again"]
    assert v.tokens("Tab\tand\nnewline") == ["tab", "and", "newline"]


def test_tokens_without_lowercase_or_stripping():
    v = TextVectorizer(lowercase=False, strip_punctuation=False)
    assert v.tokens("Hello, World!") == ["Hello,", "World!"]


def test_vocabulary_reserves_padding_and_oov():
    v = fitted(["b a a", "c b a"])
    assert v.vocabulary[:2] == [PAD_TOKEN, OOV_TOKEN] == ["", "[UNK]"]
    assert v.vocabulary == ["", "[UNK]", "a", "b", "c"]  # by frequency: a 3, b 2, c 1


def test_vocabulary_ties_are_alphabetical():
    v = fitted(["pear apple fig", "fig apple pear", "kiwi"])
    assert v.vocabulary == ["", "[UNK]", "apple", "fig", "pear", "kiwi"]


def test_max_tokens_counts_the_two_reserved_tokens():
    v = fitted(["a a a b b c d"], max_tokens=4)
    assert v.vocabulary == ["", "[UNK]", "a", "b"]
    assert len(v.vocabulary) == 4
    np.testing.assert_array_equal(v(["a b c d"]), [[0, 2, 3, 1, 1]])


def test_max_tokens_larger_than_the_words():
    assert len(fitted(["one two"], max_tokens=50).vocabulary) == 4


def test_min_count():
    v = fitted(["a a b c c c d"], min_count=2)
    assert v.vocabulary == ["", "[UNK]", "c", "a"]
    np.testing.assert_array_equal(v(["b d a"]), [[0, 0, 1, 1, 3]])


def test_oov_is_one_and_padding_is_zero():
    v = fitted(["cat dog"], length=4)
    out = v(["cat fish dog"])
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [[0, 2, 1, 3]])


def test_vectorizing_standardizes_like_fitting():
    v = fitted(["Hello world"], length=3)
    np.testing.assert_array_equal(v(["HELLO, world!"]), v(["hello world"]))


SEVEN = "a b c d e f g"  # every word known, indices 2..8


@pytest.mark.parametrize(("pad", "truncate", "long", "short"), [
    ("pre", "pre", [4, 5, 6, 7, 8], [0, 0, 0, 2, 3]),
    ("pre", "post", [2, 3, 4, 5, 6], [0, 0, 0, 2, 3]),
    ("post", "pre", [4, 5, 6, 7, 8], [2, 3, 0, 0, 0]),
    ("post", "post", [2, 3, 4, 5, 6], [2, 3, 0, 0, 0]),
])
def test_pad_and_truncate_sides(pad, truncate, long, short):
    v = fitted([SEVEN], pad=pad, truncate=truncate)
    assert v.vocabulary == ["", "[UNK]", *SEVEN.split()]
    np.testing.assert_array_equal(v([SEVEN, "a b", "a b c d e"]),
                                  [long, short, [2, 3, 4, 5, 6]])


def test_empty_none_and_nan_are_all_padding():
    v = fitted(["word"], length=3)
    out = v(["", "   ", None, float("nan"), np.float64("nan"), "!!!"])
    np.testing.assert_array_equal(out, np.zeros((6, 3)))


def test_fit_accepts_none_and_nan():
    v = fitted([None, "ok", float("nan")])
    assert v.vocabulary == ["", "[UNK]", "ok"]


def test_bytes_are_decoded():
    v = fitted([b"caf\xc3\xa9 bar"], length=2)
    assert v.vocabulary == ["", "[UNK]", "bar", "café"]
    np.testing.assert_array_equal(v(["café bar"]), [[3, 2]])
    with pytest.raises(DataError, match="text example 1 is not valid UTF-8"):
        v([b"\xff"])


@pytest.mark.parametrize("bad", [3, 2.5, ["a"], {"t": "a"}])
def test_non_string_is_a_data_error(bad):
    v = fitted(["a"])
    with pytest.raises(DataError, match=r"text example 2 is a .*not a string"):
        v(["fine", bad])
    with pytest.raises(DataError, match="not a string"):
        TextVectorizer().fit(["fine", bad])


def test_use_before_fit():
    with pytest.raises(DataError, match="before its vocabulary was built"):
        TextVectorizer()(["a"])


def test_max_tokens_below_three_refused():
    with pytest.raises(ValueError, match="at least 3"):
        TextVectorizer(max_tokens=2)


def test_empty_batch():
    assert fitted(["a"], length=4)([]).shape == (0, 4)


def test_coverage():
    v = fitted(["a b"])
    assert v.coverage(["a b c d"]) == 0.5
    assert v.coverage([""]) == 1.0


# --- saved state ----------------------------------------------------------------------------------


def test_state_round_trip_gives_identical_outputs():
    v = fitted(["The cat sat", "the dog ran, fast!", "a cat"], length=6, pad="post",
               truncate="post", min_count=1, max_tokens=6)
    state = json.loads(json.dumps(v.get_state()))  # as vocabulary.json holds it
    again = TextVectorizer.from_state(state)
    assert again.vocabulary == v.vocabulary
    texts = ["the cat ran", "A DOG, a cat, a bird", "", "unknown words only"]
    np.testing.assert_array_equal(again(texts), v(texts))
    assert again.get_state() == v.get_state()


def test_state_lists_settings_and_vocabulary():
    state = fitted(["x y"], length=7).get_state()
    assert state == {"max_tokens": 100, "length": 7, "lowercase": True,
                     "strip_punctuation": True, "pad": "pre", "truncate": "pre",
                     "min_count": 1, "vocabulary": ["", "[UNK]", "x", "y"]}


GOOD_STATE = {"max_tokens": 10, "length": 3, "lowercase": True, "strip_punctuation": True,
              "pad": "pre", "truncate": "pre", "min_count": 1,
              "vocabulary": ["", "[UNK]", "a"]}


@pytest.mark.parametrize("damage", [
    {"max_tokens": None},
    {"length": "long"},
    {"vocabulary": None},
    {"vocabulary": ["a", "b"]},
    {"vocabulary": ["[UNK]", ""]},
    {"vocabulary": []},
    {"max_tokens": 1},
])
def test_damaged_state_is_a_data_error(damage):
    state = {**GOOD_STATE, **damage}
    with pytest.raises(DataError, match=r"runs/x/vocabulary\.json is damaged"):
        TextVectorizer.from_state(state, "runs/x/vocabulary.json")


@pytest.mark.parametrize("missing", ["max_tokens", "length", "vocabulary", "pad"])
def test_state_missing_a_key_is_a_data_error(missing):
    state = {k: v for k, v in GOOD_STATE.items() if k != missing}
    with pytest.raises(DataError, match="is damaged"):
        TextVectorizer.from_state(state)


@pytest.mark.parametrize("state", [[1, 2], "text", None])
def test_state_that_is_not_an_object(state):
    with pytest.raises(DataError, match="is damaged"):
        TextVectorizer.from_state(state)


@pytest.mark.parametrize("damage", [{"length": -1}, {"pad": "sideways"},
                                    {"truncate": "middle"}])
def test_state_with_impossible_settings_is_a_data_error(damage):
    with pytest.raises(DataError, match="is damaged"):
        TextVectorizer.from_state({**GOOD_STATE, **damage})(["a"])


def text_steps(**kwargs: Any) -> Preprocessing:
    return Preprocessing(text=TextPreprocessing(**{"max_tokens": 20, "length": 4, **kwargs}))


def test_preprocessor_save_and_load(tmp_path):
    steps = text_steps(pad="post")
    pre = Preprocessor(steps).fit(np.array(["red green", "green blue", "Green!"], dtype=object))
    assert pre.fitted
    assert pre.save(tmp_path) == [VOCABULARY_FILE]
    saved = json.loads((tmp_path / VOCABULARY_FILE).read_text(encoding="utf-8"))
    assert saved["vocabulary"] == ["", "[UNK]", "green", "blue", "red"]
    assert saved["pad"] == "post"
    assert not list(tmp_path.glob("*.tmp"))
    loaded = Preprocessor.load(steps, tmp_path)
    x = np.array(["red blue green yellow", "", "GREEN"], dtype=object)
    np.testing.assert_array_equal(loaded.inputs(x, "input"), pre.inputs(x, "input"))
    np.testing.assert_array_equal(loaded.inputs(x, "input"),
                                  [[4, 3, 2, 1], [0, 0, 0, 0], [2, 0, 0, 0]])


def test_preprocessor_save_keeps_non_ascii_words(tmp_path):
    steps = text_steps()
    pre = Preprocessor(steps).fit(np.array(["naïve café"], dtype=object))
    pre.save(tmp_path)
    assert "café" in (tmp_path / VOCABULARY_FILE).read_text(encoding="utf-8")
    loaded = Preprocessor.load(steps, tmp_path)
    assert loaded.vectorizer.vocabulary == pre.vectorizer.vocabulary


def test_preprocessor_without_text_saves_nothing(tmp_path):
    pre = Preprocessor(Preprocessing(rescale=0.5)).fit(np.zeros((2, 2)))
    assert pre.save(tmp_path) == []
    assert not (tmp_path / VOCABULARY_FILE).exists()
    assert Preprocessor.load(Preprocessing(rescale=0.5), tmp_path).vectorizer is None


def test_preprocessor_load_missing_vocabulary(tmp_path):
    with pytest.raises(ArtifactError, match=f"no {VOCABULARY_FILE}"):
        Preprocessor.load(text_steps(), tmp_path)


def test_preprocessor_load_broken_json(tmp_path):
    (tmp_path / VOCABULARY_FILE).write_text("{not json", encoding="utf-8")
    with pytest.raises(ArtifactError, match="cannot read"):
        Preprocessor.load(text_steps(), tmp_path)


def test_preprocessor_load_damaged_state(tmp_path):
    (tmp_path / VOCABULARY_FILE).write_text(json.dumps({"vocabulary": ["x"]}),
                                            encoding="utf-8")
    with pytest.raises(DataError, match="is damaged"):
        Preprocessor.load(text_steps(), tmp_path)


def test_preprocessor_unfitted_text_refuses_inputs():
    pre = Preprocessor(text_steps())
    assert not pre.fitted
    with pytest.raises(DataError, match="before its vocabulary was built"):
        pre.inputs(np.array(["a"], dtype=object), "input")


@pytest.mark.parametrize("x", [np.zeros((2, 3)), np.zeros(2), np.array([["a", "b"]])])
def test_preprocessor_text_needs_one_string_per_example(x):
    with pytest.raises(DataError, match="needs one raw string per example"):
        Preprocessor(text_steps()).fit(x)


def test_preprocessor_notes():
    pre = Preprocessor(text_steps(length=4)).fit(np.array(["a b c", "a"], dtype=object))
    (note,) = pre.notes()
    assert "vocabulary of 3 words" in note and "sequences of 4" in note


# --- spec: the text step --------------------------------------------------------------------------


TEXT_SPEC = """\
spec_version: 1
name: text
data:
  dataset: csv
  path: d.csv
  target: y
  text: t
  preprocessing:
    text: {{max_tokens: 100, length: 8}}
{extra}
model:
  input_shape: [8]
  layers:
    - {{type: Embedding, input_dim: 100, output_dim: 4}}
    - {{type: GlobalAveragePooling1D}}
    - {{type: Dense, units: 2, activation: softmax}}
compile:
  loss: sparse_categorical_crossentropy
"""


def test_text_spec_validates(write_spec):
    spec = load_spec(write_spec(TEXT_SPEC.format(extra="")))
    text = spec.data.preprocessing.text
    assert (text.max_tokens, text.length, text.pad, text.truncate) == (100, 8, "pre", "pre")


@pytest.mark.parametrize("extra", ["    rescale: 1/255", "    reshape: [8, 1]",
                                   "    resize: [8, 8]"])
def test_text_step_with_a_numeric_step_is_a_spec_error(write_spec, extra):
    with pytest.raises(SpecError, match="text inputs become word indices"):
        load_spec(write_spec(TEXT_SPEC.format(extra=extra)))


@pytest.mark.parametrize("override", ["data.preprocessing.text.max_tokens=2",
                                      "data.preprocessing.text.pad=middle",
                                      "data.preprocessing.text.length=0",
                                      "data.preprocessing.text.lenght=5"])
def test_text_step_options_are_checked(write_spec, override):
    with pytest.raises(SpecError):
        load_spec(write_spec(TEXT_SPEC.format(extra="")), [override])


def test_text_and_rescale_refused_by_the_model_too():
    with pytest.raises(ValidationError, match="text inputs become word indices"):
        Preprocessing(rescale=0.5, text=TextPreprocessing())


# --- the vocabulary comes from the training split only --------------------------------------------


def text_spec(path: Path, *, seed: int = 0, **data: Any):
    return spec_from_data({
        "name": "text", "seed": seed,
        "data": {"dataset": "csv", "path": str(path), "target": "y", "text": "t", **data,
                 "preprocessing": {"text": {"max_tokens": 1000, "length": 4}}},
        "model": {"input_shape": [4],
                  "layers": [{"type": "Embedding", "input_dim": 1000, "output_dim": 2},
                             {"type": "GlobalAveragePooling1D"},
                             {"type": "Dense", "units": 2, "activation": "softmax"}]},
        "compile": {"loss": "sparse_categorical_crossentropy"},
    })


def test_vocabulary_ignores_words_of_the_test_file(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("y,t\n0,good day\n1,bad day\n0,good night\n", encoding="utf-8")
    test = tmp_path / "test.csv"
    test.write_text("y,t\n1,terrible day\n0,wonderful night\n", encoding="utf-8")
    prepared = prepare(text_spec(train, test_path=str(test)), get_registry(),
                       log=lambda _: None)
    vocabulary = prepared.pipeline.preprocessor.vectorizer.vocabulary
    assert set(vocabulary) == {"", "[UNK]", "good", "bad", "day", "night"}
    assert not {"terrible", "wonderful"} & set(vocabulary)
    index = {w: i for i, w in enumerate(vocabulary)}
    np.testing.assert_array_equal(prepared.test.x, [[0, 0, 1, index["day"]],
                                                    [0, 0, 1, index["night"]]])
    assert prepared.train.x.dtype == np.int32 and prepared.train.x.shape == (3, 4)
    assert any("vocabulary of 4 words from the training split" in n for n in prepared.notes)
    assert "text: 50.0% of the test split's words are in the vocabulary" in prepared.notes


@pytest.mark.parametrize("stream", [False, True])
def test_vocabulary_ignores_words_of_held_out_rows(tmp_path, stream):
    # every row has its own word, so the held-out rows' words must all be unknown
    rows = "".join(f"{i % 2},common w{i}\n" for i in range(20))
    path = tmp_path / "d.csv"
    path.write_text("y,t\n" + rows, encoding="utf-8")
    prepared = prepare(text_spec(path, stream=stream, test_split=0.25), get_registry(),
                       log=lambda _: None)
    vocabulary = set(prepared.pipeline.preprocessor.vectorizer.vocabulary)
    test_x = (prepared.pipeline(prepared.test.x.read(np.arange(len(prepared.test))))
              if prepared.test.lazy else prepared.test.x)
    assert test_x.shape == (5, 4)
    common = prepared.pipeline.preprocessor.vectorizer.vocabulary.index("common")
    np.testing.assert_array_equal(test_x[:, 2:], [[common, 1]] * 5)  # own word: unknown
    assert len(vocabulary) == 2 + 1 + 15  # reserved, 'common', one word per training row


# --- resize ---------------------------------------------------------------------------------------


def test_resize_grayscale_images():
    x = np.stack([np.full((4, 6), 7.0), np.arange(24, dtype="float32").reshape(4, 6)])
    out = resize_images(x, (2, 3), "train")
    assert out.shape == (2, 2, 3)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out[0], 7.0, rtol=1e-5)  # a flat image stays flat
    assert out[1].min() >= 0 and out[1].max() <= 23
    assert out[1, 0, 0] < out[1, 1, 2]  # the gradient survives


def test_resize_color_images_keep_channels():
    x = np.zeros((3, 5, 5, 3), dtype="uint8")
    x[..., 0], x[..., 1], x[..., 2] = 10, 20, 30
    out = resize_images(x, (8, 9), "train")
    assert out.shape == (3, 8, 9, 3)
    np.testing.assert_allclose(out[..., 0], 10, rtol=1e-5)
    np.testing.assert_allclose(out[..., 2], 30, rtol=1e-5)


def test_resize_single_channel_axis_is_kept():
    assert resize_images(np.ones((2, 4, 4, 1)), (2, 2), "train").shape == (2, 2, 2, 1)


def test_resize_to_the_same_size_is_a_no_op():
    x = np.ones((1, 3, 3))
    assert resize_images(x, (3, 3), "train") is x


@pytest.mark.parametrize("shape", [(5,), (2, 4), (1, 2, 2, 2, 2)])
def test_resize_needs_images(shape):
    with pytest.raises(DataError, match=r"resize: the test inputs have shape"):
        resize_images(np.zeros(shape), (2, 2), "test")


def test_resize_through_preprocessing_then_rescale():
    from declml.data.preprocessing import preprocess_inputs

    out = preprocess_inputs(np.full((2, 4, 4), 100, dtype="uint8"),
                            Preprocessing(resize=[2, 2], rescale=0.01), "train")
    assert out.shape == (2, 2, 2)
    np.testing.assert_allclose(out, 1.0, rtol=1e-5)
