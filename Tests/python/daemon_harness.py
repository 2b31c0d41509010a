"""Helpers for the voicecored integration tests: start the real binary on a free port, speak the
real device protocol (XiaoZhi, with real Opus through libopus) and the real worker protocol.

Nothing here is a mock of the daemon: these are scripted peers that speak the wire protocols
documented in docs/device-protocol.md and docs/worker-protocol.md.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import json
import math
import os
import queue
import struct
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import websockets

ROOT = Path(__file__).resolve().parents[2]
WORKER_TOKEN = "worker-secret"


def daemon_binary() -> Path:
    env = os.environ.get("VOICECORED_BIN")
    path = Path(env) if env else ROOT / "build" / "Sources" / "voicecored" / "voicecored"
    if not path.is_file():
        raise RuntimeError(f"{path} not found: run `make build` first")
    return path


class Daemon:
    """The real voicecored on 127.0.0.1 and a free port; its JSON-lines log is collected."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, web_root: Path | None = None) -> None:
        argv = [str(daemon_binary()), "--host", "127.0.0.1", "--port", "0", "--worker-token", WORKER_TOKEN]
        if web_root is not None:
            argv += ["--web-root", str(web_root)]
        argv += list(args)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, text=True)
        self.lines: "queue.Queue[dict[str, Any]]" = queue.Queue()
        self.log: list[dict[str, Any]] = []
        self.stderr: list[str] = []
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, daemon=True).start()
        listening = self.wait_for("listening", timeout=10)
        self.port: int = listening["port"]
        self.coordinator = True  # every voicecored embeds the Coordinator (kept for the tests that assert it)

    def _read_stdout(self) -> None:
        assert self.proc.stdout
        for line in self.proc.stdout:
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                entry = {"event": "unparsable", "line": line}
            self.log.append(entry)
            self.lines.put(entry)

    def _read_stderr(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            self.stderr.append(line)

    def wait_for(self, event: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no {event!r} in the daemon log; stderr: {''.join(self.stderr)[-2000:]}")
            try:
                entry = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if entry.get("event") == event:
                return entry

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        code = self.stop()
        if exc_type is None:
            self.check_clean_exit(code)

    def check_clean_exit(self, code: int) -> None:
        """A drained daemon exits 0; under ASan/UBSan its stderr holds no report."""
        time.sleep(0.05)  # let the stderr reader finish
        text = "".join(self.stderr)
        assert "AddressSanitizer" not in text and "runtime error:" not in text and "LeakSanitizer" not in text, text[-4000:]
        assert code == 0, f"voicecored exited with {code}: {text[-2000:]}"


# --- Opus through libopus (ctypes) --------------------------------------------------------------

_opus = ctypes.CDLL(ctypes.util.find_library("opus") or "libopus.so.0")
_opus.opus_encoder_create.restype = ctypes.c_void_p
_opus.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
_opus.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int32]
_opus.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
_opus.opus_decoder_create.restype = ctypes.c_void_p
_opus.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
_opus.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
_opus.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
OPUS_APPLICATION_VOIP = 2048


class OpusEncoder:
    def __init__(self, rate: int = 16000, frame_ms: int = 60) -> None:
        err = ctypes.c_int()
        self._enc = _opus.opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err))
        assert err.value == 0
        self.frame_samples = rate * frame_ms // 1000

    def encode(self, pcm: bytes) -> bytes:
        assert len(pcm) == self.frame_samples * 2
        out = ctypes.create_string_buffer(4000)
        n = _opus.opus_encode(self._enc, pcm, self.frame_samples, out, 4000)
        assert n > 0, n
        return out.raw[:n]

    def __del__(self) -> None:
        _opus.opus_encoder_destroy(self._enc)


class OpusDecoder:
    def __init__(self, rate: int = 24000) -> None:
        err = ctypes.c_int()
        self._dec = _opus.opus_decoder_create(rate, 1, ctypes.byref(err))
        assert err.value == 0
        self.rate = rate

    def decode(self, packet: bytes) -> bytes:
        """PCM16LE of one packet; raises ValueError when libopus rejects it."""
        out = ctypes.create_string_buffer(self.rate * 120 // 1000 * 2)
        n = _opus.opus_decode(self._dec, packet, len(packet), out, self.rate * 120 // 1000, 0)
        if n < 0:
            raise ValueError(f"opus_decode: {n}")
        return out.raw[: n * 2]

    def __del__(self) -> None:
        _opus.opus_decoder_destroy(self._dec)


def tone(samples: int, rate: int, freq: float = 440.0, amplitude: int = 8000) -> bytes:
    return b"".join(struct.pack("<h", int(amplitude * math.sin(2 * math.pi * freq * i / rate))) for i in range(samples))


# --- The device side -----------------------------------------------------------------------------


def frame(version: int, payload: bytes, timestamp: int = 0) -> bytes:
    """A device binary frame in protocol `version` (see docs/device-protocol.md)."""
    if version == 1:
        return payload
    if version == 2:
        return struct.pack(">HHIII", 2, 0, 0, timestamp, len(payload)) + payload
    if version == 3:
        return struct.pack(">BBH", 0, 0, len(payload)) + payload
    raise ValueError(version)


def unframe(version: int, data: bytes) -> bytes:
    if version == 1:
        return data
    if version == 2:
        ver, typ, _, _, size = struct.unpack(">HHIII", data[:16])
        assert ver == 2 and typ == 0 and size == len(data) - 16
        return data[16:]
    typ, _, size = struct.unpack(">BBH", data[:4])
    assert typ == 0 and size == len(data) - 4
    return data[4:]


def hello(frame_ms: int = 60, mcp: bool = False) -> str:
    """The device hello; `mcp` announces `features.mcp` (the daemon then sends `initialize` and
    `tools/list`, which only the MCP tests answer)."""
    return json.dumps({
        "type": "hello", "version": 1, "features": {"mcp": mcp}, "transport": "websocket",
        "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": frame_ms},
    })


async def connect_device(daemon: Daemon, version: int = 1, token: str | None = None, device_id: str = "aa:bb:cc:dd:ee:01",
                         query: str = "") -> Any:
    headers = {"Protocol-Version": str(version), "Device-Id": device_id, "Client-Id": "c0ffee00-0000-4000-8000-000000000001"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return await websockets.connect(f"{daemon.ws}/xiaozhi/v1/{query}", additional_headers=headers, max_size=2**22)


async def speaking_device(daemon: Daemon, mode: str = "auto", frames: int = 5) -> Any:
    """A device that said hello, started listening in ``mode`` and sent ``frames`` 60 ms Opus
    frames of a tone (the Coordinator's utterance and its ASR job exist then)."""
    device = await connect_device(daemon)
    await device.send(hello(60))
    server_hello = await next_json(device)
    await device.send(json.dumps({"session_id": server_hello.get("session_id", ""), "type": "listen", "state": "start", "mode": mode}))
    enc = OpusEncoder(16000, 60)
    for _ in range(frames):
        await device.send(frame(1, enc.encode(tone(enc.frame_samples, 16000, 300))))
    return device


async def connect_worker(daemon: Daemon, token: str = WORKER_TOKEN) -> Any:
    return await websockets.connect(f"{daemon.ws}/worker", additional_headers={"Authorization": f"Bearer {token}"})


async def next_json(ws: Any, timeout: float = 5.0, skip_binary: bool = True) -> dict[str, Any]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        msg = await asyncio.wait_for(ws.recv(), max(0.01, deadline - asyncio.get_running_loop().time()))
        if isinstance(msg, str):
            return json.loads(msg)
        if not skip_binary:
            raise AssertionError("binary frame where JSON was expected")


def worker_frame(job: int, pcm: bytes, last: bool = False) -> bytes:
    return struct.pack(">BBHQ", 1, 1, 1 if last else 0, job) + pcm


def parse_worker_frame(data: bytes) -> tuple[int, bool, bytes]:
    version, typ, flags, job = struct.unpack(">BBHQ", data[:12])
    assert version == 1 and typ == 1
    return job, bool(flags & 1), data[12:]
