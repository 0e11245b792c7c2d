"""Run every benchmark and write benchmarks/RESULTS.md: the machine, the versions, one table
of every ratio with its target and PASS/FAIL, and each benchmark's own report.

Each benchmark script runs as a subprocess of its own (``--json`` to a temporary file), one
after the other, on the backend in ``KERAS_BACKEND`` (default jax). A benchmark that fails,
times out, is skipped (e.g. the shared data is absent) or is missing is reported as such;
it never hides the others. Quick mode (``--quick``) runs every script in its quick mode — a
check that the scripts work and a first look, a few minutes in all; the numbers to quote
come from the full run, on a quiet machine. data_memory and tune_memory run in full mode
only. The benchmarks are not tests: CI does not run them.

    python benchmarks/run_all.py [--quick] [--only NAME ...] [--skip NAME ...] [--data DIR]
                                 [--output benchmarks/RESULTS.md] [--keep-json DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))


@dataclass
class Benchmark:
    name: str
    script: str
    what: str
    quick: list[str] = field(default_factory=list)
    full: list[str] = field(default_factory=list)
    data: bool = False  # takes --data (the shared data directory)
    full_only: bool = False
    quick_timeout: int = 600
    full_timeout: int = 3600


BENCHMARKS = [
    Benchmark("cli_latency", "cli_latency.py",
              "start-up: declml --help / validate / schema vs python -c pass",
              quick=["--repeats", "3"], quick_timeout=300),
    Benchmark("train_mnist", "train_mnist.py",
              "MNIST CNN: declml train vs hand-written Keras (8k/2k real MNIST)",
              quick=["--quick"], data=True),
    Benchmark("train_text", "train_text.py",
              "SMS spam LSTM: declml train vs hand-written Keras", quick=["--quick"], data=True),
    Benchmark("train_overhead", "train_overhead.py",
              "digits CNN: declml train (API) vs hand-written Keras", quick=["--quick"]),
    Benchmark("tune_overhead", "tune_overhead.py",
              "seed grid: declml tune vs hand-written KerasTuner", quick=["--quick"]),
    Benchmark("serve_latency", "serve_latency.py",
              "declml serve: latency and throughput, batching on/off", quick=["--quick"]),
    Benchmark("backends", "backends.py",
              "the MNIST CNN on jax / tensorflow / torch", quick=["--quick"], data=True),
    Benchmark("data_memory", "data_memory.py", "peak memory: streamed vs whole data",
              full_only=True),
    Benchmark("tune_memory", "tune_memory.py", "RSS over a 20-trial declml random search",
              full_only=True),
]
NAMES = [b.name for b in BENCHMARKS]

# Targets for the benchmarks that do not state their own in their JSON ("checks").
TUNE_TARGET = 1.05  # declml tune / hand-written KerasTuner, whole process
STARTUP_TARGET_S = 0.3  # declml validate and declml --help, cold


def check(name: str, value: float | None, target: float | None, unit: str = "ratio",
          *, kind: str = "le") -> dict[str, Any]:
    passed = None
    if target is not None and value is not None:
        passed = value <= target if kind == "le" else value == target
    return {"name": name, "value": value, "unit": unit,
            "target": None if target is None else f"{'≤' if kind == 'le' else '='} {target:g}",
            "passed": passed}


# ---------------------------------------------------------------- adapters: JSON -> checks

def checks_train_overhead(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [check("digits CNN: declml train (API) / hand-written Keras, process wall time "
                  "(README: ≈ 1.0, no stated target)", r["ratio_total"], None),
            check("digits CNN: the same, work after imports", r["ratio_work"], None)]


def details_train_overhead(r: dict[str, Any]) -> str:
    m = r["median"]
    return "\n".join([
        f"{r.get('spec', 'specs/digits_cnn.yaml')}: {r['epochs']} epochs, {r['repeats']} "
        "repeat(s) per side, fresh processes, alternating order, medians", "",
        "| side | process s | work s | test accuracy |", "|---|---:|---:|---:|",
        f"| hand-written Keras | {m['hand']['total']:.2f} | {m['hand']['work']:.2f} | "
        f"{m['hand']['accuracy']:.4f} |",
        f"| declml (train API) | {m['declml']['total']:.2f} | {m['declml']['work']:.2f} | "
        f"{m['declml']['accuracy']:.4f} |", "",
        f"ratio declml / hand-written: process {r['ratio_total']:.3f}, work "
        f"{r['ratio_work']:.3f}"])


CLI_VALIDATE = "declml validate specs/mnist_cnn.yaml"


def checks_cli_latency(r: dict[str, Any]) -> list[dict[str, Any]]:
    med = r["median_s"]
    floor = med["python -c pass"]
    return [check(f"{CLI_VALIDATE}, cold, seconds", med[CLI_VALIDATE], STARTUP_TARGET_S, "s"),
            check("declml --help, cold, seconds", med["declml --help"], STARTUP_TARGET_S, "s"),
            check("declml schema, cold, seconds", med["declml schema"], None, "s"),
            check("python -c pass (the floor), seconds", floor, None, "s"),
            check("declml validate / python -c pass", med[CLI_VALIDATE] / floor, None)]


def details_cli_latency(r: dict[str, Any]) -> str:
    med, floor = r["median_s"], r["median_s"]["python -c pass"]
    lines = [f"{r['repeats']} interleaved repeats, fresh processes, medians", "",
             "| command | median s | minus python -c pass, s | all samples, s |",
             "|---|---:|---:|---|"]
    for name, value in med.items():
        samples = ", ".join(f"{s:.3f}" for s in r.get("samples_s", {}).get(name, []))
        lines.append(f"| `{name}` | {value:.3f} | {value - floor:.3f} | {samples} |")
    return "\n".join(lines)


def checks_tune_overhead(r: dict[str, Any]) -> list[dict[str, Any]]:
    return [check("seed grid: declml tune / hand-written KerasTuner, process wall time",
                  r["ratio_wall"], TUNE_TARGET),
            check("seed grid: the same, time inside trials", r["ratio_in_trials"], None),
            check("seed grid: largest per-trial score difference", r[
                "max_trial_score_difference"], None, "abs")]


def checks_serve_latency(r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for row in r.get("rows", []):
        if row.get("target") is not None or row.get("pass") is not None \
                or "ratio" in str(row.get("metric", "")):
            target = row.get("target")
            if isinstance(target, str):
                for plain, sign in (("<=", "≤"), (">=", "≥"), ("==", "=")):
                    target = target.replace(plain, sign)
            unit = "" if isinstance(row.get("value"), bool) else row.get("unit", "")
            out.append({"name": f"serve: {row['name']}", "value": row.get("value"),
                        "unit": unit, "target": target, "passed": row.get("pass")})
    return out


def checks_data_memory(r: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for kind in ("csv", "images"):
        summary = r.get(f"{kind}_summary", {})
        for mode in ("stream", "whole"):
            if mode in summary:
                out.append(check(f"data memory, {kind}, {mode}: peak growth, largest / "
                                 "smallest size", summary[mode]["growth_ratio"], None))
    return out


def checks_tune_memory(r: dict[str, Any]) -> list[dict[str, Any]]:
    d = r["runs"]["declml"]
    return [check(f"tune memory: declml RSS growth trial {d.get('growth_from_trial', 5)}→"
                  f"{d.get('trials_finished', r['trials'])}, MiB", d["growth_mib"],
                  r["threshold_mib"], "MiB")]


def _own_checks(r: dict[str, Any]) -> list[dict[str, Any]]:
    return list(r.get("checks", []))


CHECKS: dict[str, Callable[[dict[str, Any]], list[dict[str, Any]]]] = {
    "train_overhead": checks_train_overhead, "cli_latency": checks_cli_latency,
    "tune_overhead": checks_tune_overhead, "serve_latency": checks_serve_latency,
    "data_memory": checks_data_memory, "tune_memory": checks_tune_memory,
}
DETAILS: dict[str, Callable[[dict[str, Any]], str]] = {
    "train_overhead": details_train_overhead, "cli_latency": details_cli_latency,
}


# ---------------------------------------------------------------- running

def run_one(bench: Benchmark, quick: bool, data: str | None, scratch: Path,
            env: dict[str, str]) -> dict[str, Any]:
    script = HERE / bench.script
    command = [sys.executable, f"benchmarks/{bench.script}", *(bench.quick if quick
                                                                else bench.full)]
    if data and bench.data:
        command += ["--data", data]
    out_json = scratch / f"{bench.name}.json"
    command += ["--json", str(out_json)]
    shown = " ".join(shlex.quote(c) for c in ["python", *command[1:-1], out_json.name])
    record: dict[str, Any] = {"name": bench.name, "what": bench.what, "command": shown}
    if not script.is_file():
        return {**record, "status": "missing", "note": f"benchmarks/{bench.script} not found"}
    timeout = bench.quick_timeout if quick else bench.full_timeout
    print(f"\n=== {bench.name}: {shown}", file=sys.stderr, flush=True)
    began = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=timeout)
        rc, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    except subprocess.TimeoutExpired as exc:
        rc = None
        stdout = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
    record.update(seconds=time.perf_counter() - began, exit_code=rc, stdout=stdout,
                  stderr_tail="\n".join(stderr.strip().splitlines()[-40:]))
    sys.stderr.write(stderr[-2000:] if rc else "")
    print(stdout, file=sys.stderr, flush=True)
    results = None
    if out_json.is_file():
        try:
            results = json.loads(out_json.read_text())
        except ValueError as exc:
            record["note"] = f"its JSON could not be read: {exc}"
    if rc is None:
        return {**record, "status": "failed", "note": f"timed out after {timeout} s"}
    if results is None:
        return {**record, "status": "failed",
                "note": record.get("note", f"exit code {rc}, no JSON written")}
    if "skipped" in results:
        return {**record, "status": "skipped", "note": results["skipped"], "results": results}
    record["results"] = results
    try:
        record["checks"] = CHECKS.get(bench.name, _own_checks)(results)
    except (KeyError, TypeError, ZeroDivisionError) as exc:
        record["checks"] = []
        record["note"] = f"its results could not be summarized ({type(exc).__name__}: {exc})"
    status = "ok" if rc == 0 else f"ok, exit code {rc}"
    return {**record, "status": status}


# ---------------------------------------------------------------- the report

def machine() -> dict[str, str]:
    from _common import cpu_model

    info = {"CPU": cpu_model(), "cores (os.cpu_count)": str(os.cpu_count())}
    with contextlib.suppress(AttributeError):
        info["cores usable by this process"] = str(len(os.sched_getaffinity(0)))
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory"] = f"{int(line.split()[1]) / 2**20:.1f} GiB"
    except OSError:
        pass
    info["OS"] = platform.platform()
    return info


def versions(backend: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"Python": platform.python_version(), "KERAS_BACKEND": backend}
    for name in ("keras", "jax", "jaxlib", "tensorflow", "tensorflow-cpu", "torch",
                 "keras-tuner", "numpy", "scikit-learn", "declml", "pydantic", "fastapi",
                 "uvicorn"):
        with contextlib.suppress(PackageNotFoundError):
            out[name] = version(name)
    return out


def git_commit() -> str:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True,
                                  check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    commit = git("rev-parse", "HEAD") or "unknown (not a git checkout)"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" (with uncommitted changes)" if dirty else "")


def _value(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,} {unit}".strip()
    if isinstance(value, float):
        if unit in ("ratio",):
            return f"{value:.3f}"
        if unit == "abs":
            return f"{value:.2g}"
        if unit == "params":
            return f"{value:+,.0f}"
        return f"{value:.3f} {unit}" if abs(value) < 10 else f"{value:,.1f} {unit}"
    return f"{value} {unit}".strip()


def _verdict(passed: bool | None) -> str:
    return "info" if passed is None else ("**PASS**" if passed else "**FAIL**")


def render(meta: dict[str, Any], records: list[dict[str, Any]]) -> str:
    quick = meta["quick"]
    lines = ["# Benchmark results", "",
             f"Written by `{meta['command']}` on {meta['date']} in {meta['seconds']:.0f} s. "
             "Each benchmark compares declml with the hand-written equivalent side by side in "
             "the same run, on the same backend; ratios are declml / hand-written (below 1: "
             "declml faster). What each script measures: `benchmarks/README.md`.", ""]
    if quick:
        lines += ["> **Quick mode**: every benchmark in its smallest setting (1–2 epochs, 1–3 "
                  "repeats). These numbers show that the scripts run; they are not "
                  "measurements — quote the full run (`python benchmarks/run_all.py`) on a "
                  "quiet machine.", ""]
    lines += ["## Machine and versions", "", "| | |", "|---|---|"]
    rows = {"date": meta["date"], "command": f"`{meta['command']}`",
            "git commit": meta["commit"], **meta["machine"],
            "load average before (1, 5, 15 min)": meta["load_before"],
            "load average after": meta["load_after"], **meta["versions"]}
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    lines += ["", "## Every ratio and target", "",
              "| benchmark | measured | value | target | result |", "|---|---|---:|---|---|"]
    for rec in records:
        if rec["status"] in ("missing", "skipped", "failed", "not run"):
            lines.append(f"| {rec['name']} | {rec['what']} | — | — | "
                         f"**{rec['status'].upper()}**: {rec.get('note', '')} |")
            continue
        if not rec.get("checks"):
            lines.append(f"| {rec['name']} | {rec['what']} | — | — | no numbers "
                         f"({rec.get('note', 'see details')}) |")
        for c in rec.get("checks", []):
            lines.append(f"| {rec['name']} | {c['name']} | {_value(c['value'], c['unit'])} | "
                         f"{c['target'] or '—'} | {_verdict(c['passed'])} |")
    lines += ["", "## Runs", "", "| benchmark | command | status | seconds |",
              "|---|---|---|---:|"]
    for rec in records:
        seconds = f"{rec['seconds']:.0f}" if "seconds" in rec else "—"
        lines.append(f"| {rec['name']} | `{rec['command']}` | {rec['status']} | {seconds} |")
    lines += ["", "## Details"]
    for rec in records:
        lines += ["", f"### {rec['name']}: {rec['what']}", ""]
        if rec["status"] in ("missing", "skipped", "not run"):
            lines.append(f"{rec['status'].capitalize()}: {rec.get('note', '')}")
            continue
        if rec["status"] == "failed":
            lines += [f"Failed: {rec.get('note', '')}", "", "```",
                      rec.get("stderr_tail", "") or rec.get("stdout", "")[-3000:], "```"]
            continue
        results = rec["results"]
        if rec["name"] in DETAILS:
            try:
                lines.append(DETAILS[rec["name"]](results))
            except (KeyError, TypeError) as exc:
                lines.append(f"(details could not be rendered: {exc})")
        elif isinstance(results.get("report"), str):
            lines.append(results["report"])
        else:
            lines.append(rec["stdout"].strip())
        environment = results.get("environment")
        if isinstance(environment, dict) and "load_average" in environment:
            lines += ["", f"Load average during this benchmark: "
                          f"{environment.get('load_average')} → "
                          f"{environment.get('load_average_after', '?')}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help="every benchmark in its quick mode (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME",
                        help=f"run only these ({', '.join(NAMES)})")
    parser.add_argument("--skip", nargs="+", choices=NAMES, default=[], metavar="NAME")
    parser.add_argument("--data", help="shared data directory, for the benchmarks that use "
                                       "it (default: $DECLML_SHARED_DATA or ../shared/data)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--keep-json", type=Path, metavar="DIR",
                        help="also keep each benchmark's JSON here")
    args = parser.parse_args()
    backend = os.environ.get("KERAS_BACKEND", "").strip() or "jax"
    env = {**os.environ, "KERAS_BACKEND": backend}
    selected = [b for b in BENCHMARKS if (args.only is None or b.name in args.only)
                and b.name not in args.skip]
    command = "python benchmarks/run_all.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    from _common import load_average

    meta: dict[str, Any] = {
        "quick": args.quick, "command": command.strip(),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git_commit(), "machine": machine(), "versions": versions(backend),
        "load_before": load_average()}
    started = time.perf_counter()
    records = []
    with tempfile.TemporaryDirectory(prefix="declml-bench-") as tmp:
        scratch = args.keep_json or Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        for bench in selected:
            if args.quick and bench.full_only and args.only is None:
                records.append({"name": bench.name, "what": bench.what, "status": "not run",
                                "command": f"python benchmarks/{bench.script}",
                                "note": "full mode only (run without --quick)"})
                continue
            records.append(run_one(bench, args.quick, args.data, scratch, env))
            print(f"=== {bench.name}: {records[-1]['status']} "
                  f"({records[-1].get('seconds', 0):.0f} s)", file=sys.stderr, flush=True)
    meta.update(load_after=load_average(), seconds=time.perf_counter() - started)
    args.output.write_text(render(meta, records), encoding="utf-8")
    failed = [r["name"] for r in records if r["status"] == "failed"]
    missed = [f"{r['name']}: {c['name']}" for r in records for c in r.get("checks", [])
              if c.get("passed") is False]
    print(f"\nwrote {args.output} ({meta['seconds']:.0f} s); failed: {', '.join(failed) or 'none'}"
          f"; targets missed: {len(missed)}", file=sys.stderr)
    for line in missed:
        print(f"  FAIL {line}", file=sys.stderr)


if __name__ == "__main__":
    main()
