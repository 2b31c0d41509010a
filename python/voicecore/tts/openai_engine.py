"""Any OpenAI-compatible ``/v1/audio/speech`` endpoint as a TTS engine (WAV requested, resampled)."""

from __future__ import annotations

from typing import AsyncIterator

import aiohttp

from ..audio import read_wav, resample
from .engine import SpeechRequest


class OpenAISpeechEngine:
    name = "openai-speech"

    def __init__(self, base_url: str, model: str = "tts-1", voice: str = "alloy", api_key: str = "", timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.voice = voice
        self.api_key = api_key
        self.timeout = timeout

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[bytes]:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "input": request.text, "voice": request.voice or self.voice, "response_format": "wav"}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            async with http.post(f"{self.base_url}/audio/speech", json=body, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"{self.base_url}/audio/speech answered HTTP {response.status}: {(await response.text())[:200]}")
                pcm = read_wav(await response.read())
        yield resample(pcm.samples, pcm.rate, request.sample_rate).astype("<i2").tobytes()
