"""Stage ④ for search: ``declml tune`` from a spec to trials.csv, best_spec.yaml and best/.

One process runs the whole search, or (``workers`` > 0) is the chief that holds
KerasTuner's oracle while worker processes train (:mod:`declml.search.distributed`).
Either way, the results are assembled here from the KerasTuner project on disk.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from declml.artifacts import RunDirectory
from declml.backend import import_keras
from declml.data.pipeline import Prepared, prepare
from declml.errors import DeclmlError, TuningError
from declml.registry.registry import Registry
from declml.search.plan import Plan, plan_search
from declml.search.project import (
    BEST_DIR,
    BEST_SPEC_FILE,
    PROJECT,
    TRIALS_FILE,
    SearchDirectory,
)
from declml.search.records import TrialRow, read_rows, trials_csv
from declml.spec.api import dump_spec, fix_point, registry_for
from declml.spec.sections import Spec

__all__ = ["SearchInterrupted", "TuneResult", "finish_search", "prepare_search", "tune"]


class SearchInterrupted(DeclmlError):
    """Ctrl-C during a search; finished trials are kept and the same command resumes."""

    exit_code = 130


@dataclass
class TuneResult:
    """What :func:`tune` produced."""

    run_dir: Path
    rows: list[TrialRow]
    names: list[str]
    objective: str
    direction: str
    best: TrialRow | None = None
    best_values: dict[str, Any] = field(default_factory=dict)
    test_metrics: dict[str, float] = field(default_factory=dict)
    resumed: bool = False


@dataclass
class Search:
    """Everything one process of a search needs."""

    plan: Plan
    directory: SearchDirectory
    registry: Registry
    backend: str
    log: Callable[[str], None]
    resumed: bool
    _data: Prepared | None = None

    @property
    def data(self) -> Prepared:
        if self._data is None:
            self._data = prepare(self.plan.spec, self.registry, log=self.log)
        return self._data

    def tuner(self, *, csv_per_trial: bool = True) -> Any:
        from declml.search.hypermodel import SpecHyperModel
        from declml.search.tuners import make_tuner

        hypermodel = SpecHyperModel(self.plan.spec, self.registry, lambda: self.data)
        with quiet_keras_tuner():
            return make_tuner(self.plan.spec, hypermodel, self.directory.path, PROJECT,
                              report=self.log, total=self.plan.total,
                              after_trial=(lambda: write_trials(self)) if csv_per_trial
                              else None)


@contextlib.contextmanager
def quiet_keras_tuner() -> Iterator[None]:
    """KerasTuner prints to stdout; declml keeps stdout for results."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def prepare_search(spec: Spec, output: str | Path | None, *, overwrite: bool = False,
                   worker: bool = False, registry: Registry | None = None,
                   log: Callable[[str], None] | None = None) -> Search:
    """Check the spec, pick the backend, open (or resume) the run directory."""
    registry = registry or registry_for(spec)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    plan = plan_search(spec, log)
    keras = import_keras(spec.backend)
    backend = keras.backend.backend()
    if spec.backend and spec.backend != backend:
        log(f"note: the spec asks for backend {spec.backend!r}, but KERAS_BACKEND={backend} "
            "overrides it")
    directory, resumed = SearchDirectory.open(output, plan.spec, overwrite=overwrite,
                                              worker=worker)
    if resumed and not worker:
        rows = read_rows(directory.project)
        done = sum(r.status in ("completed", "pruned", "failed") for r in rows)
        again = sum(r.status in ("running", "retrying") for r in rows)
        log(f"resuming the search in {directory.path}: {done} trial(s) finished"
            + (f", {again} interrupted one(s) will be run again" if again else ""))
    return Search(plan, directory, registry, backend, log, resumed)


def tune(spec: Spec, output: str | Path | None = None, *, overwrite: bool = False,
         registry: Registry | None = None, log: Callable[[str], None] | None = None,
         verbose: int = 0) -> TuneResult:
    """Search the spec's space with KerasTuner in this process.

    Args:
        spec: a validated spec that declares a search space.
        output: run directory (default ``runs/<name>-tune``); the same directory
            resumes the search when the spec is unchanged.
        overwrite: delete a search of a different spec found in ``output``.
        registry: components to use (default: every loaded plugin).
        log: where progress lines go (default: stderr).
        verbose: Keras ``fit`` verbosity inside trials (default: quiet).

    Raises:
        TuningError: the spec cannot be searched, the directory holds another search,
            or too many trials failed in a row (finished trials are kept).
        SearchInterrupted: Ctrl-C; re-running resumes.
    """
    search = prepare_search(spec, output, overwrite=overwrite, registry=registry, log=log)
    search.directory.record(status="running", mode="single process")
    started = time.perf_counter()
    search.data  # noqa: B018 - prepared (and its notes shown) before the first trial
    tuner = search.tuner()
    with _ending(search), quiet_keras_tuner():
        tuner.search(verbose=verbose)
        tuner.oracle.save()  # KerasTuner's last save still lists the last trial as running
    return finish_search(search, time.perf_counter() - started)


@contextlib.contextmanager
def _ending(search: Search) -> Iterator[None]:
    """Whatever ends the search, trials.csv and tune.json say where it stands."""
    try:
        yield
    except KeyboardInterrupt:
        write_trials(search)
        search.directory.record(status="interrupted", stopped=search.directory.now())
        raise SearchInterrupted(
            f"search interrupted; finished trials are kept in {search.directory.path}: run the "
            "same command again to resume (the interrupted trial is run again)") from None
    except BaseException as exc:
        rows = write_trials(search)
        search.directory.record(status="stopped", stopped=search.directory.now(),
                                error=str(exc))
        if isinstance(exc, TuningError):
            done = sum(r.scored for r in rows)
            failed = sum(r.status == "failed" for r in rows)
            raise type(exc)(f"{exc}\n  {done} trial(s) scored and {failed} failed so far are "
                            f"kept in {search.directory.path / TRIALS_FILE}; run the same "
                            "command to go on, or fix the spec and start over with "
                            "--overwrite") from None
        raise


def write_trials(search: Search) -> list[TrialRow]:
    rows = read_rows(search.directory.project)
    search.directory.write_text(TRIALS_FILE, trials_csv(rows, search.plan.names))
    return rows


def _best(rows: list[TrialRow], direction: str) -> TrialRow | None:
    scored = [r for r in rows if r.scored]
    if not scored:
        return None
    pick = max if direction == "max" else min
    return pick(scored, key=lambda r: r.score)  # type: ignore[arg-type,return-value]


def finish_search(search: Search, seconds: float) -> TuneResult:
    """trials.csv, the pictures, best_spec.yaml and best/ from the project on disk."""
    plan, directory = search.plan, search.directory
    tuning = plan.tuning
    rows = write_trials(search)
    best = _best(rows, tuning.goal)
    pictures = threading.Thread(target=_draw, args=(search, rows), daemon=True,
                                name="declml-search-plots")
    pictures.start()
    result = TuneResult(directory.path, rows, plan.names, tuning.objective, tuning.goal,
                        best, resumed=search.resumed)
    try:
        if best is None:
            failed = [r for r in rows if r.status == "failed"]
            reason = f"; the first error: {failed[0].error}" if failed and failed[0].error else ""
            raise TuningError(f"no trial of the search finished with a score ({len(rows)} "
                              f"trial(s), {len(failed)} failed){reason}; see "
                              f"{directory.path / TRIALS_FILE}")
        result.best_values, result.test_metrics = export_best(search, best)
    finally:
        pictures.join()
    directory.record(status="complete", finished=directory.now(),
                     seconds_this_session=round(seconds, 3), trials=len(rows),
                     best_trial=best.trial_id, best_score=best.score,
                     best_values=result.best_values, test_metrics=result.test_metrics)
    return result


def _draw(search: Search, rows: list[TrialRow]) -> None:
    from declml.search.plots import (
        HYPERPARAMETERS_FILE,
        OBJECTIVE_FILE,
        plot_hyperparameters,
        plot_objective,
    )

    tuning, path = search.plan.tuning, search.directory.path
    try:
        plot_objective(rows, tuning.objective, tuning.goal, path / OBJECTIVE_FILE,
                       title=search.plan.spec.name)
        names = [*search.plan.names, *(["tuner/epochs"] if tuning.tuner == "hyperband" else [])]
        plot_hyperparameters(rows, names, tuning.objective, path / HYPERPARAMETERS_FILE,
                             title=search.plan.spec.name)
    except Exception as exc:  # a picture is never worth losing a search
        search.log(f"warning: could not draw the search plots ({type(exc).__name__}: {exc})")


def best_spec(search: Search, best: TrialRow) -> tuple[Spec, dict[str, Any]]:
    """The searched spec at the best trial's values, ``tuning:`` removed; with its best
    epoch as ``fit.epochs`` so that ``declml train`` rebuilds the same model."""
    plan = search.plan
    values = {name: best.values.get(name) for name in plan.names}
    concrete, _ = fix_point(plan.spec, values, search.registry)
    fit = concrete.fit
    if best.best_epoch and not plan.tuning.folds:
        fit = fit.model_copy(update={"epochs": best.best_epoch})
    return concrete.model_copy(update={"tuning": None, "fit": fit}), values


def export_best(search: Search, best: TrialRow) -> tuple[dict[str, Any], dict[str, float]]:
    """Write best_spec.yaml and the best model's run directory ``best/``."""
    from declml.run.train import resolved_spec

    directory, plan = search.directory, search.plan
    spec, values = best_spec(search, best)
    data = search.data
    resolved = resolved_spec(spec, data, search.backend, search.registry)
    how = ("trained on the whole training split after k-fold scoring" if plan.tuning.folds
           else "fit.epochs is the trial's best epoch")
    header = (f"# The best of {plan.spec.name}'s search (trial {best.trial_id}, "
              f"{plan.tuning.objective} = {best.score:.6g}), written by declml tune.\n"
              f"# declml train reproduces the model in best/ ({how}).\n")
    directory.write_text(BEST_SPEC_FILE, header + dump_spec(resolved))
    target = directory.path / BEST_DIR
    info = RunDirectory(target).info
    if info.get("status") == "complete" and info.get("search_trial") == best.trial_id:
        return values, info.get("test_metrics", {})
    metrics = _best_run(search, spec, best, directory.path / f".{BEST_DIR}.partial")
    old = directory.path / f".{BEST_DIR}.old"
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    (directory.path / f".{BEST_DIR}.partial").rename(target)
    shutil.rmtree(old, ignore_errors=True)
    search.log(f"best model: trial {best.trial_id} → {target}")
    return values, metrics


def _best_run(search: Search, spec: Spec, best: TrialRow, path: Path) -> dict[str, float]:
    """The best model as a complete run directory: its checkpoint, evaluated on the test
    split; with k-fold scoring, trained again on the whole training split."""
    from declml.builder.model import build_model
    from declml.run.train import finish_run, start_run, train

    shutil.rmtree(path, ignore_errors=True)
    extra = {"search_trial": best.trial_id, "search_score": best.score,
             "search_objective": search.plan.tuning.objective}
    if search.plan.tuning.folds:
        search.log("training the best combination on the whole training split "
                   "(k-fold scoring keeps no single model)")
        def quiet(message: str) -> None:  # the partial directory's name would confuse
            if not message.startswith("run directory:"):
                search.log(message)

        result = train(spec, path, registry=search.registry, log=quiet, verbose=0)
        RunDirectory(path).record(**extra)
        return result.metrics
    checkpoint = search.directory.project / f"trial_{best.trial_id}" / "checkpoint.weights.h5"
    if not checkpoint.is_file():
        raise TuningError(f"the best trial's weights are missing ({checkpoint}); re-run the "
                          "search with --overwrite, or train best_spec.yaml")
    data = search.data
    model = build_model(spec, search.registry)
    with warnings.catch_warnings():  # the checkpoint's optimizer state is not needed
        warnings.filterwarnings("ignore", message=".*Skipping variable loading for optimizer")
        model.load_weights(str(checkpoint))
    model.optimizer.build(model.trainable_variables)  # saved like a trained model's
    run = start_run(path, spec, data, search.backend, search.registry, extra=extra)
    history = {k: v[: spec.fit.epochs] for k, v in best.history.items()}
    return finish_run(run, spec, model, data, history, search.registry, search.backend,
                      search.log, seconds=best.seconds or 0.0)
