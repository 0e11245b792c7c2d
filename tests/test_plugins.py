"""Plugins end to end: every hook, spec-local plugins, saved models that need plugins."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from pydantic import Field
from typer.testing import CliRunner

from declml import hookimpl
from declml.cli.main import app
from declml.errors import PluginError, SpecError
from declml.registry import hookspecs
from declml.spec.api import load_spec, spec_from_data
from declml.spec.base import StrictModel
from declml.testing import PluginTester, plugin_registry
from tests.conftest import REPO, TINY_SPEC
from tests.plugin_fixtures import team_plugin

HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("declml_"))
DOCS = REPO / "docs" / "writing-plugins.md"
LOCAL_PLUGIN = "from tests.plugin_fixtures.team_plugin import *  # noqa: F403\n"
# A team's in-repo plugin: a light registration module and its sibling with the layer.
GAIN_PLUGIN = """\
from declml import hookimpl
from tests.plugin_fixtures.team_plugin import declml_register_transforms  # noqa: F401

@hookimpl
def declml_register_layers(register):
    register.layer("Gain", "gain_layers:Gain", params={"factor": {"default": 1.0}})
"""
GAIN_LAYERS = """\
import keras

class Gain(keras.layers.Layer):
    def __init__(self, factor=1.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}
"""


def _team():
    return plugin_registry(("team", team_plugin))


def _spec(extra: str = "", layers: str = "") -> str:
    """TINY_SPEC with layers inserted before Flatten; ``extra`` replaces its fit section."""
    text = TINY_SPEC
    if extra.startswith("fit:"):
        text = text[: text.index("fit:")]
    if layers:
        text = text.replace("    - {type: Flatten}\n", f"{layers}    - {{type: Flatten}}\n")
    return text + extra


# -- every hook is documented and tested ---------------------------------------------------


def test_every_hook_has_a_docstring_docs_and_a_test():
    docs = DOCS.read_text(encoding="utf-8")
    tests = "".join(p.read_text(encoding="utf-8") for p in (REPO / "tests").glob("test_*.py"))
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert name in docs, f"{name} is not described in {DOCS.name}"
        short = name.removeprefix("declml_")
        assert re.search(rf"def test_hook_{short}\b", tests), f"no test_hook_{short}"


# -- register hooks ------------------------------------------------------------------------


def test_hook_register_layers():
    tester = PluginTester(("team", team_plugin))
    assert tester.validate("layer", "Scale", {"factor": 3.0}).args == {"factor": 3.0}
    messages = tester.errors("layer", "Scale", {"factor": -1})
    assert messages == ["factor: Scale: Input should be greater than 0; got -1"]
    assert "no argument 'factr'; did you mean 'factor'" in tester.errors(
        "layer", "Scale", {"factr": 1})[0]
    # searched values are checked at every value the space can reach
    assert "the search space includes -1" in tester.errors(
        "layer", "Scale", {"factor": {"choice": [1.0, -1]}})[0]


class _Args(StrictModel):
    strength: float = Field(1.0, ge=0)


class _Families:
    @hookimpl
    def declml_register_losses(self, register):
        register.loss("soft_mse", "keras.losses:MeanSquaredError", spec_model=_Args)

    @hookimpl
    def declml_register_metrics(self, register):
        register.metric("soft_acc", "keras.metrics:CategoricalAccuracy", spec_model=_Args)

    @hookimpl
    def declml_register_optimizers(self, register):
        register.optimizer("slow_sgd", "keras.optimizers:SGD", spec_model=_Args)

    @hookimpl
    def declml_register_activations(self, register):
        register.activation("tanh2", "keras.activations:tanh")


def _families_spec(**compile_section: str) -> str:
    text = _spec()
    head, tail = text[: text.index("compile:")], text[text.index("fit:"):]
    return head + "compile:\n" + "".join(f"  {k}: {v}\n"
                                         for k, v in compile_section.items()) + tail


@pytest.mark.parametrize("kind, name", [("loss", "soft_mse"), ("metric", "soft_acc"),
                                        ("optimizer", "slow_sgd")])
def test_plugin_compile_components_validate_with_their_models(kind, name):
    tester = PluginTester(("fam", _Families()))
    tester.validate(kind, name, {"strength": 0.5})
    assert "greater than or equal to 0" in tester.errors(kind, name, {"strength": -2})[0]


def test_hook_register_losses():
    registry = plugin_registry(("fam", _Families()))
    spec = spec_from_data(_families_spec(optimizer="adam", loss="soft_mse"), registry)
    assert spec.compile.loss.type == "soft_mse"


def test_hook_register_metrics():
    registry = plugin_registry(("fam", _Families()))
    spec = spec_from_data(_families_spec(loss="mse", metrics="[soft_acc, fam.soft_acc]"),
                          registry)
    assert [m.type for m in spec.compile.metrics] == ["soft_acc", "fam.soft_acc"]


def test_hook_register_optimizers():
    registry = plugin_registry(("fam", _Families()))
    with pytest.raises(SpecError, match="unknown optimizer 'slow_sdg'; did you mean 'slow_sgd'"):
        spec_from_data(_families_spec(optimizer="slow_sdg", loss="mse"), registry)


def test_hook_register_activations():
    registry = plugin_registry(("fam", _Families()))
    spec = spec_from_data(_spec().replace("activation: relu", "activation: tanh2"), registry)
    assert spec.model.layers[0].layer.args["activation"] == "tanh2"


def test_hook_register_datasets():
    class Options(StrictModel):
        n: int = Field(ge=10)

    class Data:
        @hookimpl
        def declml_register_datasets(self, register):
            register.dataset("ramp", "tests.test_plugins:_ramp", spec_model=Options)

    registry = plugin_registry(("data", Data()))
    text = _spec().replace("dataset: digits", "dataset: ramp\n  n: 3")
    with pytest.raises(SpecError, match=r"data\.n: Input should be greater than or equal to 10"):
        spec_from_data(text, registry)
    spec = spec_from_data(text.replace("n: 3", "n: 40"), registry)
    from declml.data.pipeline import load_splits

    assert len(load_splits(spec, registry).train) == 40


def _ramp(options):
    from declml.data.splits import Split, Splits

    x = np.arange(options.n * 64, dtype="float32").reshape(options.n, 8, 8)
    return Splits(Split(x, np.arange(options.n) % 10))


def test_hook_register_callbacks():
    registry = _team()
    spec = spec_from_data(_spec("fit: {epochs: 1, callbacks: [{type: CountEpochs, label: x}, "
                                "{type: EarlyStopping, patience: 2}]}\n"), registry)
    assert [c.type for c in spec.fit.callbacks] == ["CountEpochs", "EarlyStopping"]
    with pytest.raises(SpecError) as info:
        spec_from_data(_spec("fit: {callbacks: [{type: EarlyStoping}, "
                             "{type: CountEpochs, label: ''}]}\n"), registry)
    text = str(info.value)
    assert "did you mean 'EarlyStopping'" in text
    assert "fit.callbacks[1].label" in text and "at least 1 character" in text


def test_hook_register_transforms():
    registry = _team()
    spec = spec_from_data(_spec().replace(
        "  test_split: 0.25\n",
        "  test_split: 0.25\n  transforms: [{type: shift, by: 1}, standardize]\n"), registry)
    from declml.data.pipeline import prepare

    data = prepare(spec, registry, log=lambda _: None)
    assert [f.ref.type for f in data.transforms] == ["shift", "standardize"]
    # standardize is fitted on the training split only
    assert np.allclose(data.train.x.mean(axis=0), 0, atol=1e-5)
    assert not np.allclose(data.test.x.mean(axis=0), 0, atol=1e-5)
    with pytest.raises(SpecError, match=r"data\.transforms\[0\]: shift requires 'by'"):
        spec_from_data(_spec().replace("  test_split: 0.25\n",
                                       "  test_split: 0.25\n  transforms: [shift]\n"), registry)


def test_hook_register_commands(monkeypatch):
    from declml.registry import manager

    monkeypatch.setattr(manager, "third_party_plugins", lambda: [("team", team_plugin)])
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"])
    assert listing.exit_code == 0 and "team-hello" in listing.stdout
    result = runner.invoke(app, ["team-hello", "--name", "ana"])
    assert result.exit_code == 0, result.output
    assert "hello, ana" in result.stdout


def test_a_plugin_cannot_take_a_builtin_command_name(monkeypatch, capsys):
    class Taker:
        @hookimpl
        def declml_register_commands(self, register):
            register.command("train", "tests.plugin_fixtures.team_parts:hello")

    from declml.registry import manager

    monkeypatch.setattr(manager, "third_party_plugins", lambda: [("taker", Taker())])
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "a name declml uses itself" in result.output + capsys.readouterr().err


# -- lifecycle hooks -----------------------------------------------------------------------


@pytest.mark.backends
def test_hook_model_built():
    from declml.builder.model import build_model

    team_plugin.CALLS.clear()
    registry = _team()
    spec = spec_from_data(_spec(layers="    - {type: Scale, factor: 0.5}\n"), registry)
    model = build_model(spec, registry)
    assert [("model_built", model.name)] == team_plugin.CALLS

    class Strict:
        @hookimpl
        def declml_model_built(self, model, spec):
            raise ValueError("models must have at most 3 layers")

    with pytest.raises(PluginError, match="plugin 'strict' failed after the model was built"):
        build_model(spec, plugin_registry(("team", team_plugin), ("strict", Strict())))


@pytest.mark.backends
def test_hook_run_finished(tmp_path):
    from declml.run.train import train

    class Flaky:
        @hookimpl
        def declml_run_finished(self, run_dir, spec, metrics):
            raise ConnectionError("tracker unreachable")

    registry = plugin_registry(("team", team_plugin), ("flaky", Flaky()))
    spec = spec_from_data(_spec("fit: {epochs: 1, callbacks: [{type: CountEpochs}]}\n",
                                layers="    - {type: Scale}\n"), registry)
    logs: list[str] = []
    result = train(spec, tmp_path / "run", registry=registry, log=logs.append, verbose=0)
    assert (result.run_dir / "team_report.txt").read_text().startswith("tiny: {")
    info = json.loads((result.run_dir / "run.json").read_text())
    assert info["status"] == "complete"
    assert info["hook_errors"] == ["flaky: ConnectionError: tracker unreachable"]
    assert any("plugin 'flaky' failed after the run" in line for line in logs)
    assert info["plugins"] == [{"name": "team", "components": ["layer:team.Scale",
                                                               "callback:team.CountEpochs"]}]


# -- spec-local plugins --------------------------------------------------------------------


def test_local_plugins_need_an_explicit_opt_in(write_spec, monkeypatch):
    write_spec(LOCAL_PLUGIN, "team_layers.py")
    path = write_spec("plugins: [team_layers.py]\n" + _spec(layers="    - {type: Scale}\n"))
    monkeypatch.delenv("DECLML_ALLOW_LOCAL_PLUGINS", raising=False)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issue = info.value.issues[0]
    assert issue.path == "plugins" and issue.source.endswith("spec.yaml:1:10")
    assert "runs their Python code" in issue.message and "--allow-local-plugins" in issue.message
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 2 and "--allow-local-plugins" in result.output
    result = CliRunner().invoke(app, ["validate", str(path), "--allow-local-plugins"])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("DECLML_ALLOW_LOCAL_PLUGINS", "1")
    spec = load_spec(path)
    assert spec.plugins == [str(path.parent / "team_layers.py")]  # absolute in the lock


def test_a_broken_local_plugin_is_named(write_spec):
    write_spec("raise RuntimeError('half-written module')\n", "broken_layers.py")
    path = write_spec("plugins: [broken_layers.py, missing.py]\n" + _spec())
    with pytest.raises(PluginError, match=r"broken_layers\.py' failed to load: RuntimeError"):
        load_spec(path, allow_local_plugins=True)


# -- saved models that use plugins ---------------------------------------------------------


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "DECLML_PLUGINS": "none"}
    env.pop("DECLML_ALLOW_LOCAL_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "declml", *args], capture_output=True,
                          text=True, env=env, cwd=REPO, timeout=300)


@pytest.mark.backends
def test_plugin_layer_model_reloads_in_a_fresh_process(write_spec, tmp_path):
    from declml.run.train import train

    write_spec(GAIN_LAYERS, "gain_layers.py")
    write_spec(GAIN_PLUGIN, "gain_plugin.py")
    path = write_spec("plugins: [gain_plugin.py]\n" + _spec(
        "fit: {epochs: 1}\n", layers="    - {type: Gain, factor: 0.5}\n").replace(
        "  test_split: 0.25\n", "  test_split: 0.25\n  transforms: [{type: shift, by: -0.5}]\n"))
    spec = load_spec(path, allow_local_plugins=True)
    result = train(spec, tmp_path / "run", log=lambda _: None, verbose=0)
    run_dir = result.run_dir
    info = json.loads((run_dir / "run.json").read_text())
    assert info["plugins"][0]["source"].endswith("gain_plugin.py")
    assert json.loads((run_dir / "transforms.json").read_text())[0]["type"] == "shift"

    from declml.run.saved import load_run

    with pytest.raises(PluginError, match=r"local plugin modules .*--allow-local-plugins"):
        load_run(run_dir)

    evaluated = _run(["evaluate", str(run_dir), "--allow-local-plugins"])
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout)
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["examples"] == saved["examples"]
    assert metrics["loss"] == pytest.approx(result.metrics["loss"], rel=1e-4)

    from sklearn.datasets import load_digits

    raw = load_digits().images[:3]
    np.save(tmp_path / "x.npy", raw)
    predicted = _run(["predict", str(run_dir), str(tmp_path / "x.npy"), "--allow-local-plugins"])
    assert predicted.returncode == 0, predicted.stderr
    lines = [json.loads(line) for line in predicted.stdout.splitlines()]
    assert len(lines) == 3 and all(len(r["probabilities"]) == 10 for r in lines)
    # the same preprocessing and transforms as in training
    expected = result.model.predict(((raw / 16.0).reshape(3, 8, 8, 1) - 0.5).astype("float32"),
                                    verbose=0)
    assert [r["class"] for r in lines] == list(expected.argmax(axis=1))


@pytest.mark.backends
def test_a_missing_plugin_names_the_package_to_install(tmp_path):
    from declml.run.saved import load_run
    from declml.run.train import train

    result = train(spec_from_data(_spec("fit: {epochs: 1}\n")), tmp_path / "run",
                   log=lambda _: None, verbose=0)
    run_json = result.run_dir / "run.json"
    info = json.loads(run_json.read_text())
    info["plugins"] = [{"name": "ghost", "distribution": "declml-ghost", "version": "1.2",
                        "components": ["layer:ghost.Boo"]}]
    run_json.write_text(json.dumps(info))
    with pytest.raises(PluginError, match=r"plugin 'ghost', which is not loaded; "
                                          r"pip install declml-ghost==1\.2"):
        load_run(result.run_dir)
    cli = CliRunner().invoke(app, ["predict", str(result.run_dir), str(tmp_path / "none.npy")])
    assert cli.exit_code == 2 and "does not exist" in cli.output


def test_plugins_command_lists_plugins_and_components():
    result = CliRunner().invoke(app, ["plugins", "--json"])
    assert result.exit_code == 0
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["keras"]["builtin"] and "Conv2D" in rows["keras"]["components"]["layer"]
    assert rows["transforms"]["components"]["transform"] == ["clip", "standardize"]
    table = CliRunner().invoke(app, ["plugins"])
    assert table.exit_code == 0 and "callbacks: EarlyStopping" in table.stdout


def test_testing_helpers_fail_with_declml_messages():
    tester = PluginTester(("team", team_plugin))
    with pytest.raises(pytest.fail.Exception, match="unknown layer 'Scal'; did you mean"):
        tester.component("layer", "Scal")
    with pytest.raises(pytest.fail.Exception, match="greater than 0"):
        tester.validate("layer", "Scale", {"factor": 0})


@pytest.mark.backends
def test_testing_helpers_round_trip_a_plugin_layer():
    tester = PluginTester(("team", team_plugin))
    out = tester.forward("Scale", {"factor": 3.0}, input_shape=(4,))
    assert out.shape == (2, 4)
    reloaded = tester.round_trip_layer("Scale", {"factor": 3.0}, input_shape=(4,))
    assert reloaded.layers[-1].factor == 3.0


def test_plugin_registration_does_not_import_keras(tmp_path):
    code = ("import sys; from tests.plugin_fixtures import team_plugin; "
            "from declml.testing import plugin_registry; "
            "r = plugin_registry(('team', team_plugin)); assert r.find('layer', 'Scale'); "
            "assert 'keras' not in sys.modules, 'keras imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO,
                   env={**os.environ, "PYTHONPATH": str(REPO)})


def test_docs_page_exists_and_is_linked_from_the_readme():
    assert DOCS.is_file()
    assert "docs/writing-plugins.md" in (REPO / "README.md").read_text(encoding="utf-8")



def test_malformed_plugins_are_skipped_with_a_reason(monkeypatch, capsys):
    from types import SimpleNamespace

    from declml.registry import manager

    class WrongArgs:
        @hookimpl
        def declml_register_layers(self, reg):  # pluggy rejects the argument name
            pass

    class Typo:
        @hookimpl
        def declml_register_layer(self, register):
            pass

    eps = [SimpleNamespace(name=n, value=f"{n}_pkg", dist=None, load=lambda p=p: p)
           for n, p in (("wrong", WrongArgs()), ("typo", Typo()), ("keras", Typo()))]
    monkeypatch.setattr(manager, "_entry_points", lambda: eps)
    monkeypatch.delenv("DECLML_PLUGINS")
    manager.reset()
    try:
        registry = manager.get_registry()
        assert "reg" in registry.plugins["wrong"].error
        assert registry.plugins["keras"].builtin and not registry.plugins["keras"].error
        assert "already taken" in registry.plugins["keras (keras_pkg)"].error
        assert registry.get("layer", "Dense").plugin == "keras"
    finally:
        monkeypatch.undo()
        manager.reset()
    err = capsys.readouterr().err
    assert "declml_register_layer, which is not a declml hook (a typo?)" in err


@pytest.mark.backends
def test_a_plugin_activation_builds_and_saves(tmp_path):
    from declml.builder.model import build_model

    registry = plugin_registry(("fam", _Families()))
    spec = spec_from_data(_spec().replace("activation: relu", "activation: tanh2"), registry)
    model = build_model(spec, registry)
    model.save(tmp_path / "m.keras")
    import keras

    keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)


def test_plugin_layers_take_the_arguments_every_keras_layer_takes():
    tester = PluginTester(("team", team_plugin))
    tester.validate("layer", "Scale", {"name": "scale_1", "dtype": "float32",
                                       "trainable": False})
