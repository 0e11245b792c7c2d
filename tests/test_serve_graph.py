"""Serving a functional graph with several named inputs and outputs.

``declml train`` takes single-input models for now, so the run directory is put
together here from a built (untrained) model: what matters is the request
format — one object per instance, keyed by the spec's input names — and the
per-output answers.
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from declml.artifacts import MODEL_FILE, RUN_FILE, SPEC_FILE
from declml.serving import create_app
from declml.spec.api import dump_spec, load_spec
from tests.conftest import SPECS

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def graph_run(tmp_path_factory):
    from declml.builder.model import build_model

    run_dir = tmp_path_factory.mktemp("graph") / "run"
    run_dir.mkdir()
    spec = load_spec(SPECS / "multi_input_functional.yaml")
    model = build_model(spec)
    model.save(run_dir / MODEL_FILE)
    (run_dir / SPEC_FILE).write_text(dump_spec(spec), encoding="utf-8")
    (run_dir / RUN_FILE).write_text(json.dumps({"status": "complete", "plugins": []}))
    return run_dir, model


@pytest.fixture(scope="module")
def client(graph_run):
    with TestClient(create_app(graph_run[0])) as client:
        deadline = time.monotonic() + 120
        while client.get("/health").status_code != 200:
            assert time.monotonic() < deadline, client.get("/health").json()
            time.sleep(0.05)
        yield client


def instance(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    return {"image": rng.random((8, 8, 1)).tolist(), "stats_a": rng.random(4).tolist(),
            "stats_b": rng.random(4).tolist()}


def test_metadata_names_every_input_and_output(client):
    meta = client.get("/metadata").json()
    assert [(i["name"], i["shape"]) for i in meta["inputs"]] == [
        ("image", [8, 8, 1]), ("stats_a", [4]), ("stats_b", [4])]
    assert meta["preprocessing"].startswith("none")
    assert [(o["name"], o["shape"]) for o in meta["outputs"]] == [("digit", [10]),
                                                                  ("parity", [1])]
    schema = client.get("/openapi.json").json()["paths"]["/predict"]["post"]["requestBody"]
    items = schema["content"]["application/json"]["schema"]["properties"]["instances"]["items"]
    assert items["required"] == ["image", "stats_a", "stats_b"]
    assert items["properties"]["stats_a"] == {"type": "array", "items": {"type": "number"},
                                              "minItems": 4, "maxItems": 4}


def test_named_inputs_are_predicted_like_the_model(client, graph_run):
    model = graph_run[1]
    sent = [instance(0), instance(1), instance(2)]
    answer = client.post("/predict", json={"instances": sent})
    assert answer.status_code == 200, answer.text
    expected = model.predict({k: np.array([s[k] for s in sent], dtype="float32")
                              for k in ("image", "stats_a", "stats_b")}, verbose=0)
    for i, record in enumerate(answer.json()["predictions"]):
        digit, parity = record["outputs"]["digit"], record["outputs"]["parity"]
        assert digit["class_index"] == int(np.argmax(expected["digit"][i]))
        assert digit["probabilities"] == pytest.approx(expected["digit"][i].tolist(), abs=1e-5)
        assert parity["prediction"] == pytest.approx(float(expected["parity"][i][0]), abs=1e-5)


@pytest.mark.parametrize(("sent", "fragment"), [
    ({"image": np.zeros((8, 8, 1)).tolist(), "stats_a": [0] * 4}, "missing input 'stats_b'"),
    ({**instance(0), "stats_c": [0] * 4}, "unknown key 'stats_c' (did you mean"),
    ({**instance(0), "stats_a": [0] * 5}, "input 'stats_a': expected shape [4], got shape [5]"),
    ([0] * 4, "expected an object with the inputs image, stats_a, stats_b, got a list of 4"),
])
def test_bad_named_inputs_are_422(client, sent, fragment):
    answer = client.post("/predict", json={"instances": [instance(5), sent]})
    assert answer.status_code == 422
    assert "instance 1" in answer.json()["error"]
    assert fragment in answer.json()["error"]
