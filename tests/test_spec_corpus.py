"""A corpus of broken specs: every spec in specs/, mutated many ways, must be refused politely.

The corpus is generated deterministically (fixed seeds, no clock or hash order) from
the files in specs/:

* ``delete`` — each line deleted in turn (a deletion may leave a valid spec: ``seed``
  and ``description`` are optional; those are counted, not required to fail);
* ``duplicate_key`` — a key written twice, in a block mapping or in a flow ``{...}``;
* ``wrong_type`` — a value replaced by one of the wrong kind: a string or a negative
  number for a number, a list for a mapping, a mapping for a list, ...;
* ``junk`` — broken YAML: unbalanced brackets, tabs, stray colons, unterminated quotes,
  bad indentation, control characters, bytes that are not UTF-8, a second document;
* ``tag`` — YAML tags that would construct Python objects (``!!python/object/apply``,
  ``!!python/object/new``, ``!!python/name``, ...). Each one would create a marker
  file if it ever ran; the marker must never appear.

Two layers check every mutant: in-process (``load_spec`` ends in a ``Spec`` or a
``SpecError`` whose issues carry messages and, for text problems, a ``line:column``),
and the ``declml validate`` command (exit code 2 with a message, never a traceback,
never exit code 1; a mutant that validates must exit 0, like in-process). The command
runs in-process through Typer's runner on a deterministic sample by default (12 per
kind) and on the whole corpus with ``-m slow``; a few rejected mutants (one per kind,
three with ``-m slow``) also go through real ``python -m declml validate`` processes.
A spec that validates must also survive ``fix_point`` (what build, train and tune do
first) with a Spec or a SpecError.

Mutants that once exposed declml bugs are listed in FORMER_BUGS and checked on their own too.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from declml.cli.main import app
from declml.errors import SpecError
from declml.spec.api import fix_point, load_spec
from declml.spec.loader import SpecLoader
from declml.spec.sections import Spec
from tests.conftest import PLUGIN_SPECS, SPECS, registry_for_spec

#: Replaced by a path under the test's tmp_path: tag mutants would create this file.
MARKER = "@MARKER@"

SPEC_FILES = sorted(
    p for p in SPECS.iterdir()
    if p.suffix in {".yaml", ".yml", ".json"} and not p.name.endswith(".schema.json")
)

# How many mutants of each sampled kind per spec (line deletion takes every line).
N_DUPLICATE_KEY = 8
N_WRONG_TYPE = 20
N_JUNK_POSITIONS = 1  # per junk form; there are 14 forms
N_TAG_POSITIONS = 2  # per tag form; there are 8 forms
CLI_SAMPLE_PER_KIND = 12  # the default run's in-process CLI sample (the slow run: all)
PROCESSES_PER_KIND = 1  # real processes in the default run
PROCESSES_PER_KIND_SLOW = 3

KINDS = ("delete", "duplicate_key", "wrong_type", "junk", "tag")
#: Kinds where every mutant is broken whatever the spec says.
ALWAYS_BROKEN = frozenset({"duplicate_key", "junk", "tag"})

#: Mutant id → what it did before it was fixed (test_former_bugs).
FORMER_BUGS: dict[str, str] = {
    "seed_grid_search:wrong_type:compile.optimizer.learning_rate.choice.1=inf": (
        "was: an infinite number (1e999) in a 'choice' list passes validation, but the "
        "dumped spec holds null for it, so fix_point (declml build/train/tune) raises a raw "
        "pydantic ValidationError from parse_hyper: exit code 1, 'internal error'"),
    "digits_bayesian:wrong_type:model.layers.2.kernel_initializer=empty-choice": (
        "was: a hyperparameter inside a dict-valued argument ({type: {choice: []}}) is not "
        "checked at validation; fix_point's substitute_data parses it and raises a raw "
        "pydantic ValidationError: declml validate says valid, declml build exits 1"),
}

_SOURCE = re.compile(r":(\d+):(\d+)$")


@dataclass(frozen=True)
class Mutant:
    spec: str  # a file name in specs/
    kind: str  # one of KINDS
    detail: str  # what was done, unique within (spec, kind)
    data: bytes
    line: int | None = None  # an issue must point at this line ...
    fragment: str | None = None  # ... (or at least exist) with this in its message
    located: bool = True  # some issue must have a file:line:column source

    @property
    def id(self) -> str:
        return f"{Path(self.spec).stem}:{self.kind}:{self.detail}"

    @property
    def suffix(self) -> str:
        return Path(self.spec).suffix

    def text_for(self, marker: Path) -> bytes:
        return self.data.replace(MARKER.encode(), marker.as_posix().encode())


def _rng(*parts: object) -> random.Random:
    """A generator seeded from names: the same corpus on every run and every machine."""
    return random.Random(zlib.crc32(":".join(map(str, parts)).encode()))


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


# --- walking the YAML of a spec ---------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    path: tuple[Any, ...]
    node: yaml.Node
    key: yaml.ScalarNode | None  # the key node, for values in a mapping
    parent: yaml.Node | None


def _walk(node: yaml.Node, path: tuple[Any, ...] = (), key: yaml.ScalarNode | None = None,
          parent: yaml.Node | None = None) -> list[_Node]:
    out = [_Node(path, node, key, parent)]
    if isinstance(node, yaml.MappingNode):
        for k, v in node.value:
            out += _walk(v, (*path, k.value), k, node)
    elif isinstance(node, yaml.SequenceNode):
        for i, v in enumerate(node.value):
            out += _walk(v, (*path, i), None, node)
    return out


def _end(node: yaml.Node) -> int:
    """Where a node's own text ends (a block collection: its last value, not the comments
    and blank lines PyYAML counts to it)."""
    if isinstance(node, yaml.ScalarNode) or node.flow_style or not node.value:
        return node.end_mark.index
    last = node.value[-1]
    return _end(last[1] if isinstance(node, yaml.MappingNode) else last)


def _replace(text: str, node: yaml.Node, new: str) -> str:
    return text[:node.start_mark.index] + new + text[_end(node):]


def _values(text: str) -> list[_Node]:
    """Every value below the root that has text of its own (not an empty null)."""
    root = yaml.compose(text, Loader=SpecLoader)
    return [n for n in _walk(root)[1:] if n.node.start_mark.index < _end(n.node)]


def _block_keys(text: str) -> list[_Node]:
    """Values of keys in block mappings whose key starts its own line."""
    lines = text.splitlines()
    out = []
    for n in _values(text):
        if n.key is None or n.parent is None or n.parent.flow_style:
            continue
        line = lines[n.key.start_mark.line]
        if line[:n.key.start_mark.column].strip() == "":
            out.append(n)
    return out


# --- the mutations ----------------------------------------------------------------------------


def _deletions(name: str, text: str) -> list[Mutant]:
    lines = text.splitlines(keepends=True)
    out = []
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith("#"):
            continue  # deleting a blank or a comment changes nothing
        out.append(Mutant(name, "delete", f"L{i + 1}",
                          "".join(lines[:i] + lines[i + 1:]).encode()))
    return out


def _duplicate_keys(name: str, text: str) -> list[Mutant]:
    candidates = [n for n in _values(text) if n.key is not None]
    picked = sorted(_rng(name, "dup").sample(candidates, min(N_DUPLICATE_KEY, len(candidates))),
                    key=lambda n: n.key.start_mark.index)
    out = []
    for n in picked:
        key, value = n.key, n.node
        key_text = text[key.start_mark.index:key.end_mark.index]
        value_text = text[value.start_mark.index:_end(value)]
        one_line = "\n" not in value_text and (isinstance(value, yaml.ScalarNode)
                                              or value.flow_style)
        if n.parent.flow_style:  # {a: 1, b: 2} → {a: 1, a: 1, b: 2}: the original is the duplicate
            new = text[:key.start_mark.index] + f"{key_text}: {value_text}, " + \
                text[key.start_mark.index:]
            line = key.start_mark.line + 1
        else:  # a new line after the entry, at the key's column
            cut = text.index("\n", _end(value)) + 1 if "\n" in text[_end(value):] else len(text)
            copy = f"{key_text}: {value_text if one_line else '{}'}"
            new = text[:cut] + " " * key.start_mark.column + copy + "\n" + text[cut:]
            line = _line_of(new, cut)
        out.append(Mutant(name, "duplicate_key", f"{'.'.join(map(str, n.path))}@L{line}",
                          new.encode(), line=line, fragment="duplicate key"))
    return out


def _wrong_values(node: yaml.Node) -> list[tuple[str, str]]:
    """(label, replacement text) for values of the wrong kind."""
    if isinstance(node, yaml.MappingNode):
        return [("list-for-mapping", "[1, 2]"), ("number-for-mapping", "7")]
    if isinstance(node, yaml.SequenceNode):
        return [("mapping-for-list", "{oops: 1}"), ("string-for-list", "'a string'")]
    tag = node.tag.rsplit(":", 1)[-1]
    if tag in ("int", "float"):
        magnitude = node.value.lstrip("+-") or "1"
        return [("string-for-number", '"lots"'), ("negative-number", f"-{magnitude}"),
                ("list-for-number", "[1, 2]"), ("bool-for-number", "true")]
    if tag == "bool":
        return [("string-for-bool", "'maybe'"), ("number-for-bool", "2")]
    return [("mapping-for-string", "{oops: 1}"), ("list-for-string", "[a, b]"),
            ("number-for-string", "12"), ("null-for-string", "null")]


def _wrong_types(name: str, text: str) -> list[Mutant]:
    options = [(n, label, new) for n in _values(text) for label, new in _wrong_values(n.node)]
    picked = _rng(name, "type").sample(options, min(N_WRONG_TYPE, len(options)))
    return [Mutant(name, "wrong_type", f"{'.'.join(map(str, n.path)) or 'root'}={label}",
                   _replace(text, n.node, new).encode())
            for n, label, new in sorted(picked, key=lambda p: (p[0].node.start_mark.index,
                                                                 p[1]))]


def _junk(name: str, text: str) -> list[Mutant]:
    """Broken YAML, each form at seeded positions."""
    rng = _rng(name, "junk")
    keys = _block_keys(text)
    scalars = [n for n in _values(text) if isinstance(n.node, yaml.ScalarNode)]
    block_scalars = [n for n in scalars if n.parent is not None and not n.parent.flow_style
                     and n.key is not None]
    flows = [n for n in _values(text) if not isinstance(n.node, yaml.ScalarNode)
             and n.node.flow_style and n.node.start_mark.line == n.node.end_mark.line]
    lines = text.splitlines(keepends=True)
    out: list[Mutant] = []

    def before_key(label: str, junk: str, fragment: str | None = "not valid YAML", *,
                   indent: bool = True, located: bool = True) -> None:
        for n in rng.sample(keys, min(N_JUNK_POSITIONS, len(keys))):
            at = n.key.start_mark.index - n.key.start_mark.column  # the key's line
            pad = " " * n.key.start_mark.column if indent else ""
            new = text[:at] + pad + junk + "\n" + text[at:]
            out.append(Mutant(name, "junk", f"{label}@L{n.key.start_mark.line + 1}",
                              new.encode(), fragment=fragment, located=located))

    def value(label: str, nodes: list[_Node], make: Any, fragment: str = "not valid YAML"
              ) -> None:
        for n in rng.sample(nodes, min(N_JUNK_POSITIONS, len(nodes))):
            new = _replace(text, n.node, make(text[n.node.start_mark.index:_end(n.node)]))
            out.append(Mutant(name, "junk", f"{label}@L{n.node.start_mark.line + 1}",
                              new.encode(), fragment=fragment))

    value("unclosed-bracket", flows, lambda v: v[:-1])
    value("extra-close-bracket", flows, lambda v: v + "]")
    before_key("open-brace", "{")
    before_key("close-bracket", "]")
    before_key("tab-indent", "\tepochs: 3")
    before_key("stray-colon-line", "key: value: other")
    value("stray-colon", block_scalars, lambda v: f"{v}: extra")
    value("unterminated-double-quote", scalars, lambda v: f'"{v}')
    value("unterminated-single-quote", block_scalars, lambda v: f"'{v}")
    before_key("undefined-alias", "bogus: *nowhere")
    before_key("control-character", "bogus: \x07bell", fragment="special characters")
    before_key("second-document", "---", fragment="single document", indent=False)
    # bad indentation: a key line pushed one column right
    for n in rng.sample(keys, min(N_JUNK_POSITIONS, len(keys))):
        i = n.key.start_mark.line
        if i > 0 and lines[i - 1].strip() and not lines[i - 1].lstrip().startswith("#"):
            new = "".join([*lines[:i], " " + lines[i], *lines[i + 1:]])
            out.append(Mutant(name, "junk", f"indent+1@L{i + 1}", new.encode(),
                              fragment="not valid YAML"))
    # bytes that are not UTF-8 (no location: the file cannot be decoded at all)
    for n in rng.sample(keys, min(N_JUNK_POSITIONS, len(keys))):
        at = len(text[:n.key.start_mark.index].encode())
        raw = text.encode()
        out.append(Mutant(name, "junk", f"binary@L{n.key.start_mark.line + 1}",
                          raw[:at] + b"\xff\xfe\x00\x80\xc3(" + raw[at:],
                          fragment="cannot read spec file", located=False))
    return out


#: (label, replacement): YAML that would run code or build Python objects when
#: loaded with an unsafe loader; each creates MARKER if it ever runs.
TAGS = [
    ("apply-os.system", f"!!python/object/apply:os.system ['touch {MARKER}']"),
    ("apply-open", f"!!python/object/apply:builtins.open ['{MARKER}', 'w']"),
    ("new-os.system", f"!!python/object/new:os.system ['touch {MARKER}']"),
    ("apply-subprocess", f"!!python/object/apply:subprocess.check_call [[touch, '{MARKER}']]"),
    ("name-os.system", "!!python/name:os.system ''"),
    ("module-os", "!!python/module:os ''"),
    ("object-mapping", f"!!python/object:pathlib.PosixPath {{path: '{MARKER}'}}"),
    ("verbatim-apply",
     f"!<tag:yaml.org,2002:python/object/apply:os.system> ['touch {MARKER}']"),
]


def _tags(name: str, text: str) -> list[Mutant]:
    rng = _rng(name, "tag")
    values = _values(text)
    block = [n for n in values if n.key is not None and not n.parent.flow_style]
    flow = [n for n in values if n.parent is not None and n.parent.flow_style]
    out = []
    for label, tag in TAGS:
        for n in [*rng.sample(block, min(1, len(block))),
                  *rng.sample(flow, min(N_TAG_POSITIONS - 1, len(flow)))]:
            new = _replace(text, n.node, tag)
            line = n.node.start_mark.line + 1
            out.append(Mutant(name, "tag", f"{label}@{'.'.join(map(str, n.path))}", new.encode(),
                              line=line, fragment="is not allowed"))
    # a %TAG directive that abbreviates the Python prefix
    n = rng.choice(block)
    body = _replace(text, n.node, f"!py!os.system ['touch {MARKER}']")
    new = "%TAG !py! tag:yaml.org,2002:python/object/apply:\n---\n" + body
    out.append(Mutant(name, "tag", f"tag-directive@{'.'.join(map(str, n.path))}", new.encode(),
                      line=n.node.start_mark.line + 3, fragment="is not allowed"))
    return out


def _known_bugs() -> list[Mutant]:
    """Wrong values the sampled mutations do not reach, found by an exhaustive run."""
    edits = [
        ("seed_grid_search.yaml", "compile.optimizer.learning_rate.choice.1=inf",
         "{choice: [0.001, 0.01], name: learning_rate}",
         "{choice: [0.001, 1e999], name: learning_rate}"),
        ("digits_bayesian.yaml", "model.layers.2.kernel_initializer=empty-choice",
         "{type: Dense, units: 10, activation: softmax}",
         "{type: Dense, units: 10, activation: softmax, kernel_initializer: {type: {choice: []}}}"),
    ]
    out = []
    for spec, detail, old, new in edits:
        text = (SPECS / spec).read_text(encoding="utf-8")
        assert text.count(old) == 1, (spec, old)
        out.append(Mutant(spec, "wrong_type", detail, text.replace(old, new).encode()))
    return out


def _corpus() -> list[Mutant]:
    out: list[Mutant] = []
    for path in SPEC_FILES:
        text = path.read_text(encoding="utf-8")
        for make in (_deletions, _duplicate_keys, _wrong_types, _junk, _tags):
            out += make(path.name, text)
    return out + _known_bugs()


CORPUS = _corpus()
BY_SPEC_KIND: dict[tuple[str, str], list[Mutant]] = defaultdict(list)
for _m in CORPUS:
    BY_SPEC_KIND[_m.spec, _m.kind].append(_m)
SPEC_NAMES = [p.name for p in SPEC_FILES]
_NUMBER = {m.id: i for i, m in enumerate(CORPUS)}


# --- checking one mutant ----------------------------------------------------------------------

#: Mutant id → "valid" or "rejected", filled by the in-process layer (the CLI must agree).
_OUTCOMES: dict[str, str] = {}


def _write(m: Mutant, directory: Path) -> tuple[Path, Path]:
    """The mutant as a file named like its spec (the name defaults to the file's stem)."""
    folder = directory / f"m{_NUMBER[m.id]}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / m.spec
    marker = folder / "pwned"
    path.write_bytes(m.text_for(marker))
    return path, marker


def _check_in_process(m: Mutant, directory: Path, registry: Any) -> str | None:
    """None if the mutant is handled correctly, else what went wrong."""
    path, marker = _write(m, directory)
    try:
        result: Spec | SpecError = load_spec(path, registry=registry_for_spec(SPECS / m.spec,
                                                                              registry),
                                             allow_local_plugins=False)
    except SpecError as exc:
        result = exc
    except Exception as exc:  # anything else is a bug
        return f"raised {type(exc).__name__}: {exc}"
    if marker.exists():
        return "the marker file was created: YAML ran code"
    if isinstance(result, Spec):
        _OUTCOMES[m.id] = "valid"
        if m.kind in ALWAYS_BROKEN:
            return "accepted as a valid spec"
        try:  # what build, train and tune do first: the default point must validate too
            fix_point(result, registry=registry_for_spec(SPECS / m.spec, registry))
        except SpecError as exc:
            return _check_error(m, exc)
        except Exception as exc:
            return f"valid, but fix_point raised {type(exc).__name__}: {exc}"
        return None
    _OUTCOMES[m.id] = "rejected"
    return _check_error(m, result)


def _check_error(m: Mutant, exc: SpecError) -> str | None:
    if not exc.issues:
        return "a SpecError without issues"
    for issue in exc.issues:
        if not isinstance(issue.message, str) or not issue.message.strip():
            return f"an issue without a message: {issue!r}"
    if not str(exc).strip():
        return "a SpecError that prints as nothing"
    located = [(int(g[1]), issue) for issue in exc.issues
               if issue.source and (g := _SOURCE.search(issue.source))]
    if m.fragment is not None and not any(m.fragment in i.message for i in exc.issues):
        return f"no issue says {m.fragment!r}: {exc}"
    if m.line is not None and not any(line == m.line and (m.fragment or "") in i.message
                                      for line, i in located):
        return f"no issue at line {m.line} saying {m.fragment!r}: {exc}"
    if m.located and not located:
        return f"no issue has a line:column: {exc}"
    return None


def _check_all(mutants: list[Mutant], directory: Path, registry: Any) -> None:
    problems = []
    for m in mutants:
        problem = _check_in_process(m, directory, registry)
        if problem:
            problems.append(f"{m.id}: {problem}")
    assert not problems, f"{len(problems)} mutants mishandled:\n" + "\n".join(problems[:25])


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    """DECLML_DEBUG=1 turns errors into tracebacks on purpose; these tests need it off."""
    monkeypatch.delenv("DECLML_DEBUG", raising=False)


# --- layer (a): in-process, every mutant ------------------------------------------------------


def test_the_corpus_covers_every_spec_and_kind():
    assert len(SPEC_FILES) >= 10
    counts = Counter((m.spec, m.kind) for m in CORPUS)
    for path in SPEC_FILES:
        for kind in KINDS:
            assert counts[path.name, kind] >= 5, (path.name, kind, counts[path.name, kind])
    assert len({m.id for m in CORPUS}) == len(CORPUS), "mutant ids must be unique"
    assert len({m.data for m in CORPUS}) > 0.95 * len(CORPUS)


def test_the_corpus_is_deterministic():
    again = _corpus()
    assert [(m.id, m.data) for m in again] == [(m.id, m.data) for m in CORPUS]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_mutants_are_a_spec_or_a_located_spec_error(spec, kind, registry, tmp_path):
    _check_all(BY_SPEC_KIND[spec, kind], tmp_path, registry)


def test_at_least_200_mutants_are_rejected(registry, tmp_path):
    missing = [m for m in CORPUS if m.id not in _OUTCOMES]
    _check_all(missing, tmp_path, registry)  # when run on its own
    rejected = Counter(m.kind for m in CORPUS if _OUTCOMES.get(m.id) == "rejected")
    assert sum(rejected.values()) >= 200, rejected
    # every line of a spec matters to some degree; at least a third of the deletions and
    # of the wrong types must break the spec, or the mutations are not reaching anything
    total = Counter(m.kind for m in CORPUS)
    for kind in ("delete", "wrong_type"):
        assert rejected[kind] >= total[kind] / 3, (kind, rejected[kind], total[kind])
    for kind in ALWAYS_BROKEN:
        assert rejected[kind] == total[kind], kind


# --- layer (b): the declml validate command ---------------------------------------------------

runner = CliRunner()


@pytest.fixture
def plugin_aware_cli(monkeypatch, registry):
    """The CLI's registry, with the example plugin for the specs that use it."""
    from declml.registry import manager

    plain = manager.get_registry

    def use(spec: str) -> None:
        example = registry_for_spec(SPECS / spec, registry)
        if example is registry:
            monkeypatch.setattr(manager, "get_registry", plain)
        else:
            monkeypatch.setattr(manager, "get_registry",
                                lambda local=(): example if not local else plain(local))

    return use


def _check_cli(m: Mutant, directory: Path, registry: Any, use_registry: Any) -> str | None:
    if m.id not in _OUTCOMES:
        problem = _check_in_process(m, directory / "in-process", registry)
        if problem:
            return f"in process: {problem}"
    path, marker = _write(m, directory / "cli")
    use_registry(m.spec)
    result = runner.invoke(app, ["validate", str(path)])
    output = result.stdout + result.stderr
    if marker.exists():
        return "the marker file was created: YAML ran code"
    if "Traceback" in output:
        return f"a traceback:\n{output}"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"raised {type(result.exception).__name__}: {result.exception}"
    expected = 2 if _OUTCOMES[m.id] == "rejected" else 0
    if result.exit_code != expected:
        return f"exit code {result.exit_code}, expected {expected}:\n{output}"
    if expected == 2:
        if "invalid spec" not in result.stderr or "error:" not in result.stderr:
            return f"no error message on stderr:\n{output}"
        if m.fragment and m.fragment not in result.stderr:
            return f"the message does not say {m.fragment!r}:\n{output}"
    return None


def _sample(per_kind: int) -> list[Mutant]:
    """``per_kind`` mutants of each kind, picked with a fixed seed."""
    out = []
    for kind in KINDS:
        pool = [m for m in CORPUS if m.kind == kind]
        out += _rng("cli-sample", kind).sample(pool, min(per_kind, len(pool)))
    return out


CLI_SAMPLE = _sample(CLI_SAMPLE_PER_KIND)


@pytest.mark.parametrize("mutant", CLI_SAMPLE, ids=[m.id for m in CLI_SAMPLE])
def test_validate_command_on_a_sample(mutant, registry, plugin_aware_cli, tmp_path):
    problem = _check_cli(mutant, tmp_path, registry, plugin_aware_cli)
    assert problem is None, f"{mutant.id}: {problem}"


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPEC_NAMES)
def test_validate_command_on_the_whole_corpus(spec, registry, plugin_aware_cli, tmp_path):
    problems = []
    for m in CORPUS:
        if m.spec != spec:
            continue
        problem = _check_cli(m, tmp_path, registry, plugin_aware_cli)
        if problem:
            problems.append(f"{m.id}: {problem}")
    assert not problems, f"{len(problems)} mutants mishandled:\n" + "\n".join(problems[:25])


def _run_processes(picked: list[Mutant], directory: Path) -> None:
    """The installed command behaves like the in-process runner: exit 2, a message,
    no traceback, no marker. The processes run concurrently to keep this quick."""
    env = {**os.environ, "DECLML_PLUGINS": "none"}
    env.pop("DECLML_DEBUG", None)
    runs = []
    for m in picked:
        path, marker = _write(m, directory)
        proc = subprocess.Popen([sys.executable, "-m", "declml", "validate", str(path)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                cwd=directory, text=True, encoding="utf-8")
        runs.append((m, proc, marker))
    problems = []
    for m, proc, marker in runs:
        out, err = proc.communicate(timeout=120)
        if marker.exists():
            problems.append(f"{m.id}: the marker file was created")
        if proc.returncode != 2 or "Traceback" in out + err or "invalid spec" not in err:
            problems.append(f"{m.id}: exit code {proc.returncode}\n{out}{err}")
        elif m.fragment and m.fragment not in err:
            problems.append(f"{m.id}: the message does not say {m.fragment!r}\n{err}")
    assert not problems, "\n".join(problems)


def _process_sample(per_kind: int, directory: Path, registry: Any) -> list[Mutant]:
    """``per_kind`` rejected mutants of each kind, from specs that need no plugin."""
    out = []
    for kind in KINDS:
        pool = [m for m in CORPUS if m.kind == kind and m.spec not in PLUGIN_SPECS]
        _rng("process", kind).shuffle(pool)
        picked = []
        for m in pool:
            if len(picked) == per_kind:
                break
            if m.id not in _OUTCOMES:
                assert _check_in_process(m, directory, registry) is None, m.id
            if _OUTCOMES[m.id] == "rejected":
                picked.append(m)
        out += picked
    assert len(out) == per_kind * len(KINDS)
    return out


def test_a_real_declml_process_refuses_a_sample(registry, tmp_path):
    _run_processes(_process_sample(PROCESSES_PER_KIND, tmp_path / "in-process", registry),
                   tmp_path)


@pytest.mark.slow
def test_a_real_declml_process_refuses_a_bigger_sample(registry, tmp_path):
    _run_processes(_process_sample(PROCESSES_PER_KIND_SLOW, tmp_path / "in-process",
                                   registry), tmp_path)


# --- former bugs ------------------------------------------------------------------------------


@pytest.mark.parametrize("mutant", [m for m in CORPUS if m.id in FORMER_BUGS], ids=str)
def test_former_bugs(mutant, registry, tmp_path):
    """The correct behaviour: refused at validation (exit 2), never an internal error."""
    problem = _check_in_process(mutant, tmp_path / "in-process", registry)
    assert problem is None, problem
    assert _OUTCOMES[mutant.id] == "rejected", "declml validate accepts a broken spec"
    path, _ = _write(mutant, tmp_path / "cli")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2, result.output


def test_a_control_character_is_reported_at_its_line(write_spec):
    path = write_spec("name: a\nseed: 1\nbogus: \x07bell\n")
    with pytest.raises(SpecError) as info:
        load_spec(path, allow_local_plugins=False)
    [issue] = info.value.issues
    assert "U+0007" in issue.message and "special characters" in issue.message
    assert issue.source == f"{path}:3:8", issue.source


def test_every_former_bug_is_in_the_corpus():
    assert set(FORMER_BUGS) <= {m.id for m in CORPUS}
