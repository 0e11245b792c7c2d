"""MacroF1: a hand-computed example, agreement with scikit-learn, state, saving."""

from __future__ import annotations

import numpy as np
import pytest

# True classes and the classes predicted for them. Confusion (rows true, columns predicted):
#   [[1, 1, 0],      F1 of class 0: 2*1 / (2 + 2) = 0.5
#    [0, 2, 0],      F1 of class 1: 2*2 / (2 + 3) = 0.8
#    [1, 0, 2]]      F1 of class 2: 2*2 / (3 + 2) = 0.8   → macro F1 = 2.1 / 3 = 0.7
TRUE = np.array([0, 0, 1, 1, 2, 2, 2])
PREDICTED = np.array([0, 1, 1, 1, 2, 0, 2])


def _probabilities(labels, classes, seed=0):
    """Random probability rows whose argmax is ``labels``."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.0, 0.4, size=(len(labels), classes))
    p[np.arange(len(labels)), labels] = 0.9
    return (p / p.sum(axis=1, keepdims=True)).astype("float32")


def _value(metric):
    return float(np.asarray(metric.result()))


@pytest.mark.parametrize("one_hot", [True, False])
def test_hand_computed_example(tester, one_hot):
    metric = tester.build("metric", "MacroF1", {"num_classes": 3})
    y_true = np.eye(3, dtype="float32")[TRUE] if one_hot else TRUE
    metric.update_state(y_true, _probabilities(PREDICTED, 3))
    assert _value(metric) == pytest.approx(0.7, abs=1e-6)


def test_accumulates_over_batches_and_resets(tester):
    metric = tester.build("metric", "MacroF1", {"num_classes": 3})
    p = _probabilities(PREDICTED, 3)
    metric.update_state(TRUE[:3, None], p[:3])  # integer labels shaped (batch, 1)
    metric.update_state(TRUE[3:, None], p[3:])
    assert _value(metric) == pytest.approx(0.7, abs=1e-6)
    metric.reset_state()
    assert _value(metric) == 0.0
    assert np.all(np.asarray(metric.confusion) == 0)


def test_classes_never_seen_are_left_out(tester):
    metric = tester.build("metric", "MacroF1", {"num_classes": 5})
    metric.update_state(TRUE, _probabilities(PREDICTED, 5))
    assert _value(metric) == pytest.approx(0.7, abs=1e-6)


def test_agrees_with_scikit_learn(tester):
    f1_score = pytest.importorskip("sklearn.metrics").f1_score
    rng = np.random.default_rng(3)
    y_true = rng.integers(0, 4, 200)
    y_pred = np.where(rng.uniform(size=200) < 0.6, y_true, rng.integers(0, 4, 200))
    weights = rng.uniform(0.1, 2.0, 200).astype("float32")
    metric = tester.build("metric", "MacroF1", {"num_classes": 4})
    for part in np.array_split(np.arange(200), 3):
        metric.update_state(np.eye(4)[y_true[part]], _probabilities(y_pred[part], 4),
                            sample_weight=weights[part])
    expected = f1_score(y_true, y_pred, average="macro", sample_weight=weights)
    assert _value(metric) == pytest.approx(expected, abs=1e-5)


def test_config_and_name(tester, keras):
    metric = tester.build("metric", "MacroF1", {"num_classes": 4})
    assert metric.name == "macro_f1"
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(metric),
                                                  safe_mode=True)
    assert type(again) is type(metric)
    assert again.num_classes == 4


def test_compiled_round_trip(tester):
    loaded = tester.round_trip_compiled("metric", "MacroF1", {"num_classes": 3}, classes=3)
    assert loaded is not None


def test_bad_values_from_python(keras):
    from declml_example.metrics import MacroF1

    with pytest.raises(ValueError, match="num_classes"):
        MacroF1(num_classes=1)
