"""The instant ASR engine (``voicecore worker asr --engine instant``): no model, answers at once.

It ends an utterance by energy and silence and transcribes by pitch: a device that plays the tone
of question ``n`` (``question_tone(n)``: a sine at ``400 + 100 n`` Hz) is heard as
``"question n"``. Full-stack tests, chaos runs and soaks use it to drive the real daemon and the
real worker SDK with many turns per second whose transcripts are known in advance.
"""

from __future__ import annotations

import asyncio
import math

import numpy as np

from ..worker import Job, JobError, Worker

SAMPLE_RATE = 16000
BASE_HZ = 400.0
STEP_HZ = 100.0
QUESTIONS = 30  # question ids 0..29 (400..3300 Hz, below the 8 kHz Nyquist of 16 kHz audio)
LOUD_RMS = 500.0  # PCM16 RMS of a 20 ms block that counts as sound
BLOCK = SAMPLE_RATE // 50  # 20 ms


def question_tone(n: int, seconds: float = 0.4, rate: int = SAMPLE_RATE, amplitude: int = 8000) -> bytes:
    """PCM16LE mono: the tone the instant ASR engine hears as ``"question n"``."""
    if not 0 <= n < QUESTIONS:
        raise ValueError(f"question id {n}: 0..{QUESTIONS - 1}")
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * math.pi * (BASE_HZ + STEP_HZ * n) * t)).astype("<i2").tobytes()


def question_of(pcm: bytes, rate: int = SAMPLE_RATE) -> int | None:
    """The question id whose tone dominates ``pcm`` (PCM16LE mono), or None for silence."""
    x = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    if len(x) < rate // 50 or np.sqrt(np.mean(x * x)) < LOUD_RMS / 2:
        return None
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    peak_hz = float(np.argmax(spectrum[1:]) + 1) * rate / len(x)
    n = round((peak_hz - BASE_HZ) / STEP_HZ)
    return n if 0 <= n < QUESTIONS else None


def transcript(n: int | None) -> str:
    return "" if n is None else f"question {n}"


def instant_asr_handler(silence_ms: int = 300, max_seconds: float = 15.0):
    """One job = one utterance: ``speech_start`` at the first loud block, ``speech_end`` and ``final``
    after ``silence_ms`` of quiet (auto/realtime mode) or at the end of the audio (manual mode)."""

    async def recognize(job: Job) -> None:
        rate = job.params.get("sample_rate", SAMPLE_RATE)
        if rate != SAMPLE_RATE:
            raise JobError(f"asr sample_rate must be {SAMPLE_RATE}, got {rate!r}")
        manual = job.params.get("mode") == "manual"
        heard = bytearray()
        pending = bytearray()
        quiet = 0
        total = 0
        speaking = False
        async for pcm in job.audio():
            pending += pcm
            ended = False
            while len(pending) >= BLOCK * 2:
                block = bytes(pending[:BLOCK * 2])
                del pending[:BLOCK * 2]
                total += BLOCK
                x = np.frombuffer(block, dtype="<i2").astype(np.float64)
                loud = float(np.sqrt(np.mean(x * x))) >= LOUD_RMS
                if loud and not speaking:
                    speaking = True
                    await job.output("speech_start")
                if speaking:
                    quiet = 0 if loud else quiet + BLOCK
                    if loud:
                        heard += block
                    if not manual and quiet * 1000 >= silence_ms * SAMPLE_RATE:
                        ended = True
                        break
                if total >= max_seconds * SAMPLE_RATE:
                    ended = True
                    break
            if ended:
                break
            await asyncio.sleep(0)
        if speaking:
            await job.output("speech_end")
        await job.output("final", text=transcript(question_of(bytes(heard))))

    return recognize


def instant_asr_worker(slots: int = 2, name: str = "asr") -> Worker:
    worker = Worker(slots={"asr": slots}, name=name, models=["instant"])
    worker.handler("asr")(instant_asr_handler())
    return worker
