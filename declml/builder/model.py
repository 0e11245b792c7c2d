"""Stage ③: a validated Spec → a compiled ``keras.Model``."""

from __future__ import annotations

from typing import Any

from declml.backend import import_keras
from declml.builder.components import instantiate, make_layer
from declml.errors import BuildError
from declml.registry.registry import Registry
from declml.spec.sections import Spec

__all__ = ["build_model", "compile_model"]


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from declml.registry.manager import get_registry

    return get_registry()


def build_model(spec: Spec, registry: Registry | None = None, *, compile: bool = True) -> Any:
    """Build (and by default compile) the model a spec declares.

    Layers are added one by one so that a shape error names the layer that
    caused it rather than surfacing from deep inside Keras.

    Raises:
        BuildError: Keras refused a layer, its arguments, or the compile settings.
    """
    registry = _registry(registry)
    keras = import_keras(spec.backend)
    keras.utils.set_random_seed(spec.seed)
    model = keras.Sequential(name=spec.model.name or spec.name.replace(".", "_"))
    model.add(keras.Input(shape=tuple(spec.model.input_shape), name="input"))
    for index, layer_spec in enumerate(spec.model.layers):
        where = f"model.layers[{index}] ({layer_spec.type})"
        layer = make_layer(layer_spec, registry, where)
        try:
            model.add(layer)
        except (TypeError, ValueError) as exc:
            raise BuildError(f"{where} does not fit its input: {_first_line(exc)}") from None
    if compile:
        compile_model(model, spec, registry)
    return model


def compile_model(model: Any, spec: Spec, registry: Registry) -> None:
    """``model.compile`` with the spec's optimizer, loss and metrics."""
    section = spec.compile
    optimizer = instantiate("optimizer", section.optimizer, registry, "compile.optimizer")
    loss = instantiate("loss", section.loss, registry, "compile.loss")
    metrics = [instantiate("metric", m, registry, f"compile.metrics[{i}]")
               for i, m in enumerate(section.metrics)]
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"compile: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split()) if len(text) < 600 else text[:600] + "..."
