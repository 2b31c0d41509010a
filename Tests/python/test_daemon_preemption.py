"""Preemptive generation through the real voicecored (the Coordinator embedded, no daemon change):
a scripted ASR worker sends `speculative` before its final, a scripted assistant gets a
`preemptive` job and its `commit`, and the device hears nothing of the reply before the final
(real XiaoZhi protocol and Opus, real worker protocol)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from daemon_harness import Daemon, speaking_device
from test_daemon_turns import scripted_worker, tts_job

QUESTION = "What time is it?"


def run_turn(final_text: str) -> dict[str, Any]:
    """One spoken turn: speculative "What time is it?", then the final `final_text` 0.3 s later."""
    seen: dict[str, Any] = {"assistant_jobs": [], "inputs": [], "cancels": [], "tts_jobs_at": [], "device": []}

    async def asr(ws: Any, job: dict[str, Any]) -> None:
        j = job["job"]
        await ws.send(json.dumps({"type": "output", "job": j, "event": "speech_start"}))
        await asyncio.sleep(0.1)
        await ws.send(json.dumps({"type": "output", "job": j, "event": "speculative", "text": QUESTION}))
        await asyncio.sleep(0.3)  # the endpoint's silence wait, which the held reply overlaps
        seen["final_at"] = time.monotonic()
        await ws.send(json.dumps({"type": "output", "job": j, "event": "speech_end"}))
        await ws.send(json.dumps({"type": "output", "job": j, "event": "final", "text": final_text}))
        await ws.send(json.dumps({"type": "done", "job": j}))

    async def assistant(ws: Any, job: dict[str, Any]) -> None:
        seen["assistant_jobs"].append((time.monotonic(), job["params"]))
        for piece in ["It is ", "noon. ", "Have a nice day."]:
            await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "delta", "text": piece}))
        if job["params"].get("preemptive"):
            while "commit" not in [i["event"] for i in seen["inputs"] if i["job"] == job["job"]]:
                if job["job"] in seen["cancels"]:
                    return
                await asyncio.sleep(0.01)
        await ws.send(json.dumps({"type": "done", "job": job["job"]}))

    async def tts(ws: Any, job: dict[str, Any]) -> None:
        seen["tts_jobs_at"].append(time.monotonic())
        await tts_job(0.3)(ws, job)

    with Daemon() as d:
        assert d.coordinator, "this test needs voicecored built with the Coordinator"

        async def main() -> None:
            asr_w = await scripted_worker(d, "asr", asr)
            assistant_w = await scripted_worker(d, "assistant", assistant)
            tts_w = await scripted_worker(d, "tts", tts)
            # The assistant's other hub messages (input, cancel) are read by scripted_worker's loop;
            # see them through a second reader of its socket's messages.
            ws_assistant = assistant_w[0]
            original = ws_assistant.recv

            async def recv_and_note(*args: Any, **kwargs: Any) -> Any:
                msg = await original(*args, **kwargs)
                if isinstance(msg, str):
                    m = json.loads(msg)
                    if m["type"] == "input":
                        seen["inputs"].append(m)
                    elif m["type"] == "cancel":
                        seen["cancels"].append(m["job"])
                        seen.setdefault("cancel_reasons", []).append(m["reason"])
                return msg
            ws_assistant.recv = recv_and_note  # type: ignore[method-assign]

            device = await speaking_device(d)
            while True:
                msg = await asyncio.wait_for(device.recv(), 15)
                if isinstance(msg, bytes):
                    continue
                m = json.loads(msg)
                seen["device"].append((time.monotonic(), m["type"] + ("." + m["state"] if "state" in m else ""), m.get("text")))
                if m["type"] == "tts" and m["state"] == "stop":
                    break
            await device.close()
            for ws, task in (asr_w, assistant_w, tts_w):
                task.cancel()
                await ws.close()

        asyncio.run(main())
        seen["log"] = list(d.log)
    return seen


def test_speculation_confirmed_by_the_final_commits_the_held_reply() -> None:
    seen = run_turn(QUESTION)
    jobs = seen["assistant_jobs"]
    assert len(jobs) == 1 and jobs[0][1]["preemptive"] is True and jobs[0][1]["text"] == QUESTION
    assert jobs[0][0] < seen["final_at"]  # the assistant started during the silence wait
    assert [i["event"] for i in seen["inputs"]] == ["commit"]
    assert seen["tts_jobs_at"] and min(seen["tts_jobs_at"]) >= seen["final_at"]  # nothing synthesized before the final
    device = [(t, tag, text) for t, tag, text in seen["device"] if tag != "hello"]
    assert device[0][1] == "stt" and device[0][2] == QUESTION and device[0][0] >= seen["final_at"]
    assert [tag for _, tag, _ in device if tag.startswith("tts.")][0] == "tts.start"
    kinds = [e.get("kind") for e in seen["log"]]
    assert "preempt.started" in kinds and "preempt.committed" in kinds and "preempt.discarded" not in kinds


def test_a_different_final_discards_the_held_reply_and_answers_the_final() -> None:
    seen = run_turn("What time is it in Tokyo?")
    jobs = seen["assistant_jobs"]
    assert [p.get("preemptive", False) for _, p in jobs] == [True, False]
    assert jobs[1][1]["text"] == "What time is it in Tokyo?"
    assert seen["cancel_reasons"] == ["preempt:mismatch"] and seen["inputs"] == []
    stt = [text for _, tag, text in seen["device"] if tag == "stt"]
    assert stt == ["What time is it in Tokyo?"]
    assert min(seen["tts_jobs_at"]) >= seen["final_at"]
    discarded = [e for e in seen["log"] if e.get("kind") == "preempt.discarded"]
    assert [e.get("reason") for e in discarded] == ["mismatch"]
