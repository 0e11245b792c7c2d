"""Arguments and options shared by several commands."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

SpecPath = Annotated[
    Path,
    typer.Argument(help="Spec file (.yaml, .yml or .json).", show_default=False,
                   metavar="SPEC"),
]

Overrides = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", metavar="PATH=VALUE",
        help="Override a spec value, e.g. --set fit.epochs=3 or --set data.path=./mnist "
             "(value read as YAML; repeatable; validated like the file).",
        show_default=False,
    ),
]

Output = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Run directory to create "
                 "(default: runs/<name>-<timestamp>). Never overwritten.",
                 show_default=False),
]
