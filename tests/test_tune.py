"""``declml tune`` end to end: real KerasTuner searches of a tiny digits MLP.

Each search trains a Dense model on the 64 digit pixels for an epoch or two; searches
that several tests look at are run once per module. The slow tests (``-m slow``) run
the example grid from the command line: with two workers, and killed with SIGKILL
half-way and resumed.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from declml.cli.main import app
from declml.errors import TuningError
from declml.search.project import PROJECT
from declml.search.records import RECORD_FILE, read_rows
from declml.search.search import TuneResult, tune
from declml.spec.api import load_spec, spec_from_data
from tests.conftest import REPO, SPECS
from tests.test_tune_plan import tune_data

pytestmark = pytest.mark.backends

runner = CliRunner()

#: A grid of 4: units {8, 16} x learning rate {0.003, 0.03}.
GRID = {"learning_rate": {"choice": [0.003, 0.03], "name": "lr"}}


def reshaped(units: Any) -> list[dict[str, Any]]:
    """Layers whose build fails (Keras refuses the Reshape) unless ``units`` is 64."""
    return [{"type": "Dense", "units": units, "activation": "relu"},
            {"type": "Reshape", "target_shape": [8, 8]},
            {"type": "Flatten"},
            {"type": "Dense", "units": 10, "activation": "softmax"}]


def keras_module() -> Any:
    from declml.backend import import_keras

    return import_keras()


def backend() -> str:
    return keras_module().backend.backend()


class Log:
    """Collects progress lines (a callable; never falsy, unlike an empty list)."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, message: str) -> None:
        self.lines.append(message)

    def __iter__(self):
        return iter(self.lines)

    def text(self) -> str:
        return "\n".join(self.lines)


def search(data: dict[str, Any], out: Path, **kwargs: Any) -> tuple[TuneResult, Log]:
    log = Log()
    return tune(spec_from_data(data), out, log=log, **kwargs), log


def table(out: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO((out / "trials.csv").read_text())))


def info(out: Path) -> dict[str, Any]:
    return json.loads((out / "tune.json").read_text())


def trial_dirs(out: Path) -> dict[str, Path]:
    return {p.name.removeprefix("trial_"): p for p in sorted((out / PROJECT).glob("trial_*"))}


def snapshot(out: Path) -> dict[str, dict[str, tuple[bytes, int]]]:
    """Every trial's files: their bytes and modification times."""
    return {trial_id: {f.name: (f.read_bytes(), f.stat().st_mtime_ns)
                       for f in sorted(folder.iterdir()) if f.is_file()}
            for trial_id, folder in trial_dirs(out).items()}


def load_best_model(out: Path) -> Any:
    return keras_module().saving.load_model(str(out / "best" / "model.keras"), safe_mode=True)


# --- a grid search, interrupted by its budget and resumed -------------------------------

@dataclass
class Resumed:
    out: Path
    first: TuneResult
    second: TuneResult
    before: dict[str, dict[str, tuple[bytes, int]]]
    first_log: Log
    second_log: Log
    spec_data: dict[str, Any]


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> Resumed:
    """A grid of 4 run with max_trials 2, then again without a limit in the same directory."""
    out = tmp_path_factory.mktemp("grid") / "search"
    first, first_log = search(tune_data(max_trials=2, **GRID), out)
    before = snapshot(out)
    time.sleep(0.05)  # mtimes of anything rewritten would differ
    data = tune_data(**GRID)
    second, second_log = search(data, out)
    return Resumed(out, first, second, before, first_log, second_log, data)


def copy_of(grid: Resumed, tmp_path: Path) -> Path:
    target = tmp_path / "search"
    shutil.copytree(grid.out, target)
    return target


def test_a_grid_stopped_by_max_trials_resumes_where_it_stopped(grid):
    assert [r.trial_id for r in grid.first.rows] == ["0", "1"]
    assert not grid.first.resumed and grid.second.resumed
    assert [r.trial_id for r in grid.second.rows] == ["0", "1", "2", "3"]
    assert "resuming the search in" in grid.second_log.text()
    assert "2 trial(s) finished" in grid.second_log.text()
    combinations = {(r.values["units"], r.values["lr"]) for r in grid.second.rows}
    assert combinations == {(8, 0.003), (8, 0.03), (16, 0.003), (16, 0.03)}
    # the finished trials were neither re-run nor rewritten
    after = snapshot(grid.out)
    for trial_id in ("0", "1"):
        assert after[trial_id] == grid.before[trial_id], trial_id
    started = [m for m in grid.second_log if " started " in m]
    assert [m.split()[1] for m in started] == ["2", "3"]


def test_trials_csv_and_tune_json_agree(grid):
    rows = table(grid.out)
    assert list(rows[0]) == ["trial", "status", "units", "lr", "score", "best_epoch",
                             "seconds", "error"]
    assert [r["trial"] for r in rows] == ["0", "1", "2", "3"]
    assert {r["status"] for r in rows} == {"completed"}
    assert all(r["error"] == "" and r["best_epoch"] == "1" for r in rows)
    assert all(float(r["seconds"]) > 0 for r in rows)
    summary = info(grid.out)
    assert summary["status"] == "complete" and summary["trials"] == 4
    scores = {r["trial"]: float(r["score"]) for r in rows}
    exact = {r.trial_id: r.score for r in grid.second.rows}
    assert scores == pytest.approx(exact, rel=1e-5)
    best = max(exact, key=exact.get)  # the first of equal scores, as declml picks
    assert summary["best_trial"] == best == grid.second.best.trial_id
    assert summary["best_score"] == exact[best] == grid.second.best.score
    assert summary["best_values"] == grid.second.best_values == grid.second.best.values
    assert summary["test_metrics"] == grid.second.test_metrics
    # the scores are KerasTuner's own
    for trial_id, folder in trial_dirs(grid.out).items():
        state = json.loads((folder / "trial.json").read_text())
        assert state["status"] == "COMPLETED"
        assert state["score"] == pytest.approx(scores[trial_id], rel=1e-5)


def test_the_result(grid):
    result = grid.second
    assert result.run_dir == grid.out
    assert result.names == ["units", "lr"]
    assert (result.objective, result.direction) == ("val_accuracy", "max")
    assert result.best.score == max(r.score for r in result.rows)
    assert 0.0 <= result.test_metrics["accuracy"] <= 1.0


def test_the_search_directory(grid):
    names = {p.name for p in grid.out.iterdir()}
    assert {"tune.json", "spec.lock.yaml", PROJECT, "trials.csv", "best_spec.yaml", "best",
            "objective.png", "hyperparameters.png"} <= names
    assert not {n for n in names if n.startswith(".")}  # no partial best/ left behind
    for picture in ("objective.png", "hyperparameters.png"):
        assert (grid.out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for folder in trial_dirs(grid.out).values():
        assert {"trial.json", RECORD_FILE, "checkpoint.weights.h5"} <= {
            f.name for f in folder.iterdir()}
        record = json.loads((folder / RECORD_FILE).read_text())
        assert record["seconds"] > 0 and len(record["history"]["val_accuracy"]) == 1
    assert load_spec(grid.out / "spec.lock.yaml").tuning.tuner == "grid"
    lock = yaml.safe_load((grid.out / "spec.lock.yaml").read_text())
    assert lock["model"]["layers"][0]["units"] == {"choice": [8, 16], "name": "units"}
    assert lock["fit"]["validation"] == 0.2


def test_best_is_a_run_directory_whose_model_loads(grid):
    best = grid.out / "best"
    run = json.loads((best / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["search_trial"] == grid.second.best.trial_id
    assert run["search_objective"] == "val_accuracy"
    assert run["search_score"] == grid.second.best.score
    metrics = json.loads((best / "metrics.json").read_text())
    assert metrics["accuracy"] == pytest.approx(grid.second.test_metrics["accuracy"])
    model = load_best_model(grid.out)
    assert model.layers[0].units == grid.second.best.values["units"]
    import declml

    saved = declml.load_run(best)
    assert saved.spec.tuning is None
    assert saved.model.count_params() == model.count_params()


def test_the_best_model_loads_without_warnings(grid):
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        load_best_model(grid.out)
    assert [str(w.message) for w in caught] == []


def test_best_spec_validates_and_train_reproduces_best(grid, tmp_path):
    import declml

    text = (grid.out / "best_spec.yaml").read_text()
    assert text.startswith("# The best of tiny_tune's search (trial ")
    spec = declml.load_spec(grid.out / "best_spec.yaml")
    assert spec.tuning is None
    assert spec.fit.epochs == grid.second.best.best_epoch == 1
    assert spec.fit.validation == 0.2
    dumped = yaml.safe_load(text)
    assert dumped["model"]["layers"][0]["units"] == grid.second.best.values["units"]
    assert dumped["compile"]["optimizer"]["learning_rate"] == grid.second.best.values["lr"]
    assert "tuning" not in dumped
    result = declml.train(spec, tmp_path / "again", log=lambda _: None, verbose=0)
    expected = json.loads((grid.out / "best" / "metrics.json").read_text())
    assert 0.0 <= result.metrics["accuracy"] <= 1.0
    if backend() != "jax":
        pytest.skip(f"training is not bit-for-bit reproducible on {backend()}")
    assert result.metrics["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    assert result.metrics["loss"] == pytest.approx(expected["loss"], abs=1e-6)


def test_rerunning_a_finished_search_trains_nothing(grid, tmp_path):
    out = copy_of(grid, tmp_path)
    before = snapshot(out)
    model_time = (out / "best" / "model.keras").stat().st_mtime_ns
    result, log = search(grid.spec_data, out)
    assert result.resumed and len(result.rows) == 4
    assert " started " not in log.text()
    assert snapshot(out) == before
    assert (out / "best" / "model.keras").stat().st_mtime_ns == model_time
    assert result.best.trial_id == grid.second.best.trial_id
    assert result.test_metrics == grid.second.test_metrics


@pytest.mark.parametrize("how", ["ongoing", "orphan"])
def test_an_interrupted_trial_is_run_again_and_only_it(grid, tmp_path, how):
    """``ongoing``: killed while the oracle knew the trial was running; ``orphan``: killed
    after trial.json said RUNNING but before the oracle's state file was written."""
    out = copy_of(grid, tmp_path)
    folder = trial_dirs(out)["2"]
    state = json.loads((folder / "trial.json").read_text())
    state.update(status="RUNNING", score=None, best_step=0, message=None)
    state["metrics"] = {"metrics": {}}
    (folder / "trial.json").write_text(json.dumps(state))
    (folder / RECORD_FILE).unlink()
    if how == "ongoing":
        oracle_file = out / PROJECT / "oracle.json"
        oracle = json.loads(oracle_file.read_text())
        oracle["ongoing_trials"] = {"tuner0": "2"}
        oracle["end_order"] = [t for t in oracle["end_order"] if t != "2"]
        oracle["run_times"].pop("2", None)
        oracle_file.write_text(json.dumps(oracle))
    before = snapshot(out)
    assert [r["status"] for r in table(out)] == ["completed"] * 4  # as the kill left it

    result, log = search(grid.spec_data, out)
    assert "3 trial(s) finished, 1 interrupted one(s) will be run again" in log.text()
    started = [m.split()[1] for m in log if " started " in m]
    assert started == ["2"]
    assert [r.trial_id for r in result.rows] == ["0", "1", "2", "3"]
    assert [r.status for r in result.rows] == ["completed"] * 4
    after = snapshot(out)
    for trial_id in ("0", "1", "3"):
        assert after[trial_id] == before[trial_id], trial_id
    rerun = json.loads((folder / "trial.json").read_text())
    assert rerun["status"] == "COMPLETED" and rerun["score"] is not None
    assert (folder / RECORD_FILE).is_file()
    original = {r.trial_id: r for r in grid.second.rows}["2"]
    assert rerun["hyperparameters"]["values"] == original.values
    if backend() == "jax":
        assert rerun["score"] == pytest.approx(original.score, abs=1e-6)


def test_a_finished_trial_left_in_ongoing_trials_is_not_run_again(grid, tmp_path):
    out = copy_of(grid, tmp_path)
    oracle_file = out / PROJECT / "oracle.json"
    oracle = json.loads(oracle_file.read_text())
    assert oracle["ongoing_trials"] == {} and "3" in oracle["end_order"]
    oracle["ongoing_trials"] = {"tuner0": "3"}  # as Oracle.end_trial wrote it
    oracle_file.write_text(json.dumps(oracle))
    before = snapshot(out)
    _, log = search(grid.spec_data, out)
    assert " started " not in log.text()
    assert snapshot(out)["3"] == before["3"]
    assert json.loads(oracle_file.read_text())["end_order"].count("3") == 1


def test_ctrl_c_keeps_finished_trials_and_the_same_call_resumes(tmp_path, monkeypatch):
    from declml.search.hypermodel import SpecHyperModel
    from declml.search.search import SearchInterrupted

    real_fit = SpecHyperModel.fit

    def interrupted_fit(self, hp, model, *args, **kwargs):
        if hp.values["units"] == 16:
            raise KeyboardInterrupt
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(SpecHyperModel, "fit", interrupted_fit)
    out = tmp_path / "search"
    with pytest.raises(SearchInterrupted, match="run the same command again to resume") as error:
        search(tune_data(), out)
    assert error.value.exit_code == 130
    assert [(r["trial"], r["status"]) for r in table(out)] == [("0", "completed"),
                                                                ("1", "running")]
    assert info(out)["status"] == "interrupted"
    assert not (out / "best").exists()
    finished = snapshot(out)["0"]

    monkeypatch.setattr(SpecHyperModel, "fit", real_fit)
    result, log = search(tune_data(), out)
    assert "1 trial(s) finished, 1 interrupted one(s) will be run again" in log.text()
    assert [m.split()[1] for m in log if " started " in m] == ["1"]
    assert [(r.trial_id, r.status) for r in result.rows] == [("0", "completed"),
                                                             ("1", "completed")]
    assert snapshot(out)["0"] == finished
    assert info(out)["status"] == "complete"


@pytest.mark.parametrize("retries", [0, 1])
def test_a_crashed_trial_is_retried_max_retries_times(tmp_path, monkeypatch, retries):
    from declml.search.hypermodel import SpecHyperModel

    real_fit = SpecHyperModel.fit
    calls: list[int] = []

    def flaky_fit(self, hp, model, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the GPU fell off the bus")
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(SpecHyperModel, "fit", flaky_fit)
    out = tmp_path / "search"
    data = tune_data(units={"choice": [8], "name": "units"}, max_retries=retries)
    if retries:
        result, log = search(data, out)
        assert "crashed, will be retried: RuntimeError: the GPU fell off the bus" in log.text()
        assert [(r.trial_id, r.status) for r in result.rows] == [("0", "completed")]
        assert len(calls) == 2
    else:
        with pytest.raises(TuningError, match="no trial of the search finished with a score"):
            search(data, out)
        [row] = table(out)
        assert row["status"] == "failed"
        assert row["error"] == "RuntimeError: the GPU fell off the bus"


def test_a_changed_spec_is_refused_naming_what_changed(grid):
    before = snapshot(grid.out)
    tune_before = (grid.out / "tune.json").read_text()
    changed = tune_data(units={"choice": [8, 32], "name": "units"}, **GRID)
    with pytest.raises(TuningError) as error:
        search(changed, grid.out)
    assert "changed: model.layers[0].units.choice[1]" in str(error.value)
    assert "--overwrite" in str(error.value)
    assert snapshot(grid.out) == before
    assert (grid.out / "tune.json").read_text() == tune_before


def test_overwrite_starts_over(grid, tmp_path):
    out = copy_of(grid, tmp_path)
    changed = tune_data(units={"choice": [12], "name": "units"})
    result, _ = search(changed, out, overwrite=True)
    assert not result.resumed
    assert [(r.trial_id, r.values) for r in result.rows] == [("0", {"units": 12})]
    assert sorted(trial_dirs(out)) == ["0"]
    assert json.loads((out / "best" / "run.json").read_text())["search_trial"] == "0"
    assert load_best_model(out).layers[0].units == 12


def test_the_cli_refuses_a_changed_spec_without_a_traceback(grid, write_spec):
    path = write_spec(yaml.safe_dump(grid.spec_data, sort_keys=False))
    result = runner.invoke(app, ["tune", str(path), "-o", str(grid.out),
                                 "--set", "tuning.objective=val_loss"])
    assert result.exit_code == 2, result.output
    assert "holds a search of a different spec (changed: tuning.objective)" in result.stderr
    assert "--overwrite" in result.stderr
    assert "Traceback" not in result.output


# --- the other tuners -----------------------------------------------------------------

@pytest.mark.parametrize("tuner, settings, trials", [
    ("random", {"max_trials": 2, "units": {"choice": [8, 16, 32], "name": "units"}}, 2),
    ("bayesian", {"max_trials": 3, "bayesian": {"initial_points": 2},
                  "units": {"int": {"min": 8, "max": 32, "step": 8}, "name": "units"},
                  "learning_rate": {"float": {"min": 1e-3, "max": 3e-2, "sampling": "log"},
                                    "name": "lr"}}, 3),
    # brackets of 2 one-epoch trials (the better continued to 2 epochs) and 2 two-epoch ones
    ("hyperband", {"hyperband": {"max_epochs": 2, "factor": 2},
                   "units": {"choice": [8, 16, 32, 64], "name": "units"}}, 5),
])
def test_each_tuner(tmp_path, tuner, settings, trials):
    out = tmp_path / "search"
    result, _ = search(tune_data(tuner=tuner, **settings), out)
    rows = table(out)
    assert len(rows) == len(result.rows) == trials
    assert {r["status"] for r in rows} == {"completed"}
    assert len({r["trial"] for r in rows}) == trials
    names = result.names
    for row in rows:
        assert all(row[name] != "" for name in names)
    if tuner == "hyperband":
        assert {"tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round"} <= set(
            rows[0])
        assert {r["tuner/epochs"] for r in rows} == {"1", "2"}
    else:
        assert len({tuple(r[n] for n in names) for r in rows}) == trials  # no repeats
    run = json.loads((out / "best" / "run.json").read_text())
    assert run["status"] == "complete" and run["search_trial"] == result.best.trial_id
    model = load_best_model(out)
    assert model.layers[0].units == result.best.values["units"]
    spec = load_spec(out / "best_spec.yaml")
    assert spec.tuning is None and spec.fit.epochs == result.best.best_epoch


# --- failures ----------------------------------------------------------------------------

def test_failed_trials_are_recorded_and_the_search_goes_on(tmp_path):
    out = tmp_path / "search"
    data = tune_data(layers=reshaped({"choice": [64, 65], "name": "units"}), optimizer="sgd",
                     learning_rate={"choice": [0.01, 1.0e20], "name": "lr"},
                     max_consecutive_failures=5)
    result, log = search(data, out)
    rows = table(out)
    assert [(r["units"], r["lr"], r["status"]) for r in rows] == [
        ("64", "0.01", "completed"), ("64", "1e+20", "failed"),
        ("65", "0.01", "failed"), ("65", "1e+20", "failed")]
    assert rows[0]["error"] == "" and rows[0]["score"] != ""
    assert re.fullmatch(r"the loss became (nan|inf) at epoch 1; the learning rate may be "
                        r"too high for this combination", rows[1]["error"]), rows[1]["error"]
    for row in rows[2:]:
        assert row["error"].startswith("model.layers[1] (Reshape) does not fit its input")
        assert "Traceback" not in row["error"] and "\n" not in row["error"]
        assert row["score"] == "" and row["best_epoch"] == ""
    assert result.best.trial_id == "0"
    assert info(out)["status"] == "complete"
    assert "trial 1 (2/4) failed: the loss became " in log.text()
    assert json.loads((out / "best" / "run.json").read_text())["search_trial"] == "0"


def test_consecutive_failures_stop_the_search(tmp_path):
    out = tmp_path / "search"
    data = tune_data(layers=reshaped({"choice": [65, 66, 67, 64], "name": "units"}),
                     max_consecutive_failures=2)
    from declml.search.tuners import SearchStopped

    with pytest.raises(SearchStopped) as error:
        search(data, out)
    assert isinstance(error.value, TuningError)
    message = str(error.value)
    assert "2 trials failed in a row (tuning.max_consecutive_failures)" in message
    assert "model.layers[1] (Reshape) does not fit its input" in message
    rows = table(out)
    assert [(r["units"], r["status"]) for r in rows] == [("65", "failed"), ("66", "failed")]
    assert all(r["error"] for r in rows)
    summary = info(out)
    assert summary["status"] == "stopped" and "failed in a row" in summary["error"]
    assert not (out / "best").exists()


def test_a_search_where_nothing_scored_says_why(tmp_path):
    out = tmp_path / "search"
    data = tune_data(layers=reshaped({"choice": [65, 66], "name": "units"}))
    with pytest.raises(TuningError, match=r"no trial of the search finished with a score "
                                          r"\(2 trial\(s\), 2 failed\); the first error: "
                                          r"model\.layers\[1\] \(Reshape\)"):
        search(data, out)
    assert [r["status"] for r in table(out)] == ["failed", "failed"]
    assert not (out / "best").exists()


def test_an_objective_keras_does_not_log_stops_at_once(tmp_path):
    out = tmp_path / "search"
    with pytest.raises(TuningError) as error:
        search(tune_data(objective="val_auc", max_trials=3), out)
    message = str(error.value)
    assert "tuning.objective 'val_auc' is not a metric Keras logs" in message
    assert "val_accuracy" in message
    assert len(table(out)) == 1
    assert info(out)["status"] == "stopped"


# --- scoring options -------------------------------------------------------------------

def test_k_fold_scoring(tmp_path):
    out = tmp_path / "search"
    data = tune_data(tuner="random", max_trials=1, folds=2, fit={"validation": None})
    result, log = search(data, out)
    [row] = table(out)
    assert list(row) == ["trial", "status", "units", "score", "best_epoch", "seconds",
                         "fold_scores", "error"]
    assert row["status"] == "completed" and row["best_epoch"] == ""
    folds = [float(v) for v in row["fold_scores"].split()]
    assert len(folds) == 2
    assert float(row["score"]) == pytest.approx(sum(folds) / 2, abs=1e-3)
    assert result.best.folds == pytest.approx(folds, abs=1e-3)
    assert "training the best combination on the whole training split" in log.text()
    run = json.loads((out / "best" / "run.json").read_text())
    assert run["status"] == "complete" and run["search_trial"] == "0"
    assert "accuracy" in json.loads((out / "best" / "metrics.json").read_text())
    load_best_model(out)
    spec = load_spec(out / "best_spec.yaml")
    assert spec.fit.epochs == 1 and spec.fit.validation is None and spec.tuning is None


def test_executions_per_trial_train_one_model_per_seed(tmp_path, monkeypatch):
    from declml.search.hypermodel import SpecHyperModel

    seeds: list[int] = []
    real_fit = SpecHyperModel.fit

    def fit(self, hp, model, *args, **kwargs):
        seeds.append(self.concrete(hp).seed)
        return real_fit(self, hp, model, *args, **kwargs)

    monkeypatch.setattr(SpecHyperModel, "fit", fit)
    out = tmp_path / "search"
    result, _ = search(tune_data(tuner="random", max_trials=1, executions_per_trial=2), out)
    assert seeds == [0, 1]
    [row] = result.rows
    assert row.status == "completed" and row.score is not None
    assert len(row.history["val_accuracy"]) == 1  # the first model's curve
    load_best_model(out)


def test_patience_stops_a_trial_that_does_not_improve(tmp_path):
    out = tmp_path / "search"
    # a learning rate too small to change float32 weights: val_accuracy never improves
    data = tune_data(tuner="random", max_trials=1, patience=1, learning_rate=1e-12,
                     fit={"epochs": 5})
    result, _ = search(data, out)
    [row] = result.rows
    assert len(row.history["val_accuracy"]) == 2  # epoch 1, then one without improvement
    assert row.best_epoch == 1
    assert load_spec(out / "best_spec.yaml").fit.epochs == 1


def test_the_median_stopping_rule():
    from declml.search.callbacks import TrialWatch
    from declml.spec.tuning import PruneSettings

    finished = [[0.5, 0.6, 0.7], [0.4, 0.5, 0.6], [0.6, 0.7, 0.8]]
    watch = TrialWatch("val_accuracy", "max", prune=PruneSettings(after_epochs=2, min_trials=3),
                       reference=finished)
    assert not watch.should_prune(1, [0.1])  # too early
    assert watch.should_prune(2, [0.1, 0.2])  # median best-so-far at epoch 2 is 0.6
    assert not watch.should_prune(2, [0.1, 0.65])
    few = TrialWatch("val_accuracy", "max", prune=PruneSettings(after_epochs=1, min_trials=4),
                     reference=finished)
    assert not few.should_prune(2, [0.0, 0.0])  # fewer finished trials than min_trials
    loss = TrialWatch("val_loss", "min", prune=PruneSettings(after_epochs=1, min_trials=1),
                      reference=[[1.0, 0.5]])
    assert loss.should_prune(1, [2.0]) and not loss.should_prune(1, [0.9])
    assert loss.best_of({"val_loss": [1.0, float("nan"), 0.7]}) == 0.7
    assert math.isnan(loss.best_of({"loss": [1.0]}))


def test_a_grid_over_a_stepped_float_visits_what_the_plan_counts(tmp_path):
    import keras_tuner as kt

    from declml.builder.hyperparameters import declare
    from declml.search.plan import plan_search

    layers = [{"type": "Dense", "units": 8, "activation": "relu"},
              {"type": "Dropout", "rate": {"float": {"min": 0.1, "max": 0.3, "step": 0.1},
                                           "name": "rate"}},
              {"type": "Dense", "units": 10, "activation": "softmax"}]
    spec = spec_from_data(tune_data(layers=layers))
    hp = kt.HyperParameters()
    declare(hp, spec)
    visited = list(hp.space[0].values)
    assert plan_search(spec, lambda _: None).total == 3
    assert visited == pytest.approx([0.1, 0.2, 0.3])


# --- the command line ---------------------------------------------------------------------

def test_the_cli_runs_a_search_and_prints_the_best_trials(write_spec, tmp_path):
    data = tune_data()
    data["name"] = "cli_search"
    path = write_spec(yaml.safe_dump(data, sort_keys=False))
    out = tmp_path / "search"
    result = runner.invoke(app, ["tune", str(path), "-o", str(out)])
    assert result.exit_code == 0, result.output
    stdout = " ".join(result.stdout.split())
    assert "best trials by val_accuracy (max)" in stdout
    assert "2 trials: 2 scored" in stdout
    assert "best model on the test split: accuracy" in stdout
    assert f"search saved to {out}" in result.stdout.replace("\n", "")
    for column in ("trial", "units", "val_accuracy", "epoch", "seconds"):
        assert column in result.stdout
    assert "trial 0 (1/2) started" in result.stderr and "trial 1 (2/2)" in result.stderr
    assert "Traceback" not in result.output
    assert len(table(out)) == 2
    # the same command again resumes and trains nothing
    again = runner.invoke(app, ["tune", str(path), "-o", str(out)])
    assert again.exit_code == 0, again.output
    assert "resuming the search" in again.stderr and " started " not in again.stderr
    assert "2 trials: 2 scored" in " ".join(again.stdout.split())


# --- slow: the example grid from the command line ------------------------------------

def _command(*args: str) -> list[str]:
    return [sys.executable, "-m", "declml", "tune", str(SPECS / "seed_grid_search.yaml"), *args]


def _env() -> dict[str, str]:
    env = {**os.environ, "KERAS_BACKEND": backend()}
    env.pop("DECLML_DEBUG", None)
    return env


def _trial_states(out: Path) -> dict[str, str]:
    """trial.json text of every trial, by trial id."""
    return {trial_id: (folder / "trial.json").read_text()
            for trial_id, folder in trial_dirs(out).items()
            if (folder / "trial.json").is_file()}


@pytest.mark.slow
def test_the_example_grid_with_two_workers(tmp_path):
    out = tmp_path / "search"
    done = subprocess.run(_command("--set", "fit.epochs=1", "--workers", "2", "-o", str(out)),
                          capture_output=True, text=True, env=_env(), timeout=1200, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = table(out)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"completed"}
    assert len({r["trial"] for r in rows}) == 8
    combinations = {(r["activation"], r["optimizer"], r["learning_rate"]) for r in rows}
    assert len(combinations) == 8
    workers = {json.loads((f / RECORD_FILE).read_text())["worker"]
               for f in trial_dirs(out).values()}
    assert workers <= {"worker0", "worker1"} and workers
    assert info(out)["status"] == "complete"
    assert "8 trials: 8 scored" in " ".join(done.stdout.split())
    assert (out / "best" / "model.keras").is_file()
    load_best_model(out)


@pytest.mark.slow
def test_rerunning_a_finished_distributed_search_trains_nothing(tmp_path, write_spec):
    path = write_spec(yaml.safe_dump(tune_data(), sort_keys=False))
    out = tmp_path / "search"
    args = [sys.executable, "-m", "declml", "tune", str(path), "--workers", "1", "-o", str(out)]
    first = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=600)
    assert first.returncode == 0, first.stderr[-3000:]
    assert [r["status"] for r in table(out)] == ["completed", "completed"]
    states = _trial_states(out)
    again = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "resuming the search" in again.stderr
    assert " started " not in again.stderr
    assert json.loads((out / PROJECT / "oracle.json").read_text())["end_order"] == ["0", "1"]
    assert _trial_states(out) == states


@pytest.mark.slow
def test_the_example_grid_survives_kill_9(tmp_path):
    out = tmp_path / "search"
    args = _command("--set", "fit.epochs=2", "-o", str(out))
    log = (tmp_path / "first.log").open("w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=_env(), cwd=REPO,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"the search ended before it was killed:\n"
                            f"{(tmp_path / 'first.log').read_text()[-3000:]}")
            if (out / "trials.csv").is_file() and sum(
                    r["status"] == "completed" for r in table(out)) >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail("no 2 trials finished in 10 minutes")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        log.close()
    # what KerasTuner had recorded as finished when the process died
    kept = {trial_id: text for trial_id, text in _trial_states(out).items()
            if json.loads(text)["status"] == "COMPLETED"}
    finished = {trial_id: json.loads(text)["score"] for trial_id, text in kept.items()}
    assert len(finished) >= 2
    assert info(out)["status"] == "running"  # killed: nothing could say otherwise

    done = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=1200,
                          cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "resuming the search" in done.stderr
    rows = table(out)
    assert len(rows) == 8 and {r["status"] for r in rows} == {"completed"}
    ids = [r["trial"] for r in rows]
    assert len(set(ids)) == 8, ids
    assert len({(r["activation"], r["optimizer"], r["learning_rate"]) for r in rows}) == 8
    now = {r.trial_id: r for r in read_rows(out / PROJECT)}
    for trial_id, score in finished.items():
        assert now[trial_id].score == score
        assert _trial_states(out)[trial_id] == kept[trial_id], trial_id
    started_again = [line.split()[1] for line in done.stderr.splitlines()
                     if " started " in line]
    assert not set(started_again) & set(finished)
    assert len(started_again) == 8 - len(finished)
    assert info(out)["status"] == "complete"
    load_best_model(out)
