"""Property-based tests: whatever the input, spec handling ends in a Spec or a SpecError.

The text generators deliberately produce what once broke the loader (see the
"was:" cases of test_spec_broken_more.py): core tags whose text does not convert
(``!!int 3`` continued on a more-indented line), anchors on block nodes that
contain their own alias, and non-ASCII digits in ``--set`` paths.
"""

from __future__ import annotations

import copy
import string
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from declml.errors import SpecError, SpecIssue
from declml.spec.api import validate_loaded
from declml.spec.loader import Loaded, load_text
from declml.spec.overrides import apply_overrides, parse_override
from declml.spec.sections import Spec
from tests.conftest import TINY_SPEC

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture,
                                       HealthCheck.too_slow])

SPEC_KEYS = sorted(Spec.model_fields)


def _check_issues(exc: SpecError) -> None:
    assert isinstance(str(exc), str)
    assert exc.issues, "a SpecError must carry at least one issue"
    for issue in exc.issues:
        assert isinstance(issue, SpecIssue)
        assert isinstance(issue.path, str)
        assert isinstance(issue.message, str) and issue.message.strip()
        assert isinstance(str(issue), str)


def _validate(loaded: Loaded, registry: Any) -> SpecError | None:
    """Validate; a Spec or a SpecError are the only allowed outcomes."""
    try:
        spec = validate_loaded(loaded, registry)
    except SpecError as exc:
        _check_issues(exc)
        return exc
    assert isinstance(spec, Spec)
    return None


def _load_and_validate(text: str, registry: Any, *, json_only: bool = False) -> None:
    origin = "f.json" if json_only else "f.yaml"
    try:
        loaded = load_text(text, origin, json_only=json_only)
    except SpecError as exc:
        _check_issues(exc)
        return
    assert isinstance(loaded.data, dict)
    _validate(loaded, registry)


# --- YAML-ish text from a small grammar ------------------------------------------------------

_WORDS = ["name", "data", "dataset", "digits", "mnist", "npz", "path", "model", "layers",
          "input_shape", "type", "Dense", "units", "Conv2D", "filters", "activation", "relu",
          "compile", "optimizer", "adam", "loss", "metrics", "accuracy", "fit", "epochs",
          "batch_size", "validation", "test", "seed", "spec_version", "preprocessing",
          "rescale", "one_hot", "reshape", "backend", "jax", "x", "k"]
_ident = st.text(alphabet=string.ascii_letters + "_", min_size=1, max_size=8)
_key = st.one_of(st.sampled_from(_WORDS), _ident,
                 st.sampled_from(["<<", "~", "1", "true", "'quoted key'", '"a.b"', "2.5",
                                  "!!str 3", "&k key"]))
_plain = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.floats(allow_nan=True, allow_infinity=False).map(repr),
    st.sampled_from(["true", "false", "null", "~", "yes", "no", "1/16", "1/0", "0x1F",
                     "0o17", ".nan", ".inf", "-.inf", "''", '""', "'a b'", '"tab\\there"',
                     "2001-12-14", "relu", "Dense", "test", "1e999"]),
    _ident,
    st.text(alphabet=string.ascii_letters + string.digits + " _-./", min_size=1, max_size=10)
    .map(lambda s: repr(s)),
)
_tagged = st.sampled_from([
    "!!int 3", "!!int 0x10", "!!int abc", "!!float 1.5", "!!float .inf", "!!float x",
    "!!bool true", "!!bool maybe", "!!timestamp 2001-12-14", "!!timestamp soon",
    "!!str 3", "!!null ''", "!!binary aGk=", "!!binary '!!!'", "!foo bar",
    "!!python/name:os.system ''", "!!python/object/apply:os.system [ls]", "!<tag:x> y",
])
_alias = st.sampled_from(["*a", "*b", "*undefined"])
_scalar = st.one_of(_plain, _tagged, _alias)


def _flow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    seq = st.lists(inner, max_size=4).map(lambda xs: "[" + ", ".join(xs) + "]")
    mapping = st.lists(st.tuples(_key, inner), max_size=4).map(
        lambda kv: "{" + ", ".join(f"{k}: {v}" for k, v in kv) + "}")
    return st.one_of(seq, mapping)


# Anchors go on scalars and flows (from here) and on block nodes (the junk line "&a").
_flat_flow = _flow(_scalar)  # may hold aliases: "&a [*a]" must be an error, not a hang
_anchored = st.tuples(st.sampled_from(["&a", "&b"]), st.one_of(_plain, _flat_flow)).map(
    " ".join)
_tagged_flow = st.tuples(st.sampled_from(["!!set", "!!omap", "!!map", "!!seq", "!!str",
                                          "!custom"]), _flat_flow).map(" ".join)
_value = st.one_of(_scalar, _anchored, _tagged_flow,
                   st.recursive(_scalar, _flow, max_leaves=8))


@st.composite
def _block(draw: Any, indent: int = 0, depth: int = 0) -> str:
    """A block mapping or sequence, sometimes mis-indented."""
    pad = " " * indent
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["kv", "kv", "nested", "seq", "comment", "junk"]))
        if kind == "kv":
            lines.append(f"{pad}{draw(_key)}: {draw(_value)}")
        elif kind == "nested" and depth < 3:
            child = draw(_block(indent + draw(st.sampled_from([2, 2, 4, 1, 0])), depth + 1))
            lines.append(f"{pad}{draw(_key)}:\n{child}")
        elif kind == "seq":
            items = draw(st.lists(_value, min_size=1, max_size=3))
            lines.append(f"{pad}{draw(_key)}:\n" + "\n".join(f"{pad}  - {v}" for v in items))
        elif kind == "comment":
            lines.append(f"{pad}# {draw(_ident)}")
        else:
            lines.append(pad + draw(st.sampled_from([
                "---", "...", "? complex", ": value", "-", "- x", "\tkey: 1", "key: |",
                "key: >-", "  folded text", "%YAML 1.1", "{", "]", "key: 'unterminated",
                "key: \"esc \\q\"", "&a", "*a", "key: value: other", "<<: *a",
                "<<: [*a, *b]"])))
    return "\n".join(lines)


_yaml_text = st.one_of(_block(), _value, st.lists(_block(), max_size=3).map("\n---\n".join))

_TINY_LINES = TINY_SPEC.splitlines()


@st.composite
def _spliced(draw: Any) -> str:
    """TINY_SPEC with a few lines' values swapped for grammar values, or lines inserted."""
    lines = list(_TINY_LINES)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(lines) - 1))
        head, sep, _ = lines[i].partition(": ")
        action = draw(st.sampled_from(["value", "insert", "delete"]))
        if action == "value" and sep:
            lines[i] = f"{head}: {draw(_value)}"
        elif action == "insert":
            indent = len(lines[i]) - len(lines[i].lstrip())
            lines.insert(i + 1, " " * indent + f"{draw(_key)}: {draw(_value)}")
        elif len(lines) > 1:
            del lines[i]
    return "\n".join(lines) + "\n"


@FUZZ
@given(text=st.text(max_size=200))
def test_arbitrary_text_is_a_spec_or_a_spec_error(registry, text):
    _load_and_validate(text, registry)
    _load_and_validate(text, registry, json_only=True)


@FUZZ
@given(text=_yaml_text)
def test_yamlish_text_is_a_spec_or_a_spec_error(registry, text):
    _load_and_validate(text, registry)


@FUZZ
@given(text=_spliced())
def test_spliced_tiny_spec_is_a_spec_or_a_spec_error(registry, text):
    _load_and_validate(text, registry)


# --- mutations of the TINY_SPEC data ---------------------------------------------------------

_TINY_DATA = load_text(TINY_SPEC, "f.yaml").data

_json_like = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80),
              st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=10),
              st.sampled_from(["adam", "Dense", "relu", "accuracy", "test", "digits", "1/16",
                               "npz", "mnist", "type"])),
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(["type", "units",
                                                                        "dataset", "path"])),
                        children, max_size=3)),
    max_leaves=10,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


@st.composite
def _mutated(draw: Any) -> Any:
    data: Any = copy.deepcopy(_TINY_DATA)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        op = draw(st.sampled_from(["delete", "replace", "insert"]))
        if op == "insert":
            containers = [p for p in paths if isinstance(_get(data, p), dict)]
            if not containers:
                continue
            path = draw(st.sampled_from(containers))
            key = draw(st.one_of(st.text(max_size=8), st.sampled_from(SPEC_KEYS)))
            _get(data, path)[key] = draw(_json_like)
            continue
        path = draw(st.sampled_from(paths))
        if not path:  # the root itself
            if op == "replace":
                data = draw(_json_like)
            continue
        parent = _get(data, path[:-1])
        if op == "delete":
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(_json_like)
    return data


@FUZZ
@given(data=_mutated())
def test_mutated_data_is_a_spec_or_a_spec_error(registry, data):
    top = set(data) | set(SPEC_KEYS) if isinstance(data, dict) else set(SPEC_KEYS)
    exc = _validate(Loaded(data=copy.deepcopy(data), origin="f.yaml"), registry)
    if exc is None:
        return
    for issue in exc.issues:
        assert issue.path == "" or any(issue.path.startswith(str(k)) for k in top if k != ""), \
            issue


# --- --set overrides ------------------------------------------------------------------------

_segment = st.one_of(st.sampled_from(["fit", "epochs", "model", "layers", "data", "compile",
                                      "units", "type", "seed", "name"]),
                     _ident, st.integers(0, 5).map(str), st.integers(0, 5).map("[{}]".format),
                     st.sampled_from(["²", "٣", "[٣]", "1²"]),
                     st.text(alphabet="._[]= -x9", max_size=3))
_override_path = st.lists(_segment, max_size=5).flatmap(
    lambda parts: st.sampled_from([".", "", ".."]).map(lambda sep: sep.join(parts)))
_override = st.one_of(
    st.text(max_size=40),
    st.text(alphabet="²٣.=[]0a", max_size=8),
    st.tuples(_override_path, st.sampled_from(["=", "=", " = ", ""]), _value).map("".join),
)


@FUZZ
@given(text=_override)
def test_parse_override_returns_a_path_or_raises_spec_error(text):
    try:
        path, _ = parse_override(text)
    except SpecError as exc:
        _check_issues(exc)
        assert all(i.source == f"--set {text}" for i in exc.issues)
        return
    assert path and all(isinstance(p, (str, int)) for p in path)


@FUZZ
@given(overrides=st.lists(_override, max_size=4))
def test_apply_overrides_only_returns_issues(registry, overrides):
    loaded = load_text(TINY_SPEC, "f.yaml")
    issues = apply_overrides(loaded, overrides)
    assert isinstance(issues, list)
    for issue in issues:
        assert isinstance(issue, SpecIssue)
        assert issue.message.strip() and isinstance(str(issue), str)
    _validate(loaded, registry)
