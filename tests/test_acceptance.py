"""The issue's acceptance runs: full trainings, so marked slow (run with -m slow)."""

from __future__ import annotations

import pytest

from declml.run.train import train
from declml.spec.api import load_spec
from tests.conftest import SPECS

pytestmark = pytest.mark.slow


def test_digits_cnn_reaches_095(tmp_path, registry):
    result = train(load_spec(SPECS / "digits_cnn.yaml", registry=registry), tmp_path / "run",
                   registry=registry, log=lambda _: None, verbose=0)
    assert result.metrics["accuracy"] >= 0.95
    assert (result.run_dir / "model.keras").is_file()


def test_mnist_cnn_on_the_shared_t10k_files(tmp_path, registry, shared_data):
    spec = load_spec(SPECS / "mnist_cnn.yaml",
                     [f"data.path={shared_data / 'mnist-t10k'}", "fit.epochs=3"], registry)
    notes: list[str] = []
    result = train(spec, tmp_path / "run", registry=registry, log=notes.append, verbose=0)
    assert any("single split" in n for n in notes)
    assert result.metrics["accuracy"] >= 0.95
