"""The pictures a run directory gets, as PNG: learning curves and a confusion matrix.

A person opening a run directory should see at a glance whether training went
well, without starting Python: ``learning_curves.png`` shows every metric per
epoch (train and validation on the same axes, so over-fitting is visible) and
``confusion_matrix.png`` shows which classes a classifier mixes up.

Decisions:

* Only matplotlib's object-oriented API (:class:`~matplotlib.figure.Figure` with
  the Agg canvas) is used, never ``pyplot``: no global state, no GUI backend,
  safe to call from any thread or a headless server.
* matplotlib (and numpy) are imported inside the functions, so importing this
  module costs nothing for commands that never draw.
* Files are written to a temporary name in the same directory and renamed, like
  every other run-directory file (:mod:`declml.artifacts`).
* The learning rate (``learning_rate`` or ``lr``), when present, gets its own
  last panel on a log scale (linear when a value is not positive): a schedule
  or ``ReduceLROnPlateau`` explains bends in the other curves.
* Non-finite values (NaN, infinities, ``None`` from JSON ``null``, a diverged
  loss) are skipped rather than drawn or raising; a panel with nothing left says
  so. Short series are drawn with markers, so one epoch is still visible.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from declml.errors import ArtifactError

if TYPE_CHECKING:
    import numpy as np
    from matplotlib.figure import Figure

__all__ = [
    "CONFUSION_MATRIX_FILE",
    "LEARNING_CURVES_FILE",
    "confusion_counts",
    "plain_text",
    "plot_confusion_matrix",
    "plot_learning_curves",
    "save_figure",
]

LEARNING_CURVES_FILE = "learning_curves.png"
CONFUSION_MATRIX_FILE = "confusion_matrix.png"

DPI = 100
_VAL = "val_"
_LR_KEYS = ("learning_rate", "lr")
_MARKERS_UP_TO = 30  # epochs; longer curves are plain lines
_ANNOTATE_UP_TO = 20  # classes; more and the numbers no longer fit in a cell
_BOTH_NUMBERS_UP_TO = 10  # classes; up to here a cell shows count and percent
_LONG_NAME = 3  # characters; longer x tick labels are rotated
_MAX_NAME = 20  # characters; longer class names are shortened with "…"


# --- learning curves -----------------------------------------------------------------


def plot_learning_curves(
    history: dict[str, list[float]], path: Path, *, title: str = ""
) -> Path | None:
    """Draw one panel per metric, train and validation together, and save it as PNG.

    Args:
        history: Keras history as declml writes it (``history.json``): metric name to
            per-epoch values; ``val_<name>`` is the validation curve of ``<name>``.
        path: where to write the PNG (its directory is created if needed).
        title: drawn above all panels when given.

    Returns:
        ``path``, or ``None`` when the history holds no epoch at all (nothing is
        written then: an empty picture would only mislead).

    Raises:
        ArtifactError: the file cannot be written.
    """
    panels = _panels(history)
    if not panels:
        return None
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    n = len(panels)
    epochs = max(len(values) for _, curves in panels for _, values in curves)
    ncols = 2 if n == 4 else min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(4.8 * ncols, 3.4 * nrows + (0.4 if title else 0.0)), dpi=DPI,
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).ravel()
    for ax, (name, curves) in zip(axes, panels, strict=False):
        drawn = False
        for label, values in curves:
            xs = [i + 1 for i, v in enumerate(values) if v is not None]
            ys = [v for v in values if v is not None]
            if not ys:
                continue
            marker = "o" if len(values) <= _MARKERS_UP_TO else None
            ax.plot(xs, ys, label=label, marker=marker, markersize=4,
                    linestyle="-" if len(ys) > 1 else "none")
            drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "no finite values", ha="center", va="center",
                    transform=ax.transAxes, color="grey")
            ax.set_yticks([])
        elif name in _LR_KEYS and all(v > 0 for _, vs in curves for v in vs if v is not None):
            ax.set_yscale("log")
        if drawn:  # even alone: a lone curve may be the validation one
            ax.legend()
        ax.set_xlabel("epoch")
        ax.set_xlim(0.5, epochs + 0.5)  # the same epochs on every panel, even a single one
        ax.set_ylabel(plain_text(name))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax.grid(True, alpha=0.3)
    for ax in axes[n:]:
        ax.set_visible(False)
    if title:
        fig.suptitle(plain_text(title))
    return save_figure(fig, path)


def _panels(history: dict[str, Any]) -> list[tuple[str, list[tuple[str, list[float | None]]]]]:
    """Group history keys into panels: loss first, then metrics as Keras logged them.

    Each panel is ``(metric, [(label, values), ...])``; values are floats or ``None``
    where not finite. Keys without any value are dropped.
    """
    series = {str(k): _finite_values(v) for k, v in history.items()}
    series = {k: v for k, v in series.items() if v}
    names: list[str] = []
    for key in series:
        base = key[len(_VAL):] if key.startswith(_VAL) and len(key) > len(_VAL) else key
        if base not in names:
            names.append(base)
    rank = {name: i for i, name in enumerate(names)}
    names.sort(key=lambda n: (0 if n == "loss" else 2 if n in _LR_KEYS else 1, rank[n]))
    panels = []
    for name in names:
        curves = [(label, series[key]) for label, key in
                  (("train", name), ("validation", _VAL + name)) if key in series]
        panels.append((name, curves))
    return panels


def _finite_values(values: Any) -> list[float | None]:
    if not isinstance(values, Sequence) or isinstance(values, (str, bytes)):
        return []
    out: list[float | None] = []
    for v in values:
        try:
            f = float(v)
        except (TypeError, ValueError):
            f = math.nan
        out.append(f if math.isfinite(f) else None)
    return out


# --- confusion matrix ----------------------------------------------------------------


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, n: int) -> np.ndarray:
    """Count (true, predicted) pairs: row = true class, column = predicted class.

    Args:
        y_true: integer class labels, shape ``(samples,)``.
        y_pred: integer class labels, same shape.
        n: number of classes; every label must be in ``0..n-1``.

    Returns:
        An ``(n, n)`` int64 array whose entries sum to the number of samples.

    Raises:
        ValueError: lengths differ, or a label is outside ``0..n-1``.
    """
    import numpy as np

    t = np.asarray(y_true, dtype=np.int64).ravel()
    p = np.asarray(y_pred, dtype=np.int64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} labels but y_pred has {p.size}; "
                         "pass one prediction per example")
    for name, labels in (("y_true", t), ("y_pred", p)):
        if labels.size and (labels.min() < 0 or labels.max() >= n):
            raise ValueError(f"{name} holds labels from {labels.min()} to {labels.max()} "
                             f"but classes are 0..{n - 1}; pass n greater than every label")
    return np.bincount(t * n + p, minlength=n * n).reshape(n, n)


def plot_confusion_matrix(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    path: Path,
    *,
    class_names: list[str] | None = None,
    title: str = "",
    normalize: bool = True,
) -> Path:
    """Draw the confusion matrix of a classifier and save it as PNG.

    Classes are ``0..n-1`` with ``n = max(len(class_names), largest label + 1)``;
    classes without a name are labelled by their index. Up to 20 classes each cell
    is annotated (count and row percent up to 10 classes, count alone above);
    above that the colour alone tells, and tick labels shrink with the class count.

    Args:
        y_true: integer class labels, shape ``(samples,)``. One-hot or probability
            rows (shape ``(samples, classes)``) are reduced with argmax.
        y_pred: predicted labels, in the same forms as ``y_true``.
        path: where to write the PNG (its directory is created if needed).
        class_names: tick labels, in class-index order.
        title: drawn above the matrix when given.
        normalize: colour by each true class's share (rows sum to 1), so rare classes
            are as readable as common ones; ``False`` colours by raw counts.

    Returns:
        ``path``.

    Raises:
        ValueError: no labels and no class names, lengths differ, or labels are
            negative or not integers.
        ArtifactError: the file cannot be written.
    """
    import numpy as np

    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    names = [str(c) for c in (class_names or [])]
    top = max([int(a.max()) for a in (t, p) if a.size] or [-1])
    n = max(len(names), top + 1)
    if n == 0:
        raise ValueError("no labels and no class names: there is no confusion matrix to draw")
    counts = confusion_counts(t, p, n)
    names += [str(i) for i in range(len(names), n)]
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)
    colour = shares if normalize else counts

    from matplotlib.figure import Figure

    side = min(24.0, max(5.0, 3.0 + 0.45 * min(n, 30) + 0.06 * max(n - 30, 0)))
    fig = Figure(figsize=(side + 1.2, side + (0.3 if title else 0.0)), dpi=DPI,
                 layout="constrained")
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(1, int(counts.max()))
    image = ax.imshow(colour, cmap="Blues", vmin=0, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04,
                 label="share of true class" if normalize else "count")
    if n <= _ANNOTATE_UP_TO:
        _annotate(ax, counts, shares, colour, vmax)
    _class_ticks(ax, names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(plain_text(title))
    return save_figure(fig, path)


def _labels(y: Any, name: str) -> np.ndarray:
    """Integer labels from labels, a column of labels, or one-hot/probability rows."""
    import numpy as np

    a = np.asarray(y)
    if a.ndim == 2 and a.shape[1] > 1:
        a = a.argmax(axis=1)
    a = a.ravel()
    integral = np.issubdtype(a.dtype, np.integer) or (
        np.issubdtype(a.dtype, np.floating) and bool(np.all(np.isfinite(a) & (a == np.round(a))))
    )
    if a.size and not integral:
        raise ValueError(f"{name} must hold integer class labels, got dtype {a.dtype} "
                         "with non-integer values; pass class indices 0..n-1")
    a = a.astype(np.int64)
    if a.size and a.min() < 0:
        raise ValueError(f"{name} holds the negative label {a.min()}; class labels are "
                         "indices 0..n-1")
    return a


def _annotate(ax: Any, counts: Any, shares: Any, colour: Any, vmax: float) -> None:
    n = counts.shape[0]
    both = n <= _BOTH_NUMBERS_UP_TO
    size = 10 if n <= 5 else 8 if both else 7
    for i in range(n):
        for j in range(n):
            text = f"{counts[i, j]}\n{shares[i, j]:.0%}" if both else f"{counts[i, j]}"
            dark = colour[i, j] > 0.55 * vmax
            ax.text(j, i, text, ha="center", va="center", fontsize=size,
                    color="white" if dark else "black")


def _class_ticks(ax: Any, names: list[str]) -> None:
    n = len(names)
    step = max(1, math.ceil(n / 100))  # beyond 100 classes, label every step-th one
    ticks = list(range(0, n, step))
    labels = [plain_text(_shorten(names[i])) for i in ticks]
    size = 9 if n <= 20 else 8 if n <= 30 else max(5, 8 - (n - 30) // 25)
    long = max(len(s) for s in labels) > _LONG_NAME
    ax.set_xticks(ticks, labels, fontsize=size,
                  rotation=(90 if n > 30 else 45) if long else 0,
                  ha="right" if long and n <= 30 else "center",
                  rotation_mode="anchor" if long and n <= 30 else "default")
    ax.set_yticks(ticks, labels, fontsize=size)


def _shorten(name: str) -> str:
    return name if len(name) <= _MAX_NAME else name[: _MAX_NAME - 1] + "…"


# --- shared ----------------------------------------------------------------------


def plain_text(s: str) -> str:
    """Literal text for matplotlib: ``$`` would otherwise start mathtext."""
    return s.replace("$", r"\$")


def save_figure(fig: Figure, path: Path) -> Path:
    """Render with Agg to a temporary file beside ``path``, then rename it into place."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    path = Path(path)
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # A unique name (two threads may draw the same picture); "xb" keeps the
        # umask's permissions, which mkstemp's 0600 would not.
        tmp = str(path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"))
        with open(tmp, "xb") as out:
            fig.savefig(out, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.1)
        os.replace(tmp, path)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise ArtifactError(f"cannot write {path}: {exc}") from None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return path
