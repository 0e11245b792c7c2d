"""The ``declml`` command: one module per verb, wired together here.

Nothing here imports Keras; commands import what they need when they run, so
``declml --help`` and ``declml validate`` stay fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from declml.cli.build import build
from declml.cli.evaluate import evaluate
from declml.cli.plugin_commands import PluginCommandGroup
from declml.cli.plugins import plugins
from declml.cli.predict import predict
from declml.cli.schema import schema
from declml.cli.serve import serve
from declml.cli.train import train
from declml.cli.tune import tune
from declml.cli.validate import validate

app = typer.Typer(
    cls=PluginCommandGroup,
    name="declml",
    help="Declarative deep learning: describe an experiment in one YAML spec; declml "
         "validates it, builds the Keras model, trains it and saves the run.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from importlib import metadata

        try:
            version = metadata.version("declml")
        except metadata.PackageNotFoundError:
            version = "unknown (not installed)"
        typer.echo(f"declml {version}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    """Declarative deep learning on Keras 3."""


app.command("validate")(validate)
app.command("build")(build)
app.command("train")(train)
app.command("tune")(tune)
app.command("evaluate")(evaluate)
app.command("predict")(predict)
app.command("serve")(serve)
app.command("schema")(schema)
app.command("plugins")(plugins)


def main() -> None:
    """Console-script entry point."""
    app()
