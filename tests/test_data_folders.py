"""Folder and IDX datasets (declml.data.folders) on tiny files written here; no network."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from declml.builtins.folder_datasets import IdxOptions, ImageDirOptions, TextDirOptions
from declml.data.folders import load_idx, load_image_dir, load_text_dir, read_images
from declml.data.lazy import Examples, iter_batches
from declml.data.splits import Split, Splits, holdout
from declml.errors import DataError, SpecError
from declml.spec.api import load_spec

# --- helpers -----------------------------------------------------------------------------


def pixels(value: int, size: tuple[int, int] = (4, 5)) -> np.ndarray:
    """An RGB image (height, width, 3) whose every pixel is (value, value + 1, value + 2)."""
    return np.broadcast_to(np.array([value, value + 1, value + 2], "uint8"),
                           (*size, 3)).copy()


def write_image(path: Path, value: int, size: tuple[int, int] = (4, 5), fmt: str = "PNG",
                mode: str = "RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels(value, size)).convert(mode).save(path, format=fmt)
    return path


def image_tree(root: Path, layout: dict[str, list[int]], size: tuple[int, int] = (4, 5)
               ) -> Path:
    """``{"cat": [10, 20]}`` → root/cat/0.png (value 10), root/cat/1.png (value 20)."""
    for name, values in layout.items():
        for i, value in enumerate(values):
            write_image(root / name / f"{i}.png", value, size)
    return root


def text_tree(root: Path, layout: dict[str, list[str]]) -> Path:
    for name, texts in layout.items():
        (root / name).mkdir(parents=True, exist_ok=True)
        for i, text in enumerate(texts):
            (root / name / f"{i}.txt").write_text(text, encoding="utf-8")
    return root


def image_dir(path: Path, **options) -> Splits:
    return load_image_dir(ImageDirOptions(path=str(path), **options))


def text_dir(path: Path, **options) -> Splits:
    return load_text_dir(TextDirOptions(path=str(path), **options))


def read_all(x: Examples) -> np.ndarray:
    return x.read(np.arange(len(x)))


def red(images: np.ndarray) -> list[int]:
    """The first channel of each image's top-left pixel: which image it is."""
    return [int(v) for v in images[:, 0, 0, 0]]


# --- image_dir: layout, labels, classes ---------------------------------------------------


def test_image_dir_class_per_folder(tmp_path):
    root = image_tree(tmp_path / "pets", {"dog": [30, 40], "cat": [10, 20, 25]})
    (root / "cat" / "notes.txt").write_text("ignored")
    (root / "cat" / ".hidden.png").write_bytes(b"not an image, but hidden")
    (root / ".thumbs").mkdir()
    splits = image_dir(root)
    assert splits.class_names == ["cat", "dog"]
    assert splits.task == "classification"
    assert splits.source == str(root)
    assert splits.test is None
    assert isinstance(splits.train.x, Examples)
    assert splits.train.y.dtype == np.int64
    np.testing.assert_array_equal(splits.train.y, [0, 0, 0, 1, 1])
    images = read_all(splits.train.x)
    assert images.shape == (5, 4, 5, 3)
    assert images.dtype == np.uint8
    assert red(images) == [10, 20, 25, 30, 40]
    np.testing.assert_array_equal(images[0], pixels(10))
    assert splits.info["class_counts"] == {"train": {"cat": 3, "dog": 2}}
    assert splits.info["image_shape"] == [4, 5, 3]


def test_image_dir_extensions_are_case_insensitive_and_nested_folders_are_read(tmp_path):
    root = tmp_path / "d"
    write_image(root / "a" / "x.PNG", 1)
    write_image(root / "a" / "sub" / "y.JPeG", 2, fmt="JPEG")
    write_image(root / "b" / "z.bmp", 3, fmt="BMP")
    write_image(root / "b" / "w.gif", 4, fmt="GIF")
    write_image(root / "b" / "v.webp", 5, fmt="WEBP", mode="RGB")
    splits = image_dir(root)
    assert len(splits.train) == 5
    np.testing.assert_array_equal(splits.train.y, [0, 0, 1, 1, 1])
    assert read_all(splits.train.x).shape == (5, 4, 5, 3)


def test_image_dir_train_and_test_folders(tmp_path):
    image_tree(tmp_path / "d" / "train", {"a": [1, 2], "b": [3]})
    image_tree(tmp_path / "d" / "test", {"b": [7], "a": [6]})
    (tmp_path / "d" / "README").write_text("about")
    splits = image_dir(tmp_path / "d")
    assert splits.class_names == ["a", "b"]
    np.testing.assert_array_equal(splits.train.y, [0, 0, 1])
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.y, [0, 1])
    assert red(read_all(splits.test.x)) == [6, 7]
    assert splits.info["layout"] == "train/ and test/ folders"


def test_image_dir_test_split_may_lack_a_class(tmp_path):
    image_tree(tmp_path / "d" / "train", {"a": [1], "b": [2], "c": [3]})
    image_tree(tmp_path / "d" / "test", {"c": [9]})
    splits = image_dir(tmp_path / "d")
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.y, [2])


def test_image_dir_train_folder_only(tmp_path):
    image_tree(tmp_path / "d" / "train", {"a": [1], "b": [2]})
    splits = image_dir(tmp_path / "d")
    assert splits.test is None
    assert splits.class_names == ["a", "b"]


def test_image_dir_classes_select_and_order(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [1], "b": [2, 3], "c": [4]})
    splits = image_dir(root, classes=["c", "a"])
    assert splits.class_names == ["c", "a"]
    np.testing.assert_array_equal(splits.train.y, [0, 1])
    assert red(read_all(splits.train.x)) == [4, 1]


def test_image_dir_classes_also_select_test_folders(tmp_path):
    image_tree(tmp_path / "d" / "train", {"neg": [1], "pos": [2], "unsup": [3]})
    image_tree(tmp_path / "d" / "test", {"neg": [4], "pos": [5], "other": [6]})
    splits = image_dir(tmp_path / "d", classes=["pos", "neg"])
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.y, [0, 1])  # pos is label 0
    assert red(read_all(splits.test.x)) == [5, 4]


def test_image_dir_unknown_class_in_classes(tmp_path):
    root = image_tree(tmp_path / "d", {"cats": [1], "dogs": [2]})
    with pytest.raises(DataError) as info:
        image_dir(root, classes=["cats", "dog"])
    message = str(info.value)
    assert "'dog'" in message and "did you mean 'dogs'" in message
    assert "cats, dogs" in message


def test_image_dir_test_class_unknown_to_training(tmp_path):
    image_tree(tmp_path / "d" / "train", {"a": [1], "b": [2]})
    image_tree(tmp_path / "d" / "test", {"a": [3], "zebra": [4]})
    with pytest.raises(DataError) as info:
        image_dir(tmp_path / "d")
    message = str(info.value)
    assert str(tmp_path / "d" / "test" / "zebra") in message
    assert "'zebra'" in message and "training classes: a, b" in message


def test_image_dir_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        image_dir(tmp_path / "empty")
    assert str(tmp_path / "empty") in str(info.value)
    assert "no class folders" in str(info.value)


def test_image_dir_class_folder_without_images(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [1]})
    (root / "b").mkdir()
    (root / "b" / "readme.txt").write_text("no images here")
    with pytest.raises(DataError) as info:
        image_dir(root)
    assert str(root / "b") in str(info.value)
    assert "holds no png/jpg/jpeg/bmp/gif/webp files" in str(info.value)


def test_image_dir_test_folder_without_class_folders(tmp_path):
    image_tree(tmp_path / "d" / "train", {"a": [1]})
    write_image(tmp_path / "d" / "test" / "unlabelled.png", 1)
    with pytest.raises(DataError, match="has no class folders"):
        image_dir(tmp_path / "d")


@pytest.mark.parametrize("make", ["missing", "file"])
def test_image_dir_path_not_a_directory(tmp_path, make):
    path = tmp_path / "nope"
    if make == "file":
        path.write_text("x")
    with pytest.raises(DataError) as info:
        image_dir(path)
    assert str(path) in str(info.value)


# --- image_dir: decoding ------------------------------------------------------------------


@pytest.mark.parametrize(("mode", "channels"), [("rgb", 3), ("grayscale", 1), ("rgba", 4)])
def test_image_dir_color_modes(tmp_path, mode, channels):
    root = image_tree(tmp_path / "d", {"a": [10, 20]})
    write_image(root / "b" / "grey.png", 50, mode="L")
    write_image(root / "b" / "alpha.png", 60, mode="RGBA")
    write_image(root / "b" / "palette.gif", 70, fmt="GIF")
    splits = image_dir(root, color_mode=mode)
    images = read_all(splits.train.x)
    assert images.shape == (5, 4, 5, channels)
    assert splits.info["image_shape"] == [4, 5, channels]
    if mode == "rgba":
        assert (images[..., 3] == 255).all()
    if mode == "grayscale":
        assert images[0, 0, 0, 0] == 11  # ITU-R 601 luma of (10, 11, 12)


def test_image_dir_image_size_resizes(tmp_path):
    root = tmp_path / "d"
    write_image(root / "a" / "small.png", 10, size=(3, 3))
    write_image(root / "a" / "big.jpg", 20, size=(40, 30), fmt="JPEG")
    write_image(root / "b" / "wide.png", 30, size=(2, 9))
    splits = image_dir(root, image_size=[6, 8])
    images = read_all(splits.train.x)
    assert images.shape == (3, 6, 8, 3)
    assert splits.info["resized"] is True
    # a resized flat colour stays that colour (JPEG: nearly)
    assert np.abs(images[0].astype(int) - pixels(20, (6, 8))).max() <= 3
    np.testing.assert_array_equal(images[1], pixels(10, (6, 8)))


def test_image_dir_mismatched_sizes_without_image_size(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [1, 2]})
    odd = write_image(root / "b" / "odd.png", 3, size=(7, 7))
    splits = image_dir(root)  # listing only: nothing is decoded yet
    assert red(splits.train.x.read(np.array([1, 0]))) == [2, 1]
    with pytest.raises(DataError) as info:
        read_all(splits.train.x)
    message = str(info.value)
    assert str(odd) in message
    assert "7×7" in message and "4×5" in message
    assert str(root / "a" / "0.png") in message  # the image whose size is expected
    assert "image_size" in message


def test_image_dir_undecodable_image_fails_when_read(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [1, 2], "b": [3]})
    bad = root / "b" / "x.png"
    bad.write_bytes(b"this is not a png at all")
    splits = image_dir(root)  # the listing succeeds
    assert len(splits.train) == 4
    assert red(splits.train.x.read(np.array([0, 1, 2]))) == [1, 2, 3]
    with pytest.raises(DataError) as info:
        splits.train.x.read(np.array([3]))
    message = str(info.value)
    assert str(bad) in message
    assert "cannot decode" in message


def test_image_dir_truncated_image_fails_when_read(tmp_path):
    root = tmp_path / "d"
    good = write_image(root / "a" / "good.png", 1, size=(32, 32))
    bad = root / "a" / "truncated.jpg"
    write_image(bad, 2, size=(32, 32), fmt="JPEG")
    bad.write_bytes(bad.read_bytes()[:40])
    splits = image_dir(root)
    assert read_all(splits.train.x.subset(np.array([0]))).shape == (1, 32, 32, 3)
    with pytest.raises(DataError) as info:
        read_all(splits.train.x)
    assert str(bad) in str(info.value)
    assert str(good) not in str(info.value)


def test_image_dir_first_image_undecodable_without_image_size(tmp_path):
    # The loader opens the first image for its size, so this one fails at load time.
    root = tmp_path / "d"
    (root / "a").mkdir(parents=True)
    (root / "a" / "0.png").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"0\.png: cannot decode"):
        image_dir(root)


def test_image_dir_deleted_file_is_reported_when_read(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [1, 2]})
    splits = image_dir(root)
    (root / "a" / "1.png").unlink()
    with pytest.raises(DataError, match="image file not found"):
        read_all(splits.train.x)


def test_image_dir_exif_orientation_is_applied(tmp_path):
    path = tmp_path / "d" / "a" / "rotated.jpg"
    path.parent.mkdir(parents=True)
    img = Image.fromarray(pixels(100, (4, 8)))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    img.save(path, format="JPEG", exif=exif)
    splits = image_dir(tmp_path / "d")
    assert read_all(splits.train.x).shape == (1, 8, 4, 3)


# --- image_dir: laziness ------------------------------------------------------------------


def test_image_dir_is_lazy_and_reads_subsets_in_order(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [0, 1, 2, 3], "b": [4, 5, 6, 7]})
    splits = image_dir(root)
    x = splits.train.x
    assert isinstance(x, Examples)
    assert len(x) == 8
    assert red(x.read(np.array([5, 0, 7]))) == [5, 0, 7]
    assert x.read(np.array([], dtype="int64")).shape == (0, 4, 5, 3)
    sub = x.subset(np.array([6, 2, 4]))
    assert len(sub) == 3
    assert red(read_all(sub)) == [6, 2, 4]
    assert red(sub.read(np.array([2, 0]))) == [4, 6]
    assert red(sub.subset(np.array([1])).read(np.array([0]))) == [2]
    assert "8 image files" in x.describe() and str(root) in x.describe()


def test_image_dir_split_take_and_holdout_stay_lazy(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [0, 1, 2, 3], "b": [4, 5, 6, 7]})
    splits = image_dir(root)
    taken = splits.train.take(np.array([7, 1, 4]))
    assert isinstance(taken, Split)
    assert taken.lazy
    np.testing.assert_array_equal(taken.y, [1, 0, 1])
    assert red(read_all(taken.x)) == [7, 1, 4]
    keep, out = holdout(splits.train, 0.25, seed=0, stratify=True)
    assert keep.lazy and out.lazy
    for part in (keep, out):
        values = red(read_all(part.x))
        np.testing.assert_array_equal(part.y, [v // 4 for v in values])
    assert sorted(red(read_all(keep.x)) + red(read_all(out.x))) == list(range(8))


def test_image_dir_iter_batches(tmp_path):
    root = image_tree(tmp_path / "d", {"a": [0, 1, 2], "b": [3, 4]})
    batches = list(iter_batches(image_dir(root).train.x, 2))
    assert [len(b) for b in batches] == [2, 2, 1]
    assert red(np.concatenate(batches)) == [0, 1, 2, 3, 4]


def test_image_dir_loader_decodes_nothing(tmp_path, monkeypatch):
    root = image_tree(tmp_path / "d", {"a": [1, 2], "b": [3]})
    calls: list[str] = []
    import declml.data.images as images_module

    real = images_module._decode
    monkeypatch.setattr(images_module, "_decode",
                        lambda path, *a, **k: calls.append(path.name) or real(path, *a, **k))
    splits = image_dir(root)
    assert calls == []
    splits.train.x.read(np.array([2]))
    assert calls == ["0.png"]


# --- read_images (also used by predict) ---------------------------------------------------


def test_read_images_keeps_order_and_resizes(tmp_path):
    paths = [write_image(tmp_path / f"{v}.png", v, size=(5, 5)) for v in (9, 3, 6)]
    images = read_images(paths, (2, 3), "rgb")
    assert images.shape == (3, 2, 3, 3)
    assert red(images) == [9, 3, 6]
    assert read_images(paths[:1], None, "grayscale").shape == (1, 5, 5, 1)


def test_read_images_without_size_needs_one_size(tmp_path):
    a = write_image(tmp_path / "a.png", 1, size=(5, 5))
    b = write_image(tmp_path / "b.png", 1, size=(5, 6))
    with pytest.raises(DataError) as info:
        read_images([a, b], None, "rgb")
    assert str(b) in str(info.value) and "image_size" in str(info.value)


def test_read_images_unknown_color_mode(tmp_path):
    with pytest.raises(DataError, match="unknown color_mode 'cmyk'"):
        read_images([write_image(tmp_path / "a.png", 1)], None, "cmyk")


# --- text_dir -----------------------------------------------------------------------------


def test_text_dir_class_per_folder(tmp_path):
    root = text_tree(tmp_path / "reviews", {"pos": ["great film", "loved it ✓"],
                                            "neg": ["dull", ""]})
    (root / "pos" / "cover.jpg").write_bytes(b"ignored")
    splits = text_dir(root)
    assert splits.class_names == ["neg", "pos"]
    assert splits.task == "classification"
    assert splits.source == str(root)
    assert splits.train.x.dtype == object
    assert list(splits.train.x) == ["dull", "", "great film", "loved it ✓"]
    np.testing.assert_array_equal(splits.train.y, [0, 0, 1, 1])
    assert splits.train.y.dtype == np.int64
    assert splits.info["empty_files"] == 1


def test_text_dir_aclimdb_layout_with_classes(tmp_path):
    root = tmp_path / "aclImdb"
    text_tree(root / "train", {"pos": ["good"], "neg": ["bad", "awful"], "unsup": ["?"]})
    text_tree(root / "test", {"pos": ["fine"], "neg": ["meh"]})
    (root / "imdb.vocab").write_text("good\nbad\n")
    splits = text_dir(root, classes=["neg", "pos"])
    assert splits.class_names == ["neg", "pos"]
    assert list(splits.train.x) == ["bad", "awful", "good"]
    np.testing.assert_array_equal(splits.train.y, [0, 0, 1])
    assert splits.test is not None
    assert list(splits.test.x) == ["meh", "fine"]
    np.testing.assert_array_equal(splits.test.y, [0, 1])


def test_text_dir_strips_utf8_bom_and_keeps_newlines(tmp_path):
    root = tmp_path / "d"
    (root / "a").mkdir(parents=True)
    (root / "a" / "1.txt").write_bytes("\ufeffline one\nline two\n".encode())
    assert list(text_dir(root).train.x) == ["line one\nline two\n"]


def test_text_dir_bad_encoding_names_the_file(tmp_path):
    root = text_tree(tmp_path / "d", {"a": ["fine"]})
    bad = root / "a" / "latin.txt"
    bad.write_bytes("first line\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(DataError) as info:
        text_dir(root)
    message = str(info.value)
    assert str(bad) in message
    assert "line 2" in message
    assert "utf-8" in message and "data.encoding" in message
    assert list(text_dir(root, encoding="latin-1").train.x) == ["fine", "first line\ncafé\n"]


def test_text_dir_unknown_test_class_and_empty_class(tmp_path):
    text_tree(tmp_path / "d" / "train", {"a": ["x"]})
    text_tree(tmp_path / "d" / "test", {"b": ["y"]})
    with pytest.raises(DataError, match="the test split has class 'b'"):
        text_dir(tmp_path / "d")
    (tmp_path / "e" / "a").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no txt files"):
        text_dir(tmp_path / "e")


def test_text_dir_unknown_encoding_option():
    with pytest.raises(ValueError, match="unknown text encoding 'utf-9'"):
        TextDirOptions(path=".", encoding="utf-9")


# --- idx ----------------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray) -> Path:
    assert array.dtype == np.uint8
    path.write_bytes(bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I",
                                                                    *array.shape)
                     + array.tobytes())
    return path


def idx_files(tmp_path: Path, n: int, prefix: str = "train", n_labels: int | None = None
              ) -> tuple[np.ndarray, np.ndarray, Path, Path]:
    x = np.random.default_rng(n).integers(0, 256, (n, 3, 2), dtype="uint8")
    y = (np.arange(n if n_labels is None else n_labels) % 3).astype("uint8")
    return (x, y, write_idx(tmp_path / f"{prefix}-images", x),
            write_idx(tmp_path / f"{prefix}-labels", y))


def test_idx_train_only(tmp_path):
    x, y, images, labels = idx_files(tmp_path, 6)
    splits = load_idx(IdxOptions(images=str(images), labels=str(labels)))
    np.testing.assert_array_equal(splits.train.x, x)
    np.testing.assert_array_equal(splits.train.y, y)
    assert splits.train.y.dtype == np.int64
    assert splits.test is None
    assert splits.source == str(images)
    assert splits.class_names is None


def test_idx_with_test_files(tmp_path):
    _, _, images, labels = idx_files(tmp_path, 6)
    tx, ty, test_images, test_labels = idx_files(tmp_path, 4, prefix="test")
    splits = load_idx(IdxOptions(images=str(images), labels=str(labels),
                                 test_images=str(test_images), test_labels=str(test_labels)))
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.x, tx)
    np.testing.assert_array_equal(splits.test.y, ty)


def test_idx_length_mismatch_names_both_files(tmp_path):
    _, _, images, labels = idx_files(tmp_path, 6, n_labels=5)
    with pytest.raises(DataError) as info:
        load_idx(IdxOptions(images=str(images), labels=str(labels)))
    message = str(info.value)
    assert str(images) in message and str(labels) in message
    assert "6 examples" in message and "5 labels" in message


def test_idx_swapped_files_and_missing_file(tmp_path):
    _, _, images, labels = idx_files(tmp_path, 6)
    with pytest.raises(DataError, match="expected one label per example"):
        load_idx(IdxOptions(images=str(labels), labels=str(images)))
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match="does not exist"):
        load_idx(IdxOptions(images=str(images), labels=str(missing)))


def test_idx_half_a_test_split_is_refused(tmp_path):
    with pytest.raises(ValueError, match="test_images is set but test_labels is not"):
        IdxOptions(images="a", labels="b", test_images="c")


# --- options through the spec ---------------------------------------------------------------


def spec_with_data(tiny_spec_text: str, data: str) -> str:
    return tiny_spec_text.replace("  dataset: digits\n", data)


@pytest.mark.parametrize("data, expected", [
    ("  dataset: image_dir\n  path: imgs\n  image_size: [32, 48]\n  color_mode: grayscale\n"
     "  classes: [cat, dog]\n",
     {"path": "imgs", "image_size": [32, 48], "color_mode": "grayscale",
      "classes": ["cat", "dog"]}),
    ("  dataset: text_dir\n  path: aclImdb\n  classes: [neg, pos]\n  encoding: latin-1\n",
     {"path": "aclImdb", "classes": ["neg", "pos"], "encoding": "latin-1"}),
    ("  dataset: idx\n  images: a\n  labels: b\n", {"images": "a", "labels": "b"}),
])
def test_options_validate_in_a_spec(write_spec, registry, tiny_spec_text, data, expected):
    spec = load_spec(write_spec(spec_with_data(tiny_spec_text, data)), registry=registry)
    assert spec.data.options == expected


BAD_OPTIONS = [
    ("  dataset: image_dir\n  path: imgs\n  image_sise: [3, 3]\n", "data.image_sise",
     "unknown key 'image_sise' for dataset 'image_dir'; did you mean 'image_size'"),
    ("  dataset: image_dir\n  path: imgs\n  color_mode: rbg\n", "data.color_mode", "'rgb'"),
    ("  dataset: image_dir\n  path: imgs\n  image_size: [3]\n", "data.image_size",
     "at least 2"),
    ("  dataset: image_dir\n  path: imgs\n  image_size: [3, 0]\n", "data.image_size[1]",
     "greater than 0"),
    ("  dataset: image_dir\n  path: imgs\n  classes: [a, a]\n", "data.classes",
     "repeated: a"),
    ("  dataset: image_dir\n", "data.path", "required"),
    ("  dataset: text_dir\n  path: t\n  encodng: utf-8\n", "data.encodng",
     "did you mean 'encoding'"),
    ("  dataset: text_dir\n  path: t\n  encoding: utf-9\n", "data.encoding",
     "unknown text encoding 'utf-9'"),
    ("  dataset: idx\n  images: a\n", "data.labels", "required"),
    ("  dataset: idx\n  images: a\n  labels: b\n  test_image: c\n", "data.test_image",
     "did you mean 'test_images'"),
    ("  dataset: idx\n  images: a\n  labels: b\n  test_labels: c\n", "data",
     "test_labels is set but test_images is not"),
]


@pytest.mark.parametrize("data, path, fragment", BAD_OPTIONS,
                         ids=[f"{b[1]}:{b[2][:20]}" for b in BAD_OPTIONS])
def test_bad_options_in_a_spec(write_spec, registry, tiny_spec_text, data, path, fragment):
    with pytest.raises(SpecError) as info:
        load_spec(write_spec(spec_with_data(tiny_spec_text, data)), registry=registry)
    matching = [i for i in info.value.issues if i.path == path and fragment in i.message]
    assert matching, "\n".join(f"{i.path}: {i.message}" for i in info.value.issues)


def test_datasets_are_registered_with_descriptions(registry):
    for name, model in (("image_dir", ImageDirOptions), ("text_dir", TextDirOptions),
                        ("idx", IdxOptions)):
        component = registry.get("dataset", name)
        assert component.options is model
        assert component.description == model.__doc__.strip().splitlines()[0]
