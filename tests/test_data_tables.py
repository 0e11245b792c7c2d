"""Tabular datasets: csv / tsv (in memory and streamed), jsonl and npy, on tiny files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from declml.builtins.datasets import CsvOptions, JsonlOptions, NpyOptions, TsvOptions
from declml.data.lazy import Examples, Subset
from declml.data.pipeline import prepare
from declml.data.splits import Split, holdout
from declml.data.tables import CsvRows, load_csv, load_jsonl
from declml.errors import DataError, SpecError
from declml.registry.manager import get_registry
from declml.spec.api import load_spec, spec_from_data


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def csv_opts(path: Path, **kwargs: Any) -> CsvOptions:
    return CsvOptions(path=str(path), **kwargs)


def numbered_csv(path: Path, n: int, classes: int = 3) -> Path:
    """Rows ``i, 10*i, i % classes``: the example's position can be read back from x."""
    return write(path, "id,double,y\n" + "".join(f"{i},{10 * i},{i % classes}\n"
                                                  for i in range(n)))


# --- csv: columns, labels and tasks ----------------------------------------------------------


def test_csv_numeric_inputs_and_string_target(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,kind\n1,2.5,dog\n3,4,cat\n5,6,dog\n7,8,bird\n")
    splits = load_csv(csv_opts(path, target="kind"))
    assert splits.class_names == ["bird", "cat", "dog"]
    assert splits.task == "classification"
    assert splits.test is None
    assert splits.train.x.dtype == np.float32
    np.testing.assert_array_equal(splits.train.x, [[1, 2.5], [3, 4], [5, 6], [7, 8]])
    np.testing.assert_array_equal(splits.train.y, [2, 1, 2, 0])
    assert splits.train.y.dtype == np.int64


def test_csv_float_target_is_regression(tmp_path):
    path = write(tmp_path / "d.csv", "a,price\n1,0.5\n2,1.25\n3,3\n")
    splits = load_csv(csv_opts(path, target="price"))
    assert splits.task == "regression"
    assert splits.class_names is None
    assert splits.train.y.dtype == np.float32
    np.testing.assert_allclose(splits.train.y, [0.5, 1.25, 3.0])


def test_csv_whole_number_target_stays_class_labels(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,2\n2,0\n3,1\n4,2\n")
    splits = load_csv(csv_opts(path, target="y"))
    assert splits.task == "classification"
    assert splits.class_names is None
    np.testing.assert_array_equal(splits.train.y, [2, 0, 1, 2])
    assert np.issubdtype(splits.train.y.dtype, np.integer)


def test_csv_task_regression_forces_whole_numbers_to_floats(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,2\n2,0\n")
    splits = load_csv(csv_opts(path, target="y", task="regression"))
    assert splits.task == "regression"
    assert splits.train.y.dtype == np.float32


def test_csv_inputs_selects_and_orders_columns(tmp_path):
    path = write(tmp_path / "d.csv", "a,b,c,y\n1,2,3,0\n4,5,6,1\n")
    splits = load_csv(csv_opts(path, target="y", inputs=["c", "a"]))
    np.testing.assert_array_equal(splits.train.x, [[3, 1], [6, 4]])


def test_csv_inputs_can_skip_a_text_column(tmp_path):
    path = write(tmp_path / "d.csv", "name,a,y\nann,1,0\nbob,2,1\n")
    splits = load_csv(csv_opts(path, target="y", inputs=["a"]))
    np.testing.assert_array_equal(splits.train.x, [[1], [2]])


def test_csv_text_column_gives_strings(tmp_path):
    path = write(tmp_path / "d.csv", 'y,msg,extra\n0,"hello, world",x\n1,bye,z\n')
    splits = load_csv(csv_opts(path, target="y", text="msg"))
    assert splits.train.x.dtype == object
    assert splits.train.x.shape == (2,)
    assert list(splits.train.x) == ["hello, world", "bye"]
    assert all(isinstance(t, str) for t in splits.train.x)


def test_csv_text_and_inputs_together_refused(tmp_path):
    path = write(tmp_path / "d.csv", "a,t,y\n1,x,0\n")
    with pytest.raises(DataError, match=r"data\.text and data\.inputs are both set"):
        load_csv(csv_opts(path, target="y", text="t", inputs=["a"]))


SMS_LIKE = ('Label\tSMS\n'
            'ham\t"Hello there\n'           # a field starting with a quote, never closed
            'spam\tWIN "cash" now\n'
            'ham\tok" see you\n'
            'spam\t"quoted, whole"\n')


@pytest.mark.parametrize("suffix", [".tsv", ".tab"])
def test_tsv_by_suffix_keeps_quotes_as_text(tmp_path, suffix):
    path = write(tmp_path / f"sms{suffix}", SMS_LIKE)
    splits = load_csv(csv_opts(path, target="Label", text="SMS"))
    assert list(splits.train.x) == ['"Hello there', 'WIN "cash" now', 'ok" see you',
                                    '"quoted, whole"']
    np.testing.assert_array_equal(splits.train.y, [0, 1, 0, 1])
    assert splits.class_names == ["ham", "spam"]


def test_tsv_dataset_defaults_to_tab_whatever_the_suffix(tmp_path):
    path = write(tmp_path / "sms.txt", SMS_LIKE)
    splits = load_csv(TsvOptions(path=str(path), target="Label", text="SMS"))
    assert len(splits.train) == 4
    assert splits.train.x[0] == '"Hello there'


def test_csv_quoting_minimal_on_a_tsv_joins_quoted_lines(tmp_path):
    # quoting: minimal is what a real CSV needs; on the SMS file it would join lines,
    # which is why TSV defaults to quotes-as-text.
    path = write(tmp_path / "q.tsv", 'y\tt\n0\t"a\tb"\n1\tc\n')
    splits = load_csv(csv_opts(path, target="y", text="t", quoting="minimal"))
    assert list(splits.train.x) == ["a\tb", "c"]


def test_csv_header_false_with_columns(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,cat\n3,4,dog\n")
    splits = load_csv(csv_opts(path, target="kind", header=False, columns=["a", "b", "kind"]))
    np.testing.assert_array_equal(splits.train.x, [[1, 2], [3, 4]])
    assert splits.class_names == ["cat", "dog"]


def test_csv_header_false_without_columns_names_by_position(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n3,4,1\n")
    splits = load_csv(csv_opts(path, target="2", header=False))
    np.testing.assert_array_equal(splits.train.x, [[1, 2], [3, 4]])
    np.testing.assert_array_equal(splits.train.y, [0, 1])


def test_csv_columns_replace_a_header(tmp_path):
    path = write(tmp_path / "d.csv", "p,q,r\n1,2,0\n3,4,1\n")
    splits = load_csv(csv_opts(path, target="z", columns=["x1", "x2", "z"]))
    assert len(splits.train) == 2  # the header row is skipped, not data


def test_csv_columns_count_mismatch(tmp_path):
    path = write(tmp_path / "d.csv", "1,2,0\n")
    with pytest.raises(DataError, match="names 2 columns, but the first row has 3 fields"):
        load_csv(csv_opts(path, target="b", header=False, columns=["a", "b"]))


def test_csv_delimiter_option(tmp_path):
    path = write(tmp_path / "d.csv", "a;b;y\n1;2;0\n3;4;1\n")
    splits = load_csv(csv_opts(path, target="y", delimiter=";"))
    np.testing.assert_array_equal(splits.train.x, [[1, 2], [3, 4]])


def test_csv_blank_lines_and_crlf_are_skipped(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,y\r\n1,0\r\n\r\n2,1\r\n")
    splits = load_csv(csv_opts(path, target="y"))
    np.testing.assert_array_equal(splits.train.x, [[1], [2]])


def test_csv_duplicate_header_names(tmp_path):
    path = write(tmp_path / "d.csv", "a,a,y\n1,2,0\n")
    with pytest.raises(DataError, match=r"repeats column names \(a\)"):
        load_csv(csv_opts(path, target="y"))


def test_csv_explicit_classes_order(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,cat\n2,dog\n3,cat\n")
    splits = load_csv(csv_opts(path, target="y", classes=["dog", "cat", "eel"]))
    assert splits.class_names == ["dog", "cat", "eel"]
    np.testing.assert_array_equal(splits.train.y, [1, 0, 1])


def test_csv_test_path_is_the_test_split(tmp_path):
    train = write(tmp_path / "train.csv", "a,y\n1,b\n2,a\n3,b\n")
    test = write(tmp_path / "test.csv", "a,y\n9,a\n8,b\n")
    splits = load_csv(csv_opts(train, target="y", test_path=str(test)))
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.x, [[9], [8]])
    np.testing.assert_array_equal(splits.test.y, [0, 1])
    assert splits.class_names == ["a", "b"]


def test_csv_test_labels_use_the_training_mapping(tmp_path):
    # the test file holds only 'z', which sorts first on its own: still index 1.
    train = write(tmp_path / "train.csv", "a,y\n1,m\n2,z\n")
    test = write(tmp_path / "test.csv", "a,y\n1,z\n")
    splits = load_csv(csv_opts(train, target="y", test_path=str(test)))
    np.testing.assert_array_equal(splits.test.y, [1])


def test_csv_test_path_through_prepare_is_not_held_out(tmp_path):
    train = numbered_csv(tmp_path / "train.csv", 12)
    test = numbered_csv(tmp_path / "test.csv", 5)
    prepared = prepare(table_spec(train, test_path=str(test)), get_registry(),
                       log=lambda _: None)
    assert (len(prepared.train), len(prepared.test)) == (12, 5)
    assert prepared.test_split_used is None
    assert not any("single split" in n for n in prepared.notes)


def test_csv_directory_refused(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        load_csv(csv_opts(tmp_path, target="y"))


def test_csv_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"nope\.csv"):
        load_csv(csv_opts(tmp_path / "nope.csv", target="y"))


def test_csv_whole_and_fractional_labels_in_training_are_regression(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,1\n2,1.5\n")
    assert load_csv(csv_opts(path, target="y")).task == "regression"


def test_csv_task_is_decided_by_the_training_split(tmp_path):
    train = write(tmp_path / "train.csv", "a,y\n1,1\n2,0\n3,1\n")
    test = write(tmp_path / "test.csv", "a,y\n1,0.5\n")
    with pytest.raises(DataError, match=r"test\.csv, row 2"):
        load_csv(csv_opts(train, target="y", test_path=str(test)))


def test_csv_negative_integer_labels_sort_numerically(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,-1\n2,2\n3,10\n")
    splits = load_csv(csv_opts(path, target="y"))
    assert splits.class_names == ["-1", "2", "10"]
    np.testing.assert_array_equal(splits.train.y, [0, 1, 2])


def test_csv_utf8_byte_order_mark_is_not_part_of_the_header(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("a,y\n1,0\n2,1\n".encode("utf-8-sig"))
    splits = load_csv(csv_opts(path, target="y", inputs=["a"]))
    np.testing.assert_array_equal(splits.train.x, [[1], [2]])


# --- csv: errors name the file and the row -----------------------------------------------------


def test_missing_target_column_suggests(tmp_path):
    path = write(tmp_path / "d.csv", "a,label\n1,x\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(path, target="lable"))
    message = str(info.value)
    assert str(path) in message
    assert "data.target" in message
    assert "did you mean 'label'" in message
    assert "columns: a, label" in message


def test_missing_input_column_suggests(tmp_path):
    path = write(tmp_path / "d.csv", "width,height,y\n1,2,0\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(path, target="y", inputs=["width", "hieght"]))
    message = str(info.value)
    assert str(path) in message and "data.inputs" in message
    assert "did you mean 'height'" in message


def test_missing_text_column(tmp_path):
    path = write(tmp_path / "d.csv", "y,message\n0,hi\n")
    with pytest.raises(DataError, match=r"data\.text; did you mean 'message'"):
        load_csv(csv_opts(path, target="y", text="mesage"))


@pytest.mark.parametrize("stream", [False, True])
def test_ragged_row(tmp_path, stream):
    path = write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,4,1\n5,6\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(path, target="y", stream=stream))
    message = str(info.value)
    assert f"{path}, row 4" in message
    assert "2 fields where the header has 3" in message


@pytest.mark.parametrize("stream", [False, True])
def test_non_numeric_input_value(tmp_path, stream):
    path = write(tmp_path / "d.csv", "a,b,y\n1,2,0\n3,n/a,1\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(path, target="y", stream=stream))
    message = str(info.value)
    assert f"{path}, row 3, column 'b'" in message
    assert "'n/a' is not a number" in message


@pytest.mark.parametrize("stream", [False, True])
def test_empty_file(tmp_path, stream):
    path = write(tmp_path / "d.csv", "")
    with pytest.raises(DataError, match="the file is empty") as info:
        load_csv(csv_opts(path, target="y", stream=stream))
    assert str(path) in str(info.value)


@pytest.mark.parametrize("stream", [False, True])
def test_header_only(tmp_path, stream):
    path = write(tmp_path / "d.csv", "a,y\n")
    with pytest.raises(DataError, match="no data rows after the header") as info:
        load_csv(csv_opts(path, target="y", stream=stream))
    assert str(path) in str(info.value)


def test_string_label_unseen_in_training(tmp_path):
    train = write(tmp_path / "train.csv", "a,y\n1,cat\n2,dog\n")
    test = write(tmp_path / "test.csv", "a,y\n1,cat\n2,eel\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(train, target="y", test_path=str(test)))
    message = str(info.value)
    assert f"{test}, row 3" in message
    assert "'eel' was never seen in the training split" in message
    assert "cat, dog" in message


def test_integer_label_unseen_in_training(tmp_path):
    train = write(tmp_path / "train.csv", "a,y\n1,0\n2,1\n")
    test = write(tmp_path / "test.csv", "a,y\n1,1\n2,0\n3,7\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(train, target="y", test_path=str(test)))
    message = str(info.value)
    assert f"{test}, row 4" in message
    assert "label 7 was never seen in the training split" in message


def test_label_outside_explicit_classes(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,cat\n2,dog\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(path, target="y", classes=["cat"]))
    message = str(info.value)
    assert f"{path}, row 3" in message
    assert "'dog'" in message and "data.classes" in message


def test_regression_target_that_is_not_a_number(tmp_path):
    path = write(tmp_path / "d.csv", "a,y\n1,0.5\n2,high\n")
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(path, target="y", task="regression"))
    assert f"{path}, row 3" in str(info.value)
    assert "'high' is not a number" in str(info.value)


BAD_BYTES = b"a,y\n1,0\n2,1\n3,\xff\xfe\n"


def test_bad_encoding_names_the_file(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(BAD_BYTES)
    with pytest.raises(DataError) as info:
        load_csv(csv_opts(path, target="y"))
    message = str(info.value)
    assert str(path) in message
    assert "not valid utf-8" in message and "data.encoding" in message


def test_bad_encoding_streamed_names_the_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(BAD_BYTES)
    with pytest.raises(DataError, match=r"d\.csv, row 4: not valid utf-8"):
        load_csv(csv_opts(path, target="y", stream=True))


def test_bad_encoding_in_memory_names_the_row(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(BAD_BYTES)
    with pytest.raises(DataError, match="row 4"):
        load_csv(csv_opts(path, target="y"))


def test_other_encoding_reads(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes("t,y\ncafé,0\n".encode("latin-1"))
    splits = load_csv(csv_opts(path, target="y", text="t", encoding="latin-1"))
    assert splits.train.x[0] == "café"


# --- streaming -----------------------------------------------------------------------------------


def test_csv_rows_is_examples_and_reads_in_the_asked_order(tmp_path):
    path = numbered_csv(tmp_path / "d.csv", 10)
    splits = load_csv(csv_opts(path, target="y", stream=True))
    rows = splits.train.x
    assert isinstance(rows, CsvRows) and isinstance(rows, Examples)
    assert len(rows) == 10 and len(splits.train) == 10
    assert splits.info == {"streamed": True, "input_columns": ["id", "double"]}
    got = rows.read(np.array([7, 0, 3, 3]))
    np.testing.assert_array_equal(got, [[7, 70], [0, 0], [3, 30], [3, 30]])
    assert got.dtype == np.float32
    assert rows.read(np.array([], dtype="int64")).shape == (0, 2)
    assert "streamed" in rows.describe()


@pytest.mark.parametrize("header", [True, False])
def test_streamed_csv_equals_in_memory(tmp_path, header):
    body = "".join(f"{i},{i * 0.5},{'ab'[i % 2]}\n" for i in range(13))
    path = write(tmp_path / "d.csv", ("p,q,y\n" if header else "") + body)
    options: dict[str, Any] = {"target": "y"} if header else {
        "target": "y", "header": False, "columns": ["p", "q", "y"]}
    memory = load_csv(csv_opts(path, **options))
    streamed = load_csv(csv_opts(path, stream=True, **options))
    np.testing.assert_array_equal(streamed.train.x.read(np.arange(13)), memory.train.x)
    np.testing.assert_array_equal(streamed.train.y, memory.train.y)
    assert streamed.class_names == memory.class_names == ["a", "b"]


def test_streamed_tsv_text_equals_in_memory(tmp_path):
    path = write(tmp_path / "sms.tsv", SMS_LIKE)
    memory = load_csv(TsvOptions(path=str(path), target="Label", text="SMS"))
    streamed = load_csv(TsvOptions(path=str(path), target="Label", text="SMS", stream=True))
    got = streamed.train.x.read(np.arange(4))
    assert got.dtype == object
    assert list(got) == list(memory.train.x)
    np.testing.assert_array_equal(streamed.train.y, memory.train.y)


def test_streamed_test_path(tmp_path):
    train = numbered_csv(tmp_path / "train.csv", 6)
    test = numbered_csv(tmp_path / "test.csv", 4)
    splits = load_csv(csv_opts(train, target="y", test_path=str(test), stream=True))
    assert isinstance(splits.test.x, CsvRows)
    np.testing.assert_array_equal(splits.test.x.read(np.array([3, 1]))[:, 0], [3, 1])


def test_stream_auto_keeps_small_files_in_memory(tmp_path):
    path = numbered_csv(tmp_path / "d.csv", 4)
    assert isinstance(load_csv(csv_opts(path, target="y")).train.x, np.ndarray)


def test_streamed_split_take_and_holdout(tmp_path):
    path = numbered_csv(tmp_path / "d.csv", 30)
    memory = load_csv(csv_opts(path, target="y")).train
    streamed = load_csv(csv_opts(path, target="y", stream=True)).train
    part = streamed.take(np.array([9, 2, 5]))
    assert part.lazy and isinstance(part.x, Subset)
    np.testing.assert_array_equal(part.x.read(np.arange(3)), memory.x[[9, 2, 5]])
    np.testing.assert_array_equal(part.y, memory.y[[9, 2, 5]])
    nested = part.take(np.array([2, 0]))  # a subset of a subset reads the right rows
    np.testing.assert_array_equal(nested.x.read(np.arange(2))[:, 0], [5, 9])
    for stratify in (True, False):
        keep_s, out_s = holdout(streamed, 0.2, 4, stratify=stratify)
        keep_m, out_m = holdout(memory, 0.2, 4, stratify=stratify)
        np.testing.assert_array_equal(out_s.x.read(np.arange(len(out_s))), out_m.x)
        np.testing.assert_array_equal(keep_s.x.read(np.arange(len(keep_s))), keep_m.x)
        np.testing.assert_array_equal(keep_s.y, keep_m.y)


def test_streamed_multiline_quoted_record_is_an_error_naming_the_row(tmp_path):
    path = write(tmp_path / "d.csv", 'a,t,y\n1,"two\nlines",0\n2,ok,1\n')
    with pytest.raises(DataError, match=r"d\.csv, row 2"):
        load_csv(csv_opts(path, target="y", text="t", stream=True))


def table_spec(path: Path, *, seed: int = 0, fit: dict[str, Any] | None = None,
               preprocessing: dict[str, Any] | None = None, units: int = 3,
               input_shape: list[int] | None = None, **data: Any):
    doc: dict[str, Any] = {
        "name": "tables",
        "seed": seed,
        "data": {"dataset": "csv", "path": str(path), "target": "y", **data,
                 **({"preprocessing": preprocessing} if preprocessing else {})},
        "model": {"input_shape": input_shape or [2],
                  "layers": [{"type": "Dense", "units": units, "activation": "softmax"}]},
        "compile": {"loss": "sparse_categorical_crossentropy", "optimizer": "sgd"},
        "fit": {"epochs": 1, "batch_size": 4, **(fit or {})},
    }
    return spec_from_data(doc)


def epoch_ids(dataset) -> tuple[list[int], list[np.ndarray]]:
    """The example ids (first column) of one pass over a PyDataset, and its batches' x."""
    seen, xs = [], []
    for i in range(len(dataset)):
        x, y = dataset[i]
        np.testing.assert_array_equal(y, x[:, 0].astype(int) % 3)  # x and y stay paired
        seen.extend(int(v) for v in x[:, 0])
        xs.append(x)
    return seen, xs


@pytest.fixture(scope="module")
def streamed_prepared(tmp_path_factory):
    path = numbered_csv(tmp_path_factory.mktemp("stream") / "d.csv", 45)
    spec = table_spec(path, stream=True, test_split=0.2)
    return prepare(spec, get_registry(), log=lambda _: None)


def test_streamed_prepare_keeps_data_lazy(streamed_prepared):
    p = streamed_prepared
    assert p.train.lazy and p.test.lazy
    assert (len(p.train), len(p.test)) == (36, 9)
    assert any("streamed" in n for n in p.notes)
    assert p.info["streamed"] is True
    ids = np.concatenate([p.train.x.read(np.arange(36))[:, 0], p.test.x.read(np.arange(9))[:, 0]])
    assert sorted(ids.astype(int).tolist()) == list(range(45))


def test_streamed_feed_covers_every_example_once_per_epoch(streamed_prepared):
    p = streamed_prepared
    dataset = p.feed(p.train, batch_size=8, shuffle=True, seed=5)["x"]
    assert len(dataset) == 5  # ceil(36 / 8): more than one batch
    train_ids = sorted(int(v) for v in p.train.x.read(np.arange(len(p.train)))[:, 0])
    first, xs = epoch_ids(dataset)
    assert sorted(first) == train_ids
    assert [len(x) for x in xs] == [8, 8, 8, 8, 4]
    assert all(x.dtype == np.float32 and x.shape[1] == 2 for x in xs)
    dataset.on_epoch_end()
    second, _ = epoch_ids(dataset)
    assert sorted(second) == train_ids
    assert second != first  # a new order each epoch
    again = p.feed(p.train, batch_size=8, shuffle=True, seed=5)["x"]
    assert epoch_ids(again)[0] == first  # ... and the same order for the same seed
    again.on_epoch_end()
    assert epoch_ids(again)[0] == second
    other = p.feed(p.train, batch_size=8, shuffle=True, seed=6)["x"]
    assert epoch_ids(other)[0] != first


def test_streamed_feed_without_shuffle_is_in_order(streamed_prepared):
    p = streamed_prepared
    dataset = p.feed(p.test, batch_size=4, name="test")["x"]
    seen, _ = epoch_ids(dataset)
    assert seen == sorted(seen) and len(seen) == 9


def test_in_memory_feed_is_arrays(tmp_path):
    path = numbered_csv(tmp_path / "d.csv", 10)
    p = prepare(table_spec(path), get_registry(), log=lambda _: None)
    feed = p.feed(p.train, batch_size=4)
    assert set(feed) == {"x", "y", "batch_size"}
    assert set(p.feed(p.test, batch_size=4, targets=False)) == {"x", "batch_size"}


def test_streamed_file_trains_one_epoch(streamed_prepared):
    from declml.builder.model import build_model

    p = streamed_prepared
    spec = table_spec(Path("unused.csv"), stream=True)
    model = build_model(spec, get_registry())
    history = model.fit(**p.feed(p.train, batch_size=8, shuffle=True, seed=0), epochs=1,
                        verbose=0)
    assert len(history.history["loss"]) == 1
    assert np.isfinite(history.history["loss"][0])


# --- split determinism through prepare ---------------------------------------------------------


def test_prepare_same_seed_same_split(tmp_path):
    path = numbered_csv(tmp_path / "d.csv", 40)
    ids = {}
    for seed in (1, 1, 2):
        p = prepare(table_spec(path, seed=seed), get_registry(), log=lambda _: None)
        ids.setdefault(seed, []).append(sorted(int(v) for v in p.test.x[:, 0]))
    assert ids[1][0] == ids[1][1]
    assert ids[2][0] != ids[1][0]


def test_prepare_same_seed_same_split_when_streamed(tmp_path):
    path = numbered_csv(tmp_path / "d.csv", 40)
    memory = prepare(table_spec(path, seed=3), get_registry(), log=lambda _: None)
    streamed = prepare(table_spec(path, seed=3, stream=True), get_registry(),
                       log=lambda _: None)
    np.testing.assert_array_equal(streamed.test.x.read(np.arange(len(streamed.test))),
                                  memory.test.x)


def test_prepare_stratified_keeps_the_class_ratio(tmp_path):
    labels = ["a"] * 45 + ["b"] * 15
    path = write(tmp_path / "d.csv", "id,double,y\n" + "".join(
        f"{i},{i},{label}\n" for i, label in enumerate(labels)))
    for seed in range(3):
        p = prepare(table_spec(path, seed=seed, units=2), get_registry(), log=lambda _: None)
        assert np.bincount(p.test.y).tolist() == [9, 3]
        assert np.bincount(p.train.y).tolist() == [36, 12]
        assert p.class_names == ["a", "b"] and p.task == "classification"


# --- jsonl ----------------------------------------------------------------------------------------


def write_jsonl(path: Path, *records: Any) -> Path:
    return write(path, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n"
                               for r in records))


def jsonl_opts(path: Path, **kwargs: Any) -> JsonlOptions:
    return JsonlOptions(path=str(path), **kwargs)


def test_jsonl_numeric_keys(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "b": 2.5, "y": "no"},
                       {"b": 4, "a": 3, "y": "yes"}, "")
    splits = load_jsonl(jsonl_opts(path, target="y"))
    np.testing.assert_array_equal(splits.train.x, [[1, 2.5], [3, 4]])  # keys of line 1, in order
    np.testing.assert_array_equal(splits.train.y, [0, 1])
    assert splits.class_names == ["no", "yes"]


def test_jsonl_inputs_select_keys(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "b": 2, "y": 0}, {"a": 3, "b": 4, "y": 1})
    splits = load_jsonl(jsonl_opts(path, target="y", inputs=["b", "a"]))
    np.testing.assert_array_equal(splits.train.x, [[2, 1], [4, 3]])


def test_jsonl_single_scalar_key_is_one_column(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "y": 0}, {"a": 2, "y": 1})
    assert load_jsonl(jsonl_opts(path, target="y")).train.x.shape == (2, 1)


def test_jsonl_nested_list_key(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"pixels": [[1, 2], [3, 4]], "y": 1.5},
                       {"pixels": [[5, 6], [7, 8]], "y": 2.0})
    splits = load_jsonl(jsonl_opts(path, target="y"))
    assert splits.train.x.shape == (2, 2, 2)
    assert splits.task == "regression"
    np.testing.assert_allclose(splits.train.y, [1.5, 2.0])


def test_jsonl_list_and_scalar_keys_are_concatenated(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"v": [1, 2], "w": 3, "y": 0},
                       {"v": [4, 5], "w": 6, "y": 1})
    np.testing.assert_array_equal(load_jsonl(jsonl_opts(path, target="y")).train.x,
                                  [[1, 2, 3], [4, 5, 6]])


def test_jsonl_text_key(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"text": "Hi there", "n": 3, "label": 1},
                       {"text": "bye", "n": 1, "label": 0})
    splits = load_jsonl(jsonl_opts(path, target="label", text="text"))
    assert splits.train.x.dtype == object
    assert list(splits.train.x) == ["Hi there", "bye"]
    np.testing.assert_array_equal(splits.train.y, [1, 0])


def test_jsonl_text_key_that_is_not_a_string(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"text": "ok", "y": 0}, {"text": 5, "y": 1})
    with pytest.raises(DataError, match=r"d\.jsonl, line 2: 'text' is int, expected text"):
        load_jsonl(jsonl_opts(path, target="y", text="text"))


def test_jsonl_missing_input_key_names_the_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "b": 2, "y": 0}, {"a": 1, "b": 2, "y": 0},
                       {"a": 1, "y": 1})
    with pytest.raises(DataError) as info:
        load_jsonl(jsonl_opts(path, target="y"))
    assert f"{path}, line 3: no key 'b'" in str(info.value)


def test_jsonl_missing_named_key_suggests(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"width": 1, "y": 0})
    with pytest.raises(DataError, match=r"line 1: no key 'widht'; did you mean 'width'"):
        load_jsonl(jsonl_opts(path, target="y", inputs=["widht"]))


def test_jsonl_missing_target_names_the_line(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "y": 0}, {"a": 2})
    with pytest.raises(DataError, match=r"d\.jsonl, line 2: no key 'y' \(data\.target\)"):
        load_jsonl(jsonl_opts(path, target="y"))


@pytest.mark.parametrize("line", ["[1, 2]", '"text"', "3"])
def test_jsonl_line_that_is_not_an_object(tmp_path, line):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "y": 0}, line)
    with pytest.raises(DataError, match=r"d\.jsonl, line 2: expected a JSON object per line"):
        load_jsonl(jsonl_opts(path, target="y"))


def test_jsonl_line_that_is_not_json(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "y": 0}, "{a: 1")
    with pytest.raises(DataError, match=r"d\.jsonl, line 2: not JSON"):
        load_jsonl(jsonl_opts(path, target="y"))


def test_jsonl_non_numeric_value(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "y": 0}, {"a": "many", "y": 1})
    with pytest.raises(DataError, match=r"line 2: 'a' holds 'many', not numbers"):
        load_jsonl(jsonl_opts(path, target="y"))


def test_jsonl_ragged_lists(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": [1, 2], "y": 0}, {"a": [1], "y": 1})
    with pytest.raises(DataError, match="do not all have the same shape"):
        load_jsonl(jsonl_opts(path, target="y"))


def test_jsonl_empty_file(tmp_path):
    path = write(tmp_path / "d.jsonl", "\n\n")
    with pytest.raises(DataError, match="has no records"):
        load_jsonl(jsonl_opts(path, target="y"))


def test_jsonl_test_path_and_unseen_label(tmp_path):
    train = write_jsonl(tmp_path / "a.jsonl", {"a": 1, "y": "p"}, {"a": 2, "y": "q"})
    test = write_jsonl(tmp_path / "b.jsonl", {"a": 1, "y": "q"})
    splits = load_jsonl(jsonl_opts(train, target="y", test_path=str(test), inputs=["a"]))
    np.testing.assert_array_equal(splits.test.y, [1])
    bad = write_jsonl(tmp_path / "c.jsonl", {"a": 1, "y": "q"}, {"a": 1, "y": "r"})
    with pytest.raises(DataError, match=r"c\.jsonl, row 2: label 'r' was never seen"):
        load_jsonl(jsonl_opts(train, target="y", test_path=str(bad), inputs=["a"]))


def test_jsonl_string_and_number_labels_name_the_same_class(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", {"a": 1, "y": "cat"}, {"a": 2, "y": 1},
                       {"a": 3, "y": 1.0})
    splits = load_jsonl(jsonl_opts(path, target="y", classes=["cat", "1"]))
    np.testing.assert_array_equal(splits.train.y, [0, 1, 1])


# --- npy ------------------------------------------------------------------------------------------


def save(path: Path, array: np.ndarray) -> Path:
    np.save(path, array)
    return path


def test_npy_pair(tmp_path):
    x = save(tmp_path / "x.npy", np.arange(12, dtype="float32").reshape(4, 3))
    y = save(tmp_path / "y.npy", np.array([0, 1, 1, 0]))
    splits = load_npy(NpyOptions(path=str(x), targets=str(y)))
    assert splits.train.x.shape == (4, 3)
    np.testing.assert_array_equal(splits.train.y, [0, 1, 1, 0])
    assert splits.task == "classification" and splits.class_names is None
    assert splits.test is None


def test_npy_float_targets_are_regression(tmp_path):
    x = save(tmp_path / "x.npy", np.zeros((2, 3)))
    y = save(tmp_path / "y.npy", np.array([0.5, 1.5]))
    splits = load_npy(NpyOptions(path=str(x), targets=str(y)))
    assert splits.task == "regression" and splits.train.y.dtype == np.float32


def test_npy_string_targets_are_encoded(tmp_path):
    x = save(tmp_path / "x.npy", np.zeros((4, 2)))
    y = save(tmp_path / "y.npy", np.array(["spam", "ham", "spam", "eggs"]))
    splits = load_npy(NpyOptions(path=str(x), targets=str(y)))
    assert splits.class_names == ["eggs", "ham", "spam"]
    np.testing.assert_array_equal(splits.train.y, [2, 1, 2, 0])


def test_npy_test_pair(tmp_path):
    x = save(tmp_path / "x.npy", np.zeros((4, 2)))
    y = save(tmp_path / "y.npy", np.array(["a", "b", "a", "b"]))
    xt = save(tmp_path / "xt.npy", np.ones((2, 2)))
    yt = save(tmp_path / "yt.npy", np.array(["b", "b"]))
    splits = load_npy(NpyOptions(path=str(x), targets=str(y), test_path=str(xt),
                                 test_targets=str(yt)))
    np.testing.assert_array_equal(splits.test.y, [1, 1])
    np.testing.assert_array_equal(splits.test.x, np.ones((2, 2)))
    bad = save(tmp_path / "bad.npy", np.array(["a", "c"]))
    with pytest.raises(DataError, match=r"bad\.npy, row 2: label 'c' was never seen"):
        load_npy(NpyOptions(path=str(x), targets=str(y), test_path=str(xt),
                            test_targets=str(bad)))


def test_npy_test_path_needs_test_targets(tmp_path):
    x = save(tmp_path / "x.npy", np.zeros((2, 2)))
    y = save(tmp_path / "y.npy", np.array([0, 1]))
    with pytest.raises(DataError, match=r"test_path and data\.test_targets go together"):
        load_npy(NpyOptions(path=str(x), targets=str(y), test_path=str(x)))


def test_npy_mismatched_lengths(tmp_path):
    x = save(tmp_path / "x.npy", np.zeros((4, 2)))
    y = save(tmp_path / "y.npy", np.array([0, 1, 0]))
    with pytest.raises(DataError) as info:
        load_npy(NpyOptions(path=str(x), targets=str(y)))
    message = str(info.value)
    assert "4 examples" in message and "3 targets" in message
    assert str(x) in message and str(y) in message


@pytest.mark.parametrize("which", ["inputs", "targets"])
def test_npy_object_arrays_refused(tmp_path, which):
    objects = np.empty(2, dtype=object)
    objects[:] = [{"a": 1}, [1, 2]]
    np.save(tmp_path / "o.npy", objects, allow_pickle=True)
    x = save(tmp_path / "x.npy", np.zeros((2, 2)))
    y = save(tmp_path / "y.npy", np.array([0, 1]))
    options = (NpyOptions(path=str(tmp_path / "o.npy"), targets=str(y)) if which == "inputs"
               else NpyOptions(path=str(x), targets=str(tmp_path / "o.npy")))
    with pytest.raises(DataError, match=r"o\.npy: holds object arrays"):
        load_npy(options)


def test_npy_not_a_numpy_file_is_a_data_error(tmp_path):
    x = write(tmp_path / "x.npy", "a,b\n1,2\n")
    y = save(tmp_path / "y.npy", np.array([0]))
    with pytest.raises(DataError, match=r"x\.npy: "):
        load_npy(NpyOptions(path=str(x), targets=str(y)))


def test_npy_not_a_numpy_file_says_so(tmp_path):
    x = write(tmp_path / "x.npy", "a,b\n1,2\n")
    y = save(tmp_path / "y.npy", np.array([0]))
    with pytest.raises(DataError, match=r"x\.npy: not a NumPy file; save the inputs with"):
        load_npy(NpyOptions(path=str(x), targets=str(y)))


def test_npy_one_hot_targets_are_kept(tmp_path):
    x = save(tmp_path / "x.npy", np.zeros((3, 2)))
    y = save(tmp_path / "y.npy", np.eye(3))
    splits = load_npy(NpyOptions(path=str(x), targets=str(y)))
    np.testing.assert_array_equal(splits.train.y, np.eye(3))
    assert splits.task is None


def load_npy(options: NpyOptions):
    from declml.data.sources import load_npy as loader

    return loader(options)


# --- the spec names the datasets and checks their options ---------------------------------------


SPEC_TEMPLATE = """\
spec_version: 1
name: tables
data:
  dataset: {dataset}
{options}
model:
  input_shape: [2]
  layers:
    - {{type: Dense, units: 2, activation: softmax}}
compile:
  loss: sparse_categorical_crossentropy
"""


@pytest.mark.parametrize(("dataset", "options"), [
    ("csv", {"path": "d.csv", "target": "y", "delimiter": ";", "stream": True,
             "header": False, "columns": ["a", "b", "y"], "quoting": "none"}),
    ("tsv", {"path": "d.tsv", "target": "y", "text": "t"}),
    ("jsonl", {"path": "d.jsonl", "target": "y", "inputs": ["a", "b"],
               "encoding": "latin-1"}),
    ("npy", {"path": "x.npy", "targets": "y.npy", "test_path": "xt.npy",
             "test_targets": "yt.npy", "classes": ["a", "b"]}),
])
def test_table_datasets_validate(write_spec, dataset, options):
    text = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in options.items())
    spec = load_spec(write_spec(SPEC_TEMPLATE.format(dataset=dataset, options=text)))
    assert spec.data.dataset == dataset
    for key, value in options.items():
        assert spec.data.options[key] == value


@pytest.mark.parametrize(("dataset", "options", "typo", "meant"), [
    ("csv", {"path": "d.csv", "target": "y"}, "delimeter", "delimiter"),
    ("tsv", {"path": "d.tsv", "target": "y"}, "heder", "header"),
    ("jsonl", {"path": "d.jsonl", "target": "y"}, "txt", "text"),
    ("npy", {"path": "x.npy"}, "target", "targets"),
])
def test_table_dataset_option_typo_suggests(write_spec, dataset, options, typo, meant):
    options = {**options, typo: "x"}
    text = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in options.items())
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(SPEC_TEMPLATE.format(dataset=dataset, options=text)))
    message = str(info.value)
    assert f"unknown key {typo!r} for dataset {dataset!r}" in message
    assert f"did you mean {meant!r}" in message


@pytest.mark.parametrize(("dataset", "missing"), [("csv", "target"), ("jsonl", "path"),
                                                  ("npy", "targets")])
def test_table_dataset_required_options(write_spec, dataset, missing):
    options = {"path": "d", "target": "y", "targets": "y.npy"}
    if dataset == "npy":
        options.pop("target")
    else:
        options.pop("targets")
    options.pop(missing)
    text = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in options.items())
    with pytest.raises(SpecError, match=missing):
        load_spec(write_spec(SPEC_TEMPLATE.format(dataset=dataset, options=text)))


def test_csv_delimiter_must_be_one_character(write_spec):
    text = '  path: d.csv\n  target: y\n  delimiter: ";;"'
    with pytest.raises(SpecError, match="delimiter"):
        load_spec(write_spec(SPEC_TEMPLATE.format(dataset="csv", options=text)))


def test_split_with_lazy_inputs_checks_lengths(tmp_path):
    rows = load_csv(csv_opts(numbered_csv(tmp_path / "d.csv", 3), target="y", stream=True))
    with pytest.raises(DataError, match="3 inputs, 2 targets"):
        Split(rows.train.x, np.zeros(2))
