"""Helpers shared by the side-by-side benchmarks (not a benchmark itself).

Every benchmark here runs each measurement in a fresh Python process and times it
from outside (interpreter start to exit); the code strings below are pasted into
those processes, identically on both sides, for attribution only.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MNIST_FILES = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
MNIST_TRAIN = 8_000  # the first 8,000 t10k images train, the last 2,000 test

# Pasted into both sides' processes after Keras is imported: wraps Model.fit to time
# each epoch (on_epoch_begin -> on_epoch_end, validation included) and the whole fit,
# and keeps the fitted model so its parameters can be counted after the timed work.
# Instrumentation only; the same on both sides.
FIT_TIMER = r'''
_FIT = {"epochs_s": [], "fit_s": 0.0, "model": None}
class _EpochTimer(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        self._began = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None):
        _FIT["epochs_s"].append(time.perf_counter() - self._began)
_plain_fit = keras.Model.fit
def _timed_fit(self, *args, callbacks=None, **kwargs):
    _FIT["model"] = self
    began = time.perf_counter()
    try:
        return _plain_fit(self, *args, callbacks=[*(callbacks or []), _EpochTimer()], **kwargs)
    finally:
        _FIT["fit_s"] += time.perf_counter() - began
keras.Model.fit = _timed_fit
def _fit_record():
    model = _FIT["model"]
    return {"epochs_s": _FIT["epochs_s"], "fit_s": _FIT["fit_s"],
            "params": int(model.count_params()) if model is not None else None,
            "layers": [[type(layer).__name__, int(layer.count_params())]
                       for layer in model.layers] if model is not None else None,
            "backend": keras.backend.backend()}
'''

# The declml side: the real ``declml`` command (the entry point ``python -m declml``
# runs), in a process that imports Keras and NumPy first, as the hand-written script
# does, so "work" (after those imports) is comparable: for declml it covers its CLI
# stack, spec, data, build, fit, evaluation, saving and the run's pictures.
# argv[1:] are the command's arguments; prints one JSON line last.
DECLML_DRIVER = r'''
import json, sys, time
t0 = time.perf_counter()
import keras
import numpy
t1 = time.perf_counter()
''' + FIT_TIMER + r'''
from declml.cli.main import main
argv = sys.argv[1:]
sys.argv = ["declml", *argv]
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
t2 = time.perf_counter()
sys.stdout.flush()
print("\n" + json.dumps({"exit_code": code, "imports_s": t1 - t0, "work_s": t2 - t1,
                         "total_s": t2 - t0, **_fit_record()}))
'''


def shared_data(arg: str | None) -> Path:
    """The shared data directory: ``--data``, else ``$DECLML_SHARED_DATA``, else
    ``../shared/data`` beside the repository."""
    if arg:
        return Path(arg).expanduser()
    env = os.environ.get("DECLML_SHARED_DATA", "").strip()
    return Path(env).expanduser() if env else REPO.parent / "shared" / "data"


def mnist_dir(data: Path) -> Path | None:
    """The directory holding the t10k IDX files: ``data`` itself or ``data/mnist-t10k``."""
    for candidate in (data, data / "mnist-t10k"):
        if all((candidate / name).is_file() for name in MNIST_FILES):
            return candidate
    return None


def _read_idx_gz(path: Path) -> np.ndarray:
    raw = gzip.decompress(path.read_bytes())
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw[4 + 4 * ndim:], dtype=np.uint8).reshape(shape)


def write_mnist_npz(directory: Path, target: Path) -> dict[str, Any]:
    """The t10k IDX files as an .npz: the first 8,000 images ``x_train``/``y_train``, the
    last 2,000 ``x_test``/``y_test`` (uint8 images, int64 labels). Both sides read it."""
    x = _read_idx_gz(directory / MNIST_FILES[0])
    y = _read_idx_gz(directory / MNIST_FILES[1]).astype("int64")
    if x.shape != (10_000, 28, 28) or y.shape != (10_000,):
        raise SystemExit(f"{directory}: unexpected MNIST shapes {x.shape}, {y.shape}")
    np.savez(target, x_train=x[:MNIST_TRAIN], y_train=y[:MNIST_TRAIN],
             x_test=x[MNIST_TRAIN:], y_test=y[MNIST_TRAIN:])
    return {"source": str(directory), "npz": str(target), "train": MNIST_TRAIN,
            "test": len(x) - MNIST_TRAIN,
            "how": "declml's mnist dataset reads a directory of t10k IDX files as one split "
                   "(and would hold out a stratified random 20 %), and has no option for "
                   "'first 8,000 / last 2,000'; so the IDX files are written once into an "
                   ".npz (x_train, y_train, x_test, y_test) in a temporary directory and "
                   "both sides read the same arrays (declml: --set data.path=THAT.npz)"}


def environment(backend: str | None = None) -> dict[str, str]:
    """The machine and the library versions of this interpreter (Keras not imported)."""
    from importlib.metadata import PackageNotFoundError, version

    info = {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpu": cpu_model(), "cpus": str(os.cpu_count()),
            "load_average": load_average()}
    names = ["keras", "keras-tuner", "numpy", "scikit-learn"]
    names += [backend] if backend else []
    names += ["jaxlib"] if backend == "jax" else []
    for name in names:
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = "not installed"
    return info


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def backend_name() -> str:
    return os.environ.get("KERAS_BACKEND", "").strip() or "jax"


def child_env(backend: str, python_path: str | None = None) -> dict[str, str]:
    env = {**os.environ, "KERAS_BACKEND": backend}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter, both sides
    if python_path:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (python_path, os.environ.get("PYTHONPATH", "")) if p)
    return env


def run_process(argv: Sequence[str], env: dict[str, str], what: str,
                timeout: float | None = None) -> tuple[float, dict[str, Any], str]:
    """Run one measured process from the repository root; returns (wall seconds, the JSON
    object on its last stdout line, its stdout+stderr). Exits with the output on failure."""
    began = time.perf_counter()
    out = subprocess.run(list(argv), capture_output=True, text=True, cwd=REPO, env=env,
                         timeout=timeout)
    wall = time.perf_counter() - began
    text = out.stdout + out.stderr
    lines = out.stdout.strip().splitlines()
    try:
        record = json.loads(lines[-1]) if lines else None
    except ValueError:
        record = None
    if out.returncode or not isinstance(record, dict) or record.get("exit_code"):
        raise SystemExit(f"{what} failed (exit {out.returncode}):\n{text[-4000:]}")
    return wall, record, text


def median(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return statistics.median(kept) if kept else None


def steady_epoch(epochs_s: Sequence[float]) -> float | None:
    """Median epoch time without the first (which includes compilation)."""
    return statistics.median(epochs_s[1:]) if len(epochs_s) > 1 else None


def check(name: str, value: float | None, target: float | None, unit: str = "ratio",
          *, kind: str = "le") -> dict[str, Any]:
    """One row of RESULTS.md's table: a value, its target (None: informational)."""
    passed = None
    if target is not None and value is not None:
        passed = value <= target if kind == "le" else value == target
    sign = "≤" if kind == "le" else "="
    return {"name": name, "value": value, "unit": unit,
            "target": None if target is None else f"{sign} {target:g}", "passed": passed}


def skip(reason: str, json_path: Path | None) -> None:
    """Report a clean skip (exit 0): a message, and ``{"skipped": reason}`` as JSON."""
    print(f"skipped: {reason}")
    if json_path:
        json_path.write_text(json.dumps({"skipped": reason}, indent=2))
    sys.exit(0)


def fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"
