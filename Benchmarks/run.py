"""Runs every registered benchmark in turn (make bench). One line per benchmark below."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

BENCHMARKS = [
    ["daemon/bench_daemon.py"],
]

if __name__ == "__main__":
    failed = 0
    for entry in BENCHMARKS:
        print(f"\n# {entry[0]}\n", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / entry[0]), *entry[1:]]).returncode != 0
    sys.exit(1 if failed else 0)
