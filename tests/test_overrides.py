from __future__ import annotations

import pytest

from declml.errors import SpecError
from declml.spec.api import load_spec
from declml.spec.overrides import parse_override


@pytest.mark.parametrize("text, path, value", [
    ("fit.epochs=3", ("fit", "epochs"), 3),
    ("model.layers.0.units=64", ("model", "layers", 0, "units"), 64),
    ("model.layers[1].activation=tanh", ("model", "layers", 1, "activation"), "tanh"),
    ("model.input_shape=[8, 8, 1]", ("model", "input_shape"), [8, 8, 1]),
    ("data.path=../x=y", ("data", "path"), "../x=y"),
    ("fit.validation=", ("fit", "validation"), None),
])
def test_parse_override(text, path, value):
    assert parse_override(text) == (path, value)


@pytest.mark.parametrize("text", ["noequals", "=3", "a..b=1", "a.[x]=1"])
def test_malformed_overrides(text):
    with pytest.raises(SpecError) as info:
        parse_override(text)
    assert info.value.issues[0].source == f"--set {text}"


def test_overrides_apply_and_validate_like_the_file(write_spec, tiny_spec_text, registry):
    path = write_spec(tiny_spec_text)
    spec = load_spec(path, ["fit.epochs=5", "model.layers.2.units=10", "data.test_split=0.5"],
                     registry)
    assert spec.fit.epochs == 5
    assert spec.data.test_split == 0.5


def test_override_errors_name_the_override_and_come_with_file_errors(write_spec,
                                                                      tiny_spec_text, registry):
    path = write_spec(tiny_spec_text.replace("epochs: 2", "epochs: -2"))
    with pytest.raises(SpecError) as info:
        load_spec(path, ["fit.batch_size=big", "model.layers.7.units=3"], registry)
    by_path = {i.path: i for i in info.value.issues}
    assert by_path["fit.batch_size"].source == "--set fit.batch_size=big"
    assert "valid integer" in by_path["fit.batch_size"].message
    assert "index 7 is out of range" in by_path["model.layers[7].units"].message
    assert by_path["fit.epochs"].source == f"{path}:19:11"


def test_later_override_wins(write_spec, tiny_spec_text, registry):
    spec = load_spec(write_spec(tiny_spec_text), ["fit.epochs=5", "fit.epochs=7"], registry)
    assert spec.fit.epochs == 7
