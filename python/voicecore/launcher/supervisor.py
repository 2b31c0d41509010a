"""Runs child processes, logs each to its own file, restarts crashed ones with backoff, and stops
them all in a chosen order.

Children run in their own sessions, so a Ctrl-C in the terminal reaches only the supervisor, which
then stops them in reverse start order (workers drain before the daemon goes). Each child also gets
PR_SET_PDEATHSIG, so a supervisor killed with SIGKILL leaves no orphans behind.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import random
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@dataclass
class ChildSpec:
    name: str
    argv: list[str]
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    on_line: Callable[[str], None] | None = None  # sees every output line (e.g. the daemon's `listening`)
    restart: bool = True
    stop_timeout: float = 10.0


@dataclass
class Child:
    spec: ChildSpec
    process: asyncio.subprocess.Process | None = None
    started_at: float = 0.0
    restarts: int = 0
    failures_in_a_row: int = 0
    last_exit: int | None = None


class Supervisor:
    """Restart delay: ``backoff_base`` doubling per crash in a row up to ``backoff_max``, jittered
    ±20 %; a child that ran ``stable_after`` seconds before crashing starts again from the base."""

    def __init__(self, report: Callable[[str], None] = print, backoff_base: float = 0.5, backoff_max: float = 30.0,
                 stable_after: float = 30.0, rng: random.Random | None = None,
                 on_spawn: Callable[[Child], None] | None = None) -> None:
        self.report = report
        self.on_spawn = on_spawn
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self.stable_after = stable_after
        self.rng = rng or random.Random()
        self.children: list[Child] = []
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False
        self.stopped = asyncio.Event()

    async def start(self, spec: ChildSpec) -> Child:
        child = Child(spec)
        self.children.append(child)
        await self._spawn(child)
        self._watchers.append(asyncio.create_task(self._watch(child), name=f"watch-{spec.name}"))
        return child

    def restart_delay(self, child: Child) -> float:
        delay = min(self.backoff_max, self.backoff_base * 2 ** max(0, child.failures_in_a_row - 1))
        return delay * self.rng.uniform(0.8, 1.2)

    async def _spawn(self, child: Child) -> None:
        spec = child.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ)
        env.update(spec.env)
        env["PYTHONUNBUFFERED"] = "1"
        child.process = await asyncio.create_subprocess_exec(
            *spec.argv, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            env=env, start_new_session=True, preexec_fn=_die_with_parent, limit=1 << 20)
        child.started_at = time.monotonic()
        if self.on_spawn is not None:
            self.on_spawn(child)
        asyncio.create_task(self._pump(child, child.process), name=f"log-{spec.name}")

    async def _pump(self, child: Child, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        with open(child.spec.log_path, "ab", buffering=0) as log:
            while True:
                try:
                    line = await process.stdout.readline()
                except ValueError:  # a line beyond the limit: keep what fits
                    line = await process.stdout.read(1 << 20)
                if not line:
                    return
                log.write(line)
                if child.spec.on_line is not None:
                    try:
                        child.spec.on_line(line.decode("utf-8", "replace").rstrip("\n"))
                    except Exception as exc:  # an observer's bug must not stop the logging
                        self.report(f"[{child.spec.name}] log observer failed: {exc!r}")

    async def _watch(self, child: Child) -> None:
        while True:
            assert child.process is not None
            code = await child.process.wait()
            child.last_exit = code
            if self._stopping:
                return
            ran = time.monotonic() - child.started_at
            child.failures_in_a_row = 1 if ran >= self.stable_after else child.failures_in_a_row + 1
            if not child.spec.restart:
                self.report(f"{child.spec.name} exited with code {code} (log: {child.spec.log_path})")
                return
            delay = self.restart_delay(child)
            self.report(f"{child.spec.name} exited with code {code} after {ran:.1f} s; restarting in {delay:.1f} s "
                        f"(log: {child.spec.log_path})")
            try:
                await asyncio.wait_for(self.stopped.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            if self._stopping:
                return
            child.restarts += 1
            await self._spawn(child)

    async def stop(self) -> None:
        """SIGTERM to each child in reverse start order; SIGKILL after its ``stop_timeout``."""
        self._stopping = True
        self.stopped.set()
        for child in reversed(self.children):
            process = child.process
            if process is None or process.returncode is not None:
                continue
            try:
                process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                await asyncio.wait_for(process.wait(), child.spec.stop_timeout)
            except asyncio.TimeoutError:
                self.report(f"{child.spec.name} did not stop within {child.spec.stop_timeout:.0f} s; killing it")
                process.kill()
                await process.wait()
        for task in self._watchers:
            task.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
