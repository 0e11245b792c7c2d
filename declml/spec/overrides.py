"""``--set dotted.path=value`` overrides, applied to spec data before validation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from declml.errors import SpecError, SpecIssue
from declml.spec.loader import Loaded, Location, Path_, format_path, parse_value

__all__ = ["apply_overrides", "parse_override"]

_SEGMENT = re.compile(r"([^.\[\]]+)|\[([0-9]+)\]")
_DIGITS = re.compile(r"[0-9]+")


def parse_override(text: str) -> tuple[Path_, Any]:
    """``"fit.epochs=3"`` → ``(("fit", "epochs"), 3)``; the value is read as YAML.

    Raises:
        SpecError: the override is not ``path=value``.
    """
    source = f"--set {text}"
    path_text, sep, raw = text.partition("=")
    path_text = path_text.strip()
    if not sep or not path_text:
        raise SpecError([SpecIssue("", "expected --set dotted.path=value, e.g. "
                                       "--set fit.epochs=3", source)])
    parts: list[str | int] = []
    pos = 0
    for match in _SEGMENT.finditer(path_text):
        gap = path_text[pos:match.start()]
        if gap not in ("", "."):
            break
        name, index = match.groups()
        if index is not None:
            parts.append(int(index))
        else:
            parts.append(int(name) if _DIGITS.fullmatch(name) else name)
        pos = match.end()
    if pos != len(path_text) or not parts or ".." in path_text:
        raise SpecError([SpecIssue("", f"cannot read the path {path_text!r}; use dots and "
                                       "list indexes, e.g. model.layers.0.units", source)])
    try:
        value = parse_value(raw, source) if raw.strip() else None
    except SpecError as exc:
        raise SpecError([SpecIssue(path_text, f"value: {i.message}", source)
                         for i in exc.issues]) from None
    return tuple(parts), value


def apply_overrides(loaded: Loaded, overrides: Iterable[str]) -> list[SpecIssue]:
    """Apply each override in order; later ones win. Records each one as a location.

    Returns:
        One issue per override that could not be applied (the others still are).
    """
    issues: list[SpecIssue] = []
    for text in overrides:
        try:
            path, value = parse_override(text)
        except SpecError as exc:
            issues.extend(exc.issues)
            continue
        source = f"--set {text}"
        problem = _assign(loaded.data, path, value)
        if problem:
            issues.append(SpecIssue(format_path(path), problem, source))
            continue
        for known in [p for p in loaded.values if p[: len(path)] == path]:
            del loaded.values[known]
        for p in list(loaded.keys):
            if p[: len(path)] == path:
                del loaded.keys[p]
        for depth in range(1, len(path) + 1):  # mappings the override created on the way
            prefix = path[:depth]
            if prefix not in loaded.values or depth == len(path):
                loaded.values[prefix] = loaded.keys[prefix] = Location(source)
    return issues


def _assign(data: Any, path: Path_, value: Any) -> str | None:
    node = data
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        where = format_path(path[:depth]) or "the spec"
        if isinstance(node, list):
            if not isinstance(part, int):
                return f"{where} is a list; index it with a number, e.g. {where}.0"
            if not -len(node) <= part < len(node):
                return f"{where} has {len(node)} items; index {part} is out of range"
        elif isinstance(node, dict):
            part = str(part)
        else:
            return f"{where} is a {type(node).__name__}, not a mapping or a list"
        if last:
            node[part] = value
            return None
        if isinstance(node, dict) and part not in node:
            node[part] = {}
        node = node[part]
    return None
