"""Stage ②: the component registry, filled by pluggy plugins.

The manager (entry-point scanning) is imported only when first used, so that
``import declml`` and ``declml --help`` stay light.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from declml.registry.hookspecs import hookimpl
from declml.registry.registry import KINDS, Component, Registrar, Registry, did_you_mean

__all__ = ["KINDS", "Component", "Registrar", "Registry", "did_you_mean", "get_plugin_manager",
           "get_registry", "hookimpl"]


def __getattr__(name: str) -> Any:
    if name in ("get_plugin_manager", "get_registry"):
        return getattr(import_module("declml.registry.manager"), name)
    raise AttributeError(f"module 'declml.registry' has no attribute {name!r}")
