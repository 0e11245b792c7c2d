"""The ``tuning:`` section: how ``declml tune`` searches the space the spec declares.

The space itself is declared inline (see :mod:`declml.spec.hyper`); this
section picks the KerasTuner algorithm, the objective and the budget. Every
field may be changed with ``--set tuning.FIELD=VALUE``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, Strict, model_validator

from declml.spec.base import StrictModel

__all__ = ["BayesianSettings", "HyperbandSettings", "PruneSettings", "TuningSpec",
           "objective_direction"]

PositiveInt = Annotated[int, Strict(), Field(gt=0)]

#: Words in a metric's name that say smaller is better, and ones that say larger is.
_SMALLER = ("loss", "error", "mae", "mse", "mape", "msle", "crossentropy", "hinge",
            "divergence", "poisson", "logcosh", "huber")
_LARGER = ("accuracy", "acc", "auc", "precision", "recall", "f1", "score", "iou",
           "r2", "true_positives", "true_negatives", "correlation")


def objective_direction(objective: str) -> str | None:
    """'min' or 'max' when the metric's name tells, else None."""
    name = objective.lower().removeprefix("val_")
    if any(word in name for word in _SMALLER):
        return "min"
    if any(word in name for word in _LARGER):
        return "max"
    return None


class HyperbandSettings(StrictModel):
    """Hyperband's budget: trials start short and the best ones are trained longer."""

    max_epochs: PositiveInt | None = Field(
        None, description="most epochs one model is trained for (default: fit.epochs)")
    factor: Annotated[int, Strict(), Field(ge=2)] = Field(
        3, description="reduction factor: each round keeps 1/factor of the models")
    iterations: PositiveInt = Field(1, description="times the whole Hyperband run is repeated")


class BayesianSettings(StrictModel):
    """Gaussian-process Bayesian optimization."""

    initial_points: PositiveInt | None = Field(
        None, description="random trials before the model guides the search "
                          "(default: 3 x the number of hyperparameters)")
    alpha: Annotated[float, Field(gt=0)] = Field(
        1e-4, description="noise expected in the scores (added to the kernel's diagonal)")
    beta: Annotated[float, Field(ge=0)] = Field(
        2.6, description="exploration: larger values try less-known regions more")


class PruneSettings(StrictModel):
    """Stop a trial whose objective is worse than the median of finished trials."""

    after_epochs: PositiveInt = Field(
        2, description="never stop a trial before this many epochs")
    min_trials: PositiveInt = Field(
        3, description="finished trials needed before any trial is compared with them")


class TuningSpec(StrictModel):
    """How ``declml tune`` searches (KerasTuner does the searching)."""

    tuner: Literal["grid", "random", "bayesian", "hyperband"] = Field(
        "random", description="grid: every combination; random; bayesian; hyperband")
    objective: str = Field(
        "val_loss", min_length=1,
        description="the metric that scores a trial, as Keras logs it: val_accuracy, val_loss")
    direction: Literal["min", "max"] | None = Field(
        None, description="whether smaller or larger objective values are better "
                          "(default: told by the metric's name)")
    max_trials: PositiveInt | None = Field(
        None, description="trials at most (default: every combination for grid, 10 for "
                          "random and bayesian; hyperband sizes itself)")
    executions_per_trial: PositiveInt = Field(
        1, description="models trained per trial (seeds seed, seed+1, ...); scores averaged")
    folds: Annotated[int, Strict(), Field(ge=2, le=50)] | None = Field(
        None, description="k-fold cross-validation: score each trial by the mean over k folds "
                          "of the training split (instead of fit.validation)")
    seed: Annotated[int, Strict(), Field(ge=0, le=2**31 - 2)] | None = Field(
        None, description="seeds the search algorithm (default: the spec's seed)")
    patience: PositiveInt | None = Field(
        None, description="early stopping inside a trial: stop after this many epochs "
                          "without a better objective")
    prune: PruneSettings | None = Field(
        None, description="stop clearly bad trials early (median stopping rule)")
    max_consecutive_failures: PositiveInt = Field(
        3, description="stop the search after this many failed trials in a row")
    max_retries: Annotated[int, Strict(), Field(ge=0)] = Field(
        0, description="times a trial that crashed (not an invalid combination) is retried")
    hyperband: HyperbandSettings | None = None
    bayesian: BayesianSettings | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TuningSpec:
        problems = []
        if self.hyperband is not None and self.tuner != "hyperband":
            problems.append(f"hyperband: settings apply only with tuner: hyperband (the tuner "
                            f"is {self.tuner}); remove them or set tuner: hyperband")
        if self.bayesian is not None and self.tuner != "bayesian":
            problems.append(f"bayesian: settings apply only with tuner: bayesian (the tuner "
                            f"is {self.tuner}); remove them or set tuner: bayesian")
        if self.tuner == "hyperband" and self.max_trials is not None:
            problems.append("Hyperband decides how many trials to run from hyperband.max_epochs "
                            "and hyperband.factor; remove max_trials")
        if self.tuner == "hyperband" and self.folds is not None:
            problems.append("Hyperband continues trials from earlier ones' weights, which "
                            "k-fold scoring cannot do; remove folds or pick another tuner")
        if self.direction is None and objective_direction(self.objective) is None:
            problems.append(f"cannot tell whether {self.objective!r} should go up or down; "
                            "add direction: max or direction: min")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def goal(self) -> str:
        """'min' or 'max'."""
        return self.direction or objective_direction(self.objective) or "min"


def tuning_default(value: Any) -> Any:
    """An empty ``tuning:`` means every default."""
    return {} if value is None else value
