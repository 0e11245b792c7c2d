"""The JSON Schema: generated from the spec models plus the registry, committed, in use."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from typer.testing import CliRunner

from declml.cli.main import app
from declml.spec.schema import spec_schema
from declml.testing import plugin_registry
from tests.conftest import SPECS, registry_for_spec
from tests.test_specs import ALL_SPECS

COMMITTED = SPECS / "declml.schema.json"


@pytest.fixture(scope="module")
def schema(registry):
    return spec_schema(registry)


def test_schema_is_valid_draft_2020_12(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_committed_schema_is_current(schema):
    committed = json.loads(COMMITTED.read_text())
    assert committed == schema, "regenerate: DECLML_PLUGINS=none declml schema -o " + str(
        COMMITTED.relative_to(SPECS.parent))


@pytest.mark.parametrize("path", ALL_SPECS, ids=[p.name for p in ALL_SPECS])
def test_every_spec_validates_against_the_schema_and_names_it(schema, path, registry):
    if registry_for_spec(path, registry) is not registry:  # uses a plugin: its schema
        schema = spec_schema(registry_for_spec(path, registry))
    text = path.read_text()
    assert text.startswith("# yaml-language-server: $schema=declml.schema.json")
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(yaml.safe_load(text)))
    assert not errors, [e.message for e in errors]


@pytest.mark.parametrize("mutate, where", [
    (lambda d: d["model"]["layers"][0].update(filters=-1), ["model", "layers", 0, "filters"]),
    (lambda d: d["model"]["layers"][0].update(type="Conv2d"), ["model", "layers", 0, "type"]),
    (lambda d: d["data"].update(pth="x"), ["data"]),
    (lambda d: d["fit"].update(epochs=0), ["fit", "epochs"]),
])
def test_schema_rejects_what_validate_rejects(schema, mutate, where):
    data = yaml.safe_load((SPECS / "mnist_cnn.yaml").read_text())
    mutate(data)
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(data))
    assert [list(e.absolute_path) for e in errors] == [where]


def test_layer_branch_lists_arguments_with_types_and_defaults(schema):
    branches = {b["if"]["properties"]["type"]["const"]: b["then"]
                for b in schema["$defs"]["Layer"]["allOf"]}
    dense = branches["Dense"]
    assert dense["required"] == ["type", "units"]
    assert dense["properties"]["units"] == {"anyOf": [{"type": "integer", "exclusiveMinimum": 0},
                                                      {"$ref": "#/$defs/Hyper"}]}
    assert "relu" in dense["properties"]["activation"]["anyOf"][0]["enum"]
    assert dense["additionalProperties"] is False
    assert "Lambda" not in branches


def test_plugin_components_appear_in_the_schema_with_their_argument_models():
    from tests.plugin_fixtures import team_plugin

    registry = plugin_registry(("team", team_plugin))
    schema = spec_schema(registry)
    layer = schema["$defs"]["Layer"]
    assert "Scale" in layer["properties"]["type"]["enum"]
    branches = {b["if"]["properties"]["type"]["const"]: b["then"] for b in layer["allOf"]}
    factor = branches["Scale"]["properties"]["factor"]
    assert factor["anyOf"][0] == {"type": "number", "exclusiveMinimum": 0}
    assert factor["anyOf"][1] == {"$ref": "#/$defs/Hyper"}
    assert factor["default"] == 2.0 and "multiplies" in factor["description"]
    assert branches["Scale"]["additionalProperties"] is False
    assert "shift" in schema["$defs"]["Transform"]["anyOf"][0]["enum"]
    jsonschema.Draft202012Validator.check_schema(schema)


def test_schema_command_prints_the_same_schema(schema, tmp_path):
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == schema
    out = tmp_path / "s.json"
    assert CliRunner().invoke(app, ["schema", "-o", str(out)]).exit_code == 0
    assert json.loads(out.read_text()) == schema
