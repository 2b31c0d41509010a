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
    """An engine may also say how much audio before the speech's onset it wants (``lead_seconds``,
    read by the recognizer; 0.2 s when it does not)."""

    name: str

    async def transcribe(self, audio: np.ndarray, language: str = "") -> Transcript:
        """``audio``: mono float32 in [-1, 1] at 16 kHz."""
        ...
