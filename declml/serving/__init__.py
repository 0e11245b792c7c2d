"""Serving a trained run over HTTP: ``declml serve RUN_DIR`` or, in your own ASGI app,

    >>> from declml.serving import create_app
    >>> app = create_app("runs/digits_cnn-20261124-101500")   # doctest: +SKIP

FastAPI is imported only when an app is created, so ``import declml.serving``
stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from declml.serving.app import create_app
    from declml.serving.service import ModelService, ServeSettings

__all__ = ["ModelService", "ServeSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from declml.serving.app import create_app

        return create_app
    if name in ("ModelService", "ServeSettings"):
        from declml.serving import service

        return getattr(service, name)
    raise AttributeError(f"module 'declml.serving' has no attribute {name!r}")
