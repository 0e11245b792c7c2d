"""FocalLoss: the formula, its special cases, saving."""

from __future__ import annotations

import numpy as np
import pytest


def _batch(seed=0, classes=4, n=8):
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=2.0, size=(n, classes)).astype("float32")
    targets = np.eye(classes, dtype="float32")[rng.integers(0, classes, n)]
    return targets, logits


def _softmax(logits):
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("label_smoothing", [0.0, 0.1])
@pytest.mark.parametrize("from_logits", [False, True])
def test_gamma_zero_is_cross_entropy(tester, keras, from_logits, label_smoothing):
    y, logits = _batch()
    y_pred = logits if from_logits else _softmax(logits)
    args = {"gamma": 0.0, "alpha": None, "from_logits": from_logits,
            "label_smoothing": label_smoothing}
    focal = tester.build("loss", "FocalLoss", args)
    reference = keras.losses.CategoricalCrossentropy(from_logits=from_logits,
                                                     label_smoothing=label_smoothing)
    np.testing.assert_allclose(float(focal(y, y_pred)), float(reference(y, y_pred)),
                               rtol=1e-5)


def test_matches_the_formula(tester):
    y, logits = _batch(seed=1)
    p = _softmax(logits)
    focal = tester.build("loss", "FocalLoss", {"gamma": 2.0, "alpha": 0.25})
    expected = np.mean(np.sum(-0.25 * y * (1 - p) ** 2 * np.log(p), axis=-1))
    np.testing.assert_allclose(float(focal(y, p)), expected, rtol=1e-5)


def test_confident_examples_count_less(tester):
    y = np.array([[1.0, 0.0, 0.0]], dtype="float32")
    easy = np.array([[0.9, 0.05, 0.05]], dtype="float32")
    hard = np.array([[0.3, 0.4, 0.3]], dtype="float32")
    focal = tester.build("loss", "FocalLoss", {"gamma": 2.0})
    cross_entropy = tester.build("loss", "FocalLoss", {"gamma": 0.0})
    ratio_easy = float(focal(y, easy)) / float(cross_entropy(y, easy))
    ratio_hard = float(focal(y, hard)) / float(cross_entropy(y, hard))
    assert ratio_easy == pytest.approx(0.1**2, rel=1e-4)
    assert ratio_hard == pytest.approx(0.7**2, rel=1e-4)


def test_config_round_trip(tester, keras):
    focal = tester.build("loss", "FocalLoss", {"gamma": 1.5, "alpha": 0.5,
                                               "label_smoothing": 0.05})
    config = keras.saving.serialize_keras_object(focal)
    again = keras.saving.deserialize_keras_object(config, safe_mode=True)
    assert type(again) is type(focal)
    assert (again.gamma, again.alpha, again.from_logits, again.label_smoothing) == (
        1.5, 0.5, False, 0.05)


def test_compiled_round_trip(tester):
    loaded = tester.round_trip_compiled("loss", "FocalLoss", {"gamma": 2.0}, classes=3)
    assert type(loaded.loss).__name__ == "FocalLoss"


def test_bad_values_from_python(keras):
    from declml_example.losses import FocalLoss

    with pytest.raises(ValueError, match="gamma"):
        FocalLoss(gamma=-1)
    with pytest.raises(ValueError, match="alpha"):
        FocalLoss(alpha=2)
