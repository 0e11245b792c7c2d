"""Text → validated :class:`~declml.spec.sections.Spec`, with every error at once."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from declml.errors import SpecError, SpecIssue
from declml.registry.registry import Registry
from declml.spec.diagnostics import issues_from_validation
from declml.spec.loader import Loaded, load_file, load_text
from declml.spec.overrides import apply_overrides
from declml.spec.sections import Spec
from declml.spec.space import default_point, search_space, substitute_data

__all__ = ["ALLOW_LOCAL_PLUGINS_ENV", "allowed_local_plugins", "dump_spec", "fix_point",
           "load_spec", "registry_for", "spec_from_data", "validate_loaded"]

#: Set to 1 to let specs load the local plugin modules they name (runs their code).
ALLOW_LOCAL_PLUGINS_ENV = "DECLML_ALLOW_LOCAL_PLUGINS"


def _registry(registry: Registry | None) -> Registry:
    if registry is not None:
        return registry
    from declml.registry.manager import get_registry

    return get_registry()


def registry_for(spec: Spec) -> Registry:
    """The registry a validated spec was checked against (its local plugins included)."""
    from declml.registry.manager import get_registry

    return get_registry(tuple(spec.plugins))


def allowed_local_plugins(allow: bool | None) -> bool:
    """``allow`` if given, else whether ``DECLML_ALLOW_LOCAL_PLUGINS`` is set to a true value."""
    if allow is not None:
        return allow
    return os.environ.get(ALLOW_LOCAL_PLUGINS_ENV, "").strip().lower() in ("1", "true", "yes")


def _local_plugins(loaded: Loaded, allow: bool | None) -> tuple[str, ...] | None:
    """The spec's ``plugins:`` as absolute paths / module names, once the user allowed them.

    Returns None when the list is malformed (validation reports it). Raises a
    SpecError when the spec names plugins the user did not allow.
    """
    data = loaded.data
    entries = data.get("plugins") if isinstance(data, dict) else None
    if not entries or not isinstance(entries, list) or not all(
            isinstance(e, str) and e for e in entries):
        return None
    if not allowed_local_plugins(allow):
        location = loaded.locate(("plugins",))
        raise SpecError([SpecIssue(
            "plugins",
            f"the spec loads local plugin modules ({', '.join(entries)}), which runs their "
            f"Python code; if you trust them, pass --allow-local-plugins or set "
            f"{ALLOW_LOCAL_PLUGINS_ENV}=1", str(location) if location else None)],
            origin=loaded.origin)
    base = Path(loaded.origin).parent if loaded.origin not in ("<spec>", "") else Path.cwd()
    resolved = []
    for entry in entries:
        if entry.endswith(".py") or "/" in entry or os.sep in entry:
            entry = str((base / Path(entry).expanduser()).resolve())
        resolved.append(entry)
    data["plugins"] = resolved
    return tuple(resolved)


def validate_loaded(loaded: Loaded, registry: Registry | None = None, *,
                    allow_local_plugins: bool | None = None) -> Spec:
    """Validate parsed spec data against the registry.

    Args:
        loaded: the parsed spec.
        registry: components to validate against (default: every loaded
            plugin, plus the spec's own ``plugins:`` when allowed).
        allow_local_plugins: load the modules the spec's ``plugins:`` names
            (default: the ``DECLML_ALLOW_LOCAL_PLUGINS`` environment variable).

    Raises:
        SpecError: with one located issue per problem.
    """
    data = loaded.data
    if isinstance(data, dict) and "name" not in data and loaded.origin not in ("<spec>", ""):
        data["name"] = _default_name(loaded.origin)
    local = _local_plugins(loaded, allow_local_plugins)
    if registry is None and local:
        from declml.registry.manager import get_registry

        registry = get_registry(local)
    try:
        return Spec.model_validate(data, context={"registry": _registry(registry)})
    except ValidationError as exc:
        raise SpecError(issues_from_validation(exc, loaded, Spec), origin=loaded.origin) from None


def _default_name(origin: str) -> str:
    stem = Path(origin).stem
    cleaned = "".join(c if c.isalnum() or c in "_.-" else "-" for c in stem).strip("-.")
    return cleaned or "experiment"


def load_spec(
    source: str | Path,
    overrides: Iterable[str] = (),
    registry: Registry | None = None,
    *,
    allow_local_plugins: bool | None = None,
) -> Spec:
    """Read, override and validate a spec file.

    Args:
        source: path to a ``.yaml``/``.yml``/``.json`` spec.
        overrides: ``dotted.path=value`` strings, applied in order (later wins).
        registry: components to validate against (default: every loaded plugin).
        allow_local_plugins: see :func:`validate_loaded`.

    Raises:
        SpecError: the file cannot be read, or the spec is invalid.
    """
    loaded = load_file(source)
    problems = apply_overrides(loaded, overrides)
    try:
        spec = validate_loaded(loaded, registry, allow_local_plugins=allow_local_plugins)
    except SpecError as exc:
        raise SpecError([*problems, *exc.issues], origin=loaded.origin) from None
    if problems:
        raise SpecError(problems, origin=loaded.origin)
    return spec


def spec_from_data(data: dict[str, Any] | str, registry: Registry | None = None, *,
                   allow_local_plugins: bool | None = None) -> Spec:
    """Validate a spec given as a dict or as YAML/JSON text (for Python users)."""
    loaded = load_text(data) if isinstance(data, str) else Loaded(data=data, origin="<spec>")
    return validate_loaded(loaded, registry, allow_local_plugins=allow_local_plugins)


class _LockDumper(yaml.SafeDumper):
    """Short lists of scalars (shapes, metric names) stay on one line."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = len(data) <= 8 and all(not isinstance(v, (dict, list)) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_LockDumper.add_representer(list, _represent_list)


def fix_point(spec: Spec, values: dict[str, Any] | None = None,
              registry: Registry | None = None) -> tuple[Spec, dict[str, Any]]:
    """The spec with its search space fixed to ``values`` (default: the default point).

    Returns the concrete spec and the values used ({} for a spec without a space).
    The concrete spec is validated again, so a combination Keras cannot take is
    reported like any other spec error.
    """
    data = spec.model_dump(mode="json")
    if not search_space(data):
        return spec, {}
    point = default_point(data) if values is None else dict(values)
    concrete = substitute_data(data, point)
    registry = registry or registry_for(spec)
    try:
        return Spec.model_validate(concrete, context={"registry": registry}), point
    except ValidationError as exc:
        loaded = Loaded(data=concrete, origin=f"{spec.name} at {point}")
        raise SpecError(issues_from_validation(exc, loaded, Spec),
                        origin=loaded.origin) from None


def dump_spec(spec: Spec) -> str:
    """The resolved spec as YAML, every default written out (``spec.lock.yaml``)."""
    data = spec.model_dump(mode="json")
    if data.get("tuning") is None:  # only specs that declare a search keep the section
        data.pop("tuning", None)
    return yaml.dump(data, Dumper=_LockDumper, sort_keys=False, allow_unicode=True)
