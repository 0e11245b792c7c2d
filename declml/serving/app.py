"""The FastAPI application: ``/predict``, ``/health``, ``/metadata`` and ``/docs``.

``create_app(run_dir)`` is all a user needs to mount a trained run in their own
ASGI application; ``declml serve`` runs the same app on uvicorn. The request
body of ``/predict`` is read and checked by :mod:`declml.serving.signature`
(fast, with messages naming the instance and input); the OpenAPI document is
generated from that same signature once the model is loaded, so ``/docs``
shows the real shapes.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from declml.serving.service import ModelService, ServeSettings
from declml.serving.signature import RequestProblem

__all__ = ["BodyLimit", "create_app"]

log = logging.getLogger("declml.serve")

_PROBLEM_SCHEMA = {
    "type": "object", "required": ["error"],
    "properties": {
        "error": {"type": "string", "description": "what is wrong and how to fix it"},
        "problems": {"type": "array", "items": {
            "type": "object",
            "properties": {"instance": {"type": "integer"}, "input": {"type": ["string", "null"]},
                           "expected": {"type": "string"}, "got": {"type": "string"},
                           "message": {"type": "string"}}}},
        "problems_not_listed": {"type": "integer"},
    },
}


class BodyLimit:
    """Answers 413 to request bodies over ``max_bytes`` before the app reads them.

    A declared ``Content-Length`` is checked at once; a streamed body is counted
    as it arrives, then handed on whole.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        for key, value in scope.get("headers", []):
            if key == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared > self.max_bytes:
                    await self._too_large(send, declared)
                    return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send, None)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send, declared: int | None) -> None:
        size = f"{declared:,} bytes" if declared is not None else \
            f"over {self.max_bytes:,} bytes"
        response = JSONResponse(
            {"error": f"the request body is {size}; this server takes at most "
                      f"{self.max_bytes:,} bytes (split the request, or start the server "
                      "with a larger --max-body-mb)"},
            status_code=413, headers={"Connection": "close"})
        await response({"type": "http"}, _nothing, send)


async def _nothing() -> Message:
    return {"type": "http.disconnect"}


def _problem_response(problem: RequestProblem) -> JSONResponse:
    headers = {"Retry-After": "1"} if problem.status == 503 else None
    return JSONResponse(problem.body(), status_code=problem.status, headers=headers)


def create_app(run_dir: str | Path, settings: ServeSettings | None = None, *,
               service: ModelService | None = None) -> FastAPI:
    """A FastAPI app serving one trained run.

    The model loads on a background thread at once (``/health`` answers 503
    "loading" until it is loaded and warmed up), unless ``service`` is given
    already loaded (``declml serve`` loads before it binds the port, so a bad
    run directory is an error message, not a server that never gets ready).

    Args:
        run_dir: a directory written by ``declml train`` (or ``best/`` of a search).
        settings: limits and batching; defaults are :class:`ServeSettings`'s.
        service: a :class:`ModelService` to use instead of creating one.
    """
    service = service or ModelService(run_dir, settings)
    settings = service.settings
    service.start()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        service.close()

    app = FastAPI(title="declml model server", version="1", docs_url="/docs",
                  redoc_url=None, lifespan=lifespan,
                  description="Predictions from a run trained with declml. `GET /metadata` "
                              "describes the inputs; `POST /predict` takes "
                              '`{"instances": [...]}`.')
    app.state.service = service
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/docs")

    @app.get("/health", summary="Ready when the model is loaded and warmed up",
             responses={503: {"description": "still loading, or failed to load"}})
    async def health() -> JSONResponse:
        status, body = service.health()
        return JSONResponse(body, status_code=status,
                            headers={"Retry-After": "1"} if status == 503 else None)

    @app.get("/metadata", summary="The model, its inputs and outputs, versions, limits")
    async def metadata() -> JSONResponse:
        try:
            return JSONResponse(service.metadata())
        except RequestProblem as problem:
            return _problem_response(problem)

    @app.post("/predict", summary="Predict a list of instances",
              openapi_extra={"requestBody": {"required": True, "content": {
                  "application/json": {"schema": {"type": "object"}}}}},
              responses={413: {"description": "too many instances, or the body is too large",
                               "content": {"application/json": {"schema": _PROBLEM_SCHEMA}}},
                         422: {"description": "the request does not fit the model's inputs",
                               "content": {"application/json": {"schema": _PROBLEM_SCHEMA}}},
                         503: {"description": "the model is not loaded yet"}})
    async def predict(request: Request) -> JSONResponse:
        try:
            return JSONResponse(await service.predict(await request.body()))
        except RequestProblem as problem:
            return _problem_response(problem)
        except Exception:  # never a traceback to the client; the log has it
            log.exception("/predict failed")
            return JSONResponse({"error": "the server failed on this request (a declml bug; "
                                          "its log has the details)"}, status_code=500)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = get_openapi(title=app.title, version=app.version, routes=app.routes,
                             description=app.description)
        if service.ready and service.signature is not None:
            name = service.run.spec.name
            schema["info"]["title"] = f"declml: {name}"
            body = schema["paths"]["/predict"]["post"]["requestBody"]["content"][
                "application/json"]
            body["schema"] = service.signature.request_schema(settings.max_instances)
            body["example"] = service.signature.example_request()
            app.openapi_schema = schema  # final once the model is known
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
