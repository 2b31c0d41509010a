"""What a TTS engine is to the TTS worker: text in, PCM16 mono chunks at the asked rate out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import AsyncIterator, Protocol


@dataclass(frozen=True)
class SpeechRequest:
    text: str
    sample_rate: int = 24000
    language: str = "en"
    voice: str = ""


class TtsEngine(Protocol):
    name: str

    def synthesize(self, request: SpeechRequest) -> AsyncIterator[bytes]:
        """PCM16LE mono at ``request.sample_rate``, streamed as soon as it is made."""
        ...
