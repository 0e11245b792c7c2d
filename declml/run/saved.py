"""Open a finished run directory: its spec, its plugins, its transforms and its model.

Used by ``declml evaluate``, ``declml predict`` and ``declml serve``. The
plugins the run recorded are loaded (and their saved classes registered with
Keras) *before* the model is loaded, always with ``safe_mode=True``, so a
``.keras`` file can never run code on load.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from declml.artifacts import BEST_DIR, MODEL_FILE, RUN_FILE, SPEC_FILE, TUNE_FILE
from declml.backend import import_keras
from declml.data.pipeline import InputPipeline
from declml.data.preprocessing import Preprocessor
from declml.data.transforms import TRANSFORMS_FILE, FittedTransform, restore_transforms
from declml.errors import ArtifactError, PluginError, one_line
from declml.registry.registry import Registry
from declml.run.plugins import check_recorded_plugins, load_saved_classes
from declml.spec.sections import Spec

__all__ = ["SavedRun", "load_run"]


@dataclass
class SavedRun:
    """Everything needed to use a trained model again."""

    path: Path
    spec: Spec
    info: dict[str, Any]
    registry: Registry
    model: Any = field(repr=False)
    pipeline: InputPipeline

    @property
    def transforms(self) -> list[FittedTransform]:
        """The fitted ``data.transforms`` the run saved (part of :attr:`pipeline`)."""
        return self.pipeline.transforms

    @property
    def class_names(self) -> list[str] | None:
        """Names of the classes, index = label, when the training data named them."""
        names = self.info.get("class_names")
        return [str(n) for n in names] if isinstance(names, list) else None

    @property
    def task(self) -> str | None:
        return self.info.get("task")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ArtifactError(f"cannot read {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise ArtifactError(f"{path} is not valid JSON ({exc}); the run directory is "
                            "damaged") from None


def _check_layout(run_dir: Path) -> None:
    if not run_dir.is_dir():
        raise ArtifactError(f"run directory {str(run_dir)!r} does not exist; pass the path "
                            "'declml train' printed (runs/<name>-<time>)")
    missing = [f for f in (RUN_FILE, SPEC_FILE, MODEL_FILE) if not (run_dir / f).is_file()]
    if missing and (run_dir / TUNE_FILE).is_file():
        raise ArtifactError(f"{run_dir} is a search directory (declml tune); its best model is "
                            f"the run directory {run_dir / BEST_DIR}")
    if missing:
        status = ""
        if (run_dir / RUN_FILE).is_file():
            info = _read_json(run_dir / RUN_FILE)
            status = f" (the run's status is {info.get('status', 'unknown')!r})"
        raise ArtifactError(f"{run_dir} is not a complete run directory: missing "
                            f"{', '.join(missing)}{status}")


def load_run(run_dir: str | Path, overrides: Iterable[str] = (), *,
             allow_local_plugins: bool | None = None) -> SavedRun:
    """Load a run directory's spec, plugins, transforms and model.

    Args:
        run_dir: a directory written by ``declml train``.
        overrides: ``--set`` values applied to the saved spec (e.g. a new
            ``data.path`` to evaluate on).
        allow_local_plugins: reload local plugin modules the run used.

    Raises:
        ArtifactError: the directory is missing, incomplete or damaged.
        PluginError: a plugin the run used is not installed.
    """
    from declml.registry.manager import get_registry
    from declml.spec.api import allowed_local_plugins, load_spec
    from declml.spec.loader import load_file

    path = Path(run_dir).expanduser()
    _check_layout(path)
    info = _read_json(path / RUN_FILE)
    recorded = info.get("plugins") or []
    saved = load_file(path / SPEC_FILE).data
    local = tuple(saved.get("plugins") or []) if isinstance(saved, dict) else ()
    if local and not allowed_local_plugins(allow_local_plugins):
        raise PluginError(
            f"{path} was trained with local plugin modules ({', '.join(local)}); loading "
            "them runs their code: pass --allow-local-plugins (or set "
            "DECLML_ALLOW_LOCAL_PLUGINS=1) if you trust them")
    registry = get_registry(local)
    check_recorded_plugins(recorded, registry, path)  # before the spec names them
    spec = load_spec(path / SPEC_FILE, overrides, registry, allow_local_plugins=True)
    keras = import_keras(info.get("backend") or spec.backend)
    load_saved_classes(recorded, registry)
    try:
        model = keras.saving.load_model(path / MODEL_FILE, safe_mode=True)
    except Exception as exc:  # Keras raises many types for a bad file
        raise ArtifactError(f"cannot load {path / MODEL_FILE}: {one_line(exc)}") from None
    transforms: list[FittedTransform] = []
    if (path / TRANSFORMS_FILE).is_file():
        transforms = restore_transforms(_read_json(path / TRANSFORMS_FILE), registry)
    preprocessor = Preprocessor.load(spec.data.preprocessing, path)
    return SavedRun(path, spec, info, registry, model, InputPipeline(preprocessor, transforms))
