"""voicecored under failure and abuse, on the real binary: a worker killed mid-job (the turn is
re-dispatched or falls back, and the session goes back to listening), a device too slow to read
its messages (closed 1008, others unaffected), bad input of every kind while another session is
mid-turn, and TLS (wss/https with a certificate made here by openssl)."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import websockets
from websockets.client import ClientProtocol
from websockets.frames import Close
from websockets.uri import parse_uri

from daemon_harness import (Daemon, OpusDecoder, connect_device, connect_worker, frame, hello, next_json, tone, unframe,
                            worker_frame)
from test_daemon_turns import asr_job, assistant_job, scripted_worker, speak, tts_job

FALLBACK = "Sorry, something went wrong. Please try again."


async def listen_and_speak(device: Any, version: int = 1) -> None:
    await device.send(json.dumps({"session_id": "", "type": "listen", "state": "start", "mode": "auto"}))
    await speak(device, version, 60, 10)


async def hear_reply(device: Any, version: int = 1, timeout: float = 15) -> tuple[list[dict[str, Any]], int]:
    """Messages and decoded audio samples of one reply, up to and including `tts stop`; audio
    outside tts start…stop fails."""
    decoder = OpusDecoder(24000)
    messages: list[dict[str, Any]] = []
    samples = 0
    started = False
    while True:
        msg = await asyncio.wait_for(device.recv(), timeout)
        if isinstance(msg, bytes):
            assert started, "audio outside tts start…stop"
            samples += len(decoder.decode(unframe(version, msg))) // 2
            continue
        m = json.loads(msg)
        messages.append(m)
        if m.get("type") == "tts" and m.get("state") == "start":
            started = True
        if m.get("type") == "tts" and m.get("state") == "stop":
            return messages, samples


def turns_ended(d: Daemon, count: int, timeout: float = 5.0) -> list[str]:
    """The reasons of ended turns once `count` are in the log (the log is read by a thread and
    may trail what the device already heard)."""
    deadline = time.monotonic() + timeout
    while True:
        reasons = [e.get("reason") for e in d.log if e.get("kind") == "turn.ended"]
        if len(reasons) >= count or time.monotonic() > deadline:
            return reasons
        time.sleep(0.02)


def sentences(messages: list[dict[str, Any]]) -> list[str]:
    return [m["text"] for m in messages if m.get("type") == "tts" and m.get("state") == "sentence_start"]


async def close_all(*peers: Any) -> None:
    for p in peers:
        if isinstance(p, tuple):
            p[1].cancel()
            p = p[0]
        await p.close()


def test_tts_worker_killed_mid_segment_is_redispatched_and_nothing_is_heard_twice() -> None:
    with Daemon() as d:
        async def run() -> None:
            asr = await scripted_worker(d, "asr", asr_job)
            assistant = await scripted_worker(d, "assistant", assistant_job)
            got_job = asyncio.Event()

            async def dies_mid_segment(ws: Any, job: dict[str, Any]) -> None:
                rate = job["params"].get("sample_rate", 24000)
                await ws.send(worker_frame(job["job"], tone(int(rate * 0.3), rate)))  # 0.3 s of a 1 s segment
                got_job.set()

            doomed = await scripted_worker(d, "tts", dies_mid_segment)
            device = await connect_device(d)
            await device.send(hello(60))
            await next_json(device)
            await listen_and_speak(device)
            await asyncio.wait_for(got_job.wait(), 10)
            survivor = await scripted_worker(d, "tts", tts_job(1.0))  # registers only now: the first job was the doomed one's
            await asyncio.sleep(0.1)
            doomed[1].cancel()
            doomed[0].transport.abort()  # killed: no close frame
            messages, samples = await hear_reply(device)
            assert "It is noon." in sentences(messages)[0]
            # Every segment once: 1 s + 1 s of the two sentences at most, the killed worker's 0.3 s not again.
            assert 2 * 24000 * 0.95 <= samples <= 2 * 24000 + 2 * 1440, samples
            # Back to listening: the next utterance is a turn of its own.
            await listen_and_speak(device)
            messages, samples = await hear_reply(device)
            assert messages[0] == {"type": "stt", "text": "what time is it"} or any(m.get("type") == "stt" for m in messages)
            assert samples >= 2 * 24000 * 0.95
            await close_all(device, asr, assistant, survivor)
        asyncio.run(run())
        assert turns_ended(d, 2) == ["done", "done"]
        failed = [e for e in d.log if e.get("kind") == "job.failed"]
        assert any(e.get("reason") == "worker-lost" for e in failed), failed
        assert any(e.get("kind") == "job.retry" and e.get("reason") == "redispatch" for e in d.log)


def test_assistant_killed_with_no_replacement_falls_back_and_the_session_listens_again() -> None:
    with Daemon("--coordinator", json.dumps({"queue_timeout_ms": 300})) as d:
        async def run() -> None:
            asr = await scripted_worker(d, "asr", asr_job)
            tts = await scripted_worker(d, "tts", tts_job(0.4))
            got_job = asyncio.Event()

            async def goes_silent(ws: Any, job: dict[str, Any]) -> None:
                got_job.set()

            doomed = await scripted_worker(d, "assistant", goes_silent)
            device = await connect_device(d, version=2)
            await device.send(hello(60))
            await next_json(device)
            await listen_and_speak(device, 2)
            await asyncio.wait_for(got_job.wait(), 10)
            doomed[1].cancel()
            doomed[0].transport.abort()
            messages, samples = await hear_reply(device, 2)
            assert any(m.get("type") == "stt" for m in messages)
            assert sentences(messages) == [FALLBACK]
            assert samples >= 0.4 * 24000 * 0.9  # the fallback is heard, not just shown
            # An assistant comes back; the same session's next turn is answered normally.
            assistant = await scripted_worker(d, "assistant", assistant_job)
            await listen_and_speak(device, 2)
            messages, _ = await hear_reply(device, 2)
            assert sentences(messages)[0].startswith("It is noon.")
            await close_all(device, asr, tts, assistant)
        asyncio.run(run())
        assert turns_ended(d, 2) == ["fallback", "done"]
        fallbacks = [e for e in d.log if e.get("kind") == "turn.fallback"]
        assert fallbacks and fallbacks[0]["reason"].startswith("assistant:"), fallbacks


class RawDevice:
    """A device on a plain socket with a tiny receive buffer that it does not read: the real
    WebSocket protocol (framing by the websockets library's sans-I/O client), a slow reader."""

    def __init__(self, d: Daemon) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        self.sock.connect(("127.0.0.1", d.port))
        self.proto = ClientProtocol(parse_uri(f"{d.ws}/xiaozhi/v1/"))
        request = self.proto.connect()
        request.headers["Protocol-Version"] = "1"
        request.headers["Device-Id"] = "slow-reader"
        self.proto.send_request(request)
        self.flush()
        while self.proto.handshake_exc is None and self.proto.state.name == "CONNECTING":
            self.proto.receive_data(self.sock.recv(4096))
        assert self.proto.state.name == "OPEN", self.proto.handshake_exc

    def flush(self) -> None:
        for data in self.proto.data_to_send():
            self.sock.sendall(data)

    def send_text(self, text: str) -> None:
        self.proto.send_text(text.encode())
        self.flush()

    def read_until_closed(self, timeout: float = 10) -> Close | None:
        self.sock.settimeout(timeout)
        while True:
            data = self.sock.recv(65536)
            if not data:
                self.proto.receive_eof()
                break
            self.proto.receive_data(data)
            self.flush()
            if self.proto.close_rcvd is not None:
                break
        return self.proto.close_rcvd


def test_a_device_that_reads_too_slowly_is_closed_1008_and_others_carry_on() -> None:
    with Daemon("--send-queue-bytes", "8192") as d:
        slow = RawDevice(d)
        # Every malformed message is answered with an error the device never reads: its socket
        # buffers fill, then the daemon's bounded send queue overflows.
        slow.sock.setblocking(True)
        for _ in range(300):
            for _ in range(100):
                slow.proto.send_text(b"{")
            slow.flush()
            if any(e.get("event") == "send_queue.overflow" for e in d.log):
                break
        d.wait_for("send_queue.overflow", timeout=10)

        async def others() -> None:
            other = await connect_device(d, device_id="aa:bb:cc:dd:ee:07")
            await other.send("{oops")
            assert (await next_json(other))["type"] == "error"
            await other.send(hello(60))
            await other.close()
        asyncio.run(others())
        close = slow.read_until_closed()
        assert close is not None and close.code == 1008 and "send queue" in close.reason
        metrics = urllib.request.urlopen(d.http + "/metrics", timeout=5).read().decode()
        assert 'voicecored_errors_total{kind="send_queue_overflow"} 1' in metrics


def test_bad_input_of_every_kind_while_another_session_is_mid_turn() -> None:
    with Daemon("--device-tokens", "good", "--device-max-message-bytes", "4096") as d:
        async def run() -> None:
            workers = [await scripted_worker(d, "asr", asr_job), await scripted_worker(d, "assistant", assistant_job),
                       await scripted_worker(d, "tts", tts_job(1.0))]
            talker = await connect_device(d, version=3, token="good")
            await talker.send(hello(60))
            await next_json(talker)
            await listen_and_speak(talker, 3)
            reply = asyncio.create_task(hear_reply(talker, 3))

            with pytest.raises(websockets.InvalidStatus) as refused:
                await connect_device(d, token="wrong", device_id="aa:bb:cc:dd:ee:02")
            assert refused.value.response.status_code == 401
            bad = await connect_device(d, version=3, token="good", device_id="aa:bb:cc:dd:ee:03")
            await bad.send(hello(60))
            assert (await next_json(bad))["type"] == "hello"
            await bad.send(json.dumps({"session_id": "", "type": "teleport"}))
            unknown = await next_json(bad)
            assert unknown["type"] == "error" and "teleport" in unknown["message"], unknown
            await bad.send('{"type": "listen", "state": ')
            assert (await next_json(bad))["type"] == "error"
            await bad.send(json.dumps({"type": "listen", "state": "sideways"}))
            assert (await next_json(bad))["type"] == "error"
            await bad.send(frame(3, b"\xff\xfe\xfd\xfc" * 8))
            assert "undecodable Opus" in (await next_json(bad))["message"]
            await bad.send(frame(3, b"\x00" * 5000))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await asyncio.wait_for(bad.recv(), 5)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009

            messages, samples = await reply
            assert sentences(messages)[0].startswith("It is noon.") and samples >= 2 * 24000 * 0.95
            await close_all(talker, *workers)
        asyncio.run(run())
        assert turns_ended(d, 1) == ["done"]


def make_certificate(tmp: Path) -> tuple[Path, Path]:
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True, timeout=60)
    return cert, key


def test_tls_serves_wss_and_https_with_a_configured_certificate(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    with Daemon("--tls-cert", str(cert), "--tls-key", str(key)) as d:
        trusted = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(f"https://127.0.0.1:{d.port}/xiaozhi/ota/", context=trusted, timeout=5) as r:
            ota = json.loads(r.read())
        assert ota["websocket"]["url"] == f"wss://127.0.0.1:{d.port}/xiaozhi/v1/"
        with urllib.request.urlopen(f"https://127.0.0.1:{d.port}/healthz", context=trusted, timeout=5) as r:
            assert json.loads(r.read())["status"] == "ok"

        async def run() -> None:
            async with websockets.connect(f"wss://127.0.0.1:{d.port}/xiaozhi/v1/", ssl=trusted,
                                          additional_headers={"Protocol-Version": "3", "Device-Id": "tls-device"}) as ws:
                await ws.send(hello(60))
                answer = await next_json(ws)
                assert answer["type"] == "hello" and answer["transport"] == "websocket"
            async with websockets.connect(f"wss://127.0.0.1:{d.port}/worker", ssl=trusted,
                                          additional_headers={"Authorization": "Bearer worker-secret"}) as w:
                await w.send("{")
                assert "malformed JSON" in (await next_json(w))["message"]
            # Plain text on the TLS port is not served.
            with pytest.raises(Exception):
                await websockets.connect(f"ws://127.0.0.1:{d.port}/xiaozhi/v1/", open_timeout=3)
        asyncio.run(run())
        assert any(e.get("event") == "listening" and e.get("tls") is True for e in d.log)


def test_a_daemon_that_cannot_serve_exits_with_a_reason(tmp_path: Path) -> None:
    from daemon_harness import daemon_binary
    cert, key = make_certificate(tmp_path)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    cases = [(["--tls-cert", str(tmp_path / "missing.pem"), "--tls-key", str(key)], "tls.unreadable", "missing.pem"),
             (["--tls-cert", str(garbage), "--tls-key", str(key)], "listen.failed", '"tls":true'),
             (["--coordinator", '{"bogus": 1}'], "coordinator.config_rejected", "bogus")]
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    cases.append((["--port", str(taken.getsockname()[1])], "listen.failed", f'"port":{taken.getsockname()[1]}'))
    for args, event, detail in cases:
        out = subprocess.run([str(daemon_binary()), "--worker-token", "x", "--port", "0", "--host", "127.0.0.1", *args],
                             capture_output=True, text=True, timeout=20)
        assert out.returncode == 1, (args, out.returncode, out.stderr[-2000:])
        errors = [line for line in out.stdout.splitlines() if f'"event":"{event}"' in line]
        assert errors and detail in errors[0], out.stdout
        assert "AddressSanitizer" not in out.stderr and "runtime error:" not in out.stderr, out.stderr[-3000:]


def test_uplink_audio_faster_than_real_time_is_dropped_and_others_carry_on() -> None:
    from daemon_harness import OpusEncoder
    with Daemon("--uplink-burst-ms", "600", "--uplink-rate-percent", "150") as d:
        async def run() -> None:
            enc = OpusEncoder(16000, 60)
            packet = enc.encode(tone(960, 16000, 300))
            flood = await connect_device(d, version=3)
            other = await connect_device(d, version=3, device_id="aa:bb:cc:dd:ee:08")
            for ws in (flood, other):
                await ws.send(hello(60))
                await next_json(ws)
            for _ in range(100):  # six seconds of audio in an instant
                await flood.send(frame(3, packet))
            answer = await next_json(flood)
            assert answer["type"] == "error" and "faster than real time" in answer["message"], answer
            await other.send(frame(3, packet))  # a device at real time is not affected
            await asyncio.sleep(0.3)
            metrics = (await asyncio.to_thread(lambda: urllib.request.urlopen(d.http + "/metrics", timeout=5).read())).decode()
            dropped = int(metrics.split('voicecored_errors_total{kind="uplink_flood"} ')[1].split()[0])
            decoded = int(metrics.split('voicecored_opus_frames_total{op="decode"} ')[1].split()[0])
            # The 600 ms burst (10 frames) plus what refilled while the flood arrived passed; the rest did not.
            assert dropped >= 80 and decoded + dropped == 101, (dropped, decoded)
            assert flood.state == websockets.protocol.State.OPEN
            await flood.close()
            await other.close()
        asyncio.run(run())


def test_sigterm_mid_reply_lets_the_reply_play_out_then_closes_1001() -> None:
    import signal
    with Daemon() as d:
        async def run() -> None:
            workers = [await scripted_worker(d, "asr", asr_job), await scripted_worker(d, "assistant", assistant_job),
                       await scripted_worker(d, "tts", tts_job(1.0))]
            device = await connect_device(d)
            await device.send(hello(60))
            await next_json(device)
            await listen_and_speak(device)
            reply = asyncio.create_task(hear_reply(device))
            while not any(e.get("kind") == "turn.mark" and e.get("reason") == "first_audio_sent" for e in d.log):
                await asyncio.sleep(0.02)
            d.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.1)
            with pytest.raises(websockets.InvalidStatus) as refused:
                await connect_device(d, device_id="aa:bb:cc:dd:ee:0a")
            assert refused.value.response.status_code == 503
            messages, samples = await reply  # the reply is heard to its end
            assert samples >= 2 * 24000 * 0.95 and messages[-1]["state"] == "stop"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await asyncio.wait_for(device.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
            assert closed.value.rcvd.reason == "server shutting down"
            for ws, task in workers:
                task.cancel()
        asyncio.run(run())
        assert d.proc.wait(timeout=10) == 0
        assert turns_ended(d, 1) == ["done"]
