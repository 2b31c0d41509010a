"""A real ``voicecore memory`` process for tests: port 0 (or a given one, to come back on after a
kill), its ``listening`` line read for the port, and a small synchronous client to look inside.

    service = MemoryProcess(tmp_path / "memory.sqlite3")
    service.url, service.token
    service.get("default", "dev-1")          # the service's JSON for (agent, device)
    service.kill(); service.start()          # down, then back on the same port over the same file
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])


class MemoryProcess:
    def __init__(self, db: Path, token: str = "", port: int = 0, start: bool = True) -> None:
        self.db = Path(db)
        self.token = token or secrets.token_hex(12)
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.log_path = self.db.with_suffix(".log")
        if start:
            self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        env = dict(os.environ, VOICECORE_MEMORY_TOKEN=self.token, VOICECORE_LOG_LEVEL="INFO")
        env["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        self.proc = subprocess.Popen([sys.executable, "-m", "voicecore", "memory", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--db", str(self.db)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        ready = threading.Event()

        def read(proc: subprocess.Popen[str]) -> None:
            assert proc.stdout is not None
            with open(self.log_path, "a", encoding="utf-8") as log:
                for line in proc.stdout:
                    log.write(line)
                    log.flush()
                    if line.startswith("{") and not ready.is_set():
                        entry = json.loads(line)
                        if entry.get("event") == "listening":
                            self.port = int(entry["port"])
                            ready.set()

        threading.Thread(target=read, args=(self.proc,), daemon=True).start()
        deadline = time.monotonic() + timeout
        while not ready.wait(0.05):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"voicecore memory did not start (exit {self.proc.poll()}): {self.log_path.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    # A synchronous client --------------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None, token: str | None = None, raw: bytes | None = None) -> tuple[int, Any]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {"Content-Type": "application/json"}
        if token is None:
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"{}")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"{}")

    def key(self, agent: str, device: str) -> str:
        return f"/v1/memory/{quote(agent, safe='')}/{quote(device, safe='')}"

    def get(self, agent: str, device: str, budget_tokens: int = 100_000) -> dict[str, Any]:
        status, body = self.request("GET", f"{self.key(agent, device)}?budget_tokens={budget_tokens}")
        assert status == 200, (status, body)
        return body
