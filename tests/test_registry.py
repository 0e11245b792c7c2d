from __future__ import annotations

import sys
from types import SimpleNamespace

import pluggy
import pytest

from declml import hookimpl
from declml.errors import PluginError, UnknownComponentError
from declml.registry import hookspecs
from declml.registry.manager import BUILTIN_PLUGINS, build_registry
from declml.registry.registry import KINDS, Component, Registrar, Registry, suggest


def test_builtins_cover_every_kind(registry):
    for kind in KINDS:
        assert registry.names(kind), kind
    assert registry.get("layer", "Conv2D").plugin == "declml.builtins.keras_components"
    assert {"digits", "mnist", "npz"} <= set(registry.names("dataset"))
    assert registry.find("layer", "Lambda") is None  # no code from a spec


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
    def declml_register_layers(self, register: Registrar) -> None:
        register.add("Scale", "math:prod", params={"factor": {"required": True}})


def _manager(*plugins: object) -> pluggy.PluginManager:
    from importlib import import_module

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS:
        pm.register(import_module(name), name=name)
    for i, plugin in enumerate(plugins):
        pm.register(plugin, name=f"plugin{i}")
    return pm


def test_third_party_plugin_registers_through_the_same_hooks():
    registry = build_registry(_manager(_Plugin()))
    component = registry.get("layer", "Scale")
    assert component.plugin == "plugin0"
    assert component.required == ["factor"]
    import math

    assert component.load() is math.prod


def test_two_plugins_with_the_same_name_are_an_error_naming_both():
    with pytest.raises(PluginError) as info:
        build_registry(_manager(_Plugin(), _Plugin()))
    assert "'plugin0'" in str(info.value) and "'plugin1'" in str(info.value)


def test_plugin_shadowing_a_builtin_is_an_error():
    class Shadow:
        @hookimpl
        def declml_register_layers(self, register):
            register.add("Dense", "math:prod")

    with pytest.raises(PluginError, match=r"declml\.builtins\.keras_components"):
        build_registry(_manager(Shadow()))


@pytest.mark.parametrize("name", ["", "1abc", "has space", "a/b", None])
def test_invalid_names_are_rejected_at_registration(name):
    registrar = Registrar(Registry(), "layer", "p")
    with pytest.raises(PluginError, match="names must start"):
        registrar.add(name, "math:prod")


def test_plugin_crashing_in_a_hook_is_named():
    class Broken:
        @hookimpl
        def declml_register_losses(self, register):
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match="plugin 'plugin0' failed in declml_register_losses"):
        build_registry(_manager(Broken()))


def test_unimportable_target_is_a_plugin_error():
    component = Component("layer", "X", "no_such_module_xyz:Thing", "p")
    with pytest.raises(PluginError, match="cannot be imported"):
        component.load()


def test_entry_points_respect_declml_plugins(monkeypatch):
    from declml.registry import manager

    fake = [SimpleNamespace(name="a"), SimpleNamespace(name="b")]
    monkeypatch.setattr(manager.metadata, "entry_points", lambda group: fake)
    monkeypatch.setenv("DECLML_PLUGINS", "none")
    assert manager._wanted_entry_points() == []
    monkeypatch.setenv("DECLML_PLUGINS", "b")
    assert [ep.name for ep in manager._wanted_entry_points()] == ["b"]
    monkeypatch.delenv("DECLML_PLUGINS")
    assert len(manager._wanted_entry_points()) == 2


def test_broken_entry_point_is_skipped_with_a_warning(monkeypatch, capsys):
    from declml.registry import manager

    def explode():
        raise ImportError("missing dependency")

    fake = [SimpleNamespace(name="broken", value="broken_pkg:plugin", load=explode)]
    monkeypatch.setattr(manager, "_wanted_entry_points", lambda: fake)
    manager.get_plugin_manager.cache_clear()
    try:
        pm = manager.get_plugin_manager()
        assert pm.get_plugin("broken") is None
        assert pm.get_plugin("declml.builtins.keras_components") is not None
    finally:
        manager.reset()
    assert "plugin 'broken'" in capsys.readouterr().err


def test_every_hookspec_is_documented_and_implemented_by_a_builtin():
    from importlib import import_module

    specs = [n for n in dir(hookspecs) if n.startswith("declml_")]
    builtins = [import_module(m) for m in BUILTIN_PLUGINS]
    for name in specs:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert any(hasattr(m, name) for m in builtins), f"no built-in implements {name}"
