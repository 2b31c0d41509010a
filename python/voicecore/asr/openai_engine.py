"""Any OpenAI-compatible ``/v1/audio/transcriptions`` endpoint (FunASR, whisper.cpp server,
vLLM, hosted APIs) as an ASR engine."""

from __future__ import annotations

import aiohttp
import numpy as np

from ..audio import float_to_pcm16, write_wav
from ..languages import primary
from .engine import SAMPLE_RATE, Transcript


class OpenAITranscriptionEngine:
    name = "openai-transcriptions"

    def __init__(self, base_url: str, model: str = "whisper-1", api_key: str = "", timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    async def transcribe(self, audio: np.ndarray, language: str = "") -> Transcript:
        form = aiohttp.FormData()
        form.add_field("file", write_wav(float_to_pcm16(audio), SAMPLE_RATE), filename="audio.wav", content_type="audio/wav")
        form.add_field("model", self.model)
        form.add_field("response_format", "json")
        if language and language.lower() != "auto":  # auto: the server detects it
            form.add_field("language", primary(language))
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout)) as http:
            async with http.post(f"{self.base_url}/audio/transcriptions", data=form, headers=headers) as response:
                if response.status != 200:
                    raise RuntimeError(f"{self.base_url}/audio/transcriptions answered HTTP {response.status}: {(await response.text())[:200]}")
                body = await response.json()
        return Transcript(text=str(body.get("text", "")).strip(), language=str(body.get("language", language)))
