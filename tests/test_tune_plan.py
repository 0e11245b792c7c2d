"""``declml tune`` without training: the ``tuning:`` section, the search plan, the trial
records and the search directory. Keras-free and fast (see test_tune.py for searches)."""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from declml.errors import ArtifactError, SpecError, TuningError
from declml.search.plan import DEFAULT_VALIDATION, grid_values, plan_search
from declml.search.project import (
    PROJECT,
    TUNE_FILE,
    SearchDirectory,
    default_output,
    fingerprint,
)
from declml.search.records import RECORD_FILE, TrialRow, error_line, read_rows, trials_csv
from declml.spec.api import spec_from_data
from declml.spec.hyper import parse_hyper
from declml.spec.tuning import TuningSpec, objective_direction
from tests.conftest import SPECS

# --- a tiny searchable spec, shared with test_tune.py -------------------------------------

#: A Dense model on the digits flattened to 64 values; search values are put in by
#: :func:`tune_data`. 1 epoch, batch 64: a trial takes a few seconds on 2 cores.
BASE: dict[str, Any] = {
    "spec_version": 1,
    "name": "tiny_tune",
    "seed": 0,
    "data": {"dataset": "digits", "test_split": 0.2,
             "preprocessing": {"rescale": "1/16", "reshape": [64], "one_hot": 10}},
    "model": {"input_shape": [64], "layers": [
        {"type": "Dense", "units": {"choice": [8, 16], "name": "units"}, "activation": "relu"},
        {"type": "Dense", "units": 10, "activation": "softmax"},
    ]},
    "compile": {"optimizer": {"type": "adam", "learning_rate": 0.01},
                "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
    "fit": {"epochs": 1, "batch_size": 64, "validation": 0.2},
    "tuning": {"tuner": "grid", "objective": "val_accuracy"},
}


def tune_data(*, units: Any = None, learning_rate: Any = None, optimizer: Any = None,
              layers: list[dict[str, Any]] | None = None, fit: dict[str, Any] | None = None,
              **tuning: Any) -> dict[str, Any]:
    """BASE with some values replaced; ``tuning`` keys update the tuning section
    (a value of None removes the key)."""
    data = copy.deepcopy(BASE)
    if units is not None:
        data["model"]["layers"][0]["units"] = units
    if layers is not None:
        data["model"]["layers"] = layers
    if learning_rate is not None:
        data["compile"]["optimizer"]["learning_rate"] = learning_rate
    if optimizer is not None:
        data["compile"]["optimizer"]["type"] = optimizer
    for key, value in (fit or {}).items():
        if value is None:
            data["fit"].pop(key, None)
        else:
            data["fit"][key] = value
    for key, value in tuning.items():
        if value is None:
            data["tuning"].pop(key, None)
        else:
            data["tuning"][key] = value
    return data


def tune_spec(**changes: Any):
    return spec_from_data(tune_data(**changes))


def _issues(exc: SpecError) -> list[tuple[str, str]]:
    return [(i.path, i.message) for i in exc.issues]


def _quiet(_message: str) -> None:
    pass


# --- the tuning: section ----------------------------------------------------------------

def test_an_empty_tuning_section_means_every_default():
    for section in (None, {}):
        data = tune_data()
        data["tuning"] = section
        tuning = spec_from_data(data).tuning
        assert tuning == TuningSpec()
        assert (tuning.tuner, tuning.objective, tuning.goal) == ("random", "val_loss", "min")
        assert tuning.max_trials is None and tuning.executions_per_trial == 1
        assert tuning.max_consecutive_failures == 3 and tuning.max_retries == 0
        assert tuning.folds is None and tuning.patience is None and tuning.prune is None


def test_a_spec_without_tuning_has_none():
    data = tune_data()
    del data["tuning"]
    assert spec_from_data(data).tuning is None


@pytest.mark.parametrize("objective, direction", [
    ("val_loss", "min"), ("loss", "min"), ("val_mean_absolute_error", "min"),
    ("val_mse", "min"), ("val_categorical_crossentropy", "min"), ("val_accuracy", "max"),
    ("accuracy", "max"), ("val_auc", "max"), ("val_precision", "max"), ("val_f1_score", "max"),
    ("val_r2_score", "max"), ("val_mystery", None), ("val_cosine_similarity", None),
])
def test_objective_direction_from_the_name(objective, direction):
    assert objective_direction(objective) == direction


def test_an_explicit_direction_wins_and_allows_odd_names():
    tuning = tune_spec(objective="val_mystery", direction="max").tuning
    assert tuning.goal == "max"
    assert tune_spec(objective="val_loss", direction="max").tuning.goal == "max"
    assert tune_spec(objective="val_accuracy", direction=None).tuning.goal == "max"


def test_an_objective_of_unknown_direction_is_refused():
    with pytest.raises(SpecError) as info:
        tune_spec(objective="val_mystery")
    assert _issues(info.value) == [(
        "tuning", "cannot tell whether 'val_mystery' should go up or down; add direction: "
        "max or direction: min")]


def test_hyperband_with_max_trials_is_refused():
    with pytest.raises(SpecError) as info:
        tune_spec(tuner="hyperband", max_trials=3)
    [(path, message)] = _issues(info.value)
    assert path == "tuning" and "remove max_trials" in message


def test_hyperband_with_a_searched_epochs_is_refused_at_fit_epochs(write_spec):
    from declml.spec.api import load_spec

    data = tune_data(tuner="hyperband", fit={"epochs": {"choice": [1, 2]}})
    path = write_spec(yaml.safe_dump(data, sort_keys=False))
    with pytest.raises(SpecError) as info:
        load_spec(path)
    [issue] = info.value.issues
    assert issue.path == "fit.epochs"
    assert "give hyperband.max_epochs instead" in issue.message
    assert issue.source and issue.source.startswith(f"{path}:")
    # searching the epochs is fine with the other tuners
    assert tune_spec(tuner="random", fit={"epochs": {"choice": [1, 2]}}).tuning.tuner == "random"


def test_folds_with_fit_validation_is_refused():
    with pytest.raises(SpecError) as info:
        tune_spec(folds=3)
    assert [p for p, _ in _issues(info.value)] == ["fit.validation"]
    assert "remove fit.validation" in _issues(info.value)[0][1]
    assert tune_spec(folds=3, fit={"validation": None}).tuning.folds == 3


def test_hyperband_with_folds_is_refused():
    with pytest.raises(SpecError, match="k-fold scoring cannot do"):
        tune_spec(tuner="hyperband", folds=2, fit={"validation": None})


@pytest.mark.parametrize("tuner, settings, fragment", [
    ("random", {"bayesian": {"initial_points": 2}},
     "bayesian: settings apply only with tuner: bayesian (the tuner is random)"),
    ("grid", {"hyperband": {"max_epochs": 2}},
     "hyperband: settings apply only with tuner: hyperband (the tuner is grid)"),
])
def test_settings_of_another_tuner_are_refused(tuner, settings, fragment):
    with pytest.raises(SpecError) as info:
        tune_spec(tuner=tuner, **settings)
    [(path, message)] = _issues(info.value)
    assert path == "tuning" and fragment in message


def test_tuner_settings_and_their_defaults():
    tuning = tune_spec(tuner="hyperband", hyperband={}).tuning
    assert (tuning.hyperband.max_epochs, tuning.hyperband.factor,
            tuning.hyperband.iterations) == (None, 3, 1)
    tuning = tune_spec(tuner="bayesian", bayesian={"initial_points": 2}).tuning
    assert tuning.bayesian.initial_points == 2 and tuning.bayesian.beta == 2.6
    tuning = tune_spec(prune={}).tuning
    assert (tuning.prune.after_epochs, tuning.prune.min_trials) == (2, 3)


@pytest.mark.parametrize("field, value, path, fragment", [
    ("tuner", "anneal", "tuning.tuner", "'grid', 'random', 'bayesian' or 'hyperband'"),
    ("max_trials", 0, "tuning.max_trials", "greater than 0"),
    ("max_trials", True, "tuning.max_trials", "valid integer"),
    ("max_trials", 2.0, "tuning.max_trials", "valid integer"),
    ("folds", 1, "tuning.folds", "greater than or equal to 2"),
    ("folds", 51, "tuning.folds", "less than or equal to 50"),
    ("executions_per_trial", 0, "tuning.executions_per_trial", "greater than 0"),
    ("seed", -1, "tuning.seed", "greater than or equal to 0"),
    ("direction", "up", "tuning.direction", "'min' or 'max'"),
    ("objective", "", "tuning.objective", "at least 1 character"),
    ("max_retries", -1, "tuning.max_retries", "greater than or equal to 0"),
    ("hyperband", {"factor": 1}, "tuning.hyperband.factor", "greater than or equal to 2"),
    ("max_trial", 3, "tuning.max_trial", "did you mean 'max_trials'"),
])
def test_bad_tuning_fields_are_located(field, value, path, fragment):
    extra = {"tuner": "hyperband", "max_trials": None} if field == "hyperband" else {}
    with pytest.raises(SpecError) as info:
        tune_spec(**{**extra, field: value})
    issues = _issues(info.value)
    assert any(p == path and fragment in m for p, m in issues), issues


def test_every_tuning_field_can_be_set_from_the_command_line(write_spec):
    from declml.spec.api import load_spec

    path = write_spec(yaml.safe_dump(tune_data(), sort_keys=False))
    spec = load_spec(path, ["tuning.tuner=random", "tuning.max_trials=7",
                            "tuning.patience=2", "tuning.objective=val_loss"])
    assert (spec.tuning.tuner, spec.tuning.max_trials, spec.tuning.patience,
            spec.tuning.goal) == ("random", 7, 2, "min")


@pytest.mark.parametrize("name", ["seed_grid_search.yaml", "digits_hyperband.yaml",
                                  "digits_bayesian.yaml"])
def test_the_example_search_specs_plan(name):
    from declml.spec.api import load_spec

    spec = load_spec(SPECS / name)
    plan = plan_search(spec, _quiet)
    assert plan.names and plan.tuning == spec.tuning
    expected = {"seed_grid_search.yaml": 8, "digits_hyperband.yaml": None,
                "digits_bayesian.yaml": 12}[name]
    assert plan.total == expected


# --- plan_search ---------------------------------------------------------------------------

def test_a_spec_without_a_space_is_refused():
    data = tune_data(units=16)
    with pytest.raises(TuningError, match=r"declares no search space, so there is nothing "
                                          r"to tune.*use declml train"):
        plan_search(spec_from_data(data), _quiet)


@pytest.mark.parametrize("transform, path", [
    ({"type": "clip", "min": {"choice": [0.0, 0.1]}, "max": 1.0}, "data.transforms[0].min"),
    ({"type": {"choice": ["standardize", "clip"]}}, "data.transforms[0].type"),
])
def test_search_values_in_the_data_section_are_refused(transform, path):
    data = tune_data()
    data["data"]["transforms"] = [transform]
    spec = spec_from_data(data)  # a valid spec: only searching it is refused
    with pytest.raises(TuningError, match=rf"data section are not supported \({path}\)".replace(
            "[", r"\[").replace("]", r"\]")):
        plan_search(spec, _quiet)


def test_a_model_with_several_inputs_is_refused():
    data = yaml.safe_load((SPECS / "multi_input_functional.yaml").read_text())
    data["compile"]["optimizer"] = {"type": "adam",
                                    "learning_rate": {"choice": [0.01, 0.001]}}
    with pytest.raises(TuningError, match="has 3 inputs and 2 outputs"):
        plan_search(spec_from_data(data), _quiet)


def test_a_grid_over_an_unstepped_float_is_refused():
    spec = tune_spec(learning_rate={"float": {"min": 1e-4, "max": 1e-2, "sampling": "log"},
                                    "name": "lr"})
    with pytest.raises(TuningError, match="a grid search needs a finite list of values, but "
                                          "lr is a float range without a step"):
        plan_search(spec, _quiet)
    # the other tuners sample it
    assert plan_search(tune_spec(learning_rate={"float": {"min": 1e-4, "max": 1e-2}},
                                 tuner="random"), _quiet).total == 10


def test_an_unstepped_int_log_range_is_not_called_a_float_range():
    spec = tune_spec(units={"int": {"min": 8, "max": 64, "sampling": "log"}, "name": "units"})
    with pytest.raises(TuningError) as info:
        plan_search(spec, _quiet)
    assert "units" in str(info.value)
    assert "float range" not in str(info.value)


def test_grid_size_counts_every_combination():
    spec = tune_spec(learning_rate={"choice": [0.001, 0.01, 0.1], "name": "lr"})
    plan = plan_search(spec, _quiet)
    assert plan.names == ["units", "lr"] and plan.total == 6
    assert plan_search(tune_spec(learning_rate={"choice": [0.001, 0.01, 0.1]}, max_trials=4),
                       _quiet).total == 4
    assert plan_search(tune_spec(max_trials=50), _quiet).total == 2


def test_grid_size_counts_a_conditional_dimension_only_where_it_is_active():
    spec = tune_spec(
        optimizer={"choice": ["adam", "sgd"], "name": "opt"},
        layers=[
            {"type": "Dense", "units": {"choice": [8, 16], "name": "units"},
             "activation": "relu"},
            {"type": "Dropout", "rate": {"choice": [0.0, 0.25, 0.5], "name": "rate",
                                         "when": {"opt": ["sgd"]}}},
            {"type": "Dense", "units": 10, "activation": "softmax"},
        ])
    plan = plan_search(spec, _quiet)
    assert plan.names.index("opt") < plan.names.index("rate")
    # units x (adam + sgd x 3 rates) = 2 x 4
    assert plan.total == 8


def test_grid_size_with_ranges_and_booleans():
    spec = tune_spec(
        layers=[
            {"type": "Dense", "units": {"int": {"min": 8, "max": 32, "step": 8},
                                        "name": "units"},
             "activation": "relu", "use_bias": {"boolean": {}, "name": "bias"}},
            {"type": "Dense", "units": 10, "activation": "softmax"},
        ])
    assert plan_search(spec, _quiet).total == 4 * 2


def test_random_and_bayesian_default_to_ten_trials_hyperband_sizes_itself():
    assert plan_search(tune_spec(tuner="random"), _quiet).total == 10
    assert plan_search(tune_spec(tuner="bayesian"), _quiet).total == 10
    assert plan_search(tune_spec(tuner="random", max_trials=3), _quiet).total == 3
    assert plan_search(tune_spec(tuner="hyperband"), _quiet).total is None


def test_missing_validation_defaults_to_a_fifth_with_a_note():
    notes: list[str] = []
    spec = tune_spec(fit={"validation": None})
    plan = plan_search(spec, notes.append)
    assert plan.spec.fit.validation == DEFAULT_VALIDATION == 0.2
    assert spec.fit.validation is None  # the caller's spec is not changed
    assert any("0.2 of the training split held out" in n for n in notes), notes


def test_folds_keep_validation_empty_and_say_nothing():
    notes: list[str] = []
    plan = plan_search(tune_spec(folds=2, fit={"validation": None}), notes.append)
    assert plan.spec.fit.validation is None and notes == []


def test_validating_on_the_test_split_is_warned_about():
    notes: list[str] = []
    plan = plan_search(tune_spec(fit={"validation": "test"}), notes.append)
    assert plan.spec.fit.validation == "test"
    assert any(n.startswith("warning: fit.validation is 'test'") for n in notes), notes


def test_a_training_metric_objective_gets_a_note():
    notes: list[str] = []
    plan_search(tune_spec(objective="accuracy"), notes.append)
    assert any("'accuracy' is a training metric" in n and "val_accuracy" in n for n in notes)


# --- grid_values -----------------------------------------------------------------------------

@pytest.mark.parametrize("declared, expected", [
    ({"choice": [8, 16, 32]}, [8, 16, 32]),
    ({"choice": ["relu", "tanh"]}, ["relu", "tanh"]),
    ({"boolean": {}}, [False, True]),
    ({"fixed": 3}, [3]),
    ({"int": {"min": 1, "max": 4}}, [1, 2, 3, 4]),
    ({"int": {"min": 8, "max": 32, "step": 8}}, [8, 16, 24, 32]),
    ({"int": {"min": 8, "max": 30, "step": 8}}, [8, 16, 24]),
    ({"int": {"min": 16, "max": 256, "step": 2, "sampling": "log"}}, [16, 32, 64, 128, 256]),
    ({"float": {"min": 0.0, "max": 0.5, "step": 0.25}}, [0.0, 0.25, 0.5]),
    ({"float": {"min": 1e-4, "max": 1e-2, "step": 10, "sampling": "log"}}, [1e-4, 1e-3, 1e-2]),
])
def test_grid_values(declared, expected):
    assert grid_values(parse_hyper(declared)) == pytest.approx(expected)


def test_grid_values_of_float_steps_include_the_end():
    assert grid_values(parse_hyper({"float": {"min": 0.1, "max": 0.5, "step": 0.1}})) == \
        pytest.approx([0.1, 0.2, 0.3, 0.4, 0.5])


@pytest.mark.parametrize("declared", [
    {"float": {"min": 0.0, "max": 1.0}},
    {"float": {"min": 1e-4, "max": 1e-2, "sampling": "log"}},
    {"int": {"min": 8, "max": 64, "sampling": "log"}},
])
def test_grid_values_of_unstepped_ranges_are_none(declared):
    assert grid_values(parse_hyper(declared)) is None


def test_a_huge_grid_is_capped_not_enumerated():
    spec = tune_spec(units={"int": {"min": 1, "max": 10**9}, "name": "units"},
                     learning_rate={"int": {"min": 1, "max": 10**9}, "name": "other"})
    from declml.search import plan as plan_module

    assert plan_search(spec, _quiet).total == plan_module._GRID_LIMIT


# --- records: trial.json files → rows → trials.csv -------------------------------------

_TRACEBACK = """Traceback (most recent call last):
  File "/venv/keras_tuner/src/engine/base_tuner.py", line 274, in _try_run_and_update_trial
    self._run_and_update_trial(trial, *fit_args, **fit_kwargs)
  File "/work/main/declml/search/hypermodel.py", line 76, in build
    raise kt.errors.FailedTrialError(one_line(exc)) from None
keras_tuner.src.errors.FailedTrialError: model.layers[1] (Reshape) does not fit its input: size 65
"""


@pytest.mark.parametrize("message, expected", [
    (_TRACEBACK, "model.layers[1] (Reshape) does not fit its input: size 65"),
    (_TRACEBACK.replace("keras_tuner.src.errors.FailedTrialError",
                        "keras_tuner.src.errors.FatalValueError"),
     "model.layers[1] (Reshape) does not fit its input: size 65"),
    ("Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: bad units",
     "ValueError: bad units"),
    ("Traceback:\n  ...\njax.errors.JaxRuntimeError: RESOURCE_EXHAUSTED: out of memory",
     "JaxRuntimeError: RESOURCE_EXHAUSTED: out of memory"),
    ("something went wrong\n\n", "something went wrong"),
    ("", None),
    ("   \n  \n", None),
    (None, None),
])
def test_error_line(message, expected):
    assert error_line(message) == expected


def _kt_trial(trial_id: str, status: str, values: dict[str, Any], score: Any = None,
              best_step: int = 0, message: str | None = None) -> dict[str, Any]:
    """A trial.json as KerasTuner 1.4 writes it."""
    space = [{"class_name": "Choice", "config": {"name": k, "default": v, "conditions": [],
                                                 "values": [v], "ordered": True}}
             for k, v in values.items()]
    observations = ({"val_accuracy": {"direction": "max", "observations": [
        {"value": [score], "step": best_step}]}} if score is not None else {})
    return {"trial_id": trial_id, "hyperparameters": {"space": space, "values": values},
            "metrics": {"metrics": observations}, "score": score, "best_step": best_step,
            "status": status, "message": message}


def _write_trial(project: Path, state: dict[str, Any], extra: dict[str, Any] | None = None,
                 raw: str | None = None) -> None:
    folder = project / f"trial_{state['trial_id']}"
    folder.mkdir(parents=True, exist_ok=True)
    # KerasTuner writes NaN scores as the bare NaN token
    (folder / "trial.json").write_text(raw if raw is not None else json.dumps(state))
    if extra is not None:
        (folder / RECORD_FILE).write_text(json.dumps(extra))


@pytest.fixture
def project(tmp_path) -> Path:
    p = tmp_path / PROJECT
    p.mkdir()
    _write_trial(p, _kt_trial("0", "COMPLETED", {"units": 8, "act": "relu"}, 0.75, 1),
                 {"worker": "tuner0", "seconds": 2.5,
                  "history": {"val_accuracy": [0.5, 0.75]}, "pruned_at": None, "folds": None})
    _write_trial(p, _kt_trial("1", "FAILED", {"units": 16, "act": "tanh"}, None, 0, _TRACEBACK),
                 {"worker": "tuner0", "seconds": 0.4, "history": {}})
    _write_trial(p, _kt_trial("2", "COMPLETED", {"units": 8, "act": "tanh"}, 0.5, 1),
                 {"seconds": 1.0, "pruned_at": 2, "history": {"val_accuracy": [0.4, 0.5]}})
    _write_trial(p, _kt_trial("3", "RUNNING", {"units": 16, "act": "relu"}))
    _write_trial(p, _kt_trial("4", "INVALID", {"units": 32, "act": "relu"}, None, 0,
                              "Traceback\nRuntimeError: worker crashed"))
    _write_trial(p, _kt_trial("5", "COMPLETED", {"units": 32, "act": "tanh"}, 0.0, 0),
                 raw=json.dumps(_kt_trial("5", "COMPLETED", {"units": 32, "act": "tanh"},
                                          float("nan"), 0)))
    _write_trial(p, _kt_trial("6", "COMPLETED", {"units": 64, "act": "relu"}, 0.625, 0),
                 {"seconds": 9.0, "folds": [0.6, 0.65]})
    (p / "trial_7").mkdir()
    (p / "trial_7" / "trial.json").write_text('{"trial_id": "7", "stat')  # half a file
    (p / "oracle.json").write_text("{}")
    return p


def test_read_rows(project):
    rows = {r.trial_id: r for r in read_rows(project)}
    assert list(rows) == ["0", "1", "2", "3", "4", "5", "6"]  # the broken one is skipped
    done = rows["0"]
    assert (done.status, done.score, done.best_epoch, done.seconds, done.error, done.worker) \
        == ("completed", 0.75, 2, 2.5, None, "tuner0")
    assert done.values == {"units": 8, "act": "relu"} and done.scored
    assert done.history == {"val_accuracy": [0.5, 0.75]}
    failed = rows["1"]
    assert (failed.status, failed.score, failed.best_epoch) == ("failed", None, None)
    assert failed.error == "model.layers[1] (Reshape) does not fit its input: size 65"
    assert not failed.scored
    assert (rows["2"].status, rows["2"].score, rows["2"].scored) == ("pruned", 0.5, True)
    assert (rows["3"].status, rows["3"].score, rows["3"].error) == ("running", None, None)
    assert (rows["4"].status, rows["4"].error) == ("retrying", "RuntimeError: worker crashed")
    nan = rows["5"]
    assert (nan.status, nan.score, nan.error, nan.scored) == \
        ("failed", None, "the objective was not a number", False)
    folds = rows["6"]
    assert folds.folds == [0.6, 0.65] and folds.best_epoch is None and folds.score == 0.625


def test_read_rows_of_an_empty_or_missing_project(tmp_path):
    assert read_rows(tmp_path) == []
    assert read_rows(tmp_path / "nothing") == []


def test_read_rows_keeps_trial_order_when_the_id_width_grows(tmp_path):
    # max_trials was 5 (ids 0..4), then raised to 10: KerasTuner formats the next ids
    # with len(str(max_trials)) digits.
    for i, trial_id in enumerate(["0", "1", "2", "3", "4", "05", "06"]):
        _write_trial(tmp_path, _kt_trial(trial_id, "COMPLETED", {"units": i}, 0.5, 0))
    assert [r.trial_id for r in read_rows(tmp_path)] == ["0", "1", "2", "3", "4", "05", "06"]


def _parse(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_trials_csv(project):
    rows = read_rows(project)
    text = trials_csv(rows, ["units", "act"])
    header = text.splitlines()[0]
    assert header == "trial,status,units,act,score,best_epoch,seconds,fold_scores,error"
    table = {r["trial"]: r for r in _parse(text)}
    assert table["0"] == {"trial": "0", "status": "completed", "units": "8", "act": "relu",
                          "score": "0.75", "best_epoch": "2", "seconds": "2.5",
                          "fold_scores": "", "error": ""}
    assert table["1"]["error"] == "model.layers[1] (Reshape) does not fit its input: size 65"
    assert table["1"]["score"] == "" and table["3"]["status"] == "running"
    assert table["6"]["fold_scores"] == "0.6 0.65"


def test_trials_csv_without_folds_has_no_fold_column_and_quotes_errors():
    rows = [
        TrialRow("0", "completed", {"units": 8, "lr": 0.001234567891}, 0.123456789, 3,
                 seconds=12.3456),
        TrialRow("1", "failed", {"units": 16, "lr": None}, None, None, seconds=None,
                 error='Dense: bad "units", got 0,\nsee the docs'),
    ]
    text = trials_csv(rows, ["units", "lr"])
    assert text.splitlines()[0] == "trial,status,units,lr,score,best_epoch,seconds,error"
    table = _parse(text)
    assert table[0] == {"trial": "0", "status": "completed", "units": "8", "lr": "0.00123457",
                        "score": "0.123457", "best_epoch": "3", "seconds": "12.35", "error": ""}
    assert table[1]["lr"] == "" and table[1]["seconds"] == ""
    assert table[1]["error"] == 'Dense: bad "units", got 0,\nsee the docs'


def test_trials_csv_adds_hyperbands_columns():
    rows = [TrialRow("0", "completed", {"units": 8, "tuner/epochs": 2, "tuner/initial_epoch": 0,
                                        "tuner/bracket": 1, "tuner/round": 0,
                                        "tuner/trial_id": None}, 0.5, 1)]
    header = trials_csv(rows, ["units"]).splitlines()[0]
    assert header == ("trial,status,units,tuner/bracket,tuner/epochs,tuner/initial_epoch,"
                      "tuner/round,score,best_epoch,seconds,error")
    assert trials_csv([], ["units"]) == "trial,status,units,score,best_epoch,seconds,error\n"


def test_a_nan_score_is_never_the_best(project):
    rows = read_rows(project)
    scored = [r for r in rows if r.scored]
    assert {r.trial_id for r in scored} == {"0", "2", "6"}
    assert all(math.isfinite(r.score) for r in scored)


# --- the search directory ------------------------------------------------------------------

def test_fingerprint_ignores_the_description_and_the_budget():
    base = fingerprint(tune_spec())
    data = tune_data(max_trials=7, max_consecutive_failures=9, max_retries=2)
    data["description"] = "another description"
    assert fingerprint(spec_from_data(data)) == base


@pytest.mark.parametrize("changes", [
    {"units": {"choice": [8, 32], "name": "units"}},
    {"learning_rate": 0.1},
    {"objective": "val_loss"},
    {"tuner": "random"},
    {"fit": {"batch_size": 32}},
    {"executions_per_trial": 2},
])
def test_fingerprint_changes_with_what_defines_the_search(changes):
    assert fingerprint(tune_spec(**changes)) != fingerprint(tune_spec())


def test_fingerprint_changes_with_a_layer():
    data = tune_data()
    data["model"]["layers"].insert(1, {"type": "Dropout", "rate": 0.1})
    assert fingerprint(spec_from_data(data)) != fingerprint(tune_spec())


def test_open_creates_then_resumes(tmp_path):
    spec = tune_spec()
    made, resumed = SearchDirectory.open(tmp_path / "s", spec)
    assert not resumed and made.path == tmp_path / "s"
    info = json.loads((made.path / TUNE_FILE).read_text())
    assert info["status"] == "running" and info["name"] == "tiny_tune"
    assert info["fingerprint"] == fingerprint(spec)
    lock = yaml.safe_load((made.path / "spec.lock.yaml").read_text())
    assert lock["model"]["layers"][0]["units"] == {"choice": [8, 16], "name": "units"}
    again, resumed = SearchDirectory.open(tmp_path / "s", tune_spec(max_trials=30))
    assert resumed and again.path == made.path
    assert again.info["started"] == info["started"]


def test_open_refuses_a_changed_spec_naming_what_changed(tmp_path):
    SearchDirectory.open(tmp_path / "s", tune_spec())
    (tmp_path / "s" / "keep").write_text("finished trials")
    changed = tune_spec(units={"choice": [8, 32], "name": "units"}, learning_rate=0.1)
    with pytest.raises(TuningError) as info:
        SearchDirectory.open(tmp_path / "s", changed)
    message = str(info.value)
    assert "holds a search of a different spec (changed: model.layers[0].units.choice[1], " \
           "compile.optimizer.learning_rate)" in message
    assert "--overwrite" in message
    assert (tmp_path / "s" / "keep").is_file()
    assert SearchDirectory(tmp_path / "s").info["fingerprint"] == fingerprint(tune_spec())


def test_open_names_an_added_layer_and_a_tuning_change(tmp_path):
    SearchDirectory.open(tmp_path / "s", tune_spec())
    data = tune_data(objective="val_loss")
    data["model"]["layers"].insert(1, {"type": "Dropout", "rate": 0.1})
    with pytest.raises(TuningError, match=r"changed: model\.layers, tuning\.objective\)"):
        SearchDirectory.open(tmp_path / "s", spec_from_data(data))


def test_open_with_overwrite_deletes_the_old_search(tmp_path):
    SearchDirectory.open(tmp_path / "s", tune_spec())
    (tmp_path / "s" / PROJECT).mkdir()
    (tmp_path / "s" / PROJECT / "oracle.json").write_text("{}")
    changed = tune_spec(learning_rate=0.1)
    made, resumed = SearchDirectory.open(tmp_path / "s", changed, overwrite=True)
    assert not resumed
    assert not (tmp_path / "s" / PROJECT).exists()
    assert made.info["fingerprint"] == fingerprint(changed)


def test_overwrite_starts_the_same_search_over_too(tmp_path):
    first, _ = SearchDirectory.open(tmp_path / "s", tune_spec())
    first.record(started="long ago")
    (tmp_path / "s" / "trials.csv").write_text("x")
    made, resumed = SearchDirectory.open(tmp_path / "s", tune_spec(), overwrite=True)
    assert not resumed and not (tmp_path / "s" / "trials.csv").exists()
    assert made.info["started"] != "long ago"


@pytest.mark.parametrize("overwrite", [False, True])
def test_open_never_deletes_a_directory_that_is_not_a_search(tmp_path, overwrite):
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "thesis.tex").write_text("precious")
    with pytest.raises(ArtifactError, match="holds no declml search; declml will not "
                                            "delete it"):
        SearchDirectory.open(tmp_path / "s", tune_spec(), overwrite=overwrite)
    assert (tmp_path / "s" / "thesis.tex").read_text() == "precious"
    assert not (tmp_path / "s" / TUNE_FILE).exists()


def test_open_accepts_an_empty_directory_and_refuses_a_file(tmp_path):
    (tmp_path / "empty").mkdir()
    _, resumed = SearchDirectory.open(tmp_path / "empty", tune_spec())
    assert not resumed and (tmp_path / "empty" / TUNE_FILE).is_file()
    (tmp_path / "file").write_text("x")
    with pytest.raises(ArtifactError, match="is a file, not a directory"):
        SearchDirectory.open(tmp_path / "file", tune_spec())


def test_a_worker_needs_a_search_to_join(tmp_path):
    with pytest.raises(TuningError, match="holds no search to join: start the chief first"):
        SearchDirectory.open(tmp_path / "s", tune_spec(), worker=True)
    assert not (tmp_path / "s").exists()
    SearchDirectory.open(tmp_path / "s", tune_spec())
    joined, resumed = SearchDirectory.open(tmp_path / "s", tune_spec(max_trials=3), worker=True)
    assert resumed and joined.path == tmp_path / "s"
    with pytest.raises(TuningError, match="give the worker the chief's spec"):
        SearchDirectory.open(tmp_path / "s", tune_spec(learning_rate=0.1), worker=True)


def test_default_output_is_fixed_per_spec_name():
    assert default_output(tune_spec()) == Path("runs") / "tiny_tune-tune"


# --- staying light ---------------------------------------------------------------------

_HEAVY = ("keras", "keras_tuner", "jax", "tensorflow", "torch")


def _imported_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys\n"
         "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"],
        capture_output=True, text=True, check=True)
    return set(out.stdout.split()) & set(_HEAVY)


def test_plan_project_and_records_do_not_import_keras():
    heavy = _imported_after("import declml.search.plan, declml.search.project, "
                            "declml.search.records")
    assert not heavy


def test_tune_help_does_not_import_keras():
    code = ("from declml.cli.main import app\n"
            "try:\n    app(['tune', '--help'], standalone_mode=False)\n"
            "except SystemExit:\n    pass\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    for option in ("--output", "--set", "--overwrite", "--workers", "--chief", "--worker",
                   "--oracle", "--tuner-id"):
        assert option in out.stdout, option
    assert not _imported_after(code)


# --- the command line, before anything is trained ---------------------------------------

@pytest.mark.parametrize("args, fragment", [
    (["--workers", "2", "--chief", "--oracle", "127.0.0.1:9"], "use one of --workers, --chief"),
    (["--chief"], "--chief and --worker need --oracle HOST:PORT"),
    (["--worker"], "--chief and --worker need --oracle HOST:PORT"),
    (["--oracle", "127.0.0.1:9"], "--oracle goes with --chief or --worker"),
])
def test_cli_option_mistakes_are_user_errors(args, fragment, write_spec, tmp_path):
    from typer.testing import CliRunner

    from declml.cli.main import app

    path = write_spec(yaml.safe_dump(tune_data(), sort_keys=False))
    result = CliRunner().invoke(app, ["tune", str(path), "-o", str(tmp_path / "s"), *args])
    assert result.exit_code == 2, result.output
    assert fragment in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "s").exists()


def test_cli_refuses_a_spec_without_a_space_before_importing_keras(write_spec, tmp_path):
    path = write_spec(yaml.safe_dump(tune_data(units=16), sort_keys=False))
    code = ("import sys\nfrom declml.cli.main import app\n"
            "try:\n"
            f"    app(['tune', {str(path)!r}, '-o', {str(tmp_path / 's')!r}])\n"
            "except SystemExit as exc:\n"
            "    print('exit', exc.code)\n"
            "print('heavy', sorted({m.split('.')[0] for m in sys.modules} & "
            f"{set(_HEAVY)!r}))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "exit 2" in out.stdout and "heavy []" in out.stdout, out.stdout + out.stderr
    assert "declares no search space" in out.stderr
    assert not (tmp_path / "s").exists()
