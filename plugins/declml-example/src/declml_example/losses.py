"""The plugin's loss: categorical focal loss (Lin et al., 2017)."""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

__all__ = ["FocalLoss"]


@keras.saving.register_keras_serializable(package="declml_example")
class FocalLoss(keras.losses.Loss):
    """Categorical focal loss for one-hot targets.

    Per example, with target distribution ``y`` (after label smoothing) and
    predicted probabilities ``p``::

        loss = -alpha * sum_c y_c * (1 - p_c) ** gamma * log(p_c)

    The factor ``(1 - p_c) ** gamma`` shrinks the loss of examples the model
    already classifies confidently, so training concentrates on hard ones.
    With ``gamma=0`` and no ``alpha`` this is exactly categorical
    cross-entropy. Probabilities are normalised to sum to 1 and clipped to
    ``[epsilon, 1 - epsilon]``, as Keras does for cross-entropy.

    Args:
        gamma: focusing parameter, >= 0.
        alpha: constant weight of every term in [0, 1], or None for none.
        from_logits: ``y_pred`` holds logits (a softmax is applied here).
        label_smoothing: in [0, 1): targets become
            ``y * (1 - label_smoothing) + label_smoothing / num_classes``.
        name, reduction, dtype: as for any ``keras.losses.Loss``.
    """

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: float | None = None,
        from_logits: bool = False,
        label_smoothing: float = 0.0,
        name: str | None = "focal_loss",
        reduction: str | None = "sum_over_batch_size",
        dtype: Any = None,
    ) -> None:
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not gamma >= 0:
            raise ValueError(f"FocalLoss: gamma must be >= 0; got {gamma!r}")
        if alpha is not None and not 0 <= alpha <= 1:
            raise ValueError(f"FocalLoss: alpha must be in [0, 1] or None; got {alpha!r}")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"FocalLoss: label_smoothing must be in [0, 1); got "
                             f"{label_smoothing!r}")
        self.gamma = float(gamma)
        self.alpha = None if alpha is None else float(alpha)
        self.from_logits = bool(from_logits)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true: Any, y_pred: Any) -> Any:
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.label_smoothing:
            classes = ops.cast(ops.shape(y_pred)[-1], y_pred.dtype)
            y_true = y_true * (1.0 - self.label_smoothing) + self.label_smoothing / classes
        epsilon = keras.config.epsilon()
        if self.from_logits:
            log_probs = ops.log_softmax(y_pred, axis=-1)
            probs = ops.clip(ops.exp(log_probs), epsilon, 1.0 - epsilon)
        else:
            probs = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
            probs = ops.clip(probs, epsilon, 1.0 - epsilon)
            log_probs = ops.log(probs)
        terms = -y_true * log_probs
        if self.gamma:
            terms = terms * ops.power(1.0 - probs, self.gamma)
        if self.alpha is not None:
            terms = terms * self.alpha
        return ops.sum(terms, axis=-1)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha,
                "from_logits": self.from_logits, "label_smoothing": self.label_smoothing}
