"""The worker protocol's binary frame: a 12-byte job header, then PCM16LE mono audio.

| byte | field |
|---|---|
| 0 | version = 1 |
| 1 | type: 1 = PCM16LE mono audio |
| 2-3 | flags, big-endian; bit 0 = last chunk of this job's audio |
| 4-11 | job id, unsigned 64-bit big-endian |
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = struct.Struct(">BBHQ")
HEADER_SIZE = HEADER.size  # 12
VERSION = 1
TYPE_PCM16 = 1
FLAG_LAST = 0x0001


class FrameError(ValueError):
    """A binary frame that does not follow the worker protocol."""


@dataclass(frozen=True)
class AudioFrame:
    job: int
    pcm: bytes
    last: bool = False


def encode(job: int, pcm: bytes, last: bool = False) -> bytes:
    if not 0 <= job < 1 << 64:
        raise FrameError(f"job id {job} does not fit in 64 bits")
    if len(pcm) % 2:
        raise FrameError("PCM16 payload has an odd number of bytes")
    return HEADER.pack(VERSION, TYPE_PCM16, FLAG_LAST if last else 0, job) + pcm


def decode(frame: bytes) -> AudioFrame:
    if len(frame) < HEADER_SIZE:
        raise FrameError(f"binary frame of {len(frame)} bytes is shorter than the 12-byte header")
    version, kind, flags, job = HEADER.unpack_from(frame)
    if version != VERSION:
        raise FrameError(f"binary frame version {version}, expected {VERSION}")
    if kind != TYPE_PCM16:
        raise FrameError(f"binary frame type {kind} is not PCM16 audio (1)")
    payload = bytes(frame[HEADER_SIZE:])
    if len(payload) % 2:
        raise FrameError("PCM16 payload has an odd number of bytes")
    return AudioFrame(job=job, pcm=payload, last=bool(flags & FLAG_LAST))
