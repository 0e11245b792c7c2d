"""A trained run, loaded, warmed up and ready to answer: what the HTTP routes call.

:class:`ModelService` loads a run directory (``declml.run.saved.load_run``:
plugins first, ``safe_mode`` always), derives the request :class:`Signature`
from it, warms the model up at every batch size the :class:`Batcher` will use,
and only then reports itself ready. Loading can run on a background thread
(``start``) so a server answers ``/health`` with "loading" meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from declml.errors import ArtifactError, DataError, DeclmlError, one_line
from declml.serving.batching import Batcher, BatcherStopped
from declml.serving.signature import InputSignature, RequestProblem, Signature, parse_body

__all__ = ["ModelService", "ServeSettings", "signature_of"]

log = logging.getLogger("declml.serve")

_INLINE_BODY = 64 * 1024  # larger bodies are parsed on a worker thread, off the event loop
_NUMPY_DTYPES = ("float16", "float32", "float64", "int32", "int64")  # model input dtypes


def _as_dtype(array: np.ndarray, dtype: str, name: str) -> np.ndarray:
    """Cast to the model input's dtype; an integer input takes whole numbers in its range."""
    if array.dtype.kind not in "iufb" or dtype not in _NUMPY_DTYPES or array.dtype == dtype:
        return array
    if dtype.startswith("int") and array.dtype.kind == "f":
        info = np.iinfo(dtype)
        bad = (array != np.round(array)) | (array < info.min) | (array > info.max)
        if bad.any():
            index = int(np.argwhere(bad.reshape(len(array), -1).any(axis=1))[0][0])
            raise RequestProblem(422, f"instance {index}, input {name!r}: the model takes "
                                 f"whole numbers ({dtype}) here, got "
                                 f"{array[index][bad[index]].ravel()[0]!r}")
    return array.astype(dtype, copy=False)


@dataclass(frozen=True)
class ServeSettings:
    """Limits and batching of one server.

    Attributes:
        max_instances: instances in one request (413 beyond).
        max_body_bytes: request body size (413 beyond).
        max_batch: rows in one model call; also the largest padded batch size.
        batch_wait_ms: how long a model call waits for more requests to join it
            (0: never waits; batches still form from requests that queued up).
        allow_local_plugins: reload the local plugin modules the run used.
    """

    max_instances: int = 1024
    max_body_bytes: int = 16 * 1024 * 1024
    max_batch: int = 64
    batch_wait_ms: float = 0.0
    allow_local_plugins: bool | None = None

    def __post_init__(self) -> None:
        for name in ("max_instances", "max_body_bytes", "max_batch"):
            if getattr(self, name) < 1:
                raise DataError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not (0 <= self.batch_wait_ms <= 1000):
            raise DataError(f"batch_wait_ms must be between 0 and 1000, got "
                            f"{self.batch_wait_ms}")


def signature_of(run: Any) -> Signature:
    """The request format of a :class:`~declml.run.saved.SavedRun`, from what it recorded."""
    model = run.model
    shapes = [tuple(t.shape[1:]) for t in model.inputs]
    spec = run.spec
    options = spec.data.options
    if len(shapes) > 1:  # named inputs, given model-ready (the run's pipeline is single-input)
        names = [t.name for t in model.inputs]  # the spec's input names
        return Signature(tuple(InputSignature(n, "tensor", s, s) for n, s in
                               zip(names, shapes, strict=True)), preprocess=False)
    model_shape = shapes[0]
    steps = spec.data.preprocessing
    raw = (run.info.get("data_info") or {}).get("raw_input") or {}
    target = options.get("target")
    ignored = frozenset([target]) if isinstance(target, str) else frozenset()
    if steps.text is not None or raw.get("dtype") == "string":
        name = options.get("text") if isinstance(options.get("text"), str) else "text"
        return Signature((InputSignature(name, "text", (), model_shape),), True, ignored)
    shape: tuple[int | None, ...] = tuple(raw["shape"]) if isinstance(raw.get("shape"), list) \
        else model_shape
    if steps.resize is not None and len(shape) >= 2:
        shape = (None, None, *shape[2:])  # images of any size are resized
    size = None
    if steps.reshape is not None and steps.resize is None:
        size = math.prod(steps.reshape)
    columns = options.get("inputs") or (run.info.get("data_info") or {}).get("input_columns")
    columns = tuple(str(c) for c in columns) if isinstance(columns, list) and \
        len(shape) == 1 and shape[0] == len(columns) else None
    name = next(iter(spec.model.inputs or {}), "input")
    return Signature((InputSignature(name, "tensor", shape, model_shape, columns, size),),
                     True, ignored)


class ModelService:
    """One served run: state (loading → ready, or failed), predictions, metadata."""

    def __init__(self, run_dir: str | Path, settings: ServeSettings | None = None) -> None:
        self.run_dir = Path(run_dir).expanduser()
        self.settings = settings or ServeSettings()
        self.state = "loading"
        self.error: str | None = None
        self.run: Any = None
        self.signature: Signature | None = None
        self.batcher: Batcher | None = None
        self.warmup_seconds: float | None = None
        self.load_seconds: float | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    def load(self) -> None:
        """Load and warm up on this thread; raises what went wrong (and records it)."""
        with self._lock:
            if self.state == "ready":
                return
            try:
                self._load()
            except RequestProblem as exc:  # the warm-up example did not fit the run
                self.state, self.error = "failed", f"warm-up failed: {exc.message}"
                raise ArtifactError(f"cannot serve {self.run_dir}: {self.error}") from None
            except DeclmlError as exc:
                self.state, self.error = "failed", str(exc)
                raise
            except Exception as exc:
                self.state, self.error = "failed", f"{type(exc).__name__}: {one_line(exc)}"
                log.exception("loading %s failed", self.run_dir)
                raise

    def start(self) -> None:
        """Load on a background thread (the server answers "loading" meanwhile)."""
        if self._thread is not None or self.state == "ready":
            return

        def target() -> None:
            try:
                self.load()
            except BaseException:  # recorded in state/error; /health reports it
                if self.state != "failed":
                    self.state, self.error = "failed", "loading was interrupted"
                log.error("cannot serve %s: %s", self.run_dir, self.error)

        self._thread = threading.Thread(target=target, name="declml-load", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self.batcher is not None:
            self.batcher.stop()

    def _load(self) -> None:
        from declml.run.saved import load_run

        start = time.perf_counter()
        run = load_run(self.run_dir, allow_local_plugins=self.settings.allow_local_plugins)
        signature = signature_of(run)
        batcher = Batcher(self._model_call(run), max_batch=self.settings.max_batch,
                          wait_s=self.settings.batch_wait_ms / 1000)
        example = self._model_ready(run, signature, signature.arrays(
            signature.example_request()["instances"]))
        self.load_seconds = time.perf_counter() - start
        self.warmup_seconds = batcher.warm_up(example)
        batcher.start()
        self.run, self.signature, self.batcher = run, signature, batcher
        self.state = "ready"

    @staticmethod
    def _model_call(run: Any) -> Any:
        model = run.model

        names = [t.name for t in model.inputs]
        outputs = list(getattr(model, "output_names", None) or [])

        def call(arrays: list[np.ndarray]) -> list[np.ndarray]:
            out = model.predict_on_batch(arrays[0] if len(arrays) == 1 else
                                         dict(zip(names, arrays, strict=True)))
            if isinstance(out, dict):  # a functional model with named outputs
                out = [out[n] for n in outputs] if set(outputs) == set(out) else list(out.values())
            outs = out if isinstance(out, (list, tuple)) else [out]
            return [np.asarray(o) for o in outs]

        return call

    @staticmethod
    def _model_ready(run: Any, signature: Signature,
                     raw: list[np.ndarray | list[np.ndarray]]) -> list[np.ndarray]:
        """The run's preprocessing and transforms applied, shapes checked against the model."""
        from declml.run.predict import check_model_shape

        arrays: list[np.ndarray] = []
        try:
            for values in raw:
                if isinstance(values, list) and not signature.preprocess:
                    raise DataError("the instances of one request must all have the same shape")
                if signature.preprocess:  # instances of different sizes: one at a time
                    values = np.concatenate([run.pipeline(v[None], "request") for v in values]) \
                        if isinstance(values, list) else run.pipeline(values, "request")
                arrays.append(np.asarray(values))
            for array, tensor in zip(arrays, run.model.inputs, strict=True):
                check_model_shape(array, tuple(tensor.shape[1:]))
        except DataError as exc:
            raise RequestProblem(422, f"the instances could not be made into model inputs as "
                                 f"in training: {exc}") from None
        return [_as_dtype(a, str(getattr(t, "dtype", "float32")), t.name)
                for a, t in zip(arrays, run.model.inputs, strict=True)]

    async def predict(self, body: bytes) -> dict[str, Any]:
        """Answer one ``/predict`` body: predictions, or a :class:`RequestProblem`."""
        if not self.ready:
            raise self.not_ready()
        assert self.signature is not None and self.batcher is not None
        if len(body) > _INLINE_BODY:  # parsing it would hold up every other request
            arrays = await asyncio.to_thread(self._prepare, body)
        else:
            arrays = self._prepare(body)
        try:
            outputs = await asyncio.wrap_future(self.batcher.submit(arrays))
        except BatcherStopped:
            raise RequestProblem(503, "the server is shutting down") from None
        return {"predictions": self._records(outputs)}

    def _prepare(self, body: bytes) -> list[np.ndarray]:
        """A request body → model-ready arrays (or a RequestProblem)."""
        assert self.signature is not None
        instances, fast = parse_body(body, self.settings.max_instances)
        return self._model_ready(self.run, self.signature,
                                 self.signature.arrays(instances, fast=fast))

    def predict_sync(self, instances: list[Any]) -> list[dict[str, Any]]:
        """The same, without HTTP or an event loop (for scripts and tests)."""
        if not self.ready:
            raise self.not_ready()
        assert self.signature is not None and self.batcher is not None
        arrays = self._model_ready(self.run, self.signature, self.signature.arrays(instances))
        return self._records(self.batcher.submit(arrays).result())

    def not_ready(self) -> RequestProblem:
        if self.state == "failed":
            return RequestProblem(503, f"the model could not be loaded: {self.error}")
        return RequestProblem(503, "the model is still loading; retry when /health says ready")

    def _records(self, outputs: list[np.ndarray]) -> list[dict[str, Any]]:
        from declml.run.predict import format_predictions

        for output in outputs:
            finite = np.isfinite(output.reshape(len(output), -1)).all(axis=1)
            if not finite.all():
                index = int(np.argmin(finite))
                raise RequestProblem(422, f"instance {index}: the model's output is not a "
                                     "finite number (inputs far outside what it was trained "
                                     "on?)")
        run = self.run
        if len(outputs) == 1:
            return format_predictions(outputs[0], class_names=run.class_names, task=self.task)
        names = self.output_names()
        per_output = [format_predictions(o) for o in outputs]
        return [{"outputs": {n: recs[i] for n, recs in zip(names, per_output, strict=True)}}
                for i in range(len(outputs[0]))]

    @property
    def task(self) -> str | None:
        """The run's task; for runs that did not record one, told by the loss."""
        if self.run.task:
            return str(self.run.task)
        loss = repr(self.run.spec.compile.loss).lower()
        if "crossentropy" in loss or "focal" in loss:
            return "classification"
        if any(k in loss for k in ("squared", "absolute", "huber", "log_cosh")):
            return "regression"
        return None

    def output_names(self) -> list[str]:
        declared = list(getattr(self.run.model, "output_names", None) or [])
        if len(declared) == len(self.run.model.outputs) > 1:
            return [str(n) for n in declared]
        return ["output"] if len(self.run.model.outputs) == 1 else \
            [f"output_{i}" for i in range(len(self.run.model.outputs))]

    def health(self) -> tuple[int, dict[str, Any]]:
        body: dict[str, Any] = {"status": self.state, "run": str(self.run_dir)}
        if self.state == "ready":
            body["model"] = self.run.spec.name
            body["load_seconds"] = round(self.load_seconds or 0.0, 3)
            body["warmup_seconds"] = round(self.warmup_seconds or 0.0, 3)
            return 200, body
        if self.error:
            body["error"] = self.error
        return 503, body

    def metadata(self) -> dict[str, Any]:
        from declml.serving.metadata import describe

        if not self.ready:
            raise self.not_ready()
        return describe(self)
