"""``model_card.md``: a short, human-readable summary of a finished run.

Written by the plugin's ``declml_run_finished`` hook. Only the standard
library is used, and the spec is read through its plain-data dump, so the
card does not depend on declml's internal classes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

__all__ = ["CARD_FILE", "render_model_card", "write_model_card"]

CARD_FILE = "model_card.md"
_PLUGIN = "example"  # the entry-point name: qualified names are "example.Name"


def write_model_card(run_dir: Path, spec: Any, metrics: dict[str, float]) -> Path | None:
    """Write ``run_dir/model_card.md`` atomically; never replaces an existing card.

    Returns:
        The card's path, or None when ``run_dir`` already had one.
    """
    run_dir = Path(run_dir)
    target = run_dir / CARD_FILE
    if target.exists():
        return None
    text = render_model_card(spec, metrics, _run_record(run_dir))
    fd, temporary = tempfile.mkstemp(prefix=f".{CARD_FILE}.", suffix=".tmp", dir=run_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        try:
            os.link(temporary, target)  # atomic, and fails if a card appeared meanwhile
        except FileExistsError:
            return None
        except OSError:  # a file system without hard links
            if target.exists():
                return None
            os.replace(temporary, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    return target


def _run_record(run_dir: Path) -> dict[str, Any]:
    """declml's ``run.json`` (backend, duration...), or {} if it is missing or unreadable."""
    try:
        record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def render_model_card(spec: Any, metrics: dict[str, float],
                      record: dict[str, Any] | None = None) -> str:
    """The card's Markdown text for a validated spec and its test metrics.

    ``record`` is the run's ``run.json``, if there is one: the spec handed to
    the hook does not say which backend ran it or how long it took.
    """
    record = record or {}
    from declml_example.plugin import COMPONENTS

    data = spec.model_dump(mode="json")
    section = data.get("data", {})
    model = data.get("model", {})
    compiled = data.get("compile", {})
    fit = data.get("fit", {})
    lines = [f"# Model card: {data.get('name')}", ""]
    lines += [data.get("description") or "_The spec has no description._", ""]

    lines += ["## Data", ""]
    own = ("dataset", "test_split", "stratify", "preprocessing", "transforms")
    options = {k: v for k, v in section.items() if k not in own}
    lines.append(f"- Dataset: `{section.get('dataset')}`"
                 + (f" ({_arguments(options)})" if options else ""))
    if section.get("test_split") is not None:
        lines.append(f"- Test split: {section['test_split']:g} of the data, held out by declml "
                     f"(seed {data.get('seed')})")
    steps = {k: v for k, v in (section.get("preprocessing") or {}).items() if v is not None}
    if steps:
        lines.append(f"- Preprocessing: {_arguments(steps)}")
    if section.get("transforms"):
        lines.append("- Transforms: " + ", ".join(_component(t) for t in section["transforms"]))

    lines += ["", "## Model", ""]
    if model.get("input_shape") is not None:
        lines += [f"Input shape: `{_value(model['input_shape'])}`", ""]
    elif model.get("inputs"):
        lines += ["Inputs: " + ", ".join(f"`{name}` {_value(item.get('shape'))}"
                                         for name, item in model["inputs"].items()), ""]
    for number, layer in enumerate(model.get("layers", []), start=1):
        lines.append(f"{number}. {_component(layer)}")

    lines += ["", "## Training", ""]
    lines.append(f"- Optimizer: {_component(compiled.get('optimizer'))}")
    lines.append(f"- Loss: {_component(compiled.get('loss'))}")
    if compiled.get("metrics"):
        lines.append(f"- Metrics: {_component(compiled['metrics'])}")
    lines.append(f"- Epochs: {_value(fit.get('epochs'))}, batch size "
                 f"{_value(fit.get('batch_size'))}, validation {_value(fit.get('validation'))}")
    if fit.get("callbacks"):
        lines.append(f"- Callbacks: {_component(fit['callbacks'])}")
    backend = record.get("backend") or data.get("backend")
    if backend:
        lines.append(f"- Backend: {backend}")
    if isinstance(record.get("seconds"), (int, float)):
        done = record.get("epochs_completed")
        lines.append(f"- Trained in {record['seconds']:.1f} s"
                     + (f" ({done} epochs)" if isinstance(done, int) else ""))

    lines += ["", "## Test metrics", "", "| Metric | Value |", "| --- | --- |"]
    for name, value in metrics.items():
        lines.append(f"| {_cell(name)} | {_number(value)} |")
    if not metrics:
        lines.append("| (none) | |")

    used = _used_components(data, COMPONENTS)
    if used:
        lines += ["", "## Components from declml-example", ""]
        lines += [f"- `{name}` ({kind})" for kind, name in used]

    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += ["", f"_Written by the declml-example plugin on {stamp}._", ""]
    return "\n".join(lines)


def _used_components(data: dict[str, Any],
                     components: dict[str, tuple[str, ...]]) -> list[tuple[str, str]]:
    """(kind, name) of this plugin's components the spec uses, in order of first use."""
    kinds = {name: kind for kind, names in components.items() for name in names}
    found: list[tuple[str, str]] = []

    def note(name: Any) -> None:
        if not isinstance(name, str):
            return
        plain = name[len(_PLUGIN) + 1:] if name.startswith(_PLUGIN + ".") else name
        if plain in kinds and (kinds[plain], plain) not in found:
            found.append((kinds[plain], plain))

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            note(value.get("type"))
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    note(data.get("data", {}).get("dataset"))
    walk(data.get("model"))
    walk(data.get("compile"))
    return found


def _component(value: Any) -> str:
    """``{type: Dense, units: 3}`` → ``Dense (units: 3)``, for one line of Markdown."""
    if isinstance(value, list):
        return ", ".join(_component(item) for item in value)
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        rest = {k: v for k, v in value.items() if k != "type"}
        return f"`{value['type']}`" + (f" ({_arguments(rest)})" if rest else "")
    if isinstance(value, dict):  # a block use, a shared layer, or output name → component
        return "; ".join(f"{key}: {_component(item)}" for key, item in value.items())
    if isinstance(value, str):
        return f"`{value}`"
    return _value(value)


def _arguments(values: dict[str, Any]) -> str:
    return ", ".join(f"{key}: {_value(item)}" for key, item in values.items())


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _number(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return _cell(str(value))
    return f"{number:.4f}" if math.isfinite(number) else "n/a"


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
