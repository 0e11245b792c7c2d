"""declml train vs the same text classifier written by hand in Keras, on the SMS Spam Collection.

The workload is ``specs/sms_spam_lstm.yaml`` on the real ``sms_spam.tsv`` (5,574 messages,
ham/spam) from the shared data directory: a stratified, seeded 80/20 split; words → a
10,000-entry vocabulary built from the training split → sequences of 100 (padded and
truncated at the start) → Embedding 32 → LSTM 32 → Dense 2 softmax; Adam, sparse
categorical cross-entropy, batch 32, 5 epochs, seed 0.

* **declml**: the real command, ``declml train specs/sms_spam_lstm.yaml -o DIR --set
  data.path=sms_spam.tsv --set fit.epochs=E`` (its own vectorizer, saved as
  vocabulary.json; model, run record, curves, confusion matrix, model card).
* **hand-written**: what a user writes without declml, in plain Python and Keras (no
  declml code): read the TSV with :mod:`csv`; labels indexed in sorted order; the same
  split with scikit-learn's ``train_test_split`` (``test_size`` = round(0.2 n),
  ``random_state=0``, stratified, indices kept in file order); lower-case, ASCII
  punctuation → spaces, split on whitespace; a :class:`collections.Counter` over the
  training texts, the 9,998 most frequent words (ties alphabetical) after index 0 (padding)
  and 1 (out-of-vocabulary); ``keras.utils.pad_sequences(maxlen=100)``; the same
  ``Sequential`` model; ``fit``, ``evaluate``, ``save``, and the vocabulary saved as JSON.
  That is the same vectorization declml documents, so both sides train on identical inputs.

Each run is a fresh process, on the same backend, alternating which side goes first in each
repeat; medians of the whole-process wall time (from outside), of the work after importing
Keras and NumPy, of the time in ``fit`` and per epoch; the ratio declml / hand-written;
parameter counts (must be equal) and test accuracies side by side.

The data directory is ``--data``, else ``$DECLML_SHARED_DATA``, else ``../shared/data``
(holding ``sms_spam.tsv``); when the file is absent the benchmark is skipped (exit 0).

    KERAS_BACKEND=jax python benchmarks/train_text.py [--epochs 5] [--repeats 3]
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
    run_process,
    shared_data,
    skip,
    steady_epoch,
)

SPEC = "specs/sms_spam_lstm.yaml"
TARGET = None  # the issue sets no target for the text model: the ratio is reported
MAX_TOKENS, LENGTH = 10_000, 100

# argv: output directory, the TSV, epochs. Prints one JSON line last.
HAND_WRITTEN = r'''
import csv, json, re, string, sys, time
from collections import Counter
t0 = time.perf_counter()
import keras
import numpy as np
from sklearn.model_selection import train_test_split
t1 = time.perf_counter()
''' + FIT_TIMER + r'''
out, tsv, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3])
MAX_TOKENS, LENGTH = 10000, 100

texts, labels = [], []
with open(tsv, encoding="utf-8", newline="") as f:
    reader = csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
    header = next(reader)
    text_col, label_col = header.index("SMS"), header.index("Label")
    for row in reader:
        if row:
            texts.append(row[text_col])
            labels.append(row[label_col].strip())
classes = sorted(set(labels))
y = np.array([classes.index(label) for label in labels], dtype="int64")
train, test = train_test_split(np.arange(len(y)), test_size=round(0.2 * len(y)),
                               random_state=0, shuffle=True, stratify=y)
train, test = np.sort(train), np.sort(test)

punctuation = re.compile("[" + re.escape(string.punctuation) + "]")
def words(text):
    return punctuation.sub(" ", text.lower()).split()

counts = Counter(w for i in train for w in words(texts[i]))
vocabulary = ["", "[UNK]"] + sorted(counts, key=lambda w: (-counts[w], w))[:MAX_TOKENS - 2]
index = {w: i for i, w in enumerate(vocabulary)}
def vectorize(rows):
    return keras.utils.pad_sequences([[index.get(w, 1) for w in words(texts[i])] for i in rows],
                                     maxlen=LENGTH, dtype="int32")

x_train, x_test = vectorize(train), vectorize(test)
y_train, y_test = y[train], y[test]
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((LENGTH,)),
    keras.layers.Embedding(MAX_TOKENS, 32),
    keras.layers.LSTM(32),
    keras.layers.Dense(len(classes), activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
model.fit(x_train, y_train, epochs=epochs, batch_size=32, verbose=2)
metrics = model.evaluate(x_test, y_test, batch_size=32, return_dict=True, verbose=0)
model.save(out + "/model.keras")
with open(out + "/vocabulary.json", "w", encoding="utf-8") as f:
    json.dump({"classes": classes, "vocabulary": vocabulary}, f, ensure_ascii=False)
t2 = time.perf_counter()
print(json.dumps({"imports_s": t1 - t0, "work_s": t2 - t1, "total_s": t2 - t0,
                  "accuracy": float(metrics["accuracy"]), "examples": [len(train), len(test)],
                  "vocabulary": len(vocabulary), **_fit_record()}))
'''


def run_hand(tsv: Path, epochs: int, backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="text-hand-") as tmp:
        wall, record, _ = run_process([sys.executable, "-c", HAND_WRITTEN, tmp, str(tsv),
                                       str(epochs)], child_env(backend), "the hand-written run")
    return {**record, "wall_s": wall}


def run_declml(tsv: Path, epochs: int, backend: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="text-declml-") as tmp:
        run = Path(tmp) / "run"
        wall, record, _ = run_process(
            [sys.executable, "-c", DECLML_DRIVER, "train", SPEC, "-o", str(run),
             "--set", f"data.path={tsv}", "--set", f"fit.epochs={epochs}"],
            child_env(backend), "declml train")
        metrics = json.loads((run / "metrics.json").read_text())
        vocabulary = json.loads((run / "vocabulary.json").read_text(encoding="utf-8"))
    return {**record, "wall_s": wall, "accuracy": float(metrics["accuracy"]),
            "vocabulary": len(vocabulary["vocabulary"]), "test_examples": metrics["examples"]}


KEYS = ("wall_s", "work_s", "imports_s", "fit_s", "first_epoch_s", "epoch_s", "accuracy")


def measure(tsv: Path, repeats: int, epochs: int, backend: str) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"hand": [], "declml": []}
    for i in range(repeats):
        for side in (("hand", "declml") if i % 2 == 0 else ("declml", "hand")):
            result = (run_hand if side == "hand" else run_declml)(tsv, epochs, backend)
            runs[side].append(result)
            print(f"  repeat {i + 1}/{repeats} {side}: {result['wall_s']:.2f} s process, "
                  f"{result['work_s']:.2f} s work, {result['fit_s']:.2f} s in fit, test "
                  f"accuracy {result['accuracy']:.4f}", file=sys.stderr)
    for results in runs.values():
        for r in results:
            r["first_epoch_s"] = r["epochs_s"][0] if r["epochs_s"] else None
            r["epoch_s"] = steady_epoch(r["epochs_s"])
    med = {side: {k: median([r[k] for r in results]) for k in KEYS}
           for side, results in runs.items()}
    params = {side: results[0]["params"] for side, results in runs.items()}
    layers = {side: results[0]["layers"] for side, results in runs.items()}
    vocabulary = {side: results[0]["vocabulary"] for side, results in runs.items()}
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
        "params": params, "layers": layers, "vocabulary": vocabulary,
        "examples": runs["hand"][0]["examples"],
        "params_equal": params["hand"] == params["declml"] and layers["hand"] == layers["declml"],
        "runs": {side: [{k: v for k, v in r.items() if k not in ("layers", "exit_code")}
                        for r in results] for side, results in runs.items()},
        "checks": [
            check("SMS LSTM: declml train / hand-written Keras, process wall time",
                  ratio_wall, TARGET),
            check("SMS LSTM: the same, work after imports", ratio_work, None),
            check("SMS LSTM: the same, time in fit", ratio_fit, None),
            check("SMS LSTM: parameter counts equal (declml − hand-written)",
                  float((params["declml"] or 0) - (params["hand"] or 0)), 0, "params",
                  kind="eq"),
        ],
    }


def report(results: dict[str, Any]) -> str:
    med = results["median"]
    train, test = results["examples"]
    lines = [f"{results['spec']} on the SMS Spam Collection ({train:,} train / {test:,} test, "
             f"stratified, seed 0): {results['epochs']} epoch(s), {results['repeats']} "
             f"repeat(s) per side, backend {results['backend']}, medians",
             f"timed: {results['timed']}", "",
             "| side | process s | work s | imports s | fit s | first epoch s | "
             "later epochs s | vocabulary | params | test accuracy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for side, label in (("hand", "hand-written Keras"), ("declml", "declml train")):
        m = med[side]
        lines.append(f"| {label} | {fmt(m['wall_s'])} | {fmt(m['work_s'])} | "
                     f"{fmt(m['imports_s'])} | {fmt(m['fit_s'])} | {fmt(m['first_epoch_s'])} | "
                     f"{fmt(m['epoch_s'])} | {results['vocabulary'][side]:,} | "
                     f"{results['params'][side]:,} | {fmt(m['accuracy'], 4)} |")
    lines += ["", f"ratio declml / hand-written: process {results['ratio_wall']:.3f} (per pair "
              f"{', '.join(f'{r:.3f}' for r in results['pair_ratios_wall'])}; no target set), "
              f"work {results['ratio_work']:.3f}, fit {results['ratio_fit']:.3f}",
              f"parameters: {'equal' if results['params_equal'] else 'DIFFERENT'} "
              f"({results['params']['hand']:,} hand-written, "
              f"{results['params']['declml']:,} declml)"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5, help="epochs (the spec's 5)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per side")
    parser.add_argument("--data", help="shared data directory (default: $DECLML_SHARED_DATA "
                                       "or ../shared/data), or the .tsv itself")
    parser.add_argument("--quick", action="store_true", help="1 epoch, 2 repeats")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 1, 2
    data = shared_data(args.data)
    tsv = data if data.is_file() else data / "sms_spam.tsv"
    if not tsv.is_file():
        skip(f"{tsv} does not exist; give --data or set DECLML_SHARED_DATA", args.json)
    tsv = tsv.resolve()
    backend = backend_name()
    env = environment(backend)
    started = time.perf_counter()
    results = measure(tsv, args.repeats, args.epochs, backend)
    env["load_average_after"] = load_average()
    results.update(data=str(tsv), environment=env, seconds=time.perf_counter() - started)
    print(report(results))
    print()
    print(", ".join(f"{k} {v}" for k, v in env.items()) + f"; {results['seconds']:.0f} s in all")
    if args.json:
        results["report"] = report(results)
        args.json.write_text(json.dumps(results, indent=2, default=str))
    if not results["params_equal"]:
        raise SystemExit("the two models differ in their parameters: not the same model")


if __name__ == "__main__":
    main()
