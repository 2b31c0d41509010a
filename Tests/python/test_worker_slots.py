"""Slot accounting of the worker SDK over a real socket: every job frees its slot, whatever the
order in which the hub's messages arrive (a `cancel` in the same write as its `job` included)."""

import asyncio
import os
import random
import sys
from pathlib import Path

from voicecore.testing import ScriptedHub
from voicecore.worker import Backoff, Job, Worker

ROOT = Path(__file__).resolve().parents[2]


def run(coro, timeout: float = 60):
    return asyncio.run(asyncio.wait_for(coro, timeout))


def fast_backoff() -> Backoff:
    return Backoff(base=0.02, cap=0.1, rng=random.Random(7))


def job_message(job: int, text: str = "Hello there.") -> dict:
    return {"type": "job", "job": job, "kind": "tts", "session": "s1", "turn": job, "params": {"text": text}}


def cancel_message(job: int) -> dict:
    return {"type": "cancel", "job": job, "reason": "hang-up"}


async def wait_load_zero(w, kind: str, timeout: float = 5.0) -> None:
    """Until a heartbeat received after now reports no running job of ``kind``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    seen = len(w.heartbeats)
    while loop.time() < deadline:
        if any(h["load"].get(kind) == 0 for h in w.heartbeats[seen:]):
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"heartbeat load never went back to 0: {[h['load'] for h in w.heartbeats[-5:]]}")


def test_cancel_in_the_same_write_as_its_job_frees_the_slot():
    """Two jobs each cancelled in the write that carries them, then a third job: it is accepted
    and runs, and the heartbeat load returns to 0 (the slots did not leak)."""

    async def main():
        worker = Worker(slots={"tts": 2}, backoff=fast_backoff())
        started: list[int] = []

        @worker.handler("tts")
        async def speak(job: Job) -> None:
            started.append(job.id)
            await job.send_audio(b"\x01\x00" * 240, last=True)
            await job.output("segment_done")

        async with ScriptedHub(heartbeat_ms=50) as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.send_together(job_message(1), cancel_message(1))
            await w.send_together(job_message(2), cancel_message(2))
            await w.job(3, "tts", {"text": "third"})
            outputs, audio, end = await w.until_end(3, timeout=10)
            assert end == {"type": "done", "job": 3}, end
            assert [o["event"] for o in outputs] == ["segment_done"] and len(audio) == 480
            await wait_load_zero(w, "tts")
            assert worker.load() == {"tts": 0}
            # Nothing at all for the jobs cancelled before they started: no accepted, no outcome.
            left = [w.messages.get_nowait() for _ in range(w.messages.qsize())]
            assert [m for m in left if isinstance(m, dict) and m.get("job") in (1, 2)] == []
            assert 1 not in started and 2 not in started
            await worker.stop()
            await task

    run(main())


def test_real_tts_worker_process_keeps_its_slots_after_same_write_cancels():
    """The same against the real ``voicecore worker tts`` process (eSpeak NG): a burst of jobs each
    cancelled in its own write, more than its slots, then ordinary jobs are all accepted."""

    async def main():
        async with ScriptedHub(heartbeat_ms=100) as hub:
            env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), VOICECORE_LOG_LEVEL="WARNING")
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "voicecore", "worker", "tts", "--hub", hub.url, "--token", hub.token, "--slots", "2",
                env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
            )
            try:
                w = await hub.next_worker(timeout=30)
                for job in range(1, 7):
                    await w.send_together(job_message(job), cancel_message(job))
                for job in (7, 8):
                    await w.job(job, "tts", {"text": "Still here."})
                for job in (7, 8):
                    _, audio, end = await w.until_end(job, timeout=20)
                    assert end == {"type": "done", "job": job}, end
                    assert len(audio) > 24000  # real speech, not an empty segment
                await wait_load_zero(w, "tts", timeout=10)
            finally:
                proc.terminate()
                await proc.wait()

    run(main(), timeout=90)


def espeak_children() -> list[int]:
    """eSpeak NG processes whose parent is this test process (alive or not yet reaped)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            comm, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :].split()
            if comm.startswith("espeak") and int(rest[1]) == os.getpid():
                found.append(int(entry))
    return found


def test_tts_cancel_mid_stream_kills_espeak_at_once():
    """A cancel while the handler is sending audio (eSpeak's stream suspended at its yield) ends
    the eSpeak process before the job's task has ended, and a cancel in the job's own write starts
    none; the slots are free after both."""
    from voicecore.tts.espeak import EspeakEngine
    from voicecore.tts.worker import tts_worker

    async def main():
        worker = tts_worker(EspeakEngine(), slots=1)
        async with ScriptedHub(heartbeat_ms=50) as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            for job in (1, 2, 3):
                await w.job(job, "tts", {"text": "a long answer that keeps on going " * 60})
                first = await w.next()
                while isinstance(first, dict) or first.job != job:  # frames of the job cancelled before may trail
                    first = await w.next()
                assert espeak_children(), "eSpeak should be running"
                await w.cancel(job)
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 5
                while (worker.unwinding() or espeak_children()) and loop.time() < deadline:
                    await asyncio.sleep(0.01)
                assert espeak_children() == [] and worker.unwinding() == 0 and worker.load() == {"tts": 0}
            await w.send_together(job_message(4), cancel_message(4))
            await asyncio.sleep(0.2)
            assert espeak_children() == []
            await wait_load_zero(w, "tts")
            await worker.stop()
            await task

    run(main())
