"""More broken specs, beyond the BROKEN table of test_spec_validation.py.

Each case checks the dotted path, the line (from ``issue.source``, ``file:line:col``)
and a fragment of the message. Behaviour that looks wrong today is written down
as the behaviour it should have, under a strict xfail whose reason starts "BUG:".
"""

from __future__ import annotations

import pytest

from declml.errors import SpecError
from declml.spec.api import load_spec
from declml.spec.loader import load_text
from declml.spec.overrides import parse_override
from tests.conftest import TINY_SPEC

_DATA = """\
data:
  dataset: digits
  test_split: 0.25
  preprocessing: {rescale: 1/16, reshape: [8, 8, 1], one_hot: 10}
"""
_LAYERS = """\
  layers:
    - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}
    - {type: Flatten}
    - {type: Dense, units: 10, activation: softmax}
"""
_FIT = """\
fit:
  epochs: 2
  batch_size: 64
  validation: test
"""

# (replace this, with that) in TINY_SPEC → (path, line, message fragment)
BROKEN_MORE = [
    # YAML features that specs do not support, or misuse of them
    ("fit:\n", "defaults: &d {epochs: 2}\nfit:\n  <<: *d\n", "fit", 20, "merge keys ('<<')"),
    ("epochs: 2", "epochs: *nope", "", 19, "found undefined alias 'nope'"),
    ("  epochs: 2", "\tepochs: 2", "", 19, "found character '\\t'"),
    ("seed: 3", "seed: !!set {a, b}", "seed", 3, "YAML tag 'tag:yaml.org,2002:set' is not allowed"),
    ("seed: 3", "seed: !!python/object:os.system x", "", 3, "could not determine a constructor"),
    ("seed: 3", "seed: !env HOME", "", 3, "'!env'"),
    ("seed: 3", "seed: 3\n[a, b]: 1", "", 4, "mapping keys must be plain scalars"),
    ("fit:\n", "fit: &f\n", "", 18, ""),  # harmless anchor: stays valid (checked below)
    # an anchored mapping reused under an unknown key: both problems, each at its own line
    (_FIT, "fit: &f {epochs: 2, batch_size: 64, validation: test, bogus: 1}\nx: *f\n",
     "fit.bogus", 18, "unknown key 'bogus'"),
    (_FIT, "fit: &f {epochs: 2, batch_size: 64, validation: test, bogus: 1}\nx: *f\n",
     "x", 19, "unknown key 'x'"),
    # empty sections, nulls and wrong container kinds
    (_DATA, "data:\n", "data", 4, "valid dictionary"),
    (_DATA, "data: []\n", "data", 4, "got []"),
    (_FIT, "fit: ~\n", "fit", 18, "valid dictionary"),
    ("preprocessing: {rescale: 1/16, reshape: [8, 8, 1], one_hot: 10}", "preprocessing: null",
     "data.preprocessing", 7, "valid dictionary"),
    (_LAYERS, "  layers:\n    dense: {type: Dense, units: 10}\n", "model.layers", 11,
     "valid list"),
    ("metrics: [accuracy]", "metrics: accuracy", "compile.metrics", 17, "valid list"),
    ("loss: categorical_crossentropy", "loss: true", "compile.loss", 16, "got True"),
    ("{type: Flatten}", "{type: 3}", "model.layers[1].type", 12, "must be a layer name"),
    ("test_split: 0.25", "test_split: 0.25\n  stratify: maybe", "data.stratify", 7,
     "valid boolean"),
    # dataset options of npz and mnist
    ("dataset: digits", "dataset: npz", "data.path", 5, "required key is missing"),
    ("dataset: digits", "dataset: npz\n  path: a.npz\n  xkey: x", "data.xkey", 7,
     "did you mean 'x_key'"),
    ("dataset: digits", "dataset: mnist\n  pth: /x", "data.pth", 6,
     "unknown key 'pth' for dataset 'mnist'; did you mean 'path'"),
    ("dataset: digits", "dataset: mnist\n  path: 3", "data.path", 6, "valid string"),
    # components
    ("optimizer: {type: adam, learning_rate: 0.01}", "optimizer: {learning_rate: 0.1}",
     "compile.optimizer", 15, "missing 'type': name the optimizer"),
    ("{type: Dense, units: 10, activation: softmax}", "{type: Dense, units: 10, units: 5}",
     "model.layers[2].units", 13, "duplicate key 'units'"),
    ("    - {type: Flatten}\n", "    - type: Flatten\n      type: Dense\n",
     "model.layers[1].type", 13, "first defined at line 12"),
    # documents
    ("name: tiny\n", "name: tiny\n---\nname: other\n", "", 3, "expected a single document"),
]
BROKEN_MORE = [case for case in BROKEN_MORE if case[4]]  # drop the valid anchor case


@pytest.mark.parametrize("old, new, path, line, fragment", BROKEN_MORE,
                         ids=[f"{b[2] or '<root>'}:{b[4][:24]}" for b in BROKEN_MORE])
def test_more_broken_specs_are_located_and_explained(write_spec, registry, old, new, path,
                                                     line, fragment):
    assert old in TINY_SPEC
    spec_file = write_spec(TINY_SPEC.replace(old, new, 1))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(str(i) for i in info.value.issues)
    assert matching[0].source.startswith(f"{spec_file}:{line}:"), matching[0].source


def test_anchors_and_aliases_of_plain_values_are_fine(write_spec, registry):
    text = TINY_SPEC.replace("epochs: 2", "epochs: &n 4").replace("batch_size: 64",
                                                                   "batch_size: *n")
    spec = load_spec(write_spec(text), registry=registry)
    assert (spec.fit.epochs, spec.fit.batch_size) == (4, 4)


@pytest.mark.parametrize("text, kind", [
    ("", "empty"), ("# nothing here\n", "empty"), ("- a\n- b\n", "a list"),
    ("just words\n", "a str"),
])
def test_whole_file_is_not_a_mapping(write_spec, registry, text, kind):
    spec_file = write_spec(text)
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    (issue,) = info.value.issues
    assert issue.path == ""
    assert f"the file is {kind}" in issue.message
    assert issue.source == f"{spec_file}:1:1"


# --- JSON specs: line numbers come from the JSON text ----------------------------------

JSON_SPEC = """\
{
  "name": "j",
  "data": {"dataset": "digits", "preprocessing": {"one_hot": 10, "reshape": [8, 8, 1]}},
  "model": {
    "input_shape": [8, 8, 1],
    "layers": [
      {"type": "Flatten"},
      {"type": "Dense", "unit": 10}
    ]
  },
  "compile": {"loss": "categorical_crossentropy"},
  "fit": {"epochs": -1}
}
"""


def test_json_spec_errors_have_json_line_numbers(write_spec, registry):
    spec_file = write_spec(JSON_SPEC, "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    got = {(i.path, i.source) for i in info.value.issues}
    assert got == {
        ("model.layers[1]", f"{spec_file}:8:7"),
        ("model.layers[1].unit", f"{spec_file}:8:25"),
        ("fit.epochs", f"{spec_file}:12:21"),
    }
    messages = {i.path: i.message for i in info.value.issues}
    assert "did you mean 'units'" in messages["model.layers[1].unit"]
    assert "greater than 0" in messages["fit.epochs"]


@pytest.mark.parametrize("old, new, path, line, fragment", [
    ('"epochs": -1', '"epochs": -1,', "", 12, "not valid JSON"),
    ('"name": "j"', "'name': 'j'", "", 2, "not valid JSON"),
    ('"epochs": -1', '"epochs": 1, "epochs": 2', "fit.epochs", 12, "duplicate key 'epochs'"),
    ('"epochs": -1', '"epochs": NaN', "fit.epochs", 12, "valid integer"),
])
def test_broken_json_specs(write_spec, registry, old, new, path, line, fragment):
    spec_file = write_spec(JSON_SPEC.replace(old, new, 1), "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(str(i) for i in info.value.issues)
    assert matching[0].source.startswith(f"{spec_file}:{line}:")


def test_yaml_in_a_json_file_is_a_json_error(write_spec, registry):
    spec_file = write_spec("name: x\n", "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    assert info.value.issues[0].source == f"{spec_file}:1:1"
    assert "not valid JSON" in info.value.issues[0].message


@pytest.mark.xfail(strict=True, reason="BUG: JSON indented with tabs falls back to json.loads, "
                   "which keeps the last of duplicate keys silently")
def test_tab_indented_json_still_rejects_duplicate_keys(write_spec, registry):
    text = JSON_SPEC.replace("  ", "\t").replace('"epochs": -1', '"epochs": 1, "epochs": 2')
    spec_file = write_spec(text, "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    assert any("duplicate key 'epochs'" in i.message for i in info.value.issues)


@pytest.mark.xfail(strict=True, reason="BUG: JSON indented with tabs loses every line number "
                   "(PyYAML rejects the tabs; tabs outside JSON strings could become spaces)")
def test_tab_indented_json_errors_keep_line_numbers(write_spec, registry):
    spec_file = write_spec(JSON_SPEC.replace("  ", "\t"), "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    by_path = {i.path: i.source for i in info.value.issues}
    assert by_path["fit.epochs"] is not None
    assert by_path["fit.epochs"].startswith(f"{spec_file}:12:")


# --- --set overrides ---------------------------------------------------------------------

@pytest.mark.parametrize("override, path, fragment", [
    ("fit.epoch=3", "fit.epoch", "unknown key 'epoch'; did you mean 'epochs'"),
    ("fitt.epochs=3", "fitt", "did you mean 'fit'"),
    ("fit.epochs.x=3", "fit.epochs.x", "fit.epochs is a int, not a mapping"),
    ("model.layers.first=3", "model.layers.first", "index it with a number"),
    ("fit.epochs=&x [*x]", "fit.epochs", "valid integer"),
    ("data.preprocessing=7", "data.preprocessing", "valid dictionary"),
])
def test_override_errors_are_attributed_to_the_override(write_spec, registry, override, path,
                                                        fragment):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(TINY_SPEC), [override], registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(str(i) for i in info.value.issues)
    assert matching[0].source == f"--set {override}"


# --- behaviour that looks wrong today: strict xfails ---------------------------------------

@pytest.mark.xfail(strict=True, reason="BUG: booleans are silently accepted as integers "
                   "(Pydantic lax mode turns true into 1)")
@pytest.mark.parametrize("old, new, path", [
    ("epochs: 2", "epochs: true", "fit.epochs"),
    ("seed: 3", "seed: true", "seed"),
    ("one_hot: 10}", "one_hot: true}", "data.preprocessing.one_hot"),
    ("input_shape: [8, 8, 1]", "input_shape: [8, 8, true]", "model.input_shape[2]"),
])
def test_booleans_are_not_integers(write_spec, registry, old, new, path):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(TINY_SPEC.replace(old, new, 1)), registry=registry)
    assert [i.path for i in info.value.issues] == [path]


@pytest.mark.xfail(strict=True, reason="BUG: --set fit.epochs=true is accepted as epochs=1")
def test_boolean_override_is_not_an_integer(write_spec, registry):
    with pytest.raises(SpecError):
        load_spec(write_spec(TINY_SPEC), ["fit.epochs=true"], registry)


@pytest.mark.xfail(strict=True, reason="BUG: a seed above 2**32-1 validates, but numpy/sklearn "
                   "reject it only when the data is split")
def test_huge_seed_is_rejected_at_validation(write_spec, registry):
    spec_file = write_spec(TINY_SPEC.replace("seed: 3", "seed: 99999999999999999999999"))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    assert info.value.issues[0].path == "seed"
    assert info.value.issues[0].source.startswith(f"{spec_file}:3:")


@pytest.mark.xfail(strict=True, reason="BUG: rescale accepts .nan and .inf (and '1e999/1')")
@pytest.mark.parametrize("value", [".nan", ".inf", "1e999/1"])
def test_non_finite_rescale_is_rejected(write_spec, registry, value):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(TINY_SPEC.replace("rescale: 1/16", f"rescale: {value}")),
                  registry=registry)
    assert info.value.issues[0].path == "data.preprocessing.rescale"


@pytest.mark.xfail(strict=True, reason="BUG: a core tag with a bad value (!!int abc, !!float "
                   "abc, !!timestamp abc) escapes load_text as ValueError/AttributeError")
@pytest.mark.parametrize("value", ["!!int abc", "!!float abc", "!!timestamp abc"])
def test_bad_core_tag_value_is_a_spec_error(write_spec, registry, value):
    spec_file = write_spec(TINY_SPEC.replace("seed: 3", f"seed: {value}"))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    assert info.value.issues[0].source.startswith(f"{spec_file}:3:")


@pytest.mark.xfail(strict=True, reason="BUG: a recursive alias (&x [*x]) makes the loader "
                   "recurse forever: RecursionError")
@pytest.mark.parametrize("value", ["&x [*x]", "&x {a: *x}"])
def test_recursive_alias_is_a_spec_error(value):
    with pytest.raises(SpecError):
        load_text(TINY_SPEC.replace("seed: 3", f"seed: {value}"), "f.yaml")


@pytest.mark.xfail(strict=True, reason="BUG: deeply nested flow collections raise "
                   "RecursionError from the YAML composer instead of SpecError")
def test_deep_nesting_is_a_spec_error():
    with pytest.raises(SpecError):
        load_text("a: " + "[" * 5000 + "]" * 5000, "f.yaml")


@pytest.mark.xfail(strict=True, reason="BUG: a null key (~: 1 / null: 1) is dropped silently")
@pytest.mark.parametrize("key", ["~", "null"])
def test_null_key_is_reported(write_spec, registry, key):
    spec_file = write_spec(TINY_SPEC.replace("epochs: 2", f"epochs: 2\n  {key}: 5"))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    assert info.value.issues[0].source.startswith(f"{spec_file}:20:")


@pytest.mark.xfail(strict=True, reason="BUG: a date key under data: crashes did_you_mean "
                   "with AttributeError ('datetime.date' has no 'lower')")
def test_date_key_under_data_is_a_spec_error(write_spec, registry):
    spec_file = write_spec(TINY_SPEC.replace("dataset: digits",
                                             "dataset: digits\n  2020-01-01: 1"))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    assert info.value.issues[0].source.startswith(f"{spec_file}:6:")


@pytest.mark.xfail(strict=True, reason="BUG: date keys are not turned into strings like int "
                   "keys are: path shows datetime.date(...) and 'Keys should be strings'")
def test_date_key_is_an_unknown_key_like_any_other(write_spec, registry):
    spec_file = write_spec(TINY_SPEC.replace("epochs: 2", "epochs: 2\n  2020-01-01: 1"))
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    (issue,) = info.value.issues
    assert issue.path == "fit.2020-01-01"
    assert "unknown key '2020-01-01'" in issue.message


@pytest.mark.xfail(strict=True, reason="BUG: an error in an aliased value is located at the "
                   "anchor's line, not at the key that uses the alias")
def test_alias_error_points_at_the_alias(write_spec, registry):
    text = TINY_SPEC.replace("epochs: 2", "epochs: &e -1").replace("batch_size: 64",
                                                                    "batch_size: *e")
    spec_file = write_spec(text)
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    by_path = {i.path: i.source for i in info.value.issues}
    assert by_path["fit.epochs"].startswith(f"{spec_file}:19:")
    assert by_path["fit.batch_size"].startswith(f"{spec_file}:20:")


@pytest.mark.xfail(strict=True, reason="BUG: parse_override calls int() on str.isdigit() "
                   "segments, so a superscript digit ('²') raises ValueError")
@pytest.mark.parametrize("text", ["²=1", "fit.²=1"])
def test_odd_digit_in_override_path_is_a_spec_error(text):
    with pytest.raises(SpecError):
        parse_override(text)


@pytest.mark.xfail(strict=True, reason="BUG: parse_override only catches YAMLError, so "
                   "'!!int x' (ValueError) or '!!timestamp x' (AttributeError) escape")
@pytest.mark.parametrize("text", ["fit.epochs=!!int x", "fit.epochs=!!float x",
                                  "fit.epochs=!!timestamp x"])
def test_bad_core_tag_in_override_is_a_spec_error(text):
    with pytest.raises(SpecError) as info:
        parse_override(text)
    assert info.value.issues[0].source == f"--set {text}"
