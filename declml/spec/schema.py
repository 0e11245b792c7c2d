"""JSON Schema (draft 2020-12) of the spec, from the same Pydantic models.

The section models give the structure; the registry adds every registered
component (built-in and from installed plugins) with its arguments, so editors
can complete layer names and arguments and check values as you type.
"""

from __future__ import annotations

import copy
from typing import Any

from declml.registry.registry import Component, Registry
from declml.spec.argtypes import arg_type
from declml.spec.components import ACTIVATION_ARGS
from declml.spec.sections import Spec

__all__ = ["SCHEMA_ID", "spec_schema"]

SCHEMA_ID = "https://declml.dev/schema/spec-v1.json"
_DEFS = {"layer": "Layer", "optimizer": "Optimizer", "loss": "Loss", "metric": "Metric",
         "callback": "Callback", "transform": "Transform", "node": "LayerNode", "hyper": "Hyper"}
_HYPER_REF = {"$ref": "#/$defs/Hyper"}
_RANGE = {"type": "object", "required": ["min", "max"], "additionalProperties": False,
          "properties": {"min": {"type": "number"}, "max": {"type": "number"},
                         "step": {"type": "number", "exclusiveMinimum": 0},
                         "sampling": {"enum": ["linear", "log", "reverse_log"]}}}
_HYPER = {
    "description": "a searched value: exactly one of int, float, choice, boolean, fixed, hp",
    "type": "object", "additionalProperties": False,
    "oneOf": [{"required": [k]} for k in ("int", "float", "choice", "boolean", "fixed", "hp")],
    "properties": {
        "int": _RANGE, "float": _RANGE,
        "choice": {"type": "array", "minItems": 1,
                   "items": {"type": ["string", "number", "boolean"]}},
        "boolean": {"anyOf": [{"type": "object", "maxProperties": 0}, {"type": "null"}]},
        "fixed": {"type": ["string", "number", "boolean"]},
        "hp": {"type": "string", "description": "re-use the hyperparameter of this name"},
        "name": {"type": "string"}, "default": {},
        "when": {"type": "object", "minProperties": 1, "maxProperties": 1,
                 "description": "active only when PARENT takes one of these values"},
    },
}
_NAMES = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"},
                                          "minItems": 1}],
          "description": "the layer(s) or model input(s) feeding this one (default: the "
                         "entry before)"}
_STRUCTURE = {"inputs": _NAMES,
              "repeat": {"anyOf": [{"type": "integer", "minimum": 1}, _HYPER_REF], "default": 1,
                         "description": "apply this entry N times in a row"}}
_NODE_USES = [
    {"type": "object", "required": ["block"], "additionalProperties": False,
     "properties": {"block": {"type": "string", "description": "a name under model.blocks"},
                    "name": {"type": "string"}, **_STRUCTURE}},
    {"type": "object", "required": ["shared"], "additionalProperties": False,
     "properties": {"shared": {"type": "string", "description": "apply this named layer "
                                                                "again, with the same weights"},
                    "name": {"type": "string"}, "inputs": _NAMES}},
]


def _arg_schema(arg: str, info: dict[str, Any], registry: Registry) -> dict[str, Any]:
    if arg in ACTIVATION_ARGS:
        schema: dict[str, Any] = {"enum": registry.names("activation")}
    else:
        expected = arg_type(arg, info)
        schema = copy.deepcopy(expected.schema) if expected else {}
    if "default" in info and info["default"] is None and schema:
        schema = {"anyOf": [schema, {"type": "null"}]}
    if schema:
        schema = {"anyOf": [*schema.pop("anyOf", [schema]), _HYPER_REF]}
    if "default" in info:
        schema["default"] = info["default"]
    return schema


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """Replace a plugin model's local ``#/$defs/X`` references by their definitions."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref[8:] in defs:
            return _inline_refs(defs[ref[8:]], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _model_properties(model: Any) -> dict[str, Any]:
    """A plugin's argument model as schema properties, each also accepting a searched value."""
    schema = model.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    properties = {}
    for arg, prop in schema.get("properties", {}).items():
        prop = _inline_refs(prop, defs)
        prop.pop("title", None)
        meta = {k: prop.pop(k) for k in ("description", "default") if k in prop}
        properties[arg] = {"anyOf": [prop, _HYPER_REF], **meta}
    return properties


def _component_schema(component: Component, registry: Registry) -> dict[str, Any]:
    properties: dict[str, Any] = {"type": {"const": component.name}}
    if component.spec_model is not None and component.kind != "dataset":
        properties.update(_model_properties(component.spec_model))
    else:
        for arg, info in (component.params or {}).items():
            properties[arg] = _arg_schema(arg, info, registry)
    if component.kind == "layer":
        properties.update(_STRUCTURE)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": ["type", *component.required],
    }
    if component.params is not None:
        schema["additionalProperties"] = False
    if component.description:
        schema["description"] = component.description
    return schema


def _family(kind: str, registry: Registry, *, short: bool) -> dict[str, Any]:
    """``{type: Name, ...args}`` objects, discriminated by ``type`` with if/then.

    If/then (rather than a plain anyOf) lets editors complete ``type`` from an
    enum and then the arguments of exactly that component, and keeps error
    messages about the one component meant.
    """
    names = registry.names(kind)
    branches = []
    for name in names:
        then = _component_schema(registry.get(kind, name), registry)
        branches.append({"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                         "then": then})
    type_schema: dict[str, Any] = {"enum": names, "description": f"registered {kind}"}
    if short:  # optimizers and losses may be searched: type: {choice: [adam, sgd]}
        type_schema = {"anyOf": [type_schema, _HYPER_REF]}
    mapping = {"type": "object", "required": ["type"], "properties": {"type": type_schema},
               "allOf": branches}
    if short:
        return {"anyOf": [{"enum": names, "description": f"registered {kind}"}, _HYPER_REF,
                          mapping]}
    return mapping


def _data_section(schema: dict[str, Any], registry: Registry) -> None:
    """Dataset options sit flat under ``data``: one if/then per dataset."""
    data = schema["$defs"]["DataSpec"]
    data["properties"].pop("options", None)
    data.pop("additionalProperties", None)
    data["unevaluatedProperties"] = False
    data["properties"]["dataset"]["enum"] = registry.names("dataset")
    branches = []
    for name in registry.names("dataset"):
        component = registry.get("dataset", name)
        then: dict[str, Any] = {"properties": {}}
        if component.options is not None:
            options = component.options.model_json_schema()
            then["properties"] = options.get("properties", {})
            if options.get("required"):
                then["required"] = options["required"]
        branches.append({"if": {"properties": {"dataset": {"const": name}},
                                "required": ["dataset"]}, "then": then})
    data["allOf"] = branches


def _link_components(node: Any) -> Any:
    """Replace the section models' component placeholders with $refs to the families."""
    if isinstance(node, dict):
        kind = node.get("x-declml-component")
        if kind in _DEFS and len(node) == 1:
            return {"$ref": f"#/$defs/{_DEFS[kind]}"}
        return {k: _link_components(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_link_components(v) for v in node]
    return node


def spec_schema(registry: Registry | None = None) -> dict[str, Any]:
    """The JSON Schema of a spec, covering every registered component."""
    if registry is None:
        from declml.registry.manager import get_registry

        registry = get_registry()
    schema = _link_components(Spec.model_json_schema(mode="validation"))
    schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
              **schema}
    schema["title"] = "declml spec"
    defs = schema.setdefault("$defs", {})
    defs["Hyper"] = copy.deepcopy(_HYPER)
    for kind, def_name in _DEFS.items():
        if kind not in ("node", "hyper"):
            defs[def_name] = _family(kind, registry, short=kind != "layer")
    block_use, shared_use = _NODE_USES
    defs["LayerNode"] = {
        "if": {"type": "object", "required": ["block"]}, "then": block_use,
        "else": {"if": {"type": "object", "required": ["shared"]}, "then": shared_use,
                 "else": {"$ref": "#/$defs/Layer"}},
    }
    _data_section(schema, registry)
    return schema
