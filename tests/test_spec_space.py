"""Inline search spaces: parsing, spec-wide checks, fixing a point, KerasTuner."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from declml.errors import SpecError
from declml.spec.api import fix_point, load_spec, spec_from_data
from declml.spec.hyper import find_hypers
from declml.spec.space import default_point, search_space, substitute_data
from tests.conftest import SPECS, TINY_SPEC

_OPTIMIZER = "{type: adam, learning_rate: 0.01}"
_SEARCHED = ("{type: {choice: [adam, rmsprop], name: opt}, "
             "learning_rate: {float: {min: 0.001, max: 0.1}, name: lr}}")
_LR = "learning_rate: {float: {min: 0.001, max: 0.1}, name: lr}"
# TINY_SPEC with a searched optimizer (same line numbers: the optimizer is on line 15).
SEARCH_SPEC = TINY_SPEC.replace(_OPTIMIZER, _SEARCHED)
_CONV = "{type: Conv2D, filters: 4, kernel_size: 3, activation: relu}"


def _conv(**args: str) -> str:
    """The Conv2D entry of line 11 with some arguments rewritten (YAML flow text)."""
    fields = {"filters": "4", "kernel_size": "3", "activation": "relu", **args}
    return "{type: Conv2D, " + ", ".join(f"{k}: {v}" for k, v in fields.items()) + "}"


def _extra(entry: str) -> str:
    """The Conv2D line, then one more layer entry (on line 12)."""
    return f"{_CONV}\n    - {entry}"


# (replace this, with that) in SEARCH_SPEC → (path, line, message fragment)
BROKEN = [
    # one hyperparameter's own structure
    (_CONV, _conv(filters="{int: {min: 8, max: 4}}"), "model.layers[0].filters.int", 11,
     "min (8) is greater than max (4)"),
    (_LR, "learning_rate: {float: {min: 0.0, max: 0.1, sampling: log}, name: lr}",
     "compile.optimizer.learning_rate.float.min", 15, "log sampling needs min > 0; got 0.0"),
    (_CONV, _conv(filters="{int: {min: 4, max: 8, stp: 2}}"), "model.layers[0].filters.int.stp",
     11, "unknown key 'stp' in int; allowed: min, max, step, sampling"),
    (_CONV, _conv(filters="{choice: []}"), "model.layers[0].filters.choice", 11,
     "choice needs a non-empty list"),
    (_CONV, _conv(filters="{choice: [4, a]}"), "model.layers[0].filters.choice", 11,
     "choice values must all be of one type"),
    (_CONV, _conv(filters="{choice: [4, 8, 4]}"), "model.layers[0].filters.choice", 11,
     "choice lists a value twice"),
    (_CONV, _conv(filters="{int: {min: 4, max: 8}, default: 9}"),
     "model.layers[0].filters.default", 11, "default must be a value from 4 to 8; got 9"),
    (_CONV, _conv(activation="{choice: [relu, tanh], default: elu}"),
     "model.layers[0].activation.default", 11, "default must be one of ['relu', 'tanh']"),
    (_CONV, _extra("{type: Dense, units: {hp: lr_units, default: 3}}"),
     "model.layers[1].units.default", 12, "{hp: ...} re-uses a hyperparameter"),
    (_CONV, _conv(activation="{choice: [relu, tanh]}", use_bias="{boolean: true}"),
     "model.layers[0].use_bias.boolean", 11, "write boolean as {boolean: {}}"),
    (_CONV, _conv(activation="{choice: [relu, tanh], when: {opt: [adam], lr: [0.1]}}"),
     "model.layers[0].activation.when", 11, "when needs exactly one condition"),
    # the space as a whole
    (_CONV, _conv(activation="{choice: [relu, tanh], name: act}") + "\n    - "
     "{type: Conv2D, filters: 4, kernel_size: 3, activation: {choice: [relu, elu], name: act}}",
     "model.layers[1].activation", 12,
     "'act' is also defined, differently, at model.layers[0].activation"),
    (_CONV, _conv(activation="{hp: activaton}") + "\n    - "
     "{type: Conv2D, filters: 4, kernel_size: 3, activation: {choice: [relu, elu], "
     "name: activation}}", "model.layers[0].activation.hp", 11,
     "no hyperparameter named 'activaton'; did you mean 'activation'?"),
    (_CONV, _conv(activation="{choice: [relu, tanh], when: {optimiser: [adam]}}"),
     "model.layers[0].activation.when.optimiser", 11, "when: no hyperparameter named 'optimiser'"),
    (_CONV, _conv(activation="{choice: [relu, tanh], when: {lr: [0.1]}}"),
     "model.layers[0].activation.when.lr", 11, "'lr' is a float range; conditions need a choice"),
    (_CONV, _conv(activation="{choice: [relu, tanh], when: {opt: [sgd]}}"),
     "model.layers[0].activation.when.opt", 11, "when: 'opt' can never be 'sgd'"),
    ("- {type: Flatten}", "- {type: Flatten, repeat: {choice: [0, 1]}}", "model.layers[1].repeat",
     12, "a searched repeat must range over positive integers"),
    ("- {type: Flatten}", "- {type: Flatten, repeat: {int: {min: -1, max: 2}}}",
     "model.layers[1].repeat", 12, "a searched repeat must range over positive integers"),
    ("epochs: 2", "epochs: {choice: [1.5, 2.0]}", "fit.epochs", 19,
     "the search space must hold positive integers"),
    ("epochs: 2", "epochs: {float: {min: 1, max: 3}}", "fit.epochs", 19,
     "the search space must hold positive integers"),
    ("[adam, rmsprop]", "[adam, adum]", "compile.optimizer.type.choice", 15,
     "unknown optimizer 'adum'; did you mean 'adam'"),
    ("units: 10,", "units: {choice: [8, -1]},", "model.layers[2].units", 13,
     "Dense: 'units' must be a positive integer; the search space includes -1"),
    (_LR, "momentum: {float: {min: 0.0, max: 0.9}}", "compile.optimizer.momentum", 15,
     "adam has no argument 'momentum'"),
]


def test_search_spec_is_valid(registry):
    spec = spec_from_data(SEARCH_SPEC, registry)
    assert [d.name for d in search_space(spec.model_dump(mode="json"))] == ["opt", "lr"]


@pytest.mark.parametrize("old, new, path, line, fragment", BROKEN,
                         ids=[f"{b[2]}:{b[4][:24]}" for b in BROKEN])
def test_broken_space_is_located_and_explained(write_spec, registry, old, new, path, line,
                                               fragment):
    assert old in SEARCH_SPEC
    spec_file = write_spec(SEARCH_SPEC.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(str(i) for i in info.value.issues)
    assert matching[0].source.startswith(f"{spec_file}:{line}:")


def test_conflicting_definition_shows_the_other_line(write_spec, registry):
    spec_file = write_spec(SEARCH_SPEC.replace(_CONV, _conv(activation="{choice: [relu, tanh], "
                                                            "name: act}") + "\n    - "
                                               "{type: Dense, units: 3, activation: {choice: "
                                               "[relu, elu], name: act}}"))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    (issue,) = [i for i in info.value.issues if i.path == "model.layers[1].activation"]
    assert issue.source.startswith(f"{spec_file}:12:")
    assert f"at model.layers[0].activation ({spec_file}:11:" in issue.message


def test_argument_only_some_optimizers_take_is_fine_with_when(registry):
    text = SEARCH_SPEC.replace(_LR, "momentum: {float: {min: 0.2, max: 0.9}, when: {opt: "
                                    "[rmsprop]}}")
    spec = spec_from_data(text, registry)
    adam, point = fix_point(spec, registry=registry)
    assert point == {"opt": "adam", "compile.optimizer.momentum": None}
    assert adam.compile.optimizer.type == "adam" and adam.compile.optimizer.args == {}
    rmsprop, _ = fix_point(spec, {"opt": "rmsprop", "compile.optimizer.momentum": 0.5},
                           registry)
    assert rmsprop.compile.optimizer.args == {"momentum": 0.5}


def test_when_listing_an_optimizer_without_the_argument_is_an_error(registry):
    text = SEARCH_SPEC.replace(_LR, "momentum: {float: {min: 0.2, max: 0.9}, when: {opt: "
                                    "[rmsprop, adam]}}")
    with pytest.raises(SpecError) as info:
        spec_from_data(text, registry)
    assert any("momentum" in i.message for i in info.value.issues)


# ------------------------------------------------- default_point, search_space


def _layer(**args):
    return {"model": {"layers": [{"type": "Conv2D", **args}]}}


def test_defaults_are_min_first_choice_false_and_fixed():
    data = _layer(filters={"int": {"min": 8, "max": 32}},
                  rate={"float": {"min": 0.1, "max": 0.5}},
                  activation={"choice": ["tanh", "relu"]},
                  use_bias={"boolean": {}}, kernel_size={"fixed": 3})
    assert default_point(data) == {
        "model.layers[0].filters": 8, "model.layers[0].rate": 0.1,
        "model.layers[0].activation": "tanh", "model.layers[0].use_bias": False,
        "model.layers[0].kernel_size": 3}


def test_explicit_defaults_win():
    data = _layer(filters={"int": {"min": 8, "max": 32}, "default": 16},
                  activation={"choice": ["tanh", "relu"], "default": "relu"},
                  use_bias={"boolean": {}, "default": True})
    assert default_point(data) == {"model.layers[0].filters": 16,
                                   "model.layers[0].activation": "relu",
                                   "model.layers[0].use_bias": True}


def test_names_come_from_the_path_unless_given():
    data = _layer(filters={"int": {"min": 8, "max": 32}},
                  activation={"choice": ["relu", "tanh"], "name": "act"})
    data["fit"] = {"batch_size": {"choice": [32, 64]}}
    data["model"]["blocks"] = {"b": [{"type": "Dense", "units": {"choice": [2, 4]}}]}
    dims = search_space(data)
    assert [d.name for d in dims] == ["model.layers[0].filters", "act",
                                      "model.blocks.b[0].units", "fit.batch_size"]
    assert dims[1].path == ("model", "layers", 0, "activation")


def _conditional():
    # The child is written before its parent.
    return {"compile": {"optimizer": {
        "momentum": {"float": {"min": 0.0, "max": 0.9}, "when": {"opt": ["sgd"]}},
        "type": {"choice": ["adam", "sgd"], "name": "opt"}}}}


def test_parents_come_before_their_children():
    assert [d.name for d in search_space(_conditional())] == [
        "opt", "compile.optimizer.momentum"]


def test_inactive_child_is_none_and_dropped():
    data = _conditional()
    point = default_point(data)
    assert point == {"opt": "adam", "compile.optimizer.momentum": None}
    assert substitute_data(data, point) == {"compile": {"optimizer": {"type": "adam"}}}
    active = substitute_data(data, {"opt": "sgd", "compile.optimizer.momentum": 0.5})
    assert active == {"compile": {"optimizer": {"momentum": 0.5, "type": "sgd"}}}


def test_a_shared_name_is_one_dimension(registry):
    spec = load_spec(SPECS / "seed_grid_search.yaml", registry=registry)
    data = spec.model_dump(mode="json")
    dims = search_space(data)
    assert [d.name for d in dims] == ["activation", "optimizer", "learning_rate"]
    assert dims[0].path == ("model", "layers", 0, "activation")
    concrete = substitute_data(data, {"activation": "elu", "optimizer": "sgd",
                                      "learning_rate": 0.1})
    assert [layer.get("activation") for layer in concrete["model"]["layers"]] == [
        "elu", None, "elu", None, None, "softmax"]


# ---------------------------------------------------------------- fix_point


def _no_hypers(spec) -> bool:
    return list(find_hypers(spec.model_dump(mode="json"))) == []


def test_fix_point_default_is_concrete(registry):
    spec = load_spec(SPECS / "seed_grid_search.yaml", registry=registry)
    assert not _no_hypers(spec)
    concrete, point = fix_point(spec, registry=registry)
    assert point == {"activation": "relu", "optimizer": "adam", "learning_rate": 0.001}
    assert _no_hypers(concrete)
    assert search_space(concrete.model_dump(mode="json")) == []
    assert concrete.compile.optimizer.type == "adam"


def test_fix_point_with_values(registry):
    spec = load_spec(SPECS / "seed_grid_search.yaml", registry=registry)
    values = {"optimizer": "rmsprop", "activation": "tanh", "learning_rate": 0.01}
    concrete, point = fix_point(spec, values, registry)
    assert point == values
    assert _no_hypers(concrete)
    convs = [n for n in concrete.model.layers if n.type == "Conv2D"]
    assert [n.layer.args["activation"] for n in convs] == ["tanh", "tanh"]
    assert concrete.compile.optimizer.type == "rmsprop"
    assert concrete.compile.optimizer.args == {"learning_rate": 0.01}


def test_fix_point_of_a_concrete_spec_is_itself(registry):
    spec = spec_from_data(TINY_SPEC, registry)
    assert fix_point(spec, registry=registry) == (spec, {})


def test_hyperparameter_in_a_list_is_substituted(registry):
    text = TINY_SPEC.replace("metrics: [accuracy]",
                             "metrics: [{choice: [accuracy, categorical_accuracy]}]")
    spec = spec_from_data(text, registry)
    assert [d.name for d in search_space(spec.model_dump(mode="json"))] == ["compile.metrics[0]"]
    concrete, _ = fix_point(spec, registry=registry)
    assert concrete.model_dump(mode="json")["compile"]["metrics"] == ["accuracy"]


# ---------------------------------------------------------------- KerasTuner


@pytest.fixture(scope="module")
def keras_tuner():
    from declml.backend import import_keras

    import_keras()
    import keras_tuner

    return keras_tuner


@pytest.mark.backends
def test_declare_seed_grid_search(registry, keras_tuner):
    from declml.builder.hyperparameters import declare

    spec = load_spec(SPECS / "seed_grid_search.yaml", registry=registry)
    hp = keras_tuner.HyperParameters()
    values = declare(hp, spec)
    assert values == {"activation": "relu", "optimizer": "adam", "learning_rate": 0.001}
    assert [(h.name, type(h).__name__, list(h.values)) for h in hp.space] == [
        ("activation", "Choice", ["relu", "tanh"]),
        ("optimizer", "Choice", ["adam", "rmsprop"]),
        ("learning_rate", "Choice", [0.001, 0.01])]


@pytest.mark.backends
def test_declare_conditional_momentum(registry, keras_tuner):
    from declml.builder.hyperparameters import declare

    spec = load_spec(SPECS / "digits_depth_search.yaml", registry=registry)
    hp = keras_tuner.HyperParameters()
    values = declare(hp, spec)
    assert values["optimizer"] == "adam"
    assert values["compile.optimizer.momentum"] is None
    momentum = next(h for h in hp.space if h.name == "compile.optimizer.momentum")
    assert [(c.name, list(c.values)) for c in momentum.conditions] == [("optimizer", ["sgd"])]
    assert all(not h.conditions for h in hp.space if h is not momentum)
    assert {h.name: type(h).__name__ for h in hp.space} == {
        "conv_blocks": "Int", "dropout": "Float", "optimizer": "Choice",
        "learning_rate": "Float", "compile.optimizer.momentum": "Float",
        "fit.batch_size": "Choice"}

    sgd = keras_tuner.HyperParameters()
    sgd.values["optimizer"] = "sgd"
    assert declare(sgd, spec)["compile.optimizer.momentum"] == 0.0


@pytest.mark.backends
def test_build_for_trial_uses_the_trial_values(registry, keras_tuner):
    from declml.builder.hyperparameters import build_for_trial

    spec = load_spec(SPECS / "seed_grid_search.yaml", registry=registry)
    hp = keras_tuner.HyperParameters()
    hp.values.update({"optimizer": "rmsprop", "activation": "tanh", "learning_rate": 0.01})
    model = build_for_trial(spec, hp, registry)
    assert type(model.optimizer).__name__ == "RMSprop"
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)
    convs = [layer for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert [c.activation.__name__ for c in convs] == ["tanh", "tanh"]


@pytest.mark.backends
def test_searched_repeat_builds_that_many_blocks(registry, keras_tuner):
    from declml.builder.hyperparameters import build_for_trial

    spec = load_spec(SPECS / "digits_depth_search.yaml", registry=registry)
    hp = keras_tuner.HyperParameters()
    hp.values["conv_blocks"] = 2
    model = build_for_trial(spec, hp, registry)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("Conv2D") == 2 and kinds.count("MaxPooling2D") == 2
    assert type(model.optimizer).__name__ == "Adam"


@pytest.mark.backends
def test_log_int_without_step_declares(registry, keras_tuner):
    from declml.builder.hyperparameters import declare

    text = TINY_SPEC.replace("filters: 4,", "filters: {int: {min: 2, max: 16, sampling: log}},")
    spec = spec_from_data(text, registry)  # validates: the error only shows when searching
    hp = keras_tuner.HyperParameters()
    assert declare(hp, spec) == {"model.layers[0].filters": 2}


# ---------------------------------------------------------------- CLI


def test_validate_reports_the_search_space_size():
    from declml.cli.main import app

    result = CliRunner().invoke(app, ["validate", str(SPECS / "seed_grid_search.yaml")])
    assert result.exit_code == 0, result.output
    assert "search space of 3 hyperparameters" in result.stdout
