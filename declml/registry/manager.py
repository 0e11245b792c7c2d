"""The plugin manager: built-in plugins, then the ``declml`` entry-point group, then
the local plugin modules a spec names (only when the user allows it).

Loading is explicit (nothing happens at import time) and cached per process.
``DECLML_PLUGINS`` controls third-party plugins: unset loads every installed
one, ``none`` loads none (the test suite uses this so it never depends on what
happens to be installed), and a comma-separated list loads only those names.
Built-in plugins are declared as entry points of the ``declml`` distribution
like any other plugin and are always loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
from functools import lru_cache
from importlib import import_module, metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from declml.errors import PluginError
from declml.registry import hookspecs
from declml.registry.registry import KINDS, REGISTRARS, PluginInfo, Registry

__all__ = ["BUILTIN_PLUGINS", "ENTRY_POINT_GROUP", "HOOK_FOR_KIND", "build_registry",
           "get_plugin_manager", "get_registry", "plugin_infos", "reset", "third_party_plugins"]

ENTRY_POINT_GROUP = "declml"

#: Built-in plugins (entry-point name → module), mirrored in pyproject.toml. Used
#: directly when declml runs from a source tree without installed metadata.
BUILTIN_PLUGINS: dict[str, str] = {
    "keras": "declml.builtins.keras_components",
    "datasets": "declml.builtins.datasets",
    "transforms": "declml.builtins.transforms",
}

HOOK_FOR_KIND = {
    "layer": "declml_register_layers",
    "loss": "declml_register_losses",
    "metric": "declml_register_metrics",
    "optimizer": "declml_register_optimizers",
    "activation": "declml_register_activations",
    "callback": "declml_register_callbacks",
    "dataset": "declml_register_datasets",
    "transform": "declml_register_transforms",
    "command": "declml_register_commands",
}
assert set(HOOK_FOR_KIND) == set(KINDS)


def _selection() -> set[str] | None:
    """Third-party plugin names ``DECLML_PLUGINS`` allows; None means all."""
    setting = os.environ.get("DECLML_PLUGINS")
    if setting is None:
        return None
    if setting.strip().lower() in {"none", "0", ""}:
        return set()
    return {s.strip() for s in setting.split(",") if s.strip()}


def _entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _is_builtin(ep: Any) -> bool:
    return BUILTIN_PLUGINS.get(ep.name) == ep.value


def _dist(ep: Any) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def _load_local(source: str) -> tuple[str, ModuleType]:
    """Import a spec's local plugin: a ``.py`` file path or a module name."""
    if source.endswith(".py") or os.sep in source or "/" in source:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {path}")
        # Sibling modules become importable, so the plugin can name its heavy code as
        # "module:attr" targets that are imported only when a model is built.
        folder = str(path.resolve().parent)
        if folder not in sys.path:
            sys.path.append(folder)
        digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:8]
        module_name = f"declml_local_{path.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        return path.stem, module
    return source.rsplit(".", 1)[-1], import_module(source)


@lru_cache(maxsize=1)
def _third_party() -> tuple[tuple[PluginInfo, Any], ...]:
    """Installed plugins from the entry-point group (as DECLML_PLUGINS allows), imported;
    a plugin that fails to import is kept with its error and no object."""
    wanted = _selection()
    out = []
    for ep in _entry_points():
        if _is_builtin(ep) or (wanted is not None and ep.name not in wanted):
            continue
        if any(info.name == ep.name for info, _ in out):
            continue
        dist, version = _dist(ep)
        info = PluginInfo(ep.name, ep.value, dist, version)
        plugin = None
        try:
            plugin = ep.load()
        except Exception as exc:  # a broken plugin must not take the others down
            info.error = f"{type(exc).__name__}: {exc}"
            _warn(f"plugin {ep.name!r} ({ep.value}) failed to load and is skipped: "
                  f"{info.error}")
        out.append((info, plugin))
    return tuple(out)


def third_party_plugins() -> list[tuple[str, Any]]:
    """(name, plugin) of each installed plugin that loaded, without the built-ins."""
    return [(info.name, plugin) for info, plugin in _third_party() if plugin is not None]


@lru_cache(maxsize=8)
def _manager(local: tuple[str, ...]) -> tuple[pluggy.PluginManager, tuple[PluginInfo, ...]]:
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos: list[PluginInfo] = []
    for name, module in BUILTIN_PLUGINS.items():  # the same modules the entry points name
        pm.register(import_module(module), name=name)
        infos.append(PluginInfo(name, module, "declml", _own_version(), builtin=True))
    for info, plugin in _third_party():
        infos.append(info)
        if plugin is not None and info.error is None:
            _register(pm, plugin, info)
    for source in local:
        info = PluginInfo(source, source, local=True)
        try:
            name, module = _load_local(source)
        except Exception as exc:
            raise PluginError(f"the spec's local plugin {source!r} failed to load: "
                              f"{type(exc).__name__}: {exc}") from exc
        info.name = name if pm.get_plugin(name) is None else source
        _register(pm, module, info)
        if info.error:
            raise PluginError(f"the spec's local plugin {source!r}: {info.error}")
        infos.append(info)
    return pm, tuple(infos)


def _register(pm: pluggy.PluginManager, plugin: Any, info: PluginInfo) -> None:
    """Register one plugin; a malformed one is recorded and skipped, never fatal."""
    if pm.get_plugin(info.name) is not None:
        info.error = (f"the name {info.name!r} is already taken by another plugin; rename "
                      "its entry point")
        info.name = f"{info.name} ({info.source})"  # listed apart; the first keeps the name
    else:
        strays = [attr for attr in dir(plugin) if attr.startswith("declml_")
                  and attr not in _HOOK_NAMES]
        if strays:
            _warn(f"plugin {info.name!r} defines {', '.join(strays)}, which "
                  f"{'is not a' if len(strays) == 1 else 'are not'} declml hook"
                  f"{'' if len(strays) == 1 else 's'} (a typo?); see "
                  "declml/registry/hookspecs.py")
        unmarked = [attr for attr in dir(plugin) if attr in _HOOK_NAMES
                    and not hasattr(getattr(plugin, attr), "declml_impl")]
        if unmarked:
            _warn(f"plugin {info.name!r}: {', '.join(unmarked)} lack @declml.hookimpl and "
                  "are ignored")
        try:
            pm.register(plugin, name=info.name)
            return
        except Exception as exc:  # e.g. a hook with the wrong argument names
            info.error = f"{type(exc).__name__}: {exc}"
    _warn(f"plugin {info.name!r} is skipped: {info.error}")


_HOOK_NAMES = frozenset(n for n in dir(hookspecs) if n.startswith("declml_"))


def _own_version() -> str | None:
    try:
        return metadata.version("declml")
    except metadata.PackageNotFoundError:
        return None


def _warn(message: str) -> None:
    print(f"declml: warning: {message}", file=sys.stderr)


def get_plugin_manager(local: tuple[str, ...] = ()) -> pluggy.PluginManager:
    """The plugin manager with built-in, installed and the given local plugins."""
    return _manager(tuple(local))[0]


def plugin_infos(local: tuple[str, ...] = ()) -> tuple[PluginInfo, ...]:
    """What was loaded (or failed to load), in loading order."""
    return _manager(tuple(local))[1]


def build_registry(pm: pluggy.PluginManager,
                   infos: tuple[PluginInfo, ...] | list[PluginInfo] = ()) -> Registry:
    """Call every register hook, one plugin at a time.

    A plugin whose register hook raises is dropped as a whole (its error is
    recorded and printed); the built-ins and the other plugins keep working.
    """
    registry = Registry(hooks=pm.hook)
    registry.plugins = {info.name: info for info in infos}
    for plugin_name, plugin in pm.list_name_plugin():
        info = registry.plugins.setdefault(plugin_name, PluginInfo(plugin_name, repr(plugin)))
        staged = Registry()
        try:
            for kind in KINDS:
                function = getattr(plugin, HOOK_FOR_KIND[kind], None)
                if function is None or not hasattr(function, "declml_impl"):
                    continue
                function(REGISTRARS[kind](staged, kind, plugin_name))
        except Exception as exc:
            detail = str(exc) if isinstance(exc, PluginError) else (
                f"{type(exc).__name__}: {exc}")
            if info.builtin:
                raise PluginError(f"built-in plugin {plugin_name!r} failed: {detail}") from exc
            info.error = detail
            _warn(f"plugin {plugin_name!r} failed to register its components and is skipped: "
                  f"{detail}")
            continue
        for kind in KINDS:
            for component in staged.components(kind):
                registry.add(component)
    return registry


@lru_cache(maxsize=8)
def _registry(local: tuple[str, ...]) -> Registry:
    pm, infos = _manager(local)
    return build_registry(pm, infos)


def get_registry(local: tuple[str, ...] = ()) -> Registry:
    """The process-wide registry of every component from every loaded plugin.

    Args:
        local: a spec's local plugin modules (absolute paths or module names);
            loading them runs their code, so callers check the user allowed it.
    """
    return _registry(tuple(local))


def reset() -> None:
    """Forget the cached plugins, managers and registries (for tests and long-lived hosts)."""
    _registry.cache_clear()
    _manager.cache_clear()
    _third_party.cache_clear()
