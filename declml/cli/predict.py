"""``declml predict RUN_DIR INPUT``: predictions of a saved model, one JSON line each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from declml.cli.errors import err_console, guarded
from declml.cli.options import AllowLocalPlugins, RunDir, allow_flag
from declml.errors import ArtifactError, DataError


@guarded
def predict(
    run_dir: RunDir,
    inputs: Annotated[Path, typer.Argument(
        help="Raw examples: .txt (one text per line), .csv/.tsv (the training columns), "
             ".jsonl/.json, .npy/.npz (array 'x'), image files or a directory of images; "
             "the run's preprocessing is applied.",
        show_default=False, metavar="INPUT")],
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the JSON lines to this file (never overwritten) "
        "instead of stdout.", show_default=False)] = None,
    allow_local_plugins: AllowLocalPlugins = False,
) -> None:
    """Predict with a trained run: one JSON line per example.

    Classifiers give the class (by name when the data named classes), its
    probability and all probabilities; regression models their values.
    """
    from declml.run.predict import format_predictions, predict_arrays, read_inputs
    from declml.run.saved import load_run

    if not inputs.exists():  # before loading the model: fail fast
        raise DataError(f"input file {str(inputs)!r} does not exist")
    run = load_run(run_dir, allow_local_plugins=allow_flag(allow_local_plugins))
    examples = read_inputs(inputs, run)
    records = format_predictions(predict_arrays(run, examples.x), class_names=run.class_names,
                                 task=run.task, ids=examples.ids)
    lines = "".join(json.dumps(r) + "\n" for r in records)
    if output is None:
        typer.echo(lines, nl=False)
        return
    try:
        with output.open("x", encoding="utf-8") as handle:
            handle.write(lines)
    except FileExistsError:
        raise ArtifactError(f"{output} exists; choose another --output") from None
    except OSError as exc:
        raise ArtifactError(f"cannot write {output}: {exc.strerror or exc}") from None
    err_console.print(f"wrote {len(records)} predictions to {output}")
