"""Pictures of a search: the objective trial after trial, and against each hyperparameter."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from declml.run.plots import plain_text, save_figure
from declml.search.records import TrialRow

__all__ = ["HYPERPARAMETERS_FILE", "OBJECTIVE_FILE", "plot_hyperparameters", "plot_objective"]

OBJECTIVE_FILE = "objective.png"
HYPERPARAMETERS_FILE = "hyperparameters.png"
_COLUMNS = 3


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def plot_objective(rows: list[TrialRow], objective: str, direction: str, path: Path,
                   title: str = "") -> Path | None:
    """The score of every trial in order, the best so far as a step line, failures as x."""
    if not rows:
        return None
    fig = _figure(7, 4)
    ax = fig.add_subplot()
    xs = list(range(1, len(rows) + 1))
    scored = [(x, r.score) for x, r in zip(xs, rows, strict=True) if r.scored]
    if scored:
        ax.plot([x for x, _ in scored], [s for _, s in scored], "o", color="tab:blue",
                label="trial")
        best, steps = None, []
        for _x, score in scored:
            best = score if best is None or (score > best if direction == "max"
                                             else score < best) else best
            steps.append(best)
        ax.step([x for x, _ in scored], steps, where="post", color="tab:orange",
                label="best so far")
        low = min(s for _, s in scored)
        failed = [x for x, r in zip(xs, rows, strict=True) if r.status == "failed"]
        if failed:
            ax.plot(failed, [low] * len(failed), "x", color="tab:red", label="failed")
        ax.legend(loc="best", fontsize="small")
    ax.set_xlabel("trial")
    ax.set_ylabel(plain_text(objective))
    ax.grid(alpha=0.3)
    ax.set_title(plain_text(f"{title}: {objective} by trial ({direction})" if title
                            else f"{objective} by trial"))
    return save_figure(fig, path)


def plot_hyperparameters(rows: list[TrialRow], names: list[str], objective: str,
                         path: Path, title: str = "") -> Path | None:
    """One panel per hyperparameter: the objective of each scored trial against its value."""
    scored = [r for r in rows if r.scored]
    names = [n for n in names if any(r.values.get(n) is not None for r in scored)]
    if not scored or not names:
        return None
    cols = min(_COLUMNS, len(names))
    lines = math.ceil(len(names) / cols)
    fig = _figure(4 * cols, 3.2 * lines)
    for i, name in enumerate(names):
        ax = fig.add_subplot(lines, cols, i + 1)
        points = [(r.values.get(name), r.score) for r in scored if r.values.get(name) is not None]
        values = [v for v, _ in points]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)
        if numeric and len(set(values)) > 4:
            ax.plot(values, [s for _, s in points], "o", alpha=0.7)
            positive = all(v > 0 for v in values)
            if positive and max(values) / min(values) >= 100:
                ax.set_xscale("log")
        else:
            levels = sorted({str(v) for v in values}, key=lambda s: (len(s), s))
            if numeric:
                levels = [str(v) for v in sorted(set(values))]
            where = {level: k for k, level in enumerate(levels)}
            ax.plot([where[str(v)] for v in values], [s for _, s in points], "o", alpha=0.7)
            ax.set_xticks(range(len(levels)))
            ax.set_xticklabels([plain_text(level) for level in levels],
                               rotation=30 if max(len(lv) for lv in levels) > 6 else 0)
            ax.set_xlim(-0.5, len(levels) - 0.5)
        ax.set_xlabel(plain_text(name))
        ax.set_ylabel(plain_text(objective))
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(plain_text(title))
    fig.tight_layout()
    return save_figure(fig, path)
