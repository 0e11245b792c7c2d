"""Built-in plugin: the datasets declml ships with.

Each dataset registers a small Pydantic model of its own options (the keys it
adds under ``data:``) and a loader that is imported only when data is needed.
"""

from __future__ import annotations

from pydantic import Field

from declml.registry.hookspecs import hookimpl
from declml.registry.registry import DatasetRegistrar
from declml.spec.base import StrictModel


class DigitsOptions(StrictModel):
    """scikit-learn's bundled 8×8 digits: 1,797 images, one split, no download."""


class MnistOptions(StrictModel):
    """MNIST from ``keras.datasets`` (downloads once) or a local copy."""

    path: str | None = Field(
        None,
        description="local copy: an .npz file (x_train, y_train, x_test, y_test) or a directory "
                    "of the original IDX files, gzipped or not",
    )


class NpzOptions(StrictModel):
    """Arrays from a NumPy ``.npz`` file (loaded without pickle)."""

    path: str = Field(description="the .npz file")
    x_key: str = Field("x", description="array of inputs when the file has a single split")
    y_key: str = Field("y", description="array of targets when the file has a single split")


@hookimpl
def declml_register_datasets(register: DatasetRegistrar) -> None:
    register.dataset("digits", "declml.data.sources:load_digits", spec_model=DigitsOptions)
    register.dataset("mnist", "declml.data.sources:load_mnist", spec_model=MnistOptions)
    register.dataset("npz", "declml.data.sources:load_npz", spec_model=NpzOptions)
