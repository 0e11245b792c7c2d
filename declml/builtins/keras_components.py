"""Built-in plugin: every Keras layer, loss, metric, optimizer and activation.

Names and arguments come from the shipped catalogue (see
:mod:`declml.builtins.catalog`), so registering them does not import Keras.
"""

from __future__ import annotations

from typing import Any

from declml.builtins.catalog import load_catalog
from declml.registry.hookspecs import hookimpl
from declml.registry.registry import Registrar


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
def declml_register_layers(register: Registrar) -> None:
    _add_family(register, "layers", passthrough=False)


@hookimpl
def declml_register_losses(register: Registrar) -> None:
    _add_family(register, "losses", passthrough=True)


@hookimpl
def declml_register_metrics(register: Registrar) -> None:
    _add_family(register, "metrics", passthrough=True)


@hookimpl
def declml_register_optimizers(register: Registrar) -> None:
    _add_family(register, "optimizers", passthrough=True)


@hookimpl
def declml_register_activations(register: Registrar) -> None:
    _add_family(register, "activations", passthrough=True)
