"""The whole system, every seam with the real component on both sides: the real voicecored, real
worker SDK processes (`voicecore worker … --engine instant`: the SDK, sockets and processes are
real, the engines answer at once), and devices speaking XiaoZhi with real Opus. Faults are real
signals and sockets. Every test ends by checking the Simulator's named invariants on the daemon's
own event log (voicecore.testing.invariants) and, where the run ended quiet, that no job, slot or
turn was left open. The topology is voicecore.testing.fullstack (also `make chaos` and
Benchmarks/soak)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from voicecore.testing.fullstack import PHASES, TOKEN, Stack, device_turn, fd_count
from voicecore.testing.invariants import check_lines

FALLBACK_WORDS = ("sorry", "can't", "cannot")


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def started(tmp_path: Path, **kw: Any) -> Stack:
    stack = Stack(tmp_path, **kw)
    await stack.start()
    return stack


async def finish(stack: Stack, quiet: bool = True) -> None:
    """Stops everything and asserts the log's invariants (and, when quiet, that nothing is open)."""
    was_quiet = await stack.quiesce(30) if quiet else False
    code = await stack.stop()
    violations = stack.check(quiet=was_quiet)
    assert not violations, "\n".join(map(str, violations)) + f"\n(log: {stack.log_path})"
    if quiet:
        assert was_quiet, f"jobs or turns still open: {stack.checker.jobs} {stack.checker.open_turns}"
        assert code == 0, f"voicecored exited with {code}"


def answered(r: Any) -> bool:
    """The user heard the answer or the spoken fallback, or saw the alert when nothing could speak
    (never silence)."""
    if r.ok or r.alerts:
        return True
    said = " ".join(r.sentences).lower()
    return r.frames > 0 and any(w in said for w in FALLBACK_WORDS)


async def round_of_turns(stack: Stack, n: int, prefix: str, turns: int = 1, version: int = 1) -> list[Any]:
    return list(await asyncio.gather(*(device_turn(stack.ws_url, i % 10, device_id=f"{prefix}:{i}", turns=turns,
                                                   protocol_version=version) for i in range(n))))


def assert_all_ok(results: list[Any]) -> None:
    bad = [f"q{r.question}: {r.problem}" for r in results if not r.ok]
    assert not bad, "\n".join(bad)


# --- The happy path, every protocol version -------------------------------------------------------


def test_turns_through_the_real_stack_decode_and_health_tells_the_truth(tmp_path: Path) -> None:
    async def main() -> None:
        stack = await started(tmp_path)
        try:
            status, body = stack.http_get("/healthz")
            assert status == 200 and json.loads(body)["workers"] == len(stack.registered()) == 3
            for version in (1, 2, 3):
                assert_all_ok(await round_of_turns(stack, 6, f"v{version}", turns=2, version=version))
            m = stack.metrics()
            assert m.get('voicecored_turns_total{outcome="done"}') == 36
        finally:
            await finish(stack)
        c = stack.checker
        assert c.counts["turn.ended"] == 36 and c.counts.get("turn.fallback", 0) == 0 and c.counts.get("job.failed", 0) == 0
        assert c.counts.get("job.late", 0) == 0, "a clean run has no late worker output (`segment_done` after the last frame is not late)"
        checker_catches_each_violation(stack.log_path.read_text().splitlines())

    run(main())


def checker_catches_each_violation(lines: list[str]) -> None:
    """The invariant checker, held to a real daemon's log: clean as recorded, and each invariant named
    when the log is altered to break it."""
    from voicecore.testing.invariants import check_lines

    assert not check_lines(lines).violations
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    # A retryable refusal (`job.refused`, docs/events.md) is not an outcome: the same job is queued again.
    refused = [{"kind": "worker.registered", "worker": "w1", "to": "asr", "text": "asr-1"},
               {"kind": "job.queued", "job": 1, "job_kind": "asr", "session": "s1"},
               {"kind": "job.dispatched", "job": 1, "job_kind": "asr", "worker": "w1", "session": "s1"},
               {"kind": "job.refused", "job": 1, "job_kind": "asr", "worker": "w1", "session": "s1"},
               {"kind": "job.queued", "job": 1, "job_kind": "asr", "session": "s1"},
               {"kind": "job.dispatched", "job": 1, "job_kind": "asr", "worker": "w1", "session": "s1"},
               {"kind": "job.done", "job": 1, "job_kind": "asr", "worker": "w1", "session": "s1"}]
    assert not check_lines(json.dumps(e) for e in refused).violations

    def index(kind: str, nth: int = 0, **match: Any) -> int:
        found = [i for i, e in enumerate(entries) if e.get("kind") == kind and all(e.get(k) == v for k, v in match.items())]
        return found[nth]

    def broken(edit: Any) -> set[str]:
        altered = [dict(e) for e in entries]
        edit(altered)
        return {v.invariant for v in check_lines(json.dumps(e) for e in altered).violations}

    done = index("job.done", 3)
    delivered = index("segment.delivered", 1)
    ended = next(i for i in range(delivered, len(entries)) if entries[i].get("kind") == "turn.ended"
                 and entries[i].get("session") == entries[delivered]["session"])
    dispatched = index("job.dispatched", 5)
    assert "one-terminal-outcome" in broken(lambda a: a.insert(done + 1, dict(a[done])))
    assert "job-conservation" in broken(lambda a: a.pop(done))

    def leak(a: list[dict[str, Any]]) -> None:  # the job's outcome lost while its worker stays connected
        a.pop(done)
        a[:] = [e for e in a if e.get("kind") not in ("worker.gone", "worker.draining")]

    assert "no-slot-leaked" in broken(leak)
    names = {e["text"]: {k: 0 for k in ("asr", "assistant", "tts")} for e in entries if e.get("kind") == "worker.registered"}
    assert {v.invariant for v in check_lines(lines, slots=names).violations} == {"worker-slots"}
    assert "no-duplicate-delivery" in broken(lambda a: a.insert(delivered + 1, dict(a[delivered])))
    assert "no-audio-after-barge-in" in broken(lambda a: a.insert(ended + 1, dict(a[delivered])))
    assert "segment-order" in broken(lambda a: a.__setitem__(delivered, {**a[delivered], "value": 5}))
    assert "no-stuck-turn" in broken(lambda a: a.pop(ended))
    assert "no-dispatch-to-unavailable" in broken(lambda a: a.__setitem__(dispatched, {**a[dispatched], "worker": "w99"}))


# --- Devices hanging up at every phase --------------------------------------------------------------


async def hang_ups(stack: Stack, phase: str, n: int, seed: Any) -> list[Any]:
    import random

    rng = random.Random(seed)
    hangers = [device_turn(stack.ws_url, i, hangup=phase, device_id=f"hang:{phase}:{i}", turns=2, rng=rng) for i in range(n)]
    talkers = [device_turn(stack.ws_url, i, device_id=f"talk:{phase}:{i}") for i in range(3)]
    return list(await asyncio.gather(*hangers, *talkers))


@pytest.mark.parametrize("phase", [p for p in PHASES if p is not None])
def test_devices_hang_up_at_every_phase(tmp_path: Path, phase: str) -> None:
    """Devices hang up (close handshake or a bare TCP reset) at one phase of their second turn while
    others talk. Every user who stayed hears the answer or the spoken fallback, the log's invariants
    hold, and no job, turn or slot is left open in the core when they are all gone."""

    async def main() -> None:
        stack = await started(tmp_path)
        try:
            results = await hang_ups(stack, phase, 8, phase)
            unanswered = [f"q{r.question}: {r.problem}" for r in results if not answered(r)]
            assert not unanswered, "\n".join(unanswered)
            assert await stack.quiesce(20), "jobs or turns left open after the hang-ups"
            after = await round_of_turns(stack, 4, "after")
            assert all(answered(r) for r in after), [r.problem for r in after]
        finally:
            await finish(stack)

    run(main())


def test_hang_ups_at_every_phase_leave_every_worker_slot_free(tmp_path: Path) -> None:
    """The same hang-ups, every phase three times over: then no worker ever refused a job for want of
    a slot, and each worker's full slot count of turns at once all complete."""

    async def main() -> None:
        stack = await started(tmp_path)
        try:
            for round_ in range(3):
                results = await asyncio.gather(*(hang_ups(stack, p, 4, f"{p}:{round_}") for p in PHASES if p is not None))
                assert all(answered(r) for rs in results for r in rs)
            await stack.quiesce(20)
            assert_all_ok(await round_of_turns(stack, 4, "after"))
            refusals = [e for e in _log(stack) if e.get("kind") == "job.failed" and "slot" in str(e.get("reason"))]
            assert not refusals, refusals[:3]
        finally:
            await finish(stack)

    run(main())


def _log(stack: Stack) -> list[dict[str, Any]]:
    out = []
    for line in stack.log_path.read_text(errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass
    return out


async def typed_then_gone(stack: Stack, i: int) -> None:
    """A device types a question (`listen detect` with text) and resets its TCP connection at once:
    the hub dispatches the assistant job and cancels it in the same breath."""
    ws = await websockets.connect(stack.ws_url + "/xiaozhi/v1/", additional_headers={"Device-Id": f"gone:{i}", "Protocol-Version": "1"})
    await ws.send(json.dumps({"type": "hello", "version": 1, "transport": "websocket", "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60}}))
    hello = json.loads(await ws.recv())
    await ws.send(json.dumps({"session_id": hello["session_id"], "type": "listen", "state": "detect", "text": f"question {i % 10}"}))
    ws.transport.abort()


def test_hang_up_mid_dispatch_leaks_no_slot(tmp_path: Path) -> None:
    """Issue 13 defect 1 through the real processes: devices that hang up while their assistant job is
    being dispatched must not leave the assistant worker believing its slots are taken."""

    async def main() -> None:
        stack = await started(tmp_path, workers={"asr": (1, 4), "assistant": (1, 2), "tts": (1, 4)})
        try:
            for i in range(40):
                await typed_then_gone(stack, i)
            await stack.quiesce(20)
            await asyncio.sleep(0.5)
            results = await round_of_turns(stack, 2, "after")
            assert_all_ok(results)
            refusals = [e for e in _log(stack) if e.get("kind") == "job.failed" and "slot" in str(e.get("reason"))]
            assert not refusals, refusals[:3]
        finally:
            await finish(stack)

    run(main())


def test_abort_at_first_audio_stops_the_reply(tmp_path: Path) -> None:
    async def main() -> None:
        stack = await started(tmp_path)
        try:
            results = await asyncio.gather(*(device_turn(stack.ws_url, i, device_id=f"abort:{i}", abort_at_audio=True, turns=2)
                                             for i in range(4)))
            assert_all_ok(list(results))
            assert_all_ok(await round_of_turns(stack, 2, "after"))
        finally:
            await finish(stack)
        assert stack.checker.counts.get("turn.cancelled", 0) >= 4

    run(main())


QUIET_SCRIPT = """
from voicecore import Assistant

app = Assistant()


@app.on_utterance
async def answer(session, text):
    if text == "question 2":
        return  # nothing to say
    yield f"You said {text}."


if __name__ == "__main__":
    app.run()
"""


def test_a_reply_with_nothing_to_say_ends_with_tts_stop(tmp_path: Path) -> None:
    """A script that answers nothing: the device still hears that the reply is over (`tts stop`,
    no `tts start`, no audio) at once, and the same connection asks its next question; so does a
    push-to-talk turn with no words in it. Clients that stop listening while the assistant answers
    (the browser page, `voicecore talk`) wait for it."""
    from voicecore.asr.instant import question_tone
    from voicecore.client.device import Device, converse, frame

    script = tmp_path / "quiet.py"
    script.write_text(QUIET_SCRIPT)

    async def turn(device: Device, question: int) -> tuple[list[Any], float]:
        """Says question n; every message until `tts stop` (audio as its byte count), and the seconds
        from the transcript to `tts stop`."""
        await device.listen("auto")
        heard: list[Any] = []
        stt_at = 0.0
        done = asyncio.Event()
        async with device.microphone(b"\0" * device.frame_bytes * 2 + question_tone(question, 0.42), done, 200):
            while True:
                m = await device.recv(10)
                if isinstance(m, bytes):
                    heard.append(len(m))
                    continue
                if m.get("type") == "mcp":  # the hub asks for the board's tools: it has none
                    await device.answer_mcp(m.get("payload"))
                    continue
                heard.append((m.get("type"), m.get("state") or m.get("text")))
                if m.get("type") == "stt":
                    stt_at = time.monotonic()
                if (m.get("type"), m.get("state")) == ("tts", "stop"):
                    return heard, time.monotonic() - stt_at

    async def main() -> None:
        stack = await started(tmp_path / "stack", workers={"asr": (1, 2), "tts": (1, 2)})
        try:
            stack.start_worker("assistant", 2, "quiet", extra=["--script", str(script)])
            await stack.wait_registered(3, 60)
            device = await Device.open(stack.ws_url, device_id="quiet:00:00:00:00:01", client_id="fullstack", timeout=10)
            try:
                await device.hello(10)
                heard, seconds = await turn(device, 2)
                assert heard == [("stt", "question 2"), ("tts", "stop")], heard
                assert seconds < 2.0, seconds
                heard, _ = await turn(device, 1)
                assert heard[:3] == [("stt", "question 1"), ("tts", "start"), ("tts", "sentence_start")], heard
                assert heard[-1] == ("tts", "stop") and sum(x for x in heard if isinstance(x, int)) > 0, heard
                # Push-to-talk released with nothing said: no words, no reply, and `tts stop` ends the turn.
                await device.listen("manual")
                for i in range(8):
                    await device.ws.send(frame(device.version, device.encoder.encode(b"\0" * device.frame_bytes), i * device.frame_ms))
                await device.send({"type": "listen", "state": "stop"})
                m = await device.recv(10)
                while isinstance(m, dict) and m.get("type") == "mcp":
                    m = await device.recv(10)
                assert isinstance(m, dict) and (m.get("type"), m.get("state")) == ("tts", "stop"), m
            finally:
                await device.close()
            # `voicecore talk` with a recording of silence (auto mode: nothing ends the turn): it
            # stops waiting once its microphone has closed, and says that no words were heard.
            began = time.monotonic()
            silent = await converse(stack.ws_url, b"\0" * 32000, device_id="quiet:00:00:00:00:02", max_listen=1.0, timeout=60)
            assert silent.stt == "" and not silent.complete and silent.frames == 0, silent
            assert time.monotonic() - began < 10, time.monotonic() - began
        finally:
            await finish(stack)
        assert stack.checker.counts.get("turn.ended", 0) == 3  # silent, done, empty

    run(main())


# --- Workers killed and frozen mid-job --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["asr", "assistant", "tts"])
def test_kill_9_of_a_worker_mid_job(tmp_path: Path, kind: str) -> None:
    """Two workers of ``kind``; one is killed with SIGKILL while devices are mid-turn. Every user hears
    the answer or the spoken fallback; the log's invariants hold; the replacement serves."""

    async def main() -> None:
        workers = {"asr": (1, 4), "assistant": (1, 4), "tts": (1, 4)}
        workers[kind] = (2, 4)
        stack = await started(tmp_path, workers=workers)
        try:
            victim = stack.worker(kind)
            turns = [asyncio.ensure_future(device_turn(stack.ws_url, i, device_id=f"k:{i}", turns=3)) for i in range(6)]
            # mid-job: the ASR job runs while the device speaks; assistant and TTS jobs right after
            await asyncio.sleep({"asr": 0.35, "assistant": 0.85, "tts": 0.9}[kind] + 1.0)
            stack.kill_worker(victim)
            results = await asyncio.gather(*turns)
            unanswered = [f"q{r.question}: {r.problem}" for r in results if not answered(r)]
            assert not unanswered, "\n".join(unanswered)
            replacement = stack.replace_worker(victim)
            await stack.wait_registered(4)
            assert_all_ok(await round_of_turns(stack, 4, "after"))
            assert replacement.proc.poll() is None
        finally:
            await finish(stack)
        gone = [e for e in _log(stack) if e.get("kind") == "worker.gone"]
        assert gone and gone[0]["reason"] == "disconnected", gone

    run(main())


def test_sigstop_of_a_worker_mid_job_is_detected_within_seconds(tmp_path: Path) -> None:
    async def main() -> None:
        stack = await started(tmp_path, workers={"asr": (1, 4), "assistant": (1, 4), "tts": (2, 4)})
        victim = stack.worker("tts")
        try:
            # Freeze one TTS worker, then ask: the jobs that land on it must move within ~3 s.
            victim.proc.send_signal(signal.SIGSTOP)
            t0 = time.monotonic()
            results = await asyncio.gather(*(device_turn(stack.ws_url, i, device_id=f"stop:{i}", timeout=30) for i in range(6)))
            slowest = max(r.seconds for r in results)
            assert all(answered(r) for r in results), [r.problem for r in results]
            # a turn takes ~1.2 s here; a moved job adds the detection time
            assert slowest < 6.0, f"slowest turn {slowest:.1f} s (since the freeze {time.monotonic() - t0:.1f} s)"
        finally:
            victim.proc.send_signal(signal.SIGCONT)
            await finish(stack, quiet=False)

    run(main())


def test_sigstop_of_a_worker_mid_job_is_survived(tmp_path: Path) -> None:
    """The same freeze, without the latency bound: every user still hears an answer or the fallback,
    the invariants hold, and the thawed worker's stale output is ignored (`job.late`)."""

    async def main() -> None:
        stack = await started(tmp_path, workers={"asr": (1, 4), "assistant": (1, 4), "tts": (2, 4)})
        victim = stack.worker("tts")
        try:
            victim.proc.send_signal(signal.SIGSTOP)
            results = await asyncio.gather(*(device_turn(stack.ws_url, i, device_id=f"stop:{i}", timeout=40) for i in range(4)))
            assert all(answered(r) for r in results), [r.problem for r in results]
        finally:
            victim.proc.send_signal(signal.SIGCONT)
        try:
            await asyncio.sleep(1.0)
            assert_all_ok(await round_of_turns(stack, 4, "after"))
        finally:
            await finish(stack)

    run(main())


def test_health_says_degraded_when_a_kind_cannot_be_served(tmp_path: Path) -> None:
    async def main() -> None:
        stack = await started(tmp_path)
        victim = stack.worker("tts")
        try:
            victim.proc.send_signal(signal.SIGSTOP)
            turn = asyncio.ensure_future(device_turn(stack.ws_url, 1, device_id="h:1", timeout=12))
            statuses = []
            for _ in range(16):  # a turn's TTS job waits from ~1 s on; "some seconds" later health must say so
                await asyncio.sleep(0.5)
                statuses.append((await asyncio.to_thread(stack.http_get, "/healthz", 2.0))[0])
            await turn
            assert 503 in statuses, f"/healthz answered {statuses} while every TTS worker was frozen"
        finally:
            victim.proc.send_signal(signal.SIGCONT)
            await finish(stack, quiet=False)

    run(main())


# --- Sockets: bursts, silent and slow peers ---------------------------------------------------------


def test_connection_burst_leaves_nothing_behind(tmp_path: Path) -> None:
    async def main() -> None:
        stack = await started(tmp_path)
        try:
            assert_all_ok(await round_of_turns(stack, 2, "warm"))
            await stack.quiesce(10)
            await asyncio.sleep(0.5)
            base = fd_count(stack.daemon.pid)  # type: ignore[union-attr]

            async def hello_and_go(i: int) -> bool:
                try:
                    ws = await websockets.connect(stack.ws_url + "/xiaozhi/v1/", additional_headers={"Device-Id": f"burst:{i}"}, open_timeout=20)
                    await ws.send(json.dumps({"type": "hello", "version": 1, "transport": "websocket"}))
                    await asyncio.wait_for(ws.recv(), 20)
                    if i % 2:
                        ws.transport.abort()
                    else:
                        await ws.close()
                    return True
                except Exception:  # noqa: BLE001
                    return False

            for _ in range(3):
                ok = await asyncio.gather(*(hello_and_go(i) for i in range(150)))
                assert all(ok), f"{ok.count(False)} of 150 burst connections failed"
            assert_all_ok(await round_of_turns(stack, 4, "after"))
            await stack.quiesce(10)
            deadline = time.monotonic() + 10
            while fd_count(stack.daemon.pid) > base and time.monotonic() < deadline:  # type: ignore[union-attr]
                await asyncio.sleep(0.2)
            assert fd_count(stack.daemon.pid) <= base  # type: ignore[union-attr]
        finally:
            await finish(stack)

    run(main())


def _silent_sockets(port: int, n: int) -> list[socket.socket]:
    held = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        held.append(s)
    return held


def test_silent_sockets_do_not_lock_the_port(tmp_path: Path) -> None:
    async def main() -> None:
        stack = await started(tmp_path)
        held = _silent_sockets(stack.port, 200)
        try:
            for _ in range(5):
                t0 = time.monotonic()
                status, _ = await asyncio.to_thread(stack.http_get, "/healthz", 1.0)
                assert status == 200 and time.monotonic() - t0 < 1.0
            assert_all_ok(await round_of_turns(stack, 2, "during"))
        finally:
            for s in held:
                s.close()
            await finish(stack)

    run(main())


def test_slow_and_silent_peers_below_the_header_pool_do_not_stall_others(tmp_path: Path) -> None:
    """A few silent sockets, a few that send their upgrade one byte at a time, and a device that never
    reads its audio: everybody else's turns and /healthz go on."""

    async def main() -> None:
        stack = await started(tmp_path)
        held = _silent_sockets(stack.port, 16)
        request = (f"GET /xiaozhi/v1/ HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()
        dripping = [socket.create_connection(("127.0.0.1", stack.port), timeout=5) for _ in range(8)]
        stop = asyncio.Event()

        async def drip() -> None:
            i = 0
            while not stop.is_set() and i < len(request) - 1:
                for s in dripping:
                    try:
                        s.send(request[i:i + 1])
                    except OSError:
                        pass
                i += 1
                await asyncio.sleep(0.05)

        async def deaf_device() -> None:
            ws = await websockets.connect(stack.ws_url + "/xiaozhi/v1/", additional_headers={"Device-Id": "deaf"}, max_queue=1)
            await ws.send(json.dumps({"type": "hello", "version": 1, "transport": "websocket"}))
            await ws.recv()
            await ws.send(json.dumps({"type": "listen", "state": "detect", "text": "question 5"}))
            ws.transport.pause_reading()  # never reads its reply
            await stop.wait()
            ws.transport.abort()

        tasks = [asyncio.ensure_future(drip()), asyncio.ensure_future(deaf_device())]
        try:
            for _ in range(3):
                t0 = time.monotonic()
                status, _ = await asyncio.to_thread(stack.http_get, "/healthz", 2.0)
                assert status == 200 and time.monotonic() - t0 < 2.0
            assert_all_ok(await round_of_turns(stack, 4, "others", turns=2))
        finally:
            stop.set()
            await asyncio.gather(*tasks, return_exceptions=True)
            for s in held + dripping:
                s.close()
            await finish(stack)

    run(main())


# --- The daemon killed under `voicecore up` ----------------------------------------------------------


def test_kill_9_of_the_daemon_under_voicecore_up(tmp_path: Path) -> None:
    """`voicecore up` supervises voicecored: a SIGKILLed daemon comes back on the same port, the SDK
    workers redial it, and devices that reconnect are served again."""

    async def main() -> None:
        state = tmp_path / "up"
        env = dict(os.environ)
        env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2] / "python") + os.pathsep + env.get("PYTHONPATH", "")
        up = subprocess.Popen([sys.executable, "-m", "voicecore", "up", "--workers", "none", "--no-llm", "--host", "127.0.0.1",
                               "--port", "0", "--worker-token", TOKEN, "--state-dir", str(state)],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        stack = Stack(tmp_path / "stack")
        try:
            status = await _up_status(state, up)
            stack.port = int(status["http"].rsplit(":", 1)[1])
            for kind, (n, slots) in stack.workers_wanted.items():
                stack.start_worker(kind, slots, f"{kind}-1")
            await _wait_workers(stack, 3)
            assert_all_ok(await round_of_turns(stack, 3, "before"))
            pid = status["pids"]["voicecored"]
            killed = time.monotonic()
            os.kill(pid, signal.SIGKILL)
            # The supervisor restarts it (backoff ~0.5 s); the workers redial with their own backoff.
            deadline = time.monotonic() + 30
            new_pid = pid
            while time.monotonic() < deadline:
                try:
                    new_pid = json.loads((state / "up.json").read_text())["pids"]["voicecored"]
                except (OSError, ValueError, KeyError):
                    pass
                if new_pid != pid:
                    break
                await asyncio.sleep(0.2)
            assert new_pid != pid, "voicecore up did not restart the daemon"
            restarted = time.monotonic()
            await _wait_workers(stack, 3, timeout=45)
            workers_back = time.monotonic()
            assert_all_ok(await round_of_turns(stack, 3, "after"))
            print(f"daemon SIGKILLed: restarted after {restarted - killed:.1f} s, 3 workers back after {workers_back - killed:.1f} s, "
                  f"turns served again after {time.monotonic() - killed:.1f} s")
            assert up.poll() is None, "voicecore up exited"
        finally:
            for w in stack.workers:
                w.proc.terminate()
            for w in stack.workers:
                w.proc.wait(timeout=15)
            up.send_signal(signal.SIGTERM)
            try:
                out, _ = up.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                up.kill()
                out, _ = up.communicate()
        text = out.decode(errors="replace")
        assert "voicecored exited with code -9" in text, text[-2000:]
        # Each life of the daemon (its log file is appended to) holds the invariants; the killed one
        # ended abruptly, the restarted one was drained by `voicecore up`'s SIGTERM.
        lives: list[list[str]] = []
        for line in (state / "logs" / "voicecored.log").read_text(errors="replace").splitlines():
            if '"event":"listening"' in line:
                lives.append([])
            if lives:
                lives[-1].append(line)
        assert len(lives) == 2
        for i, life in enumerate(lives):
            checked = check_lines(life, quiet=False)
            violations = checked.violations
            assert checked.counts.get("turn.ended", 0) >= 3 and not violations, f"life {i + 1}: " + "\n".join(map(str, violations))

    run(main())


async def _up_status(state: Path, up: subprocess.Popen[bytes], timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if up.poll() is not None:
            raise AssertionError(f"voicecore up exited: {up.stdout.read().decode() if up.stdout else ''}")
        try:
            status = json.loads((state / "up.json").read_text())
            if status.get("ready") and "voicecored" in status.get("pids", {}):
                return status
        except (OSError, ValueError):
            pass
        await asyncio.sleep(0.2)
    raise AssertionError("voicecore up did not become ready")


async def _wait_workers(stack: Stack, n: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, body = await asyncio.to_thread(stack.http_get, "/healthz", 2.0)
            if status == 200 and json.loads(body)["workers"] >= n:
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"fewer than {n} workers registered")
