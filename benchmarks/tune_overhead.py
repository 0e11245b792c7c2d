"""declml tune vs the same grid search written by hand with KerasTuner, side by side.

The search is specs/seed_grid_search.yaml: the digits CNN over optimizer {adam, rmsprop} ×
activation {relu, tanh} × learning_rate {0.001, 0.01} = 8 trials, scored by val_accuracy
on a validation fifth of the training split, the best model exported and evaluated on a
0.2 test split (seed 0).

* **declml**: the real command, ``python -m declml tune SPEC -o DIR --set fit.epochs=E``
  (writes trials.csv, best_spec.yaml, the search plots and best/ — a full run directory:
  model, metrics, learning curves, confusion matrix, model card).
* **hand-written**: what a user writes without declml: ``keras_tuner.GridSearch`` with a
  ``build(hp)`` that builds the identical Sequential model (same layers, compile settings,
  seed), the same data (scikit-learn digits split, rescaled, reshaped and one-hot encoded
  exactly as declml does, so the scores are comparable trial by trial), then
  ``tuner.search(...)``, ``tuner.get_best_models(1)[0].save(...)`` and ``evaluate`` on the
  test split.

Each side runs in a fresh process (a clean Keras session, imports paid alike), on the same
backend, alternating which goes first in each repeat. **The timed quantity is the whole
process's wall time** measured from outside (interpreter start, imports, data, search,
export, exit), the same for both sides; the medians and their ratio declml / hand-written
are reported (target ≤ 1.05). For attribution, each side also reports the time spent
inside its trials (from KerasTuner's ``on_trial_begin`` to ``on_trial_end``; declml's
trials.csv, the hand-written side's own two hooks), so "outside trials" = imports, data,
tuner set-up, bookkeeping between trials, export and exit. The split is not exact: the
first model built in a process costs 1–2 s more (JAX compiles its initializers); the
hand-written side pays that outside the trials, when KerasTuner builds the model once to
discover the search space, declml (which declares the space from the spec) inside trial 0.

    KERAS_BACKEND=jax python benchmarks/tune_overhead.py [--epochs 5] [--repeats 3]
                                                         [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SPEC = "specs/seed_grid_search.yaml"

# argv: output directory, epochs. Prints one JSON line.
HAND_WRITTEN = r'''
import json, sys, time
t0 = time.perf_counter()
import keras
import keras_tuner as kt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
t_imported = time.perf_counter()
out, epochs = sys.argv[1], int(sys.argv[2])

# The data as declml prepares it: a stratified hold-out of round(0.2 n) test examples
# (seed 0), then round(0.2 n_train) validation examples (seed 1), indices kept in order;
# pixels * 1/16 as float32, reshaped to 8x8x1; one-hot float32 targets.
d = load_digits()
x = (d.images.astype("float32") * np.float32(1 / 16)).reshape(-1, 8, 8, 1)
labels = d.target.astype("int64")
y = np.zeros((len(labels), 10), dtype="float32")
y[np.arange(len(labels)), labels] = 1.0

def holdout(index, fraction, seed):
    keep, held = train_test_split(index, test_size=round(len(index) * fraction),
                                  random_state=seed, shuffle=True, stratify=labels[index])
    return np.sort(keep), np.sort(held)

train, test = holdout(np.arange(len(x)), 0.2, 0)
fit, val = holdout(train, 0.2, 1)

def build(hp):
    keras.utils.set_random_seed(0)  # declml seeds every build with the spec's seed
    activation = hp.Choice("activation", ["relu", "tanh"])
    model = keras.Sequential([
        keras.Input((8, 8, 1)),
        keras.layers.Conv2D(32, 3, padding="same", activation=activation),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(64, 3, padding="same", activation=activation),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10, activation="softmax"),
    ])
    optimizer = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}[
        hp.Choice("optimizer", ["adam", "rmsprop"])]
    model.compile(optimizer=optimizer(learning_rate=hp.Choice("learning_rate", [0.001, 0.01])),
                  loss="categorical_crossentropy", metrics=["accuracy"])
    return model

class TimedGridSearch(kt.GridSearch):
    """GridSearch, with the time inside each trial noted (instrumentation only)."""
    spent = 0.0
    def on_trial_begin(self, trial):
        self._began = time.perf_counter()
        super().on_trial_begin(trial)
    def on_trial_end(self, trial):
        self.spent += time.perf_counter() - self._began
        super().on_trial_end(trial)

t_data = time.perf_counter()
tuner = TimedGridSearch(build, objective="val_accuracy", seed=1, directory=out,
                        project_name="kt", overwrite=True)
tuner.search(x[fit], y[fit], epochs=epochs, batch_size=32, validation_data=(x[val], y[val]),
             verbose=0)
t_searched = time.perf_counter()
best = tuner.get_best_models(1)[0]
best.save(out + "/best.keras")
test_metrics = best.evaluate(x[test], y[test], batch_size=32, return_dict=True, verbose=0)
t_exported = time.perf_counter()
trials = tuner.oracle.trials.values()
print(json.dumps({
    "scores": [[t.hyperparameters.get(n) for n in ("activation", "optimizer", "learning_rate")]
               + [t.score] for t in trials],
    "best_score": tuner.oracle.get_best_trials(1)[0].score,
    "best_values": tuner.get_best_hyperparameters(1)[0].values,
    "test_accuracy": float(test_metrics["accuracy"]),
    "in_trials_s": tuner.spent,
    "imports_s": t_imported - t0,
    "search_s": t_searched - t_data,
    "export_s": t_exported - t_searched,
}))
'''


def _env(backend: str) -> dict[str, str]:
    return {**os.environ, "KERAS_BACKEND": backend}


def run_hand(epochs: int, backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tune-hand-") as tmp:
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", HAND_WRITTEN, tmp, str(epochs)],
                             capture_output=True, text=True, cwd=REPO, env=_env(backend))
        wall = time.perf_counter() - began
    if out.returncode:
        raise SystemExit(f"the hand-written search failed:\n{out.stderr[-3000:]}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["scores"] = {tuple(row[:3]): row[3] for row in result["scores"]}
    return {**result, "wall_s": wall}


def run_declml(epochs: int, backend: str, spec: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="tune-declml-") as tmp:
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "declml", "tune", spec, "-o", tmp + "/run",
                              "--set", f"fit.epochs={epochs}"],
                             capture_output=True, text=True, cwd=REPO, env=_env(backend))
        wall = time.perf_counter() - began
        if out.returncode:
            raise SystemExit(f"declml tune failed:\n{out.stderr[-3000:]}")
        run = Path(tmp) / "run"
        record = json.loads((run / "tune.json").read_text())
        with (run / "trials.csv").open(newline="") as f:
            rows = list(csv.DictReader(f))
    scores = {(r["activation"], r["optimizer"], float(r["learning_rate"])): float(r["score"])
              for r in rows}
    return {"scores": scores, "best_score": record["best_score"],
            "best_values": record["best_values"],
            "test_accuracy": record["test_metrics"]["accuracy"],
            "in_trials_s": sum(float(r["seconds"]) for r in rows),
            "session_s": record["seconds_this_session"], "wall_s": wall}


def measure(repeats: int, epochs: int, backend: str, spec: str) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"hand": [], "declml": []}
    for i in range(repeats):
        order = ["hand", "declml"] if i % 2 == 0 else ["declml", "hand"]
        for side in order:
            result = (run_hand(epochs, backend) if side == "hand"
                      else run_declml(epochs, backend, spec))
            runs[side].append(result)
            print(f"  repeat {i + 1}/{repeats} {side}: {result['wall_s']:.1f} s, "
                  f"{result['in_trials_s']:.1f} s in trials, best val_accuracy "
                  f"{result['best_score']:.4f}, test accuracy {result['test_accuracy']:.4f}",
                  file=sys.stderr)
    median: dict[str, dict[str, float]] = {}
    for side, results in runs.items():
        median[side] = {key: statistics.median(r[key] for r in results)
                        for key in ("wall_s", "in_trials_s", "best_score", "test_accuracy")}
        median[side]["outside_trials_s"] = statistics.median(
            r["wall_s"] - r["in_trials_s"] for r in results)
    # Same seed, data and model on both sides: do the trials score the same?
    differences = [abs(h["scores"][k] - d["scores"].get(k, float("inf")))
                   for h, d in zip(runs["hand"], runs["declml"], strict=True) for k in h["scores"]]
    return {
        "spec": spec, "epochs": epochs, "repeats": repeats, "backend": backend,
        "timed": "whole process wall time, measured by the parent (interpreter start, "
                 "imports, data, search, export, exit), the same for both sides",
        "median": median,
        "ratio_wall": median["declml"]["wall_s"] / median["hand"]["wall_s"],
        "ratio_in_trials": median["declml"]["in_trials_s"] / median["hand"]["in_trials_s"],
        "max_trial_score_difference": max(differences),
        "best_values": {"hand": runs["hand"][0]["best_values"],
                        "declml": runs["declml"][0]["best_values"]},
        "runs": {side: [{k: v for k, v in r.items() if k != "scores"} for r in results]
                 for side, results in runs.items()},
        "target": "ratio_wall <= 1.05",
    }


def environment(backend: str) -> dict[str, str]:
    """The machine and the library versions (read without importing Keras)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("keras", "keras-tuner", backend, "numpy", "scikit-learn"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), "cpus": str(os.cpu_count()),
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()), **versions}


def report(results: dict[str, Any]) -> str:
    med = results["median"]
    lines = [f"{results['spec']}: 8 trials x {results['epochs']} epoch(s), "
             f"{results['repeats']} repeat(s), backend {results['backend']}, medians",
             f"timed: {results['timed']}", "",
             "| side | wall s | in trials s | outside trials s | best val_accuracy | "
             "test accuracy |", "|---|---:|---:|---:|---:|---:|"]
    for side, label in (("hand", "hand-written KerasTuner"), ("declml", "declml tune")):
        m = med[side]
        lines.append(f"| {label} | {m['wall_s']:.2f} | {m['in_trials_s']:.2f} | "
                     f"{m['outside_trials_s']:.2f} | {m['best_score']:.4f} | "
                     f"{m['test_accuracy']:.4f} |")
    verdict = "within" if results["ratio_wall"] <= 1.05 else "ABOVE"
    lines += ["", f"ratio declml / hand-written: wall {results['ratio_wall']:.3f} "
              f"({verdict} the 1.05 target), in trials {results['ratio_in_trials']:.3f}",
              f"largest difference between the two sides' scores for the same trial: "
              f"{results['max_trial_score_difference']:.2g}",
              f"best values: hand {results['best_values']['hand']}, "
              f"declml {results['best_values']['declml']}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs per trial (the spec's 5)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per side")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 1 repeat")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 1, 1
    backend = os.environ.get("KERAS_BACKEND", "").strip() or "jax"
    env = environment(backend)
    started = time.perf_counter()
    results = measure(args.repeats, args.epochs, backend, SPEC)
    env["load_average_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results.update(environment=env, seconds=time.perf_counter() - started)
    print(report(results))
    print()
    print(", ".join(f"{k} {v}" for k, v in env.items())
          + f"; {results['seconds']:.0f} s in all")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
