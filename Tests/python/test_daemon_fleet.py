"""The fleet heals itself, through the real processes: the real voicecored, real worker-SDK
processes (Tests/python/fleet_worker.py, instant engines) and real WebSocket device clients.
Faults are real: a handler that hangs and swallows the hub's cancel (its slot leaks on the
worker), `kill -STOP` of a worker mid-reply.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from daemon_harness import WORKER_TOKEN, Daemon, OpusDecoder, connect_device, hello, next_json, unframe

HERE = Path(__file__).resolve().parent


class SDKWorker:
    """One fleet_worker.py process; `id` is the hub's name for it once registered."""

    def __init__(self, d: Daemon, kind: str, slots: int = 1, mode: str = "normal", name: str = "") -> None:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(HERE.parents[1] / "python") + os.pathsep + env.get("PYTHONPATH", "")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "fleet_worker.py"), d.ws + "/worker", WORKER_TOKEN, kind, "--slots", str(slots),
             "--mode", mode, "--name", name or f"{mode}-{kind}"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        self.lines: list[str] = []
        self._ready = threading.Event()
        self.id = ""
        threading.Thread(target=self._read, daemon=True).start()
        if not self._ready.wait(30):
            self.stop()
            raise TimeoutError(f"{kind} worker did not register")

    def _read(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            self.lines.append(line.strip())
            if line.startswith("ready "):
                self.id = line.split()[1]
                self._ready.set()

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.kill()
            self.proc.wait(10)


def http_get(d: Daemon, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(d.http + path, timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def metric(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in /metrics")


def entries(d: Daemon, kind: str, **match: Any) -> list[dict[str, Any]]:
    return [e for e in list(d.log) if e.get("kind") == kind and all(e.get(k) == v for k, v in match.items())]


async def wait_log(d: Daemon, kind: str, timeout: float, **match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = entries(d, kind, **match)
        if found:
            return found[0]
        await asyncio.sleep(0.02)
    raise AssertionError(f"no {kind} {match} in the daemon log within {timeout} s")


async def open_device(d: Daemon, device_id: str) -> Any:
    device = await connect_device(d, device_id=device_id)
    await device.send(hello())
    assert (await next_json(device))["type"] == "hello"
    return device


async def text_turn(device: Any, text: str, timeout: float = 20.0) -> dict[str, Any]:
    """Sends a typed utterance; collects the reply until `tts stop` (or an `alert` of a reply no
    TTS worker could speak). Returns the tags seen, decoded samples and the seconds it took."""
    start = time.monotonic()
    await device.send(json.dumps({"type": "listen", "state": "detect", "text": text}))
    decoder = OpusDecoder(24000)
    tags: list[str] = []
    samples = 0
    while True:
        msg = await asyncio.wait_for(device.recv(), max(0.01, start + timeout - time.monotonic()))
        if isinstance(msg, bytes):
            samples += len(decoder.decode(unframe(1, msg))) // 2
            continue
        m = json.loads(msg)
        tags.append(m["type"] + ("." + m["state"] if "state" in m else ""))
        if tags[-1] in ("tts.stop", "alert"):
            if tags[-1] == "alert":
                tags.append(m.get("message", ""))
            return {"tags": tags, "samples": samples, "seconds": time.monotonic() - start}


def test_refused_job_runs_on_the_other_worker_at_once_without_ejection() -> None:
    # Heartbeats far apart: the hub learns of the leaked slot only from the refusal itself.
    with Daemon("--coordinator", json.dumps({"heartbeat_ms": 60000})) as d:
        workers: list[SDKWorker] = []
        try:
            workers.append(SDKWorker(d, "assistant", slots=4))
            leaky = SDKWorker(d, "tts", slots=1, mode="stubborn", name="leaky")
            workers.append(leaky)

            async def run() -> None:
                device = await open_device(d, "aa:bb:cc:00:00:01")
                # Turn 1: the leaky worker's handler hangs and swallows the hub's cancel, so its one
                # slot stays busy on the worker after the hub has freed it.
                await device.send(json.dumps({"type": "listen", "state": "detect", "text": "first"}))
                await wait_log(d, "job.dispatched", 10, job_kind="tts", worker=leaky.id)
                workers.append(SDKWorker(d, "tts", slots=1, name="good"))
                await wait_log(d, "job.timeout", 10, job_kind="tts", reason="progress", worker=leaky.id)
                while True:  # the rest of turn 1
                    msg = await asyncio.wait_for(device.recv(), 15)
                    if isinstance(msg, str) and json.loads(msg).get("state") == "stop":
                        break
                # Later turns: when the hub picks the leaky worker it refuses ("no free tts slot").
                for n in range(12):
                    turn = await text_turn(device, f"question {n}")
                    assert "alert" not in turn["tags"], turn
                    assert turn["samples"] >= 24000 * 25 // 100, turn  # the answer was spoken
                    if entries(d, "job.refused"):
                        break
                await device.close()

            asyncio.run(run())
            refused = entries(d, "job.refused", worker=leaky.id)
            assert refused, "the leaky worker never refused a job"
            r = refused[0]
            assert r["reason"] == "no free tts slot"
            good = workers[2]
            moved = [e for e in entries(d, "job.dispatched", job=r["job"], worker=good.id) if e["seq"] > r["seq"]]
            assert moved, "the refused job did not go to the other worker"
            # At once — not after a backoff: as soon as the other worker has a free slot (under
            # load its previous job may still be finishing).
            log = [e for e in list(d.log) if "seq" in e and "kind" in e]
            ends = ("job.done", "job.failed", "job.cancelled")
            busy = sum(1 for e in log if e["seq"] < r["seq"] and e.get("worker") == good.id and e["kind"] == "job.dispatched") - \
                sum(1 for e in log if e["seq"] < r["seq"] and e.get("worker") == good.id and e["kind"] in ends)
            free_at = r["t_us"]
            if busy > 0:
                freed = [e for e in log if r["seq"] < e["seq"] < moved[0]["seq"] and e.get("worker") == good.id and e["kind"] in ends]
                assert freed, "dispatched to a worker the hub thought busy"
                free_at = freed[0]["t_us"]
            between = [e for e in log if r["seq"] <= e["seq"] <= moved[0]["seq"]]
            assert moved[0]["t_us"] - free_at < 200_000, between
            assert not entries(d, "job.failed", job=r["job"])
            assert not entries(d, "worker.ejected")
            status, text = http_get(d, "/metrics")
            assert status == 200
            assert metric(text, 'voicecored_job_refusals_total{kind="tts"}') >= 1
        finally:
            for w in workers:
                w.stop()


def test_sigstop_of_a_tts_worker_mid_reply_moves_the_reply_within_three_seconds() -> None:
    with Daemon() as d:  # the defaults: 1 s heartbeats, 3 missed; 3 s TTS progress
        workers: list[SDKWorker] = []
        try:
            workers.append(SDKWorker(d, "assistant", slots=4))
            frozen = SDKWorker(d, "tts", slots=1, name="frozen")
            good = SDKWorker(d, "tts", slots=1, name="good")
            workers += [frozen, good]

            async def run() -> list[dict[str, Any]]:
                devices = [await open_device(d, f"aa:bb:cc:00:01:0{i}") for i in range(2)]
                # Frozen, but still registered: with one slot each, one of the two replies' TTS
                # jobs goes to it and stalls there.
                frozen.signal(signal.SIGSTOP)
                turns = await asyncio.gather(*(text_turn(dev, f"hello {i}") for i, dev in enumerate(devices)))
                for dev in devices:
                    await dev.close()
                return list(turns)

            turns = asyncio.run(run())
            stalled = entries(d, "job.dispatched", job_kind="tts", worker=frozen.id)
            assert stalled, "no TTS job reached the frozen worker"
            for turn in turns:
                # Every user hears the answer (the other worker spoke it), within ~3 s of the stall.
                assert "alert" not in turn["tags"] and "tts.stop" in turn["tags"], turn
                assert turn["samples"] >= 24000 * 25 // 100, turn
                assert turn["seconds"] < 6.0, turn
            gone = entries(d, "worker.gone", worker=frozen.id)
            assert gone and gone[0]["reason"] == "heartbeat-timeout"
            moved = [e for e in entries(d, "job.dispatched", job_kind="tts", worker=good.id) if e["seq"] > gone[0]["seq"]]
            assert moved and moved[0]["t_us"] - stalled[0]["t_us"] <= 3_500_000
        finally:
            for w in workers:
                w.stop()


def test_healthz_is_503_with_the_reason_while_the_only_tts_worker_is_stuck_and_200_after() -> None:
    config = {"health_grace_ms": 2000, "recycle_heartbeats": 1000}
    with Daemon("--coordinator", json.dumps(config)) as d:
        workers: list[SDKWorker] = []
        try:
            workers.append(SDKWorker(d, "assistant", slots=4))
            stuck = SDKWorker(d, "tts", slots=1, mode="stuck", name="stuck")
            workers.append(stuck)
            status, body = http_get(d, "/healthz")
            assert status == 200, body
            assert json.loads(body)["status"] == "ok"

            async def run() -> dict[str, Any]:
                device = await open_device(d, "aa:bb:cc:00:02:01")
                turn = await text_turn(device, "are you there")
                await device.close()
                return turn

            turn = asyncio.run(run())
            assert turn["seconds"] < 12, turn  # the spoken answer could not finish: fallback, not silence
            deadline = time.monotonic() + 20
            while True:
                status, body = http_get(d, "/healthz")
                if status == 503 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert status == 503, body
            health = json.loads(body)
            assert health["status"] == "degraded"
            assert health["kinds"]["tts"]["status"] == "degraded"
            assert health["kinds"]["tts"]["reason"] in ("leaked", "unplaced")
            assert any(r.startswith("tts:") for r in health["reasons"]), health
            _, text = http_get(d, "/metrics")
            assert metric(text, 'voicecored_kind_degraded{kind="tts"}') == 1
            assert metric(text, 'voicecored_placement_failures_total{kind="tts"}') >= 1
            assert metric(text, 'voicecored_reconciliations_total{action="leak_marked"}') >= 1
            # The worker's handler lets go: its next heartbeats report the slot free.
            stuck.signal(signal.SIGUSR1)
            deadline = time.monotonic() + 15
            while True:
                status, body = http_get(d, "/healthz")
                if status == 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert status == 200, body
            assert json.loads(body)["kinds"]["tts"]["status"] == "ok"
            assert entries(d, "health.changed", job_kind="tts", to="degraded")
            assert entries(d, "health.changed", job_kind="tts", to="ok")
            assert entries(d, "worker.reconciled", worker=stuck.id, reason="leaked-slots")
        finally:
            for w in workers:
                w.stop()


def test_burst_of_hang_ups_mid_dispatch_leaves_the_assistant_answering() -> None:
    """Devices that hang up right behind their utterance make the hub send `cancel` right behind
    `job`. An SDK worker that leaks the slot then (the job cancelled before its first step)
    reports more load than the hub knows; the hub counts the leaked slots, recycles the worker,
    and the SDK redials clean. Either way the next user is answered, not told "Sorry"."""
    with Daemon("--coordinator", json.dumps({"recycle_heartbeats": 4})) as d:
        workers: list[SDKWorker] = []
        try:
            # One slot: a single leaked slot silences the assistant for good unless the hub heals it.
            workers.append(SDKWorker(d, "assistant", slots=1))
            workers.append(SDKWorker(d, "tts", slots=2))

            async def hang_up(i: int) -> None:
                device = await open_device(d, f"aa:bb:cc:00:03:{i:02x}")
                await device.send(json.dumps({"type": "listen", "state": "detect", "text": f"quick {i}"}))
                await device.close()

            async def run() -> dict[str, Any]:
                for _ in range(3):
                    await asyncio.gather(*(hang_up(i) for i in range(12)))
                    await asyncio.sleep(0.3)
                deadline = time.monotonic() + 25
                while True:
                    device = await open_device(d, "aa:bb:cc:00:03:ff")
                    turn = await text_turn(device, "are you still there")
                    await device.close()
                    if ("alert" not in turn["tags"] and turn["samples"] >= 24000 * 25 // 100) or time.monotonic() > deadline:
                        return turn
                    await asyncio.sleep(1.0)

            turn = asyncio.run(run())
            leaked = entries(d, "worker.reconciled", reason="leaked-slots")
            assert "alert" not in turn["tags"] and turn["samples"] >= 24000 * 25 // 100, (turn, leaked)
            if leaked:
                # The leak was real: counted, then the worker recycled (it may be the TTS worker,
                # recycled after the answer) and back: the SDK redials.
                deadline = time.monotonic() + 20
                while not entries(d, "worker.gone", reason="recycled") and time.monotonic() < deadline:
                    time.sleep(0.1)
                recycled = entries(d, "worker.gone", reason="recycled")
                assert recycled, leaked
                while time.monotonic() < deadline:
                    if [e for e in entries(d, "worker.registered") if e["seq"] > recycled[-1]["seq"]]:
                        break
                    time.sleep(0.1)
                assert [e for e in entries(d, "worker.registered") if e["seq"] > recycled[-1]["seq"]], recycled
        finally:
            for w in workers:
                w.stop()
