"""`python -m voicecore up` as a test runs it: on a free port, its output collected (the end-to-end
tests that meet the system as a user does)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class Up:
    """`python -m voicecore up` on a free port, its output collected."""

    def __init__(self, state: Path, *args: str) -> None:
        self.state = state
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        self.proc = subprocess.Popen([sys.executable, "-m", "voicecore", "up", "--host", "127.0.0.1", "--port", "0",
                                      "--state-dir", str(state), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        self.wait_output("VoiceCore is up", 180)
        self.status = json.loads((state / "up.json").read_text())

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.output.append(line)

    def wait_output(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(text in line for line in self.output):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from voicecore up:\n{''.join(self.output)[-4000:]}")
            time.sleep(0.1)

    def pids(self) -> dict[str, int]:
        return json.loads((self.state / "up.json").read_text())["pids"]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        return self.proc.returncode
