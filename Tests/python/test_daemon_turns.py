"""Full turns through the real voicecored with the Coordinator embedded: a scripted device (real
XiaoZhi protocol, real Opus) and scripted ASR, assistant and TTS workers (real worker protocol)."""

from __future__ import annotations

import asyncio
import time
import json
import urllib.request
from typing import Any

import pytest

from daemon_harness import (Daemon, OpusDecoder, OpusEncoder, connect_device, connect_worker, frame, hello, next_json,
                            parse_worker_frame, tone, unframe, worker_frame)


async def scripted_worker(d: Daemon, kind: str, on_job: Any, on_message: Any = None) -> Any:
    """A worker of ``kind`` that accepts every job and runs ``on_job(ws, job)`` for it;
    ``on_message(message)`` sees the hub's other messages (input, cancel)."""
    ws = await connect_worker(d)
    await ws.send(json.dumps({"type": "register", "protocol": 1, "name": f"scripted-{kind}", "kinds": [kind],
                              "slots": {kind: 4}, "models": [], "labels": {}}))
    reg = await next_json(ws)
    assert reg["type"] == "registered", reg

    async def serve() -> None:
        async for msg in ws:
            if isinstance(msg, bytes):
                continue
            m = json.loads(msg)
            if m["type"] == "job":
                await ws.send(json.dumps({"type": "accepted", "job": m["job"]}))
                asyncio.create_task(on_job(ws, m))
            elif on_message is not None:
                on_message(m)
    return ws, asyncio.create_task(serve())


async def stop_workers(workers: list[Any]) -> None:
    """Stops the ``scripted_worker``s: their serving tasks, then their connections."""
    for ws, task in workers:
        task.cancel()
        await ws.close()


async def asr_job(ws: Any, job: dict[str, Any]) -> None:
    await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "speech_start"}))
    await asyncio.sleep(0.2)
    await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "final", "text": "what time is it"}))
    await ws.send(json.dumps({"type": "done", "job": job["job"]}))


async def assistant_job(ws: Any, job: dict[str, Any]) -> None:
    for piece in ["It is ", "noon. ", "Have a nice day."]:
        await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "delta", "text": piece}))
    await ws.send(json.dumps({"type": "done", "job": job["job"]}))


def tts_job(seconds: float) -> Any:
    async def run(ws: Any, job: dict[str, Any]) -> None:
        rate = job["params"].get("sample_rate", 24000)
        pcm = tone(int(rate * seconds), rate)
        for i in range(0, len(pcm), 9600):
            await ws.send(worker_frame(job["job"], pcm[i:i + 9600], last=i + 9600 >= len(pcm)))
        await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "segment_done"}))
        await ws.send(json.dumps({"type": "done", "job": job["job"]}))
    return run


async def speak(device: Any, version: int, frame_ms: int, frames: int) -> None:
    enc = OpusEncoder(16000, frame_ms)
    for _ in range(frames):
        await device.send(frame(version, enc.encode(tone(enc.frame_samples, 16000, 300))))


@pytest.mark.parametrize("version,frame_ms", [(1, 60), (2, 20), (3, 60)])
def test_full_turn(version: int, frame_ms: int) -> None:
    with Daemon() as d:
        assert d.coordinator, "this test needs voicecored built with the Coordinator"

        async def run() -> None:
            workers = [await scripted_worker(d, "asr", asr_job), await scripted_worker(d, "assistant", assistant_job),
                       await scripted_worker(d, "tts", tts_job(0.5))]
            device = await connect_device(d, version=version)
            await device.send(hello(frame_ms))
            server_hello = await next_json(device)
            assert server_hello["type"] == "hello" and server_hello["transport"] == "websocket"
            assert server_hello["audio_params"] == {"format": "opus", "sample_rate": 24000, "channels": 1, "frame_duration": 60}
            await device.send(json.dumps({"session_id": server_hello.get("session_id", ""), "type": "listen", "state": "start", "mode": "auto"}))
            await speak(device, version, frame_ms, 10)
            seen: list[str] = []
            decoder = OpusDecoder(24000)
            samples = 0
            started = False
            while True:
                msg = await asyncio.wait_for(device.recv(), 15)
                if isinstance(msg, bytes):
                    assert started, "audio outside tts start…stop"
                    samples += len(decoder.decode(unframe(version, msg))) // 2
                    continue
                m = json.loads(msg)
                tag = m["type"] + ("." + m["state"] if "state" in m else "")
                seen.append(tag)
                if tag == "stt":
                    assert m["text"] == "what time is it"
                if tag == "tts.start":
                    started = True
                if tag == "tts.stop":
                    break
            assert seen.index("stt") < seen.index("tts.start") < seen.index("tts.sentence_start") < seen.index("tts.stop")
            assert samples >= 1440 * 8  # decodable audio of the reply arrived (≥ 0.5 s)
            # The daemon's own share of the turn, per hop of the critical path (turn.hub_latency).
            trace = await asyncio.to_thread(d.wait_for, "turn.hub_latency", 5)
            hops = [trace[k] for k in ("uplink_us", "assistant_job_us", "tts_job_us", "first_frame_us")]
            assert all(h > 0 for h in hops) and trace["total_us"] == sum(hops), trace
            assert trace["session"] == server_hello["session_id"] and trace["turn"] >= 1
            metrics = (await asyncio.to_thread(lambda: urllib.request.urlopen(d.http + "/metrics", timeout=5).read())).decode()
            assert 'voicecored_hub_hop_seconds_count{hop="total"} 1' in metrics
            assert 'voicecored_hub_hop_seconds_count{hop="first_frame"} 1' in metrics
            await device.close()
            await stop_workers(workers)
        asyncio.run(run())
        # The log reaches the harness through a pipe and a reader thread: turn.ended may still be on its way.
        deadline = time.monotonic() + 5
        while not any(e.get("kind") == "turn.ended" for e in d.log) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert any(e.get("kind") == "turn.ended" for e in d.log)
        check_metrics_match_log(d)


def prometheus(text: str) -> dict[str, float]:
    """The samples of a Prometheus text page: {'name{labels}': value}."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def check_metrics_match_log(d: Daemon) -> None:
    """/metrics counts what the core decided (vc_coordinator_tally), so after the turns it must
    agree with the core's own log lines the daemon wrote: every event by name, every turn by
    outcome, every worker event, every turn stage mark."""
    # Closes may still be in flight (the daemon handling them, their lines in the log pipe): read
    # until the page and the log agree on the number of entries, then compare them in detail.
    deadline = time.monotonic() + 10
    while True:
        page = prometheus(urllib.request.urlopen(d.http + "/metrics", timeout=5).read().decode())
        core = [e for e in list(d.log) if "kind" in e and "seq" in e]
        total = sum(v for k, v in page.items() if k.startswith("voicecored_core_events_total{"))
        if total == len(core) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    kinds: dict[str, int] = {}
    for e in core:
        kinds[e["kind"]] = kinds.get(e["kind"], 0) + 1
    assert kinds.get("turn.ended", 0) >= 1
    for kind, n in kinds.items():
        assert page.get(f'voicecored_core_events_total{{event="{kind}"}}') == n, (kind, n)
        if kind.startswith("worker."):
            assert page.get(f'voicecored_worker_events_total{{event="{kind[7:]}"}}') == n, (kind, n)
    assert sum(v for k, v in page.items() if k.startswith("voicecored_core_events_total{")) == len(core)
    outcomes: dict[str, int] = {}
    stages: dict[str, list[int]] = {}
    for e in core:
        if e["kind"] == "turn.ended":
            outcomes[e["reason"]] = outcomes.get(e["reason"], 0) + 1
        if e["kind"] == "turn.mark" and isinstance(e.get("value"), int):
            stages.setdefault(e["reason"], []).append(e["value"])
    for outcome, n in outcomes.items():
        assert page.get(f'voicecored_turns_total{{outcome="{outcome}"}}') == n, (outcome, n)
    assert stages, "no turn.mark with a value in the log"
    for stage, values in stages.items():
        assert page.get(f'voicecored_turn_stage_seconds_count{{stage="{stage}"}}') == len(values), stage
        assert page.get(f'voicecored_turn_stage_seconds_sum{{stage="{stage}"}}') == pytest.approx(sum(values) / 1e6, abs=1e-6)
        within_1s = sum(1 for v in values if v <= 1_000_000)
        assert page.get(f'voicecored_turn_stage_seconds_bucket{{stage="{stage}",le="1"}}') == within_1s, stage


def test_abort_mid_speech_stops_audio_fast() -> None:
    with Daemon() as d:
        async def run() -> None:
            workers = [await scripted_worker(d, "asr", asr_job), await scripted_worker(d, "assistant", assistant_job),
                       await scripted_worker(d, "tts", tts_job(4.0))]
            device = await connect_device(d, version=3)
            await device.send(hello(60))
            await next_json(device)
            await device.send(json.dumps({"session_id": "", "type": "listen", "state": "start", "mode": "auto"}))
            await speak(device, 3, 60, 10)
            frames = 0
            while frames < 5:
                msg = await asyncio.wait_for(device.recv(), 15)
                frames += isinstance(msg, bytes)
            loop = asyncio.get_running_loop()
            aborted_at = loop.time()
            await device.send(json.dumps({"session_id": "", "type": "abort", "reason": "wake_word_detected"}))
            last_audio = aborted_at
            stop_at = None
            end = aborted_at + 1.5
            while loop.time() < end:
                try:
                    msg = await asyncio.wait_for(device.recv(), end - loop.time())
                except asyncio.TimeoutError:
                    break
                if isinstance(msg, bytes):
                    last_audio = loop.time()
                elif json.loads(msg).get("state") == "stop":
                    stop_at = loop.time()
            assert stop_at is not None and stop_at - aborted_at < 0.5
            # Documented budget: frames already on the wire (the pre-buffer, 3 × 60 ms) plus one trip.
            assert last_audio - aborted_at < 0.25
            metrics = (await asyncio.to_thread(lambda: __import__("urllib.request").request.urlopen(d.http + "/metrics").read())).decode()
            assert "voicecored_frames_flushed_total 0" not in metrics
            await device.close()
            await stop_workers(workers)
        asyncio.run(run())


def test_device_killed_mid_turn_leaves_the_daemon_serving() -> None:
    with Daemon() as d:
        async def run() -> None:
            workers = [await scripted_worker(d, "asr", asr_job), await scripted_worker(d, "assistant", assistant_job),
                       await scripted_worker(d, "tts", tts_job(3.0))]
            device = await connect_device(d)
            await device.send(hello(60))
            await next_json(device)
            await device.send(json.dumps({"session_id": "", "type": "listen", "state": "start", "mode": "auto"}))
            await speak(device, 1, 60, 10)
            while not isinstance(await asyncio.wait_for(device.recv(), 15), bytes):
                pass
            device.transport.abort()  # gone without a close frame, mid-speech
            await asyncio.sleep(0.3)
            other = await connect_device(d, device_id="aa:bb:cc:dd:ee:09")
            await other.send(hello(60))
            assert (await next_json(other))["type"] == "hello"
            await other.close()
            await stop_workers(workers)
        asyncio.run(run())
        assert any(e.get("event") == "device.disconnected" for e in d.log)


def test_tts_reply_larger_than_a_read_and_written_in_parts() -> None:
    """A TTS reply of 1 s (48 KB, one WebSocket message) reaches the daemon in two TCP writes 50 ms
    apart, as from a sender whose write was cut short: the message is reassembled, its audio is
    played in full, the link keeps working, and /metrics counts it as read over more than one
    event-loop iteration (voicecored_messages_split_total), while the loop's work per iteration
    is measured (voicecored_loop_busy_seconds)."""
    from websockets.frames import Frame, Opcode

    async def tts_in_parts(ws: Any, job: dict[str, Any]) -> None:
        pcm = tone(24000, 24000)
        wire = Frame(Opcode.BINARY, worker_frame(job["job"], pcm, last=True)).serialize(mask=True, extensions=[])
        assert len(wire) > 48000
        ws.transport.write(wire[:20000])
        await asyncio.sleep(0.05)
        ws.transport.write(wire[20000:])
        await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "segment_done"}))
        await ws.send(json.dumps({"type": "done", "job": job["job"]}))

    async def one_sentence(ws: Any, job: dict[str, Any]) -> None:
        # One TTS job: its raw writes must not interleave with another job's on the same link.
        await ws.send(json.dumps({"type": "output", "job": job["job"], "event": "delta", "text": "It is noon."}))
        await ws.send(json.dumps({"type": "done", "job": job["job"]}))

    with Daemon() as d:
        assert d.coordinator, "this test needs voicecored built with the Coordinator"

        async def run() -> None:
            workers = [await scripted_worker(d, "asr", asr_job), await scripted_worker(d, "assistant", one_sentence),
                       await scripted_worker(d, "tts", tts_in_parts)]
            device = await connect_device(d)
            await device.send(hello(60))
            server_hello = await next_json(device)
            await device.send(json.dumps({"session_id": server_hello["session_id"], "type": "listen", "state": "start", "mode": "auto"}))
            await speak(device, 1, 60, 10)
            decoder = OpusDecoder(24000)
            samples = 0
            while True:
                msg = await asyncio.wait_for(device.recv(), 15)
                if isinstance(msg, bytes):
                    samples += len(decoder.decode(msg)) // 2
                    continue
                m = json.loads(msg)
                if m["type"] == "tts" and m.get("state") == "stop":
                    break
            assert samples >= 24000, samples
            metrics = (await asyncio.to_thread(lambda: urllib.request.urlopen(d.http + "/metrics", timeout=5).read())).decode()
            split = int(metrics.split('voicecored_messages_split_total{peer="worker"} ')[1].split()[0])
            assert split >= 1, metrics
            assert 'voicecored_messages_split_total{peer="device"} 0' in metrics
            iterations = int(metrics.split("voicecored_loop_busy_seconds_count ")[1].split()[0])
            assert iterations > 0
            await device.close()
            await stop_workers(workers)
        asyncio.run(run())
