"""What an ASR engine is to the ASR worker: 16 kHz float32 audio in, text out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Transcript:
    text: str
    language: str = ""


class AsrEngine(Protocol):
    name: str

    async def transcribe(self, audio: np.ndarray, language: str = "") -> Transcript:
        """``audio``: mono float32 in [-1, 1] at 16 kHz."""
        ...
