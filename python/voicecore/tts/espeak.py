"""eSpeak NG (Debian ``espeak-ng``): many languages, offline, fast; streamed and resampled."""

from __future__ import annotations

import asyncio
import shutil
from typing import AsyncIterator

import numpy as np

from ..audio import parse_wav_header
from .engine import SpeechRequest

# Language tags a device sends → eSpeak NG voice names.
VOICES = {"en": "en-us", "zh": "cmn", "zh-cn": "cmn", "ja": "ja", "ru": "ru", "de": "de", "fr": "fr", "es": "es"}


def voice_for(language: str, voice: str = "") -> str:
    if voice:
        return voice
    tag = (language or "en").lower().replace("_", "-")
    return VOICES.get(tag) or VOICES.get(tag.split("-")[0]) or tag


class EspeakEngine:
    name = "espeak-ng"

    def __init__(self, binary: str = "espeak-ng", speed_wpm: int = 175, read_size: int = 4096) -> None:
        path = shutil.which(binary)
        if path is None:
            raise RuntimeError(f"{binary} not found: install the Debian package espeak-ng")
        self.binary = path
        self.speed_wpm = speed_wpm
        self.read_size = read_size

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[bytes]:
        import soxr

        proc = await asyncio.create_subprocess_exec(
            self.binary, "--stdout", "-b", "1", "-s", str(self.speed_wpm), "-v", voice_for(request.language, request.voice),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        assert proc.stdin and proc.stdout and proc.stderr
        try:
            proc.stdin.write(request.text.replace("\n", " ").encode() + b"\n")
            proc.stdin.close()
            head = b""
            layout = None
            while layout is None:
                more = await proc.stdout.read(self.read_size)
                if not more:
                    err = (await proc.stderr.read()).decode(errors="replace").strip()
                    raise RuntimeError(f"espeak-ng produced no audio: {err or 'empty output'}")
                head += more
                layout = parse_wav_header(head)
            rate, channels, offset = layout
            if channels != 1:
                raise RuntimeError(f"espeak-ng produced {channels} channels")
            stream = soxr.ResampleStream(rate, request.sample_rate, 1, dtype="int16", quality="HQ") if rate != request.sample_rate else None
            pending = head[offset:]
            while True:
                more = await proc.stdout.read(self.read_size)
                pending += more
                usable = len(pending) - len(pending) % 2
                last = not more
                samples = np.frombuffer(pending[:usable], dtype="<i2")
                pending = pending[usable:]
                if stream is not None:
                    samples = stream.resample_chunk(samples, last=last)
                if len(samples):
                    yield samples.astype("<i2").tobytes()
                if last:
                    break
            code = await proc.wait()
            if code != 0:
                raise RuntimeError(f"espeak-ng exited with status {code}")
        finally:
            if proc.returncode is None:
                proc.kill()
                # Not proc.wait(): since CPython 3.11.7 it returns only once the pipes are closed,
                # and a stdout pipe paused by flow control (we stopped reading a fast eSpeak)
                # never sees its EOF. communicate() drains both pipes, then waits.
                await proc.communicate()
