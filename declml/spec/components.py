"""Spec values that name a registered component: ``adam`` or ``{type: Adam, ...}``.

The registry is handed to validation through Pydantic's context, so the set of
valid names is whatever the loaded plugins registered. Unknown names and
unknown or missing arguments are reported with did-you-mean suggestions, all
of them in one pass.
"""

from __future__ import annotations

from collections.abc import Iterator
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

from declml.registry.registry import Registry, did_you_mean, is_excluded_layer
from declml.spec.argtypes import check_arg
from declml.spec.base import as_details, raise_issues, spec_error
from declml.spec.hyper import Hyper, default_value, find_hypers, is_hyper, parse_hyper

__all__ = ["CallbackRef", "ComponentSpec", "LayerRef", "LossRef", "MetricRef", "OptimizerRef",
           "TransformRef", "check_component", "registry_of"]

# Arguments every keras.layers.Layer accepts.
LAYER_BASE_ARGS = ("name", "dtype", "trainable")
# Layer arguments whose string values name an activation.
ACTIVATION_ARGS = ("activation", "recurrent_activation")


@dataclass
class ComponentSpec:
    """A validated reference to a component: its registered name and arguments."""

    type: str | Hyper
    args: dict[str, Any] = field(default_factory=dict)
    short: bool = False  # written as a bare name in the spec

    def dump(self) -> Any:
        if self.short and not self.args:
            return _dump(self.type)
        return {"type": _dump(self.type), **{k: _dump(v) for k, v in self.args.items()}}


def _dump(value: Any) -> Any:
    return value.dump() if isinstance(value, (ComponentSpec, Hyper)) else value


def registry_of(info: ValidationInfo) -> Registry | None:
    context = info.context or {}
    return context.get("registry")


def _parse_hyper_at(value: Any, loc: tuple[Any, ...],
                    errors: list[InitErrorDetails]) -> Hyper | None:
    try:
        return parse_hyper(value)
    except ValidationError as exc:
        errors.extend(as_details(exc, loc))
        return None


def _split(kind: str, value: Any, allow_short: bool,
           errors: list[InitErrorDetails]) -> tuple[str | Hyper, dict[str, Any], bool, tuple]:
    """(name or searched name, arguments, written short?, location of the name)."""
    if isinstance(value, str) and allow_short:
        return value, {}, True, ()
    if is_hyper(value) and allow_short:  # optimizer: {choice: [adam, sgd]}
        hyper = _parse_hyper_at(value, (), errors)
        raise_issues(errors)
        assert hyper is not None
        return hyper, {}, True, ()
    if isinstance(value, dict):
        name = value.get("type")
        args = {k: v for k, v in value.items() if k != "type"}
        if name is None:
            raise_issues([spec_error("missing_type", f"missing 'type': name the {kind}, e.g. "
                                     f"{_example(kind)}", (), value)])
        if is_hyper(name) and kind != "layer":
            hyper = _parse_hyper_at(name, ("type",), errors)
            raise_issues(errors)
            assert hyper is not None
            return hyper, args, False, ("type",)
        if not isinstance(name, str):
            raise_issues([spec_error("bad_type", f"'type' must be a {kind} name (a string), "
                                     f"got {name!r}", ("type",), name)])
        return name, args, False, ("type",)
    shape = "a name or a mapping with 'type'" if allow_short else "a mapping with 'type'"
    raise_issues([spec_error("bad_component", f"expected {shape} for a {kind}, e.g. "
                             f"{_example(kind)}; got {value!r}", (), value)])
    raise AssertionError("unreachable")


def check_component(
    kind: str, value: Any, registry: Registry | None, *, allow_short: bool
) -> ComponentSpec:
    """Validate a component reference: name, arguments, and searched values in them."""
    errors: list[InitErrorDetails] = []
    name, args, short, name_loc = _split(kind, value, allow_short, errors)
    hypers = {arg: h for arg, v in args.items() if is_hyper(v)
              if (h := _parse_hyper_at(v, (arg,), errors)) is not None}
    for arg, v in args.items():  # searched values deeper inside a mapping argument
        if isinstance(v, dict) and arg not in hypers and not _nested_layer(kind, v, registry):
            for sub, raw in find_hypers(v):
                _parse_hyper_at(raw, (arg, *sub), errors)
    args = {**args, **hypers}
    if registry is None:
        raise_issues(errors)
        return ComponentSpec(name, args, short)
    names = name.candidates() if isinstance(name, Hyper) else [name]
    components = []
    for candidate in names:
        component = registry.find(kind, candidate) if isinstance(candidate, str) else None
        if component is None:
            where = name_loc if isinstance(name, str) else (*name_loc, name.kind)
            errors.append(spec_error("unknown_component",
                                     registry.unknown_message(kind, str(candidate)), where,
                                     candidate))
        else:
            components.append(component)
    for component in components:
        _check_args(component, _args_for(component.name, name, args), errors,
                    searched_name=isinstance(name, Hyper))
    if kind == "layer" and isinstance(name, str):
        args = _check_layer_args(name, args, registry, errors)
    raise_issues(errors)
    return ComponentSpec(name, args, short)


def _serialized_code(value: Any) -> str | None:
    """The class name of a Keras config nested in ``value`` that would run code (a Lambda
    with its marshalled function), if there is one."""
    for found in _dicts(value):
        name = found.get("class_name")
        if isinstance(name, str) and is_excluded_layer(name):
            return name
    return None


def _dicts(value: Any, depth: int = 0) -> Iterator[dict[str, Any]]:
    if depth > 50:
        return
    if isinstance(value, dict):
        yield value
        for v in value.values():
            yield from _dicts(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            yield from _dicts(v, depth + 1)


def _nested_layer(kind: str, value: dict[str, Any], registry: Registry | None) -> bool:
    """A layer argument that is itself a layer (Bidirectional's ``layer``): checked as one."""
    return kind == "layer" and registry is not None and isinstance(value.get("type"), str) \
        and registry.find("layer", value["type"]) is not None


def _args_for(candidate: str, name: str | Hyper, args: dict[str, Any]) -> dict[str, Any]:
    """The arguments that apply to one searched component: ``when`` may leave some out."""
    if not isinstance(name, Hyper) or name.name is None:
        return args
    return {arg: value for arg, value in args.items()
            if not (isinstance(value, Hyper) and value.when is not None
                    and value.when[0] == name.name and candidate not in value.when[1])}


def _check_args(component: Any, args: dict[str, Any], errors: list[InitErrorDetails], *,
                searched_name: bool) -> None:
    name, params = component.name, component.params
    if params is None:
        return
    for arg, value in args.items():
        info = params.get(arg)
        if info is None and component.kind == "layer" and arg in LAYER_BASE_ARGS:
            continue  # every Keras layer takes these, whatever a plugin's model declares
        if info is None:
            hint = did_you_mean(arg, params) or (
                f"; {name} takes no arguments" if not params else
                f"; {name} accepts: {', '.join(sorted(params))}")
            if searched_name:
                hint += (f" (to pass {arg!r} only to some of the searched types, name the type "
                         f"choice and add when: {{NAME: [...]}} to {arg!r})")
            errors.append(spec_error("unknown_argument",
                                     f"{name} has no argument {arg!r}{hint}", (arg,), arg))
            continue
        if component.spec_model is not None:
            continue  # the plugin's own model checks the values (below)
        candidates = value.candidates() if isinstance(value, Hyper) else [value]
        for candidate in candidates:
            if isinstance(candidate, dict):
                smuggled = _serialized_code(candidate)
                if smuggled is not None:
                    errors.append(spec_error(
                        "bad_argument", f"{name}: {arg!r} holds a serialized Keras {smuggled!r} "
                        "object, which would run code; specs cannot run code", (arg,),
                        candidate))
                    break
                continue
            expected = check_arg(arg, info, candidate)
            if expected:
                what = f"got {candidate!r}" if candidate is value else (
                    f"the search space includes {candidate!r}")
                errors.append(spec_error("bad_argument", f"{name}: {arg!r} must be {expected}; "
                                         f"{what}", (arg,), candidate))
                break
    missing = [p for p in component.required if p not in args]
    if missing:
        errors.append(spec_error(
            "missing_argument",
            f"{name} requires {', '.join(repr(m) for m in missing)}; add "
            + ", ".join(f"{m}: ..." for m in missing), (), args))
    if component.spec_model is not None:
        _check_with_model(component, {k: v for k, v in args.items()
                                      if k in params and not isinstance(v, ComponentSpec)},
                          errors)


# Already reported by the argument table checks above.
_REPORTED = {"missing", "extra_forbidden"}


def _check_with_model(component: Any, args: dict[str, Any],
                      errors: list[InitErrorDetails]) -> None:
    """Validate the arguments against the plugin's Pydantic model: the default point
    of any searched value first, then each value the search space can reach."""
    base = {k: default_value(v) if isinstance(v, Hyper) else v for k, v in args.items()}
    variants: list[tuple[str | None, dict[str, Any]]] = [(None, base)]
    for arg, value in args.items():
        if isinstance(value, Hyper):
            variants += [(arg, {**base, arg: c}) for c in value.candidates()]
    seen: set[tuple[Any, ...]] = set()
    for searched, data in variants:
        try:
            component.spec_model.model_validate(data)
        except ValidationError as exc:
            for err in exc.errors(include_url=False):
                key = (err["loc"], err["msg"])
                if err["type"] in _REPORTED or key in seen:
                    continue
                seen.add(key)
                what = (f"the search space includes {data[searched]!r}" if searched
                        else f"got {err.get('input')!r}")
                errors.append(spec_error("bad_argument", f"{component.name}: {err['msg']}; "
                                         f"{what}", err["loc"], err.get("input")))


def _check_layer_args(
    name: str, args: dict[str, Any], registry: Registry, errors: list[InitErrorDetails]
) -> dict[str, Any]:
    """Activation names are checked; nested layers (Bidirectional's ``layer``) are parsed."""
    out = dict(args)
    for arg, value in args.items():
        if arg in ACTIVATION_ARGS and isinstance(value, str) and registry.names("activation"):
            if registry.find("activation", value) is None:
                errors.append(spec_error("unknown_component",
                                         registry.unknown_message("activation", value),
                                         (arg,), value))
        elif isinstance(value, dict) and (blocked := _excluded_type(value.get("type"))):
            errors.append(spec_error("unknown_component",
                                     registry.unknown_message("layer", blocked),
                                     (arg, "type"), blocked))
        elif isinstance(value, dict) and isinstance(value.get("type"), str) and (
                registry.find("layer", value["type"]) is not None):
            try:
                out[arg] = check_component("layer", value, registry, allow_short=False)
            except ValidationError as exc:  # re-nest the inner layer's errors under arg
                errors.extend(as_details(exc, (arg,)))
    return out


def _excluded_type(name: Any) -> str | None:
    """A nested layer's type (or one of its searched types) that declml never offers."""
    candidates = [name] if isinstance(name, str) else []
    if is_hyper(name):
        try:
            candidates = [c for c in parse_hyper(name).candidates() if isinstance(c, str)]
        except ValidationError:
            candidates = []  # reported where the value is parsed
    return next((c for c in candidates if is_excluded_layer(c)), None)


def _example(kind: str) -> str:
    return {"layer": "{type: Dense, units: 10}", "optimizer": "adam or {type: adam, "
            "learning_rate: 0.001}", "loss": "categorical_crossentropy",
            "metric": "accuracy", "callback": "{type: EarlyStopping, patience: 3}",
            "transform": "standardize"}.get(kind, "{type: ...}")


def _validator(kind: str, *, allow_short: bool) -> WrapValidator:
    def validate(value: Any, handler: Any, info: ValidationInfo) -> ComponentSpec:
        if isinstance(value, ComponentSpec):
            return value
        return check_component(kind, value, registry_of(info), allow_short=allow_short)

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
CallbackRef = _ref("callback", allow_short=True)
TransformRef = _ref("transform", allow_short=True)
