"""SqueezeExcite and ResidualDense: shapes, behaviour, saving."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.mark.parametrize("input_shape", [(6, 4), (5, 5, 8), (3, 4, 4, 6)])
def test_squeeze_excite_keeps_the_shape(tester, input_shape):
    out = tester.forward("SqueezeExcite", {"ratio": 2}, input_shape=input_shape)
    assert out.shape == (2, *input_shape)


def test_squeeze_excite_only_rescales_channels(tester, keras):
    layer = tester.build("layer", "SqueezeExcite", {"ratio": 4})
    x = np.random.default_rng(1).uniform(0.5, 1.5, size=(2, 3, 3, 8)).astype("float32")
    out = keras.ops.convert_to_numpy(layer(x))
    scale = out / x  # one weight per (example, channel), the same at every position
    assert np.allclose(scale, scale[:, :1, :1, :], atol=1e-5)
    assert np.all((scale > 0) & (scale < 1))  # sigmoid gates


def test_squeeze_excite_bottleneck_size(tester):
    layer = tester.build("layer", "SqueezeExcite", {"ratio": 4})
    layer.build((None, 4, 4, 16))
    assert layer.squeeze_dense.units == 4
    few = tester.build("layer", "SqueezeExcite", {"ratio": 16, "min_units": 3})
    few.build((None, 4, 4, 8))
    assert few.squeeze_dense.units == 3  # 8 // 16 == 0, raised to min_units


def test_squeeze_excite_rejects_flat_inputs(tester):
    layer = tester.build("layer", "SqueezeExcite", {})
    with pytest.raises(ValueError, match="rank >= 3"):
        layer(np.zeros((2, 8), dtype="float32"))


@pytest.mark.parametrize("input_shape", [(5,), (3, 7)])
def test_residual_dense_keeps_the_shape(tester, input_shape):
    out = tester.forward("ResidualDense", {"activation": "tanh"}, input_shape=input_shape)
    assert out.shape == (2, *input_shape)


def test_residual_dense_adds_its_input(tester, keras):
    layer = tester.build("layer", "ResidualDense", {"activation": "relu"})
    x = np.random.default_rng(2).normal(size=(4, 5)).astype("float32")
    layer.build(x.shape)
    kernel, bias = (keras.ops.convert_to_numpy(w) for w in layer.dense.weights)
    expected = x + np.maximum(x @ kernel + bias, 0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer(x)), expected, rtol=1e-5,
                               atol=1e-5)


def test_squeeze_excite_round_trip(tester):
    loaded = tester.round_trip_layer("SqueezeExcite", {"ratio": 2, "min_units": 2},
                                     input_shape=(4, 4, 6))
    layer = loaded.layers[-1]
    assert type(layer).__name__ == "SqueezeExcite"
    assert (layer.ratio, layer.min_units) == (2, 2)


def test_residual_dense_round_trip(tester):
    loaded = tester.round_trip_layer("ResidualDense", {"activation": "gelu"}, input_shape=(6,))
    assert loaded.layers[-1].get_config()["activation"] == "gelu"


def test_layers_check_arguments_from_python(keras):
    from declml_example.layers import SqueezeExcite

    with pytest.raises(ValueError, match="ratio"):
        SqueezeExcite(ratio=0)
    assert SqueezeExcite(ratio=np.int64(2)).ratio == 2
