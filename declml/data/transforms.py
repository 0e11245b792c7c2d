"""Data transforms: declared steps fitted on the training split, saved with the run.

A transform is created from its spec arguments, ``fit`` on the training
inputs only (so statistics never leak from the test split), applied to every
split, and its fitted state is written to ``transforms.json`` in the run
directory, so ``declml predict`` applies exactly the same steps to new data.
Plugins add transforms with the ``declml_register_transforms`` hook.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from declml.errors import DataError, PluginError
from declml.registry.registry import Registry
from declml.spec.components import ComponentSpec

__all__ = ["TRANSFORMS_FILE", "Clip", "FittedTransform", "Standardize", "Transform",
           "apply_transforms", "fit_transforms", "restore_transforms"]

TRANSFORMS_FILE = "transforms.json"


class Transform:
    """Base class of data transforms (subclassing is optional; the methods are the contract).

    ``fit`` sees the training inputs once; ``__call__`` maps a batch of inputs
    (first axis = examples) to transformed inputs; ``get_state`` returns the
    fitted state as JSON-compatible values and ``set_state`` restores it.
    """

    def fit(self, x: np.ndarray) -> None:
        """Learn what the transform needs from the training inputs (default: nothing)."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""


class Standardize(Transform):
    """Subtract the training mean and divide by the training standard deviation."""

    def __init__(self, per: str = "feature", epsilon: float = 1e-7) -> None:
        if per not in ("feature", "global"):
            raise ValueError(f"per must be 'feature' or 'global', got {per!r}")
        self.per = per
        self.epsilon = epsilon
        self.mean: np.ndarray | None = None
        self.std: np.ndarray | None = None

    def fit(self, x: np.ndarray) -> None:
        x = np.asarray(x, dtype="float64")
        axis = 0 if self.per == "feature" else None
        self.mean = x.mean(axis=axis)
        self.std = x.std(axis=axis)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise DataError("standardize was applied before it was fitted")
        if self.per == "feature" and np.shape(self.mean) != tuple(x.shape[1:]):
            raise DataError(f"standardize was fitted on examples of shape "
                            f"{list(np.shape(self.mean))}, got {list(x.shape[1:])}")
        return ((x - self.mean) / (self.std + self.epsilon)).astype("float32")

    def get_state(self) -> dict[str, Any]:
        return {"mean": np.asarray(self.mean).tolist(), "std": np.asarray(self.std).tolist()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.mean = np.asarray(state["mean"], dtype="float64")
        self.std = np.asarray(state["std"], dtype="float64")


class Clip(Transform):
    """Limit inputs to [min, max] (stateless)."""

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        if min is None and max is None:
            raise ValueError("clip needs min, max or both")
        self.min, self.max = min, max

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return np.clip(x, self.min, self.max)


@dataclass
class FittedTransform:
    """A transform together with the spec entry that created it."""

    ref: ComponentSpec
    transform: Any

    def record(self) -> dict[str, Any]:
        state = self.transform.get_state() if hasattr(self.transform, "get_state") else {}
        return {"type": self.ref.type, "args": self.ref.args, "state": state}


def _create(ref: ComponentSpec, registry: Registry, where: str) -> Any:
    component = registry.get("transform", str(ref.type))
    try:
        transform = component.load()(**ref.args)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: transform {ref.type!r} rejected its arguments: {exc}"
                        ) from None
    if not callable(transform):
        raise PluginError(f"transform {ref.type!r} from plugin {component.plugin!r} returned "
                          f"{type(transform).__name__}, which cannot be applied to data")
    return transform


def fit_transforms(refs: Sequence[ComponentSpec], registry: Registry,
                   x_train: np.ndarray) -> tuple[list[FittedTransform], np.ndarray]:
    """Create each transform, fit it on the training inputs as transformed by the steps
    before it, and return the fitted transforms with the transformed training inputs."""
    fitted = []
    for index, ref in enumerate(refs):
        where = f"data.transforms[{index}]"
        transform = _create(ref, registry, where)
        if hasattr(transform, "fit"):
            transform.fit(x_train)
        x_train = _apply_one(transform, x_train, where, ref)
        fitted.append(FittedTransform(ref, transform))
    return fitted, x_train


def _apply_one(transform: Any, x: np.ndarray, where: str, ref: ComponentSpec) -> np.ndarray:
    try:
        out = transform(x)
    except DataError:
        raise
    except (TypeError, ValueError) as exc:
        raise DataError(f"{where}: transform {ref.type!r} failed: {exc}") from None
    return np.asarray(out)


def apply_transforms(fitted: Sequence[FittedTransform], x: np.ndarray) -> np.ndarray:
    """Apply fitted transforms, in order, to a batch of inputs."""
    for index, item in enumerate(fitted):
        x = _apply_one(item.transform, x, f"data.transforms[{index}]", item.ref)
    return x


def restore_transforms(records: list[dict[str, Any]], registry: Registry) -> list[FittedTransform]:
    """Rebuild fitted transforms from ``transforms.json`` records."""
    fitted = []
    for index, record in enumerate(records):
        ref = ComponentSpec(record["type"], dict(record.get("args") or {}))
        transform = _create(ref, registry, f"data.transforms[{index}]")
        if hasattr(transform, "set_state"):
            transform.set_state(record.get("state") or {})
        fitted.append(FittedTransform(ref, transform))
    return fitted
