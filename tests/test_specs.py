"""Every spec in specs/ is validated and built."""

from __future__ import annotations

import pytest

from declml.spec.api import load_spec
from tests.conftest import SPECS, registry_for_spec

ALL_SPECS = sorted(
    p for p in SPECS.iterdir()
    if p.suffix in {".yaml", ".yml", ".json"} and not p.name.endswith(".schema.json")
)


def test_there_are_specs():
    assert {"mnist_cnn.yaml", "digits_cnn.yaml"} <= {p.name for p in ALL_SPECS}


@pytest.mark.parametrize("path", ALL_SPECS, ids=[p.name for p in ALL_SPECS])
def test_spec_validates(path, registry):
    registry = registry_for_spec(path, registry)
    spec = load_spec(path, registry=registry)
    assert spec.name == path.stem


@pytest.mark.backends
@pytest.mark.parametrize("path", ALL_SPECS, ids=[p.name for p in ALL_SPECS])
def test_spec_builds(path, registry):
    from declml.builder.model import build_model

    registry = registry_for_spec(path, registry)
    spec = load_spec(path, registry=registry)
    model = build_model(spec, registry)
    assert model.count_params() > 0
    if spec.model.inputs is None:
        assert tuple(model.input_shape[1:]) == tuple(spec.model.input_shape)
    else:
        shapes = {t.name.split(":")[0]: tuple(t.shape[1:]) for t in model.inputs}
        assert shapes == {n: tuple(i.shape) for n, i in spec.model.inputs.items()}
    assert len(model.outputs) == len(spec.model.output_names)
    if spec.model.outputs:
        assert list(model.output_names) == spec.model.outputs
