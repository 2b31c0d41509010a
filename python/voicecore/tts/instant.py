"""The instant TTS engine (``voicecore worker tts --engine instant``): no model, a short tone per
segment at once. Its pitch follows the text (``segment_hz``), so a listener can tell segments
apart; full-stack tests, chaos runs and soaks use it to drive the real daemon and worker SDK."""

from __future__ import annotations

import math
import zlib
from typing import AsyncIterator

import numpy as np

from .engine import SpeechRequest


def segment_hz(text: str) -> float:
    return 300.0 + zlib.crc32(text.encode()) % 16 * 50.0


class InstantEngine:
    name = "instant"

    def __init__(self, seconds: float = 0.18, amplitude: int = 6000) -> None:
        self.seconds = seconds
        self.amplitude = amplitude

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[bytes]:
        t = np.arange(int(self.seconds * request.sample_rate)) / request.sample_rate
        yield (self.amplitude * np.sin(2 * math.pi * segment_hz(request.text) * t)).astype("<i2").tobytes()
