"""Read spec text (YAML or JSON) into plain data, remembering where each value was.

PyYAML is used only through its safe node composer: no tags are constructed
beyond the YAML core schema, so nothing in a spec can create Python objects.
Duplicate keys, which PyYAML silently resolves to the last one, are errors.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from declml.errors import SpecError, SpecIssue

__all__ = ["Loaded", "Location", "Path_", "format_path", "load_file", "load_text"]

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Location:
    """Where a value came from: a file position or a command-line override."""

    origin: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is None:
            return self.origin
        return f"{self.origin}:{self.line}:{self.column}"


@dataclass
class Loaded:
    """Spec data plus the location of every key and value in it."""

    data: Any
    origin: str
    values: dict[Path_, Location] = field(default_factory=dict)
    keys: dict[Path_, Location] = field(default_factory=dict)

    def locate(self, path: Path_, *, key: bool = False) -> Location | None:
        """Best location for ``path``: the node itself or its nearest ancestor."""
        table = self.keys if key else self.values
        probe = tuple(path)
        while True:
            if probe in table:
                return table[probe]
            if probe in self.values:
                return self.values[probe]
            if not probe:
                return None
            probe = probe[:-1]


def format_path(path: Path_) -> str:
    """``("model", "layers", 2, "units")`` → ``model.layers[2].units``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_PLAIN = frozenset({"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"})


class _Composer:
    """Turns a composed YAML node tree into Python data with locations."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.result = Loaded(data=None, origin=origin)
        self.issues: list[SpecIssue] = []
        self._scalar = yaml.SafeLoader("")

    def _loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.origin, mark.line + 1, mark.column + 1)

    def convert(self, node: yaml.Node, path: Path_) -> Any:
        self.result.values[path] = self._loc(node)
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.tag not in _PLAIN:
            self.issues.append(SpecIssue(format_path(path), f"YAML tag {node.tag!r} is not "
                                         "allowed; specs hold plain data only",
                                         str(self._loc(node))))
            return None
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            seen: dict[Any, Location] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.issues.append(
                        SpecIssue(format_path(path), "YAML merge keys ('<<') are not supported",
                                  str(self._loc(key_node)))
                    )
                    continue
                key = self.convert_scalar_key(key_node, path)
                if key is None:
                    continue
                if key in seen:
                    self.issues.append(
                        SpecIssue(
                            format_path((*path, key)),
                            f"duplicate key {key!r} (first defined at line {seen[key].line}); "
                            "YAML would silently keep only the last one",
                            str(self._loc(key_node)),
                        )
                    )
                    continue
                seen[key] = self._loc(key_node)
                self.result.keys[(*path, key)] = seen[key]
                out[key] = self.convert(value_node, (*path, key))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar.construct_object(node, deep=True)

    def convert_scalar_key(self, node: yaml.Node, path: Path_) -> Any:
        if not isinstance(node, yaml.ScalarNode):
            self.issues.append(
                SpecIssue(format_path(path), "mapping keys must be plain scalars",
                          str(self._loc(node)))
            )
            return None
        key = self._scalar.construct_object(node)
        if not isinstance(key, str):
            key = str(key) if isinstance(key, (int, float, bool)) else key
        return key


def _yaml_error(exc: yaml.YAMLError, origin: str) -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    where = Location(origin, mark.line + 1, mark.column + 1) if mark else Location(origin)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    msg = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    return SpecError([SpecIssue("", msg, str(where))], origin=origin)


def load_text(text: str, origin: str = "<spec>", *, json_only: bool = False) -> Loaded:
    """Parse spec text; JSON is parsed strictly first, then composed for locations.

    Raises:
        SpecError: the text does not parse, has duplicate keys, or is not a mapping.
    """
    if json_only:
        try:
            json.loads(text)
        except json.JSONDecodeError as exc:
            where = Location(origin, exc.lineno, exc.colno)
            raise SpecError([SpecIssue("", f"not valid JSON: {exc.msg}", str(where))],
                            origin=origin) from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        if json_only:  # valid JSON that PyYAML cannot compose: keep data, lose positions
            return _json_without_locations(text, origin)
        raise _yaml_error(exc, origin) from None
    composer = _Composer(origin)
    try:
        data = composer.convert(node, ()) if node is not None else None
    except yaml.YAMLError as exc:  # e.g. an unknown !tag
        raise _yaml_error(exc, origin) from None
    if composer.issues:
        raise SpecError(composer.issues, origin=origin)
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise SpecError(
            [SpecIssue("", f"a spec must be a mapping of sections (name, data, model, ...), "
                           f"but the file is {kind}", str(Location(origin, 1, 1)))],
            origin=origin,
        )
    composer.result.data = data
    return composer.result


def _json_without_locations(text: str, origin: str) -> Loaded:
    data = json.loads(text)
    if not isinstance(data, dict):
        raise SpecError([SpecIssue("", "a spec must be a JSON object of sections")], origin=origin)
    return Loaded(data=data, origin=origin)


def load_file(path: str | Path) -> Loaded:
    """Read and parse a spec file (``.yaml``, ``.yml`` or ``.json``).

    Raises:
        SpecError: the file is missing, unreadable or does not parse.
    """
    p = Path(path)
    origin = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError([SpecIssue("", "spec file not found; check the path")],
                        origin=origin) from None
    except IsADirectoryError:
        raise SpecError([SpecIssue("", "is a directory, expected a .yaml or .json spec file")],
                        origin=origin) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError([SpecIssue("", f"cannot read spec file: {exc}")],
                        origin=origin) from None
    return load_text(text, origin, json_only=p.suffix.lower() == ".json")
