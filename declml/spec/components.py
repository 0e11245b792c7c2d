"""Spec values that name a registered component: ``adam`` or ``{type: Adam, ...}``.

The registry is handed to validation through Pydantic's context, so the set of
valid names is whatever the loaded plugins registered. Unknown names and
unknown or missing arguments are reported with did-you-mean suggestions, all
of them in one pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import (
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    WrapValidator,
)
from pydantic_core import InitErrorDetails

from declml.registry.registry import Registry, did_you_mean
from declml.spec.argtypes import check_arg
from declml.spec.base import raise_issues, spec_error

__all__ = ["ComponentSpec", "LayerRef", "LossRef", "MetricRef", "OptimizerRef", "registry_of"]

# Layer arguments whose string values name an activation.
_ACTIVATION_ARGS = ("activation", "recurrent_activation")


@dataclass
class ComponentSpec:
    """A validated reference to a component: its registered name and arguments."""

    type: str
    args: dict[str, Any] = field(default_factory=dict)
    short: bool = False  # written as a bare name in the spec

    def dump(self) -> Any:
        if self.short and not self.args:
            return self.type
        return {"type": self.type, **{k: _dump(v) for k, v in self.args.items()}}


def _dump(value: Any) -> Any:
    return value.dump() if isinstance(value, ComponentSpec) else value


def registry_of(info: ValidationInfo) -> Registry | None:
    context = info.context or {}
    return context.get("registry")


def _check_component(
    kind: str, value: Any, registry: Registry | None, *, allow_short: bool
) -> ComponentSpec:
    errors: list[InitErrorDetails] = []
    if isinstance(value, str) and allow_short:
        name, args, short, name_loc = value, {}, True, ()
    elif isinstance(value, dict):
        name, short, name_loc = value.get("type"), False, ("type",)
        args = {k: v for k, v in value.items() if k != "type"}
        if name is None:
            raise_issues([spec_error("missing_type", f"missing 'type': name the {kind}, e.g. "
                                     f"{_example(kind)}", (), value)])
        if not isinstance(name, str):
            raise_issues([spec_error("bad_type", f"'type' must be a {kind} name (a string), "
                                     f"got {name!r}", ("type",), name)])
    else:
        shape = "a name or a mapping with 'type'" if allow_short else "a mapping with 'type'"
        raise_issues([spec_error("bad_component", f"expected {shape} for a {kind}, e.g. "
                                 f"{_example(kind)}; got {value!r}", (), value)])
    if registry is None:
        return ComponentSpec(name, args, short)
    component = registry.find(kind, name)
    if component is None:
        raise_issues([spec_error("unknown_component", registry.unknown_message(kind, name),
                                 name_loc, name)])
    assert component is not None
    params = component.params
    if params is not None:
        for arg in args:
            if arg not in params:
                hint = did_you_mean(arg, params) or (
                    f"; {name} takes no arguments" if not params else
                    f"; {name} accepts: {', '.join(sorted(params))}")
                errors.append(spec_error("unknown_argument",
                                         f"{name} has no argument {arg!r}{hint}", (arg,), arg))
        for arg, value in args.items():
            info = params.get(arg)
            if info is None or isinstance(value, dict):
                continue
            expected = check_arg(arg, info, value)
            if expected:
                errors.append(spec_error("bad_argument", f"{name}: {arg!r} must be {expected}; "
                                         f"got {value!r}", (arg,), value))
        missing = [p for p in component.required if p not in args]
        if missing:
            errors.append(spec_error(
                "missing_argument",
                f"{name} requires {', '.join(repr(m) for m in missing)}; add "
                + ", ".join(f"{m}: ..." for m in missing), (), value))
    if kind == "layer":
        args = _check_layer_args(name, args, registry, errors)
    raise_issues(errors)
    return ComponentSpec(name, args, short)


def _check_layer_args(
    name: str, args: dict[str, Any], registry: Registry, errors: list[InitErrorDetails]
) -> dict[str, Any]:
    """Activation names are checked; nested layers (Bidirectional's ``layer``) are parsed."""
    out = dict(args)
    for arg, value in args.items():
        if arg in _ACTIVATION_ARGS and isinstance(value, str) and registry.names("activation"):
            if registry.find("activation", value) is None:
                errors.append(spec_error("unknown_component",
                                         registry.unknown_message("activation", value),
                                         (arg,), value))
        elif isinstance(value, dict) and "type" in value:
            try:
                out[arg] = _check_component("layer", value, registry, allow_short=False)
            except ValidationError as exc:  # re-nest the inner layer's errors under arg
                for err in exc.errors():
                    errors.append(spec_error(err["type"], err["msg"], (arg, *err["loc"]),
                                             err.get("input")))
    return out


def _example(kind: str) -> str:
    return {"layer": "{type: Dense, units: 10}", "optimizer": "adam or {type: adam, "
            "learning_rate: 0.001}", "loss": "categorical_crossentropy",
            "metric": "accuracy"}.get(kind, "{type: ...}")


def _validator(kind: str, *, allow_short: bool) -> WrapValidator:
    def validate(value: Any, handler: Any, info: ValidationInfo) -> ComponentSpec:
        if isinstance(value, ComponentSpec):
            return value
        return _check_component(kind, value, registry_of(info), allow_short=allow_short)

    return WrapValidator(validate)


def _ref(kind: str, *, allow_short: bool) -> Any:
    # Filled in with every registered component by declml.spec.schema.
    schema = {"x-declml-component": kind}
    return Annotated[
        ComponentSpec,
        _validator(kind, allow_short=allow_short),
        PlainSerializer(lambda c: c.dump(), return_type=Any),
        WithJsonSchema(schema),
    ]


LayerRef = _ref("layer", allow_short=False)
OptimizerRef = _ref("optimizer", allow_short=True)
LossRef = _ref("loss", allow_short=True)
MetricRef = _ref("metric", allow_short=True)
