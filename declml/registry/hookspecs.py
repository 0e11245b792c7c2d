"""Every hook a declml plugin can implement, grouped by when it runs.

A plugin is a module (or object) with functions marked ``@declml.hookimpl``
whose names match the specifications below. Built-in components are provided
by plugins in :mod:`declml.builtins` through exactly these hooks.

Register hooks run once per process, when the registry is first needed. They
receive a :class:`~declml.registry.registry.Registrar` bound to one component
kind and to the calling plugin, and call ``register.add(name, target, ...)``.
``target`` is the component itself or a ``"module:attribute"`` string; strings
are imported only when a model is built, so registering stays cheap and
``declml validate`` never imports heavy code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from declml.registry.registry import Registrar

PROJECT = "declml"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration: called once, when the registry is built ----------------------------------


@hookspec
def declml_register_layers(register: Registrar) -> None:
    """Register layer classes usable as ``type:`` in ``model.layers``.

    The target is called with the spec's keyword arguments and must return a
    ``keras.layers.Layer``. Pass ``params`` (argument name → ``{"required": bool,
    "default": ...}``) so unknown or missing arguments are reported at validate
    time; leave it ``None`` to accept any keyword.
    """


@hookspec
def declml_register_losses(register: Registrar) -> None:
    """Register losses usable in ``compile.loss``.

    With no arguments in the spec, a name that Keras itself resolves is passed
    to ``Model.compile`` unchanged (``keras_name``); otherwise the target is
    called with the arguments and must return a loss object or function.
    """


@hookspec
def declml_register_metrics(register: Registrar) -> None:
    """Register metrics usable in ``compile.metrics`` (same rules as losses)."""


@hookspec
def declml_register_optimizers(register: Registrar) -> None:
    """Register optimizers usable in ``compile.optimizer`` (same rules as losses)."""


@hookspec
def declml_register_activations(register: Registrar) -> None:
    """Register activation names accepted in layers' ``activation`` arguments."""


@hookspec
def declml_register_datasets(register: Registrar) -> None:
    """Register datasets usable as ``data.dataset``.

    Pass ``options`` (a Pydantic model of the dataset's own keys under
    ``data:``, such as ``path``). The target is called with the validated
    options instance and returns a :class:`declml.data.splits.Splits`.
    """
