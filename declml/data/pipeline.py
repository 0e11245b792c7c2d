"""From a spec's ``data`` and ``fit`` sections to train / validation / test data.

Load → split (the dataset's own test split, or a seeded, optionally stratified
hold-out) → fit the preprocessing and transforms on the training split only →
apply them. Data held in memory is preprocessed once, up front; lazily read
data (image directories, large CSVs) stays on disk and is preprocessed batch
by batch (:meth:`Prepared.feed`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from declml.data.lazy import Examples
from declml.data.preprocessing import Preprocessor
from declml.data.splits import Split, Splits, holdout
from declml.data.transforms import FittedTransform, apply_transforms, fit_transforms
from declml.errors import DataError
from declml.registry.registry import Registry
from declml.spec.sections import Spec

__all__ = ["DEFAULT_TEST_SPLIT", "FIT_SAMPLE", "InputPipeline", "Prepared", "load_splits",
           "prepare"]

DEFAULT_TEST_SPLIT = 0.2
FIT_SAMPLE = 10_000  # transforms on streamed data are fitted on this many training examples


@dataclass
class InputPipeline:
    """Raw inputs → model inputs: the fitted preprocessing, then the fitted transforms.

    The one function that train, evaluate, predict and serve all apply.
    """

    preprocessor: Preprocessor
    transforms: list[FittedTransform] = field(default_factory=list)

    def __call__(self, x: Any, name: str = "input") -> np.ndarray:
        return apply_transforms(self.transforms, self.preprocessor.inputs(x, name))


@dataclass
class Prepared:
    """The splits, ready for ``fit``/``evaluate``, plus what was done to them.

    In-memory splits hold model-ready arrays; a lazy split holds the raw
    :class:`Examples`, which :meth:`feed` preprocesses per batch.
    """

    train: Split
    validation: Split | None
    test: Split
    notes: list[str]
    test_split_used: float | None = None
    pipeline: InputPipeline | None = None
    class_names: list[str] | None = None
    task: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def transforms(self) -> list[FittedTransform]:
        """The fitted ``data.transforms`` (part of :attr:`pipeline`)."""
        return self.pipeline.transforms if self.pipeline is not None else []

    def feed(self, split: Split, *, batch_size: int, shuffle: bool = False, seed: int = 0,
             name: str = "train", targets: bool = True) -> dict[str, Any]:
        """Keyword arguments for ``fit``/``evaluate``/``predict`` (``targets=False``):
        arrays, or a PyDataset for lazily read data."""
        if not split.lazy:
            return {"x": split.x, "batch_size": batch_size, **({"y": split.y} if targets else {})}
        from declml.data.stream import batches

        assert self.pipeline is not None
        return {"x": batches(split, self.pipeline, batch_size=batch_size, shuffle=shuffle,
                             seed=seed, name=name)}

    def head(self, split: Split, n: int = 2) -> np.ndarray:
        """The first ``n`` model-ready inputs of a split (for shape checks)."""
        if not split.lazy:
            return split.x[:n]
        assert self.pipeline is not None
        return self.pipeline(split.x.read(np.arange(min(n, len(split)))), "train")


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


def _split(spec: Spec, splits: Splits, notes: list[str], *,
           whole: bool = False) -> tuple[Split, Split | None, Split]:
    train, test = splits.train, splits.test
    source = splits.source or spec.data.dataset
    if whole and test is None:  # new data to evaluate on: every example counts
        notes.append(f"evaluating on all {len(train)} examples of {source}")
        return train, None, train
    if test is None:
        fraction = spec.data.test_split or DEFAULT_TEST_SPLIT
        train, test = holdout(train, fraction, spec.seed, stratify=spec.data.stratify)
        how = "set" if spec.data.test_split else "default; set data.test_split to change"
        notes.append(f"{source} has a single split: held out {fraction:g} as test ({how}), "
                     f"seeded by seed={spec.seed}")
    elif spec.data.test_split is not None:
        notes.append(f"data.test_split is ignored: {source} already has a test split")
    validation = None
    if isinstance(spec.fit.validation, float):
        train, validation = holdout(train, spec.fit.validation, spec.seed + 1,
                                    stratify=spec.data.stratify)
    return train, validation, test


def _fit_transforms(spec: Spec, registry: Registry, train: Split, preprocessor: Preprocessor,
                    notes: list[str]) -> tuple[list[FittedTransform], Split]:
    if not train.lazy:
        fitted, x_train = fit_transforms(spec.data.transforms, registry, train.x)
        return fitted, Split(x_train, train.y)
    n = min(FIT_SAMPLE, len(train))
    sample = preprocessor.inputs(train.x.read(np.arange(n)), "train")
    fitted, _ = fit_transforms(spec.data.transforms, registry, sample)
    if n < len(train):
        notes.append(f"transforms fitted on the first {n:,} of {len(train):,} training "
                     "examples (the data is streamed)")
    return fitted, train


def raw_input_record(x: np.ndarray | Examples) -> dict[str, Any] | None:
    """The shape and kind of one raw example, before preprocessing: what ``declml serve``
    asks clients for (8×8 for digits, 28×28 for MNIST, a string for text)."""
    try:
        sample = x.read(np.arange(1)) if isinstance(x, Examples) else np.asarray(x[:1])
    except Exception:  # a lazy source that cannot be read here is reported by training
        return None
    if sample.ndim < 1 or len(sample) == 0:
        return None
    kind = "string" if sample.dtype.kind in "OUS" else "number"
    return {"shape": [int(d) for d in sample.shape[1:]], "dtype": kind}


def prepare(spec: Spec, registry: Registry, *, log=None,
            pipeline: InputPipeline | None = None, whole: bool = False) -> Prepared:
    """Load, split and preprocess the data a spec declares.

    ``pipeline`` is a run's saved preprocessing and transforms (``declml
    evaluate``): applied as saved, never refitted.
    ``whole`` makes a dataset without its own test split the test split entire
    (evaluating a trained model on new data).
    """
    log = log or (lambda msg: print(msg, file=sys.stderr))
    splits = load_splits(spec, registry)
    notes: list[str] = []
    train, validation, test = _split(spec, splits, notes, whole=whole)
    raw = raw_input_record(train.x)
    if pipeline is None:
        preprocessor = Preprocessor(spec.data.preprocessing).fit(train.x)
        notes.extend(preprocessor.notes())
        vectorizer = preprocessor.vectorizer
        if vectorizer is not None and not test.lazy:  # how well the vocabulary carries over
            notes.append(f"text: {vectorizer.coverage(test.x):.1%} of the test split's words "
                         "are in the vocabulary")
    else:
        preprocessor = pipeline.preprocessor
    train = preprocessor.split(train, "train")
    test = preprocessor.split(test, "test")
    if validation is not None:
        validation = preprocessor.split(validation, "validation")
    restored = pipeline.transforms if pipeline is not None else None
    if restored is None and spec.data.transforms:  # fitted on the training split only
        restored, train = _fit_transforms(spec, registry, train, preprocessor, notes)
    elif restored and not train.lazy:
        train = Split(apply_transforms(restored, train.x), train.y)
    restored = restored or []
    if restored:
        if not test.lazy:
            test = Split(apply_transforms(restored, test.x), test.y)
        if validation is not None and not validation.lazy:
            validation = Split(apply_transforms(restored, validation.x), validation.y)
        notes.append("transforms (fitted on the training split): "
                     + ", ".join(str(f.ref.type) for f in restored))
    choice = spec.fit.validation
    if validation is None and choice == "test":
        validation = test
    if isinstance(train.x, Examples):
        notes.append(f"data is streamed from {train.x.describe()}, one batch at a time")
    if whole and splits.test is None:
        pass  # _split said it: every example is evaluated
    else:
        notes.append(f"data: {len(train)} train, "
                     f"{len(validation) if validation is not None else 0} validation"
                     f"{' (the test split)' if choice == 'test' else ''}, "
                     f"{len(test)} test examples")
    for note in notes:
        log(note)
    used = ((spec.data.test_split or DEFAULT_TEST_SPLIT)
            if splits.test is None and not whole else None)
    info = {**splits.info, **({"evaluated_whole": True} if whole and splits.test is None
                               else {}), **({"raw_input": raw} if raw else {})}
    return Prepared(train, validation, test, notes, used, InputPipeline(preprocessor, restored),
                    splits.class_names, splits.task, info)
