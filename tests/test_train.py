from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

from declml.artifacts import RunDirectory
from declml.errors import ArtifactError, DataError
from declml.run.train import train
from declml.spec.api import load_spec
from tests.conftest import TINY_SPEC

pytestmark = pytest.mark.backends


@pytest.fixture(scope="module")
def trained(tmp_path_factory, registry):
    tmp = tmp_path_factory.mktemp("train")
    spec_file = tmp / "tiny.yaml"
    spec_file.write_text(TINY_SPEC)
    spec = load_spec(spec_file, registry=registry)
    return train(spec, tmp / "run", registry=registry, log=lambda _: None, verbose=0)


def test_run_directory_contents(trained):
    files = sorted(p.name for p in trained.run_dir.iterdir())
    assert files == ["confusion_matrix.png", "history.json", "learning_curves.png",
                     "metrics.json", "model.keras", "run.json", "spec.lock.yaml"]
    for picture in ("confusion_matrix.png", "learning_curves.png"):
        assert (trained.run_dir / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = json.loads((trained.run_dir / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["plots"] == ["learning_curves.png", "confusion_matrix.png"]
    assert run["epochs_completed"] == 2
    assert run["versions"]["keras"]
    history = json.loads((trained.run_dir / "history.json").read_text())
    assert len(history["loss"]) == 2 and len(history["val_accuracy"]) == 2
    metrics = json.loads((trained.run_dir / "metrics.json").read_text())
    assert metrics["split"] == "test" and metrics["examples"] == 449
    assert 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["accuracy"] == pytest.approx(trained.metrics["accuracy"])


def test_lock_records_the_backend_and_revalidates(trained, registry):
    lock = trained.run_dir / "spec.lock.yaml"
    data = yaml.safe_load(lock.read_text())
    import keras

    assert data["backend"] == keras.backend.backend()
    assert load_spec(lock, registry=registry).fit.epochs == 2


def test_training_learns_something(trained):
    assert trained.history["loss"][-1] < trained.history["loss"][0]


def test_saved_model_reloads_in_a_fresh_process(trained):
    x = np.random.default_rng(0).random((5, 8, 8, 1), dtype=np.float32)
    np.save(trained.run_dir.parent / "x.npy", x)
    expected = np.asarray(trained.model.predict(x, verbose=0))
    code = (
        "import sys, numpy as np; from declml.backend import import_keras; k = import_keras(); "
        "m = k.saving.load_model(sys.argv[1], safe_mode=True); "
        "np.save(sys.argv[3], np.asarray(m.predict(np.load(sys.argv[2]), verbose=0)))"
    )
    out_file = trained.run_dir.parent / "y.npy"
    import keras

    env = {**os.environ, "KERAS_BACKEND": keras.backend.backend()}
    subprocess.run([sys.executable, "-c", code, str(trained.run_dir / "model.keras"),
                    str(trained.run_dir.parent / "x.npy"), str(out_file)], check=True, env=env)
    np.testing.assert_allclose(np.load(out_file), expected, rtol=1e-5, atol=1e-6)


def test_existing_run_directory_is_never_overwritten(trained, registry):
    before = (trained.run_dir / "model.keras").stat().st_mtime_ns
    spec = load_spec(trained.run_dir / "spec.lock.yaml", registry=registry)
    with pytest.raises(ArtifactError, match="never overwrites"):
        train(spec, trained.run_dir, registry=registry, log=lambda _: None, verbose=0)
    assert (trained.run_dir / "model.keras").stat().st_mtime_ns == before


def test_default_run_directories_do_not_collide(tmp_path):
    a = RunDirectory.create(None, "x", root=tmp_path)
    b = RunDirectory.create(None, "x", root=tmp_path)
    assert a.path != b.path and a.path.parent == b.path.parent == tmp_path


def test_shape_mismatch_is_explained_before_training(tmp_path, registry):
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(TINY_SPEC.replace("reshape: [8, 8, 1], ", ""))
    spec = load_spec(spec_file, registry=registry)
    with pytest.raises(DataError, match=r"data\.preprocessing\.reshape: \[8, 8, 1\]"):
        train(spec, tmp_path / "run", registry=registry, log=lambda _: None, verbose=0)
    assert not (tmp_path / "run").exists()


def test_missing_one_hot_is_explained(tmp_path, registry):
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(TINY_SPEC.replace(", one_hot: 10", ""))
    spec = load_spec(spec_file, registry=registry)
    with pytest.raises(DataError, match="one_hot: 10"):
        train(spec, tmp_path / "run", registry=registry, log=lambda _: None, verbose=0)


def test_ctrl_c_keeps_the_model_and_history(tmp_path, registry, monkeypatch):
    from declml.run import train as train_module

    real_writer = train_module._history_writer

    def interrupting_writer(keras, run, history):
        writer = real_writer(keras, run, history)

        class StopAfterFirstEpoch(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                writer.on_epoch_end(epoch, logs)
                raise KeyboardInterrupt

        return StopAfterFirstEpoch()

    monkeypatch.setattr(train_module, "_history_writer", interrupting_writer)
    spec_file = tmp_path / "s.yaml"
    spec_file.write_text(TINY_SPEC)
    spec = load_spec(spec_file, registry=registry)
    with pytest.raises(train_module.TrainingInterrupted, match="saved in"):
        train(spec, tmp_path / "run", registry=registry, log=lambda _: None, verbose=0)
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "interrupted" and run["epochs_completed"] == 1
    assert (tmp_path / "run" / "model.keras").is_file()
    assert len(json.loads((tmp_path / "run" / "history.json").read_text())["loss"]) == 1
