from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pluggy
import pytest

from declml import hookimpl
from declml.errors import PluginError, UnknownComponentError
from declml.registry import hookspecs
from declml.registry.manager import BUILTIN_PLUGINS, build_registry
from declml.registry.registry import (
    KINDS,
    Component,
    LayerRegistrar,
    PluginInfo,
    Registrar,
    Registry,
    suggest,
)
from declml.testing import plugin_registry


def test_builtins_cover_every_kind(registry):
    for kind in KINDS:
        if kind != "command":  # declml's own commands are not plugins
            assert registry.names(kind), kind
    assert registry.get("layer", "Conv2D").plugin == "keras"
    assert registry.get("layer", "keras.Conv2D") is registry.get("layer", "Conv2D")
    assert {"digits", "mnist", "npz"} <= set(registry.names("dataset"))
    assert {"EarlyStopping", "TerminateOnNaN"} <= set(registry.names("callback"))
    assert {"standardize", "clip"} <= set(registry.names("transform"))
    assert registry.find("layer", "Lambda") is None  # no code from a spec
    assert all(registry.plugins[name].builtin for name in BUILTIN_PLUGINS)


def test_builtins_are_declared_as_entry_points_like_third_party_plugins():
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert pyproject["project"]["entry-points"]["declml"] == BUILTIN_PLUGINS


def test_keras_names_pass_through(registry):
    assert registry.get("metric", "accuracy").keras_name == "accuracy"
    assert registry.get("optimizer", "adam").keras_name == "adam"
    assert registry.get("layer", "Dense").keras_name is None


def test_unknown_name_suggests_closest(registry):
    with pytest.raises(UnknownComponentError) as info:
        registry.get("layer", "conv2d")
    assert str(info.value).startswith("unknown layer 'conv2d'; did you mean 'Conv2D'")
    assert suggest("qqqqqq", ["Dense"]) == []


def test_registering_does_not_import_keras():
    import subprocess

    code = ("import sys; from declml.registry.manager import get_registry; "
            "r = get_registry(); assert r.find('layer', 'Dense'); "
            "assert 'keras' not in sys.modules, 'keras imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


class _Plugin:
    @hookimpl
    def declml_register_layers(self, register: LayerRegistrar) -> None:
        register.layer("Scale", "math:prod", params={"factor": {"required": True}})


def _registry(*plugins: object):
    return plugin_registry(*[(f"plugin{i}", p) for i, p in enumerate(plugins)])


def test_third_party_plugin_registers_through_the_same_hooks():
    registry = _registry(_Plugin())
    component = registry.get("layer", "Scale")
    assert component.plugin == "plugin0"
    assert component.required == ["factor"]
    import math

    assert component.load() is math.prod
    assert registry.get("layer", "plugin0.Scale") is component


def test_two_plugins_with_the_same_name_make_it_ambiguous_naming_both():
    registry = _registry(_Plugin(), _Plugin())
    with pytest.raises(UnknownComponentError) as info:
        registry.get("layer", "Scale")
    message = str(info.value)
    assert "'plugin0'" in message and "'plugin1'" in message
    assert "'plugin0.Scale' or 'plugin1.Scale'" in message
    assert registry.get("layer", "plugin1.Scale").plugin == "plugin1"
    assert "plugin0.Scale" in registry.names("layer")
    assert registry.get("layer", "Dense")  # everything else keeps working


def test_plugin_shadowing_a_builtin_is_reported_when_used():
    class Shadow:
        @hookimpl
        def declml_register_layers(self, register):
            register.layer("Dense", "math:prod")

    registry = _registry(Shadow())
    with pytest.raises(UnknownComponentError, match=r"plugin 'keras' and plugin 'plugin0'"):
        registry.get("layer", "Dense")
    assert registry.get("layer", "keras.Dense").target == "keras.layers:Dense"


def test_a_plugin_registering_a_name_twice_is_rejected_at_registration(capsys):
    class Twice:
        @hookimpl
        def declml_register_losses(self, register):
            register.loss("my_loss", "math:prod")
            register.loss("my_loss", "math:prod")

    registry = _registry(Twice())
    assert registry.find("loss", "my_loss") is None  # the whole plugin is dropped
    assert "registers loss 'my_loss' twice" in registry.plugins["plugin0"].error
    assert "plugin 'plugin0' failed to register" in capsys.readouterr().err
    assert "plugin0" in registry.unknown_message("loss", "my_loss")


@pytest.mark.parametrize("name", ["", "1abc", "has space", "a/b", None])
def test_invalid_names_are_rejected_at_registration(name):
    registrar = Registrar(Registry(), "layer", "p")
    with pytest.raises(PluginError, match="names must start"):
        registrar.add(name, "math:prod")


def test_spec_model_must_be_a_pydantic_model():
    with pytest.raises(PluginError, match="must be a Pydantic model"):
        Registrar(Registry(), "layer", "p").add("X", "math:prod", spec_model=dict)


def test_plugin_crashing_in_a_hook_is_named_and_the_others_keep_working(capsys):
    class Broken:
        @hookimpl
        def declml_register_losses(self, register):
            raise RuntimeError("boom")

    registry = _registry(Broken())
    assert registry.plugins["plugin0"].error == "RuntimeError: boom"
    assert registry.get("loss", "mse")
    assert "plugin 'plugin0' failed to register its components" in capsys.readouterr().err


def test_a_crashing_builtin_is_an_error():

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)

    class Bad:
        @hookimpl
        def declml_register_layers(self, register):
            raise RuntimeError("bug")

    pm.register(Bad(), name="keras")
    with pytest.raises(PluginError, match="built-in plugin 'keras' failed"):
        build_registry(pm, [PluginInfo("keras", "x", builtin=True)])


def test_unimportable_target_is_a_plugin_error():
    component = Component("layer", "X", "no_such_module_xyz:Thing", "p")
    with pytest.raises(PluginError, match="cannot be imported"):
        component.load()


def _fake_eps(monkeypatch, eps):
    from declml.registry import manager

    monkeypatch.setattr(manager, "_entry_points", lambda: eps)
    manager.reset()


def _ep(name, value, load):
    return SimpleNamespace(name=name, value=value, load=load, dist=None)


def test_entry_points_respect_declml_plugins(monkeypatch):
    from declml.registry import manager

    eps = [_ep("a", "a_pkg", lambda: _Plugin()), _ep("b", "b_pkg", lambda: SimpleNamespace()),
           _ep("keras", BUILTIN_PLUGINS["keras"], lambda: 1 / 0)]
    _fake_eps(monkeypatch, eps)
    try:
        monkeypatch.setenv("DECLML_PLUGINS", "none")
        manager.reset()
        assert manager.third_party_plugins() == []
        monkeypatch.setenv("DECLML_PLUGINS", "b")
        manager.reset()
        assert [n for n, _ in manager.third_party_plugins()] == ["b"]
        monkeypatch.delenv("DECLML_PLUGINS")
        manager.reset()
        assert [n for n, _ in manager.third_party_plugins()] == ["a", "b"]
        registry = manager.get_registry()
        assert registry.get("layer", "Scale").plugin == "a"
        assert registry.plugins["keras"].builtin  # built-ins are loaded whatever the setting
    finally:
        monkeypatch.undo()
        manager.reset()


def test_broken_entry_point_is_skipped_with_a_warning(monkeypatch, capsys):
    from declml.registry import manager

    def explode():
        raise ImportError("missing dependency")

    monkeypatch.delenv("DECLML_PLUGINS")
    _fake_eps(monkeypatch, [_ep("broken", "broken_pkg:plugin", explode)])
    try:
        registry = manager.get_registry()
        assert registry.plugins["broken"].error == "ImportError: missing dependency"
        assert registry.get("layer", "Dense")
        assert "failed to load: ImportError" in registry.unknown_message("layer", "SEBlock")
    finally:
        monkeypatch.undo()
        manager.reset()
    assert "plugin 'broken'" in capsys.readouterr().err
