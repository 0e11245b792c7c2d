"""KerasTuner's distributed mode: one chief holds the oracle, workers train trials.

KerasTuner wires it through three environment variables — ``KERASTUNER_TUNER_ID``,
``KERASTUNER_ORACLE_IP``, ``KERASTUNER_ORACLE_PORT`` — and gRPC. declml sets
them: ``--workers N`` starts the chief in this process and N worker processes
on 127.0.0.1, shares the cores out among them, and restarts a worker that dies
(its trial is handed to it again, so nothing is lost). ``--chief`` and
``--worker --oracle HOST:PORT`` do the same across machines that share the
output directory.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

from declml.errors import TuningError
from declml.search.search import (
    Search,
    SearchInterrupted,
    TuneResult,
    finish_search,
    prepare_search,
    quiet_keras_tuner,
    write_trials,
)
from declml.spec.sections import Spec

__all__ = ["parse_address", "run_chief", "run_worker", "thread_limits"]

MAX_RESTARTS = 3  # per worker
_POLL = 0.5  # seconds


def parse_address(address: str) -> tuple[str, int]:
    """``HOST:PORT`` → (host, port)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise TuningError(f"--oracle must be HOST:PORT, such as 127.0.0.1:8790; got {address!r}")
    return host.strip("[]"), int(port)


def _wire(tuner_id: str, host: str, port: int) -> dict[str, str]:
    return {"KERASTUNER_TUNER_ID": tuner_id, "KERASTUNER_ORACLE_IP": host,
            "KERASTUNER_ORACLE_PORT": str(port)}


def thread_limits(workers: int, cores: int | None = None) -> dict[str, str]:
    """Environment that keeps N workers from each using every core."""
    per = max(1, (cores or os.cpu_count() or 1) // max(1, workers))
    env = {name: str(per) for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS",
                                       "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS")}
    env["TF_NUM_INTEROP_THREADS"] = "1"
    if per == 1:
        flags = os.environ.get("XLA_FLAGS", "")
        env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false "
                            "intra_op_parallelism_threads=1").strip()
    return env


def run_worker(spec: Spec, output: str | Path | None, address: str, *,
               tuner_id: str | None = None, log: Callable[[str], None],
               verbose: int = 0) -> None:
    """Join the chief at ``address`` and train trials until the search is done."""
    host, port = parse_address(address)
    tuner_id = tuner_id or os.environ.get("KERASTUNER_TUNER_ID") or \
        f"worker-{socket.gethostname()}-{os.getpid()}"
    if "chief" in tuner_id:
        raise TuningError(f"a worker's id must not contain 'chief' (KerasTuner reserves it); "
                          f"got {tuner_id!r}")
    os.environ.update(_wire(tuner_id, host, port))
    search = prepare_search(spec, output, worker=True, log=log)
    search.data  # noqa: B018 - prepared before the first trial
    tuner = search.tuner(csv_per_trial=False)  # the chief writes trials.csv
    try:
        with quiet_keras_tuner():
            tuner.search(verbose=verbose)
    except KeyboardInterrupt:
        raise SearchInterrupted(
            f"worker {tuner_id} interrupted; start it again with --tuner-id {tuner_id} and the "
            "chief hands it the same trial") from None


def _serve(oracle: Any, host: str, port: int) -> tuple[Any, Any, int]:
    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise TuningError(f"the chief cannot listen on {host}:{port} (in use, or not an "
                          "address of this machine); choose another --oracle")
    server.start()
    return server, servicer, bound


class _Workers:
    """Local worker processes, restarted when they die."""

    def __init__(self, command: list[str], count: int, host: str, port: int,
                 log: Callable[[str], None]) -> None:
        self.command, self.host, self.port, self.log = command, host, port, log
        self.env = {**os.environ, **thread_limits(count)}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: dict[str, int] = {}
        self.gave_up: list[str] = []
        for i in range(count):
            self._start(f"worker{i}")

    def _start(self, name: str) -> None:
        env = {**self.env, **_wire(name, self.host, self.port)}
        self.procs[name] = subprocess.Popen([*self.command, "--tuner-id", name], env=env)

    def poll(self) -> bool:
        """Restart dead workers; True once every worker has finished."""
        for name, proc in list(self.procs.items()):
            code = proc.poll()
            if code is None or code == 0:
                continue
            if code == 2:  # a user error (e.g. too many failures in a row): stop the search
                self.stop()
                raise TuningError(f"{name} stopped with an error (above); finished trials are "
                                  "kept: fix the cause and run the same command to resume")
            del self.procs[name]
            if self.restarts.get(name, 0) >= MAX_RESTARTS:
                self.gave_up.append(name)
                self.log(f"{name} died {MAX_RESTARTS + 1} times (exit {code}); not restarted")
                continue
            self.restarts[name] = self.restarts.get(name, 0) + 1
            self.log(f"{name} died (exit {code}); restarting it: its trial is run again")
            self._start(name)
        return all(p.poll() == 0 for p in self.procs.values())

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def run_chief(spec: Spec, output: str | Path | None, *, spec_path: Path,
              overrides: list[str], workers: int = 0, address: str | None = None,
              overwrite: bool = False, log: Callable[[str], None],
              allow_local_plugins: bool = False, verbose: bool = False) -> TuneResult:
    """Hold the search; with ``workers`` > 0 also start and watch that many local workers."""
    host, port = parse_address(address) if address else ("127.0.0.1", 0)
    os.environ.update(_wire("chief", host, port))
    search = prepare_search(spec, output, overwrite=overwrite, log=log)
    search.directory.record(status="running", mode=f"chief with {workers or 'external'} "
                            "worker(s)")
    started = time.perf_counter()
    tuner = search.tuner()
    tuner.oracle.verbose = 0  # declml's workers report each trial
    with quiet_keras_tuner():
        tuner.save()
    server, servicer, port = _serve(tuner.oracle, host, port)
    os.environ["KERASTUNER_ORACLE_PORT"] = str(port)
    local: _Workers | None = None
    try:
        if workers:
            command = [sys.executable, "-m", "declml", "tune", str(spec_path), "--worker",
                       "--oracle", f"{host}:{port}", "-o", str(search.directory.path)]
            for item in overrides:
                command += ["--set", item]
            command += [*(["--allow-local-plugins"] if allow_local_plugins else []),
                        *(["--verbose"] if verbose else [])]
            log(f"chief listening on {host}:{port}; starting {workers} worker(s) "
                f"({thread_limits(workers)['OMP_NUM_THREADS']} thread(s) each)")
            local = _Workers(command, workers, host, port, log)
        else:
            reach = socket.gethostname() if host in ("0.0.0.0", "::") else host
            log(f"chief listening on {host}:{port}: start workers with declml tune "
                f"{spec_path} --worker --oracle {reach}:{port} -o {search.directory.path}")
        _wait(search, tuner.oracle, servicer, local)
    except KeyboardInterrupt:
        if local is not None:
            local.stop()
        write_trials(search)
        search.directory.record(status="interrupted", stopped=search.directory.now())
        raise SearchInterrupted(
            f"search interrupted; finished trials are kept in {search.directory.path}: run "
            "the same command again to resume") from None
    except BaseException:
        write_trials(search)
        raise
    finally:
        server.stop(grace=2)
        with quiet_keras_tuner():
            tuner.oracle.save()  # KerasTuner's last save still lists the last trial as running
    if local is not None and local.gave_up:
        write_trials(search)
        raise TuningError(f"{', '.join(local.gave_up)} kept dying; the search is incomplete: "
                          "run the same command again to resume")
    return finish_search(search, time.perf_counter() - started)


def _wait(search: Search, oracle: Any, servicer: Any, local: _Workers | None) -> None:
    from keras_tuner.src.distribute.oracle_chief import exit_chief

    ended = -1
    while True:
        time.sleep(_POLL)
        if len(oracle.end_order) != ended:
            ended = len(oracle.end_order)
            write_trials(search)
        if local is not None:
            if local.poll():
                return
        elif servicer.stop_triggered and exit_chief(oracle):
            return
