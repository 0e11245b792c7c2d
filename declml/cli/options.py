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

AllowLocalPlugins = Annotated[
    bool,
    typer.Option(
        "--allow-local-plugins",
        help="Load the local plugin modules the spec's 'plugins:' names. This runs their "
             "Python code: use it only for specs you trust (also: "
             "DECLML_ALLOW_LOCAL_PLUGINS=1).",
    ),
]

RunDir = Annotated[
    Path,
    typer.Argument(help="A run directory written by 'declml train'.", show_default=False,
                   metavar="RUN_DIR"),
]


def allow_flag(value: bool) -> bool | None:
    """The flag when given, else None (the environment variable decides)."""
    return True if value else None
