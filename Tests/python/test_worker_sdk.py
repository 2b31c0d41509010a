"""The worker SDK against a scripted hub that speaks the real protocol over real WebSockets."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from voicecore.testing import ScriptedHub
from voicecore.worker import Backoff, Job, JobError, Worker, WorkerAuthError
from voicecore.worker import frames


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def fast_backoff() -> Backoff:
    import random

    return Backoff(base=0.02, cap=0.1, rng=random.Random(7))


def test_frame_header_round_trip_and_errors():
    raw = frames.encode(2**64 - 1, b"\x01\x00\x02\x00", last=True)
    assert raw[:4] == bytes([1, 1, 0, 1]) and len(raw) == 16
    frame = frames.decode(raw)
    assert frame.job == 2**64 - 1 and frame.pcm == b"\x01\x00\x02\x00" and frame.last
    assert not frames.decode(frames.encode(5, b"")).last
    with pytest.raises(frames.FrameError, match="shorter"):
        frames.decode(b"\x01\x01\x00")
    with pytest.raises(frames.FrameError, match="version"):
        frames.decode(b"\x02" + raw[1:])
    with pytest.raises(frames.FrameError, match="odd"):
        frames.encode(1, b"\x00")


def test_backoff_grows_with_jitter_and_resets():
    import random

    b = Backoff(base=1.0, cap=8.0, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(8)]
    assert all(0.5 <= d <= 8.0 for d in delays)
    assert max(delays[4:]) > 2.0  # the window widened
    assert len(set(delays)) == len(delays)  # jittered, not a fixed schedule
    b.reset()
    assert b.next_delay() <= 1.0


def test_register_jobs_audio_heartbeat_load():
    async def main():
        release = asyncio.Event()
        worker = Worker(slots={"asr": 2, "tts": 1}, name="box", models=["m1"], labels={"gpu": "no"}, backoff=fast_backoff())

        @worker.handler("asr")
        async def echo(job: Job) -> None:
            total = bytearray()
            async for chunk in job.audio():
                total += chunk
            await job.output("final", text=f"{len(total)} bytes")
            await job.send_audio(bytes(total), last=True)

        @worker.handler("tts")
        async def hold(job: Job) -> None:
            await release.wait()
            await job.output("segment_done")

        async with ScriptedHub(heartbeat_ms=50) as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            assert w.register["kinds"] == ["asr", "tts"]
            assert w.register["slots"] == {"asr": 2, "tts": 1}
            assert w.register["models"] == ["m1"] and w.register["labels"] == {"gpu": "no"}
            assert await worker.wait_registered() == w.id

            await w.job(7, "tts", {"text": "hi"})
            assert (await w.expect("accepted"))["job"] == 7
            await asyncio.sleep(0.2)
            assert any(h["load"] == {"asr": 0, "tts": 1} for h in w.heartbeats)
            await w.job(8, "tts", {"text": "second"})  # one tts slot only
            err = await w.expect("error", job=8)
            assert err["retryable"] is True and "slot" in err["message"]
            release.set()
            outputs, _, end = await w.until_end(7)
            assert [o["event"] for o in outputs] == ["segment_done"] and end["type"] == "done"

            await w.job(9, "asr", {"sample_rate": 16000})
            await w.audio(9, b"\x01\x00" * 100)
            await w.audio(9, b"\x02\x00" * 50, last=True)
            outputs, audio, end = await w.until_end(9)
            assert outputs[0]["text"] == "300 bytes" and end["type"] == "done"
            assert audio == b"\x01\x00" * 100 + b"\x02\x00" * 50

            await w.job(10, "llm", {})
            assert "does not serve" in (await w.expect("error", job=10))["message"]
            await worker.stop()
            await task

    run(main())


def test_cancel_reaches_the_handler_and_nothing_follows():
    async def main():
        seen = []
        worker = Worker(slots={"tts": 1}, backoff=fast_backoff())

        @worker.handler("tts")
        async def slow(job: Job) -> None:
            try:
                await job.output("started")
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                seen.append(("cancelled", job.id))
                raise

        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "tts", {})
            await w.expect("output", job=1)
            await w.cancel(1)
            await asyncio.sleep(0.3)
            assert seen == [("cancelled", 1)]
            left = [w.messages.get_nowait() for _ in range(w.messages.qsize())]
            assert [m["type"] for m in left] == ["accepted"]  # no done, no error after a cancel
            await w.job(2, "tts", {})  # the slot is free again
            await w.expect("output", job=2)
            await worker.stop()
            await task

    run(main())


def test_handler_errors_become_job_errors_and_the_worker_carries_on():
    async def main():
        worker = Worker(slots={"tts": 1}, backoff=fast_backoff())

        @worker.handler("tts")
        async def fragile(job: Job) -> None:
            if job.params.get("mode") == "crash":
                raise ZeroDivisionError("division by zero")
            if job.params.get("mode") == "busy":
                raise JobError("engine busy", retryable=True)
            await job.output("segment_done")

        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "tts", {"mode": "crash"})
            _, _, end = await w.until_end(1)
            assert end == {"type": "error", "job": 1, "message": "ZeroDivisionError: division by zero", "retryable": False}
            await w.job(2, "tts", {"mode": "busy"})
            _, _, end = await w.until_end(2)
            assert end["message"] == "engine busy" and end["retryable"] is True
            await w.job(3, "tts", {})
            _, _, end = await w.until_end(3)
            assert end["type"] == "done"
            await worker.stop()
            await task

    run(main())


def test_reconnects_after_the_hub_drops_and_abandons_running_jobs():
    async def main():
        cancelled = asyncio.Event()
        worker = Worker(slots={"asr": 1}, backoff=fast_backoff())

        @worker.handler("asr")
        async def listen(job: Job) -> None:
            try:
                async for _ in job.audio():
                    pass
            except asyncio.CancelledError:
                cancelled.set()
                raise

        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w1 = await hub.next_worker()
            await w1.job(1, "asr", {})
            await w1.expect("accepted")
            await w1.ws.close(1011, "hub restarting")
            w2 = await hub.next_worker()
            assert w2.id != w1.id and worker.connections == 2
            await asyncio.wait_for(cancelled.wait(), 5)
            assert worker.load() == {"asr": 0}
            await worker.stop()
            await task

    run(main())


def test_reconnects_while_the_hub_is_down():
    async def main():
        worker = Worker(slots={"asr": 1}, backoff=fast_backoff())

        @worker.handler("asr")
        async def nothing(job: Job) -> None:
            pass

        hub = ScriptedHub()
        await hub.start()
        port = hub.port
        await hub.close()  # nobody listens: the worker keeps redialling
        task = asyncio.create_task(worker.serve(f"ws://127.0.0.1:{port}/worker", hub.token))
        await asyncio.sleep(0.3)
        assert worker.connections == 0 and worker.backoff.attempt >= 2
        await hub.start(port)
        w = await hub.next_worker()
        assert w.register["kinds"] == ["asr"]
        await worker.stop()
        await task
        await hub.close()

    run(main())


def test_wrong_token_is_an_error_not_a_retry_loop():
    async def main():
        worker = Worker(slots={"asr": 1}, backoff=fast_backoff())

        @worker.handler("asr")
        async def nothing(job: Job) -> None:
            pass

        async with ScriptedHub(token="right") as hub:
            with pytest.raises(WorkerAuthError, match="refused"):
                await worker.serve(hub.url, "wrong")
            assert hub.refused == 1

    run(main())


def test_missing_handler_is_refused_up_front():
    worker = Worker(slots={"asr": 1, "tts": 1})
    with pytest.raises(ValueError, match="no handler"):
        run(worker.serve("ws://127.0.0.1:1/worker", "t"))
    with pytest.raises(ValueError, match="slots declare"):
        worker.handler("llm")


WORKER_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from voicecore.worker import Worker, Job
    worker = Worker(slots={"tts": 1})

    @worker.handler("tts")
    async def slow(job: Job) -> None:
        await job.output("started")
        await asyncio.sleep(0.5)
        await job.output("segment_done")

    worker.run(sys.argv[1], token=sys.argv[2])
    print("drained", flush=True)
    """
)


def test_sigterm_drains_running_jobs_then_exits(tmp_path):
    script = tmp_path / "w.py"
    script.write_text(WORKER_SCRIPT)

    async def main():
        async with ScriptedHub() as hub:
            env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
            proc = await asyncio.create_subprocess_exec(sys.executable, str(script), hub.url, hub.token, env=env, stdout=subprocess.PIPE)
            w = await hub.next_worker(timeout=20)
            await w.job(1, "tts", {})
            await w.expect("output", job=1, event="started")
            proc.send_signal(signal.SIGTERM)
            await w.expect("drain")
            await w.job(2, "tts", {})
            refused = await w.expect("error", job=2)
            assert "draining" in refused["message"] and refused["retryable"]
            outputs, _, end = await w.until_end(1)
            assert [o["event"] for o in outputs] == ["segment_done"] and end["type"] == "done"
            out, _ = await asyncio.wait_for(proc.communicate(), 20)
            assert proc.returncode == 0 and b"drained" in out

    run(main())
