"""``PretrainedEmbedding``: an Embedding layer whose initial weights come from word vectors.

The spec names a word-vectors text file (GloVe or word2vec text format); the
layer is a plain ``keras.layers.Embedding`` (so saved models need nothing
special to load) that remembers the file. Once the text vocabulary has been
built from the training split, :func:`declml.run.embeddings.load_pretrained`
aligns the file to it and sets the weights, frozen unless ``trainable``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from declml.spec.base import StrictModel

__all__ = ["VECTORS_ATTRIBUTE", "PretrainedEmbeddingArgs", "pretrained_embedding"]

VECTORS_ATTRIBUTE = "_declml_vectors"


class PretrainedEmbeddingArgs(StrictModel):
    """Embedding initialised from a word-vectors file, aligned to the text vocabulary."""

    vectors: str = Field(description="word-vectors text file (GloVe or word2vec text format, "
                                     "optionally .gz); relative to the current directory")
    input_dim: int = Field(gt=0, description="rows: at least the vocabulary size "
                                             "(data.preprocessing.text.max_tokens)")
    output_dim: int = Field(gt=0, description="vector size; must match the file's")
    trainable: bool = Field(False, description="fine-tune the vectors (default: frozen)")
    mask_zero: bool = Field(False, description="treat index 0 (padding) as masked")
    name: str | None = Field(None, description="layer name")


def pretrained_embedding(vectors: str, input_dim: int, output_dim: int, *,
                         trainable: bool = False, mask_zero: bool = False,
                         name: str | None = None, **kwargs: Any) -> Any:
    """A ``keras.layers.Embedding`` marked to receive the vectors in ``vectors``."""
    from declml.backend import import_keras

    keras = import_keras()
    layer = keras.layers.Embedding(input_dim, output_dim, mask_zero=mask_zero,
                                   trainable=trainable, name=name, **kwargs)
    setattr(layer, VECTORS_ATTRIBUTE, vectors)
    return layer
