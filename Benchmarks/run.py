"""Runs every registered benchmark in turn (`make bench`). One line per benchmark."""

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BENCHMARKS = [
    "splitter/bench.py",
    "daemon/bench_daemon.py",
    "daemon/bench_admission.py",
    "retriever/bench_retriever.py",
    "coordinator/bench.py",
    "simulator/bench.py",
    "asr/bench_asr.py",
    "e2e/bench_e2e.py",
    "e2e/bench_conversation.py",
    "e2e/bench_barge_in.py",
    "turn/bench_turn.py",
]

if __name__ == "__main__":
    failed = 0
    for script in BENCHMARKS:
        print(f"==> {script}", flush=True)
        failed |= subprocess.run([sys.executable, str(HERE / script)]).returncode != 0
    sys.exit(1 if failed else 0)
