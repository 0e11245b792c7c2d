"""The shapes dataset: deterministic, balanced, quick, and what declml expects."""

from __future__ import annotations

import time

import numpy as np
import pytest
from declml.data.splits import Splits


def _load(**options):
    from declml_example.datasets import load_shapes
    from declml_example.plugin import ShapesOptions

    return load_shapes(ShapesOptions(**options))


def test_returns_a_single_split():
    splits = _load(n_samples=60, size=12)
    assert isinstance(splits, Splits)
    assert splits.test is None
    assert splits.source == "declml_example shapes"
    x, y = splits.train.x, splits.train.y
    assert x.shape == (60, 12, 12) and x.dtype == np.float32
    assert y.shape == (60,) and y.dtype == np.int64
    assert x.min() >= 0.0 and x.max() <= 1.0


def test_same_seed_same_arrays_other_seed_differs():
    a = _load(n_samples=90, seed=7).train
    b = _load(n_samples=90, seed=7).train
    c = _load(n_samples=90, seed=8).train
    np.testing.assert_array_equal(a.x, b.x)
    np.testing.assert_array_equal(a.y, b.y)
    assert not np.array_equal(a.x, c.x)


@pytest.mark.parametrize("n_samples", [30, 100, 1500])
def test_classes_are_balanced(n_samples):
    counts = np.bincount(_load(n_samples=n_samples).train.y, minlength=3)
    assert len(counts) == 3
    assert counts.max() - counts.min() <= 1


def test_noise_free_images_hold_one_shape_each():
    from declml_example.datasets import make_shapes

    x, y = make_shapes(n_samples=30, size=20, noise=0.0, seed=1)
    pixels = x.reshape(30, -1)
    assert np.all(pixels.max(axis=1) == 1.0)  # a filled interior
    coverage = pixels.sum(axis=1) / pixels.shape[1]
    assert coverage.min() > 0.05 and coverage.max() < 0.7
    assert set(np.unique(y)) == {0, 1, 2}


def test_noise_changes_pixels_not_labels():
    from declml_example.datasets import make_shapes

    clean_x, clean_y = make_shapes(n_samples=30, noise=0.0, seed=3)
    noisy_x, noisy_y = make_shapes(n_samples=30, noise=0.3, seed=3)
    np.testing.assert_array_equal(clean_y, noisy_y)
    assert not np.array_equal(clean_x, noisy_x)


def test_fast_enough():
    started = time.perf_counter()
    _load(n_samples=1500)
    assert time.perf_counter() - started < 1.0


def test_through_declml_data_pipeline(tester):
    from declml.data.pipeline import prepare

    spec = tester.check_spec({
        "name": "shapes_data", "seed": 1,
        "data": {"dataset": "shapes", "n_samples": 150, "size": 12, "test_split": 0.2,
                 "preprocessing": {"reshape": [12, 12, 1], "one_hot": 3}},
        "model": {"input_shape": [12, 12, 1], "layers": [{"type": "Flatten"}]},
        "compile": {"loss": "categorical_crossentropy"},
    })
    data = prepare(spec, tester.registry, log=lambda message: None)
    assert len(data.train) == 120 and len(data.test) == 30
    assert data.train.x.shape[1:] == (12, 12, 1)
    assert data.test.y.shape == (30, 3)
    assert np.all(data.test.y.sum(axis=0) == 10)  # stratified hold-out
