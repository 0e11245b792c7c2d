"""Stage ⑤: the run directory — everything a run leaves behind, written safely.

Layout::

    RUN_DIR/
      spec.lock.yaml   the resolved spec (defaults and --set overrides applied, absolute
                       data paths, the class names used to encode labels)
      run.json         status, timings, seed, spec hash, library versions, plugins used,
                       test metrics, class names and task, data_info from the loader,
                       pretrained-embedding coverage, the plots drawn
      transforms.json  fitted data transforms (only when the spec declares some)
      vocabulary.json  the text vocabulary built from the training split (text specs)
      history.json     per-epoch training metrics (rewritten after every epoch)
      metrics.json     test-split metrics
      model.keras      the trained model (Keras v3 format, loads with safe_mode)
      learning_curves.png, confusion_matrix.png   pictures of the run (classifiers get
                       the confusion matrix of the test split)

Files are written to a temporary name and renamed, so a crash never leaves a
half-written file, and an existing non-empty directory is never overwritten.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from declml.errors import ArtifactError

__all__ = ["RunDirectory", "library_versions"]

MODEL_FILE = "model.keras"
SPEC_FILE = "spec.lock.yaml"
RUN_FILE = "run.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
TUNE_FILE = "tune.json"  # a search directory (declml tune)
BEST_DIR = "best"  # its best model, a run directory


def library_versions() -> dict[str, str]:
    """Versions of what a run depends on, for reproducing it later."""
    out = {"python": platform.python_version()}
    for dist in ("declml", "keras", "keras-tuner", "numpy", "jax", "jaxlib", "tensorflow",
                 "tensorflow-cpu", "torch", "scikit-learn", "pydantic"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _finite(data: Any) -> Any:
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data


def _timestamp() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")


class RunDirectory:
    """A run directory being written."""

    #: the JSON file :meth:`record` keeps the directory's status in
    RECORD_FILE = RUN_FILE

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(
        cls, output: str | Path | None, name: str, root: str | Path = "runs"
    ) -> RunDirectory:
        """Make a fresh directory: ``output`` as given, or ``runs/<name>-<timestamp>``.

        Raises:
            ArtifactError: ``output`` exists and is not empty, or cannot be created.
        """
        if output is not None:
            path = Path(output)
            if path.exists() and not path.is_dir():
                raise ArtifactError(f"output {str(path)!r} exists and is a file, not a "
                                    "directory; choose a new --output")
            if path.exists() and any(path.iterdir()):
                raise ArtifactError(
                    f"output {str(path)!r} already exists and is not empty; declml never "
                    "overwrites a run: choose a new --output or remove the old one"
                )
        else:
            base = Path(root) / f"{name}-{_timestamp()}"
            path, n = base, 1
            while path.exists():
                n += 1
                path = base.with_name(f"{base.name}-{n}")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"cannot create run directory {str(path)!r}: {exc}") from None
        return cls(path)

    def write_text(self, name: str, text: str) -> Path:
        """Write a file atomically (temporary file, then rename)."""
        target = self.path / name
        tmp = target.with_name(f".{name}.tmp")
        try:
            tmp.write_text(text, encoding="utf-8")
            os.replace(tmp, target)
        except OSError as exc:
            raise ArtifactError(f"cannot write {target}: {exc}") from None
        return target

    def write_json(self, name: str, data: Any) -> Path:
        """Strict JSON: NaN and infinities (a diverged loss) are written as null."""
        return self.write_text(name, json.dumps(_finite(data), indent=2, allow_nan=False) + "\n")

    def save_model(self, model: Any) -> Path:
        """Save the Keras model atomically as ``model.keras``."""
        target = self.path / MODEL_FILE
        tmp = self.path / f".partial-{MODEL_FILE}"
        try:
            model.save(tmp)
            os.replace(tmp, target)
        except OSError as exc:
            raise ArtifactError(f"cannot save the model to {target}: {exc}") from None
        return target

    @property
    def info(self) -> dict[str, Any]:
        """What :meth:`record` has written so far ({} before the first record).

        Raises:
            ArtifactError: the file is damaged.
        """
        existing = self.path / self.RECORD_FILE
        if not existing.is_file():
            return {}
        try:
            return json.loads(existing.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ArtifactError(f"cannot read {existing}: {exc}") from None

    def record(self, **fields: Any) -> None:
        """Merge ``fields`` into ``run.json`` (a search directory's ``tune.json``)."""
        current = self.info
        current.update(fields)
        self.write_json(self.RECORD_FILE, current)

    @staticmethod
    def now() -> str:
        return datetime.now(timezone.utc).isoformat(timespec="seconds")

    @staticmethod
    def argv() -> list[str]:
        return list(sys.argv)
