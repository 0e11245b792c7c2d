"""What a served model takes, and the checks that turn a request into model inputs.

A :class:`Signature` is derived from the run, not written by hand: the raw
example shape the training data had (``run.json``), the model's input shapes,
the text column or the named feature columns. It checks a request's
``instances`` and says, per instance and input, what is wrong and what was
expected; it also gives ``/docs`` a JSON Schema of the real shapes. No Keras here.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from declml.errors import one_line

__all__ = ["MAX_PROBLEMS", "InputSignature", "RequestProblem", "Signature", "parse_body"]

MAX_PROBLEMS = 20  # problems listed in one 422 answer; the count says how many in all

Shape = tuple[int | None, ...]


class RequestProblem(Exception):
    """A request the server will not answer: an HTTP status and what to fix."""

    def __init__(self, status: int, message: str,
                 problems: list[dict[str, Any]] | None = None, total: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.problems = problems or []
        self.total = total if total is not None else len(self.problems)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.problems:
            out["problems"] = self.problems[:MAX_PROBLEMS]
            if self.total > MAX_PROBLEMS:
                out["problems_not_listed"] = self.total - MAX_PROBLEMS
        return out


@dataclass(frozen=True)
class InputSignature:
    """One field of an instance.

    Attributes:
        name: its key when an instance is an object.
        kind: ``"text"`` (one raw string) or ``"tensor"`` (nested lists of numbers).
        shape: the raw per-example shape clients send (``None`` = any length).
        model_shape: the shape the model sees, after the run's preprocessing.
        columns: for tabular runs, the feature names (an instance may be an object
            of columns instead of a list).
        size: when the run reshapes its inputs, any nesting of this many numbers
            is accepted too.
    """

    name: str
    kind: str
    shape: Shape
    model_shape: Shape
    columns: tuple[str, ...] | None = None
    size: int | None = None

    def expected(self) -> str:
        if self.kind == "text":
            return "a string"
        text = f"shape {_shape_text(self.shape)}"
        if self.columns:
            text += f" (columns {', '.join(self.columns)}; or an object of them)"
        if self.size is not None and len(self.shape) != 1:
            text += f" (or any nesting of {self.size} numbers)"
        return text

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind,
                               "dtype": "string" if self.kind == "text" else "float32",
                               "shape": list(self.shape), "model_shape": list(self.model_shape)}
        if self.columns:
            out["columns"] = list(self.columns)
        if self.size is not None:
            out["accepts_any_shape_of_size"] = self.size
        return out

    def json_schema(self) -> dict[str, Any]:
        if self.kind == "text":
            return {"type": "string", "description": "raw text, vectorized by the server"}
        schema = _array_schema(self.shape)
        if self.columns:
            schema = {"oneOf": [
                schema,
                {"type": "object", "required": list(self.columns),
                 "properties": {c: {"type": "number"} for c in self.columns}},
            ]}
        if self.size is not None and len(self.shape) != 1:
            schema = {"anyOf": [schema, _array_schema((self.size,))],
                      "description": f"shape {_shape_text(self.shape)}, or any nesting of "
                                     f"{self.size} numbers (the flat form is shown)"}
        return schema

    def example(self) -> Any:
        if self.kind == "text":
            return "a text to classify"
        if self.columns:
            return dict.fromkeys(self.columns, 0.0)
        return np.zeros([d or 1 for d in self.shape]).tolist()


@dataclass(frozen=True)
class Signature:
    """Every field of an instance; ``preprocess``: apply the run's saved pipeline."""

    inputs: tuple[InputSignature, ...]
    preprocess: bool = True
    ignored_keys: frozenset[str] = field(default_factory=frozenset)

    def instance_schema(self) -> dict[str, Any]:
        if len(self.inputs) == 1:
            only = self.inputs[0]
            return {"anyOf": [only.json_schema(),
                              {"type": "object", "required": [only.name],
                               "properties": {only.name: only.json_schema()}}]} \
                if not only.columns else only.json_schema()
        return {"type": "object", "required": [i.name for i in self.inputs],
                "properties": {i.name: i.json_schema() for i in self.inputs},
                "additionalProperties": False}

    def request_schema(self, max_instances: int) -> dict[str, Any]:
        return {
            "type": "object", "required": ["instances"], "additionalProperties": False,
            "properties": {"instances": {
                "type": "array", "minItems": 1, "maxItems": max_instances,
                "items": self.instance_schema(),
                "description": "the examples to predict; " + "; ".join(
                    f"{i.name}: {i.expected()}" for i in self.inputs)}},
        }

    def example_request(self) -> dict[str, Any]:
        if len(self.inputs) == 1:
            return {"instances": [self.inputs[0].example()]}
        return {"instances": [{i.name: i.example() for i in self.inputs}]}

    def arrays(self, instances: list[Any], *, fast: bool = False) -> list[np.ndarray]:
        """One raw batch array per input, or a :class:`RequestProblem` (422) naming
        every instance and input that is wrong.

        ``fast``: try one NumPy conversion of the whole batch first. Only for
        instances known to hold no booleans (NumPy would read ``true`` as 1.0):
        :func:`parse_body` tells.
        """
        if fast and len(self.inputs) == 1 and not self.inputs[0].columns:
            fast = _fast_batch(instances, self.inputs[0])
            if fast is not None:
                return [fast]
        columns: list[list[Any]] = [[] for _ in self.inputs]
        problems = _Problems()
        for index, instance in enumerate(instances):
            for position, value in enumerate(self._fields(instance, index, problems)):
                if value is _MISSING:
                    continue
                checked = _check_value(value, self.inputs[position], index, problems)
                columns[position].append(checked)
        if problems:
            first, total = problems[0], problems.total
            more = f" (and {total - 1} more problem{'s' if total > 2 else ''})" \
                if total > 1 else ""
            raise RequestProblem(422, first["message"] + more, list(problems), total)
        return [np.array(c, dtype=object) if i.kind == "text" else _batch(c)
                for c, i in zip(columns, self.inputs, strict=True)]

    def _fields(self, instance: Any, index: int, problems: _Problems) -> list[Any]:
        """The value of each input in one instance (``_MISSING`` where it has none)."""
        if len(self.inputs) == 1:
            only = self.inputs[0]
            if not isinstance(instance, dict):
                return [instance]
            if only.columns:
                return [_columns(instance, only, index, problems, self.ignored_keys)]
            keys = {only.name}
        else:
            keys = {i.name for i in self.inputs}
            if not isinstance(instance, dict):
                problems.append(_problem(index, None, "an object with the inputs "
                                         + ", ".join(sorted(keys)), _kind_of(instance)))
                return [_MISSING] * len(self.inputs)
        _unknown_keys(instance, keys, self.ignored_keys, index, problems)
        values = []
        for item in self.inputs:
            if item.name not in instance:
                problems.append(_problem(index, item.name, item.expected(), "nothing",
                                         f"instance {index}: missing input {item.name!r}"))
                values.append(_MISSING)
            else:
                values.append(instance[item.name])
        return values


_MISSING = object()


class _Problems(list):  # type: ignore[type-arg]
    """The problems of one request: the first MAX_PROBLEMS kept, the rest only counted, so
    a request with a million mistakes costs no more to answer than one with twenty."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    @property
    def full(self) -> bool:
        return len(self) >= MAX_PROBLEMS

    def append(self, problem: dict[str, Any]) -> None:
        self.total += 1
        if not self.full:
            super().append(problem)

    def skip(self) -> None:
        """Count a problem past the listed ones without describing it."""
        self.total += 1


def _batch(values: list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
    """One array when every instance has the same shape; otherwise the instances as they
    are (images of different sizes for a run that resizes: preprocessed one by one)."""
    first = values[0].shape
    if all(v.shape == first for v in values):
        return np.stack(values)
    return values


def parse_body(body: bytes, max_instances: int) -> tuple[list[Any], bool]:
    """The ``instances`` of a ``/predict`` body (422 when it is not that, 413 past the cap),
    and whether the body is free of JSON booleans (so the fast conversion is safe)."""
    if not body.strip():
        raise RequestProblem(422, 'the request body is empty; send JSON {"instances": [...]}')
    try:
        data = json.loads(body, parse_constant=_no_constants)
    except RequestProblem:
        raise
    except UnicodeDecodeError:
        raise RequestProblem(422, "the request body is not UTF-8 text; send JSON encoded "
                             "as UTF-8") from None
    except (ValueError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else \
            "nested too deeply" if isinstance(exc, RecursionError) else one_line(exc)
        where = (f" at line {exc.lineno}, column {exc.colno}"
                 if isinstance(exc, json.JSONDecodeError) else "")
        raise RequestProblem(422, f"the request body is not valid JSON ({reason}{where}); "
                             'send {"instances": [...]}') from None
    if not isinstance(data, dict) or "instances" not in data:
        got = "an object without 'instances'" if isinstance(data, dict) else _kind_of(data)
        raise RequestProblem(422, 'the request must be a JSON object {"instances": [...]}, '
                             f"got {got}")
    extra = sorted(set(data) - {"instances"})
    if extra:
        raise RequestProblem(422, f"unknown request field {extra[0]!r}; the only field is "
                             "'instances'")
    instances = data["instances"]
    if not isinstance(instances, list):
        raise RequestProblem(422, f"'instances' must be a list of examples, got "
                             f"{_kind_of(instances)}")
    if not instances:
        raise RequestProblem(422, "'instances' is empty; send at least one example")
    if len(instances) > max_instances:
        raise RequestProblem(413, f"{len(instances)} instances in one request; this server "
                             f"takes at most {max_instances} (split the request, or start "
                             "the server with a larger --max-instances)")
    return instances, b"true" not in body and b"false" not in body


def _no_constants(name: str) -> Any:
    raise RequestProblem(422, f"the request body holds {name}, which is not a JSON number; "
                         "send finite numbers")


def _fast_batch(instances: list[Any], item: InputSignature) -> np.ndarray | None:
    """The whole batch in one NumPy call when every instance is well formed."""
    if item.kind == "text":
        if all(isinstance(v, str) for v in instances):
            return np.array(instances, dtype=object)
        return None
    try:
        array = np.asarray(instances)
    except (ValueError, TypeError, OverflowError):
        return None
    if array.dtype.kind not in "iuf" or not _fits(array.shape[1:], item.shape) \
            or array.size == 0:
        return None
    with np.errstate(over="ignore"):
        array = array.astype("float32", copy=False)
    return array if np.isfinite(array).all() else None  # the slow path says which value


def _check_value(value: Any, item: InputSignature, index: int,
                 problems: _Problems) -> Any:
    if item.kind == "text":
        if not isinstance(value, str):
            problems.append(_problem(index, item.name, "a string", _kind_of(value)))
        return value
    if isinstance(value, str):
        problems.append(_problem(index, item.name, item.expected(), "a string",
                                 hint="text is only accepted by text models"))
        return None
    if isinstance(value, list) and _outer_length_wrong(len(value), item):
        inner = ", …" if value and isinstance(value[0], list) else ""
        problems.append(_problem(index, item.name, item.expected(),
                                 f"shape [{len(value)}{inner}]"))
        return None
    bad = _first_bad_leaf(value, "")
    if bad is not None:
        where, what = bad
        problems.append(_problem(index, item.name, item.expected(), what,
                                 f"instance {index}, input {item.name!r}: value{where} is "
                                 f"{what}; expected numbers in {item.expected()}"))
        return None
    try:
        with np.errstate(over="ignore"):
            array = np.asarray(value, dtype="float32")
    except ValueError:
        problems.append(_problem(index, item.name, item.expected(),
                                 "nested lists of different lengths"))
        return None
    except OverflowError:  # an integer beyond float64
        array = np.full(1, np.inf, dtype="float32")
    if not np.isfinite(array).all():
        problems.append(_problem(index, item.name, item.expected(), "a number too large for "
                                 "float32 (beyond ±3.4e38)"))
        return None
    if array.size == 0:
        problems.append(_problem(index, item.name, item.expected(),
                                 f"an empty array (shape {_shape_text(array.shape)})"))
        return None
    if not _fits(array.shape, item.shape):
        if item.size is not None and array.size == item.size and None not in item.shape:
            return array.reshape(item.shape)  # the run reshapes its inputs anyway
        problems.append(_problem(index, item.name, item.expected(),
                                 f"shape {_shape_text(array.shape)}"))
        return None
    return array


def _outer_length_wrong(length: int, item: InputSignature) -> bool:
    """A list that cannot be right whatever it holds (checked before walking its values)."""
    if item.size is not None:
        return length > item.size
    return bool(item.shape) and item.shape[0] is not None and length != item.shape[0]


def _columns(instance: dict[str, Any], item: InputSignature, index: int,
             problems: _Problems, ignored: frozenset[str]) -> Any:
    assert item.columns is not None
    _unknown_keys(instance, set(item.columns), ignored, index, problems)
    missing = [c for c in item.columns if c not in instance]
    if missing:
        problems.append(_problem(index, item.name, item.expected(), "no column "
                                 f"{missing[0]!r}", f"instance {index}: missing column "
                                 f"{missing[0]!r} (columns: {', '.join(item.columns)})"))
        return _MISSING
    values = [instance[c] for c in item.columns]
    bad = [(c, v) for c, v in zip(item.columns, values, strict=True)
           if isinstance(v, bool) or not isinstance(v, (int, float))]
    for column, value in bad:
        problems.append(_problem(index, column, "a number", _kind_of(value)))
    return _MISSING if bad else values


def _unknown_keys(instance: dict[str, Any], known: set[str], ignored: frozenset[str],
                  index: int, problems: _Problems) -> None:
    """Keys that are neither inputs nor ignored (the target column) are mistakes."""
    for key in instance:
        if key not in known and key not in ignored:
            if problems.full:
                problems.skip()  # counted, not listed: no did-you-mean to compute
                continue
            close = difflib.get_close_matches(str(key), sorted(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else \
                f" (expected: {', '.join(sorted(known))})"
            problems.append(_problem(index, str(key), "one of " + ", ".join(sorted(known)),
                                     "an unknown key",
                                     f"instance {index}: unknown key {key!r}{hint}"))


def _first_bad_leaf(value: Any, where: str, depth: int = 0) -> tuple[str, str] | None:
    """Where the first thing that is not a number sits in nested lists, and what it is."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, dict)):
        return where, _kind_of(value)
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return where, "not a finite number"
        return None
    if isinstance(value, list):
        if depth > 32:
            return where, "nested too deeply"
        for i, v in enumerate(value):
            found = _first_bad_leaf(v, f"{where}[{i}]", depth + 1)
            if found is not None:
                return found
        return None
    return where, _kind_of(value)


def _problem(index: int, name: str | None, expected: str, got: str, message: str | None = None,
             hint: str = "") -> dict[str, Any]:
    where = f"instance {index}" + (f", input {name!r}" if name is not None else "")
    text = message or f"{where}: expected {expected}, got {got}" + (f"; {hint}" if hint else "")
    return {"instance": index, "input": name, "expected": expected, "got": got,
            "message": text}


def _fits(got: tuple[int, ...], want: Shape) -> bool:
    return len(got) == len(want) and all(w is None or w == g for w, g in zip(want, got,
                                                                            strict=True))


def _shape_text(shape: tuple[int | None, ...]) -> str:
    return "[" + ", ".join("any" if d is None else str(d) for d in shape) + "]"


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _array_schema(shape: Shape) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "number"}
    for dim in reversed(shape):
        schema = {"type": "array", "items": schema,
                  **({"minItems": dim, "maxItems": dim} if dim is not None else {})}
    return schema
