"""The plugin's metric: macro-averaged F1 from an accumulated confusion matrix."""

from __future__ import annotations

import operator
from typing import Any

import keras
from keras import ops

__all__ = ["MacroF1"]


@keras.saving.register_keras_serializable(package="declml_example")
class MacroF1(keras.metrics.Metric):
    """Macro-averaged F1 score of a classifier.

    Predictions are the argmax of ``y_pred`` over its last axis. Targets are
    one-hot (same shape as ``y_pred``) or integer class labels. Each batch adds
    to a ``num_classes × num_classes`` confusion matrix (rows: true class,
    columns: predicted class; weighted by ``sample_weight``); the result is
    the mean over classes of ``F1_c = 2 TP_c / (actual_c + predicted_c)``,
    taken over the classes that occur among the targets or the predictions so
    far (as scikit-learn's ``f1_score(average="macro")`` does), and 0 before
    any example was seen.

    Args:
        num_classes: number of classes, >= 2.
        name, dtype: as for any ``keras.metrics.Metric``.
    """

    def __init__(self, num_classes: int, name: str | None = "macro_f1", dtype: Any = None) -> None:
        super().__init__(name=name or "macro_f1", dtype=dtype)
        try:
            classes = operator.index(num_classes)
        except TypeError:
            classes = 0
        if isinstance(num_classes, bool) or classes < 2:
            raise ValueError(f"MacroF1: num_classes must be an integer >= 2; got {num_classes!r}")
        self.num_classes = classes
        self.confusion = self.add_variable(shape=(classes, classes), initializer="zeros",
                                           dtype=self.dtype, name="confusion")

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.convert_to_tensor(y_true)
        predicted = ops.argmax(y_pred, axis=-1)
        one_hot_targets = (len(y_true.shape) == len(y_pred.shape)
                           and y_true.shape[-1] == self.num_classes)
        actual = ops.argmax(y_true, axis=-1) if one_hot_targets else ops.cast(y_true, "int32")
        actual = ops.reshape(actual, ops.shape(predicted))  # (batch, 1) labels → (batch,)
        rows = ops.one_hot(ops.reshape(actual, (-1,)), self.num_classes, dtype=self.dtype)
        columns = ops.one_hot(ops.reshape(predicted, (-1,)), self.num_classes, dtype=self.dtype)
        if sample_weight is not None:
            weight = ops.cast(sample_weight, self.dtype)
            while len(weight.shape) > len(predicted.shape):
                weight = ops.squeeze(weight, axis=-1)
            while len(weight.shape) < len(predicted.shape):
                weight = ops.expand_dims(weight, axis=-1)
            weight = ops.broadcast_to(weight, ops.shape(predicted))
            rows = rows * ops.reshape(weight, (-1, 1))
        self.confusion.assign_add(ops.matmul(ops.transpose(rows), columns))

    def result(self) -> Any:
        confusion = ops.convert_to_tensor(self.confusion)
        true_positives = ops.diagonal(confusion)
        seen = ops.sum(confusion, axis=1) + ops.sum(confusion, axis=0)
        present = seen > 0
        f1 = ops.where(present, 2.0 * true_positives / ops.maximum(seen, 1e-12), 0.0)
        classes = ops.sum(ops.cast(present, self.dtype))
        return ops.sum(f1) / ops.maximum(classes, 1.0)

    def reset_state(self) -> None:
        self.confusion.assign(ops.zeros((self.num_classes, self.num_classes), dtype=self.dtype))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "num_classes": self.num_classes}
