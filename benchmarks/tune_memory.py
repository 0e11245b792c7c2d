"""Resident memory of one process over a declml random search: does it grow per trial?

Runs :func:`declml.search.search.tune` on a small digits MLP (units, activation, dropout
and learning rate searched; ``tuner: random``, ``max_trials`` 20, 2 epochs a trial), the
whole search in one fresh process, and reads the resident set size (``VmRSS`` in
/proc/self/status) each time a trial ends — sampled from the ``log`` callable that
``tune()`` reports progress to, on the line that gives a trial's result (written in
``on_trial_end``, after the trial's model is trained and checkpointed, before declml's
end-of-trial ``clear_session``). Each sample also counts the live Python objects
(``gc.get_objects()``), to tell Python-level accumulation from native growth.

The pass criterion: RSS growth from the end of trial 5 to the end of the last trial below
``--threshold`` MiB (default 50 MiB over 15 trials; the first trials are excluded because
imports, the first XLA compilations and the allocator's arenas settle there).

``--compare`` adds, each in its own fresh process, for attribution:

* **hand-written**: the same search space, data and epochs as a plain
  ``keras_tuner.RandomSearch`` (no declml), sampled after KerasTuner's ``on_trial_end``;
* both searches again with ``jax.clear_caches()`` after every trial (JAX backend only;
  for declml, called from the same ``log`` callback — a what-if, not something declml does).

    KERAS_BACKEND=jax python benchmarks/tune_memory.py [--trials 20] [--epochs 2] [--quick]
                                                       [--compare] [--threshold 50]
                                                       [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
RESULT_LINE = re.compile(r"^trial (\d+) \(\d+/\d+\) (?!started)")  # not "... started ..."
FROM_TRIAL = 5


def rss_mib() -> float:
    """This process's resident set size (VmRSS), in MiB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # kB
    raise RuntimeError("no VmRSS in /proc/self/status (Linux only)")


def sample(started: float) -> dict[str, Any]:
    return {"rss_mib": rss_mib(), "objects": len(gc.get_objects()),
            "seconds": time.perf_counter() - started}


def search_spec(trials: int, epochs: int) -> dict[str, Any]:
    return {
        "spec_version": 1, "name": "tune_memory", "seed": 0,
        "data": {"dataset": "digits", "test_split": 0.2,
                 "preprocessing": {"rescale": 1 / 16, "reshape": [64], "one_hot": 10}},
        "model": {"input_shape": [64], "layers": [
            {"type": "Dense",
             "units": {"int": {"min": 16, "max": 256, "step": 16}, "name": "units"},
             "activation": {"choice": ["relu", "tanh", "gelu"], "name": "activation"}},
            {"type": "Dropout", "rate": {"float": {"min": 0.0, "max": 0.5}, "name": "dropout"}},
            {"type": "Dense", "units": 10, "activation": "softmax"}]},
        "compile": {"optimizer": {"type": "adam", "learning_rate": {
            "float": {"min": 1e-4, "max": 3e-2, "sampling": "log"}, "name": "learning_rate"}},
            "loss": "categorical_crossentropy", "metrics": ["accuracy"]},
        "fit": {"epochs": epochs, "batch_size": 32, "validation": 0.2},
        "tuning": {"tuner": "random", "objective": "val_accuracy", "max_trials": trials},
    }


def _clear_jax_caches() -> None:
    import jax

    jax.clear_caches()


# --- one search in this process (run as a fresh process by the benchmark) ----------------


def run_declml(trials: int, epochs: int, clear: bool) -> dict[str, Any]:
    started = time.perf_counter()
    from declml.backend import import_keras

    keras = import_keras()
    from declml.search.search import tune
    from declml.spec.api import spec_from_data

    spec = spec_from_data(search_spec(trials, epochs))
    samples: list[dict[str, Any]] = []
    before = rss_mib()

    def log(line: str) -> None:
        if RESULT_LINE.match(line):
            if clear:
                _clear_jax_caches()
            samples.append({"trial": len(samples) + 1, **sample(started)})
            print(f"  {line}  | RSS {samples[-1]['rss_mib']:.1f} MiB", file=sys.stderr)

    with tempfile.TemporaryDirectory(prefix="declml-tune-memory-") as tmp:
        result = tune(spec, Path(tmp) / "search", log=log, verbose=0)
        after = rss_mib()
    return {"backend": keras.backend.backend(), "samples": samples,
            "scored": sum(r.status == "completed" for r in result.rows),
            "best_score": result.best.score if result.best else None,
            "rss_before_search_mib": before, "rss_after_export_mib": after}


def run_hand(trials: int, epochs: int, clear: bool) -> dict[str, Any]:
    """The same search as plain KerasTuner: digits split, rescaled and one-hot as declml does."""
    started = time.perf_counter()
    import keras
    import keras_tuner as kt
    import numpy as np
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images.astype("float32") * np.float32(1 / 16)).reshape(-1, 64)
    y = np.eye(10, dtype="float32")[digits.target]
    train, _ = train_test_split(np.arange(len(x)), test_size=round(0.2 * len(x)),
                                random_state=0, stratify=digits.target)
    fit, val = train_test_split(np.sort(train), test_size=round(0.2 * len(train)),
                                random_state=1, stratify=digits.target[np.sort(train)])

    def build(hp: Any) -> Any:
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((64,)),
            keras.layers.Dense(hp.Int("units", 16, 256, step=16),
                               activation=hp.Choice("activation", ["relu", "tanh", "gelu"])),
            keras.layers.Dropout(hp.Float("dropout", 0.0, 0.5)),
            keras.layers.Dense(10, activation="softmax")])
        model.compile(optimizer=keras.optimizers.Adam(
            hp.Float("learning_rate", 1e-4, 3e-2, sampling="log")),
            loss="categorical_crossentropy", metrics=["accuracy"])
        return model

    samples: list[dict[str, Any]] = []

    class Sampled(kt.RandomSearch):
        def on_trial_end(self, trial: Any) -> None:
            super().on_trial_end(trial)
            if clear:
                _clear_jax_caches()
            samples.append({"trial": len(samples) + 1, **sample(started)})
            print(f"  trial {trial.trial_id} {trial.score}  | RSS "
                  f"{samples[-1]['rss_mib']:.1f} MiB", file=sys.stderr)

    before = rss_mib()
    with tempfile.TemporaryDirectory(prefix="hand-tune-memory-") as tmp:
        tuner = Sampled(build, objective="val_accuracy", max_trials=trials, seed=1,
                        directory=tmp, project_name="search")
        tuner.search(x[fit], y[fit], epochs=epochs, batch_size=32,
                     validation_data=(x[val], y[val]), verbose=0)
        best = tuner.oracle.get_best_trials(1)
        after = rss_mib()
    return {"backend": keras.backend.backend(), "samples": samples,
            "scored": sum(t.status == "COMPLETED" for t in tuner.oracle.trials.values()),
            "best_score": best[0].score if best else None,
            "rss_before_search_mib": before, "rss_after_export_mib": after}


def summarize(run: dict[str, Any]) -> dict[str, Any]:
    samples = run["samples"]
    rss = [s["rss_mib"] for s in samples]
    start = next((s for s in samples if s["trial"] == FROM_TRIAL), samples[0])
    # Least-squares slope over trials FROM_TRIAL..last: less sensitive to one noisy sample.
    tail = [s for s in samples if s["trial"] >= start["trial"]]
    mean_t = sum(s["trial"] for s in tail) / len(tail)
    mean_r = sum(s["rss_mib"] for s in tail) / len(tail)
    spread = sum((s["trial"] - mean_t) ** 2 for s in tail)
    slope = (sum((s["trial"] - mean_t) * (s["rss_mib"] - mean_r) for s in tail) / spread
             if spread else 0.0)
    return {**run, "trials_finished": len(samples), "rss_first_mib": rss[0],
            "rss_last_mib": rss[-1], "rss_max_mib": max(rss), "growth_from_trial": start["trial"],
            "growth_mib": samples[-1]["rss_mib"] - start["rss_mib"],
            "slope_mib_per_trial": slope,
            "objects_growth": samples[-1]["objects"] - start["objects"],
            "seconds": samples[-1]["seconds"]}


def _measure(side: str, trials: int, epochs: int, clear: bool) -> dict[str, Any]:
    """One search in a fresh process."""
    env = {**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND") or "jax"}
    out = subprocess.run([sys.executable, __file__, "--worker", side, str(trials), str(epochs),
                          str(int(clear))], stdout=subprocess.PIPE, text=True, cwd=REPO,
                         env=env)  # progress lines go to our stderr as they come
    if out.returncode:
        raise SystemExit(f"the {side} search failed (exit {out.returncode})")
    return summarize(json.loads(out.stdout.strip().splitlines()[-1]))


# --- the benchmark ------------------------------------------------------------------------


VARIANTS = {"declml": ("declml", False), "hand-written": ("hand", False),
            "declml + jax.clear_caches()": ("declml", True),
            "hand-written + jax.clear_caches()": ("hand", True)}


def environment() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("keras", "keras-tuner", os.environ.get("KERAS_BACKEND") or "jax", "numpy"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": str(os.cpu_count()),
            "load_average": " ".join(f"{x:.2f}" for x in os.getloadavg()), **versions}


def report(results: dict[str, Any]) -> str:
    runs = results["runs"]
    names = list(runs)
    lines = ["| after trial | " + " | ".join(f"{n} RSS MiB" for n in names)
             + " | declml Python objects |",
             "|---:|" + "---:|" * (len(names) + 1)]
    for i, s in enumerate(runs["declml"]["samples"]):
        cells = [f"{runs[n]['samples'][i]['rss_mib']:.1f}" if i < len(runs[n]["samples"])
                 else "" for n in names]
        lines.append(f"| {s['trial']} | " + " | ".join(cells) + f" | {s['objects']:,} |")
    lines += ["", "| search | RSS before | after trial 1 | last | max | growth trial "
              f"{FROM_TRIAL}→last MiB | slope MiB/trial | Python objects added | "
              "best val_accuracy | s |", "|---|" + "---:|" * 9]
    for name, r in runs.items():
        lines.append(f"| {name} | {r['rss_before_search_mib']:.1f} | {r['rss_first_mib']:.1f} "
                     f"| {r['rss_last_mib']:.1f} | {r['rss_max_mib']:.1f} | "
                     f"{r['growth_mib']:+.1f} | {r['slope_mib_per_trial']:+.2f} | "
                     f"{r['objects_growth']:+,} | {r['best_score']:.4f} | {r['seconds']:.0f} |")
    d = runs["declml"]
    lines += ["", f"{d['trials_finished']} trials ({d['scored']} scored), "
              f"{results['epochs']} epoch(s) each, backend {d['backend']}; declml after its "
              f"export: {d['rss_after_export_mib']:.1f} MiB",
              f"declml growth from trial {d['growth_from_trial']} to trial "
              f"{d['trials_finished']}: {d['growth_mib']:+.1f} MiB — "
              f"{'PASS' if results['passed'] else 'FAIL'} (threshold "
              f"{results['threshold_mib']:g} MiB)"]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        side, trials, epochs, clear = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), \
            sys.argv[5] == "1"
        result = (run_declml if side == "declml" else run_hand)(trials, epochs, clear)
        print(json.dumps(result))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--epochs", type=int, default=2, help="epochs per trial")
    parser.add_argument("--quick", action="store_true", help="1 epoch a trial")
    parser.add_argument("--compare", action="store_true",
                        help="also the hand-written KerasTuner search, and both with "
                             "jax.clear_caches() after each trial")
    parser.add_argument("--threshold", type=float, default=50.0,
                        help=f"largest acceptable declml growth from trial {FROM_TRIAL} to "
                             "the last, MiB")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.epochs = 1
    if args.trials <= FROM_TRIAL:
        parser.error(f"--trials must be more than {FROM_TRIAL}")
    env = environment()
    names = list(VARIANTS) if args.compare else ["declml"]
    runs = {}
    for name in names:
        side, clear = VARIANTS[name]
        print(f"{name}:", file=sys.stderr)
        runs[name] = _measure(side, args.trials, args.epochs, clear)
    passed = runs["declml"]["growth_mib"] < args.threshold
    results = {"trials": args.trials, "epochs": args.epochs, "threshold_mib": args.threshold,
               "passed": passed, "runs": runs, "environment": env}
    print(report(results))
    print(", ".join(f"{k} {v}" for k, v in env.items()))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
