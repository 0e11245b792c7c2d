from __future__ import annotations

import pytest

from declml.errors import SpecError
from declml.spec.loader import format_path, load_file, load_text


def test_locations_of_keys_and_values():
    loaded = load_text("a: 1\nb:\n  - {x: 2}\n  - y\n", "f.yaml")
    assert loaded.data == {"a": 1, "b": [{"x": 2}, "y"]}
    assert str(loaded.values[("a",)]) == "f.yaml:1:4"
    assert str(loaded.keys[("b", 0, "x")]) == "f.yaml:3:6"
    assert str(loaded.values[("b", 1)]) == "f.yaml:4:5"


def test_locate_falls_back_to_nearest_ancestor():
    loaded = load_text("fit:\n  epochs: 3\n", "f.yaml")
    assert str(loaded.locate(("fit", "missing_key"))) == "f.yaml:2:3"


def test_duplicate_keys_are_errors_with_both_lines():
    with pytest.raises(SpecError) as info:
        load_text("fit:\n  epochs: 1\n  epochs: 2\n", "f.yaml")
    (issue,) = info.value.issues
    assert issue.path == "fit.epochs"
    assert issue.source == "f.yaml:3:3"
    assert "first defined at line 2" in issue.message


@pytest.mark.parametrize("text", [
    "name: !!python/object/apply:os.system ['echo hi']\n",
    "name: !!python/object:os.system {a: 1}\n",
    "name: !!python/name:os.system ''\n",
    "name: !custom 3\n",
])
def test_python_tags_are_rejected_not_constructed(text):
    with pytest.raises(SpecError) as info:
        load_text(text, "f.yaml")
    assert info.value.issues[0].source == "f.yaml:1:7"


def test_yaml_syntax_error_has_position():
    with pytest.raises(SpecError) as info:
        load_text("a: [1, 2\nb: 3\n", "f.yaml")
    assert info.value.issues[0].message.startswith("not valid YAML")
    assert info.value.issues[0].source.startswith("f.yaml:")


@pytest.mark.parametrize("text, kind", [("", "empty"), ("- 1\n- 2\n", "list"), ("42", "int")])
def test_spec_must_be_a_mapping(text, kind):
    with pytest.raises(SpecError) as info:
        load_text(text, "f.yaml")
    assert kind in info.value.issues[0].message


def test_json_positions_and_strict_json_errors(tmp_path):
    good = tmp_path / "s.json"
    good.write_text('{"a": 1,\n "b": {"c": [1, 2]}}')
    loaded = load_file(good)
    assert loaded.data == {"a": 1, "b": {"c": [1, 2]}}
    assert loaded.values[("b", "c", 1)].line == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,}')
    with pytest.raises(SpecError) as info:
        load_file(bad)
    assert "not valid JSON" in info.value.issues[0].message
    assert info.value.issues[0].source == f"{bad}:1:9"


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(SpecError, match="not found"):
        load_file(tmp_path / "nope.yaml")
    with pytest.raises(SpecError, match="is a directory"):
        load_file(tmp_path)


def test_format_path():
    assert format_path(("model", "layers", 2, "units")) == "model.layers[2].units"
    assert format_path(()) == ""
