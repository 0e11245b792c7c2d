"""The plugin manager: built-in plugins first, then the ``declml`` entry-point group.

Loading is explicit (nothing happens at import time) and cached per process.
``DECLML_PLUGINS`` controls third-party plugins: unset loads every installed
one, ``none`` loads none (the test suite uses this so it never depends on what
happens to be installed), and a comma-separated list loads only those names.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from importlib import import_module, metadata

import pluggy

from declml.errors import PluginError
from declml.registry import hookspecs
from declml.registry.registry import KINDS, Registrar, Registry

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "get_plugin_manager", "get_registry",
           "reset"]

ENTRY_POINT_GROUP = "declml"

#: Built-in plugins, registered through the same hooks as third-party ones.
BUILTIN_PLUGINS: tuple[str, ...] = (
    "declml.builtins.keras_components",
    "declml.builtins.datasets",
)

_HOOK_FOR_KIND = {
    "layer": "declml_register_layers",
    "loss": "declml_register_losses",
    "metric": "declml_register_metrics",
    "optimizer": "declml_register_optimizers",
    "activation": "declml_register_activations",
    "dataset": "declml_register_datasets",
}
assert set(_HOOK_FOR_KIND) == set(KINDS)


def _wanted_entry_points() -> list[metadata.EntryPoint]:
    setting = os.environ.get("DECLML_PLUGINS")
    if setting is not None and setting.strip().lower() in {"none", "0", ""}:
        return []
    eps = list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    if setting is None:
        return eps
    wanted = {s.strip() for s in setting.split(",") if s.strip()}
    return [ep for ep in eps if ep.name in wanted]


@lru_cache(maxsize=1)
def get_plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager with built-in and installed plugins."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for module_name in BUILTIN_PLUGINS:
        pm.register(import_module(module_name), name=module_name)
    for ep in _wanted_entry_points():
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            print(
                f"declml: warning: plugin {ep.name!r} ({ep.value}) failed to load and is "
                f"skipped: {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
            continue
        pm.register(plugin, name=ep.name)
    return pm


def build_registry(pm: pluggy.PluginManager) -> Registry:
    """Call every register hook, one plugin at a time, so each entry knows its plugin."""
    registry = Registry()
    for kind in KINDS:
        caller = getattr(pm.hook, _HOOK_FOR_KIND[kind])
        for impl in caller.get_hookimpls():  # registration order: built-ins first
            registrar = Registrar(registry, kind, impl.plugin_name)
            try:
                impl.function(**{arg: registrar for arg in impl.argnames})
            except PluginError:
                raise
            except Exception as exc:
                raise PluginError(
                    f"plugin {impl.plugin_name!r} failed in {_HOOK_FOR_KIND[kind]}: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
    return registry


@lru_cache(maxsize=1)
def get_registry() -> Registry:
    """The process-wide registry of every component from every loaded plugin."""
    return build_registry(get_plugin_manager())


def reset() -> None:
    """Forget the cached manager and registry (for tests and long-lived hosts)."""
    get_registry.cache_clear()
    get_plugin_manager.cache_clear()
