"""declml train vs the same model written by hand in Keras, side by side.

Each measurement runs in a fresh process (so JIT caches and imports are paid by
both sides alike), alternating hand-written and declml runs, on the same
backend, data, split, model, seed and epochs. Reports medians and the ratio.

    python benchmarks/train_overhead.py [--repeats 5] [--spec specs/digits_cnn.yaml]
                                        [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

HAND_WRITTEN = r'''
import json, sys, time
t0 = time.perf_counter()
from declml.backend import import_keras   # only to pick the backend the same way
keras = import_keras()
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
t1 = time.perf_counter()
keras.utils.set_random_seed(0)
d = load_digits()
x = (d.images.astype("float32") / 16.0).reshape(-1, 8, 8, 1)
y = keras.utils.to_categorical(d.target, 10)
x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=0.2, random_state=0,
                                          stratify=d.target)
model = keras.Sequential([
    keras.Input((8, 8, 1)),
    keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu", padding="same"),
    keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(),
    keras.layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
model.fit(x_tr, y_tr, epochs=EPOCHS, batch_size=32, validation_split=0.1, verbose=0)
acc = model.evaluate(x_te, y_te, verbose=0, return_dict=True)["accuracy"]
model.save(sys.argv[1] + "/model.keras")
t2 = time.perf_counter()
print(json.dumps({"work": t2 - t1, "total": t2 - t0, "accuracy": acc}))
'''

DECLML = r'''
import json, sys, time
t0 = time.perf_counter()
from declml.backend import import_keras
import_keras()
from declml.spec.api import load_spec
from declml.run.train import train
t1 = time.perf_counter()
spec = load_spec(SPEC, [f"fit.epochs={EPOCHS}"])
result = train(spec, sys.argv[1] + "/run", log=lambda _: None, verbose=0)
t2 = time.perf_counter()
print(json.dumps({"work": t2 - t1, "total": t2 - t0, "accuracy": result.metrics["accuracy"]}))
'''


def _run(code: str, epochs: int, spec: str) -> dict[str, float]:
    code = code.replace("EPOCHS", str(epochs)).replace("SPEC", repr(spec))
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-c", code, tmp], capture_output=True, text=True,
                             cwd=REPO, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(repeats: int, epochs: int, spec: str) -> dict[str, object]:
    hand: list[dict[str, float]] = []
    ours: list[dict[str, float]] = []
    for i in range(repeats):
        pair = [("hand", HAND_WRITTEN), ("declml", DECLML)]
        if i % 2:
            pair.reverse()
        for name, code in pair:
            (hand if name == "hand" else ours).append(_run(code, epochs, spec))
            print(f"  run {i + 1}/{repeats} {name}: {(hand if name == 'hand' else ours)[-1]}",
                  file=sys.stderr)
    med = {side: {k: statistics.median(r[k] for r in runs) for k in ("work", "total",
                                                                       "accuracy")}
           for side, runs in (("hand", hand), ("declml", ours))}
    return {
        "epochs": epochs,
        "repeats": repeats,
        "median": med,
        "ratio_work": med["declml"]["work"] / med["hand"]["work"],
        "ratio_total": med["declml"]["total"] / med["hand"]["total"],
    }


def environment() -> dict[str, str]:
    """The machine and the library versions (read without importing Keras)."""
    from importlib.metadata import PackageNotFoundError, version

    backend = os.environ.get("KERAS_BACKEND", "").strip() or "jax"
    info = {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": str(os.cpu_count()), "backend": backend,
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg())}
    for name in ("keras", backend, "numpy", "scikit-learn"):
        try:
            info[name] = version(name)
        except PackageNotFoundError:
            info[name] = "not installed"
    return info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--spec", default="specs/digits_cnn.yaml")
    parser.add_argument("--quick", action="store_true", help="5 epochs, 2 repeats")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 5, 2
    env = environment()
    results = measure(args.repeats, args.epochs, args.spec)
    env["load_average_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    results.update(spec=args.spec, environment=env)
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
