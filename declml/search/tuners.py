"""KerasTuner's four tuners with what declml adds around each trial.

The search algorithms are KerasTuner's own (``GridSearch``, ``RandomSearch``,
``BayesianOptimization``, ``Hyperband``); a mixin adds: the space declared
from the spec without building models, a fresh Keras session per trial,
a record per trial (duration, curve, pruning), a live line per trial,
consecutive-failure stopping, atomic state files and a safe resume.
"""

from __future__ import annotations

import functools
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras_tuner as kt

from declml.builder.hyperparameters import declare
from declml.errors import TuningError
from declml.search.callbacks import TrialWatch
from declml.search.hypermodel import SpecHyperModel
from declml.search.records import RECORD_FILE, TrialRow, read_rows, write_json
from declml.spec.sections import Spec
from declml.spec.tuning import TuningSpec

__all__ = ["SearchStopped", "make_tuner"]

_TUNERS = {"grid": kt.GridSearch, "random": kt.RandomSearch,
           "bayesian": kt.BayesianOptimization, "hyperband": kt.Hyperband}
_NO_LIMIT = 10**9  # KerasTuner's own consecutive-failure stop is replaced by declml's


class SearchStopped(TuningError):
    """Too many trials failed in a row; the search stopped (finished trials are kept)."""


def _configure_keras_tuner() -> None:
    """Atomic state files; no traceback printed per failed trial (trials.csv keeps the
    message; DECLML_DEBUG=1 shows them)."""
    from keras_tuner.src import config as kt_config
    from keras_tuner.src import utils as kt_utils

    kt_utils.save_json = lambda path, obj: write_json(Path(str(path)), obj)
    # The Gaussian process's fit warns about its length scales on small searches.
    warnings.filterwarnings("ignore", module="sklearn.gaussian_process")
    kt_config.DEBUG = os.environ.get("DECLML_DEBUG", "").strip() not in ("", "0", "false", "no")


class _DeclmlTuner:
    """Mixed in before one of KerasTuner's tuners."""

    def __init__(self, *args: Any, report: Callable[[str], None], total: int | None,
                 tuning: TuningSpec, after_trial: Callable[[], Any] | None = None,
                 **kwargs: Any) -> None:
        self._report = report
        self._after_trial = after_trial
        self._total = total
        self._tuning = tuning
        self._reloaded = False
        self._watch: TrialWatch | None = None
        self._started: dict[str, float] = {}
        self._durations: list[float] = []
        self._failed_in_a_row = 0
        super().__init__(*args, **kwargs)
        oracle_file = Path(self.project_dir) / "oracle.json"
        if not self._reloaded and oracle_file.is_file() and isinstance(self.oracle, kt.Oracle):
            # Another tuner id (a chief, a single process) ran this search before.
            self.oracle.reload()
            self._requeue_orphans()

    # --- the space and resuming -------------------------------------------------------
    def _populate_initial_space(self) -> None:
        hp = self.oracle.get_space()
        declare(hp, self.hypermodel.spec)
        self.oracle.update_space(hp)

    def reload(self) -> None:
        super().reload()
        self._reloaded = True
        self._requeue_orphans()

    def _restore_grid_order(self) -> None:
        """KerasTuner's grid oracle does not save which combinations come next, so a
        reloaded grid search would stop at once; rebuild that order from the trials."""
        oracle = self.oracle
        if not isinstance(oracle, kt.oracles.GridSearchOracle):
            return
        try:
            from keras_tuner.src.tuners.gridsearch import LinkedList
        except ImportError:  # a KerasTuner that keeps its own order
            return
        trials = oracle.trials
        order = sorted(trials, key=functools.cmp_to_key(lambda a, b: oracle._compare(
            trials[a].hyperparameters.values, trials[b].hyperparameters.values)))
        linked, previous = LinkedList(), None
        for trial_id in order:
            linked.insert(trial_id, previous)
            previous = trial_id
        oracle._ordered_ids = linked
        oracle._populate_next = list(order)

    def _requeue_orphans(self) -> None:
        """Trials saved as running that the oracle does not know to retry (a kill between
        two of its writes) are retried too, never silently skipped."""
        oracle = self.oracle
        if not isinstance(oracle, kt.Oracle):
            return
        # KerasTuner saves its state before it lets go of an ended trial, so the last trial
        # of a session may still be listed as ongoing: only unfinished trials run again.
        ended = set(oracle.end_order)
        queue = [t for t in oracle._retry_queue if t in oracle.trials
                 and (t not in ended or oracle.trials[t].status == "INVALID")]
        oracle._retry_queue = list(dict.fromkeys(queue))
        busy = set(oracle._retry_queue) | {t.trial_id for t in oracle.ongoing_trials.values()}
        for trial_id, trial in oracle.trials.items():
            if trial.status == "RUNNING" and trial_id not in busy:
                oracle._retry_queue.append(trial_id)
        self._restore_grid_order()

    # --- one trial ------------------------------------------------------------------------
    def watch(self) -> TrialWatch:
        assert self._watch is not None, "no trial is running"
        return self._watch

    def on_trial_begin(self, trial: Any) -> None:
        # No clear_session here: KerasTuner's _try_build clears the session (and collects
        # garbage) before every model it builds; each extra full collection costs ~0.15 s.
        tuning = self._tuning
        reference = [r.history.get(tuning.objective, []) for r in self._rows()
                     if r.status == "completed"] if tuning.prune else []
        self._watch = TrialWatch(tuning.objective, tuning.goal, patience=tuning.patience,
                                 prune=tuning.prune, reference=reference)
        self.hypermodel.execution = 0
        self._started[trial.trial_id] = time.perf_counter()
        self._report(f"{self._label(trial)} started  {_values(trial.hyperparameters.values)}")
        super().on_trial_begin(trial)

    def on_trial_end(self, trial: Any) -> None:
        seconds = time.perf_counter() - self._started.pop(trial.trial_id, time.perf_counter())
        watch = self._watch
        record = {"worker": self.tuner_id, "seconds": round(seconds, 3)}
        if watch is not None:
            record.update(history=watch.history, pruned_at=watch.pruned_at, folds=watch.folds)
        write_json(Path(self.get_trial_dir(trial.trial_id)) / RECORD_FILE, record)
        super().on_trial_end(trial)
        self._durations.append(seconds)
        ended = self.oracle.get_trial(trial.trial_id)
        failed = ended.status in ("FAILED", "INVALID")
        self._failed_in_a_row = self._failed_in_a_row + 1 if failed else 0
        self._report(self._result_line(ended, seconds, watch))
        if self._after_trial is not None:
            self._after_trial()
        self._watch = None
        limit = self._tuning.max_consecutive_failures
        if self._failed_in_a_row >= limit:
            raise SearchStopped(
                f"the search stopped: {limit} trials failed in a row (tuning."
                "max_consecutive_failures); the last error: "
                f"{_last_error(ended) or 'unknown'}")

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> Any:
        self.hypermodel.execution = 0
        return super().run_trial(trial, *args, **kwargs)

    # --- reporting ------------------------------------------------------------------------
    def _rows(self) -> list[TrialRow]:
        return read_rows(Path(self.project_dir))

    def _label(self, trial: Any) -> str:
        who = "" if self.tuner_id in ("chief", "tuner0") else f"[{self.tuner_id}] "
        if not str(trial.trial_id).isdigit():
            return f"{who}trial {trial.trial_id}"
        return f"{who}trial {trial.trial_id} ({int(trial.trial_id) + 1}/{self._total or '?'})"

    def _result_line(self, trial: Any, seconds: float, watch: TrialWatch | None) -> str:
        objective = self._tuning.objective
        if trial.status == "COMPLETED" and trial.score is not None \
                and math.isfinite(trial.score):
            outcome = f"{objective}={trial.score:.4f}"
            if watch is not None and watch.pruned_at:
                outcome += f" (pruned at epoch {watch.pruned_at})"
        elif trial.status == "INVALID":
            outcome = f"crashed, will be retried: {_last_error(trial)}"
        else:
            outcome = f"failed: {_last_error(trial) or 'the objective was not a number'}"
        best = self.oracle.get_best_trials(1)
        best_text = ""
        if best and best[0].status == "COMPLETED" and best[0].score is not None:
            best_text = f"  best {best[0].score:.4f}"
        left = ""
        if self._total:
            done = sum(r.status in ("completed", "pruned", "failed") for r in self._rows())
            remaining = max(0, self._total - done)
            mean = sum(self._durations) / len(self._durations)
            left = f"  ~{_duration(remaining * mean)} left" if remaining else ""
        return (f"{self._label(trial)} {outcome}{best_text}  {_duration(seconds)}"
                f"  elapsed {_duration(sum(self._durations))}{left}")


def _values(values: dict[str, Any]) -> str:
    shown = {k: v for k, v in values.items() if not k.startswith("tuner/")}
    text = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in shown.items())
    if "tuner/epochs" in values:
        text += f" epochs={values['tuner/epochs']}"
    return text or "(default configuration)"


def _last_error(trial: Any) -> str | None:
    from declml.search.records import error_line

    return error_line(getattr(trial, "message", None))


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def make_tuner(spec: Spec, hypermodel: SpecHyperModel, directory: Path, project: str, *,
               report: Callable[[str], None], total: int | None,
               after_trial: Callable[[], Any] | None = None) -> Any:
    """The KerasTuner tuner the spec's ``tuning:`` section asks for."""
    _configure_keras_tuner()
    tuning = spec.tuning or TuningSpec()
    base = _TUNERS[tuning.tuner]
    cls = type(f"Declml{base.__name__}", (_DeclmlTuner, base), {})
    seed = (spec.seed if tuning.seed is None else tuning.seed) + 1  # KerasTuner treats 0 as unset
    common: dict[str, Any] = dict(
        hypermodel=hypermodel, objective=kt.Objective(tuning.objective, tuning.goal),
        seed=seed, max_retries_per_trial=tuning.max_retries,
        max_consecutive_failed_trials=_NO_LIMIT,
        executions_per_trial=1 if tuning.folds else tuning.executions_per_trial,
        directory=str(directory), project_name=project, overwrite=False,
        report=report, total=total, tuning=tuning, after_trial=after_trial)
    if tuning.tuner == "hyperband":
        settings = tuning.hyperband
        max_epochs = (settings.max_epochs if settings and settings.max_epochs
                      else spec.fit.epochs)
        common.update(max_epochs=max_epochs, factor=settings.factor if settings else 3,
                      hyperband_iterations=settings.iterations if settings else 1)
    else:
        common["max_trials"] = total or 10
    if tuning.tuner == "bayesian" and tuning.bayesian is not None:
        common.update(num_initial_points=tuning.bayesian.initial_points,
                      alpha=tuning.bayesian.alpha, beta=tuning.bayesian.beta)
    tuner = cls(**common)
    hypermodel._watch = tuner.watch
    return tuner
