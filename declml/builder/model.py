"""Stage ③: a validated Spec → a compiled ``keras.Model``.

A plain stack becomes a ``keras.Sequential`` (exactly what the hand-written
tutorial code builds); anything else — named inputs, merges, several outputs,
blocks, shared layers — becomes a functional ``keras.Model``.
"""

from __future__ import annotations

from typing import Any

from declml.backend import import_keras
from declml.builder.components import instantiate, make_layer
from declml.errors import BuildError, PluginError, one_line
from declml.registry.registry import Registry
from declml.spec.api import fix_point, registry_for
from declml.spec.graph import LayerNode
from declml.spec.sections import ModelSpec, Spec

__all__ = ["build_model", "compile_model"]


def build_model(spec: Spec, registry: Registry | None = None, *, compile: bool = True) -> Any:
    """Build (and by default compile) the model a spec declares.

    Layers are applied one at a time so that a shape error names the layer that
    caused it rather than surfacing from deep inside Keras.

    Raises:
        BuildError: Keras refused a layer, its arguments, or the compile settings.
    """
    registry = registry or registry_for(spec)
    spec, _ = fix_point(spec, registry=registry)  # a search space builds its default point
    keras = import_keras(spec.backend)
    keras.utils.set_random_seed(spec.seed)
    name = spec.model.name or spec.name.replace(".", "_").replace("-", "_")
    if spec.model.is_sequential:
        model = _sequential(keras, spec.model, registry, name)
    else:
        model = _functional(keras, spec.model, registry, name)
    if compile:
        compile_model(model, spec, registry)
    for plugin, exc in registry.run_hook("declml_model_built", model=model, spec=spec):
        raise PluginError(f"plugin {plugin!r} failed after the model was built "
                          f"(declml_model_built): {type(exc).__name__}: {exc}") from exc
    return model


def _sequential(keras: Any, section: ModelSpec, registry: Registry, name: str) -> Any:
    model = keras.Sequential(name=name)
    model.add(keras.Input(shape=tuple(section.input_shape or ()), name="input"))
    for index, node in enumerate(section.layers):
        for r in range(node.repeat):
            where = _where(index, node, r)
            assert node.layer is not None
            layer = make_layer(node.layer, registry, where, unique=r > 0)
            try:
                model.add(layer)
            except (TypeError, ValueError) as exc:
                raise BuildError(f"{where} does not fit its input: {_first_line(exc)}") from None
    return model


def _where(index: int, node: LayerNode, repeat: int = 0, block: str = "") -> str:
    rep = f" repeat {repeat + 1}" if node.repeat > 1 else ""
    return f"model.layers[{index}] ({node.label}{rep}){block}"


def _apply(layer: Any, tensors: list[Any], where: str) -> Any:
    try:
        return layer(tensors[0] if len(tensors) == 1 else tensors)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{where} does not fit its input: {_first_line(exc)}") from None


def _run_block(keras: Any, section: ModelSpec, registry: Registry, block: str, tensor: Any,
               where: str) -> Any:
    for i, node in enumerate(section.blocks[block]):
        for _ in range(node.repeat):
            inner = f"{where} > {block}[{i}] ({node.label})"
            if node.block is not None:
                tensor = _run_block(keras, section, registry, node.block, tensor, inner)
                continue
            assert node.layer is not None
            tensor = _apply(make_layer(node.layer, registry, inner, unique=True), [tensor],
                            inner)
    return tensor


def _functional(keras: Any, section: ModelSpec, registry: Registry, name: str) -> Any:
    if section.inputs is not None:
        inputs = {n: keras.Input(shape=tuple(i.shape), dtype=i.dtype, name=n)
                  for n, i in section.inputs.items()}
    else:
        inputs = {"input": keras.Input(shape=tuple(section.input_shape or ()), name="input")}
    outputs_of: dict[str, Any] = dict(inputs)
    layer_of: dict[str, Any] = {}
    done: dict[int, Any] = {}
    index_of = {n.name: i for i, n in enumerate(section.layers) if n.name}

    def output(i: int) -> Any:  # depth-first, so entries may be written in any order
        if i in done:
            return done[i]
        node = section.layers[i]
        if node.inputs is None:
            sources = [output(i - 1)] if i > 0 else [next(iter(inputs.values()))]
        else:
            sources = [outputs_of[ref] if ref in inputs else output(index_of[ref])
                       for ref in node.inputs]
        tensor: Any = sources
        for r in range(node.repeat):
            where = _where(i, node, r)
            if node.block is not None:
                tensor = _run_block(keras, section, registry, node.block,
                                    _single(tensor, where), where)
            elif node.shared is not None:
                output(index_of[node.shared])
                tensor = _apply(layer_of[node.shared], _listed(tensor), where)
            else:
                assert node.layer is not None
                layer = make_layer(node.layer, registry, where, unique=r > 0)
                if node.name and r == 0:
                    layer_of[node.name] = layer
                tensor = _apply(layer, _listed(tensor), where)
            tensor = [tensor]
        done[i] = tensor[0]
        if node.name:
            outputs_of[node.name] = done[i]
        return done[i]

    for i in range(len(section.layers)):
        output(i)
    out_names = section.output_names
    outputs = {n: outputs_of.get(n, done[len(section.layers) - 1]) for n in out_names}
    try:
        if len(outputs) == 1 and section.outputs is None:
            model_outputs: Any = next(iter(outputs.values()))
        else:
            model_outputs = outputs
        model_inputs: Any = inputs if section.inputs is not None else inputs["input"]
        return keras.Model(inputs=model_inputs, outputs=model_outputs, name=name)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"model: {_first_line(exc)}") from None


def _listed(tensor: Any) -> list[Any]:
    return tensor if isinstance(tensor, list) else [tensor]


def _single(tensor: Any, where: str) -> Any:
    tensors = _listed(tensor)
    if len(tensors) != 1:
        raise BuildError(f"{where}: a block takes exactly one input, got {len(tensors)}")
    return tensors[0]


def compile_model(model: Any, spec: Spec, registry: Registry) -> None:
    """``model.compile`` with the spec's optimizer, loss(es), metrics and loss weights."""
    section = spec.compile
    optimizer = instantiate("optimizer", section.optimizer, registry, "compile.optimizer")
    if isinstance(section.loss, dict):
        loss: Any = {k: instantiate("loss", v, registry, f"compile.loss.{k}")
                     for k, v in section.loss.items()}
    else:
        loss = instantiate("loss", section.loss, registry, "compile.loss")
    if isinstance(section.metrics, dict):
        metrics: Any = {k: [instantiate("metric", m, registry, f"compile.metrics.{k}[{i}]")
                            for i, m in enumerate(v)] for k, v in section.metrics.items()}
    else:
        metrics = [instantiate("metric", m, registry, f"compile.metrics[{i}]")
                   for i, m in enumerate(section.metrics)]
    try:
        model.compile(optimizer=optimizer, loss=loss, metrics=metrics,
                      loss_weights=section.loss_weights)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"compile: {_first_line(exc)}") from None


def _first_line(exc: BaseException) -> str:
    return one_line(exc, limit=600)
