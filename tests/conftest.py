"""Shared fixtures. Third-party plugins are never loaded: the suite tests declml itself."""

from __future__ import annotations

import os
from pathlib import Path

os.environ["DECLML_PLUGINS"] = "none"

import pytest

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "specs"


@pytest.fixture(scope="session")
def registry():
    from declml.registry.manager import get_registry

    return get_registry()


@pytest.fixture
def write_spec(tmp_path):
    """Write YAML text to a file and return its path."""

    def write(text: str, name: str = "spec.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` (or ``$DECLML_SHARED_DATA``); skips when it is absent."""
    path = Path(os.environ.get("DECLML_SHARED_DATA", REPO.parent / "shared" / "data"))
    if not (path / "mnist-t10k").is_dir():
        pytest.skip(f"shared data not found at {path}")
    return path


TINY_SPEC = """\
spec_version: 1
name: tiny
seed: 3
data:
  dataset: digits
  test_split: 0.25
  preprocessing: {rescale: 1/16, reshape: [8, 8, 1], one_hot: 10}
model:
  input_shape: [8, 8, 1]
  layers:
    - {type: Conv2D, filters: 4, kernel_size: 3, activation: relu}
    - {type: Flatten}
    - {type: Dense, units: 10, activation: softmax}
compile:
  optimizer: {type: adam, learning_rate: 0.01}
  loss: categorical_crossentropy
  metrics: [accuracy]
fit:
  epochs: 2
  batch_size: 64
  validation: test
"""


@pytest.fixture
def tiny_spec_text() -> str:
    return TINY_SPEC


EXAMPLE_PLUGIN_SRC = REPO / "plugins" / "declml-example" / "src"
#: Specs in specs/ that use the example plugin under plugins/.
PLUGIN_SPECS = {"shapes_se_focal.yaml"}


def example_plugin():
    """The example plugin's registration module, installed or from the source tree."""
    import importlib
    import sys

    try:
        return importlib.import_module("declml_example.plugin")
    except ImportError:
        sys.path.insert(0, str(EXAMPLE_PLUGIN_SRC))
        return importlib.import_module("declml_example.plugin")


_EXAMPLE_REGISTRY = []


def registry_for_spec(path: Path, registry):
    """The built-in registry, or one with the example plugin for the specs that use it."""
    if path.name not in PLUGIN_SPECS:
        return registry
    if not _EXAMPLE_REGISTRY:
        from declml.testing import plugin_registry

        _EXAMPLE_REGISTRY.append(plugin_registry(("example", example_plugin())))
    return _EXAMPLE_REGISTRY[0]
