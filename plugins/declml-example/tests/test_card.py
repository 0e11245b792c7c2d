"""The ``declml_run_finished`` hook: model_card.md in the run directory."""

from __future__ import annotations

import json

import pytest

SPEC = """
name: card_test
description: A tiny spec for the model card
seed: 3
data:
  dataset: shapes
  size: 12
  n_samples: 60
  test_split: 0.25
  preprocessing: {reshape: [12, 12, 1], one_hot: 3}
model:
  input_shape: [12, 12, 1]
  layers:
    - {type: Conv2D, filters: 4, kernel_size: 3}
    - {type: SqueezeExcite, ratio: 2}
    - {type: GlobalAveragePooling2D}
    - {type: Dense, units: 3, activation: softmax}
compile:
  optimizer: adam
  loss: {type: FocalLoss, gamma: 1.0}
  metrics: [accuracy, {type: MacroF1, num_classes: 3}]
fit:
  epochs: 2
  batch_size: 16
  callbacks: [{type: EarlyStopping, patience: 1}]
"""

METRICS = {"loss": 0.25, "accuracy": 0.875, "macro_f1": float("nan")}


@pytest.fixture
def spec(tester):
    return tester.check_spec(SPEC)


def test_hook_writes_the_card(tmp_path, spec):
    from declml_example.plugin import declml_run_finished

    declml_run_finished(run_dir=tmp_path, spec=spec, metrics=METRICS)
    text = (tmp_path / "model_card.md").read_text(encoding="utf-8")
    assert text.startswith("# Model card: card_test\n")
    assert "A tiny spec for the model card" in text
    assert "- Dataset: `shapes` (size: 12, n_samples: 60)" in text
    assert "| accuracy | 0.8750 |" in text
    assert "| loss | 0.2500 |" in text
    assert "| macro_f1 | n/a |" in text  # not finite
    assert "2. `SqueezeExcite` (ratio: 2)" in text
    assert "- Loss: `FocalLoss` (gamma: 1.0)" in text
    assert "- Callbacks: `EarlyStopping` (patience: 1)" in text
    for line in ("- `shapes` (dataset)", "- `SqueezeExcite` (layer)", "- `FocalLoss` (loss)",
                 "- `MacroF1` (metric)"):
        assert line in text
    assert "ResidualDense" not in text
    assert [p.name for p in tmp_path.iterdir()] == ["model_card.md"]  # no temporary left


def test_card_reads_the_run_record(tmp_path, spec):
    from declml_example.plugin import declml_run_finished

    record = {"backend": "jax", "seconds": 12.34, "epochs_completed": 9}
    (tmp_path / "run.json").write_text(json.dumps(record), encoding="utf-8")
    declml_run_finished(run_dir=tmp_path, spec=spec, metrics=METRICS)
    text = (tmp_path / "model_card.md").read_text(encoding="utf-8")
    assert "- Backend: jax" in text
    assert "- Trained in 12.3 s (9 epochs)" in text


def test_hook_never_overwrites(tmp_path, spec):
    from declml_example.plugin import declml_run_finished

    card = tmp_path / "model_card.md"
    card.write_text("mine\n", encoding="utf-8")
    declml_run_finished(run_dir=tmp_path, spec=spec, metrics=METRICS)
    assert card.read_text(encoding="utf-8") == "mine\n"
    assert [p.name for p in tmp_path.iterdir()] == ["model_card.md"]


def test_write_model_card_reports_what_it_did(tmp_path, spec):
    from declml_example.card import write_model_card

    assert write_model_card(tmp_path, spec, {}) == tmp_path / "model_card.md"
    assert write_model_card(tmp_path, spec, {}) is None
    assert "| (none) | |" in (tmp_path / "model_card.md").read_text(encoding="utf-8")
