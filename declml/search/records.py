"""One row per trial, read back from the KerasTuner project: ``trials.csv`` and friends.

KerasTuner keeps each trial in ``trial_NN/trial.json`` (values, score, best
step, status, error traceback); declml adds ``trial_NN/declml_trial.json``
beside it (duration, worker, the per-epoch curve, pruning, fold scores).
Rows are assembled from these files, so the chief of a distributed search,
a resumed run and a plain run all report the same way.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["RECORD_FILE", "TrialRow", "error_line", "read_rows", "trials_csv", "write_json"]

RECORD_FILE = "declml_trial.json"
_STATUS = {"COMPLETED": "completed", "FAILED": "failed", "INVALID": "retrying",
           "RUNNING": "running"}
_WRAPPERS = ("FailedTrialError", "FatalError", "FatalValueError", "FatalTypeError",
             "FatalRuntimeError", "ObjectiveNotLogged")


def write_json(path: Path, data: Any) -> str:
    """Write JSON atomically (a kill at any moment leaves the old or the new file);
    returns the text. KerasTuner's own state files are written through it too."""
    text = json.dumps(data)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return text


@dataclass
class TrialRow:
    """What is known about one trial."""

    trial_id: str
    status: str
    values: dict[str, Any]
    score: float | None
    best_epoch: int | None
    seconds: float | None = None
    error: str | None = None
    worker: str | None = None
    history: dict[str, list[float]] = field(default_factory=dict, repr=False)
    folds: list[float] | None = None

    @property
    def scored(self) -> bool:
        return self.status in ("completed", "pruned") and self.score is not None \
            and math.isfinite(self.score)


def error_line(message: str | None) -> str | None:
    """The last line of a trial's traceback, without KerasTuner's wrapper class names."""
    if not message:
        return None
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return None
    last = lines[-1]
    match = re.match(r"^(?:[\w.]+\.)?(\w+): (.*)$", last)
    if match:
        kind, text = match.groups()
        return text if kind in _WRAPPERS else f"{kind}: {text}"
    return last


def _load(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_rows(project: Path) -> list[TrialRow]:
    """Every trial in a KerasTuner project directory, in trial order."""
    rows = []
    for trial_file in sorted(project.glob("trial_*/trial.json")):
        state = _load(trial_file)
        if state is None:
            continue
        extra = _load(trial_file.with_name(RECORD_FILE)) or {}
        status = _STATUS.get(state.get("status"), str(state.get("status", "")).lower())
        score = state.get("score")
        score = float(score) if isinstance(score, (int, float)) else None
        if status == "completed" and extra.get("pruned_at"):
            status = "pruned"
        step = state.get("best_step")
        folds = extra.get("folds")
        best_epoch = (int(step) + 1 if isinstance(step, (int, float)) and score is not None
                      and not folds else None)
        error = error_line(state.get("message")) or extra.get("error")
        if status == "completed" and score is not None and not math.isfinite(score):
            status, error = "failed", error or "the objective was not a number"
        rows.append(TrialRow(
            trial_id=str(state.get("trial_id")), status=status,
            values=dict(state.get("hyperparameters", {}).get("values", {})),
            score=score if status in ("completed", "pruned") else None,
            best_epoch=best_epoch, seconds=extra.get("seconds"),
            error=error if status in ("failed", "retrying") else None,
            worker=extra.get("worker"), history=extra.get("history") or {}, folds=folds))
    return sorted(rows, key=lambda r: (0, int(r.trial_id), "") if r.trial_id.isdigit()
                  else (1, 0, r.trial_id))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def trials_csv(rows: list[TrialRow], names: list[str]) -> str:
    """The trials table as CSV: id, status, one column per hyperparameter, score, best
    epoch, duration, error (and the fold scores with k-fold scoring)."""
    extra = sorted({k for r in rows for k in r.values if k.startswith("tuner/")} & {
        "tuner/epochs", "tuner/initial_epoch", "tuner/bracket", "tuner/round"})
    folds = any(r.folds for r in rows)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial", "status", *names, *extra, "score", "best_epoch", "seconds",
                     *(["fold_scores"] if folds else []), "error"])
    for r in rows:
        writer.writerow([
            r.trial_id, r.status, *(_cell(r.values.get(n)) for n in [*names, *extra]),
            _cell(r.score), _cell(r.best_epoch),
            _cell(round(r.seconds, 2) if r.seconds is not None else None),
            *([" ".join(f"{v:.4g}" for v in r.folds or [])] if folds else []),
            r.error or ""])
    return out.getvalue()
