"""Datasets that libraries ship: ``keras.datasets`` and scikit-learn's bundled sets.

The Keras ones download on first use (Keras caches them in ``~/.keras/datasets``)
or read a local copy given as ``path``; scikit-learn's come with it, no download.
Loaders live in :mod:`declml.data.library` and :mod:`declml.data.library_images`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from declml.registry.registry import DatasetRegistrar
from declml.spec.base import StrictModel

__all__ = [
    "BostonHousingOptions", "BreastCancerOptions", "CaliforniaHousingOptions", "Cifar10Options",
    "Cifar100Options", "DiabetesOptions", "FashionMnistOptions", "ImdbOptions", "IrisOptions",
    "MnistOptions", "ReutersOptions", "WineOptions", "register_library_datasets",
]

_CIFAR_PATH = ("local copy: an .npz (x_train, y_train, x_test, y_test; images (n, 32, 32, 3)), "
               "or the binary version ({archive}, or the {folder} folder it unpacks to); "
               "the python version is pickled and refused")


class MnistOptions(StrictModel):
    """MNIST handwritten digits 0–9, 28×28 grey (keras.datasets; downloads once)."""

    path: str | None = Field(
        None,
        description="local copy: an .npz file (x_train, y_train, x_test, y_test) or a directory "
                    "of the original IDX files, gzipped or not",
    )


class FashionMnistOptions(StrictModel):
    """Fashion-MNIST: 10 kinds of clothing, 28×28 grey (keras.datasets; downloads once)."""

    path: str | None = Field(
        None,
        description="local copy: an .npz file (x_train, y_train, x_test, y_test) or a directory "
                    "of the IDX files (named like MNIST's: train-images-idx3-ubyte[.gz], ...)",
    )


class Cifar10Options(StrictModel):
    """CIFAR-10: 32×32 colour images in 10 classes (keras.datasets; downloads once)."""

    path: str | None = Field(
        None, description=_CIFAR_PATH.format(archive="cifar-10-binary.tar.gz",
                                             folder="cifar-10-batches-bin"))


class Cifar100Options(StrictModel):
    """CIFAR-100: 32×32 colour images, 100 classes in 20 superclasses (keras.datasets)."""

    label_mode: Literal["fine", "coarse"] = Field(
        "fine", description="fine: the 100 classes; coarse: the 20 superclasses")
    path: str | None = Field(
        None, description=_CIFAR_PATH.format(archive="cifar-100-binary.tar.gz",
                                             folder="cifar-100-binary"))


_NUM_WORDS = ("keep the num_words most frequent words; rarer ones become index 2 (out of "
              "vocabulary); default: every word")
_LENGTH = ("words per text: longer texts keep their last words, shorter ones are padded with "
           "0 at the start (as keras.utils.pad_sequences does)")
_TEXT_PATH = ("local copy: an .npz of padded integer arrays x_train, y_train, x_test, y_test "
              "(x 2-D); the ragged arrays Keras downloads need unpickling and are refused")


class ImdbOptions(StrictModel):
    """IMDB movie reviews as word indices, labelled negative/positive (keras.datasets)."""

    num_words: int | None = Field(None, ge=1, description=_NUM_WORDS)
    length: int = Field(200, ge=1, description=_LENGTH)
    path: str | None = Field(None, description=_TEXT_PATH)


class ReutersOptions(StrictModel):
    """Reuters newswires as word indices, labelled with 46 topics (keras.datasets)."""

    num_words: int | None = Field(None, ge=1, description=_NUM_WORDS)
    length: int = Field(100, ge=1, description=_LENGTH)
    path: str | None = Field(None, description=_TEXT_PATH)


class BostonHousingOptions(StrictModel):
    """Boston house prices: 506 rows, 13 features, a regression (keras.datasets)."""

    path: str | None = Field(
        None, description="local copy: the boston_housing.npz Keras downloads (arrays x, y)")


class CaliforniaHousingOptions(StrictModel):
    """California house prices: 20,640 rows, 8 features, a regression (keras.datasets)."""

    version: Literal["large", "small"] = Field(
        "large", description="large: all 20,640 rows; small: the first 600")
    path: str | None = Field(
        None,
        description="local copy: the california_housing.npz Keras downloads (arrays x, y)")


class IrisOptions(StrictModel):
    """scikit-learn's iris: 150 flowers, 4 measurements, 3 species; no download."""


class WineOptions(StrictModel):
    """scikit-learn's wine: 178 wines, 13 chemical measurements, 3 cultivars; no download."""


class BreastCancerOptions(StrictModel):
    """scikit-learn's breast cancer: 569 tumours, 30 features, malignant/benign; no download."""


class DiabetesOptions(StrictModel):
    """scikit-learn's diabetes: 442 patients, 10 features, a regression; no download."""

    scaled: bool = Field(
        True, description="features centred and scaled (scikit-learn's default); false: the "
                          "original values")


_LIB = "declml.data.library"
_IMAGES = "declml.data.library_images"

_DATASETS = [
    ("mnist", f"{_LIB}:load_mnist", MnistOptions),
    ("fashion_mnist", f"{_LIB}:load_fashion_mnist", FashionMnistOptions),
    ("cifar10", f"{_IMAGES}:load_cifar10", Cifar10Options),
    ("cifar100", f"{_IMAGES}:load_cifar100", Cifar100Options),
    ("imdb", f"{_LIB}:load_imdb", ImdbOptions),
    ("reuters", f"{_LIB}:load_reuters", ReutersOptions),
    ("boston_housing", f"{_LIB}:load_boston_housing", BostonHousingOptions),
    ("california_housing", f"{_LIB}:load_california_housing", CaliforniaHousingOptions),
    ("iris", f"{_LIB}:load_iris", IrisOptions),
    ("wine", f"{_LIB}:load_wine", WineOptions),
    ("breast_cancer", f"{_LIB}:load_breast_cancer", BreastCancerOptions),
    ("diabetes", f"{_LIB}:load_diabetes", DiabetesOptions),
]


def register_library_datasets(register: DatasetRegistrar) -> None:
    """Register these datasets (called by declml.builtins.datasets)."""
    for name, loader, options in _DATASETS:
        register.dataset(name, loader, spec_model=options)
