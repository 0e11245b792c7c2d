"""Cold start of the commands people wait on: validate, schema, --help.

Each command runs in a fresh process, several times; reports the median wall
time beside a bare ``python -c pass`` measured in the same run (the floor), and
checks the target: ``declml validate`` on the MNIST spec within 0.3 s.

    python benchmarks/cli_latency.py [--repeats 7] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_VALIDATE_S = 0.3

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "declml --help": [sys.executable, "-m", "declml", "--help"],
    "declml validate specs/mnist_cnn.yaml": [sys.executable, "-m", "declml", "validate",
                                             "specs/mnist_cnn.yaml"],
    "declml schema": [sys.executable, "-m", "declml", "schema"],
}


def _time(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    samples: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(args.repeats):  # interleaved, so load changes hit all alike
        for name, cmd in COMMANDS.items():
            samples[name].append(_time(cmd))
    medians = {name: statistics.median(s) for name, s in samples.items()}
    validate = medians["declml validate specs/mnist_cnn.yaml"]
    results = {"repeats": args.repeats, "median_s": medians,
               "validate_target_s": TARGET_VALIDATE_S,
               "validate_within_target": validate <= TARGET_VALIDATE_S}
    print(json.dumps(results, indent=2))
    if args.json:
        args.json.write_text(json.dumps({**results, "samples_s": samples}, indent=2))


if __name__ == "__main__":
    main()
