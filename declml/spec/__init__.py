"""Stage ①: spec text → validated Spec.

The names below are imported on first use, so that importing a submodule (the
registry needs ``declml.spec.base``) does not load every spec model: ``declml
--help`` stays fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from declml.spec.api import dump_spec, load_spec, spec_from_data, validate_loaded
    from declml.spec.components import ComponentSpec
    from declml.spec.sections import (
        CompileSpec,
        DataSpec,
        FitSpec,
        ModelSpec,
        Preprocessing,
        Spec,
    )

__all__ = ["CompileSpec", "ComponentSpec", "DataSpec", "FitSpec", "ModelSpec", "Preprocessing",
           "Spec", "dump_spec", "load_spec", "spec_from_data", "validate_loaded"]

_HOME = {"dump_spec": "api", "load_spec": "api", "spec_from_data": "api",
         "validate_loaded": "api", "ComponentSpec": "components"}


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(import_module(f"declml.spec.{_HOME.get(name, 'sections')}"), name)
    raise AttributeError(f"module 'declml.spec' has no attribute {name!r}")
