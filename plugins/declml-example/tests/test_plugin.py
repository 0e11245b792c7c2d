"""Registration and validation: what `declml validate` sees, without building anything."""

from __future__ import annotations

import subprocess
import sys

import pytest

VALID = [
    ("layer", "SqueezeExcite", {}),
    ("layer", "SqueezeExcite", {"ratio": 8, "min_units": 2, "name": "se"}),
    ("layer", "ResidualDense", {}),
    ("layer", "ResidualDense", {"activation": "tanh"}),
    ("loss", "FocalLoss", {}),
    ("loss", "FocalLoss", {"gamma": 0, "alpha": 0.25, "from_logits": True,
                           "label_smoothing": 0.1}),
    ("metric", "MacroF1", {"num_classes": 3}),
]


@pytest.mark.parametrize(("kind", "name", "args"), VALID)
def test_components_validate(tester, kind, name, args):
    ref = tester.validate(kind, name, args)
    assert ref.type == name
    assert ref.args == args


@pytest.mark.parametrize(("kind", "name", "args", "arg", "words"), [
    ("layer", "SqueezeExcite", {"ratio": 0}, "ratio", "greater than or equal to 1"),
    ("layer", "SqueezeExcite", {"ratio": True}, "ratio", "valid integer"),
    ("layer", "SqueezeExcite", {"min_units": 0}, "min_units", "greater than or equal to 1"),
    ("layer", "SqueezeExcite", {"ratoi": 4}, "ratoi", "did you mean 'ratio'"),
    ("layer", "ResidualDense", {"activation": "rleu"}, "activation", "did you mean 'relu'"),
    ("loss", "FocalLoss", {"gamma": -1}, "gamma", "greater than or equal to 0"),
    ("loss", "FocalLoss", {"alpha": 1.5}, "alpha", "less than or equal to 1"),
    ("loss", "FocalLoss", {"label_smoothing": 1}, "label_smoothing", "less than 1"),
    ("loss", "FocalLoss", {"from_logits": "yes"}, "from_logits", "valid boolean"),
    ("metric", "MacroF1", {}, "num_classes", "requires"),
    ("metric", "MacroF1", {"num_classes": 1}, "num_classes", "greater than or equal to 2"),
])
def test_bad_arguments_name_the_argument(tester, kind, name, args, arg, words):
    messages = tester.errors(kind, name, args)
    assert len(messages) == 1, messages
    assert arg in messages[0]
    assert words in messages[0]


def test_short_metric_form_needs_num_classes(tester):
    messages = tester.errors("metric", "MacroF1")
    assert messages and "num_classes" in messages[0]


def test_everything_is_registered_lazily(tester):
    expected = {("layer", "SqueezeExcite"), ("layer", "ResidualDense"), ("loss", "FocalLoss"),
                ("metric", "MacroF1"), ("dataset", "shapes"), ("command", "shapes-preview")}
    components = tester.registry.of_plugin("example")  # the entry-point name
    assert {(c.kind, c.name) for c in components} == expected
    for component in components:
        assert isinstance(component.target, str)  # imported only when used
        assert component.target.startswith("declml_example.")
        assert component.description


def test_argument_models_describe_every_field():
    from declml_example import plugin

    for model in (plugin.SqueezeExciteArgs, plugin.ResidualDenseArgs, plugin.FocalLossArgs,
                  plugin.MacroF1Args, plugin.ShapesOptions):
        schema = model.model_json_schema()
        assert schema.get("additionalProperties") is False
        for field, info in schema["properties"].items():
            assert info.get("description"), f"{model.__name__}.{field} has no description"


def test_dataset_options_are_checked(tester):
    spec = {
        "name": "t", "data": {"dataset": "shapes", "size": 8, "nosie": 0.1},
        "model": {"input_shape": [8, 8], "layers": [{"type": "Flatten"}]},
        "compile": {"loss": "sparse_categorical_crossentropy"},
    }
    from declml.errors import SpecError
    from declml.spec.api import spec_from_data

    with pytest.raises(SpecError) as caught:
        spec_from_data(spec, tester.registry)
    text = str(caught.value)
    assert "size" in text and "greater than or equal to 12" in text
    assert "nosie" in text and "noise" in text


def test_importing_the_plugin_does_not_import_keras_or_numpy():
    code = ("import sys, declml_example.plugin; "
            "heavy = [m for m in ('keras', 'numpy', 'jax', 'tensorflow', 'torch') "
            "if m in sys.modules]; "
            "assert not heavy, heavy")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("kind", "name"), [("layer", "SqueezeExcite"), ("layer", "ResidualDense"),
                                            ("loss", "FocalLoss"), ("metric", "MacroF1")])
def test_schema_defaults_are_the_real_defaults(tester, keras, kind, name):
    """declml calls the factory with the spec's arguments only: the defaults that
    `declml schema` publishes must be the ones the class applies."""
    import inspect

    component = tester.component(kind, name)
    signature = inspect.signature(component.load())
    for field, info in component.spec_model.model_fields.items():
        if field == "name":
            continue
        parameter = signature.parameters[field]
        if info.is_required():
            assert parameter.default is inspect.Parameter.empty, field
        else:
            assert parameter.default == info.default, field


def test_dataset_defaults_are_the_generator_defaults():
    import inspect

    from declml_example.datasets import make_shapes
    from declml_example.plugin import ShapesOptions

    parameters = inspect.signature(make_shapes).parameters
    for field, info in ShapesOptions.model_fields.items():
        assert parameters[field].default == info.default, field
