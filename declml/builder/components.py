"""Registry entries → live Keras objects (layers, optimizers, losses, metrics)."""

from __future__ import annotations

from typing import Any

from declml.errors import BuildError
from declml.registry.registry import SERIALIZED_KINDS, Registry, ensure_serializable
from declml.spec.components import ACTIVATION_ARGS, ComponentSpec

__all__ = ["instantiate", "make_layer"]


def instantiate(kind: str, ref: ComponentSpec, registry: Registry, where: str) -> Any:
    """Create the object ``ref`` names; Keras's own names pass through untouched.

    Passing ``"adam"`` or ``"accuracy"`` straight to ``Model.compile`` keeps
    Keras's own resolution (e.g. ``accuracy`` becoming categorical accuracy for
    a categorical loss), so a spec compiles exactly like hand-written Keras.
    """
    component = registry.get(kind, ref.type)
    if not ref.args and component.keras_name is not None:
        return component.keras_name
    factory = component.load()
    try:
        made = factory(**ref.args)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{where}: {kind} {ref.type!r} rejected its arguments: {exc}") from None
    if kind in SERIALIZED_KINDS and not isinstance(factory, type):
        ensure_serializable(type(made), component.plugin)  # a factory function's product
    return made


def _keras_config(value: Any) -> Any:
    """``{type: L2, l2: 0.01}`` → the ``{class_name, config}`` form Keras deserializes.

    Initializers, regularizers and constraints are written like components in
    a spec; Keras's own ``get()`` functions resolve the result safely.
    """
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return {"class_name": value["type"],
                "config": {k: v for k, v in value.items() if k != "type"}}
    return value


def _activation(value: Any, registry: Registry) -> Any:
    """Keras resolves its own activation names; a plugin's is passed as the function."""
    component = registry.find("activation", value) if isinstance(value, str) else None
    if component is None or component.keras_name is not None:
        return value
    return component.load()


def make_layer(ref: ComponentSpec, registry: Registry, where: str, *,
               unique: bool = False) -> Any:
    """Build one layer; arguments that are layer specs themselves are built first.

    ``unique`` drops a spec-given ``name`` (a repeated layer or a block used
    twice needs fresh names; Keras rejects duplicates).
    """
    args = {
        key: make_layer(value, registry, f"{where}.{key}") if isinstance(value, ComponentSpec)
        else _activation(value, registry) if key in ACTIVATION_ARGS
        else _keras_config(value)
        for key, value in ref.args.items()
        if not (unique and key == "name")
    }
    return instantiate("layer", ComponentSpec(ref.type, args), registry, where)
