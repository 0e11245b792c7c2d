"""``declml train SPEC``: train, evaluate on the test split, save a run directory."""

from __future__ import annotations

from rich.table import Table

from declml.cli.errors import console, err_console, guarded
from declml.cli.options import AllowLocalPlugins, Output, Overrides, SpecPath, allow_flag


@guarded
def train(spec: SpecPath, output: Output = None, overrides: Overrides = None,
          allow_local_plugins: AllowLocalPlugins = False) -> None:
    """Train the spec's model; the run directory's path is printed at the end."""
    from declml.spec.api import load_spec

    parsed = load_spec(spec, overrides or [],
                         allow_local_plugins=allow_flag(allow_local_plugins))
    from declml.run.train import train as run_training

    result = run_training(parsed, output,
                          log=lambda msg: err_console.print(msg, markup=False, highlight=False))
    table = Table(show_header=True)
    table.add_column(f"test metric ({parsed.name})")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        table.add_row(key, f"{value:.4f}")
    console.print(table)
    console.print(f"run saved to [bold]{result.run_dir}[/]")
