"""The example spec and a whole (tiny) training run through declml."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

SPEC_FILE = Path(__file__).resolve().parents[3] / "specs" / "shapes_se_focal.yaml"


@pytest.fixture
def example_spec_text():
    if not SPEC_FILE.is_file():
        pytest.skip(f"{SPEC_FILE} is not here (the plugin was copied out of the repository)")
    return SPEC_FILE.read_text(encoding="utf-8")


def test_example_spec_is_valid(tester, example_spec_text):
    spec = tester.check_spec(example_spec_text)
    assert spec.data.dataset == "shapes"
    assert [node.type for node in spec.model.layers].count("SqueezeExcite") == 2
    assert spec.compile.loss.type == "FocalLoss"


def test_example_spec_builds(tester, example_spec_text):
    from declml.builder.model import build_model

    model = build_model(tester.check_spec(example_spec_text), tester.registry)
    assert model.output_shape == (None, 3)
    assert type(model.loss).__name__ == "FocalLoss"


def test_tiny_training_run(tester, example_spec_text, tmp_path):
    import yaml
    from declml.run.train import train

    data = yaml.safe_load(example_spec_text)
    data["data"]["n_samples"] = 60
    data["fit"].update(epochs=1, batch_size=16)
    result = train(tester.check_spec(data), tmp_path / "run", registry=tester.registry,
                   log=lambda message: None, verbose=0)
    assert set(result.metrics) >= {"loss", "accuracy", "macro_f1"}
    metrics = json.loads((result.run_dir / "metrics.json").read_text(encoding="utf-8"))
    assert 0.0 <= metrics["macro_f1"] <= 1.0
    card = result.run_dir / "model_card.md"
    assert card.is_file(), "declml train did not call the declml_run_finished hook"
    assert "# Model card: shapes_se_focal" in card.read_text(encoding="utf-8")
