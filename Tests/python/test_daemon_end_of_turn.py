"""The end-of-turn decision through the real voicecored: an ASR worker speaking the real worker
protocol over a real socket reports a pause's evidence as Whisper base does for eSpeak's "Который
час?" at 210 wpm — a confident turn model, a greedy transcript that ends open ("Кополлика с"), the
pass decoded again with beam search ("Который час.", `refined`) — and a device in a Russian
session (the real XiaoZhi protocol, Opus) waits for its answer. The hub's `input end` comes at the
hold (750 ms of silence), not after `open_ms` (1.6 s); without the `refined` text, at `open_ms`.
The real worker's sending of `refined` is covered in test_asr_speculative.py and
test_e2e_languages.py."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from daemon_harness import Daemon, speaking_device
from test_daemon_turns import assistant_job, scripted_worker, stop_workers, tts_job

SILENCE_MS = 64  # heard when the worker reports the pause


def endpoint_after_pause(refined: str | None) -> tuple[float, list[dict[str, Any]]]:
    """Seconds from the worker's `pause` to the hub's `input end`, and the daemon's log."""
    seen: dict[str, Any] = {}

    async def main(d: Daemon) -> None:
        ended = asyncio.Event()

        async def utterance(ws: Any, job: dict[str, Any]) -> None:
            j = job["job"]
            assert job["params"].get("endpointing") == "hub", job["params"]
            if "pause_at" in seen:
                return  # the next turn's utterance: no speech in this test

            async def out(event: str, **fields: Any) -> None:
                await ws.send(json.dumps({"type": "output", "job": j, "event": event, **fields}))

            await out("speech_start")
            await asyncio.sleep(0.5)
            seen["pause_at"] = time.monotonic()
            await out("pause", silence_ms=SILENCE_MS)
            await out("turn", probability=0.97)
            await asyncio.sleep(0.15)
            await out("speculative", text="Кополлика с", language="ru", refining=True)
            if refined is not None:
                await asyncio.sleep(0.1)
                await out("refined", text=refined)
            await asyncio.wait_for(ended.wait(), 5)
            await out("speech_end")
            await out("final", text=refined or "Кополлика с", language="ru")
            await ws.send(json.dumps({"type": "done", "job": j}))

        def hub_message(m: dict[str, Any]) -> None:
            if m["type"] == "input" and m.get("event") == "end" and "end_at" not in seen:
                seen["end_at"] = time.monotonic()
                ended.set()

        workers = [await scripted_worker(d, "asr", utterance, hub_message), await scripted_worker(d, "assistant", assistant_job),
                   await scripted_worker(d, "tts", tts_job(0.2))]
        device = await speaking_device(d)
        while True:  # the answer's audio ends the turn at the device
            msg = await asyncio.wait_for(device.recv(), 15)
            if isinstance(msg, str) and json.loads(msg).get("type") == "tts" and json.loads(msg).get("state") == "stop":
                break
        await device.close()
        await stop_workers(workers)

    with Daemon("--coordinator", json.dumps({"language": "ru"})) as d:
        asyncio.run(main(d))
        log = list(d.log)
    return seen["end_at"] - seen["pause_at"], log


def endpoints(log: list[dict[str, Any]]) -> list[str]:
    return [e.get("reason", "") for e in log if e.get("kind") == "turn.endpoint"]


def test_a_refined_text_that_does_not_end_open_ends_the_turn_at_the_hold() -> None:
    after, log = endpoint_after_pause("Который час.")
    assert endpoints(log) == ["hold"], endpoints(log)
    assert [e.get("text") for e in log if e.get("kind") == "turn.endpoint"] == ["Который час."]  # the words that decided
    hold = 0.750 - SILENCE_MS / 1000
    assert hold - 0.02 <= after < hold + 0.4, after


def test_without_the_refined_text_the_open_ending_waits_open_ms() -> None:
    after, log = endpoint_after_pause(None)
    assert endpoints(log) == ["open"], endpoints(log)
    assert after >= 1.6 - SILENCE_MS / 1000 - 0.02, after
