"""Keras layers of the plugin: ``SqueezeExcite`` and ``ResidualDense``.

Both use ``keras.ops`` only, so they run on JAX, TensorFlow and PyTorch, and
both are registered as Keras serializable, so a saved ``.keras`` model that
contains them loads back (``safe_mode`` included) wherever this package is
installed.
"""

from __future__ import annotations

import operator
from typing import Any

import keras
from keras import ops

__all__ = ["ResidualDense", "SqueezeExcite"]


def _positive_int(value: Any, what: str, layer: str) -> int:
    """``value`` as a Python int >= 1 (NumPy integers too, booleans not)."""
    try:
        number = operator.index(value)
    except TypeError:
        number = 0
    if isinstance(value, bool) or number < 1:
        raise ValueError(f"{layer}: {what} must be an integer >= 1; got {value!r}")
    return number


@keras.saving.register_keras_serializable(package="declml_example")
class SqueezeExcite(keras.layers.Layer):
    """Squeeze-and-excitation block for channels-last feature maps.

    For an input of shape ``(batch, *spatial, channels)`` (rank 3 or more):
    average over the spatial axes ("squeeze"), pass the channel means through
    ``Dense(max(min_units, channels // ratio), relu)`` and ``Dense(channels,
    sigmoid)`` ("excite"), and multiply each input channel by its weight. The
    output has the input's shape.

    Args:
        ratio: reduction ratio of the bottleneck.
        min_units: lower bound on the bottleneck size.
        **kwargs: standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, ratio: int = 4, min_units: int = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ratio = _positive_int(ratio, "ratio", "SqueezeExcite")
        self.min_units = _positive_int(min_units, "min_units", "SqueezeExcite")
        self.squeeze_dense: keras.layers.Dense | None = None
        self.excite_dense: keras.layers.Dense | None = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = tuple(input_shape)
        if len(shape) < 3:
            raise ValueError("SqueezeExcite expects channels-last feature maps of rank >= 3, "
                             f"(batch, ..., channels); got an input of shape {shape}")
        channels = shape[-1]
        if channels is None:
            raise ValueError(f"SqueezeExcite needs a known number of channels; got shape {shape}")
        units = max(self.min_units, channels // self.ratio)
        self.squeeze_dense = keras.layers.Dense(units, activation="relu", name="squeeze",
                                                dtype=self.dtype_policy)
        self.excite_dense = keras.layers.Dense(channels, activation="sigmoid", name="excite",
                                               dtype=self.dtype_policy)
        pooled = (shape[0], *([1] * (len(shape) - 2)), channels)
        self.squeeze_dense.build(pooled)
        self.excite_dense.build((*pooled[:-1], units))

    def call(self, inputs: Any) -> Any:
        spatial = tuple(range(1, len(inputs.shape) - 1))
        pooled = ops.mean(inputs, axis=spatial, keepdims=True)  # (batch, 1, ..., 1, channels)
        weights = self.excite_dense(self.squeeze_dense(pooled))
        return inputs * ops.cast(weights, inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "ratio": self.ratio, "min_units": self.min_units}


@keras.saving.register_keras_serializable(package="declml_example")
class ResidualDense(keras.layers.Layer):
    """``x + Dense(units=x.shape[-1], activation)(x)``: a residual dense block.

    The dense branch is as wide as the input's last axis, so the sum is
    well-defined for inputs of any rank >= 2; the output has the input's shape.

    Args:
        activation: activation of the dense branch (a Keras activation name).
        **kwargs: standard layer arguments (``name``, ``dtype``, ...).
    """

    def __init__(self, activation: Any = "relu", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.dense: keras.layers.Dense | None = None

    def build(self, input_shape: tuple[int | None, ...]) -> None:
        shape = tuple(input_shape)
        if len(shape) < 2 or shape[-1] is None:
            raise ValueError("ResidualDense needs inputs of rank >= 2 with a known last axis; "
                             f"got shape {shape}")
        self.dense = keras.layers.Dense(shape[-1], activation=self.activation, name="dense",
                                        dtype=self.dtype_policy)
        self.dense.build(shape)

    def call(self, inputs: Any) -> Any:
        return inputs + ops.cast(self.dense(inputs), inputs.dtype)

    def compute_output_shape(self, input_shape: tuple[int | None, ...]) -> tuple[int | None, ...]:
        return tuple(input_shape)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(),
                "activation": keras.activations.serialize(self.activation)}
