"""The PNG pictures of a run directory: learning curves and the confusion matrix."""

from __future__ import annotations

import math
import struct
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from declml.errors import ArtifactError
from declml.run.plots import (
    _panels,
    confusion_counts,
    plot_confusion_matrix,
    plot_learning_curves,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REPO = Path(__file__).resolve().parent.parent


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG signature."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def only_file(directory: Path, name: str) -> Path:
    """The directory holds exactly ``name``: no temporary file left behind."""
    assert sorted(p.name for p in directory.iterdir()) == [name]
    return directory / name


def decodes(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as image:
        image.load()
        return image.size


HISTORY = {
    "loss": [1.0, 0.6, 0.4, 0.3],
    "accuracy": [0.5, 0.7, 0.8, 0.85],
    "val_loss": [1.1, 0.8, 0.6, 0.55],
    "val_accuracy": [0.4, 0.6, 0.7, 0.75],
    "learning_rate": [1e-3, 1e-3, 5e-4, 2.5e-4],
}


# --- learning curves -----------------------------------------------------------------


def test_learning_curves_png(tmp_path):
    out = plot_learning_curves(HISTORY, tmp_path / "learning_curves.png", title="mnist")
    assert out == tmp_path / "learning_curves.png"
    only_file(tmp_path, "learning_curves.png")
    width, height = png_size(out)
    assert 400 <= width <= 3000 and 250 <= height <= 3000
    assert decodes(out) == (width, height)


def test_panels_loss_first_then_logged_order_lr_last():
    history = {"learning_rate": [1e-3], "accuracy": [0.5], "val_auc": [0.6], "loss": [1.0],
               "val_loss": [1.2], "val_accuracy": [0.4], "auc": [0.7]}
    panels = _panels(history)
    assert [name for name, _ in panels] == ["loss", "accuracy", "auc", "learning_rate"]
    loss = dict(panels[0][1])
    assert loss == {"train": [1.0], "validation": [1.2]}


def test_panels_non_finite_become_gaps():
    panels = _panels({"loss": [1.0, math.nan, math.inf, None, "x", 0.5]})
    assert panels == [("loss", [("train", [1.0, None, None, None, None, 0.5])])]


def test_nan_and_inf_do_not_crash(tmp_path):
    history = {"loss": [1.0, math.nan, 0.5, math.inf], "val_loss": [None, -math.inf, 0.7, 0.6],
               "accuracy": [math.nan, math.nan, math.nan, math.nan]}
    out = plot_learning_curves(history, tmp_path / "lc.png")
    assert out is not None and png_size(out)[0] > 0


def test_no_validation_keys(tmp_path):
    out = plot_learning_curves({"loss": [0.9, 0.5], "accuracy": [0.6, 0.8]}, tmp_path / "lc.png")
    assert out is not None
    assert decodes(out)[0] > 0


def test_single_epoch(tmp_path):
    out = plot_learning_curves({"loss": [0.7], "val_loss": [0.8]}, tmp_path / "lc.png")
    assert out is not None and png_size(out)[0] > 0


def test_odd_metric_names(tmp_path):
    history = {"loss": [1.0, 0.5], "top_k/5": [0.2, 0.3], "cost $x$": [1, 2], "val_": [3, 4],
               "_private": [0.1, 0.2], "val_only_validation": [0.3, 0.2]}
    out = plot_learning_curves(history, tmp_path / "lc.png")
    assert out is not None and png_size(out)[0] > 0


def test_learning_rate_not_positive_stays_linear(tmp_path):
    out = plot_learning_curves({"loss": [1.0, 0.5], "learning_rate": [0.0, 1e-3]},
                               tmp_path / "lc.png")
    assert out is not None


@pytest.mark.parametrize("history", [{}, {"loss": []}, {"loss": [], "val_loss": []}])
def test_empty_history_writes_nothing(tmp_path, history):
    assert plot_learning_curves(history, tmp_path / "lc.png") is None
    assert list(tmp_path.iterdir()) == []


def test_creates_parent_and_replaces_existing(tmp_path):
    target = tmp_path / "sub" / "lc.png"
    plot_learning_curves({"loss": [1.0, 0.5]}, target)
    first = target.read_bytes()
    plot_learning_curves({"loss": [1.0, 0.5, 0.2, 0.1], "accuracy": [0.1, 0.2, 0.3, 0.4]},
                         target)
    assert target.read_bytes() != first
    only_file(target.parent, "lc.png")


def test_unwritable_target_is_an_artifact_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ArtifactError, match="cannot write"):
        plot_learning_curves({"loss": [1.0]}, blocker / "lc.png")


def test_threads_draw_at_once(tmp_path):
    errors: list[BaseException] = []

    def draw(i: int) -> None:
        try:
            plot_learning_curves({"loss": [1.0, 0.5]}, tmp_path / f"lc{i}.png")
            plot_confusion_matrix(np.arange(6) % 3, np.arange(6) % 2, tmp_path / f"cm{i}.png")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=draw, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(list(tmp_path.glob("*.png"))) == 6
    assert not list(tmp_path.glob(".*"))


# --- confusion matrix ----------------------------------------------------------------


def test_confusion_counts_exact():
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2])
    y_pred = np.array([0, 1, 1, 1, 2, 2, 0, 2, 2])
    counts = confusion_counts(y_true, y_pred, 4)
    assert counts.dtype == np.int64
    assert counts.tolist() == [
        [1, 1, 0, 0],
        [0, 2, 1, 0],
        [1, 0, 3, 0],
        [0, 0, 0, 0],
    ]
    assert counts.sum() == len(y_true)


def test_confusion_counts_matches_a_loop():
    rng = np.random.default_rng(7)
    y_true, y_pred = rng.integers(0, 13, 500), rng.integers(0, 13, 500)
    expected = np.zeros((13, 13), dtype=np.int64)
    for t, p in zip(y_true, y_pred, strict=True):
        expected[t, p] += 1
    assert np.array_equal(confusion_counts(y_true, y_pred, 13), expected)


def test_confusion_counts_empty():
    assert confusion_counts(np.array([], int), np.array([], int), 2).tolist() == [[0, 0], [0, 0]]


@pytest.mark.parametrize(
    ("y_true", "y_pred", "n", "match"),
    [([0, 1], [0], 2, "2 labels but y_pred has 1"),
     ([0, 2], [0, 1], 2, "classes are 0..1"),
     ([0, 1], [-1, 1], 2, "y_pred holds labels from -1")],
)
def test_confusion_counts_rejects(y_true, y_pred, n, match):
    with pytest.raises(ValueError, match=match):
        confusion_counts(np.array(y_true), np.array(y_pred), n)


@pytest.mark.parametrize("n", [2, 10, 100])
def test_confusion_matrix_png(tmp_path, n):
    rng = np.random.default_rng(n)
    y_true = rng.integers(0, n, 20 * n)
    y_pred = np.where(rng.random(20 * n) < 0.7, y_true, rng.integers(0, n, 20 * n))
    names = [f"class {i}" for i in range(n)]
    out = plot_confusion_matrix(y_true, y_pred, tmp_path / "confusion_matrix.png",
                                class_names=names, title=f"{n} classes")
    assert out == tmp_path / "confusion_matrix.png"
    only_file(tmp_path, "confusion_matrix.png")
    width, height = png_size(out)
    assert 300 <= width <= 3000 and 300 <= height <= 3000
    assert decodes(out) == (width, height)


def test_confusion_matrix_grows_with_classes(tmp_path):
    sizes = []
    for n in (2, 10, 40):
        labels = np.arange(n)
        sizes.append(png_size(plot_confusion_matrix(labels, labels, tmp_path / f"{n}.png")))
    widths = [w for w, _ in sizes]
    assert widths == sorted(widths) and widths[0] < widths[-1]


def test_class_names_shorter_than_labels(tmp_path):
    out = plot_confusion_matrix(np.array([0, 1, 4, 4]), np.array([0, 3, 4, 2]),
                                tmp_path / "cm.png", class_names=["cat", "dog"])
    assert png_size(out)[0] > 0


def test_class_names_longer_than_labels_and_counts(tmp_path):
    names = ["a very long class name that gets shortened", "b", "c $d$", "unused"]
    out = plot_confusion_matrix(np.array([0, 1, 2]), np.array([1, 1, 2]), tmp_path / "cm.png",
                                class_names=names, normalize=False)
    assert png_size(out)[0] > 0


def test_one_hot_and_float_labels(tmp_path):
    y_true = np.eye(3)[[0, 1, 2, 2]]
    y_pred = np.array([[0.0], [1.0], [2.0], [1.0]])
    out = plot_confusion_matrix(y_true, y_pred, tmp_path / "cm.png")
    assert png_size(out)[0] > 0


@pytest.mark.parametrize(
    ("y_true", "y_pred", "match"),
    [(np.array([0.5, 1.0]), np.array([0, 1]), "integer class labels"),
     (np.array([0, -1]), np.array([0, 1]), "negative label"),
     (np.array([0, 1, 1]), np.array([0, 1]), "3 labels but y_pred has 2"),
     (np.array([], int), np.array([], int), "no labels and no class names")],
)
def test_confusion_matrix_rejects(tmp_path, y_true, y_pred, match):
    with pytest.raises(ValueError, match=match):
        plot_confusion_matrix(y_true, y_pred, tmp_path / "cm.png")
    assert list(tmp_path.iterdir()) == []


# --- import cost ---------------------------------------------------------------------


def test_import_does_not_load_matplotlib():
    code = ("import sys, declml.run.plots; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True,
                          text=True, check=True)
    assert done.stdout.strip() == "[]"
