"""Soak test of ``declml serve``: thousands of requests, a third of them malformed, against
a real server process, with its resident memory watched.

Slow (a tiny run is trained, a server process loads it: ~25 s): ``pytest -m slow``.
The load comes from :mod:`benchmarks.loadgen` (raw asyncio keep-alive connections).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from benchmarks.loadgen import DEFAULT_KINDS, LoadResult, run_load
from tests.conftest import REPO, TINY_SPEC

pytestmark = pytest.mark.slow

WARM_REQUESTS = 1000
SOAK_REQUESTS = 9000  # 6,000 good, 3,000 malformed (every kind 250 times)
# Resident memory may grow this much from the end of the warm-up to the end of the soak.
# Measured: 0-1 MiB (the allocator's arenas settle during the warm-up, and every padded
# batch size was compiled before the port opened). What one good digits request allocates
# is about 4 KiB (body 0.2, parsed nested lists 1.8, arrays 0.7, prediction dict 1.2 and its
# JSON 0.3 KiB; sys.getsizeof, recursively), so leaking all of it would add ~24 MiB over the
# 6,000 good requests; the bound catches a leak of ~2.7 KiB a request (say the parsed
# instance and the answer) and leaves 15 MiB of room for allocator noise on a ~450 MiB process.
RSS_GROWTH_LIMIT_MIB = 16.0
SERVING = re.compile(r"on http://127\.0\.0\.1:(\d+)")


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS (Linux only)")


def digits_images(n: int = 32) -> list[list[list[int]]]:
    from sklearn.datasets import load_digits

    return [image.astype(int).tolist() for image in load_digits().images[:n]]


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def served(tmp_path: Path):
    """A tiny digits run behind a real ``declml serve --port 0`` process (killed at the end
    if the test has not stopped it)."""
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc/PID/status")
    from declml.run.train import train
    from declml.spec.api import spec_from_data

    train(spec_from_data(TINY_SPEC), tmp_path / "run", log=lambda _: None, verbose=0)
    log = tmp_path / "serve.log"
    with log.open("wb") as sink:  # a file, not a pipe: nothing can block on a full pipe
        proc = subprocess.Popen(
            [sys.executable, "-m", "declml", "serve", str(tmp_path / "run"), "--port", "0"],
            cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        port = None
        while port is None:
            match = SERVING.search(log.read_text(errors="replace"))
            if match:
                port = int(match.group(1))
            elif proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"declml serve did not start:\n{log.read_text()[-3000:]}")
            else:
                time.sleep(0.1)
        yield Served(proc, port, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def check(result: LoadResult, kinds: tuple[str, ...]) -> None:
    """No 5xx, no request without an answer, every good one 200, every malformed one 4xx."""
    assert result.errors == 0, result.error_messages
    assert result.server_errors == 0, result.status_by_kind
    assert result.status_by_kind["good"] == {200: result.good.count}, result.status_by_kind
    for kind in kinds:
        statuses = result.status_by_kind[kind]
        assert all(400 <= s < 500 for s in statuses), (kind, statuses)
    assert result.unexpected == 0


def test_soak_thousands_of_requests_a_third_malformed(served: Served) -> None:
    images = digits_images()
    pid = served.proc.pid
    options = {"concurrency": 8, "malformed_share": 1 / 3, "kinds": DEFAULT_KINDS,
               "timeout": 30.0}
    warm = run_load(served.port, images, requests=WARM_REQUESTS, **options)
    check(warm, DEFAULT_KINDS)
    rss_warm = rss_mib(pid)

    soak = run_load(served.port, images, requests=SOAK_REQUESTS, duration=120, **options)
    rss_end = rss_mib(pid)
    print(f"warm: {warm.summary()}\nsoak: {soak.summary()}\n"
          f"RSS {rss_warm:.1f} -> {rss_end:.1f} MiB")
    assert soak.requests == SOAK_REQUESTS, soak.summary()
    check(soak, DEFAULT_KINDS)
    assert soak.malformed.count == SOAK_REQUESTS // 3
    # every kind came round (250 times each); "declared_too_large" closes the connection
    assert set(soak.status_by_kind) == {"good", *DEFAULT_KINDS}
    assert soak.reconnects >= soak.status_by_kind["declared_too_large"].get(413, 0) > 0
    assert served.proc.poll() is None, "the server died"
    assert rss_end - rss_warm < RSS_GROWTH_LIMIT_MIB, \
        f"RSS grew {rss_end - rss_warm:.1f} MiB over {SOAK_REQUESTS} requests"
    assert "Traceback" not in served.log_text()

    served.proc.send_signal(signal.SIGINT)  # Ctrl-C: uvicorn's graceful shutdown
    try:
        code = served.proc.wait(20)
    except subprocess.TimeoutExpired:
        pytest.fail("declml serve did not stop within 20 s of SIGINT")
    assert code == 0, f"declml serve exited {code} on SIGINT:\n{served.log_text()[-3000:]}"
