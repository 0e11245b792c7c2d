"""Registry entries → live Keras objects (layers, optimizers, losses, metrics)."""

from __future__ import annotations

from typing import Any

from declml.errors import BuildError
from declml.registry.registry import Registry
from declml.spec.components import ComponentSpec

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
        return factory(**ref.args)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{where}: {kind} {ref.type!r} rejected its arguments: {exc}") from None


def make_layer(ref: ComponentSpec, registry: Registry, where: str) -> Any:
    """Build one layer; arguments that are layer specs themselves are built first."""
    args = {
        key: make_layer(value, registry, f"{where}.{key}") if isinstance(value, ComponentSpec)
        else value
        for key, value in ref.args.items()
    }
    return instantiate("layer", ComponentSpec(ref.type, args), registry, where)
