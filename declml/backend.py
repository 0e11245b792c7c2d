"""Choose the Keras backend before Keras is imported.

Keras reads ``KERAS_BACKEND`` exactly once, at import time, and falls back to
TensorFlow; with only JAX installed that import dies with
``ModuleNotFoundError: tensorflow``. Everything in declml that touches Keras
goes through :func:`import_keras`, which settles the backend first.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

from declml.errors import BackendError

__all__ = ["BACKENDS", "active_backend", "import_keras", "select_backend"]

#: Supported backends, in the order tried when nothing asks for one.
BACKENDS: tuple[str, ...] = ("jax", "tensorflow", "torch")

_INSTALL_HINT = (
    "install one with its extra: pip install 'declml[jax]' (recommended), "
    "'declml[tensorflow]' or 'declml[torch]'"
)


def _installed(backend: str) -> bool:
    return importlib.util.find_spec(backend) is not None


def select_backend(requested: str | None = None) -> str:
    """Return the backend to use, without importing anything heavy.

    Precedence: the ``KERAS_BACKEND`` environment variable, then ``requested``
    (a spec's ``backend:``), then the first installed of jax, tensorflow, torch.

    Raises:
        BackendError: the chosen backend is unknown or not installed, or none is.
    """
    env = os.environ.get("KERAS_BACKEND", "").strip()
    if env:
        choice, origin = env, "the KERAS_BACKEND environment variable"
    elif requested:
        choice, origin = requested, "the spec's 'backend'"
    else:
        for name in BACKENDS:
            if _installed(name):
                return name
        raise BackendError(f"no Keras backend is installed; {_INSTALL_HINT}")
    if choice not in BACKENDS:
        raise BackendError(
            f"unsupported Keras backend {choice!r} from {origin}; "
            f"expected one of {', '.join(BACKENDS)}"
        )
    if not _installed(choice):
        raise BackendError(
            f"backend {choice!r} (from {origin}) is not installed; "
            f"run: pip install 'declml[{choice}]'"
        )
    return choice


def active_backend() -> str | None:
    """The backend Keras already runs on, or None if Keras is not imported yet."""
    if "keras" not in sys.modules:
        return None
    return sys.modules["keras"].backend.backend()


def import_keras(requested: str | None = None) -> ModuleType:
    """Import Keras on the right backend and return the module.

    Raises:
        BackendError: as :func:`select_backend`, or Keras was already imported
            on a different backend than the one now requested.
    """
    choice = select_backend(requested)
    current = active_backend()
    if current is not None:
        if current != choice:
            raise BackendError(
                f"Keras is already running on {current!r} in this process, so it cannot "
                f"switch to {choice!r}; run declml in a new process with KERAS_BACKEND={choice}"
            )
        return sys.modules["keras"]
    os.environ["KERAS_BACKEND"] = choice
    # Quiet TensorFlow's start-up chatter unless the user asked for it.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    return keras
