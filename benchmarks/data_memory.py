"""Peak memory of streamed data vs the same data loaded whole, as the data grows.

Generates synthetic data of growing size in a temporary directory — a CSV file
of 50 numeric columns and an integer label, and a directory of 32×32 PNG
images in 10 class folders — and, for each size, measures in a fresh process
(so peaks never mix) the peak resident memory (``ru_maxrss``) of:

* **streamed**: ``declml train`` (its Python entry point, :func:`declml.run.train.train`)
  on a tiny Dense model, 1 epoch, batch 256: the CSV with ``stream: true``
  (read a batch of rows at a time), the images as ``dataset: image_dir``
  (decoded a batch at a time);
* **whole**: the same training with the data in memory: the CSV with
  ``stream: false``; the images decoded up front by
  :func:`declml.data.images.read_images` into one array, then the same split,
  rescaling and model fitted by hand in Keras.

A baseline process imports declml, Keras and JAX and builds both models; its
peak is subtracted, so the table shows the growth. Part of that growth is the
same at every size (splitting imports scikit-learn, fitting compiles with XLA,
the run's plots import matplotlib): about 110 MiB, which hides the data's share
at the smallest sizes, since a peak is the largest of the run's phases. Hence
two more columns: the bytes per added example, (peak at the largest size −
peak at the smallest) / (examples added), and what the streaming loader itself
keeps per example, counted exactly by ``tracemalloc`` (peak RSS is noisy to a
few MiB). Streaming should stay flat: it keeps O(rows) bookkeeping only, by
design 16 bytes a CSV row (its offset and its label) and one path per image,
while loading whole grows with the file.

    KERAS_BACKEND=jax python benchmarks/data_memory.py [--quick | --full] [--repeats 1]
                                                       [--json out.json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parent.parent
MB = 2**20

CSV_COLUMNS = 50
CSV_ROW_BYTES = CSV_COLUMNS * len("0.dddddd,") + len("7\n")  # every row has this length
IMAGE_SIDE = 32
CLASSES = 10
BATCH = 256

SIZES = {  # CSV file sizes in MiB, and image counts
    "quick": {"csv": [16, 32, 64], "images": [2000, 4000, 8000]},
    "full": {"csv": [50, 100, 200, 400], "images": [5000, 10000, 20000, 40000]},
}


# --- synthetic data ----------------------------------------------------------------------


def _csv_rows(rng: np.random.Generator, rows: int) -> bytes:
    """``rows`` CSV lines: 50 values ``0.dddddd`` and a label (the first digit of column 0).

    Formatted with array arithmetic (np.savetxt is ~50 times slower).
    """
    digits = rng.integers(0, 10, size=(rows, CSV_COLUMNS, 6), dtype=np.uint8)
    cells = np.empty((rows, CSV_COLUMNS, 9), dtype=np.uint8)
    cells[..., 0], cells[..., 1], cells[..., 8] = ord("0"), ord("."), ord(",")
    cells[..., 2:8] = digits + ord("0")
    tail = np.empty((rows, 2), dtype=np.uint8)
    tail[:, 0] = digits[:, 0, 0] + ord("0")  # learnable: the label is in column 0
    tail[:, 1] = ord("\n")
    return np.concatenate([cells.reshape(rows, -1), tail], axis=1).tobytes()


def write_csv(path: Path, size_mb: int, seed: int = 0) -> int:
    """A CSV file of about ``size_mb`` MiB; returns its number of data rows."""
    rng = np.random.default_rng(seed)
    rows = size_mb * MB // CSV_ROW_BYTES
    header = ",".join([f"x{i}" for i in range(CSV_COLUMNS)] + ["label"]) + "\n"
    with path.open("wb") as out:
        out.write(header.encode())
        for start in range(0, rows, 8192):
            out.write(_csv_rows(rng, min(8192, rows - start)))
    return rows


def write_image_pool(pool: Path, count: int, seed: int = 0) -> list[Path]:
    """``count`` random 32×32 RGB PNGs (noise: they do not compress) in 10 class folders."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    files = []
    for i in range(count):
        folder = pool / f"class{i % CLASSES}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, size=(IMAGE_SIDE, IMAGE_SIDE, 3), dtype=np.uint8)
        files.append(folder / f"{i:06d}.png")
        Image.fromarray(pixels).save(files[-1])
    return files


def link_images(pool_files: list[Path], root: Path, count: int) -> int:
    """A class-per-folder directory of the first ``count`` pool images (hard links)."""
    for file in pool_files[:count]:
        target = root / file.parent.name / file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(file, target)
    return sum(f.stat().st_size for f in pool_files[:count])


# --- what each fresh process does ---------------------------------------------------------


def _spec(kind: str, path: str, stream: bool) -> dict[str, Any]:
    if kind == "csv":
        data = {"dataset": "csv", "path": path, "target": "label", "stream": stream}
        model = {"input_shape": [CSV_COLUMNS],
                 "layers": [{"type": "Dense", "units": 64, "activation": "relu"},
                            {"type": "Dense", "units": CLASSES, "activation": "softmax"}]}
    else:
        data = {"dataset": "image_dir", "path": path,
                "preprocessing": {"rescale": 1 / 255}}
        model = {"input_shape": [IMAGE_SIDE, IMAGE_SIDE, 3],
                 "layers": [{"type": "Flatten"},
                            {"type": "Dense", "units": 64, "activation": "relu"},
                            {"type": "Dense", "units": CLASSES, "activation": "softmax"}]}
    return {"spec_version": 1, "name": f"memory_{kind}", "seed": 0,
            "data": {**data, "test_split": 0.2}, "model": model,
            "compile": {"optimizer": "adam", "loss": "sparse_categorical_crossentropy",
                        "metrics": ["accuracy"]},
            "fit": {"epochs": 1, "batch_size": BATCH}}


def _images_whole(spec: Any, path: str) -> float:
    """The image_dir run with every image decoded up front, fitted by hand in Keras."""
    from declml.builder.model import build_model
    from declml.data.folders import list_class_files
    from declml.data.images import IMAGE_EXTENSIONS, read_images
    from declml.data.splits import Split, holdout

    found, _, _ = list_class_files(path, IMAGE_EXTENSIONS, None)
    x = read_images(found["train"].files)
    train, test = holdout(Split(x, found["train"].labels), spec.data.test_split, spec.seed,
                          stratify=spec.data.stratify)  # the split declml makes
    x_train = train.x.astype("float32") * np.float32(1 / 255)  # as declml preprocesses
    x_test = test.x.astype("float32") * np.float32(1 / 255)
    model = build_model(spec)
    model.fit(x_train, train.y, epochs=1, batch_size=BATCH, verbose=0)
    return model.evaluate(x_test, test.y, batch_size=BATCH, verbose=0,
                          return_dict=True)["accuracy"]


def worker(kind: str, mode: str, path: str, output: str) -> None:
    """One measurement; prints a JSON line with the peak RSS (MiB) and times (s)."""
    started = time.perf_counter()
    from declml.backend import import_keras

    import_keras()
    from declml.builder.model import build_model
    from declml.run.train import train
    from declml.spec.api import spec_from_data

    spec = spec_from_data(_spec(kind, path, stream=mode == "stream"))
    ready = time.perf_counter()
    accuracy = None
    if mode == "baseline":  # both models: one baseline serves both kinds of data
        for each in ("csv", "images"):
            build_model(spec_from_data(_spec(each, path, stream=True)))
    elif kind == "images" and mode == "whole":
        accuracy = _images_whole(spec, path)
    else:
        result = train(spec, output, log=lambda _: None, verbose=0)
        accuracy = result.metrics["accuracy"]
    done = time.perf_counter()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux
    print(json.dumps({"peak_mb": peak, "work_s": done - ready, "total_s": done - started,
                      "accuracy": accuracy}))


def _measure(kind: str, mode: str, path: Path | str) -> dict[str, Any]:
    """Run :func:`worker` in a fresh process."""
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    with tempfile.TemporaryDirectory() as run_dir:
        out = subprocess.run([sys.executable, __file__, "--worker", kind, mode, str(path),
                              run_dir + "/run"], capture_output=True, text=True, cwd=REPO,
                             env=env)
    if out.returncode:
        raise SystemExit(f"{kind} {mode} {path} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bookkeeping(kind: str, path: Path) -> dict[str, float]:
    """Bytes per example the streaming loader keeps (and needs at its peak), by tracemalloc.

    Exact where peak RSS is noisy: a streamed CSV should keep about 16 bytes a row
    (its offset and its label), an image directory one path per image.
    """
    import tracemalloc

    from declml.builtins.datasets import CsvOptions
    from declml.builtins.folder_datasets import ImageDirOptions
    from declml.data.folders import load_image_dir
    from declml.data.tables import load_csv

    def load(path: Path) -> Any:
        if kind == "csv":
            return load_csv(CsvOptions(path=str(path), target="label", stream=True))
        return load_image_dir(ImageDirOptions(path=str(path)))

    # A first load imports what the loaders import on first use; not counted.
    if kind == "csv":  # on a small copy, to save an indexing pass
        sample = path.with_name("warm-up.csv")
        with path.open("rb") as whole:
            sample.write_bytes(b"".join(itertools.islice(whole, 1000)))
        load(sample)
    else:
        load(path)
    tracemalloc.start()
    splits = load(path)
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {"kept_bytes": kept / len(splits.train), "peak_bytes": peak / len(splits.train)}


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return {key: statistics.median(r[key] for r in runs) if runs[0][key] is not None else None
            for key in runs[0]}


# --- the benchmark ------------------------------------------------------------------------


def measure(sizes: dict[str, list[int]], repeats: int, scratch: Path) -> dict[str, Any]:
    """The baseline, and both modes at every size; medians over ``repeats`` processes."""
    results: dict[str, Any] = {"csv": [], "images": []}
    pool = write_image_pool(scratch / "pool", max(sizes["images"]))
    datasets: dict[str, list[tuple[int, int, Path]]] = {"csv": [], "images": []}
    for size_mb in sizes["csv"]:
        path = scratch / f"table_{size_mb}mb.csv"
        datasets["csv"].append((write_csv(path, size_mb), path.stat().st_size, path))
    for count in sizes["images"]:
        root = scratch / f"images_{count}"
        datasets["images"].append((count, link_images(pool, root, count), root))
    for kind in ("csv", "images"):  # in this process: the loaders do not import Keras
        results[f"{kind}_bookkeeping"] = bookkeeping(kind, datasets[kind][0][2])
    results["baseline"] = _median([_measure("csv", "baseline", "unread")
                                   for _ in range(repeats)])
    print(f"  baseline: {results['baseline']}", file=sys.stderr)
    for kind in ("csv", "images"):
        for examples, file_bytes, path in datasets[kind]:
            row: dict[str, Any] = {"examples": examples, "file_mb": file_bytes / MB}
            for mode in ("stream", "whole"):
                runs = []
                for i in range(repeats):
                    runs.append(_measure(kind, mode, path))
                    print(f"  {kind} {examples} {mode} {i + 1}/{repeats}: {runs[-1]}",
                          file=sys.stderr)
                row[mode] = _median(runs)
                row[mode]["growth_mb"] = row[mode]["peak_mb"] - results["baseline"]["peak_mb"]
            results[kind].append(row)
    for kind in ("csv", "images"):
        small, large = results[kind][0], results[kind][-1]
        results[f"{kind}_summary"] = {
            mode: {"growth_ratio": large[mode]["growth_mb"] / small[mode]["growth_mb"],
                   "bytes_per_example": (large[mode]["peak_mb"] - small[mode]["peak_mb"]) * MB
                   / (large["examples"] - small["examples"])}
            for mode in ("stream", "whole")}
    return results


def environment() -> dict[str, str]:
    """The machine and the library versions, for the record (without importing Keras)."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("keras", "jax", "numpy", "pillow"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    return {"python": platform.python_version(), "machine": platform.machine(),
            "system": f"{platform.system()} {platform.release()}",
            "cpus": str(os.cpu_count()), **versions}


def table(results: dict[str, Any]) -> str:
    """The results as a Markdown table."""
    lines = ["| data | examples | file MiB | streamed peak − base (MiB) | whole peak − base "
             "(MiB) | streamed s | whole s |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for kind, label in (("csv", "CSV, 50 columns"), ("images", "PNG 32×32×3")):
        for row in results[kind]:
            s, w = row["stream"], row["whole"]
            lines.append(f"| {label} | {row['examples']:,} | {row['file_mb']:.1f} | "
                         f"{s['growth_mb']:.1f} | {w['growth_mb']:.1f} | "
                         f"{s['total_s']:.1f} | {w['total_s']:.1f} |")
    lines += ["", f"Baseline (imports + models built): {results['baseline']['peak_mb']:.0f} "
              "MiB peak RSS.", "",
              "| data | growth ratio, largest / smallest size: streamed | whole | "
              "bytes per added example: streamed | whole | streaming loader keeps (peak), "
              "bytes per example |",
              "|---|---:|---:|---:|---:|---:|"]
    for kind, label in (("csv", "CSV"), ("images", "images")):
        summary, kept = results[f"{kind}_summary"], results[f"{kind}_bookkeeping"]
        lines.append(f"| {label} | {summary['stream']['growth_ratio']:.2f} | "
                     f"{summary['whole']['growth_ratio']:.2f} | "
                     f"{summary['stream']['bytes_per_example']:,.0f} | "
                     f"{summary['whole']['bytes_per_example']:,.0f} | "
                     f"{kept['kept_bytes']:,.0f} ({kept['peak_bytes']:,.0f}) |")
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(*sys.argv[2:6])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="mode", action="store_const", const="quick",
                      help="CSV of {csv} MiB, {images} images (the default)".format(
                          **{k: "/".join(map(str, v)) for k, v in SIZES["quick"].items()}))
    size.add_argument("--full", dest="mode", action="store_const", const="full",
                      help="CSV of {csv} MiB, {images} images".format(
                          **{k: "/".join(map(str, v)) for k, v in SIZES["full"].items()}))
    parser.add_argument("--repeats", type=int, default=1,
                        help="fresh processes per measurement (medians are reported)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    mode = args.mode or "quick"
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="declml-memory-") as scratch:
        results = measure(SIZES[mode], args.repeats, Path(scratch))
    results.update(mode=mode, repeats=args.repeats, environment=environment(),
                   seconds=time.perf_counter() - started)
    print(table(results))
    print()
    print(", ".join(f"{k} {v}" for k, v in results["environment"].items())
          + f"; {mode} mode, {args.repeats} repeat(s), {results['seconds']:.0f} s")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
