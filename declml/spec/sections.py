"""The sections of a spec (version 1): data, model, compile, fit."""

from __future__ import annotations

import math
import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_serializer,
    model_validator,
)

from declml.registry.registry import did_you_mean
from declml.spec.base import StrictModel, as_details, raise_issues, spec_error
from declml.spec.components import (
    CallbackRef,
    ComponentSpec,
    LossRef,
    MetricRef,
    OptimizerRef,
    TransformRef,
    registry_of,
)
from declml.spec.graph import LayerNodeRef, check_graph
from declml.spec.hyper import Hyper, is_hyper, parse_hyper
from declml.spec.space import check_space
from declml.spec.tuning import TuningSpec, tuning_default

LossAdapter: TypeAdapter[Any] = TypeAdapter(LossRef)
MetricsAdapter: TypeAdapter[Any] = TypeAdapter(list[MetricRef])  # type: ignore[valid-type]

__all__ = ["CURRENT_VERSION", "CompileSpec", "DataSpec", "FitSpec", "ModelSpec",
           "Preprocessing", "Spec", "TextPreprocessing"]

CURRENT_VERSION = 1
# YAML's true/false are not numbers: Pydantic's lax mode would take true as 1.
PositiveInt = Annotated[int, Strict(), Field(gt=0)]
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_FRACTION = re.compile(r"^\s*([0-9.eE+-]+)\s*/\s*([0-9.eE+-]+)\s*$")


def _number_or_fraction(value: Any) -> Any:
    """Accept ``0.5`` or the string ``"1/255"`` (parsed, never evaluated)."""
    if isinstance(value, str):
        match = _FRACTION.match(value)
        if not match:
            raise ValueError(f"expected a number or a fraction like '1/255', got {value!r}")
        try:
            num, den = float(match.group(1)), float(match.group(2))
        except ValueError:
            raise ValueError(
                f"expected a number or a fraction like '1/255', got {value!r}") from None
        if den == 0:
            raise ValueError(f"division by zero in {value!r}")
        value = num / den
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    if isinstance(value, (int, float)) and not math.isfinite(value):
        raise ValueError(f"expected a finite number, got {value!r}")
    return value


class TextPreprocessing(StrictModel):
    """Raw strings → word-index sequences, with a vocabulary built from the training split."""

    max_tokens: Annotated[int, Strict(), Field(ge=3)] = Field(
        10_000, description="vocabulary size, counting padding (0) and out-of-vocabulary (1)")
    length: PositiveInt = Field(100, description="pad or truncate every text to this many words")
    lowercase: bool = Field(True, description="lower-case before splitting into words")
    strip_punctuation: bool = Field(True, description="remove ASCII punctuation")
    pad: Literal["pre", "post"] = Field(
        "pre", description="where padding goes: pre (before the words, like pad_sequences) "
                           "or post")
    truncate: Literal["pre", "post"] = Field(
        "pre", description="which end long texts lose words from: pre keeps the last words")
    min_count: PositiveInt = Field(
        1, description="words seen fewer times in training are out-of-vocabulary")


class Preprocessing(StrictModel):
    """Input and target preprocessing, applied in this order: text or (resize, rescale,
    reshape); one_hot for the targets."""

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
    resize: Annotated[list[PositiveInt], Field(min_length=2, max_length=2)] | None = Field(
        None, description="resize images to [height, width] (bilinear)")
    text: TextPreprocessing | None = Field(
        None, description="vectorize raw text inputs, e.g. {max_tokens: 10000, length: 100}")

    @model_validator(mode="after")
    def _text_alone(self) -> Preprocessing:
        if self.text is not None:
            clash = [k for k in ("rescale", "reshape", "resize") if getattr(self, k) is not None]
            if clash:
                raise ValueError(f"text inputs become word indices, so {', '.join(clash)} "
                                 "cannot apply to them; remove "
                                 f"{'it' if len(clash) == 1 else 'them'} or the text step")
        return self


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
    transforms: list[TransformRef] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="steps applied to the inputs after preprocessing, fitted on the training "
                    "split only and saved with the run, e.g. [standardize]")
    options: dict[str, Any] = Field(default_factory=dict, exclude=True,
                                    json_schema_extra={"x-declml-flattened": True})

    @field_validator("preprocessing", mode="before")
    @classmethod
    def _empty_means_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

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
            errors.extend(as_details(exc))
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


class InputSpec(StrictModel):
    """One named model input."""

    shape: list[PositiveInt | None] = Field(
        min_length=1, description="shape of one example, without the batch axis")
    dtype: Literal["float32", "float16", "bfloat16", "int32", "int64", "bool", "string"] = (
        "float32")


class ModelSpec(StrictModel):
    """The model graph.

    Short form: ``input_shape`` plus a ``layers`` list run in order (a Keras
    Sequential model). Graph form: named ``inputs``, layers that name their
    ``inputs``, and ``outputs`` (see :mod:`declml.spec.graph`).
    """

    input_shape: list[PositiveInt | None] | None = Field(
        None, min_length=1,
        description="shape of one example, without the batch axis (single-input models)")
    inputs: dict[str, InputSpec] | None = Field(
        None, description="named inputs, for models with several inputs or non-float inputs")
    layers: list[LayerNodeRef] = Field(min_length=1)  # type: ignore[valid-type]
    outputs: list[str] | None = Field(
        None, min_length=1, description="names of the output layers (default: the last)")
    blocks: dict[str, list[LayerNodeRef]] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="named groups of layers, used as {block: NAME}")
    name: str | None = Field(None, description="Keras model name (default: the spec's name)")

    @model_validator(mode="after")
    def _check_graph(self) -> ModelSpec:
        errors = []
        if (self.input_shape is None) == (self.inputs is None):
            errors.append(spec_error(
                "inputs_choice", "give either input_shape (one input) or inputs (named "
                "inputs), not both" if self.input_shape is not None else
                "the model needs an input: add input_shape: [...] or inputs: {NAME: "
                "{shape: [...]}}", (), None))
        errors.extend(check_graph(self.input_names, self.layers, self.outputs, self.blocks))
        raise_issues(errors)
        return self

    @property
    def input_names(self) -> list[str]:
        return list(self.inputs) if self.inputs else ["input"]

    @property
    def output_names(self) -> list[str]:
        if self.outputs:
            return list(self.outputs)
        last = self.layers[-1]
        return [last.name or "output"]

    @property
    def is_sequential(self) -> bool:
        """A plain stack: one input, one output, no names referenced, blocks or sharing."""
        return (self.inputs is None and self.outputs is None and not self.blocks
                and all(n.layer is not None and n.inputs is None for n in self.layers))


class CompileSpec(StrictModel):
    """Arguments of ``Model.compile``; per-output mappings for several outputs."""

    optimizer: OptimizerRef = Field(  # type: ignore[valid-type]
        default_factory=lambda: ComponentSpec("adam", short=True))
    loss: LossRef | dict[str, LossRef]  # type: ignore[valid-type]
    metrics: list[MetricRef] | dict[str, list[MetricRef]] = Field(  # type: ignore[valid-type]
        default_factory=list)
    loss_weights: dict[str, float] | None = Field(
        None, description="weight of each output's loss, by output name")

    @field_validator("loss", mode="wrap")
    @classmethod
    def _loss_one_or_mapping(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        return _one_or_mapping(value, info, LossAdapter)

    @field_validator("metrics", mode="wrap")
    @classmethod
    def _metrics_list_or_mapping(cls, value: Any, handler: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict):
            return _mapping(value, info, MetricsAdapter)
        return MetricsAdapter.validate_python(value, context=info.context)


def _one_or_mapping(value: Any, info: ValidationInfo, adapter: Any) -> Any:
    """A component, or a mapping of output name → component (not a ``type:`` mapping)."""
    if isinstance(value, dict) and "type" not in value:
        return _mapping(value, info, adapter)
    return adapter.validate_python(value, context=info.context)


def _mapping(value: dict[str, Any], info: ValidationInfo, adapter: Any) -> dict[str, Any]:
    out, errors = {}, []
    for key, item in value.items():
        try:
            out[key] = adapter.validate_python(item, context=info.context)
        except ValidationError as exc:
            errors.extend(as_details(exc, (key,)))
    raise_issues(errors)
    return out


def _validation_choice(value: Any) -> Any:
    if value is None or value == "test":
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < 1:
        return float(value)
    raise ValueError(
        f"expected 'test' (validate on the test split), a fraction of the training data "
        f"between 0 and 1 such as 0.1, or null; got {value!r}")


def _searchable_int(value: Any, handler: Any) -> Any:
    if is_hyper(value):
        hyper = parse_hyper(value)
        bad = [v for v in hyper.candidates() if isinstance(v, bool) or not isinstance(v, int)
               or v < 1]
        if bad or hyper.kind in ("float", "boolean"):
            raise ValueError(f"the search space must hold positive integers; got {value!r}")
        return hyper
    return _POSITIVE_INT.validate_python(value)


_POSITIVE_INT: TypeAdapter[int] = TypeAdapter(PositiveInt)
SearchableInt = Annotated[
    Any,
    WrapValidator(_searchable_int),
    PlainSerializer(lambda v: v.dump() if isinstance(v, Hyper) else v, return_type=Any),
    WithJsonSchema({"anyOf": [{"type": "integer", "exclusiveMinimum": 0},
                              {"x-declml-component": "hyper"}]}),
]


class FitSpec(StrictModel):
    """Arguments of ``Model.fit``; epochs and batch size may be searched."""

    epochs: SearchableInt = 10
    batch_size: SearchableInt = 32
    validation: Annotated[
        Literal["test"] | float | None,
        BeforeValidator(_validation_choice),
        WithJsonSchema({"anyOf": [{"const": "test"}, {"type": "number", "exclusiveMinimum": 0,
                                  "exclusiveMaximum": 1}, {"type": "null"}]}),
    ] = Field(None, description="'test', a fraction of the training split, or null")
    shuffle: bool = True
    callbacks: list[CallbackRef] = Field(  # type: ignore[valid-type]
        default_factory=list,
        description="Keras callbacks, e.g. [{type: EarlyStopping, patience: 3}]")


class Spec(StrictModel):
    """A whole experiment."""

    spec_version: Literal[1] = Field(CURRENT_VERSION, description="spec format version")
    name: str = Field(description="experiment name; used for run directories")
    description: str | None = None
    seed: Annotated[int, Strict()] = Field(
        0, ge=0, le=2**32 - 1, description="seeds data splits, weights and shuffling")
    backend: Literal["jax", "tensorflow", "torch"] | None = Field(
        None, description="Keras backend; KERAS_BACKEND in the environment wins")
    plugins: list[str] = Field(
        default_factory=list,
        description="local plugin modules to load: .py files (relative to the spec) or module "
                    "names. They run Python code, so declml loads them only with "
                    "--allow-local-plugins or DECLML_ALLOW_LOCAL_PLUGINS=1")
    data: DataSpec
    model: ModelSpec
    compile: CompileSpec
    fit: FitSpec = Field(default_factory=FitSpec)
    tuning: TuningSpec | None = Field(
        None, description="how declml tune searches the space declared inline "
                          "(declml train ignores it)")

    @model_validator(mode="wrap")
    @classmethod
    def _space_checked_even_if_sections_fail(cls, data: Any, handler: Any) -> Any:
        """The whole search space is checked here, on the spec as written, so its problems
        are reported together with every other error (even when a section failed)."""
        space_errors = check_space(data) if isinstance(data, dict) else []
        try:
            spec = handler(data)
        except ValidationError as exc:
            raise_issues([*as_details(exc), *space_errors])
            raise
        raise_issues(space_errors)
        return spec

    @field_validator("fit", mode="before")
    @classmethod
    def _empty_fit_means_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    @field_validator("tuning", mode="before")
    @classmethod
    def _empty_tuning_means_defaults(cls, value: Any) -> Any:
        return tuning_default(value)

    @model_validator(mode="after")
    def _tuning_fits_the_rest(self) -> Spec:
        tuning, errors = self.tuning, []
        if tuning is None:
            return self
        if tuning.tuner == "hyperband" and isinstance(self.fit.epochs, Hyper):
            errors.append(spec_error(
                "bad_tuning", "Hyperband decides how long each trial trains; fit.epochs "
                "cannot be searched with it (give hyperband.max_epochs instead)",
                ("fit", "epochs"), self.fit.epochs.dump()))
        if tuning.folds is not None and self.fit.validation is not None:
            errors.append(spec_error(
                "bad_tuning", "with tuning.folds each fold is validated on its own part of "
                "the training split; remove fit.validation (or remove folds)",
                ("fit", "validation"), self.fit.validation))
        raise_issues(errors)
        return self

    @model_validator(mode="after")
    def _outputs_match_compile(self) -> Spec:
        """Per-output losses, metrics and weights must name the model's outputs."""
        outputs = self.model.output_names
        errors = []
        for section, value in (("loss", self.compile.loss), ("metrics", self.compile.metrics),
                               ("loss_weights", self.compile.loss_weights)):
            if isinstance(value, dict):
                for key in value:
                    if key not in outputs:
                        errors.append(spec_error(
                            "unknown_output", f"{key!r} is not an output of the model "
                            f"(outputs: {', '.join(outputs)}){did_you_mean(key, outputs)}",
                            ("compile", section, key), key))
        raise_issues(errors)
        return self

    @field_validator("name")
    @classmethod
    def _safe_name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                f"{value!r} cannot name run directories: use 1-100 letters, digits, '_', '.' "
                "or '-', starting with a letter or digit (no spaces or slashes)")
        return value
