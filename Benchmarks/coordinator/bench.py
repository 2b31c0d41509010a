"""Coordinator and Scheduler benchmarks: builds the `vc-bench` executable (SwiftPM, release) and
runs it on one core. Pass --quick for a short run."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

if __name__ == "__main__":
    scratch = ROOT / ".build-bench"
    subprocess.run(["swift", "build", "-c", "release", "--product", "vc-bench", "--package-path", str(ROOT),
                    "--scratch-path", str(scratch)], check=True, stdout=subprocess.DEVNULL)
    exe = scratch / "release" / "vc-bench"
    pin = ["taskset", "-c", "0"] if shutil.which("taskset") and os.cpu_count() else []
    sys.exit(subprocess.run(pin + [str(exe)] + sys.argv[1:]).returncode)
