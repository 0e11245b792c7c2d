"""Give ``PretrainedEmbedding`` layers their word vectors, once the vocabulary exists."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from declml.builder.pretrained import VECTORS_ATTRIBUTE
from declml.data.pipeline import Prepared
from declml.errors import DataError

__all__ = ["check_text_model", "load_pretrained"]


def check_text_model(model: Any, data: Prepared) -> None:
    """A text model's input length and embedding rows must fit the vectorizer.

    JAX does not fail on an index past an Embedding's last row (it clamps), so
    a too-small ``input_dim`` would train silently on wrong rows: refuse it.
    """
    preprocessor = data.pipeline.preprocessor if data.pipeline is not None else None
    vectorizer = preprocessor.vectorizer if preprocessor is not None else None
    if vectorizer is None or vectorizer.vocabulary is None:
        return
    want = tuple(model.input_shape[1:])
    if want not in ((vectorizer.length,), (None,)):
        raise DataError(
            f"model.input_shape is {list(want)} but data.preprocessing.text.length is "
            f"{vectorizer.length}: texts become sequences of {vectorizer.length} word indices; "
            f"set model.input_shape: [{vectorizer.length}]")
    size = len(vectorizer.vocabulary)
    for layer in _all_layers(model):
        rows = getattr(layer, "input_dim", None)
        if type(layer).__name__ == "Embedding" and isinstance(rows, int) and rows < size:
            raise DataError(
                f"layer {layer.name!r}: Embedding input_dim is {rows}, but the vocabulary has "
                f"{size} entries (data.preprocessing.text.max_tokens is "
                f"{vectorizer.max_tokens}); set input_dim to at least {size}, or lower "
                "max_tokens")


def load_pretrained(model: Any, data: Prepared, seed: int,
                    log: Callable[[str], None]) -> list[dict[str, Any]]:
    """Align each marked layer's vectors file to the text vocabulary and set its weights.

    Returns one coverage record per layer (for ``run.json``) and logs a report
    of how many vocabulary words had a vector.

    Raises:
        DataError: a PretrainedEmbedding without text preprocessing, or a vectors
            file that does not fit the layer.
    """
    layers = [layer for layer in _all_layers(model) if hasattr(layer, VECTORS_ATTRIBUTE)]
    if not layers:
        return []
    preprocessor = data.pipeline.preprocessor if data.pipeline is not None else None
    vectorizer = preprocessor.vectorizer if preprocessor is not None else None
    if vectorizer is None or vectorizer.vocabulary is None:
        raise DataError("PretrainedEmbedding aligns word vectors to the text vocabulary, but "
                        "the spec has no data.preprocessing.text; add it")
    from declml.data.embeddings import load_vectors

    records = []
    for layer in layers:
        rows, dim = int(layer.input_dim), int(layer.output_dim)
        vectors = load_vectors(getattr(layer, VECTORS_ATTRIBUTE), vectorizer.vocabulary,
                               rows=rows, dim=dim, seed=seed)
        layer.set_weights([vectors.matrix])
        state = "trainable" if layer.trainable else "frozen"
        log(f"pretrained embedding {layer.name} ({state}): {vectors.report()}")
        records.append({"layer": layer.name, "trainable": bool(layer.trainable),
                        **vectors.record()})
    return records


def _all_layers(model: Any) -> list[Any]:
    found = []
    for layer in model.layers:
        found.append(layer)
        if hasattr(layer, "layers"):
            found.extend(_all_layers(layer))
    return found
