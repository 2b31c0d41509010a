"""One spoken turn over the device protocol (docs/device-protocol.md): hello, ``listen start``
(auto), the microphone streamed in real time as Opus frames, then ``stt``, ``tts start``,
``sentence_start``, Opus audio and ``tts stop`` back."""

from __future__ import annotations

import asyncio
import json
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import websockets

from .opus import OpusDecoder, OpusEncoder

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


async def converse(url: str, pcm: bytes, token: str = "", device_id: str = "cli:00:00:00:00:01", protocol_version: int = 1,
                   frame_ms: int = 60, lead_silence: float = 0.3, max_listen: float = 15.0, timeout: float = 60.0,
                   abort_after_first_audio: bool = False) -> TurnResult:
    """Speaks ``pcm`` (16 kHz mono PCM16LE) to the server at ``url`` (``ws://host:port``) and
    collects the reply until ``tts stop`` (or ``timeout``). The microphone keeps sending silence
    after the speech, as a device does, until the server answers or ``max_listen`` passes."""
    headers = {"Protocol-Version": str(protocol_version), "Device-Id": device_id, "Client-Id": "voicecore-talk"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    result = TurnResult()
    loop = asyncio.get_running_loop()
    async with websockets.connect(url.rstrip("/") + "/xiaozhi/v1/", additional_headers=headers, max_size=1 << 22) as ws:
        await ws.send(json.dumps({"type": "hello", "version": 1, "features": {"mcp": True}, "transport": "websocket",
                                  "audio_params": {"format": "opus", "sample_rate": MIC_RATE, "channels": 1, "frame_duration": frame_ms}}))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        if hello.get("type") != "hello":
            raise RuntimeError(f"the server answered hello with {hello}")
        result.session_id = str(hello.get("session_id", ""))
        result.reply_rate = int(hello.get("audio_params", {}).get("sample_rate", 24000))
        decoder = OpusDecoder(result.reply_rate)
        await ws.send(json.dumps({"session_id": result.session_id, "type": "listen", "state": "start", "mode": "auto"}))

        encoder = OpusEncoder(MIC_RATE, frame_ms)
        step = encoder.frame_samples * 2
        audio = b"\0\0" * int(lead_silence * MIC_RATE) + pcm
        audio += b"\0" * (-len(audio) % step)
        start = loop.time()
        speech_end = start + lead_silence + speech_end_seconds(pcm)
        answered = asyncio.Event()

        async def microphone() -> None:
            silence = b"\0" * step
            i = 0
            while not answered.is_set():
                chunk = audio[i * step:(i + 1) * step] if i * step < len(audio) else silence
                if i * step >= len(audio) and loop.time() - speech_end > max_listen:
                    return
                # A device sends a frame once it has been captured: frame i leaves at its end.
                await asyncio.sleep(max(0.0, start + (i + 1) * frame_ms / 1000 - loop.time()))
                await ws.send(frame(protocol_version, encoder.encode(chunk), i * frame_ms))
                i += 1

        mic = asyncio.create_task(microphone())
        reply = bytearray()
        try:
            deadline = loop.time() + timeout
            while True:
                msg = await asyncio.wait_for(ws.recv(), max(0.01, deadline - loop.time()))
                now = loop.time() - speech_end
                if isinstance(msg, bytes):
                    if result.frames == 0:
                        result.timings["first_audio"] = now
                        if abort_after_first_audio:
                            await ws.send(json.dumps({"session_id": result.session_id, "type": "abort"}))
                    result.frames += 1
                    reply += decoder.decode(unframe(protocol_version, msg))
                    continue
                m = json.loads(msg)
                if m.get("type") == "mcp":
                    await _answer_mcp(ws, result.session_id, m.get("payload"))
                    continue
                result.messages.append(m)
                kind, state = m.get("type"), m.get("state")
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
        finally:
            answered.set()
            mic.cancel()
            await asyncio.gather(mic, return_exceptions=True)
        result.reply_pcm = bytes(reply)
    return result


async def _answer_mcp(ws: Any, session_id: str, request: Any) -> None:
    """This client has no device tools: it answers the hub's MCP requests as a board without any."""
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
    await ws.send(json.dumps({"session_id": session_id, "type": "mcp", "payload": {"jsonrpc": "2.0", "id": request["id"], **answer}}))
