"""A device over the device protocol (docs/device-protocol.md): ``Device`` is one connection that
says hello, streams the microphone in real time as Opus frames and decodes the Opus reply;
``converse`` is one spoken turn with it: ``listen start`` (auto), the speech, then ``stt``,
``tts start``, ``sentence_start``, Opus audio and ``tts stop`` back."""

from __future__ import annotations

import asyncio
import contextlib
import json
import struct
import urllib.request
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import numpy as np
import websockets

from .opus import OpusDecoder, OpusEncoder
from .speaker import Speaker

MIC_RATE = 16000


@dataclass
class TurnResult:
    session_id: str = ""
    stt: str = ""
    sentences: list[str] = field(default_factory=list)
    reply_pcm: bytes = b""
    reply_rate: int = 24000
    frames: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)  # every JSON message, in order
    # Seconds after the user stopped speaking: stt, tts_start, first_sentence, first_audio, tts_stop.
    timings: dict[str, float] = field(default_factory=dict)
    complete: bool = False  # ended with `tts stop`

    @property
    def reply_seconds(self) -> float:
        return len(self.reply_pcm) / 2 / self.reply_rate


def ota_check(http: str, device_id: str, language: str = "", timeout: float = 5.0) -> dict[str, Any]:
    """The firmware's OTA check before it connects: its system info (with its ``language``, as
    XiaoZhi's `Lang::CODE`, e.g. "zh-CN") POSTed to ``http``/xiaozhi/ota/ under its Device-Id; the
    hub keeps the language for the device's sessions. Returns the hub's answer (websocket URL…)."""
    body = json.dumps({"language": language} if language else {}).encode()
    request = urllib.request.Request(http.rstrip("/") + "/xiaozhi/ota/", data=body, method="POST",
                                     headers={"Device-Id": device_id, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as answer:
        return dict(json.loads(answer.read()))


def speech_end_seconds(pcm: bytes, rate: int = MIC_RATE, threshold: int = 400) -> float:
    """Where the last sound in ``pcm`` ends (trailing silence excluded)."""
    samples = np.abs(np.frombuffer(pcm, dtype="<i2").astype(np.int32))
    loud = np.nonzero(samples > threshold)[0]
    return (int(loud[-1]) + 1) / rate if len(loud) else 0.0


def frame(version: int, payload: bytes, timestamp_ms: int = 0) -> bytes:
    if version == 1:
        return payload
    if version == 2:
        return struct.pack(">HHIII", 2, 0, 0, timestamp_ms & 0xFFFFFFFF, len(payload)) + payload
    if version == 3:
        return struct.pack(">BBH", 0, 0, len(payload)) + payload
    raise ValueError(f"protocol version {version}: 1, 2 or 3")


def unframe(version: int, data: bytes) -> bytes:
    if version == 1:
        return data
    if version == 2:
        return data[16:]
    return data[4:]


class Microphone:
    """A microphone that never stops, as a device's in realtime mode: one Opus frame every
    ``frame_ms`` in real time — the speech queued with ``say``, else silence — each frame sent once
    it has been captured (frame i leaves at its end). ``onsets`` holds, for each clip said, the loop
    time at which its first loud sample was captured. ``Device.speak`` is one clip on it."""

    def __init__(self, send: Callable[[bytes, int], Awaitable[None]], encode: Callable[[bytes], bytes], frame_ms: int,
                 rate: int = MIC_RATE) -> None:
        self.send = send  # (Opus frame, its timestamp in ms)
        self.encode = encode
        self.frame_ms = frame_ms
        self.rate = rate
        self.step = rate * frame_ms // 1000 * 2
        self.queue: list[bytes] = []
        self.onsets: list[float] = []

    def say(self, pcm: bytes) -> None:
        """Queues 16 kHz mono PCM16LE speech; it starts with the next frame the microphone captures."""
        self.queue.append(pcm)

    async def run(self, stop: asyncio.Event | None = None, max_frames: int | None = None,
                  after_frame: Callable[[int], Awaitable[bool]] | None = None) -> None:
        """Sends frames until cancelled, ``stop`` is set, ``max_frames`` went, or ``after_frame(frames
        sent)`` returns True."""
        loop = asyncio.get_running_loop()
        t = loop.time()
        pending = b""
        i = 0
        while not (stop is not None and stop.is_set()) and (max_frames is None or i < max_frames):
            if not pending and self.queue:
                pending = self.queue.pop(0)
                pending += b"\0" * (-len(pending) % self.step)
                loud = np.nonzero(np.abs(np.frombuffer(pending, "<i2").astype(np.int32)) > 400)[0]
                self.onsets.append(t + (int(loud[0]) / self.rate if len(loud) else 0.0))
            chunk, pending = (pending[:self.step], pending[self.step:]) if pending else (b"\0" * self.step, b"")
            t += self.frame_ms / 1000
            await asyncio.sleep(max(0.0, t - loop.time()))
            await self.send(self.encode(chunk), i * self.frame_ms)
            i += 1
            if after_frame is not None and await after_frame(i):
                return


class Device:
    """One device connection: ``open`` connects (the hello not yet sent), ``hello`` says hello and
    reads the server's; then ``listen``, ``speak`` (the microphone in real time), ``recv`` (a JSON
    message, or a reply frame decoded to PCM16 — a frame that does not decode raises ValueError),
    ``abort``, ``answer_mcp`` and ``close``."""

    def __init__(self, ws: Any, protocol_version: int, frame_ms: int) -> None:
        self.ws = ws
        self.version = protocol_version
        self.frame_ms = frame_ms
        self.session_id = ""
        self.reply_rate = 24000
        self.encoder = OpusEncoder(MIC_RATE, frame_ms)
        self.decoder: OpusDecoder | None = None

    @classmethod
    async def open(cls, url: str, *, token: str = "", device_id: str = "cli:00:00:00:00:01", client_id: str = "voicecore-talk",
                   protocol_version: int = 1, frame_ms: int = 60, timeout: float | None = None) -> Device:
        headers = {"Protocol-Version": str(protocol_version), "Device-Id": device_id, "Client-Id": client_id}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connect = websockets.connect(url.rstrip("/") + "/xiaozhi/v1/", additional_headers=headers, max_size=1 << 22,
                                     open_timeout=timeout)
        return cls(await asyncio.wait_for(connect, timeout), protocol_version, frame_ms)

    @property
    def frame_bytes(self) -> int:
        """PCM16 bytes of one microphone frame."""
        return self.encoder.frame_samples * 2

    async def send_hello(self) -> None:
        await self.ws.send(json.dumps({"type": "hello", "version": 1, "features": {"mcp": True}, "transport": "websocket",
                                       "audio_params": {"format": "opus", "sample_rate": MIC_RATE, "channels": 1,
                                                        "frame_duration": self.frame_ms}}))

    async def hello(self, timeout: float = 10.0, send: bool = True) -> None:
        """Sends the hello (unless ``send`` is false: it was sent) and reads the server's answer."""
        if send:
            await self.send_hello()
        answer = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if answer.get("type") != "hello":
            raise RuntimeError(f"the server answered hello with {answer}")
        self.session_id = str(answer.get("session_id", ""))
        self.reply_rate = int(answer.get("audio_params", {}).get("sample_rate", 24000))
        self.decoder = OpusDecoder(self.reply_rate)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps({"session_id": self.session_id, **message}))

    async def listen(self, mode: str = "auto") -> None:
        await self.send({"type": "listen", "state": "start", "mode": mode})

    async def abort(self, reason: str | None = None) -> None:
        await self.send({"type": "abort", **({"reason": reason} if reason else {})})

    async def speak(self, audio: bytes, stop: asyncio.Event, max_frames: int,
                    after_frame: Callable[[int], Awaitable[bool]] | None = None) -> None:
        """Streams ``audio`` (16 kHz mono PCM16LE), then silence, as Opus frames in real time — a
        device sends a frame once it has been captured: frame i leaves at its end — until ``stop`` is
        set, ``max_frames`` went, or ``after_frame(frames sent)`` returns True."""
        microphone = self.open_microphone()
        microphone.say(audio)
        await microphone.run(stop, max_frames, after_frame)

    def open_microphone(self) -> Microphone:
        """A microphone that never stops (``Microphone``), sending on this connection; run it as a task."""
        async def send(opus: bytes, timestamp_ms: int) -> None:
            await self.ws.send(frame(self.version, opus, timestamp_ms))
        return Microphone(send, self.encoder.encode, self.frame_ms)

    @contextlib.asynccontextmanager
    async def microphone(self, audio: bytes, stop: asyncio.Event, max_frames: int,
                         after_frame: Callable[[int], Awaitable[bool]] | None = None) -> AsyncIterator[None]:
        """``speak`` in the background while the ``async with`` body runs; stopped at its end."""
        task = asyncio.create_task(self.speak(audio, stop, max_frames, after_frame))
        try:
            yield
        finally:
            stop.set()
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def recv(self, timeout: float | None = None) -> bytes | dict[str, Any]:
        msg = await asyncio.wait_for(self.ws.recv(), timeout)
        if isinstance(msg, bytes):
            assert self.decoder is not None, "audio before the hello"
            return self.decoder.decode(unframe(self.version, msg))
        return dict(json.loads(msg))

    async def answer_mcp(self, request: Any) -> None:
        """Answers the hub's MCP requests as a board without device tools."""
        if not isinstance(request, dict) or request.get("id") is None or not isinstance(request.get("method"), str):
            return
        method = request["method"]
        if method == "initialize":
            answer: dict[str, Any] = {"result": {"protocolVersion": "2024-11-05", "capabilities": {"tools": {}},
                                                 "serverInfo": {"name": "voicecore-client", "version": "1"}}}
        elif method == "tools/list":
            answer = {"result": {"tools": []}}
        else:
            answer = {"error": {"code": -32601, "message": "Method not implemented: " + method}}
        await self.send({"type": "mcp", "payload": {"jsonrpc": "2.0", "id": request["id"], **answer}})

    async def close(self, hang_up: bool = False) -> None:
        """Closes with the WebSocket handshake, or (``hang_up``) drops the TCP connection without one."""
        if hang_up:
            self.ws.transport.abort()
        else:
            await asyncio.wait_for(self.ws.close(), 5)


# How long the microphone stays open after the speech, as a device's would.
MAX_LISTEN_S = 15.0


async def converse(url: str, pcm: bytes, token: str = "", device_id: str = "cli:00:00:00:00:01", protocol_version: int = 1,
                   frame_ms: int = 60, lead_silence: float = 0.3, max_listen: float = MAX_LISTEN_S, timeout: float = 60.0,
                   abort_after_first_audio: bool = False) -> TurnResult:
    """Speaks ``pcm`` (16 kHz mono PCM16LE) to the server at ``url`` (``ws://host:port``) and
    collects the reply until ``tts stop`` (or ``timeout``). The microphone keeps sending silence
    after the speech, as a device does, until the server answers or ``max_listen`` passes; a
    server that has heard no words by then (no ``stt``, 2 s later) ends the turn: the result has
    no transcript and is not complete."""
    result = TurnResult()
    loop = asyncio.get_running_loop()
    device = await Device.open(url, token=token, device_id=device_id, protocol_version=protocol_version, frame_ms=frame_ms)
    try:
        await device.hello()
        result.session_id, result.reply_rate = device.session_id, device.reply_rate
        await device.listen("auto")
        audio = b"\0\0" * int(lead_silence * MIC_RATE) + pcm
        speech_end = loop.time() + lead_silence + speech_end_seconds(pcm)
        answered = asyncio.Event()
        max_frames = int((lead_silence + speech_end_seconds(pcm) + max_listen) * 1000 / frame_ms) + 1
        max_frames = max(max_frames, -(-len(audio) // device.frame_bytes))
        speaker: Speaker[bytes] = Speaker(frame_ms / 1000)
        async with device.microphone(audio, answered, max_frames):
            deadline = loop.time() + timeout
            heard_by = loop.time() + max_frames * frame_ms / 1000 + 2.0  # the microphone's end, and the final's
            while True:
                limit = deadline if answered.is_set() else min(deadline, heard_by)
                try:
                    m = await device.recv(max(0.01, limit - loop.time()))
                except asyncio.TimeoutError:
                    if answered.is_set() or loop.time() < heard_by:
                        raise
                    break  # no words heard
                now = loop.time() - speech_end
                if isinstance(m, bytes):
                    if result.frames == 0:
                        result.timings["first_audio"] = now
                        if abort_after_first_audio:
                            await device.abort()
                    result.frames += 1
                    speaker.receive(loop.time(), m)
                    continue
                if m.get("type") == "mcp":
                    await device.answer_mcp(m.get("payload"))
                    continue
                result.messages.append(m)
                kind, state = m.get("type"), m.get("state")
                if kind == "tts" and m.get("pause"):
                    # A paused reply (speech over it) drops what the speaker holds; the hub sends
                    # those frames again if the reply resumes.
                    if state == "start":
                        speaker.drop(loop.time())
                    continue
                if kind == "stt":
                    result.stt = str(m.get("text", ""))
                    result.timings.setdefault("stt", now)
                    answered.set()
                elif kind == "tts" and state == "start":
                    result.timings.setdefault("tts_start", now)
                    answered.set()
                elif kind == "tts" and state == "sentence_start":
                    result.timings.setdefault("first_sentence", now)
                    result.sentences.append(str(m.get("text", "")))
                elif kind == "tts" and state == "stop":
                    result.timings["tts_stop"] = now
                    result.complete = True
                    break
        result.reply_pcm = b"".join(speaker.heard())
    finally:
        await device.close()
    return result
