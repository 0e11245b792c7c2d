"""One thread owns the model: requests queue up and are predicted together.

Every model call happens on the batcher's thread, so concurrent requests never
touch the model at once. While one call runs, the requests that arrive queue
up; the next call takes all of them (up to ``max_batch`` rows) in one batch.
With ``wait_s`` 0 (the default) nothing waits for company: a lone request is
predicted at once, and batches form only under load, when they pay. Batches
are padded to a power of two so the backend compiles a handful of shapes,
all of them during warm-up, never during a request.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import numpy as np

__all__ = ["Batcher", "BatcherStopped", "bucket_sizes"]

log = logging.getLogger("declml.serve")

PredictFn = Callable[[list[np.ndarray]], list[np.ndarray]]


class BatcherStopped(RuntimeError):
    """The batcher was stopped before it predicted a job."""


def bucket_sizes(max_batch: int) -> list[int]:
    """The padded batch sizes: 1, 2, 4, … up to ``max_batch`` (always included)."""
    sizes, size = [], 1
    while size < max_batch:
        sizes.append(size)
        size *= 2
    return [*sizes, max_batch]


def _bucket(rows: int, sizes: list[int]) -> int:
    return next(s for s in sizes if s >= rows)


@dataclass
class _Job:
    arrays: list[np.ndarray]
    future: Future[list[np.ndarray]]

    @property
    def rows(self) -> int:
        return len(self.arrays[0])

    def shapes(self) -> tuple[tuple[int, ...], ...]:
        return tuple(a.shape[1:] for a in self.arrays)


class Batcher:
    """Runs ``predict`` on its own thread for the jobs :meth:`submit` hands it."""

    def __init__(self, predict: PredictFn, *, max_batch: int = 64, wait_s: float = 0.0) -> None:
        self._predict = predict
        self.max_batch = max_batch
        self.wait_s = wait_s
        self.sizes = bucket_sizes(max_batch)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._held: _Job | None = None  # a job that did not fit the last batch
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.calls = 0  # model calls made (for the tests and the benchmark)
        self.batched_rows = 0

    def warm_up(self, example: list[np.ndarray]) -> float:
        """Predict once at every padded size, on this thread, before serving; seconds taken."""
        start = time.perf_counter()
        for size in self.sizes:
            self._predict([np.repeat(a[:1], size, axis=0) for a in example])
        return time.perf_counter() - start

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="declml-batcher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._queue.put(None)
            self._thread.join(timeout=5)

    def submit(self, arrays: list[np.ndarray]) -> Future[list[np.ndarray]]:
        """Queue model-ready arrays (one per input, same number of rows); the future
        gets one output array per model output, for those rows."""
        future: Future[list[np.ndarray]] = Future()
        if self._stopping:
            future.set_exception(BatcherStopped("the server is shutting down"))
            return future
        self._queue.put(_Job(arrays, future))
        return future

    def _next(self, timeout: float | None) -> _Job | None:
        if self._held is not None:
            job, self._held = self._held, None
            return job
        try:
            job = self._queue.get(timeout=timeout) if timeout else self._queue.get_nowait()
        except queue.Empty:
            return None
        if job is None:  # stop() was called: finish this batch, then end
            self._stopping = True
        return job

    def _loop(self) -> None:
        try:
            self._serve()
        finally:  # whatever is still queued will not be predicted
            self._stopping = True
            leftover = [self._held] if self._held is not None else []
            self._held = None
            while True:
                try:
                    leftover.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            for job in leftover:
                if job is not None and job.future.set_running_or_notify_cancel():
                    job.future.set_exception(BatcherStopped("the server is shutting down"))

    def _serve(self) -> None:
        while not self._stopping:
            first = self._held or self._queue.get()
            self._held = None
            if first is None:
                return
            jobs, rows = [first], first.rows
            deadline = time.monotonic() + self.wait_s
            while rows < self.max_batch:
                remaining = deadline - time.monotonic()
                job = self._next(remaining if remaining > 0 else None)
                if job is None:
                    break
                if job.shapes() != first.shapes() or rows + job.rows > self.max_batch:
                    self._held = job  # starts the next batch
                    break
                jobs.append(job)
                rows += job.rows
            self._run(jobs)

    def _run(self, jobs: list[_Job]) -> None:
        live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
        if not live:
            return
        try:
            merged = [np.concatenate([j.arrays[i] for j in live]) if len(live) > 1
                      else live[0].arrays[i] for i in range(len(live[0].arrays))]
            outputs = self._chunked(merged)
        except BaseException as exc:  # handed to every waiting request
            for job in live:
                job.future.set_exception(exc)
            return
        start = 0
        for job in live:
            job.future.set_result([o[start:start + job.rows] for o in outputs])
            start += job.rows

    def _chunked(self, arrays: list[np.ndarray]) -> list[np.ndarray]:
        """Predict in padded chunks of at most ``max_batch`` rows."""
        total = len(arrays[0])
        pieces: list[list[np.ndarray]] = []
        for begin in range(0, total, self.max_batch):
            chunk = [a[begin:begin + self.max_batch] for a in arrays]
            rows = len(chunk[0])
            size = _bucket(rows, self.sizes)
            if size != rows:
                chunk = [np.concatenate([a, np.repeat(a[-1:], size - rows, axis=0)])
                         for a in chunk]
            outputs = self._predict(chunk)
            self.calls += 1
            self.batched_rows += rows
            pieces.append([o[:rows] for o in outputs])
        if len(pieces) == 1:
            return pieces[0]
        return [np.concatenate([p[i] for p in pieces]) for i in range(len(pieces[0]))]
