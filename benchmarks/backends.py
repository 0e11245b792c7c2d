"""One training workload on each Keras backend (JAX, TensorFlow, PyTorch), side by side.

So that users can pick a backend knowingly: the same model, data, seed, epochs and batch
size on every backend, each run a fresh process of a Python environment that has that
backend installed; reported per backend: seconds per epoch (the first epoch, which
includes compilation/tracing, and the median of the later ones), time in ``fit``, the
whole process, and the test accuracy.

The workload: the tutorial's MNIST CNN (``specs/mnist_cnn.yaml``) on the real MNIST t10k
files (first 8,000 images train, last 2,000 test; written once into an .npz both sides
read, see ``train_mnist.py``), run both through ``declml train`` and as the hand-written
Keras script of ``train_mnist.py`` — so each backend also gets its declml / hand-written
ratio. Without the shared data it falls back to ``specs/digits_cnn.yaml`` (scikit-learn's
bundled digits) through ``declml train`` only, and says so.

Where each backend's Python comes from, first found: ``--python BACKEND=PATH``;
``$DECLML_BENCH_PYTHON_<BACKEND>``; this interpreter, if it has the backend; the virtualenv
``<venvs>/<backend>/bin/python`` (``--venvs``, default ``$DECLML_BENCH_VENVS`` or
``/tmp/ci-venvs``, as CI lays them out). These run this checkout's declml
(``PYTHONPATH`` = the repository). A backend with no such Python is skipped with a note.

    python benchmarks/backends.py [--epochs 5] [--repeats 2] [--backends jax tensorflow torch]
                                  [--data DIR] [--quick] [--json out.json]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import (
    DECLML_DRIVER,
    REPO,
    check,
    child_env,
    environment,
    fmt,
    load_average,
    median,
    mnist_dir,
    run_process,
    shared_data,
    steady_epoch,
    write_mnist_npz,
)
from train_mnist import HAND_WRITTEN

BACKENDS = ("jax", "tensorflow", "torch")
BACKEND_PACKAGES = {"jax": ("jax", "jaxlib"), "tensorflow": ("tensorflow", "tensorflow-cpu"),
                    "torch": ("torch",)}

PROBE = r'''
import importlib.util, json, sys
from importlib.metadata import PackageNotFoundError, version
backend, packages = sys.argv[1], sys.argv[2].split(",")
versions = {}
for name in ["keras", *packages, "numpy"]:
    try:
        versions[name] = version(name)
    except PackageNotFoundError:
        pass
spec = importlib.util.find_spec("declml")
print(json.dumps({"has_backend": importlib.util.find_spec(backend) is not None,
                  "has_keras": importlib.util.find_spec("keras") is not None,
                  "declml": spec.origin if spec else None, "versions": versions,
                  "python": sys.version.split()[0]}))
'''


def find_python(backend: str, given: dict[str, str], venvs: Path) -> tuple[str | None, str]:
    """(the interpreter to use, where it came from) or (None, why not)."""
    candidates: list[tuple[str, str]] = []
    if backend in given:
        candidates.append((given[backend], "--python"))
    env = os.environ.get(f"DECLML_BENCH_PYTHON_{backend.upper()}", "").strip()
    if env:
        candidates.append((env, f"$DECLML_BENCH_PYTHON_{backend.upper()}"))
    if importlib.util.find_spec(backend) is not None:
        candidates.append((sys.executable, "this interpreter"))
    candidates.append((str(venvs / backend / "bin" / "python"), f"{venvs / backend}"))
    tried = []
    for python, origin in candidates:
        if Path(python).is_file():
            return python, origin
        tried.append(python)
    return None, f"no Python with {backend} found (tried {', '.join(tried)})"


def probe(python: str, backend: str) -> dict[str, Any]:
    out = subprocess.run([python, "-c", PROBE, backend, ",".join(BACKEND_PACKAGES[backend])],
                         capture_output=True, text=True, cwd=REPO,
                         env=child_env(backend, str(REPO)), timeout=120)
    if out.returncode:
        return {"error": out.stderr.strip()[-500:]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_side(side: str, backend: str, python: str, workload: dict[str, Any],
             epochs: int) -> dict[str, Any]:
    env = child_env(backend, str(REPO))
    with tempfile.TemporaryDirectory(prefix=f"backends-{side}-") as tmp:
        if side == "hand":
            wall, record, _ = run_process([python, "-c", HAND_WRITTEN, tmp, workload["npz"],
                                           str(epochs)], env, f"hand-written on {backend}")
            return {**record, "wall_s": wall}
        run = Path(tmp) / "run"
        argv = [python, "-c", DECLML_DRIVER, "train", workload["spec"], "-o", str(run),
                "--set", f"fit.epochs={epochs}"]
        if workload.get("npz"):
            argv += ["--set", f"data.path={workload['npz']}"]
        wall, record, _ = run_process(argv, env, f"declml train on {backend}")
        metrics = json.loads((run / "metrics.json").read_text())
    return {**record, "wall_s": wall, "accuracy": float(metrics["accuracy"])}


KEYS = ("wall_s", "work_s", "imports_s", "fit_s", "first_epoch_s", "epoch_s", "accuracy")


def measure(backends: dict[str, str], workload: dict[str, Any], repeats: int,
            epochs: int) -> dict[str, Any]:
    sides = workload["sides"]
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        b: {s: [] for s in sides} for b in backends}
    errors: dict[str, str] = {}
    names = list(backends)
    for i in range(repeats):
        order = names[i % len(names):] + names[:i % len(names)]  # rotate the backends
        for backend in order:
            if backend in errors:
                continue
            for side in (sides if i % 2 == 0 else sides[::-1]):
                try:
                    result = run_side(side, backend, backends[backend], workload, epochs)
                except SystemExit as exc:  # one backend failing never hides the others
                    errors[backend] = str(exc)[-3000:]
                    print(f"  {backend} {side}: FAILED\n{exc}", file=sys.stderr)
                    break
                result["first_epoch_s"] = result["epochs_s"][0] if result["epochs_s"] else None
                result["epoch_s"] = steady_epoch(result["epochs_s"])
                runs[backend][side].append(result)
                print(f"  repeat {i + 1}/{repeats} {backend} {side}: {result['wall_s']:.2f} s "
                      f"process, {result['fit_s']:.2f} s in fit, epochs "
                      f"{', '.join(f'{e:.2f}' for e in result['epochs_s'])} s, test accuracy "
                      f"{result['accuracy']:.4f}", file=sys.stderr)
    table: dict[str, Any] = {}
    for backend, by_side in runs.items():
        if backend in errors:
            table[backend] = {"error": errors[backend]}
            continue
        entry: dict[str, Any] = {side: {k: median([r[k] for r in results]) for k in KEYS}
                                 for side, results in by_side.items()}
        entry["params"] = {side: results[0]["params"] for side, results in by_side.items()}
        entry["keras_backend"] = {side: results[0]["backend"] for side, results in by_side.items()}
        if "hand" in by_side:
            entry["ratio_wall"] = entry["declml"]["wall_s"] / entry["hand"]["wall_s"]
            entry["ratio_fit"] = entry["declml"]["fit_s"] / entry["hand"]["fit_s"]
        entry["runs"] = {side: [{k: v for k, v in r.items() if k not in ("layers", "exit_code")}
                                for r in results] for side, results in by_side.items()}
        table[backend] = entry
    return table


def report(results: dict[str, Any]) -> str:
    workload = results["workload"]
    lines = [f"{workload['describe']}: {results['epochs']} epoch(s), {results['repeats']} "
             "repeat(s) per backend and side, medians; 'later epochs' is the median epoch "
             "after the first (the first includes compilation)", ""]
    hand = "hand" in workload["sides"]
    head = ("| backend | declml: first epoch s | later epochs s | fit s | process s | "
            "test accuracy |")
    rule = "|---|---:|---:|---:|---:|---:|"
    if hand:
        head += (" hand-written: first epoch s | later epochs s | process s | test accuracy | "
                 "process ratio declml / hand |")
        rule += "---:|---:|---:|---:|---:|"
    lines += [head, rule]
    for backend in BACKENDS:
        if backend not in results["backends"]:
            continue
        info = results["backends"][backend]
        if "skipped" in info:
            lines.append(f"| {backend} | skipped: {info['skipped']} |")
            continue
        entry = results["table"].get(backend, {})
        if "error" in entry:
            lines.append(f"| {backend} | FAILED (see the JSON / log) |")
            continue
        d = entry["declml"]
        row = (f"| {backend} | {fmt(d['first_epoch_s'])} | {fmt(d['epoch_s'])} | "
               f"{fmt(d['fit_s'])} | {fmt(d['wall_s'])} | {fmt(d['accuracy'], 4)} |")
        if hand:
            h = entry["hand"]
            row += (f" {fmt(h['first_epoch_s'])} | {fmt(h['epoch_s'])} | {fmt(h['wall_s'])} | "
                    f"{fmt(h['accuracy'], 4)} | {entry['ratio_wall']:.3f} |")
        lines.append(row)
    lines.append("")
    for backend, info in results["backends"].items():
        if "skipped" not in info:
            versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
            lines.append(f"- {backend}: Python {info['python_version']} from {info['origin']} "
                         f"({versions})")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=2, help="processes per backend and side")
    parser.add_argument("--backends", nargs="+", choices=BACKENDS, default=list(BACKENDS))
    parser.add_argument("--python", action="append", default=[], metavar="BACKEND=PATH",
                        help="the interpreter for a backend (repeatable)")
    parser.add_argument("--venvs", type=Path,
                        default=Path(os.environ.get("DECLML_BENCH_VENVS", "/tmp/ci-venvs")),
                        help="directory of per-backend virtualenvs (<venvs>/<backend>/bin/python)")
    parser.add_argument("--data", help="shared data directory (default: $DECLML_SHARED_DATA "
                                       "or ../shared/data)")
    parser.add_argument("--declml-only", action="store_true",
                        help="leave out the hand-written side")
    parser.add_argument("--quick", action="store_true", help="2 epochs, 1 repeat")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.epochs, args.repeats = 2, 1
    given = dict(item.split("=", 1) for item in args.python)
    found: dict[str, str] = {}
    backends: dict[str, dict[str, Any]] = {}
    for backend in args.backends:
        python, origin = find_python(backend, given, args.venvs)
        info = probe(python, backend) if python else {}
        if python is None:
            backends[backend] = {"skipped": origin}
        elif "error" in info or not info.get("has_backend") or not info.get("has_keras"):
            backends[backend] = {"skipped": f"{python} ({origin}) cannot run it: "
                                            f"{info.get('error') or 'backend or keras missing'}"}
        else:
            found[backend] = python
            backends[backend] = {"python": python, "origin": origin,
                                 "python_version": info["python"], "declml": info["declml"],
                                 "versions": info["versions"]}
        if "skipped" in backends[backend]:
            print(f"note: {backend} skipped: {backends[backend]['skipped']}", file=sys.stderr)
    env = environment()
    started = time.perf_counter()
    data = shared_data(args.data)
    directory = mnist_dir(data)
    with tempfile.TemporaryDirectory(prefix="backends-data-") as tmp:
        if directory is not None:
            split = write_mnist_npz(directory, Path(tmp) / "mnist_8k_2k.npz")
            workload = {"spec": "specs/mnist_cnn.yaml", "npz": split["npz"], "data": split,
                        "sides": ["declml"] if args.declml_only else ["hand", "declml"],
                        "describe": "the MNIST CNN (specs/mnist_cnn.yaml, 34,826 parameters) "
                                    "on MNIST t10k, first 8,000 train / last 2,000 test, "
                                    "batch 32"}
        else:
            workload = {"spec": "specs/digits_cnn.yaml", "npz": None, "sides": ["declml"],
                        "describe": f"no MNIST files in {data}: the digits CNN "
                                    "(specs/digits_cnn.yaml) through declml train only"}
        table = measure(found, workload, args.repeats, args.epochs) if found else {}
    env["load_average_after"] = load_average()
    checks = []
    for backend in args.backends:
        entry = table.get(backend, {})
        if "ratio_wall" in entry:
            checks.append(check(f"{backend}: declml train / hand-written Keras, process wall "
                                "time (MNIST CNN)", entry["ratio_wall"], None))
    jax_epoch = table.get("jax", {}).get("declml", {}).get("epoch_s")
    for backend in args.backends:
        epoch = table.get(backend, {}).get("declml", {}).get("epoch_s")
        if backend != "jax" and epoch and jax_epoch:
            checks.append(check(f"{backend} / jax: seconds per epoch (declml, later epochs)",
                                epoch / jax_epoch, None))
    results = {"epochs": args.epochs, "repeats": args.repeats, "workload": workload,
               "backends": backends, "table": table, "checks": checks, "environment": env,
               "seconds": time.perf_counter() - started}
    print(report(results))
    print()
    print(", ".join(f"{k} {v}" for k, v in env.items()) + f"; {results['seconds']:.0f} s in all")
    if args.json:
        results["report"] = report(results)
        args.json.write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
