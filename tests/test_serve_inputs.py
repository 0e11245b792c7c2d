"""Serving edge cases: images of any size for a run that resizes, integer model inputs,
predictions that are not finite, and requests with a very large number of mistakes."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from fastapi.testclient import TestClient

from declml.artifacts import MODEL_FILE, RUN_FILE, SPEC_FILE
from declml.run.train import train
from declml.serving import create_app
from declml.spec.api import dump_spec, spec_from_data
from tests.conftest import TINY_SPEC

pytestmark = pytest.mark.backends


def ready_client(run_dir):
    client = TestClient(create_app(run_dir))
    client.__enter__()
    deadline = time.monotonic() + 120
    while (health := client.get("/health")).status_code != 200:
        assert time.monotonic() < deadline and health.json()["status"] == "loading", \
            health.json()
        time.sleep(0.05)
    return client


@pytest.fixture(scope="module")
def resized(tmp_path_factory):
    """The tiny digits CNN on 8×8 images resized to 6×6: clients may send any size."""
    import yaml

    data = yaml.safe_load(TINY_SPEC)
    data["data"]["preprocessing"] = {"resize": [6, 6], "reshape": [6, 6, 1], "rescale": 1 / 16,
                                     "one_hot": 10}
    data["model"]["input_shape"] = [6, 6, 1]
    data["fit"]["epochs"] = 1
    out = tmp_path_factory.mktemp("resized") / "run"
    train(spec_from_data(data), out, log=lambda _: None, verbose=0)
    client = ready_client(out)
    yield client
    client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def integer_input(tmp_path_factory):
    """A model whose input is int32 token ids (an Embedding), as a hand-made run directory."""
    from declml.builder.model import build_model

    spec = spec_from_data({
        "name": "tokens", "data": {"dataset": "digits"},
        "model": {"inputs": {"tokens": {"shape": [5], "dtype": "int32"}},
                  "layers": [{"type": "Embedding", "input_dim": 20, "output_dim": 4},
                             {"type": "GlobalAveragePooling1D"},
                             {"type": "Dense", "units": 3, "activation": "softmax"}]},
        "compile": {"loss": "categorical_crossentropy"}})
    run_dir = tmp_path_factory.mktemp("tokens") / "run"
    run_dir.mkdir()
    model = build_model(spec)
    model.save(run_dir / MODEL_FILE)
    (run_dir / SPEC_FILE).write_text(dump_spec(spec), encoding="utf-8")
    (run_dir / RUN_FILE).write_text(json.dumps({"status": "complete", "plugins": []}))
    client = ready_client(run_dir)
    yield client, model
    client.__exit__(None, None, None)


def test_a_resizing_run_takes_images_of_different_sizes_in_one_request(resized):
    meta = resized.get("/metadata").json()
    assert meta["inputs"][0]["shape"] == [None, None]
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 17, (8, 8)).tolist(), rng.integers(0, 17, (5, 7)).tolist()]
    answer = resized.post("/predict", json={"instances": images})
    assert answer.status_code == 200, answer.text
    together = answer.json()["predictions"]
    alone = [resized.post("/predict", json={"instances": [i]}).json()["predictions"][0]
             for i in images]
    for a, b in zip(together, alone, strict=True):
        assert a["probabilities"] == pytest.approx(b["probabilities"], abs=1e-5)


@pytest.mark.parametrize(("image", "fragment"), [
    ([[]], "instance 0, input 'input': expected shape [any, any], got an empty array"),
    ([[[1, 2]]], "expected shape [any, any], got shape [1, 1, 2]"),
])
def test_a_resizing_run_refuses_empty_or_misshapen_images(resized, image, fragment):
    answer = resized.post("/predict", json={"instances": [image]})
    assert answer.status_code == 422
    assert fragment in answer.json()["error"]


def test_integer_inputs_take_whole_numbers(integer_input):
    client, model = integer_input
    tokens = [[1, 2, 3, 4, 5], [0, 0, 19, 19, 7]]
    answer = client.post("/predict", json={"instances": [{"tokens": t} for t in tokens]})
    assert answer.status_code == 200, answer.text
    expected = model.predict(np.array(tokens, dtype="int32"), verbose=0)
    got = [r["probabilities"] for r in answer.json()["predictions"]]
    assert np.allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("bad", [2.7, 1e10, -3e9])
def test_integer_inputs_refuse_fractions_and_out_of_range(integer_input, bad):
    client, _ = integer_input
    answer = client.post("/predict", json={"instances": [[1, 2, 3, 4, 5], [1, 2, bad, 4, 5]]})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"].startswith("instance 1, input 'tokens': the model takes "
                                             "whole numbers (int32) here")


def test_a_prediction_that_is_not_finite_is_422_not_500(resized):
    """A softmax CNN saturates rather than overflow, so the model's answer is faked here:
    the guard sits between the model call and the JSON encoder (which refuses NaN)."""
    from declml.serving.signature import RequestProblem

    service = resized.app.state.service
    outputs = np.full((3, 10), 0.1, dtype="float32")
    outputs[2, 4] = np.nan
    with pytest.raises(RequestProblem) as info:
        service._records([outputs])
    assert info.value.status == 422
    assert info.value.message.startswith("instance 2: the model's output is not a finite")
    assert len(service._records([outputs[:2]])) == 2


def test_a_request_with_a_huge_number_of_mistakes_is_counted_not_listed(integer_input):
    client, _ = integer_input
    instance = {f"token{i}": 0 for i in range(50_000)}
    answer = client.post("/predict", json={"instances": [instance]})
    assert answer.status_code == 422
    body = answer.json()
    assert len(body["problems"]) == 20
    # 50,000 unknown keys and the missing 'tokens' input
    assert body["problems_not_listed"] == 50_001 - 20
    assert "(and 50000 more problems)" in body["error"]


def test_a_large_body_is_parsed_off_the_event_loop_and_answered_the_same(integer_input):
    client, model = integer_input
    tokens = np.random.default_rng(1).integers(0, 20, (1000, 5))
    body = json.dumps({"instances": [{"tokens": t} for t in tokens.tolist()]}, indent=4)
    assert len(body) > 64 * 1024
    answer = client.post("/predict", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 200
    got = np.array([r["probabilities"] for r in answer.json()["predictions"]])
    assert np.allclose(got, model.predict(tokens.astype("int32"), verbose=0), atol=1e-5)
