"""Runs every registered benchmark in turn (``make bench``). One line per benchmark."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    ["retriever/bench_retriever.py"],
]

failed = 0
for argv in BENCHMARKS:
    print(f"==> {argv[0]}", flush=True)
    failed += subprocess.call([sys.executable, str(HERE / argv[0]), *argv[1:]]) != 0
sys.exit(1 if failed else 0)
