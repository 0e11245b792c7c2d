"""Stage ②: the component registry, filled by pluggy plugins."""

from __future__ import annotations

from declml.registry.hookspecs import hookimpl
from declml.registry.manager import get_plugin_manager, get_registry
from declml.registry.registry import KINDS, Component, Registrar, Registry, did_you_mean

__all__ = ["KINDS", "Component", "Registrar", "Registry", "did_you_mean", "get_plugin_manager",
           "get_registry", "hookimpl"]
