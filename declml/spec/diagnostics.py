"""Turn Pydantic's validation errors into issues a person can act on.

Each issue gets the dotted path as written in the spec (``model.layers[2].units``),
the file, line and column (or the ``--set`` it came from), what was expected and
what was received, and a did-you-mean for unknown keys.
"""

from __future__ import annotations

import json
import re
import types
import typing
from typing import Any

from pydantic import BaseModel, ValidationError

from declml.errors import SpecIssue
from declml.registry.registry import did_you_mean
from declml.spec.base import CUSTOM_KINDS
from declml.spec.loader import Loaded, Path_, format_path

__all__ = ["issues_from_validation", "plain_messages"]

_MAX_SHOWN = 60


def _shown(value: Any) -> str:
    if value is None:
        return "null (nothing)"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


def _unwrap(tp: Any) -> list[Any]:
    """The concrete types behind Optional / Union / Annotated."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        return [t for arg in typing.get_args(tp) for t in _unwrap(arg)]
    return [tp]


def _model_at(root: type[BaseModel], path: Path_) -> type[BaseModel] | None:
    """The spec section model that the mapping at ``path`` is validated by."""
    current: list[Any] = [root]
    for part in path:
        nxt: list[Any] = []
        for tp in current:
            origin = typing.get_origin(tp)
            if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(part, str):
                field = tp.model_fields.get(part)
                if field is not None:
                    nxt.extend(_unwrap(field.annotation))
            elif origin in (list, tuple) and isinstance(part, int):
                nxt.extend(_unwrap(typing.get_args(tp)[0]))
            elif origin is dict and isinstance(part, str):
                nxt.extend(_unwrap(typing.get_args(tp)[1]))
        current = nxt
    for tp in current:
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            return tp
    return None


def _user_path(loc: tuple[Any, ...]) -> Path_:
    """Drop internal segments: dataset options are written flat under ``data``."""
    path = tuple(loc)
    if path[:2] == ("data", "options"):
        path = ("data", *path[2:])
    return path


def _message(err: dict[str, Any], root: type[BaseModel], path: Path_) -> str:
    kind = err["type"]
    if kind == "missing":
        return "required key is missing"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"expected a mapping (indented 'key: value' lines); got {_shown(err.get('input'))}"
    if kind == "list_type":
        return f"expected a list ('- item' lines or [a, b]); got {_shown(err.get('input'))}"
    if kind == "extra_forbidden":
        key = path[-1]
        model = _model_at(root, path[:-1])
        allowed = [f for f, info in (model.model_fields.items() if model else [])
                   if not info.exclude]
        hint = did_you_mean(str(key), allowed)
        if not hint and allowed:
            hint = f"; allowed keys here: {', '.join(allowed)}"
        return f"unknown key {key!r}{hint}"
    msg = str(err["msg"])
    if msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    if kind in CUSTOM_KINDS or "input" not in err:
        return msg
    if kind == "value_error":  # our own validators already say what they got
        return msg
    return f"{msg}; got {_shown(err['input'])}"


_OTHER_PLACE = re.compile("\x00(.*?)\x00")


def _resolve_places(message: str, loaded: Loaded) -> str:
    """Spell out the other places a message names, with their file positions."""
    def spell(match: re.Match[str]) -> str:
        path = tuple(json.loads(match.group(1)))
        location = loaded.locate(path)
        return format_path(path) + (f" ({location})" if location else "")

    return _OTHER_PLACE.sub(spell, message)


def issues_from_validation(exc: ValidationError, loaded: Loaded,
                           root: type[BaseModel]) -> list[SpecIssue]:
    """Every error in ``exc`` as a located, readable :class:`SpecIssue`, in file order."""
    issues: list[tuple[tuple[int, int], SpecIssue]] = []
    for err in exc.errors():
        path = _user_path(err["loc"])
        location = loaded.locate(path, key=err["type"] in {"extra_forbidden", "unknown_key",
                                                           "unknown_argument"})
        order = (location.line or 0, location.column or 0) if location else (0, 0)
        issue = SpecIssue(format_path(path), _resolve_places(_message(err, root, path), loaded),
                          str(location) if location else None)
        issues.append((order, issue))
    issues.sort(key=lambda item: item[0])
    return list(dict.fromkeys(issue for _, issue in issues))


def plain_messages(exc: BaseException) -> list[str] | None:
    """``path: message`` lines for a validation error without a file (None: not one)."""
    if isinstance(exc, ValidationError):
        loaded = Loaded(data=None, origin="")
        return [str(issue) for issue in issues_from_validation(exc, loaded, BaseModel)]
    from declml.errors import SpecError

    if isinstance(exc, SpecError):
        return [str(issue) for issue in exc.issues]
    return None
