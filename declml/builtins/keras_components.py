"""Built-in plugin: Keras layers, losses, metrics, optimizers, activations, callbacks.

Names and arguments come from the shipped catalogue (see
:mod:`declml.builtins.catalog`), so registering them does not import Keras.
"""

from __future__ import annotations

from typing import Any

from declml.builder.pretrained import PretrainedEmbeddingArgs
from declml.builtins.catalog import load_catalog
from declml.registry.hookspecs import hookimpl
from declml.registry.registry import (
    ActivationRegistrar,
    CallbackRegistrar,
    LayerRegistrar,
    LossRegistrar,
    MetricRegistrar,
    OptimizerRegistrar,
    Registrar,
)


def _add_family(register: Registrar, family: str, *, passthrough: bool) -> None:
    entries: dict[str, Any] = load_catalog()[family]
    for name, entry in entries.items():
        register.add(
            name,
            entry["target"],
            params=entry["params"],
            keras_name=name if passthrough else None,
        )


@hookimpl
def declml_register_layers(register: LayerRegistrar) -> None:
    _add_family(register, "layers", passthrough=False)
    register.layer("PretrainedEmbedding", "declml.builder.pretrained:pretrained_embedding",
                   spec_model=PretrainedEmbeddingArgs)


@hookimpl
def declml_register_losses(register: LossRegistrar) -> None:
    _add_family(register, "losses", passthrough=True)


@hookimpl
def declml_register_metrics(register: MetricRegistrar) -> None:
    _add_family(register, "metrics", passthrough=True)


@hookimpl
def declml_register_optimizers(register: OptimizerRegistrar) -> None:
    _add_family(register, "optimizers", passthrough=True)


@hookimpl
def declml_register_activations(register: ActivationRegistrar) -> None:
    _add_family(register, "activations", passthrough=True)


@hookimpl
def declml_register_callbacks(register: CallbackRegistrar) -> None:
    _add_family(register, "callbacks", passthrough=False)
