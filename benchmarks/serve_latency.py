"""declml serve: latency and throughput of single-image /predict requests, batching on vs off.

For each model — the digits CNN (``specs/digits_cnn.yaml``) and, when the MNIST IDX files
are there (``$DECLML_SHARED_DATA/mnist-t10k`` or ``../shared/data/mnist-t10k``), the MNIST
CNN (``specs/mnist_cnn.yaml``; skipped with a note otherwise) — a run is trained (1–2
epochs: accuracy does not matter here, the architecture does) or taken from ``--run`` /
``--mnist-run``, and served twice by the real command, each a subprocess:
``declml serve RUN --port 0`` (batching on: ``--max-batch 64``, the default) and
``declml serve RUN --port 0 --max-batch 1`` (batching off). Both servers of a model are
up at once and measured alternately, so load from other jobs on the machine falls on both.

The client is :mod:`benchmarks.loadgen` (raw asyncio keep-alive HTTP/1.1, uvloop when
installed, in this process: it shares the 2 cores with the server, and its CPU time is
reported). Every good request is one real image (the first 32 of scikit-learn's digits, or
of the MNIST t10k file, in turn) as ``{"instances": [image]}``: an 8×8 or 28×28 nested list
of integers. After warm-up requests (``--warmup``, at concurrency 4 then 1, with the same
malformed share), each server gets, per repeat:

* closed-loop runs at concurrency 1, 4 and 16 for ``--duration`` seconds each: latency
  p50/p90/p99 (concurrency 1 is the latency of a lone request) and throughput;
* one run at concurrency 16 with 10 % malformed requests (``--malformed-share``; not JSON,
  wrong shape, strings, empty instances, missing field, NaN, too many instances, an
  over-large declared body), which must all get a 4xx and the good ones a 200.

The server's resident memory (VmRSS from /proc/PID/status) is read once it is ready,
after warm-up and at the end; its CPU time (/proc/PID/stat) per request is reported too.
Targets (the default server, batching on): **p50 ≤ 5 ms at concurrency 1** and
**≥ 500 requests/s at concurrency 16** on 2 cores; batching on/off is reported as the
ratio of throughputs (keep batching only if it is faster). Medians over repeats.

Exit status 1 if any request got a 5xx (or an unexpected status, or no answer), or a
server died or did not stop cleanly on SIGINT; missed targets are reported as FAIL but
exit 0 unless ``--strict``.

    python benchmarks/serve_latency.py --quick                   # ~1 min: 3 repeats of 0.5 s
    python benchmarks/serve_latency.py --json out.json           # ~5 min: 5 repeats of 3 s
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script: make `benchmarks.loadgen` importable
    sys.path.insert(0, str(REPO))

from benchmarks.loadgen import LoadResult, run_load  # noqa: E402

P50_TARGET_MS = 5.0
THROUGHPUT_TARGET = 500.0
CONFIGS = {"batching": [], "no batching": ["--max-batch", "1"]}
CLEAN_EXIT = (0, 130, -signal.SIGINT)  # declml exits 130 on an interrupt
SERVING = re.compile(r"on http://127\.0\.0\.1:(\d+)")
N_IMAGES = 32


def shared_data() -> Path:
    return Path(os.environ.get("DECLML_SHARED_DATA", REPO.parent / "shared" / "data"))


def mnist_dir() -> Path | None:
    path = shared_data() / "mnist-t10k"
    return path if (path / "t10k-images-idx3-ubyte.gz").is_file() else None


def digits_images() -> list[Any]:
    from sklearn.datasets import load_digits

    return [im.astype(int).tolist() for im in load_digits().images[:N_IMAGES]]


def mnist_images(path: Path) -> list[Any]:
    with gzip.open(path / "t10k-images-idx3-ubyte.gz", "rb") as f:
        data = f.read(16 + 784 * N_IMAGES)
    pixels = data[16:]
    return [[list(pixels[i * 784 + r * 28:i * 784 + r * 28 + 28]) for r in range(28)]
            for i in range(N_IMAGES)]


def train(spec: str, out: Path, overrides: Sequence[str]) -> subprocess.Popen[str]:
    argv = [sys.executable, "-m", "declml", "train", spec, "-o", str(out)]
    for o in overrides:
        argv += ["--set", o]
    return subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def proc_rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def proc_cpu_s(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


class Server:
    """``declml serve RUN --port 0 [extra]`` as a subprocess; stderr kept for the report."""

    def __init__(self, run_dir: Path, extra: Sequence[str]) -> None:
        self.argv = [sys.executable, "-m", "declml", "serve", str(run_dir), "--port", "0",
                     *extra]
        self.proc = subprocess.Popen(self.argv, cwd=REPO, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self.port: int | None = None
        self._ready = threading.Event()
        self.started = time.perf_counter()
        self.ready_s: float | None = None
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            match = SERVING.search(line)
            if match and self.port is None:
                self.port = int(match.group(1))
                self.ready_s = time.perf_counter() - self.started
                self._ready.set()
        self._ready.set()  # stderr closed: the process ended

    def wait_ready(self, timeout: float = 300) -> int:
        self._ready.wait(timeout)
        if self.port is None:
            self.stop()
            raise SystemExit(f"{' '.join(self.argv[2:])} did not start:\n"
                             + "\n".join(self.lines[-30:]))
        return self.port

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def rss(self) -> float | None:
        return proc_rss_mib(self.pid)

    def cpu(self) -> float | None:
        return proc_cpu_s(self.pid)

    def metadata(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metadata", timeout=30) as r:
            return json.loads(r.read())

    def stop(self) -> int | None:
        """SIGINT (uvicorn shuts down gracefully), then SIGTERM, then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                return self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.terminate()
                try:
                    return self.proc.wait(5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    return self.proc.wait()
        return self.proc.returncode

    def log_tail(self, n: int = 40) -> str:
        return "\n".join(self.lines[-n:])


@dataclass
class Measured:
    """Every load run of one server, by phase."""

    runs: dict[str, list[LoadResult]] = field(default_factory=dict)
    server_cpu_s: dict[str, list[float]] = field(default_factory=dict)

    def add(self, phase: str, result: LoadResult, cpu: float | None) -> None:
        self.runs.setdefault(phase, []).append(result)
        if cpu is not None and result.requests:
            self.server_cpu_s.setdefault(phase, []).append(cpu / result.requests)

    def median(self, phase: str, get: Any) -> float | None:
        values = [v for r in self.runs.get(phase, []) if (v := get(r)) is not None]
        return statistics.median(values) if values else None


def one_load(server: Server, images: list[Any], limits: dict[str, int], **options: Any
             ) -> tuple[LoadResult, float | None]:
    cpu0 = server.cpu()
    result = run_load(server.port, images, max_instances=limits["max_instances"],
                      max_body_bytes=limits["max_body_bytes"], **options)
    cpu1 = server.cpu()
    return result, (cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None)


def measure_model(name: str, servers: dict[str, Server], images: list[Any], args: Any,
                  log: Any) -> dict[str, Any]:
    limits = {}
    info: dict[str, dict[str, Any]] = {}
    for config, server in servers.items():
        server.wait_ready()
        meta = server.metadata()
        limits = {"max_instances": meta["limits"]["max_instances"],
                  "max_body_bytes": meta["limits"]["max_body_bytes"]}
        info[config] = {"argv": server.argv[3:], "ready_s": server.ready_s,
                        "limits": meta["limits"], "rss_ready_mib": server.rss()}
    measured = {config: Measured() for config in servers}
    warm = {config: [] for config in servers}
    for config, server in servers.items():  # warm-up: connections, caches, allocator
        for concurrency, count in ((4, args.warmup), (1, max(1, args.warmup // 4))):
            result, _ = one_load(server, images, limits, concurrency=concurrency,
                                 requests=count, malformed_share=args.malformed_share)
            warm[config].append(result)
        info[config]["rss_warm_mib"] = server.rss()
    for repeat in range(args.repeats):
        phases = [(f"c{c}", c, 0.0) for c in args.concurrency]
        phases.append((f"c{max(args.concurrency)}+malformed", max(args.concurrency),
                       args.malformed_share))
        for step, (phase, concurrency, share) in enumerate(phases):
            order = list(servers)
            if (repeat + step) % 2:
                order.reverse()
            for config in order:
                result, cpu = one_load(servers[config], images, limits,
                                       concurrency=concurrency, duration=args.duration,
                                       malformed_share=share)
                measured[config].add(phase, result, cpu)
                log(f"  {name} {config:<11} repeat {repeat + 1} {phase:<16} "
                    f"{result.summary()}")
    for config, server in servers.items():
        info[config]["rss_end_mib"] = server.rss()
        info[config]["alive_at_end"] = server.alive()
        stopping = time.perf_counter()
        info[config]["exit_code"] = server.stop()
        info[config]["stop_s"] = time.perf_counter() - stopping
        info[config]["server_errors_logged"] = sum(
            "Traceback" in line or "/predict failed" in line for line in server.lines)
        if info[config]["server_errors_logged"] or not info[config]["alive_at_end"]:
            info[config]["log_tail"] = server.log_tail()
    return {"model": name, "servers": info, "measured": measured, "warmup": warm}


def rows_for(model: dict[str, Any], concurrencies: Sequence[int]) -> list[dict[str, Any]]:
    """The JSON rows: one per (model, config, phase, metric)."""
    name = model["model"]
    top = max(concurrencies)
    rows: list[dict[str, Any]] = []

    def row(config: str, phase: str | None, metric: str, value: float | None, unit: str,
            target: str | None = None, passed: bool | None = None, **extra: Any) -> None:
        label = "/".join(p for p in (name, config, phase, metric) if p)
        rows.append({"name": label, "model": name, "config": config, "phase": phase,
                     "metric": metric, "value": value, "unit": unit, "target": target,
                     "pass": passed, **extra})

    for config, m in model["measured"].items():
        info = model["servers"][config]
        for phase in m.runs:
            concurrency = m.runs[phase][0].concurrency
            extra = {"concurrency": concurrency, "repeats": len(m.runs[phase])}
            p50 = m.median(phase, lambda r: r.good.p50_ms)
            tput = m.median(phase, lambda r: r.throughput)
            default = config == "batching"
            p50_target = default and phase == "c1"
            tput_target = default and phase == f"c{top}"
            row(config, phase, "latency_p50", p50, "ms",
                f"<= {P50_TARGET_MS:g}" if p50_target else None,
                (p50 is not None and p50 <= P50_TARGET_MS) if p50_target else None, **extra)
            row(config, phase, "latency_p90", m.median(phase, lambda r: r.good.p90_ms), "ms",
                **extra)
            row(config, phase, "latency_p99", m.median(phase, lambda r: r.good.p99_ms), "ms",
                **extra)
            row(config, phase, "throughput", tput, "requests/s",
                f">= {THROUGHPUT_TARGET:g}" if tput_target else None,
                (tput is not None and tput >= THROUGHPUT_TARGET) if tput_target else None,
                **extra)
            if "malformed" in phase:
                row(config, phase, "malformed_latency_p50",
                    m.median(phase, lambda r: r.malformed.p50_ms), "ms", **extra)
                row(config, phase, "malformed_latency_p99",
                    m.median(phase, lambda r: r.malformed.p99_ms), "ms", **extra)
            cpu = m.server_cpu_s.get(phase)
            row(config, phase, "server_cpu_per_request",
                statistics.median(cpu) * 1000 if cpu else None, "ms", **extra)
            row(config, phase, "client_cpu_share",
                m.median(phase, lambda r: r.client_cpu_s / r.seconds), "CPU-s per s", **extra)
        runs = [r for rs in m.runs.values() for r in rs] + model["warmup"][config]
        bad = sum(r.server_errors for r in runs)
        unexpected = sum(r.unexpected + r.errors for r in runs)
        row(config, None, "responses_5xx", bad, "requests", "== 0", bad == 0,
            requests=sum(r.requests for r in runs))
        row(config, None, "unexpected_or_unanswered", unexpected, "requests", "== 0",
            unexpected == 0)
        row(config, None, "server_alive_at_end", bool(info["alive_at_end"]), "bool", "true",
            bool(info["alive_at_end"]))
        clean = info["exit_code"] in CLEAN_EXIT and info["stop_s"] < 15
        row(config, None, "clean_stop_on_sigint", clean, "bool", "true", clean,
            exit_code=info["exit_code"], stop_s=info["stop_s"])
        for when in ("ready", "warm", "end"):
            row(config, None, f"rss_{when}", info[f"rss_{when}_mib"], "MiB")
        if info["rss_warm_mib"] is not None and info["rss_end_mib"] is not None:
            row(config, None, "rss_growth_warm_to_end",
                info["rss_end_mib"] - info["rss_warm_mib"], "MiB")
    on, off = model["measured"].get("batching"), model["measured"].get("no batching")
    if on and off:
        for phase in on.runs:
            a = on.median(phase, lambda r: r.throughput)
            b = off.median(phase, lambda r: r.throughput)
            if a and b:
                row("batching/no batching", phase, "throughput_ratio", a / b, "ratio",
                    concurrency=on.runs[phase][0].concurrency)
    return rows


def environment() -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("declml", "keras", "jax", "numpy", "fastapi", "starlette", "uvicorn",
                 "httptools", "uvloop"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "not installed"
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
            "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else None,
            "backend": os.environ.get("KERAS_BACKEND", "") or "jax (default)",
            "load_average_before": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            **versions}


def table(rows: list[dict[str, Any]], concurrencies: Sequence[int]) -> str:
    """One line per model and config: the numbers side by side."""
    by: dict[tuple[str, str, str | None, str], Any] = {
        (r["model"], r["config"], r["phase"], r["metric"]): r for r in rows}
    models = list(dict.fromkeys(r["model"] for r in rows))
    top = max(concurrencies)
    head = (["model", "config", "p50 c1 ms", "p99 c1 ms"]
            + [f"req/s c{c}" for c in concurrencies]
            + [f"p50 c{top} ms", f"req/s c{top}+bad", "5xx", "RSS warm→end MiB"])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]

    def val(model: str, config: str, phase: str | None, metric: str, fmt: str) -> str:
        r = by.get((model, config, phase, metric))
        if r is None or r["value"] is None:
            return "-"
        text = format(r["value"], fmt)
        if r["pass"] is not None:
            text += " ✓" if r["pass"] else " ✗"
        return text

    for model in models:
        for config in CONFIGS:
            if (model, config, None, "responses_5xx") not in by:
                continue
            warm = by[(model, config, None, "rss_warm")]["value"]
            end = by[(model, config, None, "rss_end")]["value"]
            cells = [model, config, val(model, config, "c1", "latency_p50", ".2f"),
                     val(model, config, "c1", "latency_p99", ".2f")]
            cells += [val(model, config, f"c{c}", "throughput", ".0f") for c in concurrencies]
            cells += [val(model, config, f"c{top}", "latency_p50", ".2f"),
                      val(model, config, f"c{top}+malformed", "throughput", ".0f"),
                      val(model, config, None, "responses_5xx", "d"),
                      f"{warm:.0f}→{end:.0f}" if warm is not None and end is not None
                      else "-"]
            lines.append("| " + " | ".join(cells) + " |")
        ratios = [by.get((model, "batching/no batching", f"c{c}", "throughput_ratio"))
                  for c in concurrencies]
        text = ", ".join(f"c{c} {r['value']:.2f}"
                         for c, r in zip(concurrencies, ratios, strict=True) if r)
        if ratios[-1]:
            text += (" — batching " + ("faster" if ratios[-1]["value"] > 1 else "NOT faster")
                     + f" at c{top}")
        lines.append(f"  {model}: throughput batching on / off: {text}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="3 repeats of 0.5 s per point, fewer warm-up requests (~1 min)")
    parser.add_argument("--repeats", type=int, default=5,
                        help="times each point is measured, alternating the servers' order")
    parser.add_argument("--duration", type=float, default=3.0,
                        help="seconds of load per measured point and repeat")
    parser.add_argument("--concurrency", type=lambda s: [int(c) for c in s.split(",")],
                        default=[1, 4, 16], help="comma-separated (default 1,4,16)")
    parser.add_argument("--malformed-share", type=float, default=0.1)
    parser.add_argument("--warmup", type=int, default=400, help="warm-up requests per server")
    parser.add_argument("--run", type=Path, help="a trained digits run (default: train one)")
    parser.add_argument("--mnist-run", type=Path, help="a trained MNIST run (default: train "
                        "one when the MNIST files exist)")
    parser.add_argument("--no-mnist", action="store_true", help="digits only")
    parser.add_argument("--strict", action="store_true", help="exit 1 on a missed target too")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.quick:
        args.repeats, args.duration, args.warmup = 3, 0.5, 200
    if 1 not in args.concurrency:
        parser.error("--concurrency must include 1 (the latency target is at concurrency 1)")
    args.concurrency = sorted(set(args.concurrency))

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    env = environment()
    started = time.perf_counter()
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="serve-latency-") as tmp:
        # Runs: train those not given, at once (2 cores: about the time of the longer one).
        runs: dict[str, Path] = {}
        images: dict[str, list[Any]] = {"digits_cnn": digits_images()}
        training: dict[str, subprocess.Popen[str]] = {}
        if args.run:
            runs["digits_cnn"] = args.run
        else:
            runs["digits_cnn"] = Path(tmp) / "digits"
            training["digits_cnn"] = train("specs/digits_cnn.yaml", runs["digits_cnn"],
                                           ["fit.epochs=2"])
        mnist = mnist_dir()
        if args.no_mnist:
            notes.append("MNIST skipped (--no-mnist)")
        elif mnist is None:
            notes.append(f"MNIST skipped: no t10k-images-idx3-ubyte.gz under "
                         f"{shared_data() / 'mnist-t10k'} (set DECLML_SHARED_DATA)")
        else:
            images["mnist_cnn"] = mnist_images(mnist)
            if args.mnist_run:
                runs["mnist_cnn"] = args.mnist_run
            else:
                runs["mnist_cnn"] = Path(tmp) / "mnist"
                training["mnist_cnn"] = train("specs/mnist_cnn.yaml", runs["mnist_cnn"],
                                              [f"data.path={mnist}", "fit.epochs=1"])
        for note in notes:
            log(f"note: {note}")
        for name, proc in training.items():
            log(f"training {name} …")
            _, err = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"training {name} failed:\n{err[-3000:]}")
        # Every server starts loading at once (they load in parallel; idle ones cost nothing
        # measurable), then each model is measured and its servers stopped.
        log("starting " + ", ".join(f"{n} ({c})" for n in runs for c in CONFIGS) + " …")
        servers = {name: {config: Server(run, extra) for config, extra in CONFIGS.items()}
                   for name, run in runs.items()}
        models = []
        try:
            for name in runs:
                models.append(measure_model(name, servers[name], images[name], args, log))
        finally:
            for group in servers.values():
                for server in group.values():
                    server.stop()
    rows = [row for model in models for row in rows_for(model, args.concurrency)]
    env["load_average_after"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    seconds = time.perf_counter() - started
    failures = [r["name"] for r in rows if r["pass"] is False]
    broken = [r["name"] for r in rows if r["pass"] is False and r["metric"] in
              ("responses_5xx", "unexpected_or_unanswered", "server_alive_at_end",
               "clean_stop_on_sigint")]
    print(f"declml serve, single-image /predict; {args.repeats} repeat(s) of "
          f"{args.duration:g} s per point, medians; ✓/✗: target (p50 c1 ≤ {P50_TARGET_MS:g} ms, "
          f"≥ {THROUGHPUT_TARGET:g} req/s at c{max(args.concurrency)}, batching on)")
    print(table(rows, args.concurrency))
    for model in models:
        for config, info in model["servers"].items():
            print(f"  {model['model']} {config}: ready in {info['ready_s']:.1f} s; stopped by "
                  f"SIGINT in {info['stop_s']:.1f} s, exit code {info['exit_code']}; "
                  f"tracebacks logged {info['server_errors_logged']}")
            if "log_tail" in info:
                print("    server log:\n" + info["log_tail"])
    for note in notes:
        print(f"note: {note}")
    print()
    print(", ".join(f"{k} {v}" for k, v in env.items()) + f"; {seconds:.0f} s in all")
    verdict = "PASS" if not failures else "FAIL: " + ", ".join(failures)
    print(verdict)
    if args.json:
        args.json.write_text(json.dumps({
            "benchmark": "serve_latency",
            "description": __doc__.splitlines()[0],
            "settings": {"quick": args.quick, "repeats": args.repeats,
                         "duration_s": args.duration, "concurrency": args.concurrency,
                         "malformed_share": args.malformed_share, "warmup": args.warmup,
                         "statistic": "median over repeats"},
            "targets": {"latency_p50_ms_at_c1": P50_TARGET_MS,
                        f"throughput_at_c{max(args.concurrency)}": THROUGHPUT_TARGET,
                        "responses_5xx": 0},
            "environment": env, "seconds": seconds, "notes": notes,
            "servers": {m["model"]: m["servers"] for m in models},
            "rows": rows, "pass": not failures, "failures": failures,
        }, indent=2, default=str))
    if broken:
        return 1
    return 1 if failures and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
