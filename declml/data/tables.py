"""Tabular files: CSV / TSV (in memory, or streamed when large) and JSON Lines.

A table names its target column and either numeric input columns or one text
column. Labels are encoded by :mod:`declml.data.labels` (string labels get a
kept mapping); every problem in a file is reported with the file and the row.

Large CSV files are streamed: one pass records where each row starts and reads
the target column, then training reads rows by position, a batch at a time
(:class:`CsvRows`). Streamed files need one record per line.
"""

from __future__ import annotations

import csv
import io
import json
import math
from array import array
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from declml.data.labels import LabelColumn, encode_labels, parse_number
from declml.data.lazy import Examples
from declml.data.sources import _resolve
from declml.data.splits import Split, Splits
from declml.errors import DataError
from declml.registry.registry import did_you_mean

__all__ = ["STREAM_THRESHOLD_BYTES", "CsvRows", "load_csv", "load_jsonl"]

STREAM_THRESHOLD_BYTES = 256 * 2**20  # `stream: auto` streams files larger than this
csv.field_size_limit(2**31 - 1)  # long text fields are data, not an attack on a local file


class _Layout:
    """Where the target and the inputs are in a table's rows."""

    def __init__(self, names: Sequence[str], options: Any, source: str) -> None:
        self.names = list(names)
        self.source = source

        def position(name: str, role: str) -> int:
            if name not in self.names:
                raise DataError(
                    f"{source}: no column {name!r} for {role}{did_you_mean(name, self.names)} "
                    f"(columns: {', '.join(self.names)})")
            return self.names.index(name)

        self.target = position(options.target, "data.target")
        self.text = position(options.text, "data.text") if options.text else None
        if options.text and options.inputs:
            raise DataError(
                f"{source}: data.text and data.inputs are both set, but declml trains models "
                "with one input array: use the text column alone, or numeric columns alone")
        if self.text is not None:
            self.inputs: list[int] = []
        elif options.inputs:
            self.inputs = [position(name, "data.inputs") for name in options.inputs]
        else:
            self.inputs = [i for i in range(len(self.names)) if i != self.target]
        if self.text is None and not self.inputs:
            raise DataError(f"{source}: no input columns besides the target {options.target!r}")

    @property
    def input_names(self) -> list[str]:
        return [self.names[i] for i in self.inputs]

    def row(self, fields: list[str], line: int) -> tuple[Any, str]:
        """(inputs, raw target) of one record; checks the number of fields."""
        if len(fields) != len(self.names):
            raise DataError(
                f"{self.source}, row {line}: {len(fields)} fields where the header has "
                f"{len(self.names)}; check the delimiter and quoting of that row")
        if self.text is not None:
            return fields[self.text], fields[self.target]
        values = []
        for i in self.inputs:
            number = parse_number(fields[i])
            if number is None or not math.isfinite(number):
                what = "not a number" if number is None else "not a finite number"
                raise DataError(
                    f"{self.source}, row {line}, column {self.names[i]!r}: {fields[i]!r} is "
                    f"{what}; list numeric columns in data.inputs, or name a text column "
                    "in data.text")
            values.append(number)
        return values, fields[self.target]


def _dialect(path: Path, options: Any) -> dict[str, Any]:
    delimiter = options.delimiter
    if delimiter is None:
        delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    quoting = options.quoting
    if quoting == "auto":  # TSV files carry quotes as text; CSV files quote fields
        quoting = "none" if delimiter == "\t" else "minimal"
    return {"delimiter": delimiter,
            "quoting": csv.QUOTE_NONE if quoting == "none" else csv.QUOTE_MINIMAL}


def _header(first: list[str] | None, options: Any, source: str) -> list[str]:
    if first is None:
        raise DataError(f"{source}: the file is empty; expected a header row and data rows")
    if options.columns:
        if len(options.columns) != len(first):
            raise DataError(f"{source}: data.columns names {len(options.columns)} columns, "
                            f"but the first row has {len(first)} fields")
        return list(options.columns)
    if not options.header:
        return [str(i) for i in range(len(first))]
    names = [name.strip() for name in first]
    if names:  # files saved as "CSV UTF-8" by spreadsheets start with a byte-order mark
        names[0] = names[0].lstrip("\ufeff")
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DataError(f"{source}: the header repeats column names ({', '.join(duplicated)}); "
                        "rename them or set data.columns")
    return names


def _read_table(path: Path, options: Any) -> tuple[np.ndarray, LabelColumn, list[str]]:
    """A whole CSV file in memory: inputs (floats or strings) and the raw targets."""
    source = str(path)
    try:
        handle = path.open(encoding=options.encoding, newline="")
    except OSError as exc:
        raise DataError(f"cannot open {source}: {exc.strerror or exc}") from None
    inputs, targets, rows = [], [], []
    with handle:
        reader = csv.reader(handle, **_dialect(path, options))
        try:
            first = next(reader, None)
            names = _header(first, options, source)
            layout = _Layout(names, options, source)
            if not options.header and first is not None:
                x, y = layout.row(first, 1)
                inputs.append(x)
                targets.append(y)
                rows.append(1)
            for record in reader:
                if not record:
                    continue  # blank line
                x, y = layout.row(record, reader.line_num)
                inputs.append(x)
                targets.append(y)
                rows.append(reader.line_num)
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}, row {_undecodable_line(path, options.encoding)}: not "
                            f"valid {options.encoding} ({exc.reason}); set data.encoding"
                            ) from None
        except csv.Error as exc:
            raise DataError(f"{source}, row {reader.line_num}: {exc}") from None
    if not inputs:
        raise DataError(f"{source}: no data rows after the header")
    x = (np.array(inputs, dtype=object) if layout.text is not None
         else np.asarray(inputs, dtype="float32"))
    return x, LabelColumn(targets, rows, source), layout.input_names


def _undecodable_line(path: Path, encoding: str) -> int | str:
    """The first line that does not decode (the csv reader fails on a buffered block)."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode(encoding)
            except UnicodeDecodeError:
                return number
    return "?"


class CsvRows(Examples):
    """The input columns of a large CSV file, read by row position on demand."""

    def __init__(self, path: Path, options: Any) -> None:
        self.path = path
        self.options = options
        self.dialect = _dialect(path, options)
        self.targets: LabelColumn | None = None
        self.offsets, self.layout, self.targets = self._index()

    def _lines(self) -> Iterator[tuple[int, int, bytes]]:
        with self.path.open("rb") as handle:
            offset = 0
            for number, raw in enumerate(handle, start=1):
                yield number, offset, raw
                offset += len(raw)

    def _parse(self, raw: bytes, line: int) -> list[str]:
        try:
            text = raw.decode(self.options.encoding)
        except UnicodeDecodeError as exc:
            raise DataError(f"{self.path}, row {line}: not valid {self.options.encoding} "
                            f"({exc.reason}); set data.encoding") from None
        try:
            return next(csv.reader(io.StringIO(text), **self.dialect), [])
        except csv.Error as exc:
            raise DataError(f"{self.path}, row {line}: {exc}") from None

    def _index(self) -> tuple[np.ndarray, _Layout, LabelColumn]:
        """One pass: where each row starts, its line number and its raw target.

        Kept compact (about 16 bytes a row plus a pointer to a shared label
        string), since this is what stays in memory for a file that does not fit.
        """
        source = str(self.path)
        offsets, lines = array("q"), array("q")
        targets: list[str] = []
        labels: dict[str, str] = {}  # one string object per distinct label
        layout = None
        for number, offset, raw in self._lines():
            fields = self._parse(raw, number)
            if layout is None:
                layout = _Layout(_header(fields, self.options, source), self.options, source)
                if self.options.header:
                    continue  # the header row, not data
            if not fields:
                continue
            _, target = layout.row(fields, number)
            offsets.append(offset)
            lines.append(number)
            targets.append(labels.setdefault(target, target))
        if layout is None:
            raise DataError(f"{source}: the file is empty; expected a header row and data rows")
        if not offsets:
            raise DataError(f"{source}: no data rows after the header")
        self.lines = np.frombuffer(lines, dtype="int64")
        return (np.frombuffer(offsets, dtype="int64"), layout,
                LabelColumn(targets, self.lines, source))

    def take_targets(self) -> LabelColumn:
        """The raw targets, handed over once for encoding (then freed with the caller's copy)."""
        targets, self.targets = self.targets, None
        if targets is None:
            raise DataError(f"{self.path}: the targets were already taken")
        return targets

    def __len__(self) -> int:
        return len(self.offsets)

    def read(self, index: np.ndarray) -> np.ndarray:
        out = []
        with self.path.open("rb") as handle:
            for position in np.asarray(index, dtype="int64"):
                handle.seek(int(self.offsets[position]))
                line = int(self.lines[position])
                out.append(self.layout.row(self._parse(handle.readline(), line), line)[0])
        if self.layout.text is not None:
            return np.array(out, dtype=object)
        return np.asarray(out, dtype="float32").reshape(len(out), len(self.layout.inputs))

    def describe(self) -> str:
        return f"{self.path} (streamed)"


def _stream(path: Path, options: Any) -> bool:
    if options.stream == "auto":
        return path.stat().st_size > STREAM_THRESHOLD_BYTES
    return bool(options.stream)


def load_csv(options: Any) -> Splits:
    """A CSV or TSV file (plus an optional ``test_path`` with the same columns)."""
    parts: list[tuple[np.ndarray | Examples, LabelColumn, list[str]]] = []
    streamed = False
    for given in (options.path, options.test_path):
        if given is None:
            continue
        path = _resolve(given)
        if path.is_dir():
            raise DataError(f"{path} is a directory; data.path must be a CSV/TSV file")
        if _stream(path, options):
            rows = CsvRows(path, options)
            parts.append((rows, rows.take_targets(), rows.layout.input_names))
            streamed = True
        else:
            parts.append(_read_table(path, options))
    return _splits(parts, options, extra={"streamed": True} if streamed else {})


def _splits(parts: list[tuple[Any, LabelColumn, list[str]]], options: Any,
            extra: dict[str, Any] | None = None) -> Splits:
    targets, names, task = encode_labels([column for _, column, _ in parts], task=options.task,
                                         classes=options.classes)
    splits = [Split(x, y) for (x, _, _), y in zip(parts, targets, strict=True)]
    info = dict(extra or {})
    if parts[0][2]:  # the resolved spec records them: predict reads columns in this order
        info["input_columns"] = parts[0][2]
    return Splits(train=splits[0], test=splits[1] if len(splits) > 1 else None,
                  source=options.path, class_names=names, task=task,  # type: ignore[arg-type]
                  info=info)


def _read_jsonl(path: Path, options: Any) -> tuple[np.ndarray, LabelColumn, list[str]]:
    source = str(path)
    inputs, targets, rows = [], [], []
    keys: list[str] | None = None
    try:
        handle = path.open(encoding=options.encoding)
    except OSError as exc:
        raise DataError(f"cannot open {source}: {exc.strerror or exc}") from None
    with handle:
        try:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except ValueError as exc:
                    raise DataError(f"{source}, line {number}: not JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise DataError(f"{source}, line {number}: expected a JSON object per line "
                                    f"with the target and input keys, got "
                                    f"{type(record).__name__}")
                if keys is None:
                    keys = _jsonl_keys(record, options, source, number)
                inputs.append(_jsonl_inputs(record, keys, options, source, number))
                if options.target not in record:
                    raise DataError(f"{source}, line {number}: no key {options.target!r} "
                                    "(data.target)")
                targets.append(record[options.target])
                rows.append(number)
        except UnicodeDecodeError as exc:
            raise DataError(f"{source}: not valid {options.encoding} ({exc.reason}); set "
                            "data.encoding") from None
    if not inputs:
        raise DataError(f"{source}: the file has no records")
    if options.text:
        return np.array(inputs, dtype=object), LabelColumn(targets, rows, source), []
    try:
        x = np.asarray(inputs, dtype="float32")
    except ValueError:
        shapes = sorted({np.shape(v) for v in inputs}, key=str)[:3]
        raise DataError(f"{source}: the inputs do not all have the same shape (e.g. "
                        f"{', '.join(map(str, shapes))})") from None
    return x, LabelColumn(targets, rows, source), list(keys or [])


def _jsonl_keys(record: dict[str, Any], options: Any, source: str, line: int) -> list[str]:
    if options.text and options.inputs:
        raise DataError(f"{source}: data.text and data.inputs are both set, but declml trains "
                        "models with one input array: use one of them")
    wanted = [options.text] if options.text else (
        list(options.inputs) if options.inputs else
        [k for k in record if k != options.target])
    for key in wanted:
        if key not in record:
            raise DataError(f"{source}, line {line}: no key {key!r}"
                            f"{did_you_mean(key, list(record))} (keys: {', '.join(record)})")
    if not wanted:
        raise DataError(f"{source}: no input keys besides the target {options.target!r}")
    return wanted


def _jsonl_inputs(record: dict[str, Any], keys: list[str], options: Any, source: str,
                  line: int) -> Any:
    missing = [k for k in keys if k not in record]
    if missing:
        raise DataError(f"{source}, line {line}: no key {missing[0]!r}")
    if options.text:
        value = record[keys[0]]
        if not isinstance(value, str):
            raise DataError(f"{source}, line {line}: {keys[0]!r} is "
                            f"{type(value).__name__}, expected text")
        return value
    parts = []
    for key in keys:
        try:
            parts.append(np.asarray(record[key], dtype="float32"))
        except (TypeError, ValueError):
            raise DataError(f"{source}, line {line}: {key!r} holds {record[key]!r:.60}, not "
                            "numbers") from None
    if len(parts) == 1:  # one scalar key is one column, as in a CSV
        return parts[0].reshape(1) if parts[0].ndim == 0 else parts[0]
    return np.concatenate([p.reshape(-1) for p in parts])


def load_jsonl(options: Any) -> Splits:
    """A JSON Lines file: one object per line holding the target and the inputs."""
    parts = []
    for given in (options.path, options.test_path):
        if given is not None:
            path = _resolve(given)
            if path.is_dir():
                raise DataError(f"{path} is a directory; data.path must be a .jsonl file")
            parts.append(_read_jsonl(path, options))
    return _splits(parts, options)
