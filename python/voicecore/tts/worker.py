"""The TTS worker: one job = one segment of a reply, streamed back as PCM16 frames."""

from __future__ import annotations

from contextlib import aclosing

from ..worker import Job, JobError, Worker
from .engine import SpeechRequest, TtsEngine

CHUNK_SECONDS = 0.12  # audio per binary frame: small enough to start playback early


def speech_request(params: dict) -> SpeechRequest:
    text = params.get("text")
    if not isinstance(text, str):
        raise JobError("tts job needs a string `text`")
    rate = params.get("sample_rate", 24000)
    if not isinstance(rate, int) or not 8000 <= rate <= 48000:
        raise JobError(f"tts sample_rate must be an integer in 8000..48000, got {rate!r}")
    return SpeechRequest(text=text, sample_rate=rate, language=str(params.get("language") or "en"), voice=str(params.get("voice") or ""))


def tts_handler(engine: TtsEngine):
    async def synthesize(job: Job) -> None:
        request = speech_request(job.params)
        chunk_bytes = int(request.sample_rate * CHUNK_SECONDS) * 2
        buffer = bytearray()
        if request.text.strip():
            # aclosing: a cancel that lands in send_audio (the engine suspended at its yield) closes
            # the engine's stream now (eSpeak killed and reaped), not whenever the garbage collector
            # gets to the cancelled task's frames.
            async with aclosing(engine.synthesize(request)) as stream:
                async for pcm in stream:
                    buffer += pcm
                    while len(buffer) > chunk_bytes:
                        await job.send_audio(bytes(buffer[:chunk_bytes]))
                        del buffer[:chunk_bytes]
        await job.send_audio(bytes(buffer), last=True)
        await job.output("segment_done")

    return synthesize


def tts_worker(engine: TtsEngine, slots: int = 2, name: str = "tts") -> Worker:
    # An engine that keeps processes for the next segment (EspeakEngine(prespawn=True)) ends them with the worker.
    worker = Worker(slots={"tts": slots}, name=name, models=[engine.name], on_stop=getattr(engine, "aclose", None))
    worker.handler("tts")(tts_handler(engine))
    return worker
