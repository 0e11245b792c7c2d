"""Target columns read from files: string labels to class indices, numbers to arrays.

The mapping from label to index is the sorted set of training labels unless
the spec lists ``classes`` explicitly (a trained run writes the mapping it
used into ``spec.lock.yaml``, so evaluating on new files keeps it). A label
outside the mapping is an error that names the file and the row.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from declml.errors import DataError

__all__ = ["LabelColumn", "encode_labels", "parse_number"]


def parse_number(text: str) -> float | None:
    """``float(text)`` or None, for deciding whether a column is numeric."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value


class LabelColumn:
    """Raw target values with the row each came from, for error messages.

    Attributes:
        values: the raw values (strings as read from a file, or numbers).
        rows: the 1-based line or record number of each value in ``source``.
        source: the file the values came from.
    """

    def __init__(self, values: Sequence[object], rows: Sequence[int], source: str) -> None:
        self.values = values if isinstance(values, list) else list(values)
        self.rows = rows if isinstance(rows, (list, np.ndarray)) else list(rows)
        self.source = source

    def numeric(self) -> np.ndarray | None:
        """The values as numbers, or None when any of them is not a number."""
        out = np.empty(len(self.values), dtype="float64")
        for i, value in enumerate(self.values):
            if isinstance(value, (bool, np.bool_)):
                return None
            if isinstance(value, str):
                number = parse_number(value)
            elif isinstance(value, numbers.Real):
                number = float(value)
            else:
                return None
            if number is None or not math.isfinite(number):
                return None
            out[i] = number
        return out


def encode_labels(columns: Sequence[LabelColumn], *, task: str = "auto",
                  classes: Sequence[str] | None = None
                  ) -> tuple[list[np.ndarray], list[str] | None, str]:
    """Turn the target columns of a dataset's splits into arrays.

    ``columns[0]`` is the training split; it alone decides the mapping unless
    ``classes`` is given. With ``task="auto"``, numbers that are all whole are
    class labels (kept as they are), other numbers are regression targets and
    strings are class names.

    Returns:
        The arrays (one per column), the class names (None for numeric labels and
        regression) and the task (``classification`` or ``regression``).

    Raises:
        DataError: a label not in the mapping, naming the file and the row, or
            non-numeric values for a regression target.
    """
    if task == "regression" and classes is not None:
        raise DataError("data.classes names classes, but data.task is regression; remove one")
    numbers = [c.numeric() for c in columns]
    if classes is None and all(n is not None for n in numbers):
        present = [n for n in numbers if n is not None]
        whole = bool(np.all(np.mod(present[0], 1) == 0))  # the training split decides
        if task == "regression" or (task == "auto" and not whole):
            return [n.astype("float32") for n in present], None, "regression"
        if whole and min((n.min() for n in present if n.size), default=0) >= 0:
            # already class indices 0..k-1
            seen = set(np.unique(present[0]).tolist())
            for column, values in zip(columns[1:], present[1:], strict=True):
                unseen = [i for i, v in enumerate(values) if v not in seen]
                if unseen:
                    i = unseen[0]
                    raise DataError(
                        f"{column.source}, row {column.rows[i]}: label {int(values[i])} was "
                        f"never seen in the training split (labels seen: "
                        f"{', '.join(str(int(v)) for v in sorted(seen)[:10])}); check the file")
            return [n.astype("int64") for n in present], None, "classification"
    if task == "regression" and classes is None:
        for column, number in zip(columns, numbers, strict=True):
            if number is None:
                bad = next(i for i, v in enumerate(column.values)
                           if LabelColumn([v], [0], "").numeric() is None)
                raise DataError(f"{column.source}, row {column.rows[bad]}: target "
                                f"{column.values[bad]!r} is not a number, but data.task is "
                                "regression")
    names = list(classes) if classes is not None else sorted(
        {_label(v) for v in columns[0].values}, key=_label_order)
    if not names:
        raise DataError(f"{columns[0].source}: no target values to learn from")
    index = {name: i for i, name in enumerate(names)}
    arrays = []
    for column in columns:
        out = np.empty(len(column.values), dtype="int64")
        for i, value in enumerate(column.values):
            key = _label(value)
            if key not in index:
                shown = ", ".join(names[:10]) + (", ..." if len(names) > 10 else "")
                where = f"{column.source}, row {column.rows[i]}: label {key!r}"
                if classes is not None:
                    raise DataError(
                        f"{where} is not one of the classes in data.classes ({shown}); a "
                        "trained run knows only the classes it was trained on, and a spec "
                        "listing classes must list every label")
                raise DataError(f"{where} was never seen in the training split (labels "
                                f"seen: {shown}); check the file, or list every label in "
                                "data.classes")
            out[i] = index[key]
        arrays.append(out)
    return arrays, names, "classification"


def _label_order(name: str) -> tuple[int, float, str]:
    """Numbers in numeric order (-1 < 2 < 10), before other names in text order."""
    number = parse_number(name)
    return (0, number, "") if number is not None and math.isfinite(number) else (1, 0.0, name)


def _label(value: object) -> str:
    """Labels compare as text, so '1' in a CSV and 1 in JSON name the same class."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
