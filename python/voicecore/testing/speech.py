"""Spoken test input: eSpeak NG's speech as 16 kHz PCM16, and silence to put around it."""

from __future__ import annotations

import asyncio
import concurrent.futures

import numpy as np

from ..audio import pcm16_to_float
from ..tts.engine import SpeechRequest
from ..tts.espeak import EspeakEngine
from ..tts.japanese import JapaneseReading

# One analyser for every call (its dictionary loads once per process).
_JAPANESE = JapaneseReading()

# Acknowledgements that eSpeak does not know and spells letter by letter ("mhm" → "Em Ha Em",
# "mm-hmm" → "Em Em-hum"): a listener hums them, [m̩ˈhm̩], which eSpeak says from its phonemes.
HUMS = {"mhm": "[[m-'hm-]]", "mm-hmm": "[[m-'hm-]]"}


def speak(text: str, sample_rate: int = 16000, trim: bool = False, language: str = "en", speed_wpm: int = 175) -> bytes:
    """eSpeak's speech of ``text`` as PCM16LE (the TTS worker's engine: Japanese from its reading;
    a hum for ``HUMS``); ``trim`` cuts its trailing silence (~0.3 s) so that a pause placed after it
    is the pause a listener hears. Callable from inside a running loop too."""
    text = HUMS.get(text, text)

    async def main() -> bytes:
        engine = EspeakEngine(speed_wpm=speed_wpm, japanese=_JAPANESE)
        return b"".join([c async for c in engine.synthesize(SpeechRequest(text, sample_rate=sample_rate, language=language))])

    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pcm = pool.submit(asyncio.run, main()).result()
    if trim:
        loud = np.nonzero(np.abs(pcm16_to_float(pcm)) > 0.01)[0]
        pcm = pcm[: 2 * (int(loud[-1]) + 1)]
    return pcm


def silence(seconds: float, sample_rate: int = 16000) -> bytes:
    return b"\0\0" * int(sample_rate * seconds)
