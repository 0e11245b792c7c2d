"""Stage ③: Spec + registry → keras.Model."""

from __future__ import annotations

from declml.builder.model import build_model, compile_model

__all__ = ["build_model", "compile_model"]
