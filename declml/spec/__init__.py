"""Stage ①: spec text → validated Spec."""

from __future__ import annotations

from declml.spec.api import dump_spec, load_spec, spec_from_data, validate_loaded
from declml.spec.components import ComponentSpec
from declml.spec.sections import CompileSpec, DataSpec, FitSpec, ModelSpec, Preprocessing, Spec

__all__ = ["CompileSpec", "ComponentSpec", "DataSpec", "FitSpec", "ModelSpec", "Preprocessing",
           "Spec", "dump_spec", "load_spec", "spec_from_data", "validate_loaded"]
