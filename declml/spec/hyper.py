"""Search spaces declared inline: a hyperparameter anywhere a value goes.

A value is a hyperparameter when it is a mapping with exactly one of these keys::

    {int: {min: 16, max: 128, step: 16, sampling: linear}}    # integers
    {float: {min: 1.0e-4, max: 1.0e-2, sampling: log}}        # floats
    {choice: [relu, tanh]}                                    # one of a list
    {boolean: {}}                                             # true or false
    {fixed: 3}                                                # a constant, recorded
    {hp: activation}                                          # the one named 'activation'

plus optional ``name`` (default: the value's path in the spec), ``default``,
and ``when: {PARENT: [values]}`` (active only when that hyperparameter takes
one of those values). One name may be defined in several places only with the
same definition; ``{hp: NAME}`` re-uses it without repeating it.

Everything here is plain data: KerasTuner is imported only when searching.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic_core import InitErrorDetails

from declml.spec.base import raise_issues, spec_error

__all__ = ["KINDS", "Hyper", "default_value", "find_hypers", "is_hyper", "parse_hyper"]

KINDS = ("int", "float", "choice", "boolean", "fixed", "hp")
_OPTIONS = ("name", "default", "when")
_SAMPLING = ("linear", "log", "reverse_log")


def is_hyper(value: Any) -> bool:
    """True for a mapping that declares a hyperparameter (exactly one kind key)."""
    return isinstance(value, dict) and sum(k in value for k in KINDS) == 1 \
        and "type" not in value


@dataclass
class Hyper:
    """A parsed hyperparameter declaration (or a reference to one)."""

    kind: str
    params: dict[str, Any]
    raw: dict[str, Any] = field(repr=False)
    name: str | None = None
    default: Any = None
    when: tuple[str, list[Any]] | None = None

    def dump(self) -> dict[str, Any]:
        return dict(self.raw)

    @property
    def ref(self) -> str | None:
        return self.params["name"] if self.kind == "hp" else None

    def candidates(self) -> list[Any]:
        """Values worth checking against an argument's type (range ends, choices)."""
        p = self.params
        if self.kind in ("int", "float"):
            return [p["min"], p["max"]]
        if self.kind == "choice":
            return list(p["values"])
        if self.kind == "boolean":
            return [True, False]
        if self.kind == "fixed":
            return [p["value"]]
        return []

    def same_definition(self, other: Hyper) -> bool:
        keep = ("kind", "params", "default", "when")
        return all(getattr(self, k) == getattr(other, k) for k in keep)


def _num(v: Any, integer: bool) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) if integer else isinstance(v, (int, float)) and math.isfinite(v)


def _range(kind: str, spec: Any, errors: list[InitErrorDetails]) -> dict[str, Any]:
    integer = kind == "int"
    word = "an integer" if integer else "a number"
    if not isinstance(spec, dict):
        errors.append(spec_error("bad_hyper", f"{kind} needs a mapping like {{min: 1, max: 8}}; "
                                 f"got {spec!r}", (kind,), spec))
        return {}
    for key in spec:
        if key not in ("min", "max", "step", "sampling"):
            errors.append(spec_error("unknown_key", f"unknown key {key!r} in {kind}; allowed: "
                                     "min, max, step, sampling", (kind, key), key))
    out = {"min": spec.get("min"), "max": spec.get("max"), "step": spec.get("step"),
           "sampling": spec.get("sampling", "linear")}
    for key in ("min", "max"):
        if key not in spec:
            errors.append(spec_error("missing_key", f"{kind} needs {key}", (kind,), spec))
        elif not _num(spec[key], integer):
            errors.append(spec_error("bad_hyper", f"{key} must be {word}; got {spec[key]!r}",
                                     (kind, key), spec[key]))
    ok = _num(out["min"], integer) and _num(out["max"], integer)
    if ok and out["min"] > out["max"]:
        errors.append(spec_error("bad_hyper", f"min ({out['min']}) is greater than max "
                                 f"({out['max']})", (kind,), spec))
    step = out["step"]
    if step is not None and not (_num(step, integer) and step > 0):
        what = "integer" if integer else "number"
        errors.append(spec_error("bad_hyper", f"step must be a positive {what}; got {step!r}",
                                 (kind, "step"), step))
    if out["sampling"] not in _SAMPLING:
        errors.append(spec_error("bad_hyper", f"sampling must be one of {', '.join(_SAMPLING)}; "
                                 f"got {out['sampling']!r}", (kind, "sampling"), out["sampling"]))
    elif (out["sampling"] != "linear" and integer and step is not None
          and _num(step, True) and step <= 1):
        errors.append(spec_error("bad_hyper", f"with {out['sampling']} sampling an int step "
                                 f"multiplies (2 doubles); it must be > 1, got {step!r}",
                                 (kind, "step"), step))
    elif out["sampling"] != "linear" and ok and out["min"] <= 0:
        errors.append(spec_error("bad_hyper", f"{out['sampling']} sampling needs min > 0; got "
                                 f"{out['min']}", (kind, "min"), out["min"]))
    return out


def parse_hyper(value: dict[str, Any]) -> Hyper:
    """Check a hyperparameter mapping's own structure (names are checked spec-wide later).

    Raises:
        pydantic.ValidationError: every problem, located inside the mapping.
    """
    errors: list[InitErrorDetails] = []
    kind = next(k for k in KINDS if k in value)
    for key in value:
        if key not in (*_OPTIONS, kind):
            errors.append(spec_error("unknown_key", f"unknown key {key!r} in a {kind} "
                                     f"hyperparameter; allowed: {kind}, name, default, when",
                                     (key,), key))
    spec = value[kind]
    params: dict[str, Any] = {}
    if kind in ("int", "float"):
        params = _range(kind, spec, errors)
    elif kind == "choice":
        if not (isinstance(spec, list) and spec and all(
                isinstance(v, (str, int, float, bool)) for v in spec)):
            errors.append(spec_error("bad_hyper", "choice needs a non-empty list of plain "
                                     f"values (names or numbers); got {spec!r}", (kind,), spec))
        elif any(isinstance(v, float) and not math.isfinite(v) for v in spec):
            errors.append(spec_error("bad_hyper", "choice values must be finite numbers; got "
                                     f"{spec!r}", (kind,), spec))
        elif len({type(v) for v in spec} - {int, float}) > 1 or (
                any(isinstance(v, str) for v in spec) and not all(isinstance(v, str)
                                                                  for v in spec)):
            errors.append(spec_error("bad_hyper", "choice values must all be of one type "
                                     f"(all names or all numbers); got {spec!r}", (kind,), spec))
        elif len(set(map(repr, spec))) != len(spec):
            errors.append(spec_error("bad_hyper", f"choice lists a value twice: {spec!r}",
                                     (kind,), spec))
        params = {"values": list(spec) if isinstance(spec, list) else []}
    elif kind == "boolean":
        if spec not in (None, {}):
            errors.append(spec_error("bad_hyper", "write boolean as {boolean: {}} (use default: "
                                     f"true to start from true); got {spec!r}", (kind,), spec))
    elif kind == "fixed":
        if not isinstance(spec, (str, int, float, bool)) or (
                isinstance(spec, float) and not math.isfinite(spec)):
            errors.append(spec_error("bad_hyper", f"fixed needs a plain, finite value; got "
                                     f"{spec!r}", (kind,), spec))
        params = {"value": spec}
    else:  # hp
        if not isinstance(spec, str):
            errors.append(spec_error("bad_hyper", f"hp needs the name of a hyperparameter; got "
                                     f"{spec!r}", (kind,), spec))
        params = {"name": spec}
        for key in ("default", "when"):
            if key in value:
                errors.append(spec_error("unknown_key", f"{{hp: ...}} re-uses a hyperparameter "
                                         f"as defined elsewhere; give {key} there", (key,), key))
    name = value.get("name")
    if name is not None and not (isinstance(name, str) and name.strip()):
        errors.append(spec_error("bad_hyper", f"name must be a non-empty string; got {name!r}",
                                 ("name",), name))
    when = _when(value.get("when"), errors)
    hyper = Hyper(kind, params, dict(value), name if isinstance(name, str) else None,
                  value.get("default"), when)
    if "default" in value and kind != "hp" and not errors:
        _check_default(hyper, errors)
    raise_issues(errors)
    return hyper


def _when(value: Any, errors: list[InitErrorDetails]) -> tuple[str, list[Any]] | None:
    if value is None:
        return None
    if not (isinstance(value, dict) and len(value) == 1):
        errors.append(spec_error("bad_hyper", "when needs exactly one condition, e.g. "
                                 f"when: {{optimizer: [sgd]}}; got {value!r}", ("when",), value))
        return None
    (parent, values), = value.items()
    values = values if isinstance(values, list) else [values]
    return (str(parent), values)


def _check_default(hyper: Hyper, errors: list[InitErrorDetails]) -> None:
    d, p = hyper.default, hyper.params
    if hyper.kind in ("int", "float"):
        ok = _num(d, hyper.kind == "int") and p["min"] <= d <= p["max"]
        expected = f"a value from {p['min']} to {p['max']}"
    elif hyper.kind == "choice":
        ok, expected = d in p["values"], f"one of {p['values']}"
    elif hyper.kind == "boolean":
        ok, expected = isinstance(d, bool), "true or false"
    else:
        ok, expected = d == p["value"], f"the fixed value {p['value']!r}"
    if not ok:
        errors.append(spec_error("bad_hyper", f"default must be {expected}; got {d!r}",
                                 ("default",), d))


def default_value(hyper: Hyper) -> Any:
    """The value KerasTuner starts from: the default, else min / first choice / false."""
    if hyper.default is not None:
        return hyper.default
    p = hyper.params
    if hyper.kind in ("int", "float"):
        return p["min"]
    if hyper.kind == "choice":
        return p["values"][0]
    if hyper.kind == "boolean":
        return False
    return p.get("value")


def find_hypers(data: Any, path: tuple[Any, ...] = (),
                _open: frozenset[int] = frozenset()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every hyperparameter mapping in spec data, with its path (safe on cyclic data)."""
    if is_hyper(data):
        yield path, data
        return
    if id(data) in _open:
        return
    inner = _open | {id(data)}
    if isinstance(data, dict):
        for key, value in data.items():
            yield from find_hypers(value, (*path, key), inner)
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from find_hypers(value, (*path, i), inner)
