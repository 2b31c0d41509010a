"""Runs the streaming recognizer over PCM as a fast engine would see it, for the ASR tests."""

from __future__ import annotations

from voicecore.asr.recognizer import RecognizerConfig, StreamingRecognizer

CHUNK = 960 * 2  # 60 ms of PCM16 at 16 kHz


async def recognize(engine, pcm: bytes, config: RecognizerConfig, language: str = "en", **options) -> tuple[list[tuple[str, dict]], StreamingRecognizer, float]:
    """Feeds ``pcm`` in 60 ms chunks and lets every speculative transcription (and turn-model call)
    finish before the next chunk (a fast engine): the early rule gets every chance it could ever
    get. Returns the events, the recognizer and the silence (ms) the endpointer had heard when
    ``speech_end`` went out. ``options``: StreamingRecognizer's (endpointing, turn_model)."""
    events: list[tuple[str, dict]] = []
    heard: list[float] = []
    recognizer: StreamingRecognizer

    async def emit(event: str, **fields) -> None:
        if event == "speech_end":
            heard.append(recognizer.endpointer.silent_ms)
        events.append((event, fields))

    recognizer = StreamingRecognizer(engine, emit, config, language=language, mode="auto", **options)
    for i in range(0, len(pcm), CHUNK):
        if await recognizer.feed(pcm[i : i + CHUNK]):
            break
        await recognizer.settle()
    else:
        await recognizer.finish()
    await recognizer.close()
    return events, recognizer, heard[0] if heard else float("nan")
