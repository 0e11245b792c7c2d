"""Name → component tables, filled by plugins through typed registrars.

Every component is reachable by its plain name (``SEBlock``) and by a name
qualified with its plugin (``example.SEBlock``). When two plugins register the
same plain name, the plain name becomes ambiguous: using it is an error that
names both plugins and their qualified names, while everything else keeps
working.
"""

from __future__ import annotations

import difflib
import importlib
import os
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from declml.errors import PluginError, UnknownComponentError

__all__ = ["KINDS", "Component", "PluginInfo", "Registrar", "Registry", "did_you_mean",
           "ensure_serializable", "params_from_model", "suggest"]

#: Component kinds, in the order their register hooks are called.
KINDS: tuple[str, ...] = ("layer", "loss", "metric", "optimizer", "activation", "callback",
                          "dataset", "transform", "command")

#: Kinds whose classes (or functions) end up inside a saved ``.keras`` file.
SERIALIZED_KINDS = ("layer", "loss", "metric", "optimizer", "activation")

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


def params_from_model(model: Any) -> dict[str, dict[str, Any]]:
    """Argument table (name → ``{"required"}`` or ``{"default"}``) of a Pydantic model."""
    params: dict[str, dict[str, Any]] = {}
    for name, info in model.model_fields.items():
        key = info.alias or name
        if info.is_required():
            params[key] = {"required": True}
        else:
            default = info.get_default(call_default_factory=True)
            ok = default is None or isinstance(default, (bool, int, float, str, list))
            params[key] = {"default": default} if ok else {}
    return params


@dataclass
class PluginInfo:
    """One loaded (or failed) plugin: where it comes from and what it provides."""

    name: str
    source: str  # a module name, an entry point value or a file path
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False
    local: bool = False  # loaded from a spec's ``plugins:`` list
    error: str | None = None

    def describe(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v not in (None, False)}


@dataclass(frozen=True)
class Component:
    """One registered component.

    Attributes:
        kind: one of :data:`KINDS`.
        name: the plain name a spec uses.
        target: the factory, or a ``"module:attr"`` string resolved on first use.
        plugin: name of the plugin that registered it.
        params: accepted keyword arguments (name → info), or None for "any".
        spec_model: Pydantic model of the arguments (datasets: of their options
            under ``data:``), used by ``validate`` and ``schema`` without
            importing the target.
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
    spec_model: Any = None
    keras_name: str | None = None
    description: str = ""

    @property
    def options(self) -> Any:
        """A dataset's options model (the dataset's ``spec_model``)."""
        return self.spec_model

    @property
    def qualified_name(self) -> str:
        return f"{self.plugin}.{self.name}"

    def load(self) -> Callable[..., Any]:
        """Import (if needed) and return the factory.

        Layer, loss and metric classes a plugin did not register with Keras
        are registered here (package = the plugin's name), so models that
        contain them can be saved and loaded back.
        """
        obj = self.target
        if isinstance(obj, str):
            _backend_before_keras()
            module_name, _, attr = obj.partition(":")
            try:
                obj = importlib.import_module(module_name)
                for part in attr.split("."):
                    obj = getattr(obj, part)
            except Exception as exc:  # any import-time failure is the plugin's
                raise PluginError(
                    f"{self.kind} {self.name!r} from plugin {self.plugin!r} points at "
                    f"{self.target!r}, which cannot be imported: {type(exc).__name__}: {exc}"
                ) from exc
        if self.kind in SERIALIZED_KINDS and (isinstance(obj, type) or self.kind == "activation"):
            ensure_serializable(obj, self.plugin)
        return obj

    @property
    def required(self) -> list[str]:
        return [k for k, v in (self.params or {}).items() if v.get("required")]


def _backend_before_keras() -> None:
    """A plugin module may import Keras: pick the backend first, or Keras would default
    to TensorFlow (and fail where only JAX is installed)."""
    if "keras" not in sys.modules and not os.environ.get("KERAS_BACKEND"):
        from declml.backend import select_backend

        os.environ["KERAS_BACKEND"] = select_backend()


def ensure_serializable(cls: Any, plugin: str) -> None:
    """Register a plugin's class (or activation function) with Keras for saved models."""
    if getattr(cls, "__module__", "").startswith("keras.") or not callable(cls):
        return
    import keras

    if keras.saving.get_registered_object(keras.saving.get_registered_name(cls)) is cls:
        return
    try:
        keras.saving.register_keras_serializable(package=plugin)(cls)
    except ValueError as exc:  # e.g. no get_config(): it cannot be saved
        raise PluginError(f"plugin {plugin!r}: {cls.__name__} cannot be saved in a .keras "
                          f"file: {exc}") from None


@dataclass
class Registry:
    """All components, by kind and name, plus the plugins they came from."""

    tables: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    qualified: dict[str, dict[str, Component]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    ambiguous: dict[str, dict[str, list[Component]]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    plugins: dict[str, PluginInfo] = field(default_factory=dict)
    hooks: Any = None  # the plugin manager's hook relay, for lifecycle hooks

    def add(self, component: Component) -> None:
        """Add a component; a plain name two plugins share becomes ambiguous."""
        kind, name = component.kind, component.name
        qualified = component.qualified_name
        if qualified in self.qualified[kind]:
            raise PluginError(f"plugin {component.plugin!r} registers {kind} {name!r} twice")
        self.qualified[kind][qualified] = component
        clash = self.ambiguous[kind].get(name)
        if clash is not None:
            clash.append(component)
            return
        existing = self.tables[kind].pop(name, None)
        if existing is not None:
            self.ambiguous[kind][name] = [existing, component]
            return
        self.tables[kind][name] = component

    def names(self, kind: str) -> list[str]:
        """Plain names that resolve, plus the qualified names of ambiguous ones."""
        names = set(self.tables[kind])
        for clash in self.ambiguous[kind].values():
            names.update(c.qualified_name for c in clash)
        return sorted(names)

    def components(self, kind: str) -> list[Component]:
        return [self.qualified[kind][q] for q in sorted(self.qualified[kind])]

    def find(self, kind: str, name: str) -> Component | None:
        """The component a spec name means, or None (unknown or ambiguous)."""
        found = self.tables[kind].get(name)
        if found is None and "." in name:
            found = self.qualified[kind].get(name)
        return found

    def get(self, kind: str, name: str) -> Component:
        """Look a component up.

        Raises:
            UnknownComponentError: with the closest known names, or with the
                qualified names when two plugins share ``name``.
        """
        found = self.find(kind, name)
        if found is None:
            raise UnknownComponentError(self.unknown_message(kind, name))
        return found

    def run_hook(self, hook: str, **kwargs: Any) -> list[tuple[str, BaseException]]:
        """Call every plugin's implementation of a lifecycle hook, in registration order.

        Returns the (plugin, exception) pairs of the implementations that raised;
        the caller decides whether that stops the work or is only reported.
        """
        if self.hooks is None:
            return []
        failures = []
        for impl in getattr(self.hooks, hook).get_hookimpls():
            try:
                impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
            except Exception as exc:
                failures.append((impl.plugin_name, exc))
        return failures

    def of_plugin(self, plugin: str) -> list[Component]:
        return [c for kind in KINDS for c in self.components(kind) if c.plugin == plugin]

    def unknown_message(self, kind: str, name: str) -> str:
        clash = self.ambiguous[kind].get(name)
        if clash:
            plugins = " and ".join(f"plugin {c.plugin!r}" for c in clash)
            options = " or ".join(repr(c.qualified_name) for c in clash)
            return (f"{kind} {name!r} is registered by both {plugins}; write {options} to "
                    "pick one, or disable a plugin with DECLML_PLUGINS")
        if kind == "layer" and name in _EXCLUDED_LAYERS:
            return (f"layer {name!r} is not available: {_EXCLUDED_LAYERS[name]}; specs cannot "
                    "run code — ship a custom layer in a plugin instead")
        known = self.names(kind)
        hint = did_you_mean(name, known)
        if not hint and 0 < len(known) <= 20:
            hint = f"; known {kind}s: {', '.join(known)}"
        elif not hint:
            plural = f"{kind}es" if kind.endswith("s") else f"{kind}s"
            hint = f"; see 'declml schema' for all {len(known)} {plural}"
        failed = [p for p in self.plugins.values() if p.error]
        if failed:
            hint += " (" + "; ".join(f"plugin {p.name!r} failed to load: {p.error}"
                                     for p in failed) + ")"
        return f"unknown {kind} {name!r}{hint}"


class Registrar:
    """What a register hook receives: adds components of one kind for one plugin.

    Names and duplicates are checked here, when the plugin registers, so a
    broken plugin is reported at start-up and not when a spec first uses it.
    """

    kind = ""

    def __init__(self, registry: Registry, kind: str, plugin: str) -> None:
        self._registry = registry
        self.kind = kind
        self.plugin = plugin

    def add(
        self,
        name: str,
        target: Any,
        *,
        spec_model: Any = None,
        params: dict[str, dict[str, Any]] | None = None,
        keras_name: str | None = None,
        description: str = "",
    ) -> None:
        """Register one component; rejects bad names and duplicates immediately.

        Args:
            name: the name specs use.
            target: the factory, or ``"module:attribute"`` imported on first use.
            spec_model: a Pydantic model of the arguments; gives validate-time
                checks and the JSON Schema without importing ``target``.
            params: a plain argument table instead of ``spec_model``.
            keras_name: a name ``Model.compile`` resolves itself.
            description: one line for ``declml plugins`` and the schema.

        Raises:
            PluginError: the name is invalid or already taken by this plugin.
        """
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise PluginError(
                f"plugin {self.plugin!r} tried to register {self.kind} {name!r}: names must "
                "start with a letter or '_' and contain only letters, digits, '_', '.', '-'"
            )
        if target is None and keras_name is None:
            raise PluginError(f"plugin {self.plugin!r}: {self.kind} {name!r} has no target")
        if spec_model is not None:
            if not hasattr(spec_model, "model_fields"):
                raise PluginError(f"plugin {self.plugin!r}: the spec_model of {self.kind} "
                                  f"{name!r} must be a Pydantic model class")
            if params is None:
                params = params_from_model(spec_model)
        if not description and spec_model is not None and spec_model.__doc__:
            description = spec_model.__doc__.strip().splitlines()[0]
        self._registry.add(Component(self.kind, name, target, self.plugin, params, spec_model,
                                     keras_name, description))


class LayerRegistrar(Registrar):
    def layer(self, name: str, factory: Any, **kwargs: Any) -> None:
        """Register a layer: ``factory(**args)`` returns a ``keras.layers.Layer``."""
        self.add(name, factory, **kwargs)


class LossRegistrar(Registrar):
    def loss(self, name: str, factory: Any, **kwargs: Any) -> None:
        """Register a loss: ``factory(**args)`` returns a loss object or function."""
        self.add(name, factory, **kwargs)


class MetricRegistrar(Registrar):
    def metric(self, name: str, factory: Any, **kwargs: Any) -> None:
        """Register a metric: ``factory(**args)`` returns a ``keras.metrics.Metric``."""
        self.add(name, factory, **kwargs)


class OptimizerRegistrar(Registrar):
    def optimizer(self, name: str, factory: Any, **kwargs: Any) -> None:
        """Register an optimizer: ``factory(**args)`` returns a Keras optimizer."""
        self.add(name, factory, **kwargs)


class ActivationRegistrar(Registrar):
    def activation(self, name: str, function: Any, **kwargs: Any) -> None:
        """Register an activation function usable in layers' ``activation`` argument."""
        self.add(name, function, **kwargs)


class CallbackRegistrar(Registrar):
    def callback(self, name: str, factory: Any, **kwargs: Any) -> None:
        """Register a callback: ``factory(**args)`` returns a ``keras.callbacks.Callback``."""
        self.add(name, factory, **kwargs)


class DatasetRegistrar(Registrar):
    def dataset(self, name: str, loader: Any, **kwargs: Any) -> None:
        """Register a dataset: ``loader(options)`` returns :class:`declml.data.splits.Splits`."""
        self.add(name, loader, **kwargs)


class TransformRegistrar(Registrar):
    def transform(self, name: str, factory: Any, **kwargs: Any) -> None:
        """Register a data transform: ``factory(**args)`` returns a
        :class:`declml.data.transforms.Transform`."""
        self.add(name, factory, **kwargs)


class CommandRegistrar(Registrar):
    def command(self, name: str, target: Any, *, help: str = "") -> None:
        """Register a ``declml NAME`` subcommand: a Typer app, a Click command or a
        function Typer can wrap."""
        self.add(name, target, description=help)


REGISTRARS: dict[str, type[Registrar]] = {
    "layer": LayerRegistrar, "loss": LossRegistrar, "metric": MetricRegistrar,
    "optimizer": OptimizerRegistrar, "activation": ActivationRegistrar,
    "callback": CallbackRegistrar, "dataset": DatasetRegistrar,
    "transform": TransformRegistrar, "command": CommandRegistrar,
}
assert set(REGISTRARS) == set(KINDS)


def is_excluded_layer(name: str) -> bool:
    """A Keras layer declml never offers, because it would run code from the spec."""
    return name in _EXCLUDED_LAYERS
