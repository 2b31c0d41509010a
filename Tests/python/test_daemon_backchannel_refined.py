"""Speech over a playing reply whose greedy words the ASR worker decodes again, through the real
voicecored: a device in realtime mode (the real XiaoZhi protocol, Opus) hears a long reply; the
user says something short over it, which an ASR worker speaking the real worker protocol over a
real socket reports as Whisper base does for a noisy "genau" — the greedy "Gute Auf!" (a content
word) with `refining`, then the beam's "Gut auf!" (`refined`, no content word). The greedy words
cut nothing: the beam's decide. "Gut auf!" is a backchannel (the reply resumes, no turn); "Was ist
das?" is an interruption (the reply is cut), cut only once those words arrived. The real worker's
sending of `refined` is covered in test_asr_speculative.py."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from daemon_harness import Daemon, speaking_device
from test_daemon_turns import scripted_worker, stop_workers, tts_job

REPLY = ["Es war einmal ein Fuchs. ", "Er lebte in einem Wald. ", "Eines Tages kam ein Hase vorbei."]


async def long_reply(ws: Any, job: dict[str, Any]) -> None:
    for piece in REPLY:
        await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "delta", "text": piece}))
    await ws.send(json.dumps({"type": "done", "job": job["job"]}))


def talk_over_the_reply(refined: str) -> list[dict[str, Any]]:
    """The daemon's log of a realtime turn whose reply the user talks over, heard as above."""

    async def main(d: Daemon) -> None:
        playing = asyncio.Event()
        ended: dict[int, asyncio.Event] = {}
        jobs = 0

        async def utterance(ws: Any, job: dict[str, Any]) -> None:
            nonlocal jobs
            j, jobs = job["job"], jobs + 1
            ended[j] = asyncio.Event()

            async def out(event: str, **fields: Any) -> None:
                await ws.send(json.dumps({"type": "output", "job": j, "event": event, **fields}))

            if jobs == 1:  # the question
                await out("speech_start")
                await asyncio.sleep(0.3)
                await out("pause", silence_ms=64)
                await out("turn", probability=0.95)
                await out("speculative", text="Erzähl mir eine Geschichte.", language="de")
            elif jobs == 2:  # over the reply
                await asyncio.wait_for(playing.wait(), 10)
                await asyncio.sleep(0.3)
                await out("speech_start")
                await asyncio.sleep(0.3)
                await out("pause", silence_ms=64)
                await out("turn", probability=0.6)
                await out("speculative", text="Gute Auf!", language="de", refining=True)
                await asyncio.sleep(0.15)
                await out("refined", text=refined)
            else:
                return  # the utterance after: no speech
            try:
                await asyncio.wait_for(ended[j].wait(), 5)
            except TimeoutError:
                return  # cancelled (a backchannel): the hub wants nothing more of this job
            await out("speech_end")
            await out("final", text=refined if jobs == 2 else "Erzähl mir eine Geschichte.", language="de")
            await ws.send(json.dumps({"type": "done", "job": j}))

        def hub_message(m: dict[str, Any]) -> None:
            if m["type"] == "input" and m.get("event") == "end" and m["job"] in ended:
                ended[m["job"]].set()

        workers = [await scripted_worker(d, "asr", utterance, hub_message), await scripted_worker(d, "assistant", long_reply),
                   await scripted_worker(d, "tts", tts_job(1.5))]
        device = await speaking_device(d, mode="realtime")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while loop.time() < deadline:  # the reply plays out (resumed) or is cut; then quiet
            try:
                msg = await asyncio.wait_for(device.recv(), 3)
            except TimeoutError:
                break
            if isinstance(msg, bytes):
                playing.set()
        await device.close()
        await stop_workers(workers)

    with Daemon("--coordinator", json.dumps({"language": "de"})) as d:
        asyncio.run(main(d))
        return list(d.log)


def kinds(log: list[dict[str, Any]]) -> list[str]:
    wanted = {"turn.paused", "turn.backchannel", "turn.resumed", "turn.cancelled", "preempt.deferred"}
    return [e["kind"] + (" " + e["reason"] if e.get("reason") else "") for e in log if e.get("kind") in wanted]


def test_words_decoded_again_into_a_backchannel_resume_the_reply() -> None:
    seen = kinds(talk_over_the_reply("Gut auf!"))
    assert "turn.paused" in seen, seen
    assert "turn.backchannel no-content" in seen and "turn.resumed" in seen, seen
    assert not any(k.startswith("turn.cancelled") for k in seen), seen


def test_words_decoded_again_into_an_interruption_cut_the_reply_once_they_arrive() -> None:
    seen = kinds(talk_over_the_reply("Was ist das?"))
    assert "turn.backchannel" not in " ".join(seen) and "turn.resumed" not in seen, seen
    # The greedy words arrived first (their reply deferred to the beam's), the cut after them.
    assert seen.index("preempt.deferred refining") < seen.index("turn.cancelled barge-in"), seen
