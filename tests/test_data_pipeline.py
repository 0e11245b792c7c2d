"""Splitting (holdout), preprocessing and the data pipeline (prepare) on tiny arrays."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from declml.data.pipeline import DEFAULT_TEST_SPLIT, Prepared, load_splits, prepare
from declml.data.preprocessing import preprocess
from declml.data.splits import Split, Splits, holdout
from declml.errors import DataError
from declml.registry.manager import build_registry, get_plugin_manager, get_registry
from declml.registry.registry import Registrar
from declml.spec.api import spec_from_data
from declml.spec.sections import Preprocessing


def tagged(n: int, classes: int = 3) -> Split:
    """x[i] == i, so which examples went where can be read back from x."""
    return Split(np.arange(n, dtype="float32").reshape(n, 1), np.arange(n) % classes)


def ids(split: Split) -> list[int]:
    return [int(v) for v in split.x[:, 0]]


# --- Split -------------------------------------------------------------------------------


def test_split_refuses_length_mismatch():
    with pytest.raises(DataError, match="2 inputs, 3 targets"):
        Split(np.zeros((2, 1)), np.zeros(3))


def test_split_take():
    part = tagged(5).take(np.array([4, 1]))
    assert ids(part) == [4, 1]
    assert list(part.y) == [1, 1]


# --- holdout -----------------------------------------------------------------------------


@pytest.mark.parametrize("stratify", [True, False])
def test_holdout_is_deterministic_for_a_seed(stratify):
    data = tagged(30)
    keep1, out1 = holdout(data, 0.2, 7, stratify=stratify)
    keep2, out2 = holdout(data, 0.2, 7, stratify=stratify)
    assert ids(keep1) == ids(keep2)
    assert ids(out1) == ids(out2)


@pytest.mark.parametrize("stratify", [True, False])
def test_holdout_differs_for_another_seed(stratify):
    data = tagged(60)
    _, out_a = holdout(data, 0.25, 0, stratify=stratify)
    _, out_b = holdout(data, 0.25, 1, stratify=stratify)
    assert ids(out_a) != ids(out_b)


def test_holdout_partitions_the_examples():
    data = tagged(25)
    keep, out = holdout(data, 0.2, 3, stratify=False)
    assert len(out) == 5
    assert len(keep) == 20
    assert sorted(ids(keep) + ids(out)) == list(range(25))
    assert not set(ids(keep)) & set(ids(out))
    # x and y stay paired
    for split in (keep, out):
        np.testing.assert_array_equal(split.y, split.x[:, 0].astype(int) % 3)
    # both parts come back in original order
    assert ids(keep) == sorted(ids(keep))
    assert ids(out) == sorted(ids(out))


@pytest.mark.parametrize(("fraction", "held_out"), [(0.33, 3), (0.37, 4), (0.5, 5)])
def test_holdout_rounds_to_the_nearest_count(fraction, held_out):
    keep, out = holdout(tagged(10), fraction, 0, stratify=False)
    assert len(out) == held_out
    assert len(keep) == 10 - held_out


def test_holdout_keeps_class_proportions():
    y = np.array([0] * 50 + [1] * 30 + [2] * 20)
    data = Split(np.arange(100, dtype="float32").reshape(100, 1), y)
    for seed in range(5):
        keep, out = holdout(data, 0.2, seed, stratify=True)
        assert np.bincount(out.y, minlength=3).tolist() == [10, 6, 4]
        assert np.bincount(keep.y, minlength=3).tolist() == [40, 24, 16]


def test_holdout_stratifies_labels_not_starting_at_zero():
    y = np.array([-5] * 16 + [7] * 4)
    data = Split(np.zeros((20, 1)), y)
    _, out = holdout(data, 0.25, 0, stratify=True)
    assert sorted(out.y.tolist()) == [-5, -5, -5, -5, 7]


def test_holdout_without_stratify_can_unbalance():
    # Very unbalanced classes: some seed must give a holdout with a proportion other
    # than the stratified one, otherwise stratify=False is not uniform shuffling.
    y = np.array([0] * 40 + [1] * 10)
    data = Split(np.zeros((50, 1)), y)
    counts = {int(holdout(data, 0.2, seed, stratify=False)[1].y.sum()) for seed in range(20)}
    assert counts != {2}


@pytest.mark.parametrize("fraction", [0.95, 0.99, 1.0])
def test_holdout_fraction_too_large(fraction):
    with pytest.raises(DataError) as info:
        holdout(tagged(10), fraction, 0, stratify=False)
    message = str(info.value)
    assert f"{fraction:g}" in message
    assert "10 examples" in message


@pytest.mark.parametrize("fraction", [0.01, 0.04, 0.0])
def test_holdout_fraction_too_small(fraction):
    with pytest.raises(DataError, match="of 10 examples"):
        holdout(tagged(10), fraction, 0, stratify=True)


def test_holdout_falls_back_when_a_class_has_one_example():
    y = np.array([0] * 10 + [1] * 9 + [2])  # class 2 appears once: sklearn cannot stratify
    data = Split(np.arange(20, dtype="float32").reshape(20, 1), y)
    keep, out = holdout(data, 0.25, 0, stratify=True)
    assert len(out) == 5
    assert len(keep) == 15
    assert sorted(ids(keep) + ids(out)) == list(range(20))
    # Same result as plain shuffling with that seed.
    _, out_u = holdout(data, 0.25, 0, stratify=False)
    assert ids(out) == ids(out_u)


def test_holdout_falls_back_when_holdout_is_smaller_than_class_count():
    data = tagged(20, classes=10)  # 10 classes, 2 each; 3 held out cannot hold each class
    keep, out = holdout(data, 0.15, 0, stratify=True)
    assert len(out) == 3
    assert len(keep) == 17


def test_holdout_kept_part_smaller_than_class_count():
    data = Split(np.zeros((6, 1)), np.array([0, 0, 1, 1, 2, 2]))
    keep, out = holdout(data, 0.6, 0, stratify=True)  # holds out 4, keeps 2 of 3 classes
    assert (len(keep), len(out)) == (2, 4)


def test_holdout_non_class_targets_are_not_stratified():
    # Float regression targets and one-hot targets are split uniformly without error.
    x = np.zeros((10, 1))
    keep, out = holdout(Split(x, np.linspace(0, 1, 10)), 0.3, 0, stratify=True)
    assert (len(keep), len(out)) == (7, 3)
    keep, out = holdout(Split(x, np.eye(2)[np.arange(10) % 2]), 0.3, 0, stratify=True)
    assert out.y.shape == (3, 2)


# --- preprocess --------------------------------------------------------------------------


def steps(**kwargs: Any) -> Preprocessing:
    return Preprocessing(**kwargs)


def test_preprocess_rescale():
    x = np.array([[0, 255], [51, 102]], dtype="uint8")
    out = preprocess(Split(x, np.array([0, 1])), steps(rescale="1/255"), "train")
    assert out.x.dtype == np.float32
    np.testing.assert_allclose(out.x, [[0.0, 1.0], [0.2, 0.4]], rtol=1e-6)
    np.testing.assert_array_equal(out.y, [0, 1])


def test_preprocess_rescale_number():
    out = preprocess(Split(np.array([[2.0, 4.0]]), np.array([0])), steps(rescale=0.5), "train")
    np.testing.assert_allclose(out.x, [[1.0, 2.0]])
    assert out.x.dtype == np.float32


def test_preprocess_integer_inputs_become_float32_without_rescale():
    x = np.array([[1, 2]], dtype="int64")
    out = preprocess(Split(x, np.array([0])), steps(), "train")
    assert out.x.dtype == np.float32
    np.testing.assert_array_equal(out.x, [[1.0, 2.0]])


def test_preprocess_does_not_modify_its_input():
    x = np.array([[10.0, 20.0]], dtype="float32")
    preprocess(Split(x, np.array([0])), steps(rescale=0.1), "train")
    np.testing.assert_array_equal(x, [[10.0, 20.0]])


def test_preprocess_string_inputs_refused():
    with pytest.raises(DataError, match=r"test inputs are text; add data\.preprocessing\.text"):
        preprocess(Split(np.array([["a"], ["b"]]), np.array([0, 1])), steps(), "test")


def test_preprocess_bool_inputs_without_rescale():
    out = preprocess(Split(np.array([[True, False]]), np.array([0])), steps(), "train")
    np.testing.assert_array_equal(out.x, [[1.0, 0.0]])


def test_preprocess_reshape():
    x = np.arange(2 * 16, dtype="float32").reshape(2, 4, 4)
    out = preprocess(Split(x, np.array([0, 1])), steps(reshape=[4, 4, 1]), "train")
    assert out.x.shape == (2, 4, 4, 1)
    np.testing.assert_array_equal(out.x[..., 0], x)


def test_preprocess_reshape_flat_to_image():
    x = np.arange(3 * 6, dtype="float32").reshape(3, 6)
    out = preprocess(Split(x, np.zeros(3)), steps(reshape=[2, 3]), "train")
    assert out.x.shape == (3, 2, 3)


def test_preprocess_reshape_mismatch_names_both_shapes():
    x = np.zeros((2, 4, 4), dtype="float32")
    with pytest.raises(DataError) as info:
        preprocess(Split(x, np.array([0, 1])), steps(reshape=[5, 5]), "validation")
    message = str(info.value)
    assert "data.preprocessing.reshape" in message
    assert "validation" in message
    assert "(4, 4)" in message and "16 values" in message
    assert "[5, 5]" in message and "25 values" in message


def test_preprocess_order_rescale_then_reshape():
    x = np.full((1, 4), 10, dtype="uint8")
    out = preprocess(Split(x, np.array([0])), steps(rescale=0.1, reshape=[2, 2]), "train")
    assert out.x.shape == (1, 2, 2)
    np.testing.assert_allclose(out.x, np.ones((1, 2, 2)), rtol=1e-6)


def test_preprocess_one_hot():
    out = preprocess(Split(np.zeros((3, 1)), np.array([2, 0, 1])), steps(one_hot=4), "train")
    assert out.y.dtype == np.float32
    np.testing.assert_array_equal(out.y, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])


def test_preprocess_one_hot_column_labels():
    y = np.array([[1], [0]])
    out = preprocess(Split(np.zeros((2, 1)), y), steps(one_hot=2), "train")
    np.testing.assert_array_equal(out.y, [[0, 1], [1, 0]])


def test_preprocess_one_hot_uint8_labels():
    y = np.array([9, 3], dtype="uint8")
    out = preprocess(Split(np.zeros((2, 1)), y), steps(one_hot=10), "train")
    assert out.y.shape == (2, 10)
    assert out.y[0, 9] == 1 and out.y[1, 3] == 1
    assert out.y.sum() == 2


def test_preprocess_one_hot_label_too_large_says_needed_size():
    with pytest.raises(DataError) as info:
        preprocess(Split(np.zeros((3, 1)), np.array([0, 4, 1])), steps(one_hot=3), "train")
    message = str(info.value)
    assert "one_hot is 3" in message
    assert "go up to 4" in message
    assert "at least 5" in message
    assert "train" in message


def test_preprocess_one_hot_negative_label_refused():
    with pytest.raises(DataError, match="include -1; one-hot needs class labels numbered from 0"):
        preprocess(Split(np.zeros((2, 1)), np.array([-1, 1])), steps(one_hot=3), "test")


def test_preprocess_one_hot_negative_label_hint_is_not_self_contradictory():
    with pytest.raises(DataError) as info:
        preprocess(Split(np.zeros((2, 1)), np.array([-1, 2])), steps(one_hot=3), "train")
    assert "at least 3" not in str(info.value)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_preprocess_one_hot_uint8_overflow_in_hint():
    y = np.array([0, 255], dtype="uint8")
    with pytest.raises(DataError) as info:
        preprocess(Split(np.zeros((2, 1)), y), steps(one_hot=10), "train")
    assert "at least 256" in str(info.value)


def test_preprocess_one_hot_integral_float_labels():
    y = np.array([0.0, 2.0, 1.0])
    out = preprocess(Split(np.zeros((3, 1)), y), steps(one_hot=3), "train")
    np.testing.assert_array_equal(out.y, np.eye(3)[[0, 2, 1]])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
@pytest.mark.parametrize("bad", [0.5, np.nan, np.inf])
def test_preprocess_one_hot_non_integral_labels_refused(bad):
    y = np.array([0.0, bad])
    with pytest.raises(DataError, match="not integer class labels"):
        preprocess(Split(np.zeros((2, 1)), y), steps(one_hot=3), "train")


def test_preprocess_one_hot_refuses_multi_column_targets():
    with pytest.raises(DataError, match=r"shape \(2, 2\)"):
        preprocess(Split(np.zeros((2, 1)), np.zeros((2, 2))), steps(one_hot=3), "train")


def test_preprocess_without_one_hot_leaves_targets():
    y = np.array([3, 1])
    out = preprocess(Split(np.zeros((2, 1)), y), steps(), "train")
    assert out.y is y


# --- prepare -----------------------------------------------------------------------------


def write_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def single(n: int = 50, classes: int = 3) -> dict[str, np.ndarray]:
    x = np.arange(n * 4, dtype="uint8").reshape(n, 2, 2)
    return {"x": x, "y": np.arange(n) % classes}


def make_spec(path: Path, *, data: dict[str, Any] | None = None,
              fit: dict[str, Any] | None = None, seed: int = 0, registry=None):
    doc: dict[str, Any] = {
        "name": "data-test",
        "seed": seed,
        "data": {"dataset": "npz", "path": str(path), **(data or {})},
        "model": {"input_shape": [2, 2],
                  "layers": [{"type": "Flatten"},
                             {"type": "Dense", "units": 3, "activation": "softmax"}]},
        "compile": {"loss": "categorical_crossentropy"},
    }
    if fit is not None:
        doc["fit"] = fit
    return spec_from_data(doc, registry)


def run(spec, registry=None) -> tuple[Prepared, list[str]]:
    logged: list[str] = []
    prepared = prepare(spec, registry or get_registry(), log=logged.append)
    return prepared, logged


def test_prepare_single_split_gets_default_test_split(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(50))
    prepared, logged = run(make_spec(path))
    assert DEFAULT_TEST_SPLIT == 0.2
    assert len(prepared.test) == 10
    assert len(prepared.train) == 40
    assert prepared.validation is None
    assert logged == prepared.notes
    note = prepared.notes[0]
    assert "single split" in note
    assert "0.2" in note
    assert "default" in note and "data.test_split" in note
    assert "seed=0" in note
    assert str(path) in note
    assert prepared.notes[-1] == "data: 40 train, 0 validation, 10 test examples"


def test_prepare_single_split_is_stratified_by_default(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(50, classes=2))  # 25 / 25
    prepared, _ = run(make_spec(path))
    assert np.bincount(prepared.test.y).tolist() == [5, 5]


def test_prepare_explicit_test_split(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(50))
    prepared, _ = run(make_spec(path, data={"test_split": 0.3}))
    assert len(prepared.test) == 15
    assert len(prepared.train) == 35
    assert "(set)" in prepared.notes[0]
    assert "0.3" in prepared.notes[0]


def test_prepare_is_reproducible_and_seeded(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(60))
    a, _ = run(make_spec(path, seed=1))
    b, _ = run(make_spec(path, seed=1))
    c, _ = run(make_spec(path, seed=2))
    np.testing.assert_array_equal(a.test.x, b.test.x)
    assert not np.array_equal(a.test.x, c.test.x)
    assert "seed=2" in c.notes[0]


def test_prepare_two_splits_keeps_the_given_test_split(tmp_path):
    rng = np.random.default_rng(0)
    x_test = rng.integers(0, 255, (7, 2, 2), dtype="uint8")
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((20, 2, 2), "uint8"),
                     y_train=np.arange(20) % 3, x_test=x_test, y_test=np.arange(7) % 3)
    prepared, _ = run(make_spec(path))
    assert len(prepared.train) == 20
    assert len(prepared.test) == 7
    np.testing.assert_array_equal(prepared.test.x, x_test.astype("float32"))
    assert not any("single split" in n for n in prepared.notes)
    assert prepared.notes == ["data: 20 train, 0 validation, 7 test examples"]


def test_prepare_test_split_is_ignored_with_a_note_when_dataset_has_one(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((20, 2, 2)), y_train=np.zeros(20),
                     x_test=np.zeros((5, 2, 2)), y_test=np.zeros(5))
    prepared, _ = run(make_spec(path, data={"test_split": 0.5}))
    assert len(prepared.test) == 5
    assert any("test_split is ignored" in n for n in prepared.notes)


def test_prepare_validation_test_uses_the_test_split(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(50))
    prepared, _ = run(make_spec(path, fit={"validation": "test"}))
    assert prepared.validation is prepared.test
    assert len(prepared.train) == 40
    assert prepared.notes[-1] == ("data: 40 train, 10 validation (the test split), "
                                  "10 test examples")


def test_prepare_float_validation_carves_from_train(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(50))
    prepared, _ = run(make_spec(path, fit={"validation": 0.25}))
    assert prepared.validation is not None
    assert len(prepared.test) == 10
    assert len(prepared.validation) == 10  # 0.25 of the 40 left after the test split
    assert len(prepared.train) == 30
    assert len(prepared.train) + len(prepared.validation) + len(prepared.test) == 50
    # x is arange, so every example is distinct: no example lands in two splits.
    rows = [tuple(r) for s in (prepared.train, prepared.validation, prepared.test)
            for r in s.x.reshape(len(s), -1)]
    assert len(set(rows)) == 50
    assert prepared.notes[-1] == "data: 30 train, 10 validation, 10 test examples"


def test_prepare_float_validation_with_two_split_dataset(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((20, 2, 2)), y_train=np.arange(20) % 2,
                     x_test=np.zeros((6, 2, 2)), y_test=np.zeros(6))
    prepared, _ = run(make_spec(path, fit={"validation": 0.1}))
    assert (len(prepared.train), len(prepared.validation), len(prepared.test)) == (18, 2, 6)


def test_prepare_applies_preprocessing_to_every_split(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(50))
    spec = make_spec(path, data={"preprocessing": {"rescale": "1/255", "reshape": [4, 1],
                                                   "one_hot": 3}},
                     fit={"validation": 0.25})
    prepared, _ = run(spec)
    for split in (prepared.train, prepared.validation, prepared.test):
        assert split.x.dtype == np.float32
        assert split.x.shape[1:] == (4, 1)
        assert split.y.shape[1:] == (3,)
        assert float(split.x.max()) <= 1.0
        np.testing.assert_array_equal(split.y.sum(axis=1), 1.0)


def test_prepare_preprocessing_error_names_the_split(tmp_path):
    path = write_npz(tmp_path / "d.npz", **single(50))
    spec = make_spec(path, data={"preprocessing": {"one_hot": 2}})  # labels go up to 2
    with pytest.raises(DataError, match=r"train labels.*at least 3"):
        run(spec)


def test_prepare_too_small_dataset(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((2, 2, 2)), y=np.array([0, 1]))
    with pytest.raises(DataError, match="cannot hold out"):
        run(make_spec(path))


def test_prepare_missing_file_is_a_data_error(tmp_path):
    spec = make_spec(tmp_path / "missing.npz")
    with pytest.raises(DataError, match="does not exist"):
        run(spec)


def test_prepare_logs_to_stderr_by_default(tmp_path, capsys):
    path = write_npz(tmp_path / "d.npz", **single(20))
    prepare(make_spec(path), get_registry())
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "data: 16 train, 0 validation, 4 test examples" in captured.err


def test_load_splits_passes_validated_options(tmp_path):
    path = write_npz(tmp_path / "d.npz", a=np.zeros((4, 2, 2)), b=np.arange(4))
    spec = make_spec(path, data={"x_key": "a", "y_key": "b"})
    splits = load_splits(spec, get_registry())
    assert isinstance(splits, Splits)
    np.testing.assert_array_equal(splits.train.y, np.arange(4))


def test_load_splits_refuses_a_loader_that_returns_something_else(tmp_path):
    registry = build_registry(get_plugin_manager())
    Registrar(registry, "dataset", "bad-plugin").add(
        "tuple_data", lambda options: (np.zeros((4, 2, 2)), np.zeros(4)))
    spec = spec_from_data({
        "name": "x",
        "data": {"dataset": "tuple_data"},
        "model": {"input_shape": [2, 2], "layers": [{"type": "Flatten"}]},
        "compile": {"loss": "mse"},
    }, registry)
    with pytest.raises(DataError) as info:
        load_splits(spec, registry)
    message = str(info.value)
    assert "'tuple_data'" in message
    assert "'bad-plugin'" in message
    assert "tuple" in message
    assert "Splits" in message
