"""Read the examples ``declml predict`` is given, the way the run's data was read.

Raw inputs, not preprocessed ones: the run's saved pipeline does the rest.

* ``.txt`` — one raw text per line (text models);
* ``.csv`` / ``.tsv`` — rows with the columns the run was trained on (a target
  column, if present, is ignored); for other runs, every column is an input;
* ``.jsonl`` — objects with the run's input keys, JSON strings (text) or lists;
* ``.json`` — a list of examples, or ``{"instances": [...]}``;
* ``.npy`` / ``.npz`` — arrays (no pickle);
* image files, or a directory of them — decoded like the run's image data.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.images import IMAGE_EXTENSIONS, read_images
from declml.errors import DataError, one_line
from declml.run.saved import SavedRun

__all__ = ["INPUT_FORMATS", "Inputs", "read_inputs"]

INPUT_FORMATS = (".txt", ".csv", ".tsv", ".jsonl", ".json", ".npy", ".npz",
                 *IMAGE_EXTENSIONS)


@dataclass
class Inputs:
    """Raw examples and, per example, what to call it in the output (a file, a text)."""

    x: np.ndarray
    ids: list[dict[str, Any]]


def _is_text_run(run: SavedRun | None) -> bool:
    return run is not None and run.spec.data.preprocessing.text is not None


def _option(run: SavedRun | None, key: str, default: Any = None) -> Any:
    return run.spec.data.options.get(key, default) if run is not None else default


def _text_lines(path: Path) -> Inputs:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not valid UTF-8 ({exc.reason})") from None
    texts = [line for line in lines if line.strip()]
    if not texts:
        raise DataError(f"{path}: no text lines to classify")
    return Inputs(np.array(texts, dtype=object), [{"text": _short(t)} for t in texts])


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _table(path: Path, run: SavedRun | None) -> Inputs:
    trained_on_table = run is not None and run.spec.data.dataset in ("csv", "tsv")
    delimiter = _option(run, "delimiter") if trained_on_table else None
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    quoting_option = _option(run, "quoting", "auto") if trained_on_table else "auto"
    if quoting_option == "auto":
        quoting_option = "none" if delimiter == "\t" else "minimal"
    quoting = csv.QUOTE_NONE if quoting_option == "none" else csv.QUOTE_MINIMAL
    try:
        with path.open(encoding=_option(run, "encoding", "utf-8"), newline="") as handle:
            rows = [r for r in csv.reader(handle, delimiter=delimiter, quoting=quoting) if r]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read {path}: {one_line(exc)}") from None
    if not rows:
        raise DataError(f"{path}: the file is empty")
    columns = _option(run, "columns") if trained_on_table else None
    has_header = _has_header(rows[0], run, trained_on_table)
    header = (list(columns) if columns else
              [c.strip().lstrip("\ufeff") for c in rows[0]] if has_header else None)
    target = _option(run, "target")
    if columns and target in columns and len(rows[0]) == len(columns) - 1:
        header = [c for c in columns if c != target]  # new data without the target column
    data = rows[1:] if has_header else rows
    if not data:
        raise DataError(f"{path}: no data rows after the header")
    text = _option(run, "text") if trained_on_table else None
    wanted = [text] if text else list(_option(run, "inputs") or []) if trained_on_table else []
    if header is not None and trained_on_table and not wanted:
        wanted = [c for c in header if c != target]
    positions = list(range(len(data[0])))
    if wanted and header is not None:
        missing = [c for c in wanted if c not in header]
        if missing:
            raise DataError(f"{path}: no column {missing[0]!r} (columns: {', '.join(header)}); "
                            "the run was trained on " + ", ".join(wanted))
        positions = [header.index(c) for c in wanted]
    values, ids = [], []
    first_line = 2 if has_header else 1
    for number, row in enumerate(data, start=first_line):
        if header is not None and len(row) != len(header):
            raise DataError(f"{path}, row {number}: {len(row)} fields where the header has "
                            f"{len(header)}")
        picked = [row[p] for p in positions]
        if text:
            values.append(picked[0])
            ids.append({"row": number, "text": _short(picked[0])})
            continue
        try:
            values.append([float(v) for v in picked])
        except ValueError:
            raise DataError(f"{path}, row {number}: {picked!r:.80} holds a value that is not "
                            "a number") from None
        ids.append({"row": number})
    x = np.array(values, dtype=object) if text else np.asarray(values, dtype="float32")
    return Inputs(x, ids)


def _has_header(first: list[str], run: SavedRun | None, trained_on_table: bool) -> bool:
    if trained_on_table:
        return bool(_option(run, "header", True))
    try:
        [float(v) for v in first]
    except ValueError:
        return True
    return False


def _json_examples(path: Path, run: SavedRun | None) -> Inputs:
    try:
        if path.suffix.lower() == ".jsonl":
            examples = [json.loads(line) for line in
                        path.read_text(encoding="utf-8").splitlines() if line.strip()]
        else:
            examples = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(examples, dict) and "instances" in examples:
                examples = examples["instances"]
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read inputs from {path}: {one_line(exc)}") from None
    if not isinstance(examples, list) or not examples:
        raise DataError(f"{path} must hold a non-empty list of examples")
    if all(isinstance(e, dict) for e in examples):
        examples = _pick_keys(examples, path, run)
    if all(isinstance(e, str) for e in examples):
        return Inputs(np.array(examples, dtype=object),
                      [{"text": _short(e)} for e in examples])
    try:
        x = np.asarray(examples, dtype="float32")
    except (TypeError, ValueError):
        raise DataError(f"the examples in {path} do not all have the same shape, or hold "
                        "non-numbers") from None
    return Inputs(x, [{"row": i + 1} for i in range(len(x))])


def _pick_keys(records: list[dict[str, Any]], path: Path, run: SavedRun | None) -> list[Any]:
    text = _option(run, "text")
    keys = [text] if text else list(_option(run, "inputs") or [])
    if not keys:
        target = _option(run, "target")
        keys = [k for k in records[0] if k != target]
    out = []
    for number, record in enumerate(records, start=1):
        missing = [k for k in keys if k not in record]
        if missing:
            raise DataError(f"{path}, example {number}: no key {missing[0]!r} (the run's "
                            f"inputs are {', '.join(keys)})")
        if text:
            out.append(record[text])
        elif len(keys) == 1:
            out.append(record[keys[0]])
        else:
            out.append(np.concatenate([np.ravel(np.asarray(record[k], dtype="float32"))
                                       for k in keys]).tolist())
    return out


def _arrays(path: Path) -> Inputs:
    try:
        loaded = np.load(path, allow_pickle=False)
        if isinstance(loaded, np.lib.npyio.NpzFile):
            with loaded as archive:
                keys = list(archive.keys())
                key = "x" if "x" in keys else keys[0] if len(keys) == 1 else None
                if key is None:
                    raise DataError(f"{path} holds arrays {keys}; name the inputs 'x'")
                loaded = archive[key]
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(f"cannot read inputs from {path}: {one_line(exc)}") from None
    x = np.asarray(loaded)
    return Inputs(x, [{"row": i + 1} for i in range(len(x))] if x.ndim else [])


def _images(paths: list[Path], run: SavedRun | None) -> Inputs:
    size = _option(run, "image_size")
    mode = _option(run, "color_mode")
    if run is not None and (size is None or mode is None):
        shape = tuple(run.model.input_shape[1:])
        if len(shape) == 3 and None not in shape:
            size = size or [shape[0], shape[1]]
            mode = mode or {1: "grayscale", 3: "rgb", 4: "rgba"}.get(shape[2], "rgb")
    x = read_images(paths, tuple(size) if size else None, mode or "rgb")
    return Inputs(x, [{"file": str(p)} for p in paths])


def read_inputs(path: str | Path, run: SavedRun | None = None) -> Inputs:
    """Examples from a file (or a directory of images), read as the run's data was.

    Raises:
        DataError: a missing or unreadable file, an unknown format, ragged examples.
    """
    p = Path(path).expanduser()
    if p.is_dir():
        images = sorted(f for f in p.iterdir()
                        if f.suffix.lower() in IMAGE_EXTENSIONS and not f.name.startswith("."))
        if not images:
            raise DataError(f"{p} is a directory without image files "
                            f"({', '.join(IMAGE_EXTENSIONS)})")
        return _images(images, run)
    if not p.is_file():
        raise DataError(f"input file {str(p)!r} does not exist")
    suffix = p.suffix.lower()
    if suffix == ".txt":
        if run is not None and not _is_text_run(run):
            raise DataError(f"{p.name}: raw text lines need a text model (one with "
                            "data.preprocessing.text); this run takes numeric inputs")
        return _text_lines(p)
    if suffix in (".csv", ".tsv"):
        return _table(p, run)
    if suffix in (".json", ".jsonl"):
        return _json_examples(p, run)
    if suffix in (".npy", ".npz"):
        return _arrays(p)
    if suffix in IMAGE_EXTENSIONS:
        return _images([p], run)
    raise DataError(f"cannot read {p.name}: supported inputs are {', '.join(INPUT_FORMATS)} "
                    "files, or a directory of images")
