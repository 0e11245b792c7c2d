"""keras.datasets and scikit-learn datasets (declml.data.library*): local copies written
here, downloads replaced by fakes; nothing touches the network."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from declml.builtins.library_datasets import (
    BostonHousingOptions,
    CaliforniaHousingOptions,
    Cifar10Options,
    Cifar100Options,
    DiabetesOptions,
    FashionMnistOptions,
    ImdbOptions,
    MnistOptions,
    ReutersOptions,
)
from declml.data import library, library_images
from declml.data.library import pad_sequences
from declml.errors import DataError, SpecError
from declml.spec.api import load_spec, spec_from_data
from declml.spec.loader import load_text

KERAS_NAMES = ["mnist", "fashion_mnist", "cifar10", "cifar100", "imdb", "reuters",
               "boston_housing", "california_housing"]
SKLEARN_NAMES = ["iris", "wine", "breast_cancer", "diabetes"]


@pytest.fixture
def no_unpickling(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("a loader unpickled data")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)


@pytest.fixture
def keras_datasets():
    from declml.backend import import_keras

    return import_keras().datasets


def fake(result=None, error: Exception | None = None, calls: list | None = None):
    def load_data(**kwargs):
        if calls is not None:
            calls.append(kwargs)
        if error is not None:
            raise error
        return result
    return load_data


# --- registration and option validation ---------------------------------------------------


def test_every_dataset_is_registered(registry):
    for name in [*KERAS_NAMES, *SKLEARN_NAMES]:
        component = registry.get("dataset", name)
        assert component.kind == "dataset"
        assert component.spec_model is not None
        assert component.description  # the option model's docstring
        for field in component.spec_model.model_fields.values():
            assert field.description


def test_mnist_is_registered_here(registry):
    assert registry.get("dataset", "mnist").target == "declml.data.library:load_mnist"


@pytest.fixture
def data_section(registry, tiny_spec_text):
    """Validate a spec whose data section is the given keys; return spec.data."""

    def validate(**section):
        spec = load_text(tiny_spec_text).data
        spec["data"] = {**section, "preprocessing": {}}
        return spec_from_data(spec, registry).data

    return validate


def test_options_validate_through_the_spec(data_section):
    data = data_section(dataset="cifar100", label_mode="coarse", path="/x")
    assert data.options == {"label_mode": "coarse", "path": "/x"}
    assert data_section(dataset="imdb", num_words=5000, length=64).options == {
        "num_words": 5000, "length": 64}
    assert data_section(dataset="california_housing", version="small").options == {
        "version": "small"}
    assert data_section(dataset="iris").options == {}


@pytest.mark.parametrize(
    ("section", "path", "fragment"),
    [
        ({"dataset": "cifar100", "label_mode": "medium"}, "data.label_mode", "fine"),
        ({"dataset": "imdb", "length": 0}, "data.length", "greater than or equal to 1"),
        ({"dataset": "reuters", "num_words": -5}, "data.num_words", "greater than"),
        ({"dataset": "california_housing", "version": "huge"}, "data.version", "small"),
        ({"dataset": "iris", "path": "/x"}, "data.path", "unknown key"),
        ({"dataset": "imdb", "lenght": 10}, "data.lenght", "did you mean 'length'"),
        ({"dataset": "diabetes", "scaled": "maybe"}, "data.scaled", "bool"),
    ],
)
def test_bad_options_are_spec_errors(data_section, section, path, fragment):
    with pytest.raises(SpecError) as info:
        data_section(**section)
    messages = {i.path: i.message for i in info.value.issues}
    assert path in messages, messages
    assert fragment in messages[path]


def test_spec_file_with_library_dataset(write_spec, registry, tiny_spec_text):
    text = tiny_spec_text.replace("dataset: digits", "dataset: fashion_mnist\n  path: ./fm.npz")
    spec = load_spec(write_spec(text), registry=registry)
    assert spec.data.dataset == "fashion_mnist"
    assert spec.data.options == {"path": "./fm.npz"}


# --- MNIST and Fashion-MNIST --------------------------------------------------------------


def idx_bytes(array: np.ndarray) -> bytes:
    return (bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.tobytes())


def test_mnist_npz_gets_class_names_and_int64_labels(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, x_train=np.zeros((4, 28, 28), "uint8"), y_train=np.array([0, 9, 3, 1], "uint8"),
             x_test=np.zeros((2, 28, 28), "uint8"), y_test=np.array([5, 5], "uint8"))
    splits = library.load_mnist(MnistOptions(path=str(path)))
    assert splits.class_names == [str(d) for d in range(10)]
    assert splits.task == "classification"
    assert splits.train.y.dtype == np.int64
    assert splits.test is not None and splits.test.y.tolist() == [5, 5]


def test_mnist_download_failure_keeps_its_message(monkeypatch, keras_datasets):
    monkeypatch.setattr(keras_datasets.mnist, "load_data", fake(error=OSError("offline")))
    with pytest.raises(DataError, match=r"could not download MNIST \(OSError: offline\).*"
                                        r"data\.path"):
        library.load_mnist(MnistOptions())


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_fashion_mnist_idx_dir(tmp_path, suffix):
    directory = tmp_path / "fashion"
    directory.mkdir()
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28), dtype="uint8"),
              "train-labels-idx1-ubyte": np.array([0, 1, 2, 7, 8, 9], "uint8"),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28), dtype="uint8"),
              "t10k-labels-idx1-ubyte": np.array([9, 0, 4], "uint8")}
    for name, array in arrays.items():
        payload = idx_bytes(array)
        (directory / f"{name}{suffix}").write_bytes(gzip.compress(payload) if suffix
                                                    else payload)
    splits = library.load_fashion_mnist(FashionMnistOptions(path=str(directory)))
    np.testing.assert_array_equal(splits.train.x, arrays["train-images-idx3-ubyte"])
    assert splits.train.y.dtype == np.int64
    assert splits.test is not None and splits.test.y.tolist() == [9, 0, 4]
    assert splits.class_names is not None
    assert splits.class_names[0] == "T-shirt/top" and splits.class_names[9] == "Ankle boot"
    assert len(splits.class_names) == 10


def test_fashion_mnist_npz_with_a_label_out_of_range(tmp_path):
    path = tmp_path / "f.npz"
    np.savez(path, x_train=np.zeros((2, 28, 28), "uint8"), y_train=np.array([3, 10]))
    with pytest.raises(DataError) as info:
        library.load_fashion_mnist(FashionMnistOptions(path=str(path)))
    assert str(path) in str(info.value)
    assert "label 10 is outside 0..9" in str(info.value)


def test_fashion_mnist_download(monkeypatch, keras_datasets):
    x, y = np.zeros((3, 28, 28), "uint8"), np.array([1, 2, 3], "uint8")
    monkeypatch.setattr(keras_datasets.fashion_mnist, "load_data", fake(((x, y), (x, y))))
    splits = library.load_fashion_mnist(FashionMnistOptions())
    assert splits.source == "keras.datasets.fashion_mnist"
    assert splits.train.y.dtype == np.int64 and splits.test is not None


# --- CIFAR ---------------------------------------------------------------------------------


def cifar_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype="uint8")


def cifar_records(images: np.ndarray, *label_columns: np.ndarray) -> bytes:
    """The official binary layout: label byte(s), then the R, G and B planes."""
    chw = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    labels = np.stack(label_columns, axis=1).astype("uint8")
    return np.concatenate([labels, chw], axis=1).tobytes()


def cifar10_dir(directory: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    directory.mkdir(parents=True)
    x_train, y_train = cifar_images(10, 1), np.arange(10) % 10
    for i in range(5):
        part = slice(2 * i, 2 * i + 2)
        (directory / f"data_batch_{i + 1}.bin").write_bytes(
            cifar_records(x_train[part], y_train[part]))
    x_test, y_test = cifar_images(3, 2), np.array([9, 0, 4])
    (directory / "test_batch.bin").write_bytes(cifar_records(x_test, y_test))
    (directory / "batches.meta.txt").write_text("airplane\n")
    return x_train, y_train, x_test, y_test


def test_cifar_records_are_hwc():
    image = np.zeros((1, 32, 32, 3), "uint8")
    image[0, 1, 2] = (10, 20, 30)  # one pixel: red 10, green 20, blue 30
    labels, images = library_images.read_cifar_records(cifar_records(image, np.array([7])),
                                                       1, "x")
    assert labels.tolist() == [[7]]
    assert images.shape == (1, 32, 32, 3) and images.dtype == np.uint8
    assert images[0, 1, 2].tolist() == [10, 20, 30]
    assert int(images.sum()) == 60


@pytest.mark.parametrize("parent", [False, True], ids=["batches-dir", "parent-dir"])
def test_cifar10_binary_dir(tmp_path, parent):
    x_train, y_train, x_test, y_test = cifar10_dir(tmp_path / "cifar-10-batches-bin")
    given = tmp_path if parent else tmp_path / "cifar-10-batches-bin"
    splits = library_images.load_cifar10(Cifar10Options(path=str(given)))
    np.testing.assert_array_equal(splits.train.x, x_train)
    assert splits.train.y.tolist() == y_train.tolist()
    assert splits.train.y.dtype == np.int64
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.x, x_test)
    assert splits.test.y.tolist() == y_test.tolist()
    assert splits.class_names is not None and splits.class_names[0] == "airplane"
    assert splits.task == "classification"


def test_cifar10_binary_tar_gz(tmp_path):
    x_train, _, x_test, _ = cifar10_dir(tmp_path / "src" / "cifar-10-batches-bin")
    archive = tmp_path / "cifar-10-binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-bin", arcname="cifar-10-batches-bin")
    splits = library_images.load_cifar10(Cifar10Options(path=str(archive)))
    np.testing.assert_array_equal(splits.train.x, x_train)
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.x, x_test)


def test_cifar10_missing_batch_is_named(tmp_path):
    directory = tmp_path / "bin"
    cifar10_dir(directory)
    (directory / "data_batch_3.bin").unlink()
    with pytest.raises(DataError, match=r"data_batch_3\.bin missing"):
        library_images.load_cifar10(Cifar10Options(path=str(directory)))


def test_cifar10_truncated_file_is_named(tmp_path):
    directory = tmp_path / "bin"
    cifar10_dir(directory)
    bad = directory / "test_batch.bin"
    bad.write_bytes(bad.read_bytes()[:-5])
    with pytest.raises(DataError) as info:
        library_images.load_cifar10(Cifar10Options(path=str(directory)))
    assert str(bad) in str(info.value)
    assert "3073-byte records" in str(info.value)


def test_cifar10_python_version_is_refused(tmp_path, no_unpickling):
    directory = tmp_path / "cifar-10-batches-py"
    directory.mkdir()
    for name in ("data_batch_1", "test_batch", "batches.meta"):
        (directory / name).write_bytes(b"\x80\x04not really a pickle")
    for given in (directory, tmp_path):
        with pytest.raises(DataError) as info:
            library_images.load_cifar10(Cifar10Options(path=str(given)))
        message = str(info.value)
        assert "python version" in message
        assert "never unpickles" in message
        assert "binary version" in message and ".npz" in message


def test_cifar100_python_archive_is_refused(tmp_path, no_unpickling):
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train", "test", "meta"):
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    with pytest.raises(DataError, match="never unpickles"):
        library_images.load_cifar100(Cifar100Options(path=str(archive)))


def test_cifar_empty_dir(tmp_path):
    with pytest.raises(DataError, match="no CIFAR-10 binary files found"):
        library_images.load_cifar10(Cifar10Options(path=str(tmp_path)))


@pytest.mark.parametrize("mode", ["fine", "coarse"])
def test_cifar100_binary_dir_label_modes(tmp_path, mode):
    directory = tmp_path / "cifar-100-binary"
    directory.mkdir()
    x_train, coarse, fine = cifar_images(4, 3), np.array([4, 1, 19, 0]), np.array([0, 1, 99, 50])
    (directory / "train.bin").write_bytes(cifar_records(x_train, coarse, fine))
    x_test = cifar_images(2, 4)
    (directory / "test.bin").write_bytes(cifar_records(x_test, np.array([18, 7]),
                                                       np.array([98, 7])))
    splits = library_images.load_cifar100(Cifar100Options(path=str(tmp_path), label_mode=mode))
    np.testing.assert_array_equal(splits.train.x, x_train)
    assert splits.test is not None
    np.testing.assert_array_equal(splits.test.x, x_test)
    expected = fine if mode == "fine" else coarse
    assert splits.train.y.tolist() == expected.tolist()
    assert splits.test.y.tolist() == ([98, 7] if mode == "fine" else [18, 7])
    assert splits.class_names is not None
    assert len(splits.class_names) == (100 if mode == "fine" else 20)
    assert splits.info["label_mode"] == mode


def test_cifar100_class_names_are_the_official_order():
    fine, coarse = library_images.CIFAR100_FINE_CLASSES, library_images.CIFAR100_COARSE_CLASSES
    assert len(set(fine)) == 100 and fine == sorted(fine)
    assert len(set(coarse)) == 20 and coarse == sorted(coarse)
    assert fine[:2] == ["apple", "aquarium_fish"] and fine[-1] == "worm"


def test_cifar10_npz_flattens_column_labels(tmp_path):
    path = tmp_path / "c.npz"
    x = cifar_images(3, 5)
    np.savez(path, x_train=x, y_train=np.array([[1], [2], [3]], "uint8"),
             x_test=x[:1], y_test=np.array([[9]]))
    splits = library_images.load_cifar10(Cifar10Options(path=str(path)))
    assert splits.train.y.shape == (3,) and splits.train.y.dtype == np.int64
    np.testing.assert_array_equal(splits.train.x, x)
    assert splits.test is not None and splits.test.y.tolist() == [9]


def test_cifar100_npz_channels_first_is_turned(tmp_path):
    path = tmp_path / "c.npz"
    x = cifar_images(2, 6)
    np.savez(path, x_train=x.transpose(0, 3, 1, 2), y_train=np.array([0, 99]))
    splits = library_images.load_cifar100(Cifar100Options(path=str(path)))
    np.testing.assert_array_equal(splits.train.x, x)
    assert splits.test is None
    assert "converted" in splits.info


def test_cifar10_npz_with_wrong_keys(tmp_path):
    path = tmp_path / "c.npz"
    np.savez(path, images=cifar_images(1, 0))
    with pytest.raises(DataError, match=r"expected arrays x_train and y_train.*has images"):
        library_images.load_cifar10(Cifar10Options(path=str(path)))


@pytest.mark.parametrize(("name", "loader", "options", "kwargs"), [
    ("cifar10", library_images.load_cifar10, Cifar10Options(), {}),
    ("cifar100", library_images.load_cifar100, Cifar100Options(label_mode="coarse"),
     {"label_mode": "coarse"}),
])
def test_cifar_download(monkeypatch, keras_datasets, name, loader, options, kwargs):
    x, y = cifar_images(2, 0), np.array([[1], [0]], "uint8")
    calls: list = []
    monkeypatch.setattr(getattr(keras_datasets, name), "load_data",
                        fake(((x, y), (x, y)), calls=calls))
    splits = loader(options)
    assert calls == [kwargs]
    assert splits.train.y.tolist() == [1, 0] and splits.source == f"keras.datasets.{name}"


# --- IMDB and Reuters ---------------------------------------------------------------------


def test_pad_sequences_pre():
    padded = pad_sequences([[1, 2, 3, 4, 5], [6, 7], []], 3)
    assert padded.dtype == np.int32
    assert padded.tolist() == [[3, 4, 5], [0, 6, 7], [0, 0, 0]]


def test_imdb_download_pads_at_the_start(monkeypatch, keras_datasets):
    x_train = np.empty(3, dtype=object)
    x_train[:] = [[1, 14, 22, 16, 43], [1, 5], [1, 2, 3]]
    x_test = np.empty(1, dtype=object)
    x_test[:] = [[1, 9, 9, 9, 9, 9, 7]]
    calls: list = []
    monkeypatch.setattr(keras_datasets.imdb, "load_data",
                        fake(((x_train, np.array([0, 1, 1])), (x_test, np.array([1]))),
                             calls=calls))
    splits = library.load_imdb(ImdbOptions(length=4, num_words=1000))
    assert calls == [{"num_words": 1000}]
    assert splits.train.x.dtype == np.int32
    assert splits.train.x.tolist() == [[14, 22, 16, 43], [0, 0, 1, 5], [0, 1, 2, 3]]
    assert splits.test is not None and splits.test.x.tolist() == [[9, 9, 9, 7]]
    assert splits.train.y.dtype == np.int64
    assert splits.class_names == ["negative", "positive"]
    assert splits.info["length"] == 4


@pytest.mark.parametrize("name", ["imdb", "reuters", "cifar10", "boston_housing"])
def test_download_failure_says_to_set_path(monkeypatch, keras_datasets, name):
    monkeypatch.setattr(getattr(keras_datasets, name), "load_data",
                        fake(error=OSError("network is unreachable")))
    options = {"imdb": ImdbOptions(), "reuters": ReutersOptions(),
               "cifar10": Cifar10Options(), "boston_housing": BostonHousingOptions()}[name]
    loader = {"imdb": library.load_imdb, "reuters": library.load_reuters,
              "cifar10": library_images.load_cifar10,
              "boston_housing": library.load_boston_housing}[name]
    with pytest.raises(DataError) as info:
        loader(options)
    message = str(info.value)
    assert message.startswith("could not download")
    assert "OSError: network is unreachable" in message
    assert "data.path" in message


def test_imdb_npz_of_int_arrays_is_fitted_to_length(tmp_path):
    path = tmp_path / "imdb.npz"
    x_train = np.array([[0, 0, 1, 5, 9], [1, 2, 3, 4, 5]], "int32")
    np.savez(path, x_train=x_train, y_train=np.array([0, 1]),
             x_test=np.array([[7, 8, 9, 10, 11]]), y_test=np.array([1]))
    splits = library.load_imdb(ImdbOptions(path=str(path), length=3))
    assert splits.train.x.tolist() == [[1, 5, 9], [3, 4, 5]]
    longer = library.load_imdb(ImdbOptions(path=str(path), length=7, num_words=10))
    assert longer.train.x.tolist() == [[0, 0, 0, 0, 1, 5, 9], [0, 0, 1, 2, 3, 4, 5]]
    assert longer.test is not None
    assert longer.test.x.tolist() == [[0, 0, 7, 8, 9, 2, 2]]  # ≥ num_words → 2 (OOV)
    assert longer.train.x.dtype == np.int32 and longer.train.y.dtype == np.int64


def test_reuters_npz_single_split(tmp_path):
    path = tmp_path / "reuters.npz"
    np.savez(path, x=np.ones((4, 100), "int64"), y=np.array([0, 3, 45, 3]))
    splits = library.load_reuters(ReutersOptions(path=str(path)))
    assert splits.train.x.shape == (4, 100)
    assert splits.test is None
    assert splits.class_names is not None and len(splits.class_names) == 46
    assert splits.class_names[3] == "earn"


@pytest.mark.parametrize(("name", "loader", "options"), [
    ("imdb", library.load_imdb, ImdbOptions), ("reuters", library.load_reuters, ReutersOptions),
])
def test_keras_download_format_is_refused(tmp_path, no_unpickling, name, loader, options):
    path = tmp_path / f"{name}.npz"
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1, 2, 3], [1, 4]]
    np.savez(path, x_train=ragged, y_train=np.array([0, 1]), x_test=ragged,
             y_test=np.array([1, 0]))  # writing object arrays pickles them
    with pytest.raises(DataError) as info:
        loader(options(path=str(path)))
    message = str(info.value)
    assert str(path) in message
    assert "never unpickles" in message
    assert "numpy.savez" in message
    assert ("text_dir" in message) == (name == "imdb")


def test_imdb_npz_with_float_inputs(tmp_path):
    path = tmp_path / "imdb.npz"
    np.savez(path, x=np.full((2, 3), 0.5), y=np.array([0, 1]))
    with pytest.raises(DataError, match="expected integer word indices"):
        library.load_imdb(ImdbOptions(path=str(path)))


def test_imdb_given_a_text_file(tmp_path):
    path = tmp_path / "imdb.txt"
    path.write_text("great movie\n")
    with pytest.raises(DataError) as info:
        library.load_imdb(ImdbOptions(path=str(path)))
    assert str(path) in str(info.value) and "not an .npz archive" in str(info.value)


# --- Boston and California housing --------------------------------------------------------


def test_boston_housing_npz_is_one_regression_split(tmp_path):
    path = tmp_path / "boston_housing.npz"
    x, y = np.arange(26.0).reshape(2, 13), np.array([24.0, 21.6])
    np.savez(path, x=x, y=y)
    splits = library.load_boston_housing(BostonHousingOptions(path=str(path)))
    assert splits.task == "regression"
    assert splits.test is None
    assert splits.train.x.dtype == np.float32 and splits.train.y.dtype == np.float32
    np.testing.assert_allclose(splits.train.y, y)
    assert splits.class_names is None


@pytest.mark.parametrize(("version", "rows"), [("large", 700), ("small", 600)])
def test_california_housing_npz_versions(tmp_path, version, rows):
    path = tmp_path / "california_housing.npz"
    np.savez(path, x=np.random.default_rng(0).normal(size=(700, 8)),
             y=np.linspace(1e5, 5e5, 700))
    splits = library.load_california_housing(
        CaliforniaHousingOptions(path=str(path), version=version))
    assert splits.train.x.shape == (rows, 8)
    assert splits.train.y.dtype == np.float32
    assert splits.info == {"version": version}


def test_housing_npz_with_text_targets(tmp_path):
    path = tmp_path / "h.npz"
    np.savez(path, x=np.zeros((2, 13)), y=np.array(["a", "b"]))
    with pytest.raises(DataError, match=r"targets are <U1.*expected a 1-D numeric array"):
        library.load_boston_housing(BostonHousingOptions(path=str(path)))


def test_california_housing_download_is_one_split(monkeypatch, keras_datasets):
    calls: list = []
    x, y = np.ones((5, 8)), np.arange(5.0)
    monkeypatch.setattr(keras_datasets.california_housing, "load_data",
                        fake(((x[:4], y[:4]), (x[4:], y[4:])), calls=calls))
    splits = library.load_california_housing(CaliforniaHousingOptions(version="small"))
    assert calls == [{"test_split": 0.0, "version": "small"}]
    assert splits.test is None and len(splits.train) == 5
    assert splits.task == "regression" and splits.source == "keras.datasets.california_housing"


# --- scikit-learn -------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "shape", "classes"), [
    ("iris", (150, 4), ["setosa", "versicolor", "virginica"]),
    ("wine", (178, 13), ["class_0", "class_1", "class_2"]),
    ("breast_cancer", (569, 30), ["malignant", "benign"]),
])
def test_sklearn_classification(name, shape, classes):
    splits = getattr(library, f"load_{name}")(None)
    assert splits.train.x.shape == shape and splits.train.x.dtype == np.float32
    assert splits.train.y.dtype == np.int64
    assert sorted(np.unique(splits.train.y)) == list(range(len(classes)))
    assert splits.class_names == classes
    assert splits.task == "classification" and splits.test is None
    assert len(splits.info["feature_names"]) == shape[1]


@pytest.mark.parametrize("scaled", [True, False])
def test_sklearn_diabetes(scaled):
    splits = library.load_diabetes(DiabetesOptions(scaled=scaled))
    assert splits.train.x.shape == (442, 10) and splits.train.x.dtype == np.float32
    assert splits.train.y.shape == (442,) and splits.train.y.dtype == np.float32
    assert splits.task == "regression" and splits.class_names is None
    assert (abs(float(splits.train.x[:, 0].mean())) < 1e-3) == scaled


def test_missing_path_is_named(tmp_path):
    path = tmp_path / "nowhere.npz"
    for loader, options in ((library.load_imdb, ImdbOptions),
                            (library_images.load_cifar100, Cifar100Options),
                            (library.load_boston_housing, BostonHousingOptions)):
        with pytest.raises(DataError, match="does not exist"):
            loader(options(path=str(path)))


def test_cifar_single_record_file_is_not_mistaken_for_an_archive(tmp_path):
    path = tmp_path / "test_batch.bin"
    path.write_bytes(bytes(3073))  # zeros: tarfile would take this for an empty archive
    with pytest.raises(DataError) as info:
        library_images.load_cifar10(Cifar10Options(path=str(path)))
    assert str(path) in str(info.value)
    assert "binary version's folder or .tar.gz" in str(info.value)
