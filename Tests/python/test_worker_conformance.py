"""The conformance scenarios (Tests/conformance/worker_scenarios.json) against the real worker SDK:
the real `voicecore worker tts|asr --engine instant` process, and an in-process `Worker` with the
same instant handlers, each over a real socket to the scripted hub. The Simulator's worker model runs the same file in
Tests/VoiceCoreTests/SimulatorConformanceTests.swift, so both answer the hub alike."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest

from voicecore.asr.instant import instant_asr_handler
from voicecore.testing import ScriptedHub
from voicecore.testing.hub import HubWorker
from voicecore.tts.instant import InstantEngine
from voicecore.tts.worker import tts_handler
from voicecore.worker import Backoff, Worker, frames

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = json.loads((ROOT / "Tests/conformance/worker_scenarios.json").read_text())["scenarios"]
QUIET = 0.3  # seconds without a message that count as "nothing more"


def normalize(message: dict[str, Any] | frames.AudioFrame) -> dict[str, Any] | None:
    """What must agree between the SDK and the model; None for what need not (non-last audio)."""
    if isinstance(message, frames.AudioFrame):
        return {"type": "audio", "job": message.job, "last": True} if message.last else None
    kept = {"type": message.get("type"), "job": message.get("job")}
    if kept["type"] == "output":
        kept["event"] = message.get("event")
    if kept["type"] == "error":
        kept["retryable"] = message.get("retryable")
    return kept


async def collect(w: HubWorker, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
    """The next ``count`` normalized messages, then whatever else arrives until ``QUIET`` passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    got: list[dict[str, Any]] = []
    while True:
        wait = QUIET if len(got) >= count else max(0.0, deadline - loop.time())
        try:
            message = await asyncio.wait_for(w.messages.get(), wait)
        except asyncio.TimeoutError:
            return got
        kept = normalize(message)
        if kept is not None:
            got.append(kept)


async def expect_load(w: HubWorker, load: dict[str, int], timeout: float = 10.0) -> None:
    """A heartbeat sent from now on reports ``load``, and the two after it too (it is not a stale one)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = len(w.heartbeats)
    while loop.time() < deadline:
        fresh = [h["load"] for h in w.heartbeats[seen:]]
        if load in fresh:
            after = fresh[fresh.index(load):]
            if len(after) >= 3:
                assert after[:3] == [load] * 3, f"heartbeat load flickered: {after[:3]}, expected {load}"
                return
        await asyncio.sleep(0.02)
    raise AssertionError(f"heartbeat load never {load}: {[h['load'] for h in w.heartbeats[seen:]][-5:]}")


def job_message(message: dict[str, Any]) -> dict[str, Any]:
    if message.get("type") == "job":
        return {"session": "s1", "turn": message["job"], **message}
    return message


async def run_scenario(scenario: dict[str, Any], process: bool) -> None:
    async with ScriptedHub(heartbeat_ms=50) as hub:
        if process:
            (kind, slots), = scenario["slots"].items()
            env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), VOICECORE_LOG_LEVEL="WARNING")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voicecore", "worker", kind, "--engine", "instant", "--slots", str(slots),
                "--hub", hub.url, "--token", hub.token, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
        else:
            worker = Worker(slots=dict(scenario["slots"]), name="conformance", backoff=Backoff(base=0.02, cap=0.1, rng=random.Random(7)))
            if "tts" in scenario["slots"]:
                worker.handler("tts")(tts_handler(InstantEngine()))
            if "asr" in scenario["slots"]:
                worker.handler("asr")(instant_asr_handler())
            serving = asyncio.create_task(worker.serve(hub.url, hub.token))
        try:
            w = await hub.next_worker(timeout=30)
            for k, step in enumerate(scenario["steps"]):
                if "send" in step:
                    await w.send_together(*[job_message(m) for m in step["send"]])
                elif "expect" in step:
                    got = await collect(w, len(step["expect"]))
                    assert got == step["expect"], f"step {k}: the SDK sent {got}, the scenario expects {step['expect']}"
                elif "load" in step:
                    await expect_load(w, step["load"])
                else:
                    raise AssertionError(f"step {k}: unknown step {step}")
        finally:
            if process:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 15)
                except asyncio.TimeoutError:
                    proc.kill()
                    await proc.wait()
            else:
                await worker.stop()
                await asyncio.wait_for(serving, 10)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_worker_process_conforms(scenario):
    """`voicecore worker KIND --engine instant`: the SDK as a user runs it."""
    asyncio.run(asyncio.wait_for(run_scenario(scenario, process=True), 90))


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_in_process_worker_conforms(scenario):
    asyncio.run(asyncio.wait_for(run_scenario(scenario, process=False), 60))
