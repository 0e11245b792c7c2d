"""Security: a spec, a run directory or an input file cannot make declml run code.

One test (or parametrized family) per guarantee, each able to fail:

* YAML tags that construct Python objects (``!!python/...``) are refused, in spec
  files and in ``--set`` values, and nothing they name ever runs;
* layers that run arbitrary code (``Lambda`` and the wrappers of foreign code) are
  refused at validation, in YAML and JSON specs and through ``--set``;
* a spec's local plugin modules are not imported unless the user allows it;
* saved models are loaded with ``safe_mode``: a ``.keras`` file holding a Python
  lambda is refused and the lambda never runs;
* no pickle: ``.npy``/``.npz`` files holding object arrays are refused by ``predict``
  and by the data loaders, and the objects in them are never unpickled;
* the package source never calls the unsafe APIs (pickle, eval/exec, unsafe YAML,
  ``allow_pickle=True``, ``safe_mode=False``, ...).

Every payload creates a marker file when it runs, and each test shows first (or with a
control) that the payload is live, so "the marker is absent" means "the code never ran".
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from declml.cli.main import app
from declml.errors import ArtifactError, DataError, DeclmlError, PluginError, SpecError
from declml.spec.api import ALLOW_LOCAL_PLUGINS_ENV, load_spec, spec_from_data
from tests.conftest import REPO, TINY_SPEC

runner = CliRunner()
PACKAGE = REPO / "declml"


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch):
    """DECLML_DEBUG=1 turns errors into tracebacks on purpose; these tests need it off."""
    monkeypatch.delenv("DECLML_DEBUG", raising=False)


def _invoke(*args: Any) -> Any:
    result = runner.invoke(app, [str(a) for a in args])
    assert "Traceback" not in result.output, result.output
    return result


# --- YAML tags --------------------------------------------------------------------------------

#: (id, YAML value); each creates MARKER when constructed by an unsafe loader.
LIVE_TAGS = [
    ("apply-os.system", "!!python/object/apply:os.system ['touch MARKER']"),
    ("apply-open", "!!python/object/apply:builtins.open ['MARKER', 'w']"),
    ("apply-subprocess", "!!python/object/apply:subprocess.check_call [[touch, 'MARKER']]"),
    ("new-os.system", "!!python/object/new:os.system ['touch MARKER']"),
    ("verbatim", "!<tag:yaml.org,2002:python/object/apply:os.system> ['touch MARKER']"),
    ("reduce-state", "!!python/object/apply:builtins.open {args: ['MARKER', 'w']}"),
]
#: Tags that name Python objects without running anything, refused all the same.
INERT_TAGS = [
    ("name", "!!python/name:os.system ''"),
    ("module", "!!python/module:os ''"),
    ("object", "!!python/object:pathlib.PurePosixPath {}"),
    ("tuple", "!!python/tuple [1, 2]"),
]

_where = {"value": lambda tag: TINY_SPEC.replace("name: tiny", f"name: {tag}"),
          "flow-item": lambda tag: TINY_SPEC.replace("reshape: [8, 8, 1]",
                                                     f"reshape: [8, {tag}, 1]"),
          "section": lambda tag: TINY_SPEC.replace(
              "fit:\n  epochs: 2\n  batch_size: 64\n  validation: test\n", f"fit: {tag}\n"),
          "key": lambda tag: TINY_SPEC.replace("seed: 3", f"? {tag}\n: 3"),
          "alias": lambda tag: TINY_SPEC.replace("seed: 3", f"x: &evil {tag}\nseed: *evil")}


def _with_marker(text: str, marker: Path) -> str:
    return text.replace("MARKER", marker.as_posix())


@pytest.mark.parametrize("tag", [t for _, t in LIVE_TAGS], ids=[i for i, _ in LIVE_TAGS])
def test_the_tag_payloads_are_live(tag, tmp_path):
    """Control: an unsafe loader does run them (so an absent marker below means something)."""
    marker = tmp_path / "pwned"
    document = yaml.unsafe_load(_with_marker(f"value: {tag}\n", marker))
    if hasattr(document["value"], "close"):
        document["value"].close()
    assert marker.exists()


@pytest.mark.parametrize("where", sorted(_where))
@pytest.mark.parametrize("tag", [t for _, t in LIVE_TAGS + INERT_TAGS],
                         ids=[i for i, _ in LIVE_TAGS + INERT_TAGS])
def test_python_tags_in_a_spec_are_refused_and_never_run(tag, where, write_spec, tmp_path):
    marker = tmp_path / "pwned"
    path = write_spec(_with_marker(_where[where](tag), marker))
    with pytest.raises(SpecError) as info:
        load_spec(path, allow_local_plugins=False)
    # a tagged key is refused as a key that is not a plain name
    said = ("python/", "is not allowed") if where != "key" else ("key",)
    assert any(all(s in i.message for s in said)
               and re.search(r"spec\.yaml:\d+:\d+$", i.source or "") for i in info.value.issues
               ), info.value
    result = _invoke("validate", path)
    assert result.exit_code == 2 and said[-1] in result.stderr, result.output
    assert not marker.exists()


def test_a_tag_directive_cannot_abbreviate_the_python_prefix(write_spec, tmp_path):
    marker = tmp_path / "pwned"
    text = ("%TAG !py! tag:yaml.org,2002:python/object/apply:\n---\n"
            + TINY_SPEC.replace("name: tiny", f"name: !py!os.system ['touch {marker}']"))
    yaml.unsafe_load(text)  # control: this payload is live
    assert marker.exists()
    marker.unlink()
    result = _invoke("validate", write_spec(text))
    assert result.exit_code == 2 and "python/object/apply:os.system' is not allowed" in \
        result.stderr, result.output
    assert not marker.exists()


@pytest.mark.parametrize("tag", [t for _, t in LIVE_TAGS + INERT_TAGS],
                         ids=[i for i, _ in LIVE_TAGS + INERT_TAGS])
def test_python_tags_in_set_values_are_refused_and_never_run(tag, write_spec, tmp_path):
    marker = tmp_path / "pwned"
    path = write_spec(TINY_SPEC)
    override = _with_marker(f"fit.epochs={tag}", marker)
    with pytest.raises(SpecError) as info:
        load_spec(path, [override], allow_local_plugins=False)
    assert any("is not allowed" in i.message and i.source == f"--set {override}"
               for i in info.value.issues), info.value
    result = _invoke("validate", path, "--set", override)
    assert result.exit_code == 2, result.output
    assert "is not allowed" in result.stderr and "--set fit.epochs=" in result.stderr
    assert not marker.exists()


# --- layers that run code ---------------------------------------------------------------------

#: Keras layers that run arbitrary code; the registry must refuse each by name, with why.
CODE_LAYERS = ["Lambda", "TFSMLayer", "TorchModuleWrapper", "JaxLayer", "FlaxLayer"]
#: Base classes and plumbing that are not layers one stacks (refused as unknown).
NOT_LAYERS = ["Layer", "Wrapper", "InputLayer", "Input", "InputSpec", "Pipeline"]


@pytest.mark.parametrize("layer", CODE_LAYERS)
def test_code_running_layers_are_refused_at_validation(layer, write_spec):
    path = write_spec(TINY_SPEC.replace("{type: Flatten}",
                                        f"{{type: {layer}, function: 'lambda x: x'}}"))
    with pytest.raises(SpecError) as info:
        load_spec(path, allow_local_plugins=False)
    [issue] = [i for i in info.value.issues if i.path == "model.layers[1].type"]
    assert f"layer {layer!r} is not available" in issue.message
    assert "specs cannot run code" in issue.message
    assert issue.source.endswith("spec.yaml:12:14")
    result = _invoke("validate", path)
    assert result.exit_code == 2 and "specs cannot run code" in result.stderr, result.output


@pytest.mark.parametrize("layer", NOT_LAYERS)
def test_layer_plumbing_is_not_available(layer):
    with pytest.raises(SpecError, match=f"unknown layer '{layer}'"):
        spec_from_data(TINY_SPEC.replace("{type: Flatten}", f"{{type: {layer}}}"))


def test_lambda_is_refused_in_a_json_spec(write_spec):
    data = yaml.safe_load(TINY_SPEC)
    data["model"]["layers"][1] = {"type": "Lambda", "function": "lambda x: x"}
    path = write_spec(json.dumps(data, indent=2), "spec.json")
    with pytest.raises(SpecError) as info:
        load_spec(path, allow_local_plugins=False)
    [issue] = info.value.issues
    assert issue.path == "model.layers[1].type" and "specs cannot run code" in issue.message
    assert re.search(r"spec\.json:\d+:\d+$", issue.source), issue.source
    result = _invoke("validate", path)
    assert result.exit_code == 2 and "specs cannot run code" in result.stderr, result.output


def test_lambda_is_refused_through_set(write_spec):
    path = write_spec(TINY_SPEC)
    result = _invoke("validate", path, "--set", "model.layers[1].type=Lambda")
    assert result.exit_code == 2, result.output
    assert "layer 'Lambda' is not available" in result.stderr


@pytest.mark.parametrize("kind, fragment, text", [
    ("callback", "unknown callback 'LambdaCallback'",
     TINY_SPEC.replace("validation: test",
                       "validation: test\n  callbacks: [{type: LambdaCallback}]")),
    ("loss", "unknown loss 'LossFunctionWrapper'",
     TINY_SPEC.replace("loss: categorical_crossentropy", "loss: {type: LossFunctionWrapper}")),
    ("metric", "unknown metric 'MeanMetricWrapper'",
     TINY_SPEC.replace("metrics: [accuracy]", "metrics: [{type: MeanMetricWrapper}]")),
    ("activation", "unknown activation 'os.system'",
     TINY_SPEC.replace("activation: relu", "activation: os.system")),
])
def test_components_that_wrap_functions_are_refused(kind, fragment, text):
    with pytest.raises(SpecError, match=re.escape(fragment)):
        spec_from_data(text)


_NESTED_LAMBDA = {
    "Bidirectional": TINY_SPEC.replace(
        "{type: Flatten}", "{type: Reshape, target_shape: [8, 8]}\n"
        "    - {type: Bidirectional, layer: {type: Lambda, function: 'lambda x: x'}}\n"
        "    - {type: Flatten}"),
    "TimeDistributed": TINY_SPEC.replace(
        "{type: Flatten}", "{type: TimeDistributed, layer: {type: Lambda, function: 'lambda x: x'}}"
        "\n    - {type: Flatten}"),
}


@pytest.mark.parametrize("wrapper", sorted(_NESTED_LAMBDA))
def test_a_lambda_nested_in_a_wrapper_is_refused_at_validation(wrapper):
    with pytest.raises(SpecError, match="layer 'Lambda' is not available"):
        spec_from_data(_NESTED_LAMBDA[wrapper])


def _lambda_config(marker: Path) -> dict[str, Any]:
    """The Keras config of a Lambda layer whose Python code creates ``marker``."""
    from declml.backend import import_keras

    keras = import_keras()
    # the path is a constant of the code object, so it survives serialization
    function = eval(f"lambda *a, **k: (open({str(marker)!r}, 'w').close(), a[0])[1]")
    return keras.saving.serialize_keras_object(keras.layers.Lambda(function))


def _with_argument(arg: str, value: Any) -> dict[str, Any]:
    data = yaml.safe_load(TINY_SPEC)
    data["model"]["layers"][0][arg] = value
    return data


@pytest.mark.backends  # builds the Lambda's config with Keras
@pytest.mark.parametrize("arg", ["activation", "kernel_initializer"])
def test_a_serialized_lambda_in_an_argument_is_refused_at_validation(arg, tmp_path):
    data = _with_argument(arg, _lambda_config(tmp_path / "pwned"))
    with pytest.raises(SpecError, match="Lambda"):
        spec_from_data(data)


@pytest.mark.backends
def test_building_specs_with_a_smuggled_lambda_never_runs_it(registry, tmp_path):
    """Whatever validation lets through, building the model must not run the lambda."""
    from declml.backend import import_keras
    from declml.builder.model import build_model

    keras = import_keras()
    marker = tmp_path / "pwned"
    config = _lambda_config(marker)
    # control: without safe mode the serialized lambda runs when called (Keras fills the
    # config it deserializes in place, hence the copies)
    layer = keras.saving.deserialize_keras_object(copy.deepcopy(config), safe_mode=False)
    layer(np.zeros((1, 2), "float32"))
    assert marker.exists()
    marker.unlink()
    specs = {arg: _with_argument(arg, config) for arg in ("activation", "kernel_initializer")}
    for wrapper, text in _NESTED_LAMBDA.items():
        data = yaml.safe_load(text)
        nested = next(layer for layer in data["model"]["layers"] if layer["type"] == wrapper)
        nested["layer"]["function"] = config["config"]["function"]
        specs[wrapper] = data
    for what, data in specs.items():
        try:
            spec = spec_from_data(copy.deepcopy(data), registry)
        except SpecError:
            continue  # refused at validation (the tests above)
        with pytest.raises(DeclmlError):
            build_model(spec, registry)
        assert not marker.exists(), f"the lambda in {what} ran"


# --- local plugins ----------------------------------------------------------------------------


def test_a_spec_cannot_import_its_plugins_without_permission(write_spec, tmp_path, monkeypatch):
    marker = tmp_path / "pwned"
    write_spec(f"open({str(marker)!r}, 'w').close()\n", "evil_plugin.py")
    path = write_spec("plugins: [evil_plugin.py]\n" + TINY_SPEC)
    monkeypatch.delenv(ALLOW_LOCAL_PLUGINS_ENV, raising=False)
    with pytest.raises(SpecError, match="--allow-local-plugins"):
        load_spec(path)
    result = _invoke("validate", path)
    assert result.exit_code == 2 and "runs their Python code" in result.stderr, result.output
    assert not marker.exists()
    # control: with permission, the module is imported (and runs)
    load_spec(path, allow_local_plugins=True)
    assert marker.exists()


# --- saved models: safe_mode ------------------------------------------------------------------


def _run_directory(directory: Path, model: Any, *, plugins: list[str] | None = None) -> Path:
    """A run directory in the layout load_run reads (what declml train writes)."""
    from declml.spec.api import dump_spec

    directory.mkdir(parents=True)
    spec = spec_from_data(TINY_SPEC)
    lock = dump_spec(spec)
    if plugins:
        assert lock.count("\nplugins: []\n") == 1
        lock = lock.replace("\nplugins: []\n", f"\nplugins: {json.dumps(plugins)}\n")
    (directory / "spec.lock.yaml").write_text(lock, encoding="utf-8")
    (directory / "run.json").write_text(json.dumps({
        "status": "completed",
        "backend": _keras().backend.backend() if model is not None else None,
        "plugins": []}), encoding="utf-8")
    if model is not None:
        model.save(directory / "model.keras")
    return directory


def _keras() -> Any:
    from declml.backend import import_keras

    return import_keras()


def _model(marker: Path | None = None) -> Any:
    keras = _keras()
    inputs = keras.Input((8, 8, 1))
    x = inputs
    if marker is not None:
        x = keras.layers.Lambda(
            lambda t, p=str(marker): (open(p, "w").close(), t)[1])(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(x))


@pytest.mark.backends
def test_load_run_refuses_a_model_with_a_lambda_and_never_runs_it(tmp_path):
    from declml.run.saved import load_run

    plain = _run_directory(tmp_path / "plain", _model())
    assert load_run(plain).model.count_params() == 650  # control: the layout is complete

    marker = tmp_path / "pwned"
    evil = _run_directory(tmp_path / "evil", _model(marker))
    assert marker.exists()  # control: the lambda ran while the model was built
    marker.unlink()
    with pytest.raises(ArtifactError) as info:
        load_run(evil)
    message = str(info.value)
    assert "model.keras" in message and "Lambda" in message and "safe_mode" in message
    assert not marker.exists()

    np.save(tmp_path / "x.npy", np.zeros((1, 8, 8, 1), "float32"))
    result = _invoke("predict", evil, tmp_path / "x.npy")
    assert result.exit_code == 2 and "safe_mode" in result.stderr, result.output
    assert not marker.exists()


def test_load_run_does_not_import_the_local_plugins_of_a_run(tmp_path, monkeypatch):
    from declml.run.saved import load_run

    marker = tmp_path / "pwned"
    plugin = tmp_path / "evil_plugin.py"
    plugin.write_text(f"open({str(marker)!r}, 'w').close()\n", encoding="utf-8")
    run = _run_directory(tmp_path / "run", None, plugins=[str(plugin)])
    (run / "model.keras").write_bytes(b"not reached")
    monkeypatch.delenv(ALLOW_LOCAL_PLUGINS_ENV, raising=False)
    with pytest.raises(PluginError, match="--allow-local-plugins"):
        load_run(run)
    assert not marker.exists()


# --- no pickle ---------------------------------------------------------------------------------


class _Touch:
    """Unpickling this creates a file: the proof that a loader unpickled data."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (open, (self.path, "w"))


def _pickled_array(marker: Path) -> np.ndarray:
    array = np.empty(2, dtype=object)
    array[0], array[1] = _Touch(marker), _Touch(marker)
    return array


@pytest.fixture
def evil_arrays(tmp_path):
    """An .npy and an .npz holding object arrays that create ``pwned`` when unpickled."""
    marker = tmp_path / "pwned"
    npy, npz = tmp_path / "evil.npy", tmp_path / "evil.npz"
    np.save(npy, _pickled_array(marker), allow_pickle=True)
    np.savez(npz, x=_pickled_array(marker), y=np.zeros(2))
    for path in (npy, npz):  # control: unpickling runs the payload
        loaded = np.load(path, allow_pickle=True)
        array = loaded if isinstance(loaded, np.ndarray) else loaded["x"]
        for handle in array:
            handle.close()
        assert marker.exists()
        marker.unlink()
    return npy, npz, marker


@pytest.mark.parametrize("which", ["npy", "npz"])
def test_predict_inputs_with_object_arrays_are_refused(evil_arrays, which):
    from declml.run.inputs import read_inputs

    npy, npz, marker = evil_arrays
    path = npy if which == "npy" else npz
    with pytest.raises(DataError, match="pickle") as info:
        read_inputs(path)
    assert str(path) in str(info.value)
    assert not marker.exists()


@pytest.mark.backends
def test_declml_predict_refuses_pickled_inputs(evil_arrays, tmp_path):
    run = _run_directory(tmp_path / "run", _model())
    npy, npz, marker = evil_arrays
    for path in (npy, npz):
        result = _invoke("predict", run, path)
        assert result.exit_code == 2 and "pickle" in result.stderr, result.output
    assert not marker.exists()


def test_npz_dataset_with_object_arrays_is_refused(evil_arrays):
    from declml.builtins.datasets import NpzOptions
    from declml.data.sources import load_npz

    _, npz, marker = evil_arrays
    with pytest.raises(DataError, match="without pickle"):
        load_npz(NpzOptions(path=str(npz)))
    assert not marker.exists()


def test_npy_dataset_with_object_arrays_is_refused(evil_arrays, tmp_path):
    from declml.builtins.datasets import NpyOptions
    from declml.data.sources import load_npy

    npy, _, marker = evil_arrays
    np.save(tmp_path / "y.npy", np.zeros(2))
    for options in (NpyOptions(path=str(npy), targets=str(tmp_path / "y.npy")),
                    NpyOptions(path=str(tmp_path / "y.npy"), targets=str(npy))):
        with pytest.raises(DataError, match="without pickle"):
            load_npy(options)
    assert not marker.exists()


@pytest.mark.backends
def test_training_on_an_npz_with_object_arrays_is_a_user_error(evil_arrays, write_spec):
    _, npz, marker = evil_arrays
    path = write_spec(TINY_SPEC.replace("dataset: digits", f"dataset: npz\n  path: {npz}"))
    result = _invoke("train", path, "--output", path.parent / "run")
    assert result.exit_code == 2 and "pickle" in result.stderr, result.output
    assert not marker.exists()


# --- the package source -----------------------------------------------------------------------

#: Unsafe calls and references, by text. A line may opt out with "# security: allowed
#: (why)" — none does today.
UNSAFE_TEXT = {
    "pickle": re.compile(r"\b(c?pickle|dill|cloudpickle|joblib|shelve|marshal)\.(load|loads|"
                         r"Unpickler|open)\b|^\s*(import|from)\s+(c?pickle|dill|cloudpickle|"
                         r"shelve|marshal)\b"),
    "eval/exec": re.compile(r"(?<![\w.])(eval|exec|__import__)\s*\("),
    "unsafe YAML": re.compile(r"\byaml\.(load|load_all|unsafe_load\w*|full_load\w*)\s*\(|"
                              r"\byaml\.(C?Loader|C?UnsafeLoader|C?FullLoader)\b"),
    "allow_pickle=True": re.compile(r"allow_pickle\s*=\s*True"),
    "safe_mode=False": re.compile(r"safe_mode\s*=\s*False|enable_unsafe_deserialization"),
    "shell": re.compile(r"shell\s*=\s*True|\bos\.(system|popen)\s*\("),
}
ALLOWED = re.compile(r"#\s*security:\s*allowed\b")


def _unsafe_lines(source: str) -> list[str]:
    found = []
    for number, line in enumerate(source.splitlines(), start=1):
        if ALLOWED.search(line):
            continue
        found += [f"{number}: {what}: {line.strip()}" for what, rx in UNSAFE_TEXT.items()
                  if rx.search(line)]
    return found


def _call_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_call_name(node.value)}.{node.attr}"
    return "?"


def _is_const(node: ast.expr | None, value: Any) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def _unsafe_calls(source: str) -> list[str]:
    """Calls that must pass a safety switch: np.load(allow_pickle=False),
    load_model(safe_mode=True), yaml.load with a safe loader."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node.func)
        kw = {k.arg: k.value for k in node.keywords}
        if name in ("np.load", "numpy.load") and not _is_const(kw.get("allow_pickle"), False):
            found.append(f"{node.lineno}: {name} without allow_pickle=False")
        if name.endswith("load_model") and not _is_const(kw.get("safe_mode"), True):
            found.append(f"{node.lineno}: {name} without safe_mode=True")
        if "safe_mode" in kw and not _is_const(kw["safe_mode"], True):
            found.append(f"{node.lineno}: {name} with safe_mode not True")
        if "allow_pickle" in kw and not _is_const(kw["allow_pickle"], False):
            found.append(f"{node.lineno}: {name} with allow_pickle not False")
        if name in ("yaml.load", "yaml.load_all"):
            loader = kw.get("Loader") or (node.args[1] if len(node.args) > 1 else None)
            if not (loader is not None and re.fullmatch(r"(\w+\.)*(C?SafeLoader|SpecLoader)",
                                                        _call_name(loader))):
                found.append(f"{node.lineno}: {name} without a safe loader")
    return found


def _package_sources() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_the_scanners_catch_unsafe_code():
    """Control: each rule fires on a line that breaks it."""
    bad = {
        "pickle": "data = pickle.loads(blob)",
        "eval/exec": "value = eval(text)",
        "unsafe YAML": "doc = yaml.load(text, Loader=yaml.Loader)",
        "allow_pickle=True": "a = np.load(p, allow_pickle=True)",
        "safe_mode=False": "m = keras.saving.load_model(p, safe_mode=False)",
        "shell": "subprocess.run(cmd, shell=True)",
    }
    for what, line in bad.items():
        assert any(f": {what}: " in f for f in _unsafe_lines(line)), what
    assert not _unsafe_lines("m.eval()  # a method, not the builtin\nexec_module(m)\n")
    assert not _unsafe_lines("x = eval(s)  # security: allowed (test)\n")
    calls = _unsafe_calls("np.load(p)\nnp.load(p, allow_pickle=flag)\n"
                          "keras.saving.load_model(p)\nyaml.load(t, Loader=yaml.FullLoader)\n"
                          "f(safe_mode=mode)\n")
    assert len(calls) == 6, calls  # the second np.load breaks two rules
    assert not _unsafe_calls("np.load(p, allow_pickle=False)\n"
                             "keras.saving.load_model(p, safe_mode=True)\n"
                             "yaml.load(t, Loader=SpecLoader)\n")


def test_the_package_source_never_calls_unsafe_apis():
    sources = _package_sources()
    assert len(sources) > 50 and PACKAGE / "run" / "saved.py" in sources
    problems = []
    for path in sources:
        source = path.read_text(encoding="utf-8")
        rel = path.relative_to(REPO)
        problems += [f"{rel}:{p}" for p in _unsafe_lines(source) + _unsafe_calls(source)]
    assert not problems, "\n".join(problems)


def test_the_package_loads_models_and_arrays_only_through_the_safe_calls():
    """The safe calls above are actually there (the scan would pass on no calls at all)."""
    saved = (PACKAGE / "run" / "saved.py").read_text(encoding="utf-8")
    assert "load_model(path / MODEL_FILE, safe_mode=True)" in saved
    for module in ("run/inputs.py", "data/sources.py"):
        assert "np.load(path, allow_pickle=False)" in (PACKAGE / module).read_text("utf-8")


def test_a_lambda_among_the_searched_types_of_a_nested_layer_is_refused():
    text = TINY_SPEC.replace(
        "{type: Flatten}", "{type: TimeDistributed, layer: {type: {choice: [Lambda, Dense]}, "
        "units: 3}}\n    - {type: Flatten}")
    with pytest.raises(SpecError, match="layer 'Lambda' is not available"):
        spec_from_data(text)


def test_a_serialized_built_in_initializer_is_still_accepted():
    """Only serialized objects that would run code are refused; Keras's own initializer
    configs carry none and stay valid (they worked before the Lambda check)."""
    data = yaml.safe_load(TINY_SPEC)
    data["model"]["layers"][0]["kernel_initializer"] = {
        "class_name": "GlorotUniform", "config": {"seed": 1}}
    spec = spec_from_data(data)
    assert spec.model.layers[0].layer.args["kernel_initializer"]["class_name"] == "GlorotUniform"
