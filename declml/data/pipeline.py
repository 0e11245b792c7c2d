"""From a spec's ``data`` and ``fit`` sections to train / validation / test arrays."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from declml.data.preprocessing import preprocess
from declml.data.splits import Split, Splits, holdout
from declml.data.transforms import FittedTransform, apply_transforms, fit_transforms
from declml.errors import DataError
from declml.registry.registry import Registry
from declml.spec.sections import Spec

__all__ = ["DEFAULT_TEST_SPLIT", "Prepared", "load_splits", "prepare"]

DEFAULT_TEST_SPLIT = 0.2


@dataclass
class Prepared:
    """Arrays ready for ``fit``/``evaluate``, plus a one-line description of each."""

    train: Split
    validation: Split | None
    test: Split
    notes: list[str]
    test_split_used: float | None = None
    transforms: list[FittedTransform] = field(default_factory=list)


def load_splits(spec: Spec, registry: Registry) -> Splits:
    """Call the dataset's registered loader with its validated options."""
    component = registry.get("dataset", spec.data.dataset)
    loader = component.load()
    options = (component.options.model_validate(spec.data.options)
               if component.options is not None else spec.data.options)
    splits = loader(options)
    if not isinstance(splits, Splits):
        raise DataError(f"dataset {spec.data.dataset!r} (plugin {component.plugin!r}) returned "
                        f"{type(splits).__name__}, expected declml.data.splits.Splits")
    return splits


def prepare(spec: Spec, registry: Registry, *, log=None,
            fitted: list[FittedTransform] | None = None) -> Prepared:
    """Load, split and preprocess the data a spec declares.

    ``fitted`` are transforms restored from a run directory: they are applied
    as saved instead of being fitted again (``declml evaluate``).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    splits = load_splits(spec, registry)
    notes: list[str] = []
    train, test = splits.train, splits.test
    if test is None:
        fraction = spec.data.test_split or DEFAULT_TEST_SPLIT
        train, test = holdout(train, fraction, spec.seed, stratify=spec.data.stratify)
        how = "set" if spec.data.test_split else "default; set data.test_split to change"
        notes.append(f"{splits.source or spec.data.dataset} has a single split: held out "
                     f"{fraction:g} as test ({how}), seeded by seed={spec.seed}")
    elif spec.data.test_split is not None:
        notes.append(f"data.test_split is ignored: {splits.source or spec.data.dataset} "
                     "already has a test split")
    validation = None
    choice = spec.fit.validation
    if isinstance(choice, float):
        train, validation = holdout(train, choice, spec.seed + 1, stratify=spec.data.stratify)
    steps = spec.data.preprocessing
    train = preprocess(train, steps, "train")
    test = preprocess(test, steps, "test")
    if validation is not None:
        validation = preprocess(validation, steps, "validation")
    if fitted is None and spec.data.transforms:  # fitted on the training split only
        fitted, x_train = fit_transforms(spec.data.transforms, registry, train.x)
        train = Split(x_train, train.y)
    elif fitted:
        train = Split(apply_transforms(fitted, train.x), train.y)
    fitted = fitted or []
    if fitted:
        test = Split(apply_transforms(fitted, test.x), test.y)
        if validation is not None:
            validation = Split(apply_transforms(fitted, validation.x), validation.y)
        notes.append("transforms (fitted on the training split): "
                     + ", ".join(str(f.ref.type) for f in fitted))
    if validation is None and choice == "test":
        validation = test
    notes.append(f"data: {len(train)} train, "
                 f"{len(validation) if validation is not None else 0} validation"
                 f"{' (the test split)' if choice == 'test' else ''}, {len(test)} test examples")
    for note in notes:
        log(note)
    used = (spec.data.test_split or DEFAULT_TEST_SPLIT) if splits.test is None else None
    return Prepared(train, validation, test, notes, used, fitted)
