"""Built-in plugin: data transforms usable in ``data.transforms``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from declml.registry.hookspecs import hookimpl
from declml.registry.registry import TransformRegistrar
from declml.spec.base import StrictModel


class StandardizeArgs(StrictModel):
    """Standardize inputs with the training split's mean and standard deviation."""

    per: Literal["feature", "global"] = Field(
        "feature", description="one mean/std per input value ('feature') or one overall")
    epsilon: float = Field(1e-7, gt=0, description="added to the deviation to avoid x/0")


class ClipArgs(StrictModel):
    """Limit input values to [min, max]."""

    min: float | None = Field(None, description="lower bound (none if omitted)")
    max: float | None = Field(None, description="upper bound (none if omitted)")


@hookimpl
def declml_register_transforms(register: TransformRegistrar) -> None:
    register.transform("standardize", "declml.data.transforms:Standardize",
                       spec_model=StandardizeArgs)
    register.transform("clip", "declml.data.transforms:Clip", spec_model=ClipArgs)
