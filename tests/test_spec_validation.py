"""Good and broken specs: every error located (path, line) and explained."""

from __future__ import annotations

import pytest

from declml.errors import SpecError
from declml.spec.api import dump_spec, load_spec, spec_from_data
from declml.spec.loader import load_text
from tests.conftest import TINY_SPEC


def test_tiny_spec_is_valid_and_defaults_fill_in(write_spec, registry):
    spec = load_spec(write_spec(TINY_SPEC), registry=registry)
    assert spec.name == "tiny"
    assert spec.data.preprocessing.rescale == pytest.approx(1 / 16)
    assert [node.type for node in spec.model.layers] == ["Conv2D", "Flatten", "Dense"]
    assert spec.compile.optimizer.args == {"learning_rate": 0.01}
    assert spec.fit.shuffle is True


def test_name_defaults_to_file_stem(write_spec, registry):
    text = TINY_SPEC.replace("name: tiny\n", "")
    spec = load_spec(write_spec(text, "my experiment.yaml"), registry=registry)
    assert spec.name == "my-experiment"


def test_lock_round_trips(write_spec, registry):
    spec = load_spec(write_spec(TINY_SPEC), registry=registry)
    again = load_spec(write_spec(dump_spec(spec), "lock.yaml"), registry=registry)
    assert again == spec
    assert "rescale: 0.0625" in dump_spec(spec)


def test_empty_optional_sections_mean_defaults(write_spec, registry):
    text = TINY_SPEC.replace("preprocessing: {rescale: 1/16, reshape: [8, 8, 1], one_hot: 10}",
                             "preprocessing:")
    text = text[: text.index("fit:")] + "fit:\n"
    spec = load_spec(write_spec(text), registry=registry)
    assert spec.fit.epochs == 10 and spec.data.preprocessing.rescale is None


def test_dataset_options_are_flat_under_data(registry):
    data = load_text(TINY_SPEC).data
    data["data"] = {"dataset": "mnist", "path": "/somewhere", "preprocessing": {"one_hot": 10}}
    spec = spec_from_data(data, registry)
    assert spec.data.options == {"path": "/somewhere"}
    assert spec.model_dump()["data"]["path"] == "/somewhere"


def test_short_and_long_component_forms(registry):
    data = load_text(TINY_SPEC).data
    data["compile"] = {"optimizer": "sgd", "loss": {"type": "CategoricalCrossentropy",
                                                     "label_smoothing": 0.1},
                       "metrics": ["accuracy", {"type": "TopKCategoricalAccuracy", "k": 3}]}
    spec = spec_from_data(data, registry)
    dumped = spec.model_dump(mode="json")["compile"]
    assert dumped["optimizer"] == "sgd"
    assert dumped["loss"] == {"type": "CategoricalCrossentropy", "label_smoothing": 0.1}
    assert dumped["metrics"][1] == {"type": "TopKCategoricalAccuracy", "k": 3}


def test_nested_layer_arguments_are_validated(registry):
    data = load_text(TINY_SPEC).data
    data["model"]["layers"][1] = {"type": "TimeDistributed", "layer": {"type": "Dense",
                                                                        "unitz": 3}}
    with pytest.raises(SpecError) as info:
        spec_from_data(data, registry)
    paths = {i.path: i.message for i in info.value.issues}
    assert "did you mean 'units'" in paths["model.layers[1].layer.unitz"]
    assert "requires 'units'" in paths["model.layers[1].layer"]


# (replace this, with that) in TINY_SPEC → (path, line, message fragment)
BROKEN = [
    ("seed: 3", "seed: three", "seed", 3, "valid integer"),
    ("dataset: digits", "dataset: digit", "data.dataset", 5, "did you mean 'digits'"),
    ("test_split: 0.25", "test_split: 1.5", "data.test_split", 6, "less than 1"),
    ("rescale: 1/16", "rescale: 1/0", "data.preprocessing.rescale", 7, "division by zero"),
    ("rescale: 1/16", "rescale: lots", "data.preprocessing.rescale", 7, "like '1/255'"),
    ("one_hot: 10}", "one_hot: 0}", "data.preprocessing.one_hot", 7, "greater than 0"),
    ("reshape: [8, 8, 1]", "reshap: [8, 8, 1]", "data.preprocessing.reshap", 7,
     "did you mean 'reshape'"),
    ("test_split: 0.25", "test_split: 0.25\n  pth: x", "data.pth", 7,
     "unknown key 'pth' for dataset 'digits'"),
    ("input_shape: [8, 8, 1]", "input_shape: [8, -8, 1]", "model.input_shape[1]", 9,
     "greater than 0"),
    ("type: Conv2D, filters: 4", "type: Conv2d, filters: 4", "model.layers[0].type", 11,
     "did you mean 'Conv2D'"),
    ("filters: 4,", "fitlers: 4,", "model.layers[0].fitlers", 11, "did you mean 'filters'"),
    ("filters: 4,", "fitlers: 4,", "model.layers[0]", 11, "requires 'filters'"),
    ("activation: relu}", "activation: rleu}", "model.layers[0].activation", 11,
     "unknown activation 'rleu'"),
    ("{type: Dense, units: 10, activation: softmax}", "{type: Dense, activation: softmax}",
     "model.layers[2]", 13, "requires 'units'"),
    ("- {type: Flatten}", "- Flatten", "model.layers[1]", 12, "expected a mapping with 'type'"),
    ("- {type: Flatten}", "- {units: 3}", "model.layers[1]", 12, "missing 'type'"),
    ("- {type: Flatten}", "- {type: Lambda, function: x}", "model.layers[1].type", 12,
     "layer 'Lambda' is not available"),
    ("  input_shape: [8, 8, 1]\n", "", "model", 9, "the model needs an input"),
    ("layers:\n", "layers: []\n  old_layers:\n", "model.layers", 10, "at least 1 item"),
    ("units: 10,", "units: -3,", "model.layers[2].units", 13,
     "Dense: 'units' must be a positive integer; got -3"),
    ("filters: 4,", "filters: '4',", "model.layers[0].filters", 11, "positive integer; got '4'"),
    ("kernel_size: 3,", "kernel_size: [3, 0],", "model.layers[0].kernel_size", 11,
     "a positive integer or a list of them"),
    ("- {type: Flatten}", "- {type: Dropout, rate: 1.5}", "model.layers[1].rate", 12,
     "from 0 up to (not including) 1"),
    ("kernel_size: 3,", "kernel_size: 3, padding: full,", "model.layers[0].padding", 11,
     "one of 'valid', 'same', 'causal'"),
    ("kernel_size: 3,", "kernel_size: 3, use_bias: 1,", "model.layers[0].use_bias", 11,
     "true or false"),
    ("learning_rate: 0.01", "learning_rate: -0.01", "compile.optimizer.learning_rate", 15,
     "positive number"),
    ("type: adam", "type: adum", "compile.optimizer.type", 15, "did you mean 'adam'"),
    ("learning_rate: 0.01", "learning_rte: 0.01", "compile.optimizer.learning_rte", 15,
     "did you mean 'learning_rate'"),
    ("loss: categorical_crossentropy",
     "loss: {type: categorical_crossentropy, from_logits: true}", "compile.loss.from_logits",
     16, "takes no arguments"),
    ("loss: categorical_crossentropy", "loss: 3", "compile.loss", 16,
     "expected a name or a mapping"),
    ("metrics: [accuracy]", "metrics: [accuracy, f1]", "compile.metrics[1]", 17,
     "unknown metric 'f1'"),
    ("epochs: 2", "epoch: 2", "fit.epoch", 19, "did you mean 'epochs'"),
    ("epochs: 2", "epochs: 0", "fit.epochs", 19, "greater than 0"),
    ("validation: test", "validation: train", "fit.validation", 21, "expected 'test'"),
    ("validation: test", "validation: 1.5", "fit.validation", 21, "between 0 and 1"),
    ("name: tiny", "name: my run/1", "name", 2, "no spaces or slashes"),
    ("spec_version: 1", "spec_version: 2", "spec_version", 1, "Input should be 1"),
    ("seed: 3", "seed: 3\nbackend: theano", "backend", 4, "'jax', 'tensorflow' or 'torch'"),
    ("compile:", "compiler:", "compiler", 14, "did you mean 'compile'"),
    ("compile:", "compiler:", "compile", 1, "required key is missing"),
    ("batch_size: 64", "batch_size: 64\n  batch_size: 32", "fit.batch_size", 21,
     "duplicate key"),
]


@pytest.mark.parametrize("old, new, path, line, fragment", BROKEN,
                         ids=[f"{b[2]}:{b[4][:20]}" for b in BROKEN])
def test_broken_spec_is_located_and_explained(write_spec, registry, old, new, path, line,
                                              fragment):
    assert old in TINY_SPEC
    spec_file = write_spec(TINY_SPEC.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(str(i) for i in info.value.issues)
    assert matching[0].source.startswith(f"{spec_file}:{line}:")


def test_all_errors_are_reported_at_once(write_spec, registry):
    text = (TINY_SPEC.replace("seed: 3", "seed: x").replace("epochs: 2", "epochs: -1")
            .replace("type: Flatten", "type: Flaten").replace("loss: categorical_crossentropy",
                                                             "loss: nope"))
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(text), registry=registry)
    assert [i.path for i in info.value.issues] == [
        "seed", "model.layers[1].type", "compile.loss", "fit.epochs"]
    assert "invalid spec (4 errors)" in str(info.value)
