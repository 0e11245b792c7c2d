"""declml train vs the same CNN written by hand in Keras, on real MNIST images, side by side.

The workload is the tutorial's CNN (``specs/mnist_cnn.yaml``: Conv2D 32 → MaxPool → Conv2D 64
→ MaxPool → Flatten → Dense 10 softmax, 34,826 parameters; Adam, categorical cross-entropy,
batch 32, the test split as validation data, seed 0) on the real MNIST t10k files from the
shared data directory: the first 8,000 images train, the last 2,000 test.

* **declml**: the real command, ``declml train specs/mnist_cnn.yaml -o DIR --set
  data.path=SPLIT.npz --set fit.epochs=E`` (spec, data, build, fit, evaluation, model, run
  record, learning curves, confusion matrix, model card).
* **hand-written**: what a user writes without declml: load the arrays, rescale (×1/255 in
  float32, as declml does, so both sides train on bit-identical inputs), reshape, one-hot,
  ``keras.utils.set_random_seed(0)``, the same ``Sequential`` model, ``compile``, ``fit``
  (``validation_data`` = the test split), ``evaluate``, ``save``.

declml's ``mnist`` dataset has no option for "first 8,000 / last 2,000" (a directory of
t10k files is one split, from which it would hold out a stratified random 20 %), so the IDX
files are written once into an .npz (``x_train``, ``y_train``, ``x_test``, ``y_test``) in a
temporary directory and both sides read those same arrays.

Each run is a fresh process (imports and compilation paid alike), on the same backend,
alternating which side goes first in each repeat. Reported: medians of the whole-process
wall time (measured from outside; the ratio declml / hand-written, target ≤ 1.02), of the
"work" after importing Keras and NumPy (timed inside), of the time in ``fit`` and per epoch
(instrumentation identical on both sides); parameter counts (must be equal) and test
accuracies side by side.

The data directory is ``--data``, else ``$DECLML_SHARED_DATA``, else ``../shared/data``
(holding ``mnist-t10k/``); when the files are absent the benchmark is skipped (exit 0).

    KERAS_BACKEND=jax python benchmarks/train_mnist.py [--epochs 10] [--repeats 3]
                                                       [--data DIR] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    DECLML_DRIVER,
    FIT_TIMER,
    backend_name,
    check,
    child_env,
    environment,
    fmt,
    load_average,
    median,
    mnist_dir,
    run_process,
    shared_data,
    skip,
    steady_epoch,
    write_mnist_npz,
)

SPEC = "specs/mnist_cnn.yaml"
TARGET = 1.02

# argv: output directory, the .npz, epochs. Prints one JSON line last.
HAND_WRITTEN = r'''
import json, sys, time
t0 = time.perf_counter()
import keras
import numpy as np
t1 = time.perf_counter()
''' + FIT_TIMER + r'''
out, npz, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
with np.load(npz) as data:
    x_train, y_train = data["x_train"], data["y_train"]
    x_test, y_test = data["x_test"], data["y_test"]

def prepare(x, y):
    x = (x.astype("float32") * np.float32(1 / 255)).reshape(-1, 28, 28, 1)
    onehot = np.zeros((len(y), 10), dtype="float32")
    onehot[np.arange(len(y)), y] = 1.0
    return x, onehot

x_train, y_train = prepare(x_train, y_train)
x_test, y_test = prepare(x_test, y_test)
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, (3, 3), activation="relu"),
    keras.layers.MaxPooling2D((2, 2)),
    keras.layers.Conv2D(64, (3, 3), activation="relu"),
    keras.layers.MaxPooling2D((2, 2)),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=epochs, batch_size=32, validation_data=(x_test, y_test),
          verbose=2)
metrics = model.evaluate(x_test, y_test, batch_size=32, return_dict=True, verbose=0)
model.save(out + "/model.keras")
t2 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "work_s": t2 - t1, "total_s": t2 - t0,
                  "accuracy": float(metrics["accuracy"]), **_fit_record()}))
'''


def run_hand(npz: Path, epochs: int, backend: str, python: str = sys.executable,
             python_path: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mnist-hand-") as tmp:
        wall, record, _ = run_process([python, "-c", HAND_WRITTEN, tmp, str(npz), str(epochs)],
                                      child_env(backend, python_path), "the hand-written run")
    return {**record, "wall_s": wall}


def run_declml(npz: Path, epochs: int, backend: str, python: str = sys.executable,
               python_path: str | None = None, spec: str = SPEC) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="mnist-declml-") as tmp:
        run = Path(tmp) / "run"
        wall, record, _ = run_process(
            [python, "-c", DECLML_DRIVER, "train", spec, "-o", str(run),
             "--set", f"data.path={npz}", "--set", f"fit.epochs={epochs}"],
            child_env(backend, python_path), "declml train")
        metrics = json.loads((run / "metrics.json").read_text())
    return {**record, "wall_s": wall, "accuracy": float(metrics["accuracy"])}


KEYS = ("wall_s", "work_s", "imports_s", "fit_s", "first_epoch_s", "epoch_s", "accuracy")


def summarize(runs: dict[str, list[dict[str, Any]]]) -> dict[str, dict[str, float | None]]:
    for results in runs.values():
        for r in results:
            r["first_epoch_s"] = r["epochs_s"][0] if r["epochs_s"] else None
            r["epoch_s"] = steady_epoch(r["epochs_s"])
    return {side: {k: median([r[k] for r in results]) for k in KEYS}
            for side, results in runs.items()}


def measure(npz: Path, repeats: int, epochs: int, backend: str) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"hand": [], "declml": []}
    for i in range(repeats):
        for side in (("hand", "declml") if i % 2 == 0 else ("declml", "hand")):
            result = (run_hand if side == "hand" else run_declml)(npz, epochs, backend)
            runs[side].append(result)
            print(f"  repeat {i + 1}/{repeats} {side}: {result['wall_s']:.2f} s process, "
                  f"{result['work_s']:.2f} s work, {result['fit_s']:.2f} s in fit, test "
                  f"accuracy {result['accuracy']:.4f}", file=sys.stderr)
    med = summarize(runs)
    params = {side: results[0]["params"] for side, results in runs.items()}
    layers = {side: results[0]["layers"] for side, results in runs.items()}
    pairs = [d["wall_s"] / h["wall_s"] for h, d in zip(runs["hand"], runs["declml"],
                                                         strict=True)]
    ratio_wall = med["declml"]["wall_s"] / med["hand"]["wall_s"]  # type: ignore[operator]
    ratio_work = med["declml"]["work_s"] / med["hand"]["work_s"]  # type: ignore[operator]
    ratio_fit = med["declml"]["fit_s"] / med["hand"]["fit_s"]  # type: ignore[operator]
    return {
        "spec": SPEC, "backend": backend, "epochs": epochs, "repeats": repeats,
        "timed": "wall_s: whole process, measured by the parent (interpreter start to exit); "
                 "work_s: after importing Keras and NumPy, timed inside; fit_s / epochs: "
                 "inside model.fit (the same instrumentation on both sides)",
        "median": med, "ratio_wall": ratio_wall, "ratio_work": ratio_work,
        "ratio_fit": ratio_fit, "pair_ratios_wall": pairs,
        "params": params, "layers": layers,
        "params_equal": params["hand"] == params["declml"] and layers["hand"] == layers["declml"],
        "accuracy_difference": abs(med["declml"]["accuracy"]  # type: ignore[operator]
                                   - med["hand"]["accuracy"]),  # type: ignore[operator]
        "runs": {side: [{k: v for k, v in r.items() if k not in ("layers", "exit_code")}
                        for r in results] for side, results in runs.items()},
        "target": f"ratio_wall <= {TARGET}",
        "checks": [
            check("MNIST CNN: declml train / hand-written Keras, process wall time",
                  ratio_wall, TARGET),
            check("MNIST CNN: the same, work after imports", ratio_work, None),
            check("MNIST CNN: the same, time in fit", ratio_fit, None),
            check("MNIST CNN: parameter counts equal (declml − hand-written)",
                  float((params["declml"] or 0) - (params["hand"] or 0)), 0, "params",
                  kind="eq"),
        ],
    }


def report(results: dict[str, Any]) -> str:
    med = results["median"]
    lines = [f"{results['spec']} on MNIST t10k (first 8,000 train / last 2,000 test): "
             f"{results['epochs']} epoch(s), {results['repeats']} repeat(s) per side, backend "
             f"{results['backend']}, medians", f"timed: {results['timed']}", "",
             "| side | process s | work s | imports s | fit s | first epoch s | "
             "later epochs s | params | test accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for side, label in (("hand", "hand-written Keras"), ("declml", "declml train")):
        m = med[side]
        lines.append(f"| {label} | {fmt(m['wall_s'])} | {fmt(m['work_s'])} | "
                     f"{fmt(m['imports_s'])} | {fmt(m['fit_s'])} | {fmt(m['first_epoch_s'])} | "
                     f"{fmt(m['epoch_s'])} | {results['params'][side]:,} | "
                     f"{fmt(m['accuracy'], 4)} |")
    verdict = "PASS" if results["ratio_wall"] <= TARGET else "FAIL"
    lines += ["", f"ratio declml / hand-written: process {results['ratio_wall']:.3f} "
              f"({verdict}, target ≤ {TARGET}; per pair "
              f"{', '.join(f'{r:.3f}' for r in results['pair_ratios_wall'])}), work "
              f"{results['ratio_work']:.3f}, fit {results['ratio_fit']:.3f}",
              f"parameters: {'equal' if results['params_equal'] else 'DIFFERENT'} "
              f"({results['params']['hand']:,} hand-written, "
              f"{results['params']['declml']:,} declml)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10, help="epochs (the spec's 10)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per side")
    parser.add_argument("--data", help="shared data directory (default: $DECLML_SHARED_DATA "
                                       "or ../shared/data)")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 2 repeats")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 1, 2
    data = shared_data(args.data)
    directory = mnist_dir(data)
    if directory is None:
        skip(f"the MNIST t10k files are not in {data} (nor {data / 'mnist-t10k'}); give "
             "--data or set DECLML_SHARED_DATA", args.json)
    assert directory is not None
    backend = backend_name()
    env = environment(backend)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mnist-split-") as tmp:
        split = write_mnist_npz(directory, Path(tmp) / "mnist_8k_2k.npz")
        results = measure(Path(split["npz"]), args.repeats, args.epochs, backend)
    env["load_average_after"] = load_average()
    results.update(data=split, environment=env, seconds=time.perf_counter() - started)
    print(report(results))
    print()
    print(f"data: {split['how']}")
    print(", ".join(f"{k} {v}" for k, v in env.items()) + f"; {results['seconds']:.0f} s in all")
    if args.json:
        results["report"] = report(results)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if not results["params_equal"]:
        raise SystemExit("the two models differ in their parameters: not the same model")


if __name__ == "__main__":
    main()
