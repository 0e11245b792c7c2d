"""Name → component tables, filled by plugins through typed registrars."""

from __future__ import annotations

import difflib
import importlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from declml.errors import PluginError, UnknownComponentError

__all__ = ["KINDS", "Component", "Registrar", "Registry", "suggest"]

#: Component kinds, in the order their register hooks are called.
KINDS: tuple[str, ...] = ("layer", "loss", "metric", "optimizer", "activation", "dataset")

# Keras layers that are deliberately not registered, and why.
_EXCLUDED_LAYERS = {
    "Lambda": "it runs an arbitrary Python function",
    "TFSMLayer": "it loads and runs a TensorFlow SavedModel",
    "TorchModuleWrapper": "it wraps arbitrary PyTorch code",
    "JaxLayer": "it wraps arbitrary JAX code",
    "FlaxLayer": "it wraps arbitrary Flax code",
}

_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")


def suggest(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Closest known names: an exact case-insensitive match first, then fuzzy ones."""
    pool = list(candidates)
    folded = {c.lower(): c for c in pool}
    exact = folded.get(name.lower())
    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    close += [folded[c] for c in difflib.get_close_matches(name.lower(), list(folded), n=n,
                                                            cutoff=0.6)]
    out = [exact] if exact else []
    for c in close:
        if c not in out:
            out.append(c)
    return out[:n]


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """A ``"; did you mean 'x'?"`` suffix, or an empty string."""
    matches = suggest(name, candidates)
    if not matches:
        return ""
    return "; did you mean " + " or ".join(repr(m) for m in matches) + "?"


@dataclass(frozen=True)
class Component:
    """One registered component.

    Attributes:
        kind: one of :data:`KINDS`.
        name: the name a spec uses.
        target: the factory, or a ``"module:attr"`` string resolved on first use.
        plugin: name of the plugin that registered it.
        params: accepted keyword arguments (name → info), or None for "any".
        options: Pydantic model of a dataset's options (datasets only).
        keras_name: an identifier Keras resolves by itself; used as-is when the
            spec gives no arguments, so declml compiles exactly what hand-written
            Keras would.
        description: one line for listings.
    """

    kind: str
    name: str
    target: Any
    plugin: str
    params: dict[str, dict[str, Any]] | None = None
    options: Any = None
    keras_name: str | None = None
    description: str = ""

    def load(self) -> Callable[..., Any]:
        """Import (if needed) and return the factory."""
        if not isinstance(self.target, str):
            return self.target
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                obj = getattr(obj, part)
        except (ImportError, AttributeError) as exc:
            raise PluginError(
                f"{self.kind} {self.name!r} from plugin {self.plugin!r} points at "
                f"{self.target!r}, which cannot be imported: {exc}"
            ) from exc
        return obj

    @property
    def required(self) -> list[str]:
        return [k for k, v in (self.params or {}).items() if v.get("required")]


@dataclass
class Registry:
    """All components, by kind and name."""

    tables: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )

    def add(self, component: Component) -> None:
        table = self.tables[component.kind]
        existing = table.get(component.name)
        if existing is not None:
            raise PluginError(
                f"{component.kind} {component.name!r} is registered by both plugin "
                f"{existing.plugin!r} and plugin {component.plugin!r}; uninstall one of them "
                "or disable one with DECLML_PLUGINS"
            )
        table[component.name] = component

    def names(self, kind: str) -> list[str]:
        return sorted(self.tables[kind])

    def find(self, kind: str, name: str) -> Component | None:
        return self.tables[kind].get(name)

    def get(self, kind: str, name: str) -> Component:
        """Look a component up.

        Raises:
            UnknownComponentError: with the closest known names.
        """
        found = self.find(kind, name)
        if found is None:
            raise UnknownComponentError(self.unknown_message(kind, name))
        return found

    def unknown_message(self, kind: str, name: str) -> str:
        if kind == "layer" and name in _EXCLUDED_LAYERS:
            return (f"layer {name!r} is not available: {_EXCLUDED_LAYERS[name]}; specs cannot "
                    "run code — ship a custom layer in a plugin instead")
        known = self.tables[kind]
        hint = did_you_mean(name, known)
        if not hint and 0 < len(known) <= 20:
            hint = f"; known {kind}s: {', '.join(sorted(known))}"
        elif not hint:
            hint = f"; see 'declml schema' for all {len(known)} {kind}s"
        return f"unknown {kind} {name!r}{hint}"


class Registrar:
    """What a register hook receives: adds components of one kind for one plugin."""

    def __init__(self, registry: Registry, kind: str, plugin: str) -> None:
        self._registry = registry
        self.kind = kind
        self.plugin = plugin

    def add(
        self,
        name: str,
        target: Any,
        *,
        params: dict[str, dict[str, Any]] | None = None,
        options: Any = None,
        keras_name: str | None = None,
        description: str = "",
    ) -> None:
        """Register one component; rejects bad names and duplicates immediately.

        Raises:
            PluginError: the name is invalid or already taken.
        """
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise PluginError(
                f"plugin {self.plugin!r} tried to register {self.kind} {name!r}: names must "
                "start with a letter or '_' and contain only letters, digits, '_', '.', '-'"
            )
        if target is None and keras_name is None:
            raise PluginError(f"plugin {self.plugin!r}: {self.kind} {name!r} has no target")
        self._registry.add(
            Component(self.kind, name, target, self.plugin, params, options, keras_name,
                      description)
        )
