"""The pictures a finished run gets: learning curves and, for classifiers, a confusion matrix."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.pipeline import Prepared
from declml.run.plots import CONFUSION_MATRIX_FILE as CONFUSION_FILE
from declml.run.plots import LEARNING_CURVES_FILE as CURVES_FILE
from declml.spec.sections import Spec

__all__ = ["class_predictions", "draw_run_plots"]


def class_predictions(outputs: np.ndarray, task: str | None) -> np.ndarray | None:
    """Predicted class indices from model outputs, or None for a regression model."""
    outputs = np.asarray(outputs)
    if task == "regression" or outputs.ndim != 2:
        return None
    if outputs.shape[1] > 1:
        return np.argmax(outputs, axis=1)
    if task == "classification":  # one sigmoid unit: binary
        return (outputs[:, 0] > 0.5).astype("int64")
    return None


def _true_classes(y: np.ndarray) -> np.ndarray | None:
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:
        return np.argmax(y, axis=1)
    flat = y.reshape(len(y)) if y.ndim == 2 and y.shape[1] == 1 else y
    if flat.ndim == 1 and np.all(np.mod(flat, 1) == 0):
        return flat.astype("int64")
    return None


def draw_run_plots(run_dir: Path, model: Any, data: Prepared, history: dict[str, list[float]],
                   spec: Spec, log: Callable[[str], None]) -> list[str]:
    """Draw the run's PNGs; a plotting failure is a warning, never a failed run."""
    from declml.run.plots import plot_confusion_matrix, plot_learning_curves

    written: list[str] = []
    try:
        if plot_learning_curves(history, run_dir / CURVES_FILE, title=spec.name):
            written.append(CURVES_FILE)
        truth = _true_classes(data.test.y)
        if truth is not None and data.task != "regression":
            outputs = model.predict(**data.feed(data.test, batch_size=spec.fit.batch_size,
                                                name="test", targets=False), verbose=0)
            predicted = class_predictions(outputs, data.task)
            if predicted is not None:
                plot_confusion_matrix(truth, predicted, run_dir / CONFUSION_FILE,
                                      class_names=data.class_names,
                                      title=f"{spec.name}: test split")
                written.append(CONFUSION_FILE)
    except Exception as exc:  # a picture is never worth losing a finished run
        log(f"warning: could not draw the run's plots ({type(exc).__name__}: {exc})")
    return written
