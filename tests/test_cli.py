from __future__ import annotations

import json
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from declml.cli.main import app
from tests.conftest import SPECS, TINY_SPEC

runner = CliRunner()


def test_validate_ok():
    result = runner.invoke(app, ["validate", str(SPECS / "mnist_cnn.yaml")])
    assert result.exit_code == 0, result.output
    assert "valid" in result.stdout


def test_validate_bad_spec_lists_every_error_with_location(write_spec):
    path = write_spec(TINY_SPEC.replace("epochs: 2", "epoch: 2").replace("Flatten", "Flaten"))
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 2
    assert "invalid spec (2 errors)" in result.stderr
    assert f"{path}:12:" in result.stderr and "did you mean 'Flatten'" in result.stderr
    assert f"{path}:19:" in result.stderr and "did you mean 'epochs'" in result.stderr
    assert "Traceback" not in result.output


def test_set_errors_say_they_came_from_set(write_spec):
    result = runner.invoke(app, ["validate", str(write_spec(TINY_SPEC)),
                                 "--set", "fit.epochs=many"])
    assert result.exit_code == 2
    assert "--set fit.epochs=many" in result.stderr


@pytest.mark.parametrize("args, fragment", [
    (["validate", "does-not-exist.yaml"], "spec file not found"),
    (["train", "does-not-exist.yaml"], "spec file not found"),
    (["build", "does-not-exist.yaml"], "spec file not found"),
])
def test_missing_file_is_a_one_line_user_error(args, fragment):
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.output


def test_usage_error_exit_code():
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 2
    assert "Missing argument" in result.output


def test_no_command_shows_help():
    result = runner.invoke(app, [])
    assert "validate" in result.output and "train" in result.output


def _modules_after(args: list[str]) -> set[str]:
    code = (
        "import sys\n"
        "from declml.cli.main import app\n"
        "try:\n"
        f"    app({args!r}, standalone_mode=False)\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("args", [["--help"], ["schema"], ["train", "--help"],
                                  ["validate", str(SPECS / "mnist_cnn.yaml")]])
def test_fast_commands_do_not_import_keras(args):
    heavy = _modules_after(args) & {"keras", "jax", "tensorflow", "torch", "keras_tuner",
                                    "sklearn"}
    assert not heavy, f"{args} imported {heavy}"


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "declml", "--version"], capture_output=True,
                         text=True)
    assert out.returncode == 0 and out.stdout.startswith("declml ")


@pytest.mark.backends
def test_build_prints_the_summary():
    result = runner.invoke(app, ["build", str(SPECS / "mnist_cnn.yaml")])
    assert result.exit_code == 0, result.output
    assert "34,826" in result.stdout
    assert "Conv2D" in result.stdout


@pytest.mark.backends
def test_build_error_is_a_user_error(write_spec):
    path = write_spec(TINY_SPEC.replace("kernel_size: 3", "kernel_size: 30"))
    result = runner.invoke(app, ["build", str(path)])
    assert result.exit_code == 2
    assert "model.layers[0] (Conv2D)" in result.stderr


@pytest.mark.backends
def test_train_end_to_end(write_spec, tmp_path):
    out = tmp_path / "run"
    result = runner.invoke(app, ["train", str(write_spec(TINY_SPEC)), "--output", str(out),
                                 "--set", "fit.epochs=1"])
    assert result.exit_code == 0, result.output
    assert f"run saved to {out}" in result.stdout.replace("\n", "")
    assert "held out 0.25 as test" in result.stderr
    assert json.loads((out / "run.json").read_text())["epochs_completed"] == 1
    again = runner.invoke(app, ["train", str(write_spec(TINY_SPEC)), "--output", str(out)])
    assert again.exit_code == 2
    assert "never overwrites" in again.stderr


def test_bad_data_path_is_a_user_error(write_spec, tmp_path):
    text = TINY_SPEC.replace("dataset: digits", f"dataset: mnist\n  path: {tmp_path / 'no'}")
    result = runner.invoke(app, ["train", str(write_spec(text)), "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "does not exist" in result.stderr
    assert not (tmp_path / "r").exists()


def test_train_refuses_multi_input_models_before_loading_data(tmp_path):
    result = runner.invoke(app, ["train", str(SPECS / "multi_input_functional.yaml"),
                                 "-o", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert "has 3 inputs and 2 outputs" in result.stderr
    assert "data:" not in result.stderr  # refused before any data was read
    assert not (tmp_path / "r").exists()


def test_validate_and_build_announce_a_search_space():
    result = runner.invoke(app, ["validate", str(SPECS / "digits_depth_search.yaml")])
    assert result.exit_code == 0
    assert "search space of 6 hyperparameters" in result.stdout
