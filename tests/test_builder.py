from __future__ import annotations

import pytest

from declml.builder.model import build_model
from declml.errors import BuildError
from declml.spec.api import load_spec, spec_from_data
from declml.spec.loader import load_text
from tests.conftest import SPECS, TINY_SPEC

pytestmark = pytest.mark.backends


def test_mnist_spec_builds_the_tutorial_architecture(registry):
    model = build_model(load_spec(SPECS / "mnist_cnn.yaml", registry=registry), registry)
    assert [type(layer).__name__ for layer in model.layers] == [
        "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dense"]
    assert [tuple(layer.output.shape) for layer in model.layers] == [
        (None, 26, 26, 32), (None, 13, 13, 32), (None, 11, 11, 64), (None, 5, 5, 64),
        (None, 1600), (None, 10)]
    assert model.count_params() == 34_826
    assert model.layers[0].activation.__name__ == "relu"
    assert model.layers[-1].activation.__name__ == "softmax"
    assert type(model.optimizer).__name__ == "Adam"


def _spec(registry, **changes):
    data = load_text(TINY_SPEC).data
    for key, value in changes.items():
        section, field = key.split("__")
        data[section][field] = value
    return spec_from_data(data, registry)


def test_optimizer_arguments_reach_keras(registry):
    model = build_model(_spec(registry), registry)
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_loss_and_metric_objects_with_arguments(registry):
    spec = _spec(registry, compile__loss={"type": "CategoricalCrossentropy",
                                          "label_smoothing": 0.1},
                 compile__metrics=[{"type": "TopKCategoricalAccuracy", "k": 2}])
    model = build_model(spec, registry)
    assert model.loss.label_smoothing == pytest.approx(0.1)


def test_nested_layer_argument_is_built(registry):
    spec = _spec(registry, model__input_shape=[5, 3], model__layers=[
        {"type": "Bidirectional", "layer": {"type": "LSTM", "units": 4}},
        {"type": "Dense", "units": 10, "activation": "softmax"}])
    model = build_model(spec, registry)
    assert type(model.layers[0].forward_layer).__name__ == "LSTM"
    assert tuple(model.output_shape) == (None, 10)


def test_shape_error_names_the_layer(registry):
    spec = _spec(registry, model__layers=[
        {"type": "Conv2D", "filters": 4, "kernel_size": 3},
        {"type": "Conv2D", "filters": 4, "kernel_size": 9},
        {"type": "Flatten"}, {"type": "Dense", "units": 10}])
    with pytest.raises(BuildError, match=r"model\.layers\[1\] \(Conv2D\)"):
        build_model(spec, registry)


def test_bad_argument_value_is_a_build_error(registry):
    spec = _spec(registry, model__layers=[{"type": "Conv2D", "filters": 4, "kernel_size": 3,
                                           "kernel_initializer": "no_such_initializer"},
                                          {"type": "Flatten"}, {"type": "Dense", "units": 10}])
    with pytest.raises(BuildError, match=r"model\.layers\[0\] \(Conv2D\).*no_such_init"):
        build_model(spec, registry)


def test_same_seed_same_weights(registry):
    a = build_model(_spec(registry), registry).get_weights()
    b = build_model(_spec(registry), registry).get_weights()
    assert all((x == y).all() for x, y in zip(a, b, strict=True))
