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
    """An engine may also have ``languages``: the language tags its model hears (``("en",)`` for an
    English-only Whisper); absent or empty, every language. The worker registers them, and the hub
    places each utterance on a worker that hears its session's language."""

    name: str

    async def transcribe(self, audio: np.ndarray, language: str = "") -> Transcript:
        """``audio``: mono float32 in [-1, 1] at 16 kHz."""
        ...
