"""``declml predict``: run a saved model on new inputs, preprocessed as in training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.preprocessing import preprocess_inputs
from declml.data.transforms import apply_transforms
from declml.errors import DataError, one_line
from declml.run.saved import SavedRun

__all__ = ["INPUT_FORMATS", "format_predictions", "predict_arrays", "read_inputs"]

INPUT_FORMATS = (".npy", ".npz", ".json", ".jsonl")


def read_inputs(path: str | Path) -> np.ndarray:
    """Examples from ``.npy``/``.npz`` (no pickle) or ``.json``/``.jsonl`` (nested lists).

    Raises:
        DataError: unreadable file, unknown format or ragged examples.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError(f"input file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            return np.load(p, allow_pickle=False)
        if suffix == ".npz":
            with np.load(p, allow_pickle=False) as archive:
                keys = list(archive.keys())
                key = "x" if "x" in keys else keys[0] if len(keys) == 1 else None
                if key is None:
                    raise DataError(f"{p} holds arrays {keys}; name the inputs 'x'")
                return archive[key]
        if suffix == ".json":
            examples = json.loads(p.read_text(encoding="utf-8"))
            if isinstance(examples, dict) and "instances" in examples:
                examples = examples["instances"]
        elif suffix == ".jsonl":
            lines = p.read_text(encoding="utf-8").splitlines()
            examples = [json.loads(line) for line in lines if line.strip()]
        else:
            raise DataError(f"cannot read {p.name}: supported input files are "
                            f"{', '.join(INPUT_FORMATS)}")
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read inputs from {p}: {one_line(exc)}") from None
    if not isinstance(examples, list) or not examples:
        raise DataError(f"{p} must hold a non-empty list of examples")
    try:
        return np.asarray(examples, dtype="float32")
    except ValueError:
        raise DataError(f"the examples in {p} do not all have the same shape, or hold "
                        "non-numbers") from None


def predict_arrays(run: SavedRun, x: np.ndarray) -> np.ndarray:
    """Preprocess raw inputs as the spec declares, apply the saved transforms, predict."""
    x = preprocess_inputs(np.asarray(x), run.spec.data.preprocessing, "input")
    x = apply_transforms(run.transforms, x)
    want = tuple(run.model.input_shape[1:])
    if x.ndim == len(want):  # a single example
        x = x[None, ...]
    got = tuple(x.shape[1:])
    if len(got) != len(want) or any(w not in (None, g) for w, g in zip(want, got, strict=True)):
        raise DataError(f"the model expects examples of shape {list(want)} (after "
                        f"preprocessing), got {list(x.shape[1:])}")
    return np.asarray(run.model.predict(x, batch_size=run.spec.fit.batch_size, verbose=0))


def format_predictions(outputs: np.ndarray) -> list[dict[str, Any]]:
    """One JSON-ready record per example: class and probabilities, or the values."""
    records = []
    probabilities = outputs.ndim == 2 and outputs.shape[1] > 1 and bool(
        np.all(outputs >= 0) and np.allclose(outputs.sum(axis=1), 1.0, atol=1e-3))
    for row in outputs:
        if probabilities:
            records.append({"class": int(np.argmax(row)),
                            "probabilities": [round(float(p), 6) for p in row]})
        else:
            values = np.asarray(row).tolist()
            records.append({"prediction": values})
    return records
