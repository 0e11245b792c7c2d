"""The pictures a finished run gets: learning curves and, for classifiers, a confusion matrix.

Drawing them costs about a second of matplotlib (mostly its import), so the
learning curves are drawn on a background thread while the model is saved and
evaluated, and a plotting failure is only ever a warning: a picture is never
worth losing a finished run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.pipeline import Prepared
from declml.run.plots import CONFUSION_MATRIX_FILE as CONFUSION_FILE
from declml.run.plots import LEARNING_CURVES_FILE as CURVES_FILE
from declml.spec.sections import Spec

__all__ = ["RunPlots", "class_predictions"]


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


class RunPlots:
    """Draws a run's PNGs: ``curves`` right after ``fit``, ``confusion`` after evaluating."""

    def __init__(self, run_dir: Path, spec: Spec, log: Callable[[str], None]) -> None:
        self.run_dir = run_dir
        self.spec = spec
        self.log = log
        self.written: list[str] = []
        self._thread: threading.Thread | None = None

    def _guarded(self, name: str, draw: Callable[[], Any]) -> None:
        try:
            if draw():
                self.written.append(name)
        except Exception as exc:
            self.log(f"warning: could not draw {name} ({type(exc).__name__}: {exc})")

    def curves(self, history: dict[str, list[float]]) -> None:
        """Start drawing the learning curves in the background (history is copied)."""
        from declml.run.plots import plot_learning_curves

        snapshot = {k: list(v) for k, v in history.items()}
        path, title = self.run_dir / CURVES_FILE, self.spec.name
        self._thread = threading.Thread(
            target=self._guarded, name="declml-plots", daemon=True,
            args=(CURVES_FILE, lambda: plot_learning_curves(snapshot, path, title=title)))
        self._thread.start()

    def confusion(self, model: Any, data: Prepared) -> None:
        """A confusion matrix of the test split, for classifiers."""
        truth = _true_classes(data.test.y)
        if truth is None or data.task == "regression":
            return

        def draw() -> bool:
            from declml.run.plots import plot_confusion_matrix

            outputs = model.predict(**data.feed(data.test, batch_size=self.spec.fit.batch_size,
                                                name="test", targets=False), verbose=0)
            predicted = class_predictions(outputs, data.task)
            if predicted is None:
                return False
            plot_confusion_matrix(truth, predicted, self.run_dir / CONFUSION_FILE,
                                  class_names=data.class_names,
                                  title=f"{self.spec.name}: test split")
            return True

        self._guarded(CONFUSION_FILE, draw)

    def finish(self) -> list[str]:
        """Wait for the background drawing; the files written, curves first."""
        if self._thread is not None:
            self._thread.join()
        return sorted(self.written, key=lambda name: name != CURVES_FILE)
