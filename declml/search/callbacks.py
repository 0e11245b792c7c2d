"""What watches one trial while it trains: its curve, NaN losses, a missing
objective, early stopping on the objective, and the median stopping rule."""

from __future__ import annotations

import math
import statistics
from typing import Any

import keras
import keras_tuner as kt

from declml.errors import TuningError
from declml.registry.registry import did_you_mean
from declml.spec.tuning import PruneSettings

__all__ = ["ObjectiveNotLogged", "TrialWatch"]


class ObjectiveNotLogged(TuningError, kt.errors.FatalError):
    """The objective is not among the metrics Keras logs: no trial could be scored."""


class TrialWatch:
    """The state of one trial that its callbacks share (one per trial)."""

    def __init__(self, objective: str, direction: str, *, patience: int | None = None,
                 prune: PruneSettings | None = None,
                 reference: list[list[float]] | None = None) -> None:
        self.objective = objective
        self.direction = direction
        self.patience = patience
        self.prune = prune
        self.reference = reference or []
        self.history: dict[str, list[float]] = {}  # of the trial's first model
        self.pruned_at: int | None = None
        self.folds: list[float] | None = None

    def better(self, a: float, b: float) -> bool:
        return a > b if self.direction == "max" else a < b

    def best_in(self, curve: list[float]) -> float:
        """The best finite value of an objective curve (NaN when there is none)."""
        values = [v for v in curve if math.isfinite(v)]
        if not values:
            return math.nan
        return max(values) if self.direction == "max" else min(values)

    def best_of(self, history: dict[str, list[float]]) -> float:
        return self.best_in(history.get(self.objective, []))

    def callbacks(self, first: bool) -> list[Any]:
        """Fresh callbacks for one ``fit`` (the first model of a trial records its curve)."""
        out: list[Any] = [_Watcher(self, record=first)]
        if self.patience:
            out.append(keras.callbacks.EarlyStopping(
                monitor=self.objective, mode=self.direction, patience=self.patience))
        return out

    def should_prune(self, epoch: int, curve: list[float]) -> bool:
        """The median stopping rule: after ``after_epochs``, stop when this trial's best so
        far is worse than the median best-so-far of the finished trials at this epoch."""
        rule = self.prune
        if rule is None or epoch < rule.after_epochs:
            return False
        others = [self.best_in(ref[:epoch]) for ref in self.reference if len(ref) >= epoch]
        others = [v for v in others if math.isfinite(v)]
        if len(others) < rule.min_trials:
            return False
        mine = self.best_in(curve)
        return math.isfinite(mine) and self.better(statistics.median(others), mine)


class _Watcher(keras.callbacks.Callback):
    def __init__(self, watch: TrialWatch, record: bool) -> None:
        super().__init__()
        self.watch = watch
        self.record = record
        self.curve: list[float] = []

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs or {}
        watch = self.watch
        if watch.objective not in logs:
            names = sorted(logs)
            raise ObjectiveNotLogged(
                f"tuning.objective {watch.objective!r} is not a metric Keras logs for this "
                f"model (it logs: {', '.join(names)}){did_you_mean(watch.objective, names)}; "
                "validation metrics need fit.validation or tuning.folds")
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            raise kt.errors.FailedTrialError(
                f"the loss became {float(loss)} at epoch {epoch + 1}; the learning rate may "
                "be too high for this combination")
        if self.record:
            for key, value in logs.items():
                watch.history.setdefault(key, []).append(float(value))
        self.curve.append(float(logs[watch.objective]))
        if watch.should_prune(len(self.curve), self.curve):
            watch.pruned_at = epoch + 1
            self.model.stop_training = True
