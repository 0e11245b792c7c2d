"""A spec as a KerasTuner ``HyperModel``: the builder and the training of one trial.

``build`` fixes the spec's search space to the trial's values and builds the
model exactly as ``declml train`` would (same seed, same checks), so the
best trial can be reproduced from ``best_spec.yaml``. ``fit`` trains it on the
prepared data — batch size and epochs come from the trial's values — and,
with ``tuning.folds``, scores the trial by k-fold cross-validation.

A combination the spec cannot take (an invalid value, a layer Keras refuses)
becomes a failed trial with its message; the search goes on.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import keras_tuner as kt
import numpy as np

from declml.builder.components import instantiate
from declml.builder.hyperparameters import declare
from declml.builder.model import build_model
from declml.data.pipeline import Prepared
from declml.data.splits import Split
from declml.errors import DeclmlError, SpecError, one_line
from declml.registry.registry import Registry
from declml.run.embeddings import check_text_model, load_pretrained
from declml.run.train import check_shapes, validation_data
from declml.search.callbacks import TrialWatch
from declml.spec.api import fix_point
from declml.spec.sections import Spec

__all__ = ["SpecHyperModel", "fold_indices"]


class SpecHyperModel(kt.HyperModel):
    """Builds and trains the model of one trial of a spec's search space."""

    def __init__(self, spec: Spec, registry: Registry, data: Callable[[], Prepared]) -> None:
        super().__init__(name=spec.name, tunable=True)
        self.spec = spec
        self.registry = registry
        self._data_source = data
        self._data: Prepared | None = None
        self._watch: Callable[[], TrialWatch] | None = None  # set by the tuner
        self.execution = 0  # the model's index within its trial: seeds seed + execution
        self._built: Spec | None = None  # the concrete spec of the model just built

    @property
    def data(self) -> Prepared:
        """The prepared data, loaded on first use (a distributed chief never trains)."""
        if self._data is None:
            self._data = self._data_source()
        return self._data

    def concrete(self, hp: Any) -> Spec:
        """The spec at the trial's values (seed offset by the execution)."""
        try:
            spec, _ = fix_point(self.spec, declare(hp, self.spec), self.registry)
        except SpecError as exc:
            issues = "; ".join(f"{i.path}: {i.message}" for i in exc.issues)
            raise kt.errors.FailedTrialError(f"invalid combination: {issues}") from None
        if self.execution:
            spec = spec.model_copy(update={"seed": spec.seed + self.execution})
        return spec

    def build(self, hp: Any) -> Any:
        spec = self.concrete(hp)
        try:
            model = build_model(spec, self.registry)
            check_text_model(model, self.data)
            load_pretrained(model, self.data, spec.seed, lambda _msg: None)
            check_shapes(model, self.data)
        except DeclmlError as exc:
            raise kt.errors.FailedTrialError(one_line(exc)) from None
        self._built = spec
        return model

    def fit(self, hp: Any, model: Any, *args: Any, callbacks: list[Any] | None = None,
            epochs: int | None = None, initial_epoch: int = 0, verbose: Any = 0,
            **kwargs: Any) -> Any:
        """Train one model of the trial; Hyperband passes its own epochs."""
        spec = self._built or self.concrete(hp)  # KerasTuner builds right before fitting
        assert self._watch is not None, "the hypermodel is used outside a declml tuner"
        watch = self._watch()
        try:
            own = [instantiate("callback", ref, self.registry, f"fit.callbacks[{i}]")
                   for i, ref in enumerate(spec.fit.callbacks)]
        except DeclmlError as exc:
            raise kt.errors.FailedTrialError(one_line(exc)) from None
        callbacks = [*own, *(callbacks or []), *watch.callbacks(first=self.execution == 0)]
        epochs = epochs or spec.fit.epochs
        try:
            if self.spec.tuning is not None and self.spec.tuning.folds:
                return self._cross_validate(hp, model, spec, callbacks, epochs, verbose, watch)
            data = self.data
            return model.fit(
                **data.feed(data.train, batch_size=spec.fit.batch_size,
                            shuffle=spec.fit.shuffle, seed=spec.seed),
                epochs=epochs, initial_epoch=initial_epoch, shuffle=spec.fit.shuffle,
                validation_data=validation_data(data, spec), callbacks=callbacks,
                verbose=verbose)
        finally:
            self.execution += 1
            self._built = None

    def _cross_validate(self, hp: Any, model: Any, spec: Spec, callbacks: list[Any],
                        epochs: int, verbose: Any, watch: TrialWatch) -> dict[str, float]:
        """Score by the mean over k folds of each fold's best objective value."""
        data = self.data
        assert spec.tuning is not None and spec.tuning.folds
        # KerasTuner's best-epoch checkpoint has no meaning across folds: the best
        # model is trained again on the whole training split after the search.
        callbacks = [c for c in callbacks if type(c).__name__ != "SaveBestEpoch"]
        scores = []
        for k, (fit_idx, val_idx) in enumerate(
                fold_indices(data.train.y, spec.tuning.folds, spec.seed)):
            if k:
                model = self.build(hp)
            part, held = data.train.take(fit_idx), data.train.take(val_idx)
            history = model.fit(
                **data.feed(part, batch_size=spec.fit.batch_size, shuffle=spec.fit.shuffle,
                            seed=spec.seed),
                epochs=epochs, shuffle=spec.fit.shuffle,
                validation_data=_held_out(data, held, spec.fit.batch_size),
                callbacks=callbacks, verbose=verbose)
            scores.append(watch.best_of(history.history))
        watch.folds = scores
        return {watch.objective: float(np.mean(scores))}


def _held_out(data: Prepared, split: Split, batch_size: int) -> Any:
    if not split.lazy:
        return (split.x, split.y)
    return data.feed(split, batch_size=batch_size, name="validation")["x"]


def fold_indices(y: np.ndarray, k: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Seeded k-fold splits of the training split, stratified for class labels."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    if n < k:
        raise kt.errors.FatalValueError(
            f"tuning.folds is {k} but the training split has only {n} examples")
    labels = np.argmax(y, axis=1) if y.ndim == 2 and y.shape[1] > 1 else y.reshape(n, -1)[:, 0]
    discrete = labels.dtype.kind in "iub" or (
        labels.dtype.kind == "f" and np.all(np.mod(labels, 1) == 0) and len(np.unique(labels))
        <= max(2, n // 10))
    if discrete and np.min(np.unique(labels, return_counts=True)[1]) >= k:
        splitter: Any = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(n), labels))
    return list(KFold(n_splits=k, shuffle=True, random_state=seed).split(np.zeros(n)))
