"""``declml evaluate RUN_DIR``: metrics of a saved model on its test split."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from declml.cli.errors import err_console, guarded
from declml.cli.options import AllowLocalPlugins, Overrides, RunDir, allow_flag
from declml.errors import ArtifactError


@guarded
def evaluate(
    run_dir: RunDir,
    data: Annotated[str | None, typer.Option(
        "--data", help="Evaluate on all of this file or folder instead (same layout as the "
        "training data; a dataset with its own test split is evaluated on that split).",
        show_default=False)] = None,
    overrides: Overrides = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Also write the metrics JSON to this file (never overwritten).",
        show_default=False)] = None,
    allow_local_plugins: AllowLocalPlugins = False,
) -> None:
    """Evaluate a trained run on its test split; metrics JSON on stdout, a table on stderr.

    --data other.csv evaluates on all of another file or folder with the same
    layout (--set data.path=... holds out a test split as in training instead).
    Labels are encoded with the run's classes; preprocessing, vocabulary and
    transforms are applied as saved, never refitted.
    """
    from declml.run.evaluate import evaluate as run_evaluation

    overrides = [*(overrides or []), *([f"data.path={data}"] if data is not None else [])]
    metrics = run_evaluation(run_dir, overrides, whole=data is not None,
                             allow_local_plugins=allow_flag(allow_local_plugins),
                             log=lambda msg: err_console.print(msg, markup=False,
                                                               highlight=False))
    table = Table(show_header=True)
    what = "test" if metrics["split"] == "test" else "evaluated"
    table.add_column(f"metric ({metrics['examples']} {what} examples)")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if key not in ("split", "examples"):
            table.add_row(key, f"{value:.4f}")
    err_console.print(table)
    text = json.dumps(metrics, indent=2)
    if output is not None:
        try:
            with output.open("x", encoding="utf-8") as handle:
                handle.write(text + "\n")
        except FileExistsError:
            raise ArtifactError(f"{output} exists; choose another --output") from None
        except OSError as exc:
            raise ArtifactError(f"cannot write {output}: {exc.strerror or exc}") from None
    typer.echo(text)
