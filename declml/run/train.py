"""Stage ④: train a spec's model and leave a complete run directory behind."""

from __future__ import annotations

import hashlib
import math
import sys
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from declml.artifacts import HISTORY_FILE, METRICS_FILE, SPEC_FILE, RunDirectory, library_versions
from declml.backend import import_keras
from declml.builder.components import instantiate
from declml.builder.model import build_model
from declml.data.pipeline import Prepared, prepare
from declml.data.transforms import TRANSFORMS_FILE
from declml.errors import DataError, DeclmlError, one_line
from declml.registry.registry import Registry
from declml.run.embeddings import check_text_model, load_pretrained
from declml.run.figures import RunPlots
from declml.run.plugins import plugins_used
from declml.spec.api import dump_spec, fix_point, registry_for
from declml.spec.sections import Spec

__all__ = ["RunResult", "TrainingFailed", "TrainingInterrupted", "finish_run", "resolved_spec",
           "start_run", "train", "validation_data"]


class TrainingInterrupted(DeclmlError):
    """Ctrl-C during training; what was trained so far has been saved."""

    exit_code = 130


@dataclass
class RunResult:
    """What :func:`train` produced."""

    run_dir: Path
    metrics: dict[str, float]
    history: dict[str, list[float]]
    model: Any = field(repr=False, default=None)


def _history_writer(keras: Any, run: RunDirectory, history: dict[str, list[float]]) -> Any:
    class HistoryWriter(keras.callbacks.Callback):
        """Rewrites history.json after every epoch, so a crash keeps the curve so far."""

        def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            for key, value in (logs or {}).items():
                history.setdefault(key, []).append(float(value))
            run.write_json(HISTORY_FILE, history)

    return HistoryWriter()


def check_shapes(model: Any, data: Prepared) -> None:
    """Catch the common input/target shape mistakes before Keras does, with a fix."""
    for split_name, split in (("train", data.train), ("test", data.test),
                              ("validation", data.validation)):
        if split is not None and (split_name != "validation" or split is not data.test):
            _check_split(model, split_name, data.head(split), split.y)


def _check_split(model: Any, name: str, x: Any, y: Any) -> None:
    want_in = tuple(model.input_shape[1:])
    got_in = tuple(x.shape[1:])
    if len(want_in) != len(got_in) or any(
        w not in (None, g) for w, g in zip(want_in, got_in, strict=True)
    ):
        raise DataError(
            f"model.input_shape is {list(want_in)} but the {name} examples have shape "
            f"{list(got_in)}; fix model.input_shape, or make the data match it "
            f"(data.preprocessing.reshape: {list(want_in)}, preprocessing.resize or the "
            "dataset's image_size for images)"
        )
    out = model.output_shape[-1] if model.output_shape else None
    sparse = _sparse_loss(model)
    if y.ndim == 2 and sparse:
        raise DataError(
            f"the {name} targets are one-hot vectors but the loss expects integer labels; "
            "remove data.preprocessing.one_hot or use categorical_crossentropy"
        )
    if out is not None and y.ndim == 2 and y.shape[1] != out:
        raise DataError(
            f"the model outputs {out} values per example but the {name} targets have "
            f"{y.shape[1]}; match the last layer's units to data.preprocessing.one_hot"
        )
    if out not in (None, 1) and y.ndim == 1 and not sparse:
        raise DataError(
            f"the model outputs {out} values per example but the {name} targets are single "
            f"labels; add data.preprocessing.one_hot: {out} or use a sparse_categorical loss"
        )


def _sparse_loss(model: Any) -> bool:
    loss = model.loss
    name = loss if isinstance(loss, str) else getattr(loss, "name", type(loss).__name__)
    return "sparse" in str(name).lower()


def train(
    spec: Spec,
    output: str | Path | None = None,
    *,
    registry: Registry | None = None,
    log: Callable[[str], None] | None = None,
    verbose: int | str | None = None,
) -> RunResult:
    """Train, evaluate on the test split, and save a run directory.

    Args:
        spec: a validated spec.
        output: run directory to create (must not exist or be empty); default
            ``runs/<name>-<timestamp>``.
        registry: components to use (default: every loaded plugin).
        log: where progress notes go (default: stderr).
        verbose: Keras ``fit`` verbosity (default: a progress bar on a terminal,
            one line per epoch otherwise).

    Raises:
        DeclmlError: bad data, a model Keras rejects, or an unwritable output.
        TrainingInterrupted: Ctrl-C; the partial model and history are saved.
    """
    registry = registry or registry_for(spec)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    keras = import_keras(spec.backend)
    running_on = keras.backend.backend()
    if spec.backend and spec.backend != running_on:
        log(f"note: the spec asks for backend {spec.backend!r}, but KERAS_BACKEND="
            f"{running_on} overrides it")
    spec, point = fix_point(spec, registry=registry)
    if point:
        log("note: the spec declares a search space; training its default point ("
            + ", ".join(f"{k}={v!r}" for k, v in point.items()) + "); use declml tune to search")
    if len(spec.model.input_names) != 1 or len(spec.model.output_names) != 1:
        raise DataError(
            f"model {spec.name!r} has {len(spec.model.input_names)} inputs and "
            f"{len(spec.model.output_names)} outputs, but the built-in datasets provide one "
            "input array and one target array; build it with declml.build_model(spec) and "
            "fit it from Python with named arrays"
        )
    started = time.perf_counter()
    data = prepare(spec, registry, log=log)
    model = build_model(spec, registry)
    check_text_model(model, data)
    embeddings = load_pretrained(model, data, spec.seed, log)
    check_shapes(model, data)
    callbacks = [instantiate("callback", ref, registry, f"fit.callbacks[{i}]")
                 for i, ref in enumerate(spec.fit.callbacks)]

    run = start_run(output, spec, data, running_on, registry, point=point,
                    embeddings=embeddings)
    log(f"run directory: {run.path}")
    history: dict[str, list[float]] = {}
    validation = validation_data(data, spec)
    if verbose is None:
        verbose = 1 if sys.stdout.isatty() else 2
    with _keep_partial(run, model, history):
        model.fit(
            **data.feed(data.train, batch_size=spec.fit.batch_size, shuffle=spec.fit.shuffle,
                        seed=spec.seed),
            epochs=spec.fit.epochs, shuffle=spec.fit.shuffle,
            validation_data=validation,
            callbacks=[*callbacks, _history_writer(keras, run, history)],
            verbose=verbose,
        )
    metrics = finish_run(run, spec, model, data, history, registry, running_on, log,
                         seconds=time.perf_counter() - started)
    return RunResult(run.path, metrics, history, model)


def start_run(output: str | Path | None, spec: Spec, data: Prepared, running_on: str,
              registry: Registry, *, point: dict[str, Any] | None = None,
              embeddings: list[dict[str, Any]] | None = None,
              extra: dict[str, Any] | None = None) -> RunDirectory:
    """Create the run directory and write what is known before training: the resolved
    spec, run.json, and the fitted input pipeline (vocabulary, transforms)."""
    run = RunDirectory.create(output, spec.name)
    lock = dump_spec(resolved_spec(spec, data, running_on, registry))
    run.write_text(SPEC_FILE, lock)
    run.record(
        status="running", started=run.now(), name=spec.name, seed=spec.seed,
        backend=running_on, spec_sha256=hashlib.sha256(lock.encode()).hexdigest(),
        command=run.argv(), versions=library_versions(),
        plugins=plugins_used(spec, registry),
        **({"search_space_point": point} if point else {}),
        **_data_record(data, embeddings or []),
        **(extra or {}),
    )
    if data.transforms:
        run.write_json(TRANSFORMS_FILE, [t.record() for t in data.transforms])
    if data.pipeline is not None:
        data.pipeline.preprocessor.save(run.path)
    return run


def finish_run(run: RunDirectory, spec: Spec, model: Any, data: Prepared,
               history: dict[str, list[float]], registry: Registry, running_on: str,
               log: Callable[[str], None], *, seconds: float) -> dict[str, float]:
    """Save the trained model, evaluate it on the test split, draw the run's pictures,
    mark the run complete and tell the plugins; returns the test metrics."""
    plots = RunPlots(run.path, spec, log)
    plots.curves(history)  # drawn while the model is saved and evaluated
    run.save_model(model)  # before evaluating: a failure there must not lose the training
    with _keep_partial(run, None, history):
        metrics = model.evaluate(**data.feed(data.test, batch_size=spec.fit.batch_size,
                                             name="test"), return_dict=True, verbose=0)
    metrics = {k: float(v) for k, v in metrics.items()}
    run.write_json(METRICS_FILE, {"split": "test", "examples": len(data.test), **metrics})
    plots.confusion(model, data)
    pictures = plots.finish()
    epochs_done = len(next(iter(history.values()), []))
    run.record(status="complete", finished=run.now(), seconds=round(seconds, 3),
               epochs_completed=epochs_done, test_metrics=metrics, plots=pictures)
    if epochs_done < spec.fit.epochs:
        log(f"note: training stopped after {epochs_done} of {spec.fit.epochs} epochs "
            "(a callback stopped it)")
    if any(not math.isfinite(v) for v in metrics.values()):
        log("warning: some test metrics are not finite (written as null); the loss diverged "
            "or the data holds NaN/inf values")
    resolved = resolved_spec(spec, data, running_on, registry)
    failures = registry.run_hook("declml_run_finished", run_dir=run.path, spec=resolved,
                                 metrics=metrics)
    for plugin, exc in failures:
        log(f"warning: plugin {plugin!r} failed after the run (declml_run_finished): "
            f"{type(exc).__name__}: {exc}; the run itself is complete")
    if failures:
        run.record(hook_errors=[f"{plugin}: {type(exc).__name__}: {one_line(exc)}"
                                for plugin, exc in failures])
    return metrics


class TrainingFailed(DeclmlError):
    """Keras stopped with an error during fit or evaluate; the run records it."""


@contextmanager
def _keep_partial(run: RunDirectory, model: Any, history: dict[str, list[float]]):
    """On Ctrl-C or an error, save what exists and mark the run, then report it."""
    try:
        yield
    except KeyboardInterrupt:
        if model is not None:
            run.save_model(model)
        run.record(status="interrupted", finished=run.now(),
                   epochs_completed=len(next(iter(history.values()), [])))
        raise TrainingInterrupted(
            f"training interrupted; the model as trained so far and its history are saved in "
            f"{run.path}"
        ) from None
    except (ValueError, TypeError) as exc:
        message = one_line(exc)
        run.record(status="failed", finished=run.now(), error=message,
                   epochs_completed=len(next(iter(history.values()), [])))
        raise TrainingFailed(f"Keras stopped with an error: {message} (the run directory "
                             f"{run.path} keeps the spec and what was done)") from None
    except Exception as exc:
        run.record(status="failed", finished=run.now(), error=one_line(exc))
        raise


def validation_data(data: Prepared, spec: Spec) -> Any:
    if data.validation is None:
        return None
    if not data.validation.lazy:
        return (data.validation.x, data.validation.y)
    return data.feed(data.validation, batch_size=spec.fit.batch_size, name="validation")["x"]


def _data_record(data: Prepared, embeddings: list[dict[str, Any]]) -> dict[str, Any]:
    """What run.json keeps about the data: class names, task, embedding coverage."""
    out: dict[str, Any] = {}
    if data.class_names is not None:
        out["class_names"] = data.class_names
    if data.task is not None:
        out["task"] = data.task
    if data.info:
        out["data_info"] = data.info
    if embeddings:
        out["pretrained_embeddings"] = embeddings
    return out


_PATH_OPTIONS = ("path", "test_path", "targets", "test_targets", "images", "labels",
                 "test_images", "test_labels")


def resolved_spec(spec: Spec, data: Prepared, backend: str, registry: Registry) -> Spec:
    """The spec as actually run: backend, the test split used, absolute data paths,
    and the class mapping (so evaluating on new files encodes labels the same way)."""
    options = dict(spec.data.options)
    for key in _PATH_OPTIONS:
        if isinstance(options.get(key), str):
            options[key] = str(Path(options[key]).expanduser().resolve())
    component = registry.get("dataset", spec.data.dataset)
    fields = component.options.model_fields if component.options is not None else {}
    if data.class_names is not None and "classes" in fields:
        options.setdefault("classes", list(data.class_names))
    if data.info.get("input_columns") and "inputs" in fields and not options.get("text"):
        options.setdefault("inputs", list(data.info["input_columns"]))
    section = spec.data.model_copy(update={"options": options,
                                           "test_split": data.test_split_used})
    return spec.model_copy(update={"backend": backend, "data": section})
