"""Which plugins a run depends on, recorded at training and checked before loading.

``run.json`` lists every third-party or local plugin whose components the
spec uses, with its distribution and version. Before a saved model is loaded
(``evaluate``, ``predict``, ``serve``), each one must be loaded again — its
layer, loss and metric classes are imported, which registers them with Keras —
or the user gets a message naming the package to install.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from declml.errors import PluginError
from declml.registry.registry import SERIALIZED_KINDS, Registry
from declml.spec.components import ACTIVATION_ARGS, ComponentSpec
from declml.spec.graph import LayerNode
from declml.spec.sections import Spec

__all__ = ["check_recorded_plugins", "components_used", "load_saved_classes", "plugins_used"]


def _layer_refs(ref: ComponentSpec) -> Iterator[tuple[str, str]]:
    yield "layer", str(ref.type)
    for arg, value in ref.args.items():
        if isinstance(value, ComponentSpec):
            yield from _layer_refs(value)
        elif arg in ACTIVATION_ARGS and isinstance(value, str):
            yield "activation", value


def _nodes(nodes: list[LayerNode]) -> Iterator[tuple[str, str]]:
    for node in nodes:
        if node.layer is not None:
            yield from _layer_refs(node.layer)


def components_used(spec: Spec) -> list[tuple[str, str]]:
    """(kind, name) of every component a concrete spec names, without duplicates."""
    found: list[tuple[str, str]] = [("dataset", spec.data.dataset)]
    found += [("transform", str(t.type)) for t in spec.data.transforms]
    found += _nodes(spec.model.layers)
    for block in spec.model.blocks.values():
        found += _nodes(block)
    section = spec.compile
    found.append(("optimizer", str(section.optimizer.type)))
    losses = section.loss.values() if isinstance(section.loss, dict) else [section.loss]
    found += [("loss", str(loss.type)) for loss in losses]
    metrics = ([m for ms in section.metrics.values() for m in ms]
               if isinstance(section.metrics, dict) else section.metrics)
    found += [("metric", str(m.type)) for m in metrics]
    found += [("callback", str(c.type)) for c in spec.fit.callbacks]
    return list(dict.fromkeys(found))


def plugins_used(spec: Spec, registry: Registry) -> list[dict[str, Any]]:
    """Non-built-in plugins the spec relies on, for ``run.json``."""
    by_plugin: dict[str, list[str]] = {}
    for kind, name in components_used(spec):
        component = registry.find(kind, name)
        if component is None:
            continue
        info = registry.plugins.get(component.plugin)
        if info is not None and info.builtin:
            continue
        by_plugin.setdefault(component.plugin, []).append(f"{kind}:{component.qualified_name}")
    out = []
    for plugin, components in by_plugin.items():
        info = registry.plugins.get(plugin)
        entry: dict[str, Any] = {"name": plugin, "components": components}
        if info is not None:
            entry.update({k: v for k, v in (("distribution", info.distribution),
                                            ("version", info.version),
                                            ("source", info.source if info.local else None))
                          if v})
        out.append(entry)
    return out


def check_recorded_plugins(recorded: list[dict[str, Any]], registry: Registry,
                           run_dir: Any) -> None:
    """Every plugin (and component) a run used must be loaded again.

    Raises:
        PluginError: naming the package (and version) to install.
    """
    for entry in recorded:
        name = entry.get("name", "?")
        info = registry.plugins.get(name)
        if info is None or info.error:
            raise PluginError(_missing_message(entry, run_dir, info.error if info else None))
        for item in entry.get("components", []):
            kind, _, qualified = str(item).partition(":")
            if registry.qualified.get(kind, {}).get(qualified) is None:
                raise PluginError(
                    f"{run_dir} was trained with {kind} {qualified!r} from plugin {name!r}, "
                    f"but the installed plugin (version {info.version or 'unknown'}) does "
                    f"not provide it; install the version recorded in run.json "
                    f"({entry.get('version', 'unknown')})")


def load_saved_classes(recorded: list[dict[str, Any]], registry: Registry) -> None:
    """Import the layers, losses and metrics a run used, registering them with Keras
    (call after the backend is chosen, before ``keras.saving.load_model``)."""
    for entry in recorded:
        for item in entry.get("components", []):
            kind, _, qualified = str(item).partition(":")
            if kind in SERIALIZED_KINDS:
                registry.qualified[kind][qualified].load()


def _missing_message(entry: dict[str, Any], run_dir: Any, error: str | None) -> str:
    name = entry.get("name", "?")
    if error:
        return f"{run_dir} needs plugin {name!r}, which failed to load: {error}"
    if entry.get("source"):
        return (f"{run_dir} was trained with the local plugin {entry['source']}; pass "
                "--allow-local-plugins (or set DECLML_ALLOW_LOCAL_PLUGINS=1) to load it again")
    dist = entry.get("distribution")
    version = entry.get("version")
    pin = f"=={version}" if dist and version else ""
    install = f"pip install {dist}{pin}" if dist else f"install the plugin {name!r}"
    hint = ""
    setting = os.environ.get("DECLML_PLUGINS")
    if setting is not None:
        hint = f" (DECLML_PLUGINS={setting!r} is set: include {name!r} in it)"
    return (f"{run_dir} was trained with plugin {name!r}, which is not loaded; {install}"
            f"{hint}")
