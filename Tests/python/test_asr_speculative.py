"""The ASR worker's speculative transcripts for the hub's preemptive generation: a transcript made
during a pause goes out as ``speculative`` while it is still the likely final, and new speech after
it sends ``speculation_void``. Real eSpeak NG speech, real Silero VAD, real faster-whisper tiny.en;
each speculative pass finishes before the next chunk (a fast engine), so every pause long enough
to speculate yields one.

Word error rate bound: 0.2 per utterance, as in test_asr_worker.py."""

import asyncio

import pytest

from voicecore.asr.endpointer import EndpointConfig
from voicecore.asr.faster_whisper_engine import FasterWhisperEngine
from voicecore.asr.recognizer import RecognizerConfig
from voicecore.testing import silence, speak, word_error_rate

from asr_harness import recognize as run_recognizer

WER_BOUND = 0.2
# As `voicecore up` runs it: no partials, speculative events on (off unless asked: `--speculative`).
CONFIG = RecognizerConfig(endpoint=EndpointConfig(), partial_interval=0, speculative_events=True)


@pytest.fixture(scope="module")
def engine():
    return FasterWhisperEngine()


async def recognize(engine, pcm: bytes, config: RecognizerConfig = CONFIG) -> list[tuple[str, dict]]:
    return (await run_recognizer(engine, pcm, config))[0]


def test_complete_question_sends_its_speculative_transcript_before_the_same_final(engine):
    question = "What is the capital of France?"
    events = asyncio.run(recognize(engine, silence(0.3) + speak(question) + silence(1.0)))
    names = [e for e, _ in events]
    assert names == ["speech_start", "speculative", "speech_end", "final"], events
    speculative, final = events[1][1]["text"], events[-1][1]["text"]
    assert word_error_rate(question, speculative) <= WER_BOUND, speculative
    assert speculative == final  # the final is the speculation's transcript: the hub commits


def test_speech_after_the_pause_voids_the_speculation(engine):
    first, rest = "Please turn on the lights.", "in the kitchen and the hall."
    pcm = silence(0.3) + speak(first, trim=True) + silence(0.3) + speak(rest, trim=True) + silence(1.0)
    events = asyncio.run(recognize(engine, pcm))
    names = [e for e, _ in events]
    assert names[0] == "speech_start" and names[-2:] == ["speech_end", "final"], events
    void = names.index("speculation_void")
    assert names[void - 1] == "speculative"  # the pause's transcript, then new speech voided it
    assert word_error_rate("please turn on the lights", events[void - 1][1]["text"]) <= WER_BOUND
    final = events[-1][1]["text"]
    assert word_error_rate(first + " " + rest, final) <= WER_BOUND, final
    # Every speculative transcript but the last was voided; the last one, if any, is the final's.
    spec = [i for i, n in enumerate(names) if n == "speculative"]
    voided = [i for i, n in enumerate(names) if n == "speculation_void"]
    assert all(any(v > s for v in voided) for s in spec[:-1])
    if spec[-1] > voided[-1]:
        assert events[spec[-1]][1]["text"] == final


def test_speculative_events_are_off_unless_asked(engine):
    config = RecognizerConfig(endpoint=EndpointConfig(), partial_interval=0)
    events = asyncio.run(recognize(engine, silence(0.3) + speak("What is the capital of France?") + silence(1.0), config))
    assert [e for e, _ in events] == ["speech_start", "speech_end", "final"]
