"""The search space a spec declares, checked as a whole, and fixing it to a point.

:mod:`declml.spec.hyper` parses one hyperparameter; this module sees them all:
names (explicit or from the path), conflicting definitions, ``{hp: NAME}``
references, ``when`` conditions, and substitutes chosen values to get a
concrete spec that builds one model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails

from declml.registry.registry import did_you_mean
from declml.spec.base import other_place, spec_error
from declml.spec.hyper import Hyper, default_value, find_hypers, is_hyper, parse_hyper
from declml.spec.loader import format_path

__all__ = ["Dimension", "check_space", "default_point", "search_space", "substitute_data"]


@dataclass(frozen=True)
class Dimension:
    """One named hyperparameter of the space and where it was first defined."""

    name: str
    hyper: Hyper
    path: tuple[Any, ...]


def dimension_name(hyper: Hyper, path: tuple[Any, ...]) -> str:
    """The name a value is known by: its reference, its explicit name, or its path."""
    if hyper.kind == "hp":
        return str(hyper.ref)
    return hyper.name or format_path(path)


def _collect(data: dict[str, Any]) -> tuple[dict[str, Dimension], list[InitErrorDetails],
                                             list[tuple[tuple[Any, ...], Hyper]]]:
    dims: dict[str, Dimension] = {}
    errors: list[InitErrorDetails] = []
    refs: list[tuple[tuple[Any, ...], Hyper]] = []
    for path, raw in find_hypers(data):
        try:
            hyper = parse_hyper(raw)
        except ValidationError:  # structural errors were reported where the value sits
            continue
        if hyper.kind == "hp":
            refs.append((path, hyper))
            continue
        name = dimension_name(hyper, path)
        first = dims.get(name)
        if first is None:
            dims[name] = Dimension(name, hyper, path)
        elif not first.hyper.same_definition(hyper):
            errors.append(spec_error(
                "hyper_conflict", f"hyperparameter {name!r} is also defined, differently, at "
                f"{other_place(first.path)}; define it once and write {{hp: {name}}} in the "
                "other places", path, raw))
    return dims, errors, refs


def check_space(data: dict[str, Any]) -> list[InitErrorDetails]:
    """Spec-wide checks of every hyperparameter in dumped spec ``data``."""
    dims, errors, refs = _collect(data)
    for path, hyper in refs:
        if hyper.ref not in dims:
            errors.append(spec_error(
                "unknown_hyper", f"no hyperparameter named {hyper.ref!r}"
                f"{did_you_mean(str(hyper.ref), dims) or '; define it with a name: somewhere'}",
                (*path, "hp"), hyper.ref))
    for dim in dims.values():
        if dim.hyper.when is None:
            continue
        parent, values = dim.hyper.when
        loc = (*dim.path, "when", parent)
        target = dims.get(parent)
        if target is None:
            errors.append(spec_error("unknown_hyper", f"when: no hyperparameter named "
                                     f"{parent!r}{did_you_mean(parent, dims)}", loc, parent))
        elif target.hyper.kind not in ("choice", "boolean", "fixed"):
            errors.append(spec_error("bad_hyper", f"when: {parent!r} is a {target.hyper.kind} "
                                     "range; conditions need a choice or a boolean", loc, parent))
        else:
            bad = [v for v in values if v not in target.hyper.candidates()]
            if bad:
                errors.append(spec_error("bad_hyper", f"when: {parent!r} can never be "
                                         f"{', '.join(map(repr, bad))} (it is one of "
                                         f"{target.hyper.candidates()})", loc, bad))
    return errors


def search_space(data: dict[str, Any]) -> list[Dimension]:
    """The named hyperparameters, parents before the ones conditioned on them."""
    dims, _, _ = _collect(data)
    ordered: list[Dimension] = []

    def add(dim: Dimension, trail: tuple[str, ...] = ()) -> None:
        if dim in ordered or dim.name in trail:
            return
        if dim.hyper.when and dim.hyper.when[0] in dims:
            add(dims[dim.hyper.when[0]], (*trail, dim.name))
        ordered.append(dim)

    for dim in dims.values():
        add(dim)
    return ordered


def active(dim: Dimension, values: dict[str, Any]) -> bool:
    if dim.hyper.when is None:
        return True
    parent, allowed = dim.hyper.when
    return values.get(parent) in allowed


def default_point(data: dict[str, Any]) -> dict[str, Any]:
    """Each hyperparameter at its default (None when its condition is not met)."""
    values: dict[str, Any] = {}
    for dim in search_space(data):
        values[dim.name] = default_value(dim.hyper) if active(dim, values) else None
    return values


def substitute_data(data: Any, values: dict[str, Any], path: tuple[Any, ...] = ()) -> Any:
    """Dumped spec data with every hyperparameter replaced by its value.

    Inactive ones (value None) are dropped, so the component's own default applies.
    """
    if isinstance(data, dict):
        out = {}
        for key, value in data.items():
            if is_hyper(value):
                chosen = values.get(dimension_name(parse_hyper(value), (*path, key)))
                if chosen is not None:
                    out[key] = chosen
                continue
            out[key] = substitute_data(value, values, (*path, key))
        return out
    if isinstance(data, list):
        out_list = []
        for i, value in enumerate(data):
            if is_hyper(value):
                chosen = values.get(dimension_name(parse_hyper(value), (*path, i)))
                if chosen is not None:
                    out_list.append(chosen)
                continue
            out_list.append(substitute_data(value, values, (*path, i)))
        return out_list
    return data
