"""``declml schema``: print the spec's JSON Schema, including installed plugins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from declml.cli.errors import err_console, guarded
from declml.errors import ArtifactError


@guarded
def schema(
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write to this file instead of standard output.",
        show_default=False)] = None,
) -> None:
    """Print the JSON Schema (draft 2020-12) of a spec, for editors and CI checks.

    Covers every registered component with its arguments — built-ins and the
    installed plugins. Point YAML editors at it with a first line like
    '# yaml-language-server: $schema=declml.schema.json'.
    """
    from declml.spec.schema import spec_schema

    text = json.dumps(spec_schema(), indent=2, ensure_ascii=False) + "\n"
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ArtifactError(f"cannot write {output}: {exc}") from None
    err_console.print(f"wrote {output}")
