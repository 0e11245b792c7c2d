"""The names and arguments of Keras's own components, known without importing Keras.

``declml validate`` must answer in a fraction of a second, and importing Keras
(plus a backend) takes seconds. So the built-in plugin reads a catalogue, a
JSON file generated from the installed Keras by this module and shipped with
declml. A test keeps the shipped file equal to what the installed Keras says.
If a user has a different Keras version than the catalogue was made from, the
catalogue is regenerated once from their Keras and cached.

Regenerate the shipped file with ``python -m declml.builtins.catalog``.
"""

from __future__ import annotations

import inspect
import json
import os
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["CATALOG_PATH", "generate_catalog", "load_catalog"]

CATALOG_PATH = Path(__file__).with_name("keras_catalog.json")

# Layers a spec may not use: they run arbitrary code (Lambda), wrap foreign code
# or saved models, or are not layers one stacks.
EXCLUDED_LAYERS = frozenset({
    "Lambda", "Layer", "Wrapper", "InputSpec", "Input", "InputLayer", "TFSMLayer",
    "TorchModuleWrapper", "JaxLayer", "FlaxLayer", "Pipeline",
})
EXCLUDED = {
    "losses": frozenset({"Loss", "LossFunctionWrapper"}),
    "metrics": frozenset({"Metric", "MeanMetricWrapper", "mean_metric_wrapper", "metric"}),
    "optimizers": frozenset({"optimizer", "optimizermap", "multioptimizer",
                             "lossscaleoptimizer"}),
    "activations": frozenset(),
}
# Callbacks a spec may use: the others take functions, write outside the run directory,
# talk to the network, or duplicate what the run directory already does.
CALLBACKS = ("EarlyStopping", "ReduceLROnPlateau", "TerminateOnNaN", "SwapEMAWeights")
# Strings that Model.compile resolves itself (it picks the right accuracy for the loss).
COMPILE_METRIC_ALIASES = ("accuracy", "acc", "crossentropy", "ce")


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (tuple, list)) and all(
        v is None or isinstance(v, (bool, int, float, str)) for v in value
    ):
        return list(value)
    raise TypeError


def _params_of(cls: type, closed_bases: tuple[type, ...]) -> dict[str, dict[str, Any]]:
    """Keyword arguments a class accepts, following ``**kwargs`` up the MRO."""
    params: dict[str, dict[str, Any]] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        try:
            sig = inspect.signature(init)
        except (TypeError, ValueError):
            break
        forwards = False
        for p in list(sig.parameters.values())[1:]:
            if p.kind is p.VAR_KEYWORD:
                forwards = True
                continue
            if p.kind is p.VAR_POSITIONAL or p.name in params:
                continue
            if klass is not cls and p.default is p.empty:
                continue  # a base's required argument is supplied by the subclass (rank=2)
            entry: dict[str, Any] = {}
            if p.default is p.empty:
                entry["required"] = True
            else:
                try:
                    entry["default"] = _jsonable(p.default)
                except TypeError:
                    entry["default_repr"] = repr(p.default)
            params[p.name] = entry
        if not forwards or klass in closed_bases:
            break
    return params


def _target(obj: Any, public: Any, name: str) -> str:
    if getattr(public, name, None) is obj:
        return f"{public.__name__}:{name}"
    return f"{obj.__module__}:{obj.__qualname__}"


def generate_catalog() -> dict[str, Any]:
    """Describe every built-in Keras component; imports Keras (and a backend)."""
    from declml.backend import import_keras

    keras = import_keras()
    from keras.src import activations, losses, metrics, optimizers
    from keras.src.optimizers.base_optimizer import BaseOptimizer

    closed = (keras.layers.Layer, keras.losses.Loss, keras.metrics.Metric, BaseOptimizer)
    catalog: dict[str, Any] = {"keras_version": keras.__version__, "layers": {}}
    for name in sorted(dir(keras.layers)):
        obj = getattr(keras.layers, name)
        if name in EXCLUDED_LAYERS or not (
            inspect.isclass(obj) and issubclass(obj, keras.layers.Layer)
        ):
            continue
        catalog["layers"][name] = {
            "target": f"keras.layers:{name}",
            "params": _params_of(obj, closed),
        }
    families = {"losses": (losses, keras.losses), "metrics": (metrics, keras.metrics),
                "optimizers": (optimizers, keras.optimizers),
                "activations": (activations, keras.activations)}
    for family, (src, public) in families.items():
        table: dict[str, Any] = {}
        for name, obj in sorted(src.ALL_OBJECTS_DICT.items()):
            if name in EXCLUDED[family]:
                continue
            entry: dict[str, Any] = {"target": _target(obj, public, name)}
            # Classes take configuration; plain functions are used by name only.
            entry["params"] = _params_of(obj, closed) if inspect.isclass(obj) else {}
            table[name] = entry
        catalog[family] = table
    catalog["callbacks"] = {
        name: {"target": f"keras.callbacks:{name}",
               "params": _params_of(getattr(keras.callbacks, name), (keras.callbacks.Callback,))}
        for name in CALLBACKS if hasattr(keras.callbacks, name)
    }
    for alias in COMPILE_METRIC_ALIASES:
        catalog["metrics"].setdefault(alias, {"target": None, "params": {}})
    return catalog


def _installed_keras_version() -> str | None:
    try:
        return metadata.version("keras")
    except metadata.PackageNotFoundError:
        return None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "declml"


@lru_cache(maxsize=1)
def load_catalog() -> dict[str, Any]:
    """The catalogue for the installed Keras: shipped, cached, or generated once."""
    shipped = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
    installed = _installed_keras_version()
    if installed is None or installed == shipped["keras_version"]:
        return shipped
    cached = _cache_dir() / f"keras-catalog-{installed}.json"
    if cached.is_file():
        try:
            return json.loads(cached.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
    print(
        f"declml: indexing Keras {installed} components once "
        f"(shipped index is for {shipped['keras_version']})...",
        file=sys.stderr,
    )
    catalog = generate_catalog()
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps(catalog, indent=1, sort_keys=True), encoding="utf-8")
    except OSError:
        pass  # a read-only home only costs the regeneration next time
    return catalog


def main() -> None:
    """Regenerate the shipped catalogue from the installed Keras."""
    CATALOG_PATH.write_text(json.dumps(generate_catalog(), indent=1, sort_keys=True) + "\n",
                            encoding="utf-8")
    print(f"wrote {CATALOG_PATH}")


if __name__ == "__main__":
    main()
