"""``declml serve`` and ``declml.serving``: HTTP answers, request checks, batching, the CLI.

Three tiny runs are trained once per module (the digits CNN of ``TINY_SPEC``, the
SMS spec on 40 messages, a 3-column CSV classifier) and served in-process with
FastAPI's ``TestClient``; one test also starts ``declml serve`` as a real server
on a free port. Served predictions are compared with ``predict_arrays`` on the
same raw inputs: the server must answer what ``declml predict`` would.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from importlib import metadata as importlib_metadata
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from declml.cli.main import app as cli_app
from declml.errors import DataError, DeclmlError
from declml.run.predict import predict_arrays
from declml.run.saved import load_run
from declml.run.train import train
from declml.serving import create_app
from declml.serving.batching import Batcher, bucket_sizes
from declml.serving.service import ModelService, ServeSettings
from declml.serving.signature import MAX_PROBLEMS, RequestProblem
from declml.spec.api import load_spec, spec_from_data
from tests.conftest import SPECS, TINY_SPEC

pytestmark = pytest.mark.backends

runner = CliRunner()

READY_TIMEOUT = 120  # seconds: loading + warm-up on a slow, shared CI machine
MAX_INSTANCES = 40
MAX_BODY = 64 * 1024
DIGITS_SETTINGS = ServeSettings(max_instances=MAX_INSTANCES, max_body_bytes=MAX_BODY,
                                max_batch=16)
SMALL_SETTINGS = ServeSettings(max_instances=MAX_INSTANCES, max_body_bytes=MAX_BODY,
                               max_batch=4)
D8 = "shape [8, 8] (or any nesting of 64 numbers)"  # what the digits run asks for
COLUMNS = "shape [3] (columns a, b, c; or an object of them)"  # ... and the CSV run

HAM = ["see you at lunch", "ok call me later", "thanks for dinner tonight",
       "are you home yet", "meeting moved to noon"]
SPAM = ["WIN cash prize now", "free entry claim your reward", "urgent you won a prize",
        "claim free cash now", 'txt "WIN" to claim']


def quiet(_: str) -> None:
    pass


# --- runs and servers -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory) -> Path:
    """``TINY_SPEC`` (digits, Conv2D 4 -> Dense 10) trained for one epoch."""
    tmp = tmp_path_factory.mktemp("serve_digits")
    path = tmp / "tiny.yaml"
    path.write_text(TINY_SPEC, encoding="utf-8")
    spec = load_spec(path, ["fit.epochs=1"])
    return train(spec, tmp / "run", log=quiet, verbose=0).run_dir


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    """specs/sms_spam_lstm.yaml trained for one epoch on 40 short messages."""
    tmp = tmp_path_factory.mktemp("serve_sms")
    tsv = tmp / "sms.tsv"
    lines = ["Label\tSMS"]
    for i in range(20):
        lines += [f"ham\t{HAM[i % 5]}", f"spam\t{SPAM[i % 5]}"]
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spec = load_spec(SPECS / "sms_spam_lstm.yaml", [f"data.path={tsv}", "fit.epochs=1"])
    return train(spec, tmp / "run", log=quiet, verbose=0).run_dir


@pytest.fixture(scope="module")
def numeric_run(tmp_path_factory) -> Path:
    """A CSV with feature columns a, b, c and string classes large/small in column 'size'."""
    tmp = tmp_path_factory.mktemp("serve_csv")
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
    return train(spec, tmp / "run", log=quiet, verbose=0).run_dir


def wait_ready(client: TestClient) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while (answer := client.get("/health")).status_code != 200:
        assert answer.status_code == 503, answer.text
        assert answer.json()["status"] == "loading", answer.json()
        assert time.monotonic() < deadline, f"not ready after {READY_TIMEOUT} s"
        time.sleep(0.05)


def wait_settled(client: TestClient) -> httpx.Response:
    """/health once the service is no longer loading (ready or failed)."""
    deadline = time.monotonic() + READY_TIMEOUT
    while (answer := client.get("/health")).json()["status"] == "loading":
        assert time.monotonic() < deadline, f"still loading after {READY_TIMEOUT} s"
        time.sleep(0.05)
    return answer


def serving(run_dir: Path, settings: ServeSettings):
    with TestClient(create_app(run_dir, settings)) as client:
        wait_ready(client)
        yield client


@pytest.fixture(scope="module")
def digits_client(digits_run):
    yield from serving(digits_run, DIGITS_SETTINGS)


@pytest.fixture(scope="module")
def text_client(text_run):
    yield from serving(text_run, SMALL_SETTINGS)


@pytest.fixture(scope="module")
def numeric_client(numeric_run):
    yield from serving(numeric_run, SMALL_SETTINGS)


@pytest.fixture(scope="module")
def digits_images() -> np.ndarray:
    """The first 64 raw digits images, 8×8 pixel values 0-16 (what the run trained on)."""
    from declml.data.sources import load_digits

    return np.asarray(load_digits().train.x[:64], dtype="float32")


@pytest.fixture(scope="module")
def digits_offline(digits_run, digits_images) -> np.ndarray:
    """``declml predict``'s outputs for ``digits_images``."""
    return predict_arrays(load_run(digits_run), digits_images)


def post(client, body) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/predict", content=content,
                       headers={"content-type": "application/json"})


def assert_agrees(records: list[dict], expected: np.ndarray,
                  class_names: list[str] | None = None) -> None:
    """Served records match offline probabilities (to ~1e-5) and their top class."""
    assert len(records) == len(expected)
    for record, row in zip(records, expected, strict=True):
        probabilities = record["probabilities"]
        if class_names:
            assert list(probabilities) == class_names
            probabilities = [probabilities[c] for c in class_names]
        assert probabilities == pytest.approx(row.tolist(), abs=1e-5)
        assert record["probability"] == pytest.approx(float(row.max()), abs=1e-5)
        top2 = np.sort(row)[-2:]
        if top2[1] - top2[0] > 1e-4:  # not a tie within float noise
            assert record["class_index"] == int(np.argmax(row))
        index = record["class_index"]
        assert record["class"] == (class_names[index] if class_names else index)


def assert_problem_body(answer: httpx.Response, status: int) -> dict:
    """An error answer: the status, JSON with 'error', never a traceback."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    assert "Traceback" not in answer.text
    body = answer.json()
    assert set(body) <= {"error", "problems", "problems_not_listed"}
    assert isinstance(body["error"], str) and body["error"]
    for problem in body.get("problems", []):
        assert set(problem) == {"instance", "input", "expected", "got", "message"}
    return body


# --- health, metadata, OpenAPI --------------------------------------------------------------------


def test_health_is_ready_after_warm_up(digits_client, digits_run):
    answer = digits_client.get("/health")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ready"
    assert body["model"] == "tiny"
    assert body["run"] == str(digits_run)
    assert body["load_seconds"] >= 0 and body["warmup_seconds"] >= 0
    assert "error" not in body
    service = digits_client.app.state.service
    assert service.ready and service.batcher.sizes == [1, 2, 4, 8, 16]


def test_metadata_of_the_digits_run(digits_client, digits_run):
    import keras

    meta = digits_client.get("/metadata").json()
    assert meta["name"] == "tiny"
    assert meta["run"] == str(digits_run)
    backend = keras.backend.backend()
    assert meta["versions"]["backend"] == backend
    assert meta["versions"]["keras"] == keras.__version__
    assert meta["versions"]["declml"] == importlib_metadata.version("declml")
    assert backend in meta["versions"]
    assert meta["inputs"] == [{"name": "input", "kind": "tensor", "dtype": "float32",
                               "shape": [8, 8], "model_shape": [8, 8, 1],
                               "accepts_any_shape_of_size": 64}]
    assert meta["preprocessing"] == "applied by the server, as in training"
    assert [(o["name"], o["shape"], o["task"]) for o in meta["outputs"]] == [
        ("output", [10], "classification")]
    assert meta["class_names"] is None
    assert meta["plugins"] == []
    assert meta["limits"] == {"max_instances": MAX_INSTANCES, "max_body_bytes": MAX_BODY,
                              "max_batch": 16, "batch_wait_ms": 0.0}
    assert meta["example_request"] == {"instances": [np.zeros((8, 8)).tolist()]}
    assert set(meta["test_metrics"]) >= {"accuracy", "loss"}
    # the example request is a valid request
    answer = digits_client.post("/predict", json=meta["example_request"])
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1


def test_metadata_of_the_text_run(text_client):
    meta = text_client.get("/metadata").json()
    assert meta["name"] == "sms_spam_lstm"
    assert meta["inputs"] == [{"name": "SMS", "kind": "text", "dtype": "string", "shape": [],
                               "model_shape": [100]}]
    assert meta["class_names"] == ["ham", "spam"]
    assert meta["outputs"][0]["classes"] == ["ham", "spam"]
    assert meta["outputs"][0]["shape"] == [2]
    assert meta["example_request"] == {"instances": ["a text to classify"]}


def test_metadata_of_the_csv_run(numeric_client):
    meta = numeric_client.get("/metadata").json()
    assert meta["name"] == "sizes"
    assert meta["inputs"] == [{"name": "input", "kind": "tensor", "dtype": "float32",
                               "shape": [3], "model_shape": [3], "columns": ["a", "b", "c"]}]
    assert meta["class_names"] == ["large", "small"]
    assert meta["example_request"] == {"instances": [{"a": 0.0, "b": 0.0, "c": 0.0}]}
    assert meta["limits"]["max_batch"] == 4


def request_schema(client) -> dict:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/predict"]["post"]["requestBody"]
    assert body["required"] is True
    return body["content"]["application/json"]


def test_openapi_has_the_real_digits_shapes(digits_client):
    document = digits_client.get("/openapi.json").json()
    assert document["info"]["title"] == "declml: tiny"
    content = request_schema(digits_client)
    schema = content["schema"]
    assert schema["required"] == ["instances"] and schema["additionalProperties"] is False
    instances = schema["properties"]["instances"]
    assert (instances["minItems"], instances["maxItems"]) == (1, MAX_INSTANCES)
    forms = instances["items"]["anyOf"][0]
    assert "64 numbers" in forms["description"]
    image, flat = forms["anyOf"]
    assert (image["type"], image["minItems"], image["maxItems"]) == ("array", 8, 8)
    assert (image["items"]["minItems"], image["items"]["maxItems"]) == (8, 8)
    assert image["items"]["items"] == {"type": "number"}
    assert flat == {"type": "array", "items": {"type": "number"}, "minItems": 64,
                    "maxItems": 64}
    named = instances["items"]["anyOf"][1]
    assert named["required"] == ["input"]
    assert named["properties"]["input"]["anyOf"][0]["minItems"] == 8
    assert content["example"] == {"instances": [np.zeros((8, 8)).tolist()]}
    responses = document["paths"]["/predict"]["post"]["responses"]
    assert {"413", "422", "503"} <= set(responses)
    assert digits_client.get("/docs").status_code == 200
    assert digits_client.get("/", follow_redirects=False).headers["location"] == "/docs"


def test_openapi_of_the_text_and_csv_runs(text_client, numeric_client):
    text = request_schema(text_client)["schema"]["properties"]["instances"]["items"]
    assert text["anyOf"][0]["type"] == "string"
    assert text["anyOf"][1]["required"] == ["SMS"]
    assert text["anyOf"][1]["properties"]["SMS"]["type"] == "string"
    table = request_schema(numeric_client)["schema"]["properties"]["instances"]["items"]
    assert table["oneOf"][0] == {"type": "array", "items": {"type": "number"},
                                 "minItems": 3, "maxItems": 3}
    assert table["oneOf"][1]["required"] == ["a", "b", "c"]
    assert set(table["oneOf"][1]["properties"]) == {"a", "b", "c"}


# --- correct predictions --------------------------------------------------------------------------


def test_digits_predictions_equal_offline_predictions(digits_client, digits_images,
                                                      digits_offline):
    sent = digits_images[:10]
    answer = digits_client.post("/predict", json={"instances": sent.tolist()})
    assert answer.status_code == 200, answer.text
    records = answer.json()["predictions"]
    assert_agrees(records, digits_offline[:10])
    assert all(len(r["probabilities"]) == 10 for r in records)
    assert all(sum(r["probabilities"]) == pytest.approx(1.0, abs=1e-4) for r in records)


@pytest.mark.parametrize("form", ["8x8", "flat 64", "64x1", "object", "object flat"])
def test_digits_accept_any_nesting_of_64_numbers(digits_client, digits_images, digits_offline,
                                                 form):
    images = digits_images[:3]
    instances = {"8x8": images.tolist(),
                 "flat 64": images.reshape(3, 64).tolist(),
                 "64x1": images.reshape(3, 64, 1).tolist(),
                 "object": [{"input": x} for x in images.tolist()],
                 "object flat": [{"input": x} for x in images.reshape(3, 64).tolist()]}[form]
    answer = digits_client.post("/predict", json={"instances": instances})
    assert answer.status_code == 200, answer.text
    assert_agrees(answer.json()["predictions"], digits_offline[:3])


def test_more_instances_than_max_batch_are_chunked(digits_client, digits_images, digits_offline):
    service = digits_client.app.state.service
    rows_before = service.batcher.batched_rows
    answer = digits_client.post("/predict", json={"instances": digits_images[:37].tolist()})
    assert answer.status_code == 200, answer.text
    assert_agrees(answer.json()["predictions"], digits_offline[:37])
    assert service.batcher.batched_rows - rows_before == 37


def test_text_predictions_equal_offline_predictions(text_client, text_run):
    texts = ["WIN cash prize now", "see you at lunch", "", "brand new words ünïcödé 😀",
             'txt "WIN" to claim\nnow']
    expected = predict_arrays(load_run(text_run), np.array(texts, dtype=object))
    for instances in (texts, [{"SMS": t} for t in texts],
                      [{"SMS": t, "Label": "spam"} for t in texts]):  # the target is ignored
        answer = text_client.post("/predict", json={"instances": instances})
        assert answer.status_code == 200, answer.text
        assert_agrees(answer.json()["predictions"], expected, ["ham", "spam"])


def test_csv_predictions_equal_offline_predictions(numeric_client, numeric_run):
    rows = [[3.0, 3.0, 3.0], [0.0, 0.0, 0.0], [2.5, 3.0, 3.5], [-1, 0.5, 2]]
    expected = predict_arrays(load_run(numeric_run), np.array(rows, dtype="float32"))
    objects = [dict(zip("abc", r, strict=True)) for r in rows]
    reordered = [{"c": r[2], "size": "large", "a": r[0], "b": r[1]} for r in rows]
    for instances in (rows, objects, reordered, [rows[0], objects[1], reordered[2], rows[3]]):
        answer = numeric_client.post("/predict", json={"instances": instances})
        assert answer.status_code == 200, answer.text
        assert_agrees(answer.json()["predictions"], expected, ["large", "small"])


def test_predict_sync_without_http(numeric_client, numeric_run):
    service = numeric_client.app.state.service
    expected = predict_arrays(load_run(numeric_run), np.array([[3, 3, 3]], dtype="float32"))
    assert_agrees(service.predict_sync([{"a": 3, "b": 3, "c": 3}]), expected,
                  ["large", "small"])
    with pytest.raises(RequestProblem) as caught:
        service.predict_sync([[1, 2]])
    assert caught.value.status == 422
    assert "instance 0, input 'input'" in caught.value.message


# --- bad requests: 422 and 413, never a 500 -------------------------------------------------------

Z = np.zeros((8, 8)).tolist()
RAGGED = [[0] * 8] * 7 + [[0] * 7]
WITH_NULL = [[0] * 8] * 3 + [[0, 0, 0, 0, None, 0, 0, 0]] + [[0] * 8] * 4
WITH_BOOL = [[True] * 8] * 8


def deep(levels: int):
    value: object = 0
    for _ in range(levels):
        value = [value]
    return value


# (fixture, body, status, fragments of "error", the first problem's fields or None)
BAD_REQUESTS = {
    # the body itself
    "empty list": ("digits_client", {"instances": []}, 422,
                   ["'instances' is empty", "at least one example"], None),
    "not JSON": ("digits_client", b"{instances: [1]}", 422,
                 ["not valid JSON", "line 1, column 2", '{"instances": [...]}'], None),
    "trailing comma": ("digits_client", b'{"instances": [1,]}', 422,
                       ["not valid JSON", "line 1"], None),
    "empty body": ("digits_client", b"", 422, ["the request body is empty"], None),
    "blank body": ("digits_client", b" \n ", 422, ["the request body is empty"], None),
    "NaN": ("digits_client", b'{"instances": [NaN]}', 422,
            ["NaN", "not a JSON number", "finite numbers"], None),
    "Infinity": ("digits_client", b'{"instances": [[[Infinity, 0]]]}', 422,
                 ["Infinity", "not a JSON number"], None),
    "-Infinity": ("digits_client", b'{"instances": [-Infinity]}', 422,
                  ["-Infinity", "not a JSON number"], None),
    "not an object": ("digits_client", [Z], 422,
                      ['must be a JSON object {"instances": [...]}', "got a list of 1"], None),
    "a string body": ("digits_client", "hello", 422, ["got a string"], None),
    "no instances": ("digits_client", {"inputs": [Z]}, 422,
                     ["got an object without 'instances'"], None),
    "extra top-level field": ("digits_client", {"instances": [Z], "parameters": {}}, 422,
                              ["unknown request field 'parameters'", "only field is 'instances'"],
                              None),
    "instances not a list": ("digits_client", {"instances": {"input": Z}}, 422,
                             ["'instances' must be a list of examples, got an object"], None),
    # a digits instance
    "wrong shape": ("digits_client", {"instances": [Z, [[0] * 8] * 7]}, 422,
                    ["instance 1, input 'input': expected shape [8, 8]", "got shape [7, 8]"],
                    {"instance": 1, "input": "input", "expected": D8, "got": "shape [7, 8]"}),
    "wrong size": ("digits_client", {"instances": [list(range(63))]}, 422,
                   ["instance 0, input 'input'", "expected shape [8, 8]", "got shape [63]"],
                   {"instance": 0, "input": "input", "expected": D8, "got": "shape [63]"}),
    "a scalar": ("digits_client", {"instances": [Z, 5]}, 422,
                 ["instance 1, input 'input'", "got shape []"],
                 {"instance": 1, "input": "input", "expected": D8, "got": "shape []"}),
    "ragged lists": ("digits_client", {"instances": [Z, Z, RAGGED]}, 422,
                     ["instance 2, input 'input'", "expected shape [8, 8]",
                      "nested lists of different lengths"],
                     {"instance": 2, "input": "input", "expected": D8,
                      "got": "nested lists of different lengths"}),
    "string in a numeric model": ("digits_client", {"instances": [Z, "a picture of a 3"]}, 422,
                                  ["instance 1, input 'input'", "expected shape [8, 8]",
                                   "got a string", "text is only accepted by text models"],
                                  {"instance": 1, "input": "input", "expected": D8,
                                   "got": "a string"}),
    "null instance": ("digits_client", {"instances": [None]}, 422,
                      ["instance 0, input 'input': value is null",
                       "expected numbers in shape [8, 8]"],
                      {"instance": 0, "input": "input", "expected": D8, "got": "null"}),
    "null inside": ("digits_client", {"instances": [Z, WITH_NULL]}, 422,
                    ["instance 1, input 'input': value[3][4] is null", "shape [8, 8]"],
                    {"instance": 1, "input": "input", "expected": D8, "got": "null"}),
    "booleans": ("digits_client", {"instances": [WITH_BOOL]}, 422,
                 ["instance 0, input 'input': value[0][0] is a boolean", "shape [8, 8]"],
                 {"instance": 0, "input": "input", "expected": D8, "got": "a boolean"}),
    "nested too deeply": ("digits_client", {"instances": [deep(40)]}, 422,
                          ["instance 0, input 'input'", "nested too deeply", "shape [8, 8]"],
                          {"instance": 0, "input": "input", "expected": D8,
                           "got": "nested too deeply"}),
    "missing input": ("digits_client", {"instances": [Z, {}]}, 422,
                      ["instance 1: missing input 'input'"],
                      {"instance": 1, "input": "input", "expected": D8, "got": "nothing"}),
    "unknown key": ("digits_client", {"instances": [{"inputs": Z}]}, 422,
                    ["instance 0: unknown key 'inputs' (did you mean 'input'?)",
                     "(and 1 more problem)"],
                    {"instance": 0, "input": "inputs", "expected": "one of input",
                     "got": "an unknown key"}),
    # a text instance
    "number in a text model": ("text_client", {"instances": ["hello", 3]}, 422,
                               ["instance 1, input 'SMS': expected a string, got a number"],
                               {"instance": 1, "input": "SMS", "expected": "a string",
                                "got": "a number"}),
    "null in a text model": ("text_client", {"instances": [None]}, 422,
                             ["instance 0, input 'SMS': expected a string, got null"],
                             {"instance": 0, "input": "SMS", "expected": "a string",
                              "got": "null"}),
    "list in a text model": ("text_client", {"instances": [["hello"]]}, 422,
                             ["instance 0, input 'SMS': expected a string, got a list of 1"],
                             {"instance": 0, "input": "SMS", "expected": "a string",
                              "got": "a list of 1"}),
    "object value not a string": ("text_client", {"instances": [{"SMS": 5}]}, 422,
                                  ["instance 0, input 'SMS': expected a string, got a number"],
                                  {"instance": 0, "input": "SMS", "expected": "a string",
                                   "got": "a number"}),
    "unknown text key": ("text_client", {"instances": [{"SMSS": "hello"}]}, 422,
                         ["instance 0: unknown key 'SMSS' (did you mean 'SMS'?)"],
                         {"instance": 0, "input": "SMSS", "expected": "one of SMS",
                          "got": "an unknown key"}),
    "the target column is not suggested": (
        "text_client", {"instances": [{"sms": "hello"}]}, 422,
        ["instance 0: unknown key 'sms' (expected: SMS)"],
        {"instance": 0, "input": "sms", "expected": "one of SMS", "got": "an unknown key"}),
    "missing text": ("text_client", {"instances": ["hi", {"Label": "ham"}]}, 422,
                     ["instance 1: missing input 'SMS'"],
                     {"instance": 1, "input": "SMS", "expected": "a string",
                      "got": "nothing"}),
    # a CSV instance
    "unknown column": ("numeric_client", {"instances": [{"a": 1, "b": 2, "cc": 3}]}, 422,
                       ["instance 0: unknown key 'cc' (did you mean 'c'?)"],
                       {"instance": 0, "input": "cc", "expected": "one of a, b, c",
                        "got": "an unknown key"}),
    "a misspelt target column": (
        "numeric_client", {"instances": [{"a": 1, "b": 2, "c": 3, "sise": "large"}]}, 422,
        ["instance 0: unknown key 'sise' (expected: a, b, c)"],
        {"instance": 0, "input": "sise", "expected": "one of a, b, c", "got": "an unknown key"}),
    "missing column": ("numeric_client", {"instances": [[1, 2, 3], {"a": 1, "b": 2}]}, 422,
                       ["instance 1: missing column 'c' (columns: a, b, c)"],
                       {"instance": 1, "input": "input", "expected": COLUMNS,
                        "got": "no column 'c'"}),
    "too many columns": ("numeric_client", {"instances": [[1, 2, 3, 4]]}, 422,
                         ["instance 0, input 'input': expected shape [3]", "got shape [4]"],
                         {"instance": 0, "input": "input", "expected": COLUMNS,
                          "got": "shape [4]"}),
    "string column value": ("numeric_client", {"instances": [{"a": "1", "b": 2, "c": 3}]}, 422,
                            ["instance 0, input 'a': expected a number, got a string"],
                            {"instance": 0, "input": "a", "expected": "a number",
                             "got": "a string"}),
    "CSV line as a string": ("numeric_client", {"instances": ["1,2,3"]}, 422,
                             ["instance 0, input 'input'", "got a string"],
                             {"instance": 0, "input": "input", "expected": COLUMNS,
                              "got": "a string"}),
    "too large for float32": ("numeric_client", {"instances": [[1e39, 0, 0]]}, 422,
                              ["instance 0, input 'input'", "too large for float32"],
                              {"instance": 0, "input": "input", "expected": COLUMNS,
                               "got": "a number too large for float32 (beyond ±3.4e38)"}),
    # limits
    "too many instances": ("digits_client", {"instances": [Z] * (MAX_INSTANCES + 1)}, 413,
                           [f"{MAX_INSTANCES + 1} instances in one request",
                            f"at most {MAX_INSTANCES}", "--max-instances"], None),
    "too many instances (text)": ("text_client", {"instances": ["x"] * 100}, 413,
                                  ["100 instances in one request"], None),
}


@pytest.mark.parametrize(("fixture", "body", "status", "fragments", "problem"),
                         list(BAD_REQUESTS.values()), ids=list(BAD_REQUESTS))
def test_bad_request(request, fixture, body, status, fragments, problem):
    client = request.getfixturevalue(fixture)
    answer = assert_problem_body(post(client, body), status)
    for fragment in fragments:
        assert fragment in answer["error"], answer["error"]
    if problem is None:
        assert "problems" not in answer
        return
    first = answer["problems"][0]
    assert {k: first[k] for k in problem} == problem
    assert answer["error"].startswith(first["message"])
    assert first["message"].startswith(f"instance {problem['instance']}")


def test_every_bad_instance_is_listed(numeric_client):
    instances = [[1, 2, 3], [1, 2], {"a": 1, "b": 2, "c": 3}, "x", [1, 2, None]]
    answer = assert_problem_body(post(numeric_client, {"instances": instances}), 422)
    assert [(p["instance"], p["got"]) for p in answer["problems"]] == [
        (1, "shape [2]"), (3, "a string"), (4, "null")]
    assert answer["error"].endswith("(and 2 more problems)")
    assert "problems_not_listed" not in answer


def test_problems_are_capped(digits_client):
    short = [[0] * 8] * 7
    answer = assert_problem_body(post(digits_client, {"instances": [short] * 25}), 422)
    assert len(answer["problems"]) == MAX_PROBLEMS == 20
    assert answer["problems_not_listed"] == 5
    assert [p["instance"] for p in answer["problems"]] == list(range(20))
    assert answer["error"] == ("instance 0, input 'input': expected " + D8 +
                               ", got shape [7, 8] (and 24 more problems)")


def test_the_server_keeps_answering_after_bad_requests(digits_client, digits_images,
                                                       digits_offline):
    for body in (b"", b"{", {"instances": [None]}, {"instances": [Z] * 100}):
        assert post(digits_client, body).status_code in (413, 422)
    answer = digits_client.post("/predict", json={"instances": digits_images[5:7].tolist()})
    assert answer.status_code == 200
    assert_agrees(answer.json()["predictions"], digits_offline[5:7])


@pytest.mark.parametrize("fixture", ["digits_client", "numeric_client"])
def test_an_integer_too_large_for_a_float_is_422(request, fixture):
    client = request.getfixturevalue(fixture)
    huge = str(10 ** 400)
    if fixture == "digits_client":
        body = ('{"instances": [[' + ", ".join(["[" + ", ".join([huge] * 8) + "]"] * 8)
                + "]]}").encode()
    else:
        body = ('{"instances": [[1, 2, ' + huge + "]]}").encode()
    answer = assert_problem_body(post(client, body), 422)
    assert "instance 0, input 'input'" in answer["error"]
    assert "too large" in answer["error"]


def test_a_float_too_large_for_float32_is_422_for_tensor_inputs(digits_client):
    answer = assert_problem_body(post(digits_client, {"instances": [[[1e39] * 8] * 8]}), 422)
    assert "instance 0, input 'input'" in answer["error"]
    assert "too large for float32" in answer["error"]


def test_a_boolean_among_numbers_is_422(digits_client):
    image = np.zeros((8, 8)).tolist()
    image[0][0] = True
    answer = assert_problem_body(post(digits_client, {"instances": [image]}), 422)
    assert "instance 0, input 'input': value[0][0] is a boolean" in answer["error"]


def test_a_body_that_is_not_utf8_says_so(digits_client):
    answer = assert_problem_body(post(digits_client, b'{"instances": ["caf\xe9"]}'), 422)
    assert "nested too deeply" not in answer["error"]
    assert "utf-8" in answer["error"].lower()


def test_a_body_over_the_limit_is_413(digits_client):
    body = b'{"instances": [' + b" " * MAX_BODY + b"]}"
    answer = assert_problem_body(post(digits_client, body), 413)
    assert answer["error"] == (f"the request body is {len(body):,} bytes; this server takes at "
                               f"most {MAX_BODY:,} bytes (split the request, or start the "
                               "server with a larger --max-body-mb)")


def test_a_chunked_body_over_the_limit_is_413(digits_client):
    def chunks():
        for _ in range(MAX_BODY // 1000 + 2):
            yield b" " * 1000

    answer = digits_client.post("/predict", content=chunks(),
                                headers={"content-type": "application/json"})
    body = assert_problem_body(answer, 413)
    assert f"over {MAX_BODY:,} bytes" in body["error"]
    assert "--max-body-mb" in body["error"]


def test_bodies_under_the_limit_are_read_whole(digits_client, digits_images, digits_offline):
    """Padded close to the limit, with a Content-Length and streamed in chunks."""
    payload = json.dumps({"instances": digits_images[:2].tolist()}).encode()
    padded = payload[:-1] + b" " * (MAX_BODY - len(payload) - 10) + payload[-1:]
    assert len(padded) < MAX_BODY
    answer = post(digits_client, padded)
    assert answer.status_code == 200, answer.text
    assert_agrees(answer.json()["predictions"], digits_offline[:2])

    def chunks():
        for start in range(0, len(padded), 999):
            yield padded[start:start + 999]

    answer = digits_client.post("/predict", content=chunks(),
                                headers={"content-type": "application/json"})
    assert answer.status_code == 200, answer.text
    assert answer.request.headers.get("transfer-encoding") == "chunked"
    assert_agrees(answer.json()["predictions"], digits_offline[:2])


# --- concurrency ----------------------------------------------------------------------------------


def test_concurrent_requests_get_their_own_answers(digits_client, digits_images, digits_offline):
    app = digits_client.app
    batcher = app.state.service.batcher
    calls_before, rows_before = batcher.calls, batcher.batched_rows
    requests = [(i, 1 + i % 3) for i in range(32)]  # (first image, how many)

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://serve") as client:
            return await asyncio.gather(*(
                client.post("/predict", json={"instances": digits_images[i:i + n].tolist()})
                for i, n in requests))

    answers = asyncio.run(send_all())
    for (i, n), answer in zip(requests, answers, strict=True):
        assert answer.status_code == 200, answer.text
        assert_agrees(answer.json()["predictions"], digits_offline[i:i + n])
    assert batcher.batched_rows - rows_before == sum(n for _, n in requests)
    assert 1 <= batcher.calls - calls_before <= len(requests)  # usually far fewer: batched


def test_concurrent_requests_from_threads(numeric_client, numeric_run):
    rng = np.random.default_rng(1)
    rows = rng.normal(1.5, 2, (24, 3)).round(3)
    expected = predict_arrays(load_run(numeric_run), rows.astype("float32"))
    answers: dict[int, httpx.Response] = {}

    def ask(i: int) -> None:
        instance = dict(zip("abc", rows[i].tolist(), strict=True)) if i % 2 else rows[i].tolist()
        answers[i] = numeric_client.post("/predict", json={"instances": [instance]})

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(rows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(answers) == list(range(len(rows)))
    for i, answer in answers.items():
        assert answer.status_code == 200, answer.text
        assert_agrees(answer.json()["predictions"], expected[i:i + 1], ["large", "small"])


# --- the batcher ----------------------------------------------------------------------------------


class Recorder:
    """A fake model: records each call's inputs and answers ``x * 10`` and ``x.sum(1)``."""

    def __init__(self, fail: BaseException | None = None) -> None:
        self.batches: list[np.ndarray] = []
        self.fail = fail

    def __call__(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        self.batches.append(arrays[0].copy())
        if self.fail is not None:
            raise self.fail
        return [arrays[0] * 10, arrays[0].sum(axis=1)]

    @property
    def sizes(self) -> list[int]:
        return [len(b) for b in self.batches]


def rows(start: int, n: int, width: int = 2) -> np.ndarray:
    return np.arange(start * width, (start + n) * width, dtype="float32").reshape(n, width)


@pytest.fixture
def make_batcher():
    made: list[Batcher] = []

    def make(predict, **kwargs) -> Batcher:
        batcher = Batcher(predict, **kwargs)
        made.append(batcher)
        return batcher

    yield make
    for batcher in made:
        batcher.stop()


@pytest.mark.parametrize(("max_batch", "sizes"), [
    (1, [1]), (2, [1, 2]), (8, [1, 2, 4, 8]), (10, [1, 2, 4, 8, 10]),
    (64, [1, 2, 4, 8, 16, 32, 64]), (100, [1, 2, 4, 8, 16, 32, 64, 100]),
])
def test_bucket_sizes(max_batch, sizes):
    assert bucket_sizes(max_batch) == sizes


def test_jobs_queued_before_start_are_one_padded_call(make_batcher):
    model = Recorder()
    batcher = make_batcher(model, max_batch=8)
    jobs = [rows(0, 1), rows(1, 2), rows(3, 2)]  # 5 rows: padded to 8
    futures = [batcher.submit([x]) for x in jobs]
    batcher.start()
    results = [f.result(timeout=10) for f in futures]
    assert model.sizes == [8]
    assert (batcher.calls, batcher.batched_rows) == (1, 5)
    sent = model.batches[0]
    np.testing.assert_array_equal(sent[:5], rows(0, 5))
    np.testing.assert_array_equal(sent[5:], np.repeat(rows(4, 1), 3, axis=0))  # the padding
    for x, (times_ten, sums) in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(times_ten, x * 10)
        np.testing.assert_array_equal(sums, x.sum(axis=1))


def test_a_job_larger_than_max_batch_is_chunked(make_batcher):
    model = Recorder()
    batcher = make_batcher(model, max_batch=4)
    x = rows(0, 11)
    future = batcher.submit([x])
    batcher.start()
    times_ten, sums = future.result(timeout=10)
    assert model.sizes == [4, 4, 4]  # 4 + 4 + 3 (padded to 4)
    np.testing.assert_array_equal(np.concatenate(model.batches)[:11], x)
    np.testing.assert_array_equal(times_ten, x * 10)
    np.testing.assert_array_equal(sums, x.sum(axis=1))
    assert (batcher.calls, batcher.batched_rows) == (3, 11)


def test_jobs_that_do_not_fit_start_the_next_batch(make_batcher):
    model = Recorder()
    batcher = make_batcher(model, max_batch=4)
    jobs = [rows(0, 3), rows(3, 3), rows(6, 1), rows(7, 5)]
    futures = [batcher.submit([x]) for x in jobs]
    batcher.start()
    results = [f.result(timeout=10) for f in futures]
    # [3] (the next 3 does not fit) | [3, 1] | [5] in chunks of 4 and 1; 3 rows padded to 4
    assert model.sizes == [4, 4, 4, 1]
    for x, (times_ten, _) in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(times_ten, x * 10)
    assert batcher.batched_rows == 12


def test_jobs_of_different_shapes_are_not_merged(make_batcher):
    model = Recorder()
    batcher = make_batcher(model, max_batch=8)
    narrow, wide = rows(0, 2, width=2), rows(0, 2, width=3)
    futures = [batcher.submit([narrow]), batcher.submit([wide])]
    batcher.start()
    (a, _), (b, _) = (f.result(timeout=10) for f in futures)
    np.testing.assert_array_equal(a, narrow * 10)
    np.testing.assert_array_equal(b, wide * 10)
    assert [x.shape for x in model.batches] == [(2, 2), (2, 3)]


def test_an_exception_reaches_every_waiting_request(make_batcher):
    model = Recorder(fail=ValueError("the model broke"))
    batcher = make_batcher(model, max_batch=8)
    futures = [batcher.submit([rows(i, 1)]) for i in range(3)]
    batcher.start()
    for future in futures:
        with pytest.raises(ValueError, match="the model broke"):
            future.result(timeout=10)
    assert model.sizes == [4]  # one merged call failed for all three
    model.fail = None  # the batcher thread survives and answers the next job
    times_ten, _ = batcher.submit([rows(0, 1)]).result(timeout=10)
    np.testing.assert_array_equal(times_ten, rows(0, 1) * 10)


def test_a_cancelled_job_is_not_predicted(make_batcher):
    model = Recorder()
    batcher = make_batcher(model, max_batch=8)
    futures = [batcher.submit([rows(i, 1)]) for i in range(3)]
    assert futures[1].cancel()
    batcher.start()
    np.testing.assert_array_equal(futures[0].result(timeout=10)[0], rows(0, 1) * 10)
    np.testing.assert_array_equal(futures[2].result(timeout=10)[0], rows(2, 1) * 10)
    np.testing.assert_array_equal(model.batches[0][:2], np.concatenate([rows(0, 1),
                                                                        rows(2, 1)]))
    assert batcher.batched_rows == 2


def test_batch_wait_lets_a_later_job_join(make_batcher):
    model = Recorder()
    batcher = make_batcher(model, max_batch=4, wait_s=30.0)  # a full batch never waits
    batcher.start()
    first = batcher.submit([rows(0, 2)])
    time.sleep(0.05)
    second = batcher.submit([rows(2, 2)])
    np.testing.assert_array_equal(first.result(timeout=10)[0], rows(0, 2) * 10)
    np.testing.assert_array_equal(second.result(timeout=10)[0], rows(2, 2) * 10)
    assert model.sizes == [4]
    assert batcher.calls == 1


def test_warm_up_predicts_every_padded_size(make_batcher):
    model = Recorder()
    batcher = make_batcher(model, max_batch=6)
    seconds = batcher.warm_up([rows(0, 1)])
    assert seconds >= 0
    assert model.sizes == [1, 2, 4, 6]
    assert all((b == rows(0, 1)).all() for b in model.batches)


def test_stop_ends_an_idle_batcher(make_batcher):
    batcher = make_batcher(Recorder(), max_batch=2)
    batcher.start()
    batcher.submit([rows(0, 1)]).result(timeout=10)
    batcher.stop()
    assert not batcher._thread.is_alive()


def test_stop_while_jobs_are_queued_ends_the_batcher():
    entered, release = threading.Event(), threading.Event()

    def slow(arrays: list[np.ndarray]) -> list[np.ndarray]:
        entered.set()
        release.wait(10)
        return [arrays[0] * 10]

    batcher = Batcher(slow, max_batch=4)
    batcher.start()
    first = batcher.submit([rows(0, 1)])
    assert entered.wait(10)
    second = batcher.submit([rows(1, 1)])  # queued while the model is busy
    batcher._queue.put(None)  # what stop() queues (without its 5 s join)
    release.set()
    np.testing.assert_array_equal(first.result(timeout=10)[0], rows(0, 1) * 10)
    np.testing.assert_array_equal(second.result(timeout=10)[0], rows(1, 1) * 10)
    batcher._thread.join(timeout=2)
    alive = batcher._thread.is_alive()
    if alive:
        batcher._queue.put(None)  # let the leaked thread go
    assert not alive


# --- the service: settings, loading, failure ------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"max_batch": 0}, "max_batch must be at least 1, got 0"),
    ({"max_instances": 0}, "max_instances must be at least 1, got 0"),
    ({"max_body_bytes": -5}, "max_body_bytes must be at least 1, got -5"),
    ({"batch_wait_ms": -1}, "batch_wait_ms must be between 0 and 1000, got -1"),
    ({"batch_wait_ms": 1001}, "batch_wait_ms must be between 0 and 1000, got 1001"),
])
def test_serve_settings_reject_bad_limits(kwargs, message):
    with pytest.raises(DataError, match=re.escape(message)):
        ServeSettings(**kwargs)


@pytest.mark.parametrize("what", ["missing", "empty"])
def test_a_run_that_cannot_load_fails_health(tmp_path, what):
    run_dir = tmp_path / "no_such_run"
    if what == "empty":
        run_dir.mkdir()
    with TestClient(create_app(run_dir)) as client:
        health = wait_settled(client)
        assert health.status_code == 503
        assert health.headers["retry-after"] == "1"
        body = health.json()
        assert body["status"] == "failed"
        assert str(run_dir) in body["error"]
        assert ("does not exist" if what == "missing" else "not a complete run directory") \
            in body["error"]
        answer = assert_problem_body(client.post("/predict", json={"instances": [Z]}), 503)
        assert answer["error"].startswith("the model could not be loaded: ")
        assert str(run_dir) in answer["error"]
        assert client.post("/predict", json={"instances": [Z]}).headers["retry-after"] == "1"
        assert assert_problem_body(client.get("/metadata"), 503)["error"] == answer["error"]
        assert client.get("/openapi.json").status_code == 200
    service = ModelService(run_dir)
    with pytest.raises(DeclmlError, match=re.escape(str(run_dir))):
        service.load()
    assert service.state == "failed" and str(run_dir) in service.error


class GatedService(ModelService):
    """Loads only once the test opens the gate: /health says "loading" meanwhile."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.gate = threading.Event()

    def _load(self) -> None:
        assert self.gate.wait(READY_TIMEOUT)
        super()._load()


def test_loading_then_ready(numeric_run, numeric_client):
    service = GatedService(numeric_run, ServeSettings(max_batch=1))
    try:
        with TestClient(create_app(numeric_run, service=service)) as client:
            health = client.get("/health")
            assert health.status_code == 503
            assert health.headers["retry-after"] == "1"
            assert health.json() == {"status": "loading", "run": str(numeric_run)}
            answer = assert_problem_body(client.post("/predict", json={"instances": [[1, 2, 3]]}),
                                         503)
            assert answer["error"] == ("the model is still loading; retry when /health says "
                                       "ready")
            assert assert_problem_body(client.get("/metadata"), 503)["error"] == answer["error"]
            generic = request_schema(client)["schema"]
            assert generic == {"type": "object"}  # not known yet, and not cached
            service.gate.set()
            wait_ready(client)
            assert client.get("/health").json()["model"] == "sizes"
            table = request_schema(client)["schema"]["properties"]["instances"]["items"]
            assert table["oneOf"][1]["required"] == ["a", "b", "c"]
            answer = client.post("/predict", json={"instances": [[3, 3, 3]]})
            assert answer.status_code == 200
            expected = numeric_client.post("/predict", json={"instances": [[3, 3, 3]]})
            assert answer.json() == expected.json()
        assert not service.batcher._thread.is_alive()  # the lifespan's shutdown stopped it
    finally:
        service.gate.set()


# --- the CLI: a real server, and its errors -------------------------------------------------------


def _declml() -> list[str]:
    return [sys.executable, "-m", "declml"]


class Server:
    """``declml serve`` in a subprocess; ``url`` once it printed where it listens."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen([*_declml(), "serve", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, encoding="utf-8",
                                        errors="replace", env={**os.environ, "NO_COLOR": "1"})
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.url = self._wait_for_url()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.put(line)
        self.lines.put(None)

    def _wait_for_url(self) -> str:
        deadline = time.monotonic() + READY_TIMEOUT
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no URL after {READY_TIMEOUT} s: {''.join(self.stderr)}"
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            assert line is not None, f"exited {self.process.wait()}: {''.join(self.stderr)}"
            self.stderr.append(line)
            found = re.search(r"http://127\.0\.0\.1:(\d+)", re.sub(r"\x1b\[[0-9;]*m", "", line))
            if found:
                return found.group(0)

    def stop(self, sig: int) -> tuple[int, str]:
        self.process.send_signal(sig)
        code = self.process.wait(timeout=60)
        while (line := self.lines.get(timeout=10)) is not None:
            self.stderr.append(line)
        return code, "".join(self.stderr)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_declml_serve_over_real_http(digits_run, digits_images, digits_offline):
    server = Server(str(digits_run), "--port", "0", "--max-batch", "2", "--max-instances", "4",
                    "--max-body-mb", "0.01")
    try:
        assert "serving tiny" in "".join(server.stderr)
        with httpx.Client(base_url=server.url, timeout=60) as client:
            health = client.get("/health")
            assert health.status_code == 200 and health.json()["status"] == "ready"
            meta = client.get("/metadata").json()
            assert meta["name"] == "tiny"
            assert meta["inputs"][0]["shape"] == [8, 8]
            assert meta["limits"] == {"max_instances": 4, "max_body_bytes": int(0.01 * 1024 ** 2),
                                      "max_batch": 2, "batch_wait_ms": 0.0}
            answer = client.post("/predict", json={"instances": digits_images[:3].tolist()})
            assert answer.status_code == 200, answer.text
            assert_agrees(answer.json()["predictions"], digits_offline[:3])
            bad = assert_problem_body(client.post("/predict", json={"instances": [[1, 2]]}), 422)
            assert "instance 0, input 'input': expected shape [8, 8]" in bad["error"]
            many = assert_problem_body(client.post("/predict", json={"instances": [Z] * 5}), 413)
            assert "5 instances in one request" in many["error"]
        with httpx.Client(base_url=server.url, timeout=60) as client:  # the 413 closes it
            big = b'{"instances": [' + b" " * 20_000 + b"]}"
            large = assert_problem_body(client.post(
                "/predict", content=big, headers={"content-type": "application/json"}), 413)
            assert "--max-body-mb" in large["error"]
            assert client.get("/health").status_code == 200
        code, stderr = server.stop(signal.SIGINT)
        assert code in (0, 130), stderr  # 130: "interrupted", declml's exit code for Ctrl-C
        assert "Traceback" not in stderr and "internal error" not in stderr
    finally:
        server.kill()
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/health", timeout=5)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_declml_serve_stops_on_sigterm(numeric_run):
    server = Server(str(numeric_run), "--port", "0", "--max-batch", "1")
    try:
        answer = httpx.post(server.url + "/predict", json={"instances": [{"a": 1, "b": 2,
                                                                          "c": 3}]}, timeout=60)
        assert answer.status_code == 200
        assert answer.json()["predictions"][0]["class"] in ("large", "small")
        code, stderr = server.stop(signal.SIGTERM)
        # uvicorn shuts down gracefully, then re-raises SIGTERM: killed by it, or exit 0
        assert code in (0, -signal.SIGTERM, 128 + signal.SIGTERM), stderr
        assert "Traceback" not in stderr and "internal error" not in stderr
    finally:
        server.kill()


def test_serve_a_missing_run_dir_is_a_user_error(tmp_path):
    missing = tmp_path / "runs" / "nothing-here"
    result = runner.invoke(cli_app, ["serve", str(missing), "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "error:" in result.stderr
    assert "does not exist" in result.stderr
    assert "nothing-here" in result.stderr
    assert "Traceback" not in result.output


def test_serve_a_busy_port_is_a_user_error(numeric_run):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = runner.invoke(cli_app, ["serve", str(numeric_run), "--port", str(port),
                                         "--max-batch", "1"])
    assert result.exit_code == 2, result.output
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "--port" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("args", "fragment"), [
    (["--max-batch", "0"], "--max-batch"),
    (["--port", "70000"], "--port"),
    (["--max-body-mb", "0"], "--max-body-mb"),
])
def test_serve_rejects_bad_options(tmp_path, args, fragment):
    result = runner.invoke(cli_app, ["serve", str(tmp_path), *args])
    assert result.exit_code == 2
    assert fragment in result.output
    assert "Traceback" not in result.output


def test_serve_help_does_not_import_keras():
    code = (
        "import sys\n"
        "from declml.cli.main import app\n"
        "try:\n"
        "    app(['serve', '--help'], standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('MODULES', ' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
    help_text, _, modules = out.stdout.rpartition("MODULES ")
    for option in ("--port", "--host", "--max-instances", "--max-body-mb", "--max-batch",
                   "--batch-wait-ms", "--access-log", "--allow-local-plugins"):
        assert option in help_text
    heavy = set(modules.split()) & {"keras", "jax", "tensorflow", "torch", "keras_tuner",
                                    "sklearn", "fastapi", "starlette", "uvicorn"}
    assert not heavy, f"'declml serve --help' imported {heavy}"
