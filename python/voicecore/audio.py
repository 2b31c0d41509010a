"""PCM helpers shared by the workers: WAV parsing and writing, sample formats, resampling (soxr)."""

from __future__ import annotations

import io
import struct
import wave
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Pcm:
    """Mono PCM16 samples at ``rate`` Hz."""

    samples: np.ndarray  # int16
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def to_bytes(self) -> bytes:
        return self.samples.astype("<i2").tobytes()


def pcm16_to_float(pcm: bytes) -> np.ndarray:
    return np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768.0


def float_to_pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Band-limited resampling with soxr (high quality); int16 in, int16 out."""
    if rate_in == rate_out or len(samples) == 0:
        return samples.astype(np.int16)
    import soxr

    return soxr.resample(samples.astype(np.int16), rate_in, rate_out, quality="HQ")


def read_wav(data: bytes) -> Pcm:
    """A PCM16 WAV (any rate, mono or stereo, stereo mixed down) as mono ``Pcm``."""
    with wave.open(io.BytesIO(data)) as w:
        if w.getsampwidth() != 2:
            raise ValueError(f"WAV sample width {w.getsampwidth() * 8} bits; only 16-bit PCM is supported")
        channels = w.getnchannels()
        frames = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
        rate = w.getframerate()
    if channels > 1:
        frames = frames.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return Pcm(frames.astype(np.int16), rate)


def write_wav(pcm: bytes, rate: int) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def parse_wav_header(head: bytes) -> tuple[int, int, int] | None:
    """(sample rate, channels, offset of the sample data) from the start of a streamed WAV, or
    None when more bytes are needed. Streamed WAVs (espeak-ng --stdout) carry bogus sizes, so
    only the chunk layout is trusted."""
    if len(head) < 12:
        return None
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise ValueError("not a RIFF/WAVE stream")
    pos, rate, channels = 12, 0, 0
    while True:
        if len(head) < pos + 8:
            return None
        chunk, size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        if chunk == b"data":
            if not rate:
                raise ValueError("WAV data before its fmt chunk")
            return rate, channels, pos + 8
        if chunk == b"fmt ":
            if len(head) < pos + 8 + 16:
                return None
            fmt, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", head, pos + 8)
            if fmt != 1 or bits != 16:
                raise ValueError(f"WAV format {fmt}/{bits} bits; only 16-bit PCM is supported")
        pos += 8 + size + (size & 1)
