"""The declml plugin module (entry point ``example`` in the ``declml`` group).

Everything here is cheap to import: Pydantic models that describe each
component's arguments, and register hooks that name the components by
``"module:attribute"`` strings. declml validates specs and publishes
``declml schema`` from the models alone; the modules holding Keras code
(:mod:`~declml_example.layers`, :mod:`~declml_example.losses`, ...) are imported
only when a model is actually built, so ``declml validate`` never loads Keras.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from declml import hookimpl
from declml.registry.registry import (
    CommandRegistrar,
    DatasetRegistrar,
    LayerRegistrar,
    LossRegistrar,
    MetricRegistrar,
)
from declml.spec.base import StrictModel
from pydantic import Field, Strict

if TYPE_CHECKING:
    from declml.spec.sections import Spec

__all__ = ["COMPONENTS", "FocalLossArgs", "MacroF1Args", "ResidualDenseArgs", "ShapesOptions",
           "SqueezeExciteArgs"]

# Strict types: YAML's `true` must not pass for 1, nor "4" for 4.
Int = Annotated[int, Strict()]
Float = Annotated[float, Strict()]  # strict floats still accept integers (gamma: 2)
Bool = Annotated[bool, Strict()]



def _name() -> Any:
    return Field(None, description="name of the object (a layer's names its graph node)")


# -- argument models: what `declml validate` checks and `declml schema` publishes ----------


class SqueezeExciteArgs(StrictModel):
    """Squeeze-and-excitation: learns a weight per channel of a channels-last feature map."""

    ratio: Int = Field(4, ge=1, description="reduction ratio: the bottleneck has "
                                            "channels // ratio units")
    min_units: Int = Field(1, ge=1, description="smallest bottleneck size, for few channels")
    name: str | None = _name()


class ResidualDenseArgs(StrictModel):
    """x + Dense(x): a dense layer as wide as its input, added back to the input."""

    activation: str = Field("relu", description="activation of the dense branch")
    name: str | None = _name()


class FocalLossArgs(StrictModel):
    """Categorical focal loss on one-hot targets: cross-entropy that down-weights easy examples."""

    gamma: Float = Field(2.0, ge=0, description="focusing parameter; 0 gives cross-entropy")
    alpha: Annotated[float, Strict(), Field(ge=0, le=1)] | None = Field(
        None, description="constant weight of every term, in [0, 1]; null for none")
    from_logits: Bool = Field(False, description="the model outputs logits, not probabilities")
    label_smoothing: Float = Field(0.0, ge=0, lt=1, description="mix this much of a uniform "
                                                                "distribution into the targets")
    name: str | None = _name()


class MacroF1Args(StrictModel):
    """Macro-averaged F1 score over classes, from one-hot or integer targets."""

    num_classes: Int = Field(ge=2, description="number of classes the model predicts")
    name: str | None = Field(None, description="metric name in logs (default macro_f1)")


class ShapesOptions(StrictModel):
    """Synthetic images of a circle (0), a square (1) or a triangle (2); no download."""

    size: Int = Field(16, ge=12, le=64, description="images are size × size pixels")
    n_samples: Int = Field(1500, ge=30, le=100_000,
                           description="number of images (classes balanced)")
    noise: Float = Field(0.1, ge=0, le=1,
                         description="standard deviation of the Gaussian pixel noise")
    seed: Int = Field(0, ge=0, le=2**32 - 1, description="seed of the generator: the same "
                                                         "seed gives the same images")


#: What this plugin registers, by kind (also used by the model card).
COMPONENTS: dict[str, tuple[str, ...]] = {
    "layer": ("SqueezeExcite", "ResidualDense"),
    "loss": ("FocalLoss",),
    "metric": ("MacroF1",),
    "dataset": ("shapes",),
    "command": ("shapes-preview",),
}


# -- register hooks ----------------------------------------------------------------------


@hookimpl
def declml_register_layers(register: LayerRegistrar) -> None:
    register.layer("SqueezeExcite", "declml_example.layers:SqueezeExcite",
                   spec_model=SqueezeExciteArgs)
    register.layer("ResidualDense", "declml_example.layers:ResidualDense",
                   spec_model=ResidualDenseArgs)


@hookimpl
def declml_register_losses(register: LossRegistrar) -> None:
    register.loss("FocalLoss", "declml_example.losses:FocalLoss", spec_model=FocalLossArgs)


@hookimpl
def declml_register_metrics(register: MetricRegistrar) -> None:
    register.metric("MacroF1", "declml_example.metrics:MacroF1", spec_model=MacroF1Args)


@hookimpl
def declml_register_datasets(register: DatasetRegistrar) -> None:
    register.dataset("shapes", "declml_example.datasets:load_shapes", spec_model=ShapesOptions)


@hookimpl
def declml_register_commands(register: CommandRegistrar) -> None:
    register.command("shapes-preview", "declml_example.cli:preview",
                     help="Print a few images of the 'shapes' dataset as ASCII art.")


# -- lifecycle hooks ---------------------------------------------------------------------


@hookimpl
def declml_run_finished(run_dir: Path, spec: Spec, metrics: dict[str, float]) -> None:
    """Write ``model_card.md`` into the finished run directory (never over an existing one)."""
    from declml_example.card import write_model_card

    write_model_card(Path(run_dir), spec, metrics)
