"""The search's run directory: created once, resumed when the spec is the same,
refused when it changed (KerasTuner alone would silently keep the old space).

Layout::

    RUN_DIR/
      tune.json         status, the spec's fingerprint, tuner, objective, timings, best trial
      spec.lock.yaml    the resolved spec searched (search values kept)
      keras_tuner/      the KerasTuner project: oracle state, trial_NN/ (trial.json,
                        declml_trial.json, the best epoch's weights)
      trials.csv        one row per trial
      best_spec.yaml    the spec at the best trial's values: declml train reproduces it
      best/             a complete run directory of the best model (model.keras, ...)
      objective.png, hyperparameters.png
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path
from typing import Any

from declml.artifacts import BEST_DIR, SPEC_FILE, TUNE_FILE, RunDirectory, library_versions
from declml.errors import ArtifactError, TuningError
from declml.spec.api import dump_spec
from declml.spec.sections import Spec

__all__ = ["BEST_DIR", "BEST_SPEC_FILE", "PROJECT", "TRIALS_FILE", "TUNE_FILE",
           "SearchDirectory", "default_output", "fingerprint"]

PROJECT = "keras_tuner"
TRIALS_FILE = "trials.csv"
BEST_SPEC_FILE = "best_spec.yaml"

# Settings that may change between runs of one search without changing what it means:
# a larger budget extends the search, the failure and retry limits only apply from now on.
_FREE = (("description",), ("tuning", "max_trials"), ("tuning", "max_consecutive_failures"),
         ("tuning", "max_retries"))


def default_output(spec: Spec) -> Path:
    """``runs/<name>-tune``: fixed, so running the same command again resumes."""
    return Path("runs") / f"{spec.name}-tune"


def _searched(spec: Spec) -> dict[str, Any]:
    data = spec.model_dump(mode="json")
    for path in _FREE:
        parent = data
        for key in path[:-1]:
            parent = parent.get(key) or {}
        if isinstance(parent, dict):
            parent.pop(path[-1], None)
    return data


def fingerprint(spec: Spec) -> str:
    """A hash of everything that defines the search (data, model, space, objective...)."""
    text = json.dumps(_searched(spec), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in list(old) + [k for k in new if k not in old]:
            where = f"{path}.{key}" if path else str(key)
            if key not in old or key not in new:
                out.append(where)
            else:
                out.extend(_differences(old[key], new[key], where))
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out.extend(_differences(a, b, f"{path}[{i}]"))
        return out
    return [] if old == new else [path or "(the whole spec)"]


class SearchDirectory(RunDirectory):
    """A search's run directory."""

    RECORD_FILE = TUNE_FILE

    @property
    def project(self) -> Path:
        return self.path / PROJECT

    @classmethod
    def open(cls, output: str | Path | None, spec: Spec, *, overwrite: bool = False,
             worker: bool = False) -> tuple[SearchDirectory, bool]:
        """Create the directory, or resume the same search in it; returns (dir, resumed).

        Raises:
            TuningError: it holds a search of a different spec (``overwrite`` deletes any
                search found and starts over),
                or something that is not a search; a worker found no search to join.
        """
        path = Path(output) if output is not None else default_output(spec)
        found = cls(path)
        info = found.info
        if worker:
            if not info:
                raise TuningError(f"{path} holds no search to join: start the chief first "
                                  "(declml tune SPEC --chief ...) with the same --output")
            found._check_same(info, spec, hint="give the worker the chief's spec and --set")
            return found, True
        if path.exists() and not path.is_dir():
            raise ArtifactError(f"output {str(path)!r} is a file, not a directory")
        if info:
            if not overwrite:
                if info.get("fingerprint") == fingerprint(spec):
                    return found, True
                found._check_same(info, spec, hint="re-run with --overwrite to delete that "
                                  "search and start over, or choose another --output")
            shutil.rmtree(path)
        elif path.exists() and any(path.iterdir()):
            raise ArtifactError(
                f"output {str(path)!r} exists, is not empty and holds no declml search; "
                "declml will not delete it: choose another --output")
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ArtifactError(f"cannot create {str(path)!r}: {exc}") from None
        made = cls(path)
        made.write_text(SPEC_FILE, dump_spec(spec))
        made.record(status="running", name=spec.name, fingerprint=fingerprint(spec),
                    searched=_searched(spec), started=made.now(), command=made.argv(),
                    versions=library_versions())
        return made, False

    def _check_same(self, info: dict[str, Any], spec: Spec, hint: str) -> None:
        if info.get("fingerprint") == fingerprint(spec):
            return
        changed = _differences(info.get("searched", {}), _searched(spec))
        shown = ", ".join(changed[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6
                                           else "")
        raise TuningError(
            f"{self.path} holds a search of a different spec (changed: {shown or 'unknown'}); "
            f"resuming would mix two search spaces: {hint}")
