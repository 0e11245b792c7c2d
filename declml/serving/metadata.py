"""``GET /metadata``: what is being served, described from the run itself."""

from __future__ import annotations

import json
from importlib import metadata as importlib_metadata
from typing import TYPE_CHECKING, Any

from declml.artifacts import METRICS_FILE

if TYPE_CHECKING:
    from declml.serving.service import ModelService

__all__ = ["describe"]

_BACKEND_PACKAGES = {"jax": "jax", "tensorflow": "tensorflow", "torch": "torch"}


def _version(package: str) -> str | None:
    try:
        return importlib_metadata.version(package)
    except importlib_metadata.PackageNotFoundError:
        return None


def _test_metrics(service: ModelService) -> dict[str, Any] | None:
    recorded = service.run.info.get("test_metrics")
    if isinstance(recorded, dict):
        return recorded
    try:
        return json.loads((service.run_dir / METRICS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def describe(service: ModelService) -> dict[str, Any]:
    """Spec name, versions, inputs and outputs with shapes, classes, plugins, limits."""
    import keras

    run = service.run
    assert service.signature is not None
    backend = keras.backend.backend()
    classes = run.class_names
    outputs = []
    for name, tensor in zip(service.output_names(), run.model.outputs, strict=True):
        shape = list(tensor.shape[1:])
        entry: dict[str, Any] = {"name": name, "shape": shape,
                                 "dtype": str(getattr(tensor, "dtype", "float32"))}
        if len(run.model.outputs) == 1:
            entry["task"] = service.task or "unknown"
            if classes:
                entry["classes"] = classes
        outputs.append(entry)
    settings = service.settings
    return {
        "name": run.spec.name,
        "description": run.spec.description,
        "run": str(service.run_dir),
        "trained": run.info.get("finished"),
        "test_metrics": _test_metrics(service),
        "versions": {"declml": _version("declml"), "keras": keras.__version__,
                     "backend": backend,
                     backend: _version(_BACKEND_PACKAGES.get(backend, backend))},
        "trained_with": run.info.get("versions"),
        "inputs": [i.describe() for i in service.signature.inputs],
        "preprocessing": "applied by the server, as in training" if service.signature.preprocess
                         else "none: send model-ready values",
        "outputs": outputs,
        "class_names": classes,
        "plugins": run.info.get("plugins") or [],
        "limits": {"max_instances": settings.max_instances,
                   "max_body_bytes": settings.max_body_bytes,
                   "max_batch": settings.max_batch, "batch_wait_ms": settings.batch_wait_ms},
        "example_request": service.signature.example_request(),
    }
