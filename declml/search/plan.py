"""What a search will do, checked before anything is trained or written.

Keras-free: ``declml tune`` refuses a spec it cannot search (no space, search
values in the data section, a grid over an unstepped float range) in
milliseconds, and knows how many trials a grid has.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from declml.errors import TuningError
from declml.spec.hyper import Hyper
from declml.spec.loader import format_path
from declml.spec.sections import Spec
from declml.spec.space import Dimension, active, search_space
from declml.spec.tuning import TuningSpec

__all__ = ["DEFAULT_VALIDATION", "Plan", "grid_values", "plan_search"]

DEFAULT_VALIDATION = 0.2  # of the training split, when the spec gives no validation
_GRID_LIMIT = 100_000


@dataclass
class Plan:
    """The spec as searched (validation filled in), its space and its trial budget."""

    spec: Spec
    tuning: TuningSpec
    names: list[str]
    total: int | None


def grid_values(hyper: Hyper) -> list[Any] | None:
    """Every value a grid visits for one hyperparameter (None: not enumerable)."""
    p = hyper.params
    if hyper.kind == "choice":
        return list(p["values"])
    if hyper.kind == "boolean":
        return [False, True]
    if hyper.kind == "fixed":
        return [p["value"]]
    if hyper.kind not in ("int", "float"):
        return None
    low, high, step = p["min"], p["max"], p["step"]
    if p["sampling"] == "linear":
        if step is None:
            if hyper.kind == "float":
                return None
            step = 1
        count = math.floor((high - low) / step + 1e-9) + 1  # the end included
        return [low + i * step for i in range(min(count, _GRID_LIMIT + 1))]
    if step is None:
        return None
    out, value = [], low
    while value <= high * (1 + 1e-9) and len(out) <= _GRID_LIMIT:
        out.append(value)
        value *= step
    return out


def _grid_size(space: list[Dimension]) -> int:
    points: list[dict[str, Any]] = [{}]
    for dim in space:
        values = grid_values(dim.hyper) or []
        grown: list[dict[str, Any]] = []
        for point in points:
            if active(dim, point):
                grown.extend({**point, dim.name: v} for v in values)
            else:
                grown.append({**point, dim.name: None})
            if len(grown) > _GRID_LIMIT:
                return _GRID_LIMIT
        points = grown
    return len(points)


def plan_search(spec: Spec, log: Callable[[str], None]) -> Plan:
    """Check that the spec can be searched and fill in what the search needs.

    Raises:
        TuningError: nothing to search, or a space this tuner cannot search.
    """
    tuning = spec.tuning or TuningSpec()
    data = spec.model_dump(mode="json")
    space = search_space(data)
    if not space:
        raise TuningError(
            f"spec {spec.name!r} declares no search space, so there is nothing to tune: write "
            "a search value where a value goes (units: {choice: [32, 64]}, learning_rate: "
            "{float: {min: 1e-4, max: 1e-2, sampling: log}}) or use declml train")
    in_data = [format_path(d.path) for d in space if d.path and d.path[0] == "data"]
    if in_data:
        raise TuningError(
            f"search values in the data section are not supported ({', '.join(in_data)}): "
            "the data is prepared once for the whole search; fix them, or run one search "
            "per value")
    if len(spec.model.input_names) != 1 or len(spec.model.output_names) != 1:
        raise TuningError(
            f"model {spec.name!r} has {len(spec.model.input_names)} inputs and "
            f"{len(spec.model.output_names)} outputs; declml tune trains models with one "
            "input and one output (like declml train)")
    total = tuning.max_trials
    if tuning.tuner == "grid":
        unstepped = [f"{d.name} is a {'float' if d.hyper.kind == 'float' else 'log-sampled int'}"
                     " range without a step" for d in space if grid_values(d.hyper) is None]
        if unstepped:
            raise TuningError(
                f"a grid search needs a finite list of values, but {'; '.join(unstepped)}: "
                "add step: (e.g. {float: {min: 0.1, max: 0.5, step: 0.1}}) or use tuner: "
                "random or bayesian")
        size = _grid_size(space)
        total = min(total, size) if total else size
    elif tuning.tuner != "hyperband":
        total = total or 10
    if tuning.folds is None and spec.fit.validation is None:
        log(f"note: trials are scored on {DEFAULT_VALIDATION:g} of the training split held "
            "out for validation (set fit.validation, or tuning.folds for k-fold scoring)")
        spec = spec.model_copy(update={"fit": spec.fit.model_copy(
            update={"validation": DEFAULT_VALIDATION})})
    elif spec.fit.validation == "test":
        log("warning: fit.validation is 'test': trials are scored on the test split, so the "
            "best model's test metrics are optimistic; prefer a fraction such as 0.2")
    if not tuning.objective.startswith("val_") and tuning.folds is None:
        log(f"note: the objective {tuning.objective!r} is a training metric; validation "
            f"metrics (val_{tuning.objective}) measure generalization")
    return Plan(spec, tuning, [d.name for d in space], total)
