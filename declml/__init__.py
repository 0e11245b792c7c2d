"""declml — declarative deep learning on Keras 3.

The facade: everything a Python user needs, imported lazily so that
``import declml`` stays light (no Keras until a model is built).

    >>> import declml
    >>> spec = declml.load_spec("specs/digits_cnn.yaml", overrides=["fit.epochs=1"])
    >>> result = declml.train(spec)          # doctest: +SKIP
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from declml.errors import (
    ArtifactError,
    BackendError,
    BuildError,
    DataError,
    DeclmlError,
    PluginError,
    SpecError,
    TuningError,
    UnknownComponentError,
)
from declml.registry.hookspecs import hookimpl

__all__ = [
    "ArtifactError",
    "BackendError",
    "BuildError",
    "DataError",
    "DeclmlError",
    "PluginError",
    "SpecError",
    "TuningError",
    "UnknownComponentError",
    "build_model",
    "evaluate",
    "get_registry",
    "hookimpl",
    "load_run",
    "load_spec",
    "spec_from_data",
    "train",
    "tune",
]

_LAZY = {
    "load_spec": "declml.spec.api",
    "spec_from_data": "declml.spec.api",
    "build_model": "declml.builder.model",
    "train": "declml.run.train",
    "tune": "declml.search.search",
    "get_registry": "declml.registry.manager",
    "evaluate": "declml.run.evaluate",
    "load_run": "declml.run.saved",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'declml' has no attribute {name!r}")
