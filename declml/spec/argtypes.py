"""What common component arguments must look like, checked at validate time.

Keras checks its arguments only when a layer is constructed — in the middle of
a run. These checks catch the usual mistakes (``units: -3``, ``filters: "32"``,
``rate: 1.5``, ``padding: full``) while validating, without importing Keras.
Types are known by argument name (the same name means the same thing across
Keras layers), and any argument whose default is a boolean must be a boolean.
An argument whose default is ``None`` may also be ``null``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ArgType", "arg_type", "check_arg"]


@dataclass(frozen=True)
class ArgType:
    """An expected shape of a value: words for messages, a check, a JSON Schema."""

    expected: str
    check: Callable[[Any], bool]
    schema: dict[str, Any]


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _pos_int(v: Any) -> bool:
    return _int(v) and v > 0


def _pos_ints(v: Any) -> bool:
    return _pos_int(v) or (isinstance(v, list) and bool(v) and all(_pos_int(x) for x in v))


def _ints(v: Any) -> bool:
    return _int(v) or (isinstance(v, list) and bool(v) and all(_int(x) for x in v))


_POS_INT_SCHEMA = {"type": "integer", "exclusiveMinimum": 0}

POSITIVE_INT = ArgType("a positive integer", _pos_int, _POS_INT_SCHEMA)
POSITIVE_INTS = ArgType(
    "a positive integer or a list of them", _pos_ints,
    {"anyOf": [_POS_INT_SCHEMA, {"type": "array", "items": _POS_INT_SCHEMA, "minItems": 1}]},
)
INTS = ArgType("an integer or a list of integers", _ints,
               {"anyOf": [{"type": "integer"}, {"type": "array", "items": {"type": "integer"}}]})
FRACTION = ArgType("a number from 0 up to (not including) 1",
                   lambda v: _num(v) and 0 <= v < 1,
                   {"type": "number", "minimum": 0, "exclusiveMaximum": 1})
UNIT_INTERVAL = ArgType("a number from 0 to 1", lambda v: _num(v) and 0 <= v <= 1,
                        {"type": "number", "minimum": 0, "maximum": 1})
POSITIVE = ArgType("a positive number", lambda v: _num(v) and v > 0,
                   {"type": "number", "exclusiveMinimum": 0})
NON_NEGATIVE = ArgType("a number >= 0", lambda v: _num(v) and v >= 0,
                       {"type": "number", "minimum": 0})
BOOLEAN = ArgType("true or false", lambda v: isinstance(v, bool), {"type": "boolean"})
STRING = ArgType("a string", lambda v: isinstance(v, str), {"type": "string"})


def _one_of(*values: str) -> ArgType:
    return ArgType("one of " + ", ".join(repr(v) for v in values), lambda v: v in values,
                   {"enum": list(values)})


BY_NAME: dict[str, ArgType] = {
    **dict.fromkeys(("units", "filters", "output_dim", "input_dim", "num_heads", "key_dim",
                     "n", "num_bins", "depth_multiplier", "groups", "k", "num_classes",
                     "max_tokens", "head_dim"), POSITIVE_INT),
    **dict.fromkeys(("kernel_size", "pool_size", "strides", "dilation_rate", "size",
                     "output_size"), POSITIVE_INTS),
    "target_shape": INTS,  # Reshape accepts -1 for "the rest"
    **dict.fromkeys(("rate", "dropout", "recurrent_dropout"), FRACTION),
    "label_smoothing": UNIT_INTERVAL,
    **dict.fromkeys(("learning_rate", "epsilon", "stddev"), POSITIVE),
    **dict.fromkeys(("momentum", "weight_decay", "clipnorm", "clipvalue", "global_clipnorm"),
                    NON_NEGATIVE),
    "padding": _one_of("valid", "same", "causal"),
    "data_format": _one_of("channels_last", "channels_first"),
    **dict.fromkeys(("activation", "recurrent_activation", "name", "dtype"), STRING),
    "axis": INTS,
    "seed": ArgType("an integer", _int, {"type": "integer"}),
}


# Names whose meaning differs between layers: checked only where the default shows
# the usual meaning (ZeroPadding2D's padding is a number, Conv2D's a word).
_WHEN_DEFAULT_IS_STRING = frozenset({"padding", "data_format"})


def arg_type(name: str, info: dict[str, Any]) -> ArgType | None:
    """The expected type of argument ``name`` (catalogue ``info``), if declml knows it."""
    if name in _WHEN_DEFAULT_IS_STRING and not (
        isinstance(info.get("default"), str) or (info.get("default") is None
        and name == "data_format")
    ):
        return None
    if name in BY_NAME:
        return BY_NAME[name]
    if isinstance(info.get("default"), bool):
        return BOOLEAN
    return None


def check_arg(name: str, info: dict[str, Any], value: Any) -> str | None:
    """None if ``value`` fits, else what was expected (for the error message)."""
    expected = arg_type(name, info)
    if expected is None or expected.check(value):
        return None
    if value is None and (("default" in info and info["default"] is None) or name == "axis"):
        return None
    if value is None and info.get("default") is not None:
        return None if name in ("activation", "recurrent_activation") else expected.expected
    return expected.expected
