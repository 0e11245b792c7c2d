"""The heavy half of the team plugin: imported only when a model is built."""

from __future__ import annotations

from typing import Annotated

import keras
import numpy as np
import typer


class Scale(keras.layers.Layer):
    """Not registered with Keras on purpose: declml registers it for saving."""

    def __init__(self, factor: float = 2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        return inputs * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class CountEpochs(keras.callbacks.Callback):
    def __init__(self, label: str) -> None:
        super().__init__()
        self.label = label
        self.count = 0

    def on_epoch_end(self, epoch, logs=None):
        self.count += 1


def count_epochs(label: str = "epochs") -> CountEpochs:
    return CountEpochs(label)


class Shift:
    def __init__(self, by: float) -> None:
        self.by = by

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x + np.float32(self.by)


def hello(name: Annotated[str, typer.Option(help="who")] = "team") -> None:
    """Greet someone."""
    print(f"hello, {name}")
