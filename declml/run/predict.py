"""``declml predict``: run a saved model on new raw inputs, preprocessed as in training."""

from __future__ import annotations

from typing import Any

import numpy as np

from declml.errors import DataError, one_line
from declml.run.figures import class_predictions
from declml.run.inputs import INPUT_FORMATS, Inputs, read_inputs
from declml.run.saved import SavedRun

__all__ = ["INPUT_FORMATS", "Inputs", "check_model_shape", "format_predictions",
           "predict_arrays", "read_inputs"]


def predict_arrays(run: SavedRun, x: Any) -> np.ndarray:
    """Apply the run's saved preprocessing and transforms to raw inputs, then predict."""
    x = np.asarray(x) if not isinstance(x, np.ndarray) else x
    want = tuple(run.model.input_shape[1:])
    text = run.spec.data.preprocessing.text is not None
    if not text and x.dtype.kind not in "OUS" and x.ndim == len(want) and len(want) > 0 \
            and run.spec.data.preprocessing.reshape is None and x.ndim >= 1:
        x = x[None, ...]  # a single example
    if text and x.ndim == 0:
        x = x.reshape(1)
    x = run.pipeline(x, "input")
    if x.ndim == len(want):  # a single example after preprocessing (e.g. a reshape)
        x = x[None, ...]
    check_model_shape(x, want)
    try:
        return np.asarray(run.model.predict(x, batch_size=run.spec.fit.batch_size, verbose=0))
    except (ValueError, TypeError) as exc:
        raise DataError(f"the model could not predict on these inputs: {one_line(exc)}"
                        ) from None


def check_model_shape(x: np.ndarray, want: tuple[int | None, ...]) -> None:
    """Model-ready examples ``x`` fit an input of per-example shape ``want``, or a DataError."""
    got = tuple(x.shape[1:])
    if len(got) != len(want) or any(w not in (None, g) for w, g in zip(want, got, strict=True)):
        raise DataError(f"the model expects examples of shape {list(want)} (after "
                        f"preprocessing), got {list(got)}")


def format_predictions(outputs: np.ndarray, *, class_names: list[str] | None = None,
                       task: str | None = None,
                       ids: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """One JSON-ready record per example.

    Classifiers: the class (its name when the run knows names), its index, its
    probability and every class's probability; binary sigmoid models the same
    with two classes. Other models: the output values, in the target's units.
    """
    outputs = np.asarray(outputs)
    if task is None:
        task = "classification" if _looks_like_probabilities(outputs) else None
    predicted = class_predictions(outputs, task)
    records = []
    for i, row in enumerate(outputs):
        record: dict[str, Any] = dict(ids[i]) if ids and i < len(ids) else {}
        if predicted is None:
            values = np.asarray(row).tolist()
            record["prediction"] = values[0] if isinstance(values, list) and len(values) == 1 \
                else values
        else:
            probs = ([1.0 - float(row[0]), float(row[0])] if outputs.shape[1] == 1
                     else [float(p) for p in row])
            index = int(predicted[i])
            names = class_names if class_names and len(class_names) >= len(probs) else None
            record["class"] = names[index] if names else index
            record["class_index"] = index
            record["probability"] = round(probs[index], 6)
            record["probabilities"] = (
                {names[k]: round(p, 6) for k, p in enumerate(probs)} if names
                else [round(p, 6) for p in probs])
        records.append(record)
    return records


def _looks_like_probabilities(outputs: np.ndarray) -> bool:
    return bool(outputs.ndim == 2 and outputs.shape[1] > 1 and np.all(outputs >= 0)
                and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3))
