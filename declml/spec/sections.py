"""The sections of a spec (version 1): data, model, compile, fit."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PositiveInt,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_serializer,
    model_validator,
)

from declml.registry.registry import did_you_mean
from declml.spec.base import StrictModel, raise_issues, spec_error
from declml.spec.components import (
    ComponentSpec,
    LayerRef,
    LossRef,
    MetricRef,
    OptimizerRef,
    registry_of,
)

__all__ = ["CURRENT_VERSION", "CompileSpec", "DataSpec", "FitSpec", "ModelSpec",
           "Preprocessing", "Spec"]

CURRENT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_FRACTION = re.compile(r"^\s*([0-9.eE+-]+)\s*/\s*([0-9.eE+-]+)\s*$")


def _number_or_fraction(value: Any) -> Any:
    """Accept ``0.5`` or the string ``"1/255"`` (parsed, never evaluated)."""
    if isinstance(value, str):
        match = _FRACTION.match(value)
        if not match:
            raise ValueError(f"expected a number or a fraction like '1/255', got {value!r}")
        num, den = float(match.group(1)), float(match.group(2))
        if den == 0:
            raise ValueError(f"division by zero in {value!r}")
        return num / den
    return value


class Preprocessing(StrictModel):
    """Array preprocessing, applied in this order: rescale, reshape, one_hot."""

    rescale: Annotated[
        float | None,
        BeforeValidator(_number_or_fraction),
        WithJsonSchema({"anyOf": [{"type": "number"}, {"type": "string",
                                  "pattern": r"^\s*[0-9.eE+-]+\s*/\s*[0-9.eE+-]+\s*$"},
                                  {"type": "null"}]}),
    ] = Field(None, description="multiply inputs by this factor, e.g. '1/255'")
    reshape: list[PositiveInt] | None = Field(
        None, description="per-example input shape, e.g. [28, 28, 1]")
    one_hot: PositiveInt | None = Field(
        None, description="one-hot encode integer targets into this many classes")


class DataSpec(StrictModel):
    """Which dataset, how to split it, how to preprocess it.

    Keys other than the ones below are the dataset's own options (``path`` for
    ``mnist``) and are validated by the model the dataset registered.
    """

    dataset: str = Field(description="registered dataset name, e.g. digits, mnist, npz")
    test_split: float | None = Field(
        None, gt=0, lt=1,
        description="fraction held out as the test split when the dataset has only one "
                    "split (default 0.2 then)")
    stratify: bool = Field(True, description="keep class proportions when splitting")
    preprocessing: Preprocessing = Field(default_factory=Preprocessing)
    options: dict[str, Any] = Field(default_factory=dict, exclude=True,
                                    json_schema_extra={"x-declml-flattened": True})

    @model_validator(mode="before")
    @classmethod
    def _collect_options(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        own = set(cls.model_fields) - {"options"}
        options = {k: v for k, v in data.items() if k not in own}
        return {**{k: v for k, v in data.items() if k in own}, "options": options}

    @field_validator("options", mode="wrap")
    @classmethod
    def _validate_options(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        registry = registry_of(info)
        name = info.data.get("dataset")
        if registry is None or not isinstance(name, str):
            return handler(value)
        component = registry.find("dataset", name)
        if component is None:
            return handler(value)  # the unknown name itself is reported on 'dataset'
        model = component.options
        if model is None:
            return handler(value)
        own = [f for f in cls.model_fields if f != "options"]
        unknown = [k for k in value if k not in model.model_fields]
        errors = []
        for key in unknown:
            hint = did_you_mean(key, [*model.model_fields, *own])
            allowed = ", ".join([*own, *model.model_fields])
            errors.append(spec_error(
                "unknown_key", f"unknown key {key!r} for dataset {name!r}{hint} "
                f"(allowed: {allowed})", (key,), key))
        known = {k: v for k, v in value.items() if k in model.model_fields}
        try:
            parsed = model.model_validate(known, context=info.context)
        except ValidationError as exc:
            errors.extend(spec_error(e["type"], _describe(e), e["loc"], e.get("input"))
                          for e in exc.errors())
            parsed = None
        raise_issues(errors)
        return parsed.model_dump(exclude_unset=True) if parsed is not None else {}

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, value: str, info: ValidationInfo) -> str:
        registry = registry_of(info)
        if registry is not None and registry.find("dataset", value) is None:
            raise ValueError(registry.unknown_message("dataset", value))
        return value

    @model_serializer(mode="wrap")
    def _flatten(self, handler: Any) -> dict[str, Any]:
        out = handler(self)
        out.update(self.options)
        return out


def _describe(err: Any) -> str:
    if err["type"] == "missing":
        return "required key is missing"
    return str(err["msg"])


class ModelSpec(StrictModel):
    """A Sequential stack of layers on one input."""

    input_shape: list[PositiveInt | None] = Field(
        min_length=1, description="shape of one example, without the batch axis")
    layers: list[LayerRef] = Field(min_length=1)  # type: ignore[valid-type]
    name: str | None = Field(None, description="Keras model name (default: the spec's name)")


class CompileSpec(StrictModel):
    """Arguments of ``Model.compile``."""

    optimizer: OptimizerRef = Field(  # type: ignore[valid-type]
        default_factory=lambda: ComponentSpec("adam", short=True))
    loss: LossRef  # type: ignore[valid-type]
    metrics: list[MetricRef] = Field(default_factory=list)  # type: ignore[valid-type]


def _validation_choice(value: Any) -> Any:
    if value is None or value == "test":
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1:
        return float(value)
    raise ValueError(
        f"expected 'test' (validate on the test split), a fraction of the training data "
        f"between 0 and 1 such as 0.1, or null; got {value!r}")


class FitSpec(StrictModel):
    """Arguments of ``Model.fit``."""

    epochs: PositiveInt = 10
    batch_size: PositiveInt = 32
    validation: Annotated[
        Literal["test"] | float | None,
        BeforeValidator(_validation_choice),
        WithJsonSchema({"anyOf": [{"const": "test"}, {"type": "number", "exclusiveMinimum": 0,
                                  "exclusiveMaximum": 1}, {"type": "null"}]}),
    ] = Field(None, description="'test', a fraction of the training split, or null")
    shuffle: bool = True


class Spec(StrictModel):
    """A whole experiment."""

    spec_version: Literal[1] = Field(CURRENT_VERSION, description="spec format version")
    name: str = Field(description="experiment name; used for run directories")
    description: str | None = None
    seed: int = Field(0, ge=0, description="seeds data splits, weights and shuffling")
    backend: Literal["jax", "tensorflow", "torch"] | None = Field(
        None, description="Keras backend; KERAS_BACKEND in the environment wins")
    data: DataSpec
    model: ModelSpec
    compile: CompileSpec
    fit: FitSpec = Field(default_factory=FitSpec)

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} cannot name run directories: use 1-100 letters, digits, '_', '.' "
                "or '-', starting with a letter or digit (no spaces or slashes)")
        return value
