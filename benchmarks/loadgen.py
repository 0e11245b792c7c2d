"""A small, bounded HTTP load generator for ``declml serve``, on this machine only.

Raw ``asyncio.open_connection`` keep-alive HTTP/1.1 connections (no HTTP client library,
so the generator itself costs little CPU on a machine it shares with the server), N of
them at once, each sending its next request as soon as the previous answer has arrived
(a closed loop). A run stops at a request budget and/or a duration cap (one of them is
required). A share of the requests can be malformed, cycling through several kinds; each
request's latency (write to last byte of the answer) and status are recorded, good and
malformed separately. A connection the server closes (``Connection: close``, or a kept-alive
connection found dead before any byte of an answer) is reopened; one that cannot be opened
(the server is gone) is counted as an error and ends that connection's share of the run.

    >>> from benchmarks.loadgen import run_load
    >>> image = [[0] * 8] * 8                       # one 8x8 digits instance
    >>> result = run_load(8000, [image], concurrency=4, requests=1000,
    ...                   malformed_share=0.1)                       # doctest: +SKIP
    >>> result.throughput, result.good.p50_ms, result.server_errors  # doctest: +SKIP

Only ``127.0.0.1`` (or ``localhost``, which is connected to as 127.0.0.1) is accepted:
this is a tool for measuring a local server, not for loading anyone else's.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ALL_KINDS", "DEFAULT_KINDS", "LatencyStats", "LoadResult", "Payload",
           "load", "malformed_payloads", "run_load"]

MAX_CONCURRENCY = 512
MAX_REQUESTS = 10_000_000
MAX_DURATION_S = 3600.0
_ALLOWED_HOSTS = ("127.0.0.1", "localhost")

#: Malformed kinds sent by default, in cycle order; each must get a 4xx answer.
DEFAULT_KINDS = ("not_json", "wrong_shape", "strings", "empty_instances", "missing_field",
                 "non_finite", "float32_overflow", "huge_integer", "booleans", "not_utf8",
                 "too_many_instances", "declared_too_large")
#: Every kind there is (all of them are in the default cycle).
ALL_KINDS = DEFAULT_KINDS


@dataclass(frozen=True)
class Payload:
    """One request to send: its body, and how it was made."""

    kind: str  # "good" or a malformed kind
    body: bytes
    declared_length: int | None = None  # a Content-Length other than len(body)

    @property
    def malformed(self) -> bool:
        return self.kind != "good"


def _first_leaf(value: Any, new: Any) -> Any:
    """``value`` (nested lists) with its first leaf replaced by ``new``."""
    if isinstance(value, list) and value:
        return [_first_leaf(value[0], new), *value[1:]]
    return new


def _all_leaves(value: Any, fn: Any) -> Any:
    if isinstance(value, list):
        return [_all_leaves(v, fn) for v in value]
    return fn(value)


def _dumps(data: Any) -> bytes:
    return json.dumps(data, separators=(",", ":")).encode()


def malformed_payloads(instance: Any, kinds: Sequence[str] = DEFAULT_KINDS, *,
                       max_instances: int = 1024,
                       max_body_bytes: int = 16 * 1024 * 1024) -> list[Payload]:
    """One payload per kind, derived from a good ``instance`` (nested lists of numbers).

    ``max_instances`` and ``max_body_bytes``: the server's limits (``/metadata`` has them),
    exceeded by one by ``too_many_instances`` and ``declared_too_large``.
    """
    unknown = sorted(set(kinds) - set(ALL_KINDS))
    if unknown:
        raise ValueError(f"unknown malformed kind(s) {unknown}; known: {', '.join(ALL_KINDS)}")
    if not isinstance(instance, list):
        raise ValueError("the malformed kinds are made from a nested-list instance")
    made = {
        # truncated JSON
        "not_json": lambda: _dumps({"instances": [instance]})[:-7],
        # one row (or value) short
        "wrong_shape": lambda: _dumps({"instances": [instance[:-1]]}),
        # numbers sent as strings
        "strings": lambda: _dumps({"instances": [_all_leaves(instance, str)]}),
        "empty_instances": lambda: _dumps({"instances": []}),
        # no "instances" field
        "missing_field": lambda: _dumps({"inputs": [instance]}),
        # NaN is not JSON, but Python's json (and many clients) write it
        "non_finite": lambda: json.dumps({"instances": [_first_leaf(instance, math.nan)]},
                                         separators=(",", ":")).encode(),
        # one instance over the cap (scalars: rejected by count before any shape check)
        "too_many_instances": lambda: _dumps({"instances": [0] * (max_instances + 1)}),
        # finite as a JSON number (float64), infinite as float32
        "float32_overflow": lambda: _dumps({"instances": [_first_leaf(instance, 1e39)]}),
        # an integer literal beyond float64 (Python's json reads it as an int)
        "huge_integer": lambda: _dumps({"instances": [_first_leaf(instance, 10**400)]}),
        # true among the numbers
        "booleans": lambda: _dumps({"instances": [_first_leaf(instance, True)]}),
        # a byte that cannot start a UTF-8 character
        "not_utf8": lambda: _dumps({"instances": [instance]}).replace(b"[", b"[\xff", 1),
    }
    payloads = []
    for kind in kinds:
        if kind == "declared_too_large":  # headers only: the server must refuse unread
            payloads.append(Payload(kind, b"", declared_length=max_body_bytes + 1))
        else:
            payloads.append(Payload(kind, made[kind]()))
    return payloads


@dataclass
class LatencyStats:
    """Latencies of one class of requests, in milliseconds."""

    count: int = 0
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None
    mean_ms: float | None = None
    max_ms: float | None = None

    @classmethod
    def of(cls, seconds: list[float]) -> LatencyStats:
        if not seconds:
            return cls()
        ordered = sorted(seconds)

        def rank(q: float) -> float:  # nearest rank
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)] * 1000

        return cls(len(ordered), rank(0.50), rank(0.90), rank(0.99),
                   sum(ordered) / len(ordered) * 1000, ordered[-1] * 1000)


@dataclass
class LoadResult:
    """What one run of :func:`load` saw."""

    concurrency: int
    requests: int  # answered (any status)
    seconds: float  # from the first request written to the last answer read
    throughput: float  # answered requests per second
    good: LatencyStats
    malformed: LatencyStats
    status_counts: dict[int, int]
    status_by_kind: dict[str, dict[int, int]]
    server_errors: int  # 5xx answers
    unexpected: int  # good requests not answered 200, malformed ones not answered 4xx
    errors: int  # requests without an answer (connection lost twice, timeout, bad HTTP,
    #              refused: a connection that cannot be opened ends its worker)
    error_messages: list[str]  # the first few
    reconnects: int  # connections reopened after the server closed one
    client_cpu_s: float  # CPU time of this process during the run
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def good_throughput(self) -> float:
        return self.good.count / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        """No 5xx, no unexpected status, no request without an answer."""
        return not (self.server_errors or self.unexpected or self.errors)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["status_counts"] = {str(k): v for k, v in self.status_counts.items()}
        out["status_by_kind"] = {kind: {str(k): v for k, v in counts.items()}
                                 for kind, counts in self.status_by_kind.items()}
        out["good_throughput"] = self.good_throughput
        return out

    def summary(self) -> str:
        def ms(v: float | None) -> str:
            return "-" if v is None else f"{v:.2f}"

        text = (f"c={self.concurrency}: {self.requests} requests in {self.seconds:.2f} s, "
                f"{self.throughput:.0f} req/s; good p50/p90/p99 {ms(self.good.p50_ms)}/"
                f"{ms(self.good.p90_ms)}/{ms(self.good.p99_ms)} ms")
        if self.malformed.count:
            text += (f", malformed ({self.malformed.count}) p50/p99 {ms(self.malformed.p50_ms)}/"
                     f"{ms(self.malformed.p99_ms)} ms")
        text += f"; statuses {dict(sorted(self.status_counts.items()))}"
        if self.server_errors or self.unexpected or self.errors:
            text += (f"; 5xx {self.server_errors}, unexpected {self.unexpected}, "
                     f"errors {self.errors}")
        return text


class _HTTPError(Exception):
    """The server's answer could not be read as HTTP/1.1."""


class _Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.used = False

    def close(self) -> None:
        self.writer.close()


async def _read_answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status code, and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head[:-4].split(b"\r\n")
    parts = lines[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
        raise _HTTPError(f"not an HTTP/1.1 status line: {lines[0][:80]!r}")
    status = int(parts[1])
    length: int | None = None
    chunked = close = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value
        elif name == b"connection":
            close = b"close" in value
    if parts[0] == b"HTTP/1.0":
        close = True
    if status in (204, 304):  # never a body
        pass
    elif chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length is not None:
        await reader.readexactly(length)
    else:  # no length: the body runs to the end of the connection
        await reader.read()
        close = True
    return status, close


async def load(port: int, instances: Any, *, host: str = "127.0.0.1",
               path: str = "/predict", concurrency: int = 1, requests: int | None = None,
               duration: float | None = None, malformed_share: float = 0.0,
               kinds: Sequence[str] = DEFAULT_KINDS, max_instances: int = 1024,
               max_body_bytes: int = 16 * 1024 * 1024, timeout: float = 30.0) -> LoadResult:
    """Send requests to ``http://127.0.0.1:PORT/predict`` from ``concurrency`` connections.

    Args:
        port: the server's port.
        instances: a non-empty list of good instances, sent one per request
            (``{"instances": [instance]}``) in turn; the malformed kinds are made from
            the first.
        concurrency: connections, each with one request in flight at a time.
        requests: total request budget (good and malformed).
        duration: seconds after which no new request is sent (those in flight finish).
        malformed_share: fraction of requests that are malformed (spread evenly: request
            ``i`` is malformed when ``floor((i + 1) * share) > floor(i * share)``), their
            kinds cycling through ``kinds``.
        max_instances, max_body_bytes: the server's limits, for the malformed kinds that
            exceed them.
        timeout: seconds to wait for one answer before counting the request as an error.
    """
    if host not in _ALLOWED_HOSTS:
        raise ValueError(f"loadgen only loads this machine (127.0.0.1), not {host!r}")
    if requests is None and duration is None:
        raise ValueError("give a request budget, a duration, or both")
    if requests is not None and not 1 <= requests <= MAX_REQUESTS:
        raise ValueError(f"requests must be between 1 and {MAX_REQUESTS}")
    if duration is not None and not 0 < duration <= MAX_DURATION_S:
        raise ValueError(f"duration must be in (0, {MAX_DURATION_S}] seconds")
    if not 1 <= concurrency <= MAX_CONCURRENCY:
        raise ValueError(f"concurrency must be between 1 and {MAX_CONCURRENCY}")
    if not 0.0 <= malformed_share <= 1.0:
        raise ValueError("malformed_share must be between 0 and 1")
    if not isinstance(instances, list) or not instances:
        raise ValueError("instances: a non-empty list of good instances")
    if not path.startswith("/"):
        raise ValueError("path must start with /")

    good = [Payload("good", _dumps({"instances": [inst]})) for inst in instances]
    bad = malformed_payloads(instances[0], kinds, max_instances=max_instances,
                             max_body_bytes=max_body_bytes) if malformed_share else []
    if malformed_share and not bad:
        raise ValueError("a malformed share needs at least one kind")
    prefix = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
              "Content-Type: application/json\r\n").encode()

    def wire(p: Payload) -> bytes:
        length = p.declared_length if p.declared_length is not None else len(p.body)
        return prefix + f"Content-Length: {length}\r\n\r\n".encode() + p.body

    wires = {id(p): wire(p) for p in (*good, *bad)}

    counter = 0
    n_bad = 0
    stop_at = None if duration is None else time.perf_counter() + duration

    def claim() -> Payload | None:
        nonlocal counter, n_bad
        if requests is not None and counter >= requests:
            return None
        if stop_at is not None and time.perf_counter() >= stop_at:
            return None
        i = counter
        counter += 1
        if bad and math.floor((i + 1) * malformed_share) > math.floor(i * malformed_share):
            n_bad += 1
            return bad[(n_bad - 1) % len(bad)]
        return good[(i - n_bad) % len(good)]

    latencies: dict[bool, list[float]] = {False: [], True: []}
    statuses: Counter[int] = Counter()
    by_kind: dict[str, Counter[int]] = {}
    messages: list[str] = []
    tallies = Counter(errors=0, unexpected=0, reconnects=0, opened=0)

    async def connect() -> _Conn:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port), timeout)
        tallies["opened"] += 1
        return _Conn(reader, writer)

    def error(message: str) -> None:
        tallies["errors"] += 1
        if len(messages) < 10:
            messages.append(message)

    async def worker() -> None:
        conn: _Conn | None = None
        try:
            while (payload := claim()) is not None:
                for attempt in (0, 1):
                    if conn is None:
                        try:
                            conn = await connect()
                        except (OSError, asyncio.TimeoutError) as exc:
                            # the server is gone (or not listening): this connection's
                            # share of the run ends here, without spinning on refusals
                            error(f"connect: {type(exc).__name__}: {exc}")
                            return
                    stale_possible = conn.used
                    began = time.perf_counter()
                    got_bytes = False
                    try:
                        conn.writer.write(wires[id(payload)])
                        conn.used = True
                        status, close = await asyncio.wait_for(_read_answer(conn.reader),
                                                               timeout)
                        got_bytes = True
                    except (ConnectionError, asyncio.IncompleteReadError) as exc:
                        partial = getattr(exc, "partial", b"")
                        conn.close()
                        conn = None
                        if attempt == 0 and stale_possible and not partial:
                            tallies["reconnects"] += 1  # closed while idle: send again
                            continue
                        error(f"{payload.kind}: {type(exc).__name__}: {exc}")
                        break
                    except (asyncio.TimeoutError, _HTTPError, ValueError,
                            asyncio.LimitOverrunError) as exc:
                        conn.close()
                        conn = None
                        error(f"{payload.kind}: {type(exc).__name__}: {exc}")
                        break
                    elapsed = time.perf_counter() - began
                    assert got_bytes
                    latencies[payload.malformed].append(elapsed)
                    statuses[status] += 1
                    by_kind.setdefault(payload.kind, Counter())[status] += 1
                    expected = 400 <= status < 500 if payload.malformed else status == 200
                    if not expected:
                        tallies["unexpected"] += 1
                    if close or payload.declared_length is not None:
                        # closed by the server, or we still owe it a body: start afresh
                        conn.close()
                        conn = None
                        tallies["reconnects"] += 1
                    break
        finally:
            if conn is not None:
                conn.close()

    cpu0 = time.process_time()
    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - began
    cpu = time.process_time() - cpu0
    answered = sum(statuses.values())
    return LoadResult(
        concurrency=concurrency, requests=answered, seconds=seconds,
        throughput=answered / seconds if seconds else 0.0,
        good=LatencyStats.of(latencies[False]), malformed=LatencyStats.of(latencies[True]),
        status_counts=dict(statuses),
        status_by_kind={k: dict(v) for k, v in by_kind.items()},
        server_errors=sum(n for s, n in statuses.items() if s >= 500),
        unexpected=tallies["unexpected"], errors=tallies["errors"], error_messages=messages,
        reconnects=tallies["reconnects"], client_cpu_s=cpu,
        notes={"connections_opened": tallies["opened"], "malformed_share": malformed_share,
               "kinds": list(kinds) if malformed_share else []})


def run_load(port: int, instances: Any, **options: Any) -> LoadResult:
    """:func:`load`, from synchronous code (a fresh event loop; uvloop when installed)."""
    try:
        import uvloop
    except ImportError:
        uvloop = None
    if uvloop is not None and hasattr(uvloop, "run"):  # uvloop >= 0.18
        return uvloop.run(load(port, instances, **options))
    return asyncio.run(load(port, instances, **options))
