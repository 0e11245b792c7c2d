"""Read spec text (YAML or JSON) into plain data, remembering where each value was.

PyYAML is used only through its safe node composer: no tags are constructed
beyond the YAML core schema, so nothing in a spec can create Python objects.
Duplicate keys, which PyYAML silently resolves to the last one, are errors.
"""

from __future__ import annotations

import json
import re
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
#: Nodes a spec may expand to; aliases can multiply a small file ("billion laughs").
MAX_NODES = 100_000


class SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 (core schema) scalars.

    PyYAML follows YAML 1.1, where ``1e-3`` is a string, ``010`` is octal,
    ``1:30`` is 90, ``on``/``no`` are booleans and ``2026-01-01`` is a date.
    Specs use the 1.2 rules, which also read JSON exactly as JSON does.
    """


SpecLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
                           "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"))
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"))
SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
               r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"),
    list("-+.0123456789"))


def _int_12(loader: SpecLoader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)


SpecLoader.add_constructor("tag:yaml.org,2002:int", _int_12)


def parse_value(text: str, origin: str = "<value>") -> Any:
    """One YAML value (for ``--set``), read with the same rules and limits as spec files.

    Raises:
        SpecError: the text is not valid YAML or holds something a spec may not.
    """
    try:
        node = yaml.compose(text, Loader=SpecLoader)
    except RecursionError:
        raise SpecError([SpecIssue("", "the value is nested too deeply", origin)]) from None
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError([SpecIssue("", f"not valid YAML: {' '.join(str(problem).split())}; "
                                       "quote strings that contain ':', '[' or '{'",
                                   origin)]) from None
    if node is None:
        return None
    composer = _Composer(origin)
    try:
        value = composer.convert(node, ())
    except (_TooLarge, RecursionError):
        raise SpecError([SpecIssue("", "the value is too large", origin)]) from None
    if composer.issues:
        raise SpecError([SpecIssue(i.path, i.message, origin) for i in composer.issues])
    return value


class _Composer:
    """Turns a composed YAML node tree into Python data with locations."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.result = Loaded(data=None, origin=origin)
        self.issues: list[SpecIssue] = []
        self._scalar = SpecLoader("")
        self._count = 0
        self._open: set[int] = set()  # collections being converted: catches recursive aliases
        self._done: set[int] = set()  # nodes already converted once: later uses are aliases

    def _loc(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.origin, mark.line + 1, mark.column + 1)

    def _issue(self, path: Path_, message: str, node: yaml.Node) -> None:
        self.issues.append(SpecIssue(format_path(path), message, str(self._loc(node))))

    def convert(self, node: yaml.Node, path: Path_, used_at: Location | None = None) -> Any:
        # An alias re-uses its anchor's node; report it where it is used, not defined.
        self._count += 1
        if self._count > MAX_NODES:
            raise _TooLarge
        where = used_at if (used_at is not None and id(node) in self._done) else self._loc(node)
        self.result.values[path] = where
        self._done.add(id(node))
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if node.tag not in _PLAIN:
                self._issue(path, f"YAML tag {node.tag!r} is not allowed; specs hold plain "
                                  "data only", node)
                return None
            if id(node) in self._open:
                self._issue(path, "recursive alias: this value contains itself", node)
                return None
            self._open.add(id(node))
            try:
                if isinstance(node, yaml.MappingNode):
                    return self._mapping(node, path)
                return [self.convert(item, (*path, i)) for i, item in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        try:
            return self._scalar.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError:
            self._issue(path, f"YAML tag {node.tag!r} is not allowed; specs hold plain data "
                              "only", node)
            return None
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError) as exc:
            self._issue(path, f"cannot read the {node.tag.rsplit(':', 1)[-1]} value "
                              f"{node.value!r}: {exc}", node)
            return None

    def _mapping(self, node: yaml.MappingNode, path: Path_) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, Location] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                self._issue(path, "YAML merge keys ('<<') are not supported; write the keys "
                                  "out", key_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in seen:
                self._issue((*path, key), f"duplicate key {key!r} (first defined at line "
                                          f"{seen[key].line}); YAML would silently keep only "
                                          "the last one", key_node)
                continue
            seen[key] = self._loc(key_node)
            self.result.keys[(*path, key)] = seen[key]
            out[key] = self.convert(value_node, (*path, key), used_at=seen[key])
        return out

    def _key(self, node: yaml.Node, path: Path_) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self._issue(path, "mapping keys must be plain names, not lists or mappings", node)
            return None
        try:
            key = self._scalar.construct_object(node)
        except (yaml.YAMLError, ValueError, TypeError, AttributeError, KeyError) as exc:
            self._issue(path, f"cannot read the key {node.value!r}: {exc}", node)
            return None
        if key is None:
            self._issue(path, f"a key is null ({node.value or 'empty'!s}); keys must be names",
                        node)
            return None
        return key if isinstance(key, str) else str(key)


class _TooLarge(Exception):
    """The spec expands to more than MAX_NODES values."""


def _yaml_error(exc: yaml.YAMLError, origin: str, text: str = "") -> SpecError:
    mark = getattr(exc, "problem_mark", None)
    where = Location(origin, mark.line + 1, mark.column + 1) if mark else Location(origin)
    problem = getattr(exc, "problem", None) or str(exc)
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow
        before = text[:exc.position]
        where = Location(origin, before.count("\n") + 1, len(before) - before.rfind("\n"))
        problem = f"character U+{exc.character:04X} is not allowed here ({exc.reason}); remove it"
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
    if json_only:
        # Raw tabs can only be whitespace in valid JSON (inside strings they must be
        # escaped), but YAML refuses them as indentation: make them spaces.
        text = text.replace("\t", " ")
    try:
        node = yaml.compose(text, Loader=SpecLoader)
    except RecursionError:
        raise SpecError([SpecIssue("", "the spec is nested too deeply to read",
                                   str(Location(origin)))], origin=origin) from None
    except yaml.YAMLError as exc:
        if json_only:  # valid JSON that PyYAML cannot compose: keep data, lose positions
            return _json_without_locations(text, origin)
        raise _yaml_error(exc, origin, text) from None
    composer = _Composer(origin)
    try:
        data = composer.convert(node, ()) if node is not None else None
    except yaml.YAMLError as exc:  # e.g. an unknown !tag
        raise _yaml_error(exc, origin, text) from None
    except RecursionError:
        raise SpecError([SpecIssue("", "the spec is nested too deeply to read",
                                   str(Location(origin)))], origin=origin) from None
    except _TooLarge:
        raise SpecError([SpecIssue("", f"the spec expands to more than {MAX_NODES:,} values "
                                       "(through YAML aliases?); specs are small documents",
                                   str(Location(origin)))], origin=origin) from None
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
