"""``declml tune SPEC``: search the spec's space with KerasTuner; resumable, distributed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from declml.cli.errors import console, err_console, guarded
from declml.cli.options import AllowLocalPlugins, Overrides, SpecPath, allow_flag
from declml.errors import TuningError

TuneOutput = Annotated[
    Path | None,
    typer.Option("--output", "-o", help="Search directory (default: runs/<name>-tune). Running "
                 "the same command again resumes the search there.", show_default=False),
]
_SHOWN = 10  # trials in the results table


def _log(message: str) -> None:
    err_console.print(message, markup=False, highlight=False)


@guarded
def tune(
    spec: SpecPath,
    output: TuneOutput = None,
    overrides: Overrides = None,
    overwrite: Annotated[bool, typer.Option(
        "--overwrite", help="Delete the search found in the output directory and start "
        "over (without it the same spec resumes and a different one is refused).")] = False,
    workers: Annotated[int, typer.Option(
        "--workers", "-w", min=0, help="Train in N worker processes on this machine "
        "(KerasTuner's distributed mode over 127.0.0.1; threads are shared out).")] = 0,
    chief: Annotated[bool, typer.Option(
        "--chief", help="Only hold the search (the oracle) at --oracle HOST:PORT and wait for "
        "workers started elsewhere with --worker; the output must be a shared directory.",
    )] = False,
    worker: Annotated[bool, typer.Option(
        "--worker", help="Join the search held by a chief at --oracle HOST:PORT and train its "
        "trials (same spec, --set and --output as the chief).")] = False,
    oracle: Annotated[str | None, typer.Option(
        "--oracle", metavar="HOST:PORT", help="The chief's address (with --chief or --worker).",
        show_default=False)] = None,
    tuner_id: Annotated[str | None, typer.Option(
        "--tuner-id", help="This worker's name (default: $KERASTUNER_TUNER_ID, else "
        "worker-<host>-<pid>); restarting a worker with the same name re-runs its trial.",
        show_default=False)] = None,
    verbose: Annotated[bool, typer.Option(
        "--verbose", "-v", help="Show Keras's per-epoch lines inside trials.")] = False,
    allow_local_plugins: AllowLocalPlugins = False,
) -> None:
    """Search the hyperparameter space the spec declares; writes trials.csv,
    best_spec.yaml and the best model (best/) into the search directory."""
    from declml.spec.api import load_spec

    if sum([bool(workers), chief, worker]) > 1:
        raise TuningError("use one of --workers, --chief and --worker")
    if (chief or worker) and not oracle:
        raise TuningError("--chief and --worker need --oracle HOST:PORT (the chief's address)")
    if oracle and not (chief or worker):
        raise TuningError("--oracle goes with --chief or --worker")
    parsed = load_spec(spec, overrides or [], allow_local_plugins=allow_flag(allow_local_plugins))
    fit_verbose = 2 if verbose else 0
    if worker:
        from declml.search.distributed import run_worker

        run_worker(parsed, output, oracle or "", tuner_id=tuner_id, log=_log,
                   verbose=fit_verbose)
        return
    if chief or workers:
        from declml.search.distributed import run_chief

        result = run_chief(parsed, output, spec_path=spec, overrides=overrides or [],
                           workers=workers, address=oracle, overwrite=overwrite, log=_log,
                           allow_local_plugins=allow_local_plugins, verbose=verbose)
    else:
        from declml.search.search import tune as run_search

        result = run_search(parsed, output, overwrite=overwrite, log=_log, verbose=fit_verbose)
    _results_table(result)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _results_table(result: Any) -> None:
    rows = result.rows
    scored = sorted([r for r in rows if r.scored], key=lambda r: r.score,
                    reverse=result.direction == "max")
    failed = [r for r in rows if r.status == "failed"]
    table = Table(title=f"best trials by {result.objective} ({result.direction})")
    table.add_column("trial")
    for name in result.names:
        table.add_column(name)
    table.add_column(result.objective, justify="right")
    table.add_column("epoch", justify="right")
    table.add_column("seconds", justify="right")
    for row in scored[:_SHOWN]:
        style = "bold" if result.best and row.trial_id == result.best.trial_id else None
        table.add_row(row.trial_id + (" (pruned)" if row.status == "pruned" else ""),
                      *(_fmt(row.values.get(n)) for n in result.names), _fmt(row.score),
                      _fmt(row.best_epoch),
                      f"{row.seconds:.1f}" if row.seconds is not None else "", style=style)
    console.print(table)
    summary = f"{len(rows)} trials: {len(scored)} scored"
    if len(scored) > _SHOWN:
        summary += f" ({_SHOWN} shown)"
    if failed:
        summary += f", {len(failed)} failed (see trials.csv)"
    console.print(summary)
    if result.test_metrics:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in result.test_metrics.items())
        console.print(f"best model on the test split: {metrics}")
    console.print(f"search saved to [bold]{result.run_dir}[/] (trials.csv, best_spec.yaml, "
                  "best/)")
