"""Chaos: the full-stack topology (voicecore.testing.fullstack) under random faults for as long as
asked, the Simulator's invariants checked on the daemon's own event log all along.

    python -m voicecore.testing.chaos --duration 10m --seed 123      # make chaos DURATION=10m SEED=123

Devices talk in a loop, hanging up at random phases and aborting replies. Between heals, a fault
every few seconds, each kind drawn from the seed: ``kill-worker`` (SIGKILL of a worker process,
a new one started later, as a supervisor would), ``stop-worker`` (SIGSTOP for a while, then
SIGCONT), ``kill-daemon`` (SIGKILL of voicecored, restarted on the same port; the workers redial),
``burst`` (connections that say hello and leave, half with a TCP reset), ``silent`` (sockets that
connect and say nothing, held for a while), ``slow`` (upgrade requests sent a byte at a time).
Every ``--heal`` seconds the faults stop, the devices finish, every process is back, and the run
must be quiet: no job, slot or turn left open in the core, and one round of turns that all complete.

A failure prints its seed, and keeps the run's directory: the daemon's log, each worker's log, and
the daemon's journal when this voicecored records one (``--journal``; ``voicecore replay``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shutil
import signal
import socket
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import websockets

from .fullstack import PHASES, Stack, WorkerProc, device_turn
from .invariants import LogChecker, Violation

FAULTS = ["kill-worker", "stop-worker", "kill-daemon", "burst", "silent", "slow"]
FALLBACK_WORDS = ("sorry", "can't", "cannot", "wrong")


def parse_duration(text: str) -> float:
    text = text.strip().lower()
    units = {"s": 1, "m": 60, "h": 3600}
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


@dataclass
class ChaosReport:
    seed: int
    faults: dict[str, int] = field(default_factory=dict)
    turns: int = 0
    complete: int = 0
    fallbacks: int = 0
    cut: int = 0  # hung up by the device, or its connection lost to a fault
    other: int = 0
    others: list[str] = field(default_factory=list)
    heals: int = 0
    violations: list[str] = field(default_factory=list)
    log_entries: int = 0

    def line(self) -> str:
        faults = ", ".join(f"{k} {v}" for k, v in sorted(self.faults.items())) or "none"
        return (f"seed {self.seed}: faults {faults}; {self.turns} turns ({self.complete} complete, {self.fallbacks} fallback, "
                f"{self.cut} cut, {self.other} other); {self.heals} heals; {self.log_entries} core log entries checked; {len(self.violations)} violation(s)")


class Chaos:
    def __init__(self, directory: Path, seed: int, devices: int, heal_every: float, fault_gap: tuple[float, float],
                 faults: list[str]) -> None:
        self.rng = random.Random(seed)
        self.report = ChaosReport(seed)
        self.stack = Stack(directory, workers={"asr": (2, 3), "assistant": (2, 3), "tts": (2, 3)})
        self.devices = devices
        self.heal_every = heal_every
        self.fault_gap = fault_gap
        self.fault_kinds = faults
        self.faulting = asyncio.Event()
        self.stopping = False
        self.daemon_lives = 1
        self._fault_tasks: set[asyncio.Task[None]] = set()

    # Devices --------------------------------------------------------------------------------------

    async def device(self, i: int, until: float) -> None:
        rng = random.Random(self.rng.random())
        while time.monotonic() < until and not self.stopping:
            hangup = rng.choice(PHASES) if rng.random() < 0.3 else None
            abort = hangup is None and rng.random() < 0.1
            r = await device_turn(self.stack.ws_url, rng.randrange(10), hangup=hangup, device_id=f"chaos:{i}", turns=rng.randint(1, 3),
                                  abort_at_audio=abort, rng=rng, timeout=45)
            self.report.turns += 1
            said = " ".join(r.sentences).lower()
            if r.ok and hangup is None:
                self.report.complete += 1
            elif hangup is not None or r.problem.startswith(("connect failed", "ConnectionClosed", "OSError")):
                self.report.cut += 1
            elif (r.frames and any(w in said for w in FALLBACK_WORDS)) or r.alerts:
                self.report.fallbacks += 1
            elif "does not decode" in r.problem:
                self.violation("reply-decodes", f"device chaos:{i}: {r.problem}")
            elif "no `tts stop`" in r.problem:
                self.violation("no-stuck-turn", f"device chaos:{i} heard no end of its turn: {r.problem}")
            elif r.problem.startswith(("TimeoutError", "IncompleteReadError", "InvalidMessage")):
                self.report.cut += 1  # the handshake or hello lost to a fault (daemon killed, frozen)
            else:
                self.report.other += 1  # a turn that ended otherwise: shown, not a violation by itself
                if len(self.report.others) < 10:
                    self.report.others.append(f"device chaos:{i} (hang-up {hangup}, abort {abort}): {r.problem}")
            await asyncio.sleep(rng.uniform(0, 0.3))

    def violation(self, name: str, detail: str) -> None:
        self.report.violations.append(f"{name}: {detail}")

    # Faults ---------------------------------------------------------------------------------------

    def _live_workers(self) -> list[WorkerProc]:
        return [w for w in self.stack.workers if w.proc.poll() is None]

    async def fault(self, kind: str) -> None:
        self.report.faults[kind] = self.report.faults.get(kind, 0) + 1
        rng = self.rng
        stack = self.stack
        if kind == "kill-worker":
            w = rng.choice(self._live_workers())
            stack.kill_worker(w)
            await asyncio.sleep(rng.uniform(0.5, 4))
            stack.replace_worker(w)
        elif kind == "stop-worker":
            w = rng.choice(self._live_workers())
            w.proc.send_signal(signal.SIGSTOP)
            await asyncio.sleep(rng.uniform(0.5, 8))
            w.proc.send_signal(signal.SIGCONT)
        elif kind == "kill-daemon":
            await self.restart_daemon(rng.uniform(0.2, 2))
        elif kind == "burst":
            n = rng.randint(20, 120)
            await asyncio.gather(*(self._hello_and_go(i, rng.random() < 0.5) for i in range(n)), return_exceptions=True)
        elif kind == "silent":
            held = []
            for _ in range(rng.randint(5, 40)):
                try:
                    held.append(socket.create_connection(("127.0.0.1", stack.port), timeout=2))
                except OSError:
                    break
            await asyncio.sleep(rng.uniform(1, 6))
            for s in held:
                s.close()
        elif kind == "slow":
            request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 40 + b"\r\n\r\n"
            socks = []
            for _ in range(rng.randint(2, 10)):
                try:
                    socks.append(socket.create_connection(("127.0.0.1", stack.port), timeout=2))
                except OSError:
                    break
            for i in range(len(request)):
                for s in socks:
                    try:
                        s.send(request[i:i + 1])
                    except OSError:
                        pass
                await asyncio.sleep(0.05)
            for s in socks:
                s.close()

    async def _hello_and_go(self, i: int, reset: bool) -> None:
        ws = await websockets.connect(self.stack.ws_url + "/xiaozhi/v1/", additional_headers={"Device-Id": f"burst:{i}"}, open_timeout=10)
        await ws.send(json.dumps({"type": "hello", "version": 1, "transport": "websocket"}))
        await asyncio.wait_for(ws.recv(), 10)
        if reset:
            ws.transport.abort()
        else:
            await ws.close()

    async def restart_daemon(self, down: float) -> None:
        """SIGKILL of voicecored and a new one on the same port (what `voicecore up` does). The
        killed daemon's log is checked as a run that ended abruptly (no end-of-run checks)."""
        stack = self.stack
        assert stack.daemon is not None
        stack.daemon.send_signal(signal.SIGKILL)
        stack.daemon.wait()
        if stack._reader is not None:
            stack._reader.join(timeout=5)
        with stack._lock:
            old = stack.checker
            old.finish(quiet=False)
            self._collect(old)
            stack.checker = LogChecker(slots=dict(old.slots))
            stack._registered.clear()
        await asyncio.sleep(down)
        for attempt in range(50):
            try:
                stack.start_daemon(port=stack.port)
                break
            except RuntimeError:
                if stack.daemon is not None and stack.daemon.poll() is None:
                    raise
                await asyncio.sleep(0.2)  # the port is still in TIME_WAIT's grip; voicecore up retries the same way
        self.daemon_lives += 1

    def _collect(self, checker: LogChecker) -> None:
        self.report.log_entries += checker.entries
        for v in checker.violations:
            self.violation(v.invariant, f"daemon life {self.daemon_lives}: {v}")
        checker.violations.clear()

    async def faults(self, until: float) -> None:
        while time.monotonic() < until and not self.stopping:
            await asyncio.sleep(self.rng.uniform(*self.fault_gap))
            if time.monotonic() >= until:
                break
            kind = self.rng.choice(self.fault_kinds)
            if kind == "kill-daemon" and any(not t.done() for t in self._fault_tasks):
                kind = "burst"  # one daemon restart at a time, with nothing else mid-way
            task = asyncio.ensure_future(self.fault(kind))
            self._fault_tasks.add(task)
            task.add_done_callback(self._fault_tasks.discard)
            if kind == "kill-daemon":
                await task
        if self._fault_tasks:
            await asyncio.gather(*self._fault_tasks, return_exceptions=True)

    # Heal -----------------------------------------------------------------------------------------

    async def heal(self) -> None:
        """Every process back, the devices gone: the run must be quiet and every turn complete."""
        stack = self.stack
        for w in list(stack.workers):
            if w.proc.poll() is not None:
                stack.replace_worker(w)
            else:
                w.proc.send_signal(signal.SIGCONT)
        try:
            await stack.wait_registered(len(stack.workers), timeout=60)
        except RuntimeError as exc:
            self.violation("liveness-after-heal", str(exc))
            return
        if not await stack.quiesce(60):
            with stack._lock:
                self.violation("liveness-after-heal", f"not quiet 60 s after the faults: jobs {sorted(stack.checker.jobs)[:10]}, "
                                                      f"turns {sorted(stack.checker.open_turns, key=str)[:10]}")
        with stack._lock:
            for v in stack.checker.finish(quiet=True):
                self.violation(v.invariant, f"at heal {self.report.heals + 1}: {v}")
            stack.checker.violations.clear()
        results = await asyncio.gather(*(device_turn(stack.ws_url, q, device_id=f"heal:{q}", timeout=45) for q in range(6)))
        for r in results:
            if not r.ok:
                self.violation("liveness-after-heal", f"a turn after the heal: {r.problem}")
        self.report.heals += 1

    async def run(self, duration: float) -> ChaosReport:
        await self.stack.start()
        end = time.monotonic() + duration
        try:
            while time.monotonic() < end and not self.report.violations:
                until = min(end, time.monotonic() + self.heal_every)
                await asyncio.gather(self.faults(until), *(self.device(i, until) for i in range(self.devices)))
                await self.heal()
        finally:
            self.stopping = True
            await self.stack.stop()
            with self.stack._lock:
                self._collect(self.stack.checker)
        return self.report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m voicecore.testing.chaos", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", default="2m", help="how long: 90s, 10m, 2h (default 2m)")
    p.add_argument("--seed", type=int, default=None, help="the run's seed (default: random, printed)")
    p.add_argument("--devices", type=int, default=8)
    p.add_argument("--heal", type=float, default=45.0, help="seconds of faults between heals")
    p.add_argument("--fault-gap", type=float, nargs=2, default=(1.0, 4.0), metavar=("MIN", "MAX"), help="seconds between faults")
    p.add_argument("--faults", default=",".join(FAULTS), help=f"the kinds to draw from (default all: {','.join(FAULTS)})")
    p.add_argument("--dir", help="where the run's logs go (default: a temporary directory, kept on failure)")
    args = p.parse_args(argv)
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 31)
    kinds = [k for k in args.faults.split(",") if k]
    unknown = set(kinds) - set(FAULTS)
    if unknown:
        p.error(f"unknown faults {sorted(unknown)}; known: {FAULTS}")
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix=f"voicecore-chaos-{seed}-"))
    print(f"chaos: seed {seed}, {args.duration}, {args.devices} devices, faults {','.join(kinds)}; logs in {directory}", flush=True)
    chaos = Chaos(directory, seed, args.devices, args.heal, tuple(args.fault_gap), kinds)
    try:
        report = asyncio.run(chaos.run(parse_duration(args.duration)))
    except Exception as exc:  # noqa: BLE001 - a crash of the run is a failure with its seed
        print(f"chaos: FAILED (seed {seed}): {type(exc).__name__}: {exc}; logs kept in {directory}")
        return 1
    print(report.line())
    for o in report.others:
        print("  other:", o)
    for v in report.violations[:30]:
        print("  violation:", v)
    if report.violations:
        journal = f", journal {chaos.stack.journal_path}" if chaos.stack.journal_path else ""
        print(f"chaos: FAILED (seed {seed}); rerun: make chaos SEED={seed} DURATION={args.duration}; logs kept in {directory}{journal}")
        return 1
    print(f"chaos: passed (seed {seed})")
    if not args.dir:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
