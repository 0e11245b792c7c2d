"""Model graphs: named inputs and outputs, merges, blocks, sharing, repeat.

Broken graphs are reported located (path, line) and explained; good ones build
the Keras model they describe.
"""

from __future__ import annotations

import pytest

from declml.errors import SpecError
from declml.spec.api import load_spec, spec_from_data
from declml.spec.loader import load_text
from tests.conftest import TINY_SPEC

GRAPH_SPEC = """\
spec_version: 1
name: graph
data:
  dataset: digits
model:
  inputs:
    a: {shape: [4]}
    b: {shape: [3]}
  layers:
    - {type: Dense, name: da, inputs: a, units: 2}
    - {type: Dense, name: db, inputs: b, units: 2}
    - {type: Concatenate, name: merged, inputs: [da, db]}
    - {type: Dense, name: out, units: 1}
  outputs: [out]
  blocks:
    pair:
      - {type: Dense, units: 2}
compile:
  optimizer: adam
  loss: mse
"""

_DA = "- {type: Dense, name: da, inputs: a, units: 2}"
_DB = "- {type: Dense, name: db, inputs: b, units: 2}"
_OUT = "- {type: Dense, name: out, units: 1}"

# (replace this, with that) in GRAPH_SPEC → (path, line, message fragment)
BROKEN = [
    ("inputs: [da, db]", "inputs: [da, dbb]", "model.layers[2].inputs[1]", 12,
     "no layer or input named 'dbb'; did you mean 'db'?"),
    ("name: db,", "name: da,", "model.layers[1].name", 11,
     "'da' is already used by model.layers[0]"),
    (f"{_DA}\n    {_DB}", f"{_DA.replace('inputs: a', 'inputs: db')}\n    "
     f"{_DB.replace('inputs: b', 'inputs: da')}", "model.layers[1].inputs", 11,
     "the layers form a cycle: da -> db -> da"),
    ("name: out, units: 1}", "name: out, inputs: out, units: 1}", "model.layers[3].inputs", 13,
     "layer 'out' cannot take itself as input"),
    (_OUT, "- {block: pai, name: out}", "model.layers[3].block", 13,
     "no block named 'pai'; did you mean 'pair'?"),
    (_OUT, "- {block: nope, name: out}", "model.layers[3].block", 13,
     "no block named 'nope' under model.blocks"),
    ("      - {type: Dense, units: 2}", "      - {block: pair}", "model.blocks.pair", 17,
     "block 'pair' uses itself: pair -> pair"),
    (_OUT, "- {shared: dx, name: out}", "model.layers[3].shared", 13,
     "shared: 'dx' does not exist"),
    (_OUT, "- {shared: db, name: out, repeat: 2}", "model.layers[3].repeat", 13,
     "a shared layer cannot repeat"),
    (_OUT, "- {type: Dense, block: pair, name: out, units: 1}", "model.layers[3]", 13,
     "give only one of 'type', 'block' and 'shared'; this entry has type, block"),
    (_OUT, "- {block: pair, name: out, units: 1}", "model.layers[3].units", 13,
     "'units' belongs on the layers of the block"),
    ("outputs: [out]", "outputs: [out, ot]", "model.outputs[1]", 14,
     "no layer named 'ot'; did you mean 'out'?"),
    ("name: da, inputs: a, units", "name: da, units", "model.layers[0]", 10,
     "the model has several inputs (a, b); say which"),
    ("  inputs:\n", "  input_shape: [4]\n  inputs:\n", "model", 6,
     "give either input_shape (one input) or inputs (named inputs), not both"),
    ("  inputs:\n    a: {shape: [4]}\n    b: {shape: [3]}\n", "", "model", 6,
     "the model needs an input"),
    ("loss: mse", "loss: {out: mse, outt: mse}", "compile.loss.outt", 20,
     "'outt' is not an output of the model (outputs: out); did you mean 'out'?"),
    ("name: out, units: 1}", "name: out, units: 1, repeat: 0}", "model.layers[3].repeat", 13,
     "repeat must be a positive integer; got 0"),
]


def test_graph_spec_is_valid(write_spec, registry):
    spec = load_spec(write_spec(GRAPH_SPEC), registry=registry)
    assert spec.model.input_names == ["a", "b"]
    assert spec.model.output_names == ["out"]
    assert spec.model.layers[2].inputs == ["da", "db"]
    assert not spec.model.is_sequential


@pytest.mark.parametrize("old, new, path, line, fragment", BROKEN,
                         ids=[f"{b[2]}:{b[4][:24]}" for b in BROKEN])
def test_broken_graph_is_located_and_explained(write_spec, registry, old, new, path, line,
                                               fragment):
    assert old in GRAPH_SPEC
    spec_file = write_spec(GRAPH_SPEC.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(str(i) for i in info.value.issues)
    assert matching[0].source.startswith(f"{spec_file}:{line}:")


def test_duplicate_name_points_at_the_first_use(write_spec, registry):
    spec_file = write_spec(GRAPH_SPEC.replace("name: db,", "name: da,", 1))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    messages = [i.message for i in info.value.issues if i.path == "model.layers[1].name"]
    assert messages and f"already used by model.layers[0] ({spec_file}:10:" in messages[0]


# ---------------------------------------------------------------- building


def _graph(**model):
    """GRAPH_SPEC as data, with its ``model`` section replaced by ``model``."""
    data = load_text(GRAPH_SPEC).data
    data["model"] = model
    return data


def _tiny(layers, **model):
    data = load_text(TINY_SPEC).data
    data["model"] = {"input_shape": [4], "layers": layers, **model}
    data["compile"]["loss"] = "mse"
    return data


def _types(model):
    return [type(layer).__name__ for layer in model.layers]


@pytest.fixture(scope="module")
def keras():
    from declml.backend import import_keras

    return import_keras()


@pytest.mark.backends
def test_two_named_inputs_merged_build_a_functional_model(registry, keras):
    from declml.builder.model import build_model

    model = build_model(spec_from_data(load_text(GRAPH_SPEC).data, registry), registry)
    assert not isinstance(model, keras.Sequential)
    assert [t.name for t in model.inputs] == ["a", "b"]
    assert [tuple(t.shape) for t in model.inputs] == [(None, 4), (None, 3)]
    merged = next(layer for layer in model.layers if type(layer).__name__ == "Concatenate")
    assert tuple(merged.output.shape) == (None, 4)
    assert tuple(model.outputs[0].shape) == (None, 1)


def _two_branches(second: dict) -> dict:
    return _graph(
        inputs={"a": {"shape": [4]}, "b": {"shape": [4]}},
        layers=[{"type": "Dense", "name": "enc", "inputs": "a", "units": 3},
                {**second, "name": "enc_b", "inputs": "b"},
                {"type": "Concatenate", "name": "merged", "inputs": ["enc", "enc_b"]}],
        outputs=["merged"])


@pytest.mark.backends
def test_shared_layer_shares_its_weights(registry):
    from declml.builder.model import build_model

    shared = build_model(spec_from_data(_two_branches({"shared": "enc"}), registry), registry)
    fresh = build_model(spec_from_data(_two_branches({"type": "Dense", "units": 3}), registry),
                        registry)
    assert _types(shared).count("Dense") == 1
    assert _types(fresh).count("Dense") == 2
    assert shared.count_params() == 4 * 3 + 3
    assert fresh.count_params() == 2 * (4 * 3 + 3)
    dense = next(layer for layer in shared.layers if type(layer).__name__ == "Dense")
    assert len(dense._inbound_nodes) == 2  # called on both inputs


@pytest.mark.backends
def test_repeat_gives_fresh_layers(registry, keras):
    from declml.builder.model import build_model

    data = _tiny([{"type": "Dense", "units": 5, "repeat": 3}, {"type": "Dense", "units": 1}])
    model = build_model(spec_from_data(data, registry), registry)
    assert isinstance(model, keras.Sequential)
    assert _types(model) == ["Dense"] * 4
    assert model.count_params() == (4 * 5 + 5) + 2 * (5 * 5 + 5) + (5 + 1)


@pytest.mark.backends
def test_a_block_used_twice_gets_fresh_layers(registry, keras):
    from declml.builder.model import build_model

    block = {"type": "Dense", "units": 4}
    once = _tiny([{"block": "b"}], blocks={"b": [block]})
    twice = _tiny([{"block": "b"}, {"block": "b"}], blocks={"b": [block]})
    model_once = build_model(spec_from_data(once, registry), registry)
    model_twice = build_model(spec_from_data(twice, registry), registry)
    assert not isinstance(model_twice, keras.Sequential)
    assert _types(model_twice).count("Dense") == 2
    assert model_once.count_params() == 4 * 4 + 4
    assert model_twice.count_params() == 2 * (4 * 4 + 4)
    dense = [layer for layer in model_twice.layers if type(layer).__name__ == "Dense"]
    assert dense[0] is not dense[1]


@pytest.mark.backends
def test_entries_may_be_written_before_what_they_take(registry):
    from declml.builder.model import build_model

    data = _graph(
        input_shape=[4],
        layers=[{"type": "Dense", "name": "head", "inputs": "hidden", "units": 2},
                {"type": "Dense", "name": "hidden", "inputs": "input", "units": 3}],
        outputs=["head"])
    model = build_model(spec_from_data(data, registry), registry)
    assert tuple(model.outputs[0].shape) == (None, 2)
    assert model.count_params() == (4 * 3 + 3) + (3 * 2 + 2)


@pytest.mark.backends
def test_multi_output_compile_with_per_output_loss_and_weights(registry):
    from declml.builder.model import build_model

    data = _graph(
        input_shape=[4],
        layers=[{"type": "Dense", "name": "hidden", "units": 3},
                {"type": "Dense", "name": "left", "units": 2, "activation": "softmax"},
                {"type": "Dense", "name": "right", "inputs": "hidden", "units": 1}],
        outputs=["left", "right"])
    data["compile"] = {"optimizer": "adam",
                       "loss": {"left": "categorical_crossentropy", "right": "mse"},
                       "metrics": {"left": ["accuracy"], "right": ["mae"]},
                       "loss_weights": {"left": 1.0, "right": 0.5}}
    spec = spec_from_data(data, registry)
    assert spec.model.output_names == ["left", "right"]
    model = build_model(spec, registry)
    assert model.compiled
    config = model.get_compile_config()
    assert config["loss"] == {"left": "categorical_crossentropy", "right": "mse"}
    assert config["loss_weights"] == {"left": 1.0, "right": 0.5}
    assert [tuple(t.shape) for t in model.outputs] == [(None, 2), (None, 1)]


@pytest.mark.backends
def test_plain_stack_is_still_sequential(registry, keras):
    from declml.builder.model import build_model

    data = _tiny([{"type": "Dense", "units": 3, "name": "first"}, {"type": "Dropout", "rate": 0.1},
                  {"type": "Dense", "units": 1}])
    spec = spec_from_data(data, registry)
    assert spec.model.is_sequential
    model = build_model(spec, registry)
    assert isinstance(model, keras.Sequential)
    assert _types(model) == ["Dense", "Dropout", "Dense"]
    assert model.layers[0].name == "first"
