"""Built-in plugin: the datasets declml ships with.

Each dataset registers a small Pydantic model of its own options (the keys it
adds under ``data:``) and a loader that is imported only when data is needed.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from declml.builtins.folder_datasets import register_folder_datasets
from declml.builtins.library_datasets import MnistOptions, register_library_datasets
from declml.registry.hookspecs import hookimpl
from declml.registry.registry import DatasetRegistrar
from declml.spec.base import StrictModel

# MnistOptions is re-exported: older code imports it from here.
__all__ = ["MnistOptions", "declml_register_datasets"]


class DigitsOptions(StrictModel):
    """scikit-learn's bundled 8×8 digits: 1,797 images, one split, no download."""


class NpzOptions(StrictModel):
    """Arrays from a NumPy ``.npz`` file (loaded without pickle)."""

    path: str = Field(description="the .npz file")
    x_key: str = Field("x", description="array of inputs when the file has a single split")
    y_key: str = Field("y", description="array of targets when the file has a single split")


class _LabelOptions(StrictModel):
    """Options shared by datasets whose targets come from a file."""

    classes: list[str] | None = Field(
        None, min_length=1,
        description="class names in label order; default: the sorted labels of the training "
                    "split (a trained run records the mapping it used)")
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: text or whole-number targets are classes, other numbers "
                            "regression targets")


class _TableOptions(_LabelOptions):
    path: str = Field(description="the file to read")
    test_path: str | None = Field(
        None, description="a second file with the same columns used as the test split")
    target: str = Field(description="the column (or key) holding the target")
    inputs: list[str] | None = Field(
        None, min_length=1,
        description="numeric input columns (default: every column but the target)")
    text: str | None = Field(
        None, description="a text column to use as the input instead (needs "
                          "preprocessing.text to turn it into word indices)")
    encoding: str = Field("utf-8", description="text encoding of the file")


class CsvOptions(_TableOptions):
    """A CSV or TSV file: numeric input columns or one text column, and a target column."""

    delimiter: str | None = Field(
        None, min_length=1, max_length=1,
        description="field separator (default: tab for .tsv/.tab files, otherwise a comma)")
    quoting: Literal["auto", "minimal", "none"] = Field(
        "auto", description="auto: quoted fields in CSV files, quotes as plain text in TSV")
    header: bool = Field(True, description="the first row names the columns")
    columns: list[str] | None = Field(
        None, min_length=1, description="column names (replacing or instead of a header)")
    stream: bool | Literal["auto"] = Field(
        "auto", description="read rows a batch at a time instead of loading the file "
                            "(auto: files over 256 MiB; streamed files need one row per line)")


class TsvOptions(CsvOptions):
    """A tab-separated file (quotes are plain text): like csv with a tab delimiter."""

    delimiter: str | None = Field("\t", min_length=1, max_length=1,
                                  description="field separator")


class JsonlOptions(_TableOptions):
    """JSON Lines: one object per line with the target and input keys (numbers, lists, text)."""


class NpyOptions(_LabelOptions):
    """Inputs and targets from separate .npy files (loaded without pickle)."""

    path: str = Field(description="the inputs (.npy)")
    targets: str = Field(description="the targets (.npy), one per input")
    test_path: str | None = Field(None, description="test inputs (.npy)")
    test_targets: str | None = Field(None, description="test targets (.npy)")


@hookimpl
def declml_register_datasets(register: DatasetRegistrar) -> None:
    register.dataset("digits", "declml.data.sources:load_digits", spec_model=DigitsOptions)
    register.dataset("npz", "declml.data.sources:load_npz", spec_model=NpzOptions)
    register.dataset("csv", "declml.data.tables:load_csv", spec_model=CsvOptions)
    register.dataset("tsv", "declml.data.tables:load_csv", spec_model=TsvOptions)
    register.dataset("jsonl", "declml.data.tables:load_jsonl", spec_model=JsonlOptions)
    register.dataset("npy", "declml.data.sources:load_npy", spec_model=NpyOptions)
    register_library_datasets(register)
    register_folder_datasets(register)
