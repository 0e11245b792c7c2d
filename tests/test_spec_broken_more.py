"""More broken specs, beyond the BROKEN table of test_spec_validation.py.

Each case checks the dotted path, the line (from ``issue.source``, ``file:line:col``)
and a fragment of the message. The last part pins down bugs that fuzzing
(test_spec_fuzz.py) and probing turned up: each case says what used to happen.
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
    ("seed: 3", "seed: !!python/object:os.system x", "seed", 3,
     "YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
    ("seed: 3", "seed: !env HOME", "seed", 3, "YAML tag '!env' is not allowed"),
    ("seed: 3", "seed: 3\n[a, b]: 1", "", 4, "mapping keys must be plain names"),
    # an anchored mapping reused under an unknown key: both problems, each at its own line
    (_FIT, "fit: &f {epochs: 2, batch_size: 64, validation: test, bogus: 1}\nx: *f\n",
     "fit.bogus", 18, "unknown key 'bogus'"),
    (_FIT, "fit: &f {epochs: 2, batch_size: 64, validation: test, bogus: 1}\nx: *f\n",
     "x", 19, "unknown key 'x'"),
    # empty sections, nulls and wrong container kinds
    (_DATA, "data:\n", "data", 4, "expected a mapping"),
    (_DATA, "data: []\n", "data", 4, "got []"),
    (_LAYERS, "  layers:\n    dense: {type: Dense, units: 10}\n", "model.layers", 11,
     "expected a list"),
    ("metrics: [accuracy]", "metrics: accuracy", "compile.metrics", 17, "expected a list"),
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


def test_tab_indented_json_still_rejects_duplicate_keys(write_spec, registry):
    # was: tabs made PyYAML fail, json.loads then kept the last 'epochs' silently
    text = JSON_SPEC.replace("  ", "\t").replace('"epochs": -1', '"epochs": 1, "epochs": 2')
    spec_file = write_spec(text, "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    assert any("duplicate key 'epochs'" in i.message for i in info.value.issues)


def test_tab_indented_json_errors_keep_line_numbers(write_spec, registry):
    # was: every issue of a tab-indented JSON spec had no location at all
    spec_file = write_spec(JSON_SPEC.replace("  ", "\t"), "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(spec_file, registry=registry)
    by_path = {i.path: i.source for i in info.value.issues}
    assert by_path["fit.epochs"] is not None
    assert by_path["fit.epochs"].startswith(f"{spec_file}:12:")


# --- --set overrides ---------------------------------------------------------------------

@pytest.mark.parametrize("override, path, fragment", [
    ("fit.epoch=3", "fit.epoch", "unknown key 'epoch'; did you mean 'epochs'"),
    ("fit.epochs.x=3", "fit.epochs.x", "not a mapping or a list"),
    ("model.layers.first=3", "model.layers.first", "index it with a number"),
    ("fit.epochs=&x [*x]", "fit.epochs", "recursive alias"),
    ("data.preprocessing=7", "data.preprocessing", "expected a mapping"),
])
def test_override_errors_are_attributed_to_the_override(write_spec, registry, override, path,
                                                        fragment):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(TINY_SPEC), [override], registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(str(i) for i in info.value.issues)
    assert matching[0].source == f"--set {override}"


def test_override_creating_an_unknown_section_names_the_override(write_spec, registry):
    # was: 'fitt', created on the way by the override, was located at the file's 1:1
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(TINY_SPEC), ["fitt.epochs=3"], registry)
    (issue,) = [i for i in info.value.issues if i.path == "fitt"]
    assert "did you mean 'fit'" in issue.message
    assert issue.source == "--set fitt.epochs=3"


# --- bugs found by fuzzing and probing (each "was:" is the old behaviour) ----------------

# (replace this, with that) in TINY_SPEC → (path, line, message fragment)
FOUND_BUGS = [
    # was: booleans silently accepted as integers (true → 1)
    ("epochs: 2", "epochs: true", "fit.epochs", 19, "valid integer"),
    ("seed: 3", "seed: true", "seed", 3, "valid integer"),
    ("one_hot: 10}", "one_hot: true}", "data.preprocessing.one_hot", 7, "valid integer"),
    ("input_shape: [8, 8, 1]", "input_shape: [8, 8, true]", "model.input_shape[2]", 9,
     "valid integer"),
    # was: accepted, then numpy/sklearn refused the seed when splitting the data
    ("seed: 3", "seed: 99999999999999999999999", "seed", 3, "less than or equal to 4294967295"),
    # was: non-finite rescale factors accepted
    ("rescale: 1/16", "rescale: .nan", "data.preprocessing.rescale", 7, "finite"),
    ("rescale: 1/16", "rescale: .inf", "data.preprocessing.rescale", 7, "finite"),
    ("rescale: 1/16", "rescale: 1e999/1", "data.preprocessing.rescale", 7, "finite"),
    # was: ValueError / AttributeError / KeyError out of PyYAML's constructors
    ("seed: 3", "seed: !!int abc", "seed", 3, "cannot read the int value 'abc'"),
    ("seed: 3", "seed: !!float abc", "seed", 3, "cannot read the float value 'abc'"),
    ("seed: 3", "seed: !!timestamp abc", "seed", 3, "cannot read the timestamp value"),
    ("seed: 3", "seed: !!bool abc", "seed", 3, "cannot read the bool value 'abc'"),
    ("seed: 3", "seed: !!int 3\n  more", "seed", 3, "cannot read the int value '3 more'"),
    # was: RecursionError
    ("seed: 3", "seed: &x [*x]", "seed[0]", 3, "recursive alias"),
    ("seed: 3", "seed: &x {a: *x}", "seed.a", 3, "recursive alias"),
    # was: the key and its value silently dropped
    ("epochs: 2", "epochs: 2\n  ~: 5", "fit", 20, "a key is null"),
    ("epochs: 2", "epochs: 2\n  null: 5", "fit", 20, "a key is null"),
    # was: AttributeError (did_you_mean on a datetime.date key)
    ("dataset: digits", "dataset: digits\n  2020-01-01: 1", "data.2020-01-01", 6,
     "unknown key '2020-01-01' for dataset 'digits'"),
    # was: path 'fit.datetime.date(2020, 1, 1)' and "Keys should be strings"
    ("epochs: 2", "epochs: 2\n  2020-01-01: 1", "fit.2020-01-01", 20,
     "unknown key '2020-01-01'"),
    # was: an aliased value's error pointed at the anchor (line 19), not the alias
    ("epochs: 2\n  batch_size: 64", "epochs: &e -1\n  batch_size: *e", "fit.batch_size", 20,
     "greater than 0"),
    ("epochs: 2\n  batch_size: 64", "epochs: &e -1\n  batch_size: *e", "fit.epochs", 19,
     "greater than 0"),
]


@pytest.mark.parametrize("old, new, path, line, fragment", FOUND_BUGS,
                         ids=[f"{b[2]}:{b[1][:24]}" for b in FOUND_BUGS])
def test_found_bugs_stay_fixed(write_spec, registry, old, new, path, line, fragment):
    test_more_broken_specs_are_located_and_explained(write_spec, registry, old, new, path,
                                                     line, fragment)


def test_deep_nesting_is_a_spec_error():  # was: RecursionError from the YAML composer
    with pytest.raises(SpecError) as info:
        load_text("a: " + "[" * 5000 + "]" * 5000, "f.yaml")
    assert "nested too deeply" in info.value.issues[0].message


def test_boolean_override_is_not_an_integer(write_spec, registry):  # was: epochs=1
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(TINY_SPEC), ["fit.epochs=true"], registry)
    (issue,) = info.value.issues
    assert (issue.path, issue.source) == ("fit.epochs", "--set fit.epochs=true")
    assert "valid integer" in issue.message


@pytest.mark.parametrize("text, path", [("²=1", ("²",)), ("fit.²=1", ("fit", "²")),
                                        ("fit.٣=1", ("fit", "٣"))])
def test_non_ascii_digit_in_override_path_is_a_name(write_spec, registry, text, path):
    # was: str.isdigit() then int() → ValueError for '²'
    assert parse_override(text) == (path, 1)
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(TINY_SPEC), [text], registry)
    (issue,) = info.value.issues
    assert issue.message.startswith(f"unknown key {path[-1]!r}")
    assert issue.source == f"--set {text}"


@pytest.mark.parametrize("text", ["fit.epochs=!!int x", "fit.epochs=!!float x",
                                  "fit.epochs=!!timestamp x", "fit.epochs=!!bool x"])
def test_bad_core_tag_in_override_is_a_spec_error(text):
    # was: ValueError / AttributeError / KeyError escaping parse_override
    with pytest.raises(SpecError) as info:
        parse_override(text)
    (issue,) = info.value.issues
    assert (issue.path, issue.source) == ("fit.epochs", f"--set {text}")
