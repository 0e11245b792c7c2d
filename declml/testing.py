"""Test helpers for plugin authors; installed as a pytest plugin (``pytest11``).

A plugin's tests get the ``declml_plugin`` fixture::

    def test_se_block(declml_plugin):
        tester = declml_plugin("declml_example.plugin")   # module, object or entry point
        tester.validate("layer", "SEBlock", {"ratio": 4})
        assert "ratio" in tester.errors("layer", "SEBlock", {"ratio": 0})[0]
        out = tester.forward("SEBlock", {"ratio": 4}, input_shape=(8, 8, 16))
        tester.round_trip_layer("SEBlock", {"ratio": 4}, input_shape=(8, 8, 16))

The tester's registry holds declml's built-ins and the plugins under test
only, never whatever else is installed. Importing this module does not import
Keras; the methods that build objects do.
"""

from __future__ import annotations

import tempfile
from importlib import import_module, metadata
from pathlib import Path
from typing import Any

import pluggy
import pytest

from declml.errors import SpecError
from declml.registry import hookspecs
from declml.registry.manager import BUILTIN_PLUGINS, ENTRY_POINT_GROUP, build_registry
from declml.registry.registry import Component, PluginInfo, Registry

__all__ = ["PluginTester", "declml_plugin", "plugin_registry"]


def _resolve(plugin: Any) -> tuple[str, Any]:
    """A plugin given as an object, a module name, or an installed entry-point name."""
    if not isinstance(plugin, str):
        return getattr(plugin, "__name__", type(plugin).__name__).rsplit(".", 1)[-1], plugin
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if plugin in (ep.name, ep.value):  # named as in real use
            return ep.name, ep.load()
    return plugin.rsplit(".", 1)[-1], import_module(plugin)


def plugin_registry(*plugins: Any) -> Registry:
    """A registry with declml's built-ins and exactly ``plugins``.

    Args:
        plugins: plugin modules or objects, module names, or entry-point names;
            a ``(name, plugin)`` pair sets the plugin's name.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    infos = []
    for name, module in BUILTIN_PLUGINS.items():
        pm.register(import_module(module), name=name)
        infos.append(PluginInfo(name, module, "declml", builtin=True))
    for plugin in plugins:
        name, obj = plugin if isinstance(plugin, tuple) else _resolve(plugin)
        pm.register(obj, name=name)
        infos.append(PluginInfo(name, repr(obj)))
    return build_registry(pm, infos)


class PluginTester:
    """Checks one plugin's components the way declml uses them."""

    def __init__(self, *plugins: Any) -> None:
        self.registry = plugin_registry(*plugins)

    # -- without Keras ---------------------------------------------------------------------

    def component(self, kind: str, name: str) -> Component:
        """The registered component (fails the test with declml's message if unknown)."""
        found = self.registry.find(kind, name)
        if found is None:
            pytest.fail(self.registry.unknown_message(kind, name))
        return found

    def validate(self, kind: str, name: str, args: dict[str, Any] | None = None) -> Any:
        """Validate ``{type: name, **args}`` as ``declml validate`` would; fail on errors."""
        from declml.spec.components import check_component
        from declml.spec.diagnostics import plain_messages

        self.component(kind, name)
        try:
            return check_component(kind, {"type": name, **(args or {})}, self.registry,
                                   allow_short=kind != "layer")
        except Exception as exc:
            messages = plain_messages(exc)
            if messages is None:
                raise
            pytest.fail(f"{kind} {name!r} with {args!r} is invalid: " + "; ".join(messages))

    def errors(self, kind: str, name: str, args: dict[str, Any] | None = None) -> list[str]:
        """The validation messages for ``args`` ([] when valid)."""
        from declml.spec.components import check_component
        from declml.spec.diagnostics import plain_messages

        try:
            check_component(kind, {"type": name, **(args or {})}, self.registry,
                            allow_short=kind != "layer")
        except Exception as exc:
            messages = plain_messages(exc)
            if messages is None:
                raise
            return messages
        return []

    def check_spec(self, spec: dict[str, Any] | str) -> Any:
        """Validate a whole spec (dict or YAML text) against this registry."""
        from declml.spec.api import spec_from_data

        try:
            return spec_from_data(spec, self.registry)
        except SpecError as exc:
            pytest.fail(str(exc))

    # -- with Keras ------------------------------------------------------------------------

    def build(self, kind: str, name: str, args: dict[str, Any] | None = None) -> Any:
        """Validate, then create the object (a layer, loss, metric, callback, transform...)."""
        from declml.backend import import_keras

        import_keras()
        ref = self.validate(kind, name, args)
        factory = self.registry.get(kind, name).load()
        return factory(**ref.args)

    def forward(self, name: str, args: dict[str, Any] | None, input_shape: tuple[int, ...],
                batch: int = 2, seed: int = 0) -> Any:
        """Run a registered layer on random inputs; returns the output as a NumPy array."""
        import numpy as np

        layer = self.build("layer", name, args)
        x = np.random.default_rng(seed).normal(size=(batch, *input_shape)).astype("float32")
        from keras import ops

        out = ops.convert_to_numpy(layer(x))
        assert out.shape[0] == batch, f"{name} changed the batch size: {out.shape}"
        assert np.all(np.isfinite(out)), f"{name} produced non-finite values"
        return out

    def round_trip_layer(self, name: str, args: dict[str, Any] | None,
                         input_shape: tuple[int, ...]) -> Any:
        """Save a model holding the layer to ``.keras`` and load it back (``safe_mode``);
        the reloaded model must give the same outputs. Returns the reloaded model."""
        import numpy as np

        layer = self.build("layer", name, args)  # picks the backend, then imports Keras
        import keras

        inputs = keras.Input(shape=input_shape)
        model = keras.Model(inputs, layer(inputs))
        x = np.random.default_rng(0).normal(size=(3, *input_shape)).astype("float32")
        return self._reload(model, x)

    def round_trip_compiled(self, kind: str, name: str, args: dict[str, Any] | None = None, *,
                            classes: int = 3) -> Any:
        """Compile a tiny classifier with this loss or metric, train one step, save, reload
        (``safe_mode``) and compare predictions; returns the reloaded model."""
        import numpy as np

        obj = self.build(kind, name, args)  # picks the backend, then imports Keras
        import keras

        rng = np.random.default_rng(0)
        x = rng.normal(size=(16, 4)).astype("float32")
        y = keras.utils.to_categorical(rng.integers(0, classes, 16), classes)
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(classes,
                                                                         activation="softmax")])
        if kind == "loss":
            model.compile(optimizer="adam", loss=obj)
        else:
            model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=[obj])
        model.fit(x, y, epochs=1, verbose=0)
        return self._reload(model, x)

    @staticmethod
    def _reload(model: Any, x: Any) -> Any:
        from declml.backend import import_keras

        keras = import_keras()
        import numpy as np

        expected = model.predict(x, verbose=0)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "model.keras"
            model.save(path)
            loaded = keras.saving.load_model(path, safe_mode=True)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, rtol=1e-5,
                                   atol=1e-6)
        return loaded


@pytest.fixture
def declml_plugin() -> Any:
    """Factory fixture: ``declml_plugin(plugin, ...)`` → a :class:`PluginTester`."""
    return PluginTester
