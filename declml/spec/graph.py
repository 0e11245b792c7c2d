"""Model graphs in a spec: layer nodes, named inputs and outputs, blocks, sharing.

A layer entry is one of:

- ``{type: Dense, units: 10}`` — a registered layer (its ``name`` names the node);
- ``{block: conv_block}`` — a use of a block declared under ``model.blocks``;
- ``{shared: encoder}`` — the layer named ``encoder`` applied again (same weights).

Any entry may add ``inputs`` (a node or model-input name, or a list of them for
merge layers; default: the entry before it) and ``repeat: N`` (apply it N times
in a row, with fresh weights each time; not for ``shared``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import PlainSerializer, ValidationError, ValidationInfo, WithJsonSchema, WrapValidator
from pydantic_core import InitErrorDetails

from declml.registry.registry import Registry, did_you_mean
from declml.spec.base import as_details, other_place, raise_issues, spec_error
from declml.spec.components import ComponentSpec, check_component, registry_of
from declml.spec.hyper import Hyper, is_hyper, parse_hyper

__all__ = ["LayerNode", "LayerNodeRef", "check_graph"]

_STRUCTURAL = ("inputs", "repeat", "block", "shared")


@dataclass
class LayerNode:
    """One entry of ``model.layers`` (or of a block)."""

    layer: ComponentSpec | None = None
    block: str | None = None
    shared: str | None = None
    name: str | None = None
    inputs: list[str] | None = None
    repeat: int | Hyper = 1
    inputs_as_list: bool = field(default=False, repr=False)

    @property
    def type(self) -> str | None:
        """The layer type, or None for a block use or a shared entry."""
        return self.layer.type if self.layer is not None else None

    @property
    def label(self) -> str:
        if self.layer is not None:
            return self.layer.type
        return f"block {self.block}" if self.block is not None else f"shared {self.shared}"

    def dump(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.layer is not None:
            out.update(self.layer.dump())
        elif self.block is not None:
            out["block"] = self.block
        else:
            out["shared"] = self.shared
        if self.name is not None and self.layer is None:
            out["name"] = self.name
        if self.inputs is not None:
            out["inputs"] = self.inputs if self.inputs_as_list else self.inputs[0]
        if self.repeat != 1:
            out["repeat"] = self.repeat.dump() if isinstance(self.repeat, Hyper) else self.repeat
        return out


def _names(value: Any, loc: tuple[Any, ...], errors: list[InitErrorDetails]) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    errors.append(spec_error("bad_inputs", "expected a layer or input name, or a non-empty "
                             f"list of names; got {value!r}", loc, value))
    return None


def check_node(value: Any, registry: Registry | None) -> LayerNode:
    """Validate one layer entry (structure and component; references come later)."""
    if not isinstance(value, dict):
        raise_issues([spec_error(
            "bad_component", "expected a mapping with 'type' (a layer), 'block' or 'shared', "
            f"e.g. {{type: Dense, units: 10}}; got {value!r}", (), value)])
    errors: list[InitErrorDetails] = []
    rest = {k: v for k, v in value.items() if k not in _STRUCTURAL}
    node = LayerNode()
    if "inputs" in value:
        node.inputs = _names(value["inputs"], ("inputs",), errors)
        node.inputs_as_list = isinstance(value["inputs"], list)
    repeat = value.get("repeat", 1)
    if is_hyper(repeat):
        hyper = _repeat_hyper(repeat, errors)
        if hyper is not None:
            node.repeat = hyper  # type: ignore[assignment]
    elif isinstance(repeat, bool) or not isinstance(repeat, int) or repeat < 1:
        errors.append(spec_error("bad_repeat", f"repeat must be a positive integer; got "
                                 f"{repeat!r}", ("repeat",), repeat))
    else:
        node.repeat = repeat
    kinds = [k for k in ("type", "block", "shared") if k in value]
    if len(kinds) > 1:
        errors.append(spec_error("ambiguous_node", f"give only one of 'type', 'block' and "
                                 f"'shared'; this entry has {', '.join(kinds)}", (), value))
    elif kinds == ["block"] or kinds == ["shared"]:
        key = kinds[0]
        target = value[key]
        if not isinstance(target, str):
            errors.append(spec_error("bad_reference", f"{key} must be a name; got {target!r}",
                                     (key,), target))
        setattr(node, key, target if isinstance(target, str) else None)
        extra = [k for k in rest if k != "name"]
        for k in extra:
            errors.append(spec_error(
                "unknown_key", f"a {key} entry takes only name, inputs"
                f"{', repeat' if key == 'block' else ''}; {k!r} belongs on the "
                f"{'layers of the block' if key == 'block' else 'original layer'}",
                (k,), k))
        name = rest.get("name")
        if name is not None and not isinstance(name, str):
            errors.append(spec_error("bad_name", f"name must be a string; got {name!r}",
                                     ("name",), name))
        node.name = name if isinstance(name, str) else None
        if key == "shared" and node.repeat != 1 and "repeat" in value:
            errors.append(spec_error("bad_repeat", "a shared layer cannot repeat (it would "
                                     "apply the same weights again); repeat the original",
                                     ("repeat",), repeat))
    else:
        try:
            node.layer = check_component("layer", rest, registry, allow_short=False)
        except ValidationError as exc:
            errors.extend(as_details(exc))
        else:
            name = node.layer.args.get("name")
            node.name = name if isinstance(name, str) else None
    raise_issues(errors)
    return node


def _repeat_hyper(value: Any, errors: list[InitErrorDetails]) -> Hyper | None:
    try:
        hyper = parse_hyper(value)
    except ValidationError as exc:
        errors.extend(as_details(exc, ("repeat",)))
        return None
    bad = [v for v in hyper.candidates()
           if isinstance(v, bool) or not isinstance(v, int) or v < 1]
    if bad or hyper.kind in ("float", "boolean"):
        errors.append(spec_error("bad_repeat", "a searched repeat must range over positive "
                                 f"integers; got {value!r}", ("repeat",), value))
        return None
    return hyper


def _validate(value: Any, handler: Any, info: ValidationInfo) -> LayerNode:
    if isinstance(value, LayerNode):
        return value
    return check_node(value, registry_of(info))


LayerNodeRef = Annotated[
    LayerNode,
    WrapValidator(_validate),
    PlainSerializer(lambda n: n.dump(), return_type=Any),
    WithJsonSchema({"x-declml-component": "node"}),
]


def check_graph(
    inputs: list[str],
    layers: list[LayerNode],
    outputs: list[str] | None,
    blocks: dict[str, list[LayerNode]],
) -> list[InitErrorDetails]:
    """Every reference resolves, names are unique, and the graph has no cycle.

    Locations are relative to ``model``.
    """
    errors: list[InitErrorDetails] = []
    first_seen: dict[str, tuple[Any, ...]] = {name: ("inputs", name) for name in inputs}
    for i, node in enumerate(layers):
        if node.name is None:
            continue
        if node.name in first_seen:
            where = other_place(("model", *first_seen[node.name]))
            errors.append(spec_error("duplicate_name", f"name {node.name!r} is already used "
                                     f"by {where}; names must be unique",
                                     ("layers", i, "name"), node.name))
        else:
            first_seen[node.name] = ("layers", i)
    known = list(first_seen)
    by_name = {n.name: n for n in layers if n.name}
    edges: dict[int, list[int]] = {}
    index_of = {n.name: i for i, n in enumerate(layers) if n.name}
    for i, node in enumerate(layers):
        if node.inputs is None:
            if i == 0 and len(inputs) > 1:
                errors.append(spec_error(
                    "missing_inputs", f"the model has several inputs ({', '.join(inputs)}); "
                    "say which this layer takes with inputs: NAME", ("layers", 0), None))
            if i > 0:
                edges[i] = [i - 1]
            continue
        edges[i] = []
        for j, ref in enumerate(node.inputs):
            loc = ("layers", i, "inputs", j) if node.inputs_as_list else ("layers", i, "inputs")
            if ref == node.name:
                errors.append(spec_error("self_reference", f"layer {ref!r} cannot take "
                                         "itself as input", loc, ref))
            elif ref not in first_seen:
                errors.append(spec_error("unknown_reference", f"no layer or input named "
                                         f"{ref!r}{did_you_mean(ref, known)}", loc, ref))
            elif ref in index_of:
                edges[i].append(index_of[ref])
    for i, node in enumerate(layers):
        if node.shared is not None:
            target = by_name.get(node.shared)
            if target is None or target.layer is None:
                what = "is a block use or a shared entry" if target else "does not exist"
                hint = did_you_mean(node.shared, by_name)
                errors.append(spec_error("bad_shared", f"shared: {node.shared!r} {what}; it "
                                         f"must name a layer entry{hint}",
                                         ("layers", i, "shared"), node.shared))
        if node.block is not None and node.block not in blocks:
            errors.append(spec_error("unknown_block", f"no block named {node.block!r}"
                                     f"{did_you_mean(node.block, blocks) or ' under model.blocks'}",
                                     ("layers", i, "block"), node.block))
    errors.extend(_cycles(layers, edges))
    errors.extend(_block_checks(blocks))
    for j, out in enumerate(outputs or []):
        if out not in by_name:
            errors.append(spec_error("unknown_reference", f"no layer named {out!r}"
                                     f"{did_you_mean(out, by_name)}", ("outputs", j), out))
    return errors


def _cycles(layers: list[LayerNode], edges: dict[int, list[int]]) -> list[InitErrorDetails]:
    state: dict[int, int] = {}  # 1 visiting, 2 done
    errors: list[InitErrorDetails] = []

    def visit(i: int, trail: list[int]) -> None:
        state[i] = 1
        for j in edges.get(i, []):
            if state.get(j) == 1:
                cycle = [*trail[trail.index(j):], j] if j in trail else [j, i]
                names = " -> ".join(layers[k].name or f"layers[{k}]" for k in cycle)
                errors.append(spec_error("cycle", f"the layers form a cycle: {names}; "
                                         "a layer cannot depend on its own output",
                                         ("layers", i, "inputs"), names))
            elif state.get(j) is None:
                visit(j, [*trail, j])
        state[i] = 2

    for i in range(len(layers)):
        if state.get(i) is None:
            visit(i, [i])
    return errors


def _block_checks(blocks: dict[str, list[LayerNode]]) -> list[InitErrorDetails]:
    errors: list[InitErrorDetails] = []
    for name, nodes in blocks.items():
        if not nodes:
            errors.append(spec_error("empty_block", "a block needs at least one layer",
                                     ("blocks", name), nodes))
        for i, node in enumerate(nodes):
            if node.inputs is not None or node.shared is not None:
                key = "inputs" if node.inputs is not None else "shared"
                errors.append(spec_error("block_structure", f"layers inside a block run in "
                                         f"order; '{key}' is not allowed here",
                                         ("blocks", name, i, key), None))
            if node.block is not None and node.block not in blocks:
                errors.append(spec_error("unknown_block", f"no block named {node.block!r}"
                                         f"{did_you_mean(node.block, blocks)}",
                                         ("blocks", name, i, "block"), node.block))
    # A block that uses itself, directly or through others, would never end.
    def uses(name: str, seen: tuple[str, ...]) -> str | None:
        for node in blocks.get(name, []):
            if node.block in seen:
                return " -> ".join([*seen, node.block])
            if node.block is not None:
                found = uses(node.block, (*seen, node.block))
                if found:
                    return found
        return None

    for name in blocks:
        loop = uses(name, (name,))
        if loop and loop.startswith(name):
            errors.append(spec_error("cycle", f"block {name!r} uses itself: {loop}",
                                     ("blocks", name), loop))
    return errors
