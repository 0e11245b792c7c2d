from __future__ import annotations

import subprocess
import sys

import pytest

from declml import backend
from declml.errors import BackendError


@pytest.fixture
def installed(monkeypatch):
    """Pretend only some backends are installed."""
    def set_installed(*names: str) -> None:
        monkeypatch.setattr(backend, "_installed", lambda name: name in names)

    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    return set_installed


def test_environment_wins_over_spec(installed, monkeypatch):
    installed("jax", "torch")
    monkeypatch.setenv("KERAS_BACKEND", "torch")
    assert backend.select_backend("jax") == "torch"


def test_spec_choice_used_without_environment(installed):
    installed("jax", "torch")
    assert backend.select_backend("torch") == "torch"


def test_first_installed_in_order(installed):
    installed("torch", "tensorflow")
    assert backend.select_backend(None) == "tensorflow"
    installed("torch")
    assert backend.select_backend(None) == "torch"


def test_none_installed_names_the_extras(installed):
    installed()
    with pytest.raises(BackendError, match=r"pip install 'declml\[jax\]'"):
        backend.select_backend(None)


def test_requested_but_missing_names_its_extra(installed):
    installed("jax")
    with pytest.raises(BackendError, match=r"declml\[tensorflow\]"):
        backend.select_backend("tensorflow")


def test_unknown_backend_from_environment(installed, monkeypatch):
    installed("jax")
    monkeypatch.setenv("KERAS_BACKEND", "theano")
    with pytest.raises(BackendError, match="KERAS_BACKEND environment variable"):
        backend.select_backend(None)


def test_import_keras_sets_the_backend_first():
    """With no KERAS_BACKEND, Keras must come up on the selected backend, not TensorFlow."""
    code = ("import os; os.environ.pop('KERAS_BACKEND', None); "
            "from declml.backend import import_keras, select_backend; "
            "k = import_keras(); assert k.backend.backend() == select_backend(), "
            "k.backend.backend(); print(k.backend.backend())")
    env = {k: v for k, v in __import__("os").environ.items() if k != "KERAS_BACKEND"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() in backend.BACKENDS
