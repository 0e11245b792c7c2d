"""``declml serve RUN_DIR``: a trained run behind HTTP (FastAPI on uvicorn)."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Annotated

import typer

from declml.cli.errors import err_console, guarded
from declml.cli.options import AllowLocalPlugins, RunDir, allow_flag
from declml.errors import DataError

_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the server starts so a busy port is a clear error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise DataError(f"cannot listen on host {host!r}: {exc.strerror}") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        hint = "pass another --port (or --port 0 for any free one)" if port else ""
        raise DataError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; {hint}"
                        .rstrip("; ")) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


@guarded
def serve(
    run_dir: RunDir,
    host: Annotated[str, typer.Option(
        help="Interface to listen on. The default answers this machine only; 0.0.0.0 "
             "exposes the model to the network (there is no authentication).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port, printed).",
                                      min=0, max=65535)] = 8000,
    max_instances: Annotated[int, typer.Option(
        help="Instances accepted in one request (413 beyond).", min=1)] = 1024,
    max_body_mb: Annotated[float, typer.Option(
        help="Largest request body in MiB (413 beyond).", min=0.001)] = 16.0,
    max_batch: Annotated[int, typer.Option(
        help="Rows in one model call: concurrent requests are batched up to this.",
        min=1, max=4096)] = 64,
    batch_wait_ms: Annotated[float, typer.Option(
        help="Wait this long for more requests to batch with (0: never wait; requests "
             "that queue up during a model call are still batched).", min=0, max=1000)] = 0.0,
    access_log: Annotated[bool, typer.Option(
        "--access-log/--no-access-log", help="Log every request.")] = False,
    allow_local_plugins: AllowLocalPlugins = False,
) -> None:
    """Serve a trained run over HTTP: POST /predict, GET /health, /metadata, /docs.

    The model is loaded and warmed up before the port opens, so the first
    request is as fast as the rest. Requests: {"instances": [...]}, each
    instance raw like the training data (a string for text models, nested
    lists of numbers, or an object of named inputs or columns).
    """
    import uvicorn

    from declml.serving.app import create_app
    from declml.serving.service import ModelService, ServeSettings

    settings = ServeSettings(max_instances=max_instances,
                             max_body_bytes=int(max_body_mb * 1024 * 1024),
                             max_batch=max_batch, batch_wait_ms=batch_wait_ms,
                             allow_local_plugins=allow_flag(allow_local_plugins))
    service = ModelService(Path(run_dir), settings)
    err_console.print(f"loading {run_dir} …")
    service.load()  # errors here are user errors with exit code 2, before any port opens
    try:
        sock = _bind(host, port)
    except BaseException:
        service.close()
        raise
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    inputs = "; ".join(f"{i.name}: {i.expected()}" for i in service.signature.inputs)
    err_console.print(
        f"serving [bold]{service.run.spec.name}[/] (loaded in {service.load_seconds:.1f} s, "
        f"warmed up in {service.warmup_seconds:.1f} s) on http://{shown}:{bound_port}\n"
        f"  POST /predict {{\"instances\": [...]}} — {inputs}\n"
        f"  GET /health, /metadata; docs at http://{shown}:{bound_port}/docs", soft_wrap=True,
        markup=True, highlight=False)
    if host not in _LOOPBACK:
        err_console.print(f"[yellow]warning:[/] listening on {host}: anyone who can reach this "
                          "machine can use the model (no authentication)")
    config = uvicorn.Config(create_app(run_dir, settings, service=service),
                            log_level="info" if access_log else "warning",
                            access_log=access_log, lifespan="on", timeout_keep_alive=30)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shut down gracefully, then re-raised Ctrl-C
        err_console.print("server stopped")
    finally:
        sock.close()
        service.close()
