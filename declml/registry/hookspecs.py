"""Every hook a declml plugin can implement, grouped by when it runs.

A plugin is a module (or object) with functions marked ``@declml.hookimpl``
whose names match the specifications below; it is published through the
``declml`` entry-point group. declml's own components are provided by plugins
in :mod:`declml.builtins` through exactly these hooks (see ``pyproject.toml``).

**Register hooks** run once per process, when the registry is first needed.
Each receives a registrar bound to one component kind and to the calling
plugin; call its kind-named method, e.g. ``register.layer(name, factory,
spec_model=Args)``. ``factory`` is the component itself or a
``"module:attribute"`` string; strings are imported only when a model is
built, so registering stays cheap and ``declml validate`` never imports
Keras. ``spec_model`` is a Pydantic model of the component's arguments:
``declml validate`` checks specs against it and ``declml schema`` publishes
it. Registrars reject invalid names and a plugin registering a name twice at
once; two plugins sharing a name make the plain name ambiguous (specs then
write ``plugin.Name``).

**Lifecycle hooks** run while declml works. Every implementation is called.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from declml.registry.registry import (
        ActivationRegistrar,
        CallbackRegistrar,
        CommandRegistrar,
        DatasetRegistrar,
        LayerRegistrar,
        LossRegistrar,
        MetricRegistrar,
        OptimizerRegistrar,
        TransformRegistrar,
    )
    from declml.spec.sections import Spec

PROJECT = "declml"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration: called once, when the registry is built ----------------------------------


@hookspec
def declml_register_layers(register: LayerRegistrar) -> None:
    """Register layers usable as ``type:`` in ``model.layers``.

    ``register.layer(name, factory, spec_model=...)``: ``factory(**args)`` must
    return a ``keras.layers.Layer``. Layer classes are registered as Keras
    serializable (package = the plugin name) unless the plugin already did so,
    so saved models that contain them load back once the plugin is installed.
    """


@hookspec
def declml_register_losses(register: LossRegistrar) -> None:
    """Register losses usable in ``compile.loss``.

    ``register.loss(name, factory, ...)``: with no arguments in the spec, a
    ``keras_name`` Keras resolves itself is passed to ``Model.compile``
    unchanged; otherwise ``factory(**args)`` must return a loss object
    (a ``keras.losses.Loss``, so that it is saved with the model).
    """


@hookspec
def declml_register_metrics(register: MetricRegistrar) -> None:
    """Register metrics usable in ``compile.metrics``: ``register.metric(...)``,
    same rules as losses; return a ``keras.metrics.Metric``."""


@hookspec
def declml_register_optimizers(register: OptimizerRegistrar) -> None:
    """Register optimizers usable in ``compile.optimizer``: ``register.optimizer(...)``,
    same rules as losses."""


@hookspec
def declml_register_activations(register: ActivationRegistrar) -> None:
    """Register activation names accepted in layers' ``activation`` arguments:
    ``register.activation(name, function)``."""


@hookspec
def declml_register_callbacks(register: CallbackRegistrar) -> None:
    """Register training callbacks usable in ``fit.callbacks``.

    ``register.callback(name, factory, spec_model=...)``: ``factory(**args)``
    must return a ``keras.callbacks.Callback``. declml adds its own callback
    (writing ``history.json`` after every epoch) after the spec's.
    """


@hookspec
def declml_register_datasets(register: DatasetRegistrar) -> None:
    """Register datasets usable as ``data.dataset``.

    ``register.dataset(name, loader, spec_model=Options)``: ``Options`` is a
    Pydantic model of the dataset's own keys under ``data:`` (such as
    ``path``). ``loader(options)`` receives the validated options instance and
    returns a :class:`declml.data.splits.Splits`.
    """


@hookspec
def declml_register_transforms(register: TransformRegistrar) -> None:
    """Register data transforms usable in ``data.transforms``.

    ``register.transform(name, factory, spec_model=...)``: ``factory(**args)``
    returns a :class:`declml.data.transforms.Transform`, which is fitted on the
    training split only, applied to every split, and saved in the run
    directory so ``declml predict`` applies it to new inputs.
    """


@hookspec
def declml_register_commands(register: CommandRegistrar) -> None:
    """Register ``declml`` subcommands: ``register.command(name, target, help=...)``.

    ``target`` is a Typer app, a command object built by Typer, or a plain
    function (wrapped by Typer), usually as a ``"module:attribute"`` string so
    that ``declml --help`` stays fast. Names of built-in commands cannot be taken.
    """


# -- lifecycle: called while declml works -------------------------------------------------


@hookspec
def declml_model_built(model: Any, spec: Spec) -> None:
    """Called after ``build_model`` built (and compiled) a model, before training.

    For work on the finished graph: initialising weights from a file, logging
    the architecture to an experiment tracker, checking a team's conventions.
    ``spec`` is the concrete spec (search values fixed). Raising stops the build
    with an error naming the plugin.
    """


@hookspec
def declml_run_finished(run_dir: Path, spec: Spec, metrics: dict[str, float]) -> None:
    """Called after ``declml train`` completed a run and saved everything in ``run_dir``.

    For exporting results: a model card, an experiment tracker upload, a
    notification. ``metrics`` are the test metrics. An exception here is
    reported as a warning and recorded in ``run.json``; the run stays complete.
    """
