"""Loaders of the datasets that libraries ship: ``keras.datasets`` and scikit-learn's.

Each Keras dataset downloads once through ``keras.datasets.<name>.load_data`` or
reads a local copy given as ``path`` (no network needed). Local copies are read
without pickle, always: the formats that need it (the Keras download of IMDB and
Reuters, the python version of CIFAR) are refused with a message that says what
to use instead. The CIFAR loaders live in :mod:`declml.data.library_images`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from declml.data.sources import _mnist_from_dir, _read_npz, _resolve, read_arrays
from declml.data.sources import load_mnist as _load_mnist
from declml.data.splits import Split, Splits
from declml.errors import DataError

__all__ = ["FASHION_MNIST_CLASSES", "IMDB_CLASSES", "MNIST_CLASSES", "REUTERS_CLASSES",
           "class_labels", "download", "load_boston_housing", "load_breast_cancer",
           "load_california_housing", "load_diabetes", "load_fashion_mnist", "load_imdb",
           "load_iris", "load_mnist", "load_reuters", "load_wine", "pad_sequences",
           "read_arrays", "split_arrays"]

MNIST_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
                         "Shirt", "Sneaker", "Bag", "Ankle boot"]
IMDB_CLASSES = ["negative", "positive"]
#: Reuters newswire topics, index = label (as keras.datasets.reuters.get_label_names()).
REUTERS_CLASSES = [
    "cocoa", "grain", "veg-oil", "earn", "acq", "wheat", "copper", "housing", "money-supply",
    "coffee", "sugar", "trade", "reserves", "ship", "cotton", "carcass", "crude", "nat-gas",
    "cpi", "money-fx", "interest", "gnp", "meal-feed", "alum", "oilseed", "gold", "tin",
    "strategic-metal", "livestock", "retail", "ipi", "iron-steel", "rubber", "heat", "jobs",
    "lei", "bop", "zinc", "orange", "pet-chem", "dlr", "gas", "silver", "wpi", "hog", "lead",
]

#: The index Keras gives words outside the ``num_words`` most frequent ones.
OOV_INDEX = 2

# --- shared helpers ----------------------------------------------------------------------


def download(name: str, title: str, local: str, **kwargs: Any) -> Any:
    """``keras.datasets.<name>.load_data(**kwargs)``, with failures as a DataError.

    ``local`` describes the local copies ``data.path`` accepts, for the message.
    """
    from declml.backend import import_keras

    keras = import_keras()
    try:
        return getattr(keras.datasets, name).load_data(**kwargs)
    except Exception as exc:  # network errors come in many types
        raise DataError(
            f"could not download {title} ({type(exc).__name__}: {exc}); without network "
            f"access, point data.path at a local copy ({local})"
        ) from None


def split_arrays(arrays: dict[str, Any], path: Path, *, single: bool = True
                 ) -> tuple[tuple[Any, Any], tuple[Any, Any] | None]:
    """``(x_train, y_train), (x_test, y_test) | None`` from an archive's arrays.

    Accepts x_train/y_train (with x_test/y_test optionally) and, when ``single``,
    a lone x/y pair (the whole dataset as one split).
    """
    if ("x_test" in arrays) != ("y_test" in arrays):
        have, lack = ("x_test", "y_test") if "x_test" in arrays else ("y_test", "x_test")
        raise DataError(f"{path}: has {have} but no {lack}; a test split needs both")
    if {"x_train", "y_train"} <= arrays.keys():
        test = (arrays["x_test"], arrays["y_test"]) if "x_test" in arrays else None
        return (arrays["x_train"], arrays["y_train"]), test
    if single and {"x", "y"} <= arrays.keys():
        return (arrays["x"], arrays["y"]), None
    wanted = "x_train and y_train (optionally x_test and y_test)" + (
        ", or x and y" if single else "")
    raise DataError(f"{path}: expected arrays {wanted}; the file has "
                    f"{', '.join(sorted(arrays)) or 'no arrays'}")


def _whole(array: np.ndarray) -> bool:
    """Whether a non-integer array holds whole numbers only (floats saved from integers)."""
    return bool(np.issubdtype(array.dtype, np.number) and np.all(np.mod(array, 1) == 0))


def class_labels(y: np.ndarray, where: str, n_classes: int | None = None) -> np.ndarray:
    """Class labels as a 1-D int64 array: ``(n, 1)`` columns are flattened.

    Raises:
        DataError: labels that are not whole numbers, or outside ``0..n_classes-1``.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise DataError(f"{where}: labels have shape {y.shape}; expected one integer class "
                        "label per example (shape (n,) or (n, 1))")
    if not np.issubdtype(y.dtype, np.integer) and not _whole(y):
        raise DataError(f"{where}: labels are {y.dtype}, not whole numbers; expected "
                            "integer class labels")
    y = y.astype("int64")
    if n_classes is not None and len(y) and (y.min() < 0 or y.max() >= n_classes):
        bad = int(y.min() if y.min() < 0 else y.max())
        raise DataError(f"{where}: label {bad} is outside 0..{n_classes - 1}; the dataset has "
                        f"{n_classes} classes, so the file holds other data")
    return y


def _classified(splits: Splits, names: list[str], **info: Any) -> Splits:
    """``splits`` with int64 labels checked against ``names``, and the names attached."""
    where = splits.source or "the dataset"
    test = splits.test
    return Splits(
        train=Split(splits.train.x, class_labels(splits.train.y, where, len(names))),
        test=None if test is None else Split(test.x, class_labels(test.y, where, len(names))),
        source=splits.source, class_names=list(names), task="classification",
        info={**splits.info, **info})


# --- MNIST and Fashion-MNIST ---------------------------------------------------------------


def load_mnist(options: Any) -> Splits:
    """MNIST: the Keras download, or a local ``.npz`` / IDX directory given as ``path``."""
    return _classified(_load_mnist(options), MNIST_CLASSES)


def load_fashion_mnist(options: Any) -> Splits:
    """Fashion-MNIST: the Keras download, or a local ``.npz`` / IDX directory (``path``).

    Its IDX files have the same names as MNIST's, so the same reader serves both.
    """
    path = getattr(options, "path", None)
    if path is None:
        (x_train, y_train), (x_test, y_test) = download(
            "fashion_mnist", "Fashion-MNIST",
            "an .npz with x_train, y_train, x_test, y_test, or a directory of the IDX files")
        splits = Splits(Split(x_train, y_train), Split(x_test, y_test),
                        source="keras.datasets.fashion_mnist")
    else:
        p = _resolve(path)
        splits = _mnist_from_dir(p) if p.is_dir() else _read_npz(p, "x", "y")
    return _classified(splits, FASHION_MNIST_CLASSES)


# --- IMDB and Reuters: word-index sequences ------------------------------------------------


def pad_sequences(sequences: Any, length: int) -> np.ndarray:
    """Ragged word-index lists → ``(n, length)`` int32, truncated and padded at the start.

    The same as ``keras.utils.pad_sequences(..., maxlen=length)`` with its defaults
    ('pre'): a long sequence keeps its last ``length`` words, a short one gets
    zeros in front.
    """
    out = np.zeros((len(sequences), length), dtype="int32")
    for i, sequence in enumerate(sequences):
        tail = np.asarray(sequence, dtype="int64").reshape(-1)[-length:]
        if tail.size:
            out[i, length - tail.size:] = tail
    return out


def _fit_width(x: np.ndarray, length: int) -> np.ndarray:
    """A 2-D matrix of sequences cut or zero-padded at the start to ``length`` columns."""
    width = x.shape[1]
    if width >= length:
        return np.ascontiguousarray(x[:, width - length:])
    return np.concatenate([np.zeros((len(x), length - width), dtype=x.dtype), x], axis=1)


def _word_indices(x: np.ndarray, where: str, length: int, num_words: int | None) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(f"{where}: inputs have shape {x.shape}; expected a 2-D integer array "
                        "of word indices, one padded row per text")
    if not np.issubdtype(x.dtype, np.integer) and not _whole(x):
        raise DataError(f"{where}: inputs are {x.dtype}; expected integer word indices")
    if x.size and x.min() < 0:
        raise DataError(f"{where}: inputs hold negative word indices ({int(x.min())}); "
                        "expected indices ≥ 0 (0 is padding)")
    x = _fit_width(x.astype("int32"), length)
    if num_words is not None:
        x = np.where(x >= num_words, OOV_INDEX, x).astype("int32")
    return x


def _load_sequences(options: Any, name: str, title: str, names: list[str] | None,
                    pickled_hint: str) -> Splits:
    length, num_words = options.length, options.num_words
    info = {"length": length, "num_words": num_words, "padding": "pre"}
    local = "an .npz of padded integer arrays x_train, y_train, x_test, y_test"
    n_classes = len(names) if names is not None else None
    path = getattr(options, "path", None)
    if path is None:
        (x_train, y_train), (x_test, y_test) = download(name, title, local,
                                                        num_words=num_words)
        source = f"keras.datasets.{name}"
        train = Split(pad_sequences(x_train, length), class_labels(y_train, source, n_classes))
        test = Split(pad_sequences(x_test, length), class_labels(y_test, source, n_classes))
        return Splits(train, test, source=source, class_names=names,
                      task="classification", info=info)
    p = _resolve(path)
    pickled = ("holds object arrays (ragged word-index lists, the format Keras downloads), "
               "which only unpickling could read, and declml never unpickles data; save "
               "padded integer arrays with numpy.savez (x_train, y_train, x_test, y_test, "
               f"each x a 2-D int array){pickled_hint}")
    arrays = read_arrays(p, pickled=pickled, expected=local)
    (x_train, y_train), test_xy = split_arrays(arrays, p)
    where = str(p)
    train = Split(_word_indices(x_train, where, length, num_words),
                  class_labels(y_train, where, n_classes))
    test = None
    if test_xy is not None:
        test = Split(_word_indices(test_xy[0], where, length, num_words),
                     class_labels(test_xy[1], where, n_classes))
    return Splits(train, test, source=where, class_names=names, task="classification",
                  info=info)


def load_imdb(options: Any) -> Splits:
    """IMDB movie reviews as word indices, padded to ``length``; labels negative/positive."""
    return _load_sequences(options, "imdb", "IMDB", IMDB_CLASSES,
                           "; for the raw reviews use the text_dir dataset on the aclImdb "
                           "train/ and test/ folders")


def load_reuters(options: Any) -> Splits:
    """Reuters newswires as word indices, padded to ``length``; 46 topics."""
    return _load_sequences(options, "reuters", "Reuters", REUTERS_CLASSES, "")


# --- Boston and California housing: regression ---------------------------------------------


def _regression(x: np.ndarray, y: np.ndarray, where: str) -> Split:
    x, y = np.asarray(x), np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    for what, array, ndim in (("inputs", x, 2), ("targets", y, 1)):
        if array.ndim != ndim or not np.issubdtype(array.dtype, np.number):
            raise DataError(f"{where}: {what} are {array.dtype} of shape {array.shape}; "
                            f"expected a {ndim}-D numeric array")
    return Split(x.astype("float32"), y.astype("float32"))


def _load_housing(options: Any, name: str, title: str, *, small: int | None = None,
                  **kwargs: Any) -> Splits:
    local = f"the {name}.npz Keras downloads, with arrays x and y"
    path = getattr(options, "path", None)
    if path is None:
        # test_split=0: the whole dataset as one split, as from a local copy; the
        # pipeline holds out data.test_split itself.
        (x_train, y_train), (x_test, y_test) = download(name, title, local, test_split=0.0,
                                                        **kwargs)
        source = f"keras.datasets.{name}"
        x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
    else:
        p = _resolve(path)
        arrays = read_arrays(p, pickled="holds object arrays, which declml never unpickles; "
                                        "save plain numeric arrays x and y with numpy.savez",
                             expected=local)
        (x, y), test = split_arrays(arrays, p)
        if test is not None:  # a user's own train/test archive: keep it as one
            x, y = np.concatenate([x, test[0]]), np.concatenate([y, test[1]])
        if small is not None:
            x, y = x[:small], y[:small]
        source = str(p)
    return Splits(_regression(x, y, source), source=source, task="regression",
                  info=dict(kwargs))


def load_boston_housing(options: Any) -> Splits:
    """Boston house prices (506 rows, 13 features; targets in k$)."""
    return _load_housing(options, "boston_housing", "Boston housing")


def load_california_housing(options: Any) -> Splits:
    """California house prices (20,640 rows, 8 features, or the first 600 with 'small')."""
    version = options.version
    return _load_housing(options, "california_housing", "California housing",
                         small=600 if version == "small" else None, version=version)


# --- scikit-learn's bundled datasets -------------------------------------------------------


def _sklearn_classification(name: str) -> Splits:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, f"load_{name}")()
    return Splits(Split(bunch.data.astype("float32"), bunch.target.astype("int64")),
                  source=f"scikit-learn {name}",
                  class_names=[str(n) for n in bunch.target_names], task="classification",
                  info={"feature_names": [str(n) for n in bunch.feature_names]})


def load_iris(options: Any = None) -> Splits:
    """Fisher's iris: 150 flowers, 4 measurements, 3 species."""
    return _sklearn_classification("iris")


def load_wine(options: Any = None) -> Splits:
    """Wine recognition: 178 wines, 13 chemical measurements, 3 cultivars."""
    return _sklearn_classification("wine")


def load_breast_cancer(options: Any = None) -> Splits:
    """Wisconsin breast cancer: 569 tumours, 30 features, malignant/benign."""
    return _sklearn_classification("breast_cancer")


def load_diabetes(options: Any = None) -> Splits:
    """Diabetes progression: 442 patients, 10 features, a number one year on."""
    from sklearn.datasets import load_diabetes as sk_load_diabetes

    scaled = getattr(options, "scaled", True)
    bunch = sk_load_diabetes(scaled=scaled)
    return Splits(Split(bunch.data.astype("float32"), bunch.target.astype("float32")),
                  source="scikit-learn diabetes", task="regression",
                  info={"feature_names": [str(n) for n in bunch.feature_names],
                        "scaled": scaled})
