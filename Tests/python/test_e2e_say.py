"""Speaking first, end to end: the real voicecored (with --admin-token), real worker processes
(instant ASR, eSpeak NG TTS, an assistant worker running Examples/python/reminders.py) and device
clients speaking the XiaoZhi protocol over WebSocket with real Opus. An operator's `say` is heard
(audio frames arrive), a say while the user speaks waits for the user's turn and its reply, a
reminder set by the business logic is spoken at its time (and not over the user), and a say whose
device leaves first is dropped with an event."""

from __future__ import annotations

import asyncio
import http.client
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import websockets

from voicecore.asr.instant import question_tone
from voicecore.client.device import frame, unframe
from voicecore.client.opus import OpusDecoder, OpusEncoder
from voicecore.testing.fullstack import Stack
from voicecore.testing.invariants import LogChecker

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "e2e-admin-token"
REMINDERS = ROOT / "Examples" / "python" / "reminders.py"
FRAME_MS = 60
STEP = 16000 * FRAME_MS // 1000  # samples of one uplink frame


def api(stack: Stack, method: str, path: str, body: Any = None, token: str | None = ADMIN) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection("127.0.0.1", stack.port, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    conn.request(method, path, body=json.dumps(body).encode() if body is not None else None, headers=headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data else {}


class RecordingChecker(LogChecker):
    """The stack's invariant checker, keeping every core log entry it sees for the assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[dict[str, Any]] = []

    def observe(self, entry: dict[str, Any]) -> None:
        self.seen.append(entry)
        super().observe(entry)


def core_log(stack: Stack) -> list[dict[str, Any]]:
    with stack._lock:
        return list(stack.checker.seen)  # type: ignore[attr-defined]


async def wait_log(stack: Stack, pred: Any, timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for e in core_log(stack):
            if pred(e):
                return e
        await asyncio.sleep(0.05)
    raise AssertionError(f"no such log entry within {timeout} s; tail: {core_log(stack)[-15:]}")


class Device:
    """A XiaoZhi device (protocol 1, Opus): records every message with its arrival time."""

    def __init__(self, ws: Any, device_id: str) -> None:
        self.ws = ws
        self.device_id = device_id
        self.session = ""
        self.events: list[tuple[float, str, Any]] = []  # (monotonic time, "json"|"audio", message|PCM bytes)
        self.decoder = OpusDecoder()
        self.encoder = OpusEncoder(16000, FRAME_MS)
        self.reader: asyncio.Task[None] | None = None
        self.sent_frames = 0

    @classmethod
    async def connect(cls, stack: Stack, device_id: str, mode: str = "auto") -> "Device":
        ws = await websockets.connect(f"{stack.ws_url}/xiaozhi/v1/", additional_headers={
            "Protocol-Version": "1", "Device-Id": device_id, "Client-Id": "c0ffee00-0000-4000-8000-0000000000aa"})
        d = cls(ws, device_id)
        await ws.send(json.dumps({"type": "hello", "version": 1, "transport": "websocket", "features": {"mcp": False},
                                  "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": FRAME_MS}}))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert hello["type"] == "hello"
        d.session = hello["session_id"]
        d.reader = asyncio.create_task(d._read())
        await d.send({"type": "listen", "state": "start", "mode": mode})
        return d

    async def _read(self) -> None:
        try:
            async for msg in self.ws:
                now = time.monotonic()
                if isinstance(msg, bytes):
                    self.events.append((now, "audio", self.decoder.decode(unframe(1, msg))))
                else:
                    self.events.append((now, "json", json.loads(msg)))
        except websockets.ConnectionClosed:
            pass

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"session_id": self.session, **message}))

    async def speak(self, pcm: bytes) -> None:
        """Streams PCM16 16 kHz in real time, one Opus frame per 60 ms."""
        pcm += b"\0" * (-len(pcm) % (STEP * 2))
        t0 = time.monotonic()
        for i in range(len(pcm) // (STEP * 2)):
            await asyncio.sleep(max(0.0, t0 + i * FRAME_MS / 1000 - time.monotonic()))
            await self.ws.send(frame(1, self.encoder.encode(pcm[i * STEP * 2:(i + 1) * STEP * 2]), self.sent_frames * FRAME_MS))
            self.sent_frames += 1

    def messages(self, kind: str | None = None, state: str | None = None) -> list[tuple[float, dict[str, Any]]]:
        return [(t, m) for t, k, m in self.events if k == "json" and (kind is None or m.get("type") == kind)
                and (state is None or m.get("state") == state)]

    def sentence_at(self, text: str) -> float | None:
        return next((t for t, m in self.messages("tts", "sentence_start") if text in str(m.get("text", ""))), None)

    async def wait_sentence(self, text: str, timeout: float = 20.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            at = self.sentence_at(text)
            if at is not None:
                return at
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.device_id}: no sentence {text!r} within {timeout} s: {self.messages()}")

    async def wait_stops(self, count: int, timeout: float = 20.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stops = self.messages("tts", "stop")
            if len(stops) >= count:
                return stops[count - 1][0]
            await asyncio.sleep(0.02)
        raise AssertionError(f"{self.device_id}: {len(self.messages('tts', 'stop'))} tts stop, not {count}: {self.messages()}")

    def audio_between(self, start: float, end: float) -> int:
        """PCM bytes of the downlink frames that arrived between two times."""
        return sum(len(p) for t, k, p in self.events if k == "audio" and start <= t <= end)

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await asyncio.gather(self.reader, return_exceptions=True)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tts_engine = "default" if shutil.which("espeak-ng") else "instant"
    s = Stack(tmp_path_factory.mktemp("say"), workers={"asr": (1, 2)}, daemon_args=["--admin-token", ADMIN])
    s.checker = RecordingChecker()
    loop = asyncio.new_event_loop()
    loop.run_until_complete(s.start())
    s.start_worker("tts", 2, "tts-1", engine=tts_engine)
    s.start_worker("assistant", 2, "reminders", engine="default", extra=["--script", str(REMINDERS)])
    loop.run_until_complete(s.wait_registered(3, timeout=90))
    yield s
    loop.run_until_complete(s.stop())
    loop.close()
    assert s.check() == [], s.check()


def test_the_api_answers_for_the_devices_of_a_real_stack(stack: Stack) -> None:
    async def run() -> None:
        assert api(stack, "POST", "/api/v1/devices/ghost/say", {"text": "hello"})[0] == 404
        d = await Device.connect(stack, "api-check")
        assert api(stack, "POST", "/api/v1/devices/api-check/say", {"text": "  "}) == (400, {"error": "text is empty"})
        assert api(stack, "POST", "/api/v1/devices/api-check/say", {"text": "x" * 1001})[0] == 400
        assert api(stack, "POST", "/api/v1/devices/api-check/say", {"text": "hi"}, token=None)[0] == 401
        assert api(stack, "POST", "/api/v1/devices/api-check/say", {"text": "hi"}, token="wrong")[0] == 403
        status, body = api(stack, "GET", "/api/v1/devices/api-check")
        assert status == 200 and body["session"] == d.session and body["state"] == "listening"
        await d.close()

    asyncio.run(run())


def test_a_say_is_heard_by_the_device(stack: Stack) -> None:
    async def run() -> None:
        d = await Device.connect(stack, "kitchen")
        await asyncio.sleep(0.2)
        t0 = time.monotonic()
        status, body = await asyncio.to_thread(api, stack, "POST", "/api/v1/devices/kitchen/say",
                                               {"text": "Dinner is ready. Please come to the kitchen."})
        assert status == 202, body
        assert body["status"] == "speaking" and body["session"] == d.session
        start = await d.wait_sentence("Dinner is ready.")
        stop = await d.wait_stops(1)
        starts = d.messages("tts", "start")
        assert len(starts) == 1 and t0 <= starts[0][0] <= start
        assert d.sentence_at("Please come to the kitchen.") is not None
        pcm = d.audio_between(t0, stop)
        assert pcm > 24000 * 2 * 0.5, f"only {pcm} bytes of audio"  # more than half a second of speech
        say = body["say"]
        await wait_log(stack, lambda e: e.get("kind") == "say.done" and e.get("value") == say and e.get("session") == d.session)
        # As the firmware does in auto mode after `tts stop`, the device listens again.
        await d.send({"type": "listen", "state": "start", "mode": "auto"})
        done = await wait_log(stack, lambda e: e.get("kind") == "say.done" and e.get("session") == d.session)
        await wait_log(stack, lambda e: e.get("kind") == "session.state" and e.get("session") == d.session
                       and e.get("to") == "listening" and e["seq"] > done["seq"])
        await d.close()

    asyncio.run(run())


def test_a_say_while_the_user_speaks_waits_for_the_turn_and_its_reply(stack: Stack) -> None:
    async def run() -> None:
        d = await Device.connect(stack, "living-room")
        speaking = asyncio.create_task(d.speak(b"\0" * STEP * 2 + question_tone(3, 2.0)))
        await wait_log(stack, lambda e: e.get("kind") == "turn.mark" and e.get("reason") == "speech_start" and e.get("session") == d.session)
        status, body = await asyncio.to_thread(api, stack, "POST", "/api/v1/devices/living-room/say", {"text": "Your timer is done."})
        assert status == 202 and body["status"] == "queued", body
        queued_at = time.monotonic()
        await speaking
        await d.speak(b"\0" * 16000)  # a second of silence ends the utterance
        said = await d.wait_sentence("Your timer is done.", timeout=30)
        stt = d.messages("stt")
        assert stt and stt[0][1]["text"] == "question 3"
        # Order on the device: the transcript, the reply (the script's answer), its tts stop, then the say.
        reply_start = d.messages("tts", "start")[0][0]
        first_stop = d.messages("tts", "stop")[0][0]
        assert queued_at < stt[0][0] < reply_start < first_stop <= said, d.messages()
        assert d.sentence_at("remind me") is not None  # the reply to "question 3" came first
        assert len(d.messages("tts", "start")) == 2
        # Nothing of the say was sent while the user spoke.
        log = core_log(stack)
        started = next(e for e in log if e.get("kind") == "say.started" and e.get("session") == d.session)
        ended = next(e for e in log if e.get("kind") == "turn.ended" and e.get("session") == d.session and e.get("turn") == stt_turn(log, d))
        assert started["seq"] > ended["seq"]
        await d.wait_stops(2)
        await d.close()

    asyncio.run(run())


def stt_turn(log: list[dict[str, Any]], d: Device) -> int:
    return next(e["turn"] for e in log if e.get("kind") == "turn.transcript" and e.get("session") == d.session)


def test_a_reminder_set_by_the_business_logic_is_spoken_at_its_time(stack: Stack) -> None:
    async def run() -> None:
        d = await Device.connect(stack, "bedroom")
        t0 = time.monotonic()
        # Typed text (the firmware's `listen detect` with text) reaches the reminders script.
        await d.send({"type": "listen", "state": "detect", "text": "remind me in 3 seconds to drink water"})
        await d.wait_sentence("I will remind you to drink water")
        said = await d.wait_sentence("Reminder: drink water.", timeout=20)
        assert 3.0 <= said - t0 <= 3.0 + 6.0, f"spoken {said - t0:.2f} s after it was set"
        log = core_log(stack)
        queued = next(e for e in log if e.get("kind") == "say.queued" and e.get("session") == d.session)
        assert queued["reason"] == "worker" and queued["text"] == "Reminder: drink water."
        await d.wait_stops(2)
        assert d.audio_between(said, time.monotonic()) > 0
        await d.close()

    asyncio.run(run())


def test_a_reminder_due_while_the_user_speaks_waits_for_the_user(stack: Stack) -> None:
    async def run() -> None:
        d = await Device.connect(stack, "study")
        t_set = time.monotonic()
        await d.send({"type": "listen", "state": "detect", "text": "remind me in 8 seconds to call Ana"})
        await d.wait_sentence("I will remind you to call Ana")
        await d.wait_stops(1)
        assert time.monotonic() - t_set < 7, "the reply took too long for the test's timing"
        await d.send({"type": "listen", "state": "start", "mode": "auto"})
        # The user talks from now until well past the reminder's time.
        await d.speak(b"\0" * STEP * 2 + question_tone(5, t_set + 8 + 1.5 - time.monotonic()))
        t_end = time.monotonic()
        await d.speak(b"\0" * 16000)
        said = await d.wait_sentence("Reminder: call Ana.", timeout=30)
        assert said > t_end, "the reminder was spoken while the user was speaking"
        log = [e for e in core_log(stack) if e.get("session") == d.session]
        speech = next(e for e in log if e.get("kind") == "turn.mark" and e.get("reason") == "speech_start")
        queued = next(e for e in log if e.get("kind") == "say.queued")
        transcript = next(e for e in log if e.get("kind") == "turn.transcript")
        started = next(e for e in log if e.get("kind") == "say.started")
        # Due while the user spoke: queued then, started only once the user's turn had its transcript
        # (and its reply, which the script gives, had played).
        assert speech["seq"] < queued["seq"] < transcript["seq"] < started["seq"]
        assert transcript["text"] == "question 5"
        replies = [t for t, m in d.messages("tts", "sentence_start") if "remind me" in str(m.get("text", "")).lower()]
        assert replies and replies[-1] < said
        await d.close()

    asyncio.run(run())


def test_a_say_to_a_device_that_leaves_before_its_turn_is_dropped(stack: Stack) -> None:
    async def run() -> None:
        d = await Device.connect(stack, "hallway")
        speaking = asyncio.create_task(d.speak(b"\0" * STEP * 2 + question_tone(7, 1.5)))
        await wait_log(stack, lambda e: e.get("kind") == "turn.mark" and e.get("reason") == "speech_start" and e.get("session") == d.session)
        status, body = await asyncio.to_thread(api, stack, "POST", "/api/v1/devices/hallway/say", {"text": "Goodbye."})
        assert status == 202 and body["status"] == "queued"
        speaking.cancel()
        await asyncio.gather(speaking, return_exceptions=True)
        await d.close()
        dropped = await wait_log(stack, lambda e: e.get("kind") == "say.dropped" and e.get("session") == d.session)
        assert dropped["reason"] == "device-left" and dropped["value"] == body["say"]
        assert not any(e.get("kind") == "say.started" and e.get("session") == d.session for e in core_log(stack))
        assert api(stack, "POST", "/api/v1/devices/hallway/say", {"text": "Goodbye."})[0] == 404

    asyncio.run(run())


def test_an_instruction_is_phrased_by_the_devices_assistant(stack: Stack) -> None:
    """`{"instruction": ...}`: an assistant job (params `instruction: true`) on the real assistant
    worker, whose @app.on_instruction handler (Examples/python/reminders.py; without an LLM it
    speaks the instruction itself) gives the words the device hears."""
    async def run() -> None:
        d = await Device.connect(stack, "laundry-room")
        status, body = await asyncio.to_thread(api, stack, "POST", "/api/v1/devices/laundry-room/say",
                                               {"instruction": "The laundry is done."})
        assert status == 202 and body["status"] == "speaking", body
        said = await d.wait_sentence("The laundry is done.")
        await d.wait_stops(1)
        assert d.audio_between(said, time.monotonic()) > 0
        log = [e for e in core_log(stack) if e.get("session") == d.session]
        started = next(e for e in log if e.get("kind") == "say.started")
        assert started["to"] == "instruction"
        assistant = [e for e in log if e.get("kind") == "job.done" and e.get("job_kind") == "assistant" and e.get("turn") == started["turn"]]
        assert assistant, "no assistant job phrased the instruction"
        await d.close()

    asyncio.run(run())
