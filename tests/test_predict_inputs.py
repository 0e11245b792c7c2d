"""``declml predict`` on raw inputs: a tiny text run (the SMS spec) and a tiny numeric run."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from declml.cli.main import app
from declml.data.pipeline import _split, load_splits, prepare
from declml.data.text import VOCABULARY_FILE, TextVectorizer
from declml.errors import DataError
from declml.run.inputs import read_inputs
from declml.run.predict import format_predictions, predict_arrays
from declml.run.saved import load_run
from declml.run.train import train
from declml.spec.api import load_spec, spec_from_data
from tests.conftest import SPECS

pytestmark = pytest.mark.backends

runner = CliRunner()

HAM = ["see you at lunch", "ok call me later", "thanks for dinner tonight",
       "are you home yet", "meeting moved to noon"]
SPAM = ["WIN cash prize now", "free entry claim your reward", "urgent you won a prize",
        "claim free cash now", 'txt "WIN" to claim']


def quiet(_: str) -> None:
    pass


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    """specs/sms_spam_lstm.yaml trained for one epoch on 40 short messages."""
    tmp = tmp_path_factory.mktemp("sms")
    tsv = tmp / "sms.tsv"
    lines = ["Label\tSMS"]
    for i in range(20):
        lines += [f"ham\t{HAM[i % 5]}", f"spam\t{SPAM[i % 5]}"]
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = load_spec(SPECS / "sms_spam_lstm.yaml", [f"data.path={tsv}", "fit.epochs=1"])
    result = train(spec, tmp / "run", log=quiet, verbose=0)
    return result.run_dir, spec, tmp


@pytest.fixture(scope="module")
def text_saved(text_run):
    return load_run(text_run[0])


def predict_file(run, path: Path) -> list[dict]:
    examples = read_inputs(path, run)
    outputs = predict_arrays(run, examples.x)
    return format_predictions(outputs, class_names=run.class_names, task=run.task,
                              ids=examples.ids)


def check_classified(records: list[dict], classes: set[str]) -> None:
    for record in records:
        assert record["class"] in classes
        assert set(record["probabilities"]) == classes
        assert sum(record["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert record["probability"] == record["probabilities"][record["class"]]
        assert record["class_index"] == sorted(classes).index(record["class"])


# --- the text run ---------------------------------------------------------------------------------


def test_text_run_directory(text_run, text_saved):
    run_dir, _, _ = text_run
    assert (run_dir / VOCABULARY_FILE).is_file()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "complete"
    assert info["class_names"] == ["ham", "spam"]
    assert info["task"] == "classification"
    lock = yaml.safe_load((run_dir / "spec.lock.yaml").read_text())
    assert lock["data"]["classes"] == ["ham", "spam"]
    assert lock["data"]["test_split"] == 0.2
    assert text_saved.class_names == ["ham", "spam"]
    assert text_saved.task == "classification"
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["examples"] == 8


def test_text_predict_txt_lines(text_run, text_saved):
    path = text_run[2] / "lines.txt"
    path.write_text("win free cash now\n\nsee you at lunch\nnever seen words xyz\n",
                    encoding="utf-8")
    records = predict_file(text_saved, path)
    assert [r["text"] for r in records] == ["win free cash now", "see you at lunch",
                                            "never seen words xyz"]
    check_classified(records, {"ham", "spam"})


def test_predict_vectorizes_like_training(text_run, text_saved):
    run_dir, spec, _ = text_run
    texts = np.array(["WIN cash, now!", "see you at lunch", "", "brand new words",
                      'txt "WIN" to claim'], dtype=object)
    at_predict = text_saved.pipeline(texts, "input")
    state = json.loads((run_dir / VOCABULARY_FILE).read_text(encoding="utf-8"))
    saved = TextVectorizer.from_state(state)
    np.testing.assert_array_equal(at_predict, saved(texts))
    assert at_predict.shape == (5, 100) and at_predict.dtype == np.int32
    # the vocabulary is rebuilt the same way from the same training split
    prepared = prepare(spec, text_saved.registry, log=quiet)
    assert prepared.pipeline.preprocessor.vectorizer.vocabulary == saved.vocabulary
    np.testing.assert_array_equal(prepared.pipeline(texts), at_predict)
    # ... and the training-time arrays are what predict makes of the raw strings
    train_split, _, test_split = _split(spec, load_splits(spec, text_saved.registry), [])
    np.testing.assert_array_equal(text_saved.pipeline(train_split.x), prepared.train.x)
    np.testing.assert_array_equal(text_saved.pipeline(test_split.x), prepared.test.x)
    assert set(saved.vocabulary) == {"", "[UNK]"} | {
        w for t in train_split.x for w in saved.tokens(t)}


def test_text_cli_predict_prints_one_json_line_per_text(text_run):
    run_dir, _, tmp = text_run
    path = tmp / "cli.txt"
    path.write_text("claim your free prize\nok see you later\n\n   \nthanks\n",
                    encoding="utf-8")
    result = runner.invoke(app, ["predict", str(run_dir), str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    assert [r["text"] for r in records] == ["claim your free prize", "ok see you later",
                                            "thanks"]
    check_classified(records, {"ham", "spam"})


def test_text_cli_predict_output_file(text_run):
    run_dir, _, tmp = text_run
    path = tmp / "out.txt"
    path.write_text("free cash\n", encoding="utf-8")
    target = tmp / "predictions.jsonl"
    result = runner.invoke(app, ["predict", str(run_dir), str(path), "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert len(target.read_text().splitlines()) == 1
    again = runner.invoke(app, ["predict", str(run_dir), str(path), "-o", str(target)])
    assert again.exit_code == 2
    assert "exists" in again.stderr


@pytest.mark.parametrize("with_target", [True, False])
def test_text_predict_csv_with_the_training_columns(text_run, text_saved, with_target):
    path = text_run[2] / f"rows-{with_target}.csv"
    if with_target:
        path.write_text('Label,SMS\nspam,"win, win, cash"\nham,see you\n', encoding="utf-8")
    else:
        path.write_text('SMS\n"win, win, cash"\nsee you\n', encoding="utf-8")
    records = predict_file(text_saved, path)
    assert [(r["row"], r["text"]) for r in records] == [(2, "win, win, cash"), (3, "see you")]
    check_classified(records, {"ham", "spam"})
    direct = predict_arrays(text_saved, np.array(["win, win, cash", "see you"], dtype=object))
    np.testing.assert_allclose([r["probabilities"]["spam"] for r in records], direct[:, 1],
                               atol=1e-6)


def test_text_predict_tsv_keeps_quotes_as_text(text_run, text_saved):
    path = text_run[2] / "rows.tsv"
    path.write_text('SMS\tLabel\n"hello there\tham\nwin "cash"\tspam\n', encoding="utf-8")
    records = predict_file(text_saved, path)
    assert [r["text"] for r in records] == ['"hello there', 'win "cash"']


def test_text_predict_csv_without_the_text_column(text_run, text_saved):
    path = text_run[2] / "wrong.csv"
    path.write_text("message\nhello\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'SMS'"):
        read_inputs(path, text_saved)


def test_text_predict_jsonl_objects(text_run, text_saved):
    path = text_run[2] / "rows.jsonl"
    path.write_text(json.dumps({"SMS": "free prize", "id": 7}) + "\n\n"
                    + json.dumps({"SMS": "lunch at noon"}) + "\n", encoding="utf-8")
    records = predict_file(text_saved, path)
    assert [r["text"] for r in records] == ["free prize", "lunch at noon"]
    check_classified(records, {"ham", "spam"})
    path.write_text(json.dumps({"text": "free prize"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="example 1: no key 'SMS'"):
        read_inputs(path, text_saved)


@pytest.mark.parametrize("document", [["free cash prize", "see you at lunch"],
                                      {"instances": ["free cash prize", "see you at lunch"]}])
def test_text_predict_json_list_of_strings(text_run, text_saved, document):
    path = text_run[2] / "rows.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    records = predict_file(text_saved, path)
    assert [r["text"] for r in records] == ["free cash prize", "see you at lunch"]
    check_classified(records, {"ham", "spam"})


def test_text_predict_single_string(text_saved):
    outputs = predict_arrays(text_saved, np.array("free cash", dtype=object))
    assert outputs.shape == (1, 2)


def test_text_predict_empty_txt(text_run, text_saved):
    path = text_run[2] / "empty.txt"
    path.write_text("\n  \n", encoding="utf-8")
    with pytest.raises(DataError, match="no text lines"):
        read_inputs(path, text_saved)


def test_text_predict_numbers_refused(text_run, text_saved):
    path = text_run[2] / "numbers.npy"
    np.save(path, np.zeros((2, 100)))
    with pytest.raises(DataError, match="one raw string per example"):
        predict_arrays(text_saved, read_inputs(path, text_saved).x)


# --- a numeric run --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def numeric_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("numeric")
    rng = np.random.default_rng(0)
    rows = []
    for i in range(40):
        big = i % 2
        a, b, c = rng.normal(3 if big else 0, 0.3, 3)
        rows.append(f"{a:.3f},{b:.3f},{c:.3f},{'large' if big else 'small'}")
    data = tmp / "sizes.csv"
    data.write_text("a,b,c,size\n" + "\n".join(rows) + "\n", encoding="utf-8")
    spec = spec_from_data({
        "name": "sizes", "seed": 0,
        "data": {"dataset": "csv", "path": str(data), "target": "size"},
        "model": {"input_shape": [3],
                  "layers": [{"type": "Dense", "units": 2, "activation": "softmax"}]},
        "compile": {"loss": "sparse_categorical_crossentropy",
                    "optimizer": {"type": "adam", "learning_rate": 0.05}},
        "fit": {"epochs": 1, "batch_size": 8},
    })
    result = train(spec, tmp / "run", log=quiet, verbose=0)
    return result.run_dir, tmp


@pytest.fixture(scope="module")
def numeric_saved(numeric_run):
    return load_run(numeric_run[0])


def test_numeric_run_has_no_vocabulary(numeric_run, numeric_saved):
    assert not (numeric_run[0] / VOCABULARY_FILE).exists()
    assert numeric_saved.class_names == ["large", "small"]


def test_numeric_predict_npy(numeric_run, numeric_saved):
    path = numeric_run[1] / "x.npy"
    np.save(path, np.array([[3, 3, 3], [0, 0, 0], [2.5, 3, 3.5]], dtype="float32"))
    records = predict_file(numeric_saved, path)
    assert [r["row"] for r in records] == [1, 2, 3]
    check_classified(records, {"large", "small"})


def test_numeric_predict_single_example(numeric_run, numeric_saved):
    path = numeric_run[1] / "one.npy"
    np.save(path, np.array([3, 3, 3], dtype="float32"))
    outputs = predict_arrays(numeric_saved, read_inputs(path, numeric_saved).x)
    assert outputs.shape == (1, 2)


@pytest.mark.parametrize(("header", "rows"), [
    ("a,b,c,size", "3,3,3,large\n0,0,0,small\n"),    # the target column is ignored
    ("a,b,c", "3,3,3\n0,0,0\n"),                      # ... or absent
    ("size,a,b,c", "large,3,3,3\nsmall,0,0,0\n"),    # columns found by name
])
def test_numeric_predict_csv(numeric_run, numeric_saved, header, rows):
    path = numeric_run[1] / "rows.csv"
    path.write_text(f"{header}\n{rows}", encoding="utf-8")
    examples = read_inputs(path, numeric_saved)
    np.testing.assert_array_equal(examples.x, [[3, 3, 3], [0, 0, 0]])
    records = predict_file(numeric_saved, path)
    assert [r["row"] for r in records] == [2, 3]
    check_classified(records, {"large", "small"})


def test_numeric_predict_csv_non_number(numeric_run, numeric_saved):
    path = numeric_run[1] / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n1,x,3\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad\.csv, row 3"):
        read_inputs(path, numeric_saved)


def test_numeric_predict_csv_missing_column(numeric_run, numeric_saved):
    path = numeric_run[1] / "missing.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError):
        predict_arrays(numeric_saved, read_inputs(path, numeric_saved).x)


def test_numeric_predict_csv_uses_the_training_column_order(numeric_run, numeric_saved):
    path = numeric_run[1] / "reordered.csv"
    path.write_text("c,size,b,a\n3,large,2,1\n", encoding="utf-8")
    np.testing.assert_array_equal(read_inputs(path, numeric_saved).x, [[1, 2, 3]])
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'c'"):
        read_inputs(path, numeric_saved)


def test_numeric_predict_csv_with_inputs_named_in_the_spec(numeric_run, numeric_saved):
    options = {**numeric_saved.spec.data.options, "inputs": ["a", "b", "c"]}
    data = numeric_saved.spec.data.model_copy(update={"options": options})
    run = replace(numeric_saved, spec=numeric_saved.spec.model_copy(update={"data": data}))
    path = numeric_run[1] / "named.csv"
    path.write_text("c,size,b,a\n3,large,2,1\n", encoding="utf-8")
    np.testing.assert_array_equal(read_inputs(path, run).x, [[1, 2, 3]])
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'c'"):
        read_inputs(path, run)


def test_numeric_predict_csv_headerless_without_target(numeric_run, numeric_saved):
    options = {**numeric_saved.spec.data.options, "header": False,
               "columns": ["a", "b", "c", "size"]}
    data = numeric_saved.spec.data.model_copy(update={"options": options})
    run = replace(numeric_saved, spec=numeric_saved.spec.model_copy(update={"data": data}))
    path = numeric_run[1] / "headerless.csv"
    path.write_text("3,3,3\n0,0,0\n", encoding="utf-8")
    np.testing.assert_array_equal(read_inputs(path, run).x, [[3, 3, 3], [0, 0, 0]])


def test_numeric_predict_json_lists(numeric_run, numeric_saved):
    path = numeric_run[1] / "rows.json"
    path.write_text(json.dumps([[3, 3, 3], [0, 0, 0]]), encoding="utf-8")
    assert len(predict_file(numeric_saved, path)) == 2


def test_numeric_predict_jsonl_objects(numeric_run, numeric_saved):
    path = numeric_run[1] / "rows.jsonl"
    path.write_text('{"a": 3, "b": 3, "c": 3, "size": "large"}\n{"c": 0, "b": 0, "a": 0}\n',
                    encoding="utf-8")
    np.testing.assert_array_equal(read_inputs(path, numeric_saved).x, [[3, 3, 3], [0, 0, 0]])


@pytest.mark.parametrize("shape", [(2, 4), (2, 3, 1), (4,)])
def test_numeric_predict_wrong_shape(numeric_run, numeric_saved, shape):
    path = numeric_run[1] / "wrong.npy"
    np.save(path, np.zeros(shape, dtype="float32"))
    with pytest.raises(DataError, match=r"the model expects examples of shape \[3\]"):
        predict_arrays(numeric_saved, read_inputs(path, numeric_saved).x)


def test_numeric_cli_predict_wrong_shape_exit_code(numeric_run):
    run_dir, tmp = numeric_run
    path = tmp / "wrong-cli.npy"
    np.save(path, np.zeros((2, 5), dtype="float32"))
    result = runner.invoke(app, ["predict", str(run_dir), str(path)])
    assert result.exit_code == 2
    assert "expects examples of shape [3]" in result.stderr
    assert "Traceback" not in result.output


def test_txt_on_a_numeric_run(numeric_run, numeric_saved):
    run_dir, tmp = numeric_run
    path = tmp / "lines.txt"
    path.write_text("some text\n", encoding="utf-8")
    with pytest.raises(DataError, match="need a text model"):
        read_inputs(path, numeric_saved)
    result = runner.invoke(app, ["predict", str(run_dir), str(path)])
    assert result.exit_code == 2
    assert "lines.txt" in result.stderr and "text model" in result.stderr
    assert result.stdout == ""


def test_numeric_cli_predict_csv(numeric_run):
    run_dir, tmp = numeric_run
    path = tmp / "cli.csv"
    path.write_text("a,b,c\n3,3,3\n0,0,0\n-1,0,1\n", encoding="utf-8")
    result = runner.invoke(app, ["predict", str(run_dir), str(path)])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["row"] for r in records] == [2, 3, 4]
    check_classified(records, {"large", "small"})


def test_unknown_input_format(numeric_run, numeric_saved):
    path = numeric_run[1] / "inputs.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(DataError, match="supported inputs are"):
        read_inputs(path, numeric_saved)


def test_missing_input_file(numeric_saved, tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        read_inputs(tmp_path / "nope.csv", numeric_saved)
