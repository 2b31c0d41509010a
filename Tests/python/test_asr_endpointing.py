"""The semantic endpointer: an utterance whose speculative transcript reads as a finished sentence
ends after ``early_silence_ms`` of silence, any other after ``min_silence_ms``; a pause inside a
sentence never ends it. Real eSpeak NG speech, real Silero VAD, real faster-whisper tiny.en.

Word error rate bound: 0.2 per utterance, as in test_asr_worker.py."""

import asyncio

import numpy as np
import pytest

from voicecore.asr.endpointer import EndpointConfig, Endpointer, Event
from voicecore.asr.faster_whisper_engine import FasterWhisperEngine
from voicecore.asr.recognizer import RecognizerConfig, reads_complete
from voicecore.asr.worker import asr_worker
from voicecore.testing import ScriptedHub, silence, speak, word_error_rate

from asr_harness import CHUNK, recognize

WER_BOUND = 0.2
DEFAULTS = EndpointConfig()
# As `voicecore up` runs it: no partial transcripts, the engine is free for the speculative final.
CONFIG = RecognizerConfig(endpoint=EndpointConfig(), partial_interval=0)


@pytest.fixture(scope="module")
def engine():
    return FasterWhisperEngine()


def test_reads_complete_rule():
    assert reads_complete("What is the capital of France?")
    assert reads_complete("Turn on the lights.") and reads_complete("Stop!") and reads_complete('He said "yes."')
    assert not reads_complete("turn on the light and")  # no final punctuation
    assert not reads_complete("Set a timer for.") and not reads_complete("Remind me to call my.")  # open-ended last word
    assert not reads_complete("I was thinking...") and not reads_complete("")


def test_endpointer_early_event_comes_between_pause_and_end():
    e = Endpointer(EndpointConfig(min_speech_ms=64, speculate_ms=64, early_silence_ms=128, min_silence_ms=192))
    seq = [0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    events = [(i, ev) for i, p in enumerate(seq) for ev in e.push(p)]
    assert events == [(1, Event.SPEECH_START), (3, Event.PAUSE), (3, Event.JUDGE), (5, Event.RESUME), (7, Event.PAUSE), (7, Event.JUDGE),
                      (9, Event.EARLY), (11, Event.END)]
    # Off (0), or not before the end: no EARLY.
    for early in (0.0, 192.0):
        e = Endpointer(EndpointConfig(min_speech_ms=64, speculate_ms=64, early_silence_ms=early, min_silence_ms=192))
        assert Event.EARLY not in [ev for p in seq for ev in e.push(p)]
    assert DEFAULTS.speculate_ms <= DEFAULTS.judge_ms < DEFAULTS.early_silence_ms < DEFAULTS.min_silence_ms


def test_complete_question_ends_after_the_early_silence(engine):
    question = "What is the capital of France?"
    events, recognizer, heard_ms = asyncio.run(recognize(engine, silence(0.3) + speak(question) + silence(1.0), CONFIG))
    assert [e for e, _ in events] == ["speech_start", "speech_end", "final"]
    assert word_error_rate(question, events[-1][1]["text"]) <= WER_BOUND, events[-1]
    assert recognizer.end_reason == "early"
    assert DEFAULTS.early_silence_ms <= heard_ms < DEFAULTS.min_silence_ms


def test_unfinished_sentence_waits_for_the_full_silence(engine):
    # Whisper writes "Turn on the kitchen light and...": an ellipsis ends no sentence, so the early rule does not apply.
    events, recognizer, heard_ms = asyncio.run(recognize(engine, silence(0.3) + speak("Turn on the kitchen light and") + silence(1.0), CONFIG))
    assert [e for e, _ in events] == ["speech_start", "speech_end", "final"]
    assert recognizer.end_reason == "silence"
    assert heard_ms >= DEFAULTS.min_silence_ms
    assert word_error_rate("turn on the kitchen light and", events[-1][1]["text"]) <= 0.2, events[-1]


def test_pause_inside_a_sentence_does_not_split_it(engine):
    # 0.3 s between "lights" and "in": Whisper reads the first half as "Please turn on the lights."
    # (complete-looking), but the pause is shorter than early_silence_ms, so the sentence goes on.
    pcm = silence(0.3) + speak("Please turn on the lights", trim=True) + silence(0.3) + speak("in the living room") + silence(1.0)
    events, recognizer, _ = asyncio.run(recognize(engine, pcm, CONFIG))
    assert [e for e, _ in events] == ["speech_start", "speech_end", "final"]
    text = events[-1][1]["text"]
    assert word_error_rate("please turn on the lights in the living room", text) <= WER_BOUND, text
    assert recognizer.end_reason in ("early", "silence")


def test_worker_job_ends_on_an_early_final_without_more_audio(engine):
    """The device's audio stops 0.4 s into the silence (before min_silence_ms): only the early rule
    can end the utterance, from the speculation's completion, and the job is done then."""

    async def main():
        worker = asr_worker(engine, slots=1, config=CONFIG)
        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "asr", {"sample_rate": 16000, "language": "en", "mode": "auto"})
            pcm = silence(0.3) + speak("How far away is the moon?", trim=True) + silence(0.42)
            for i in range(0, len(pcm), CHUNK):
                await w.audio(1, pcm[i : i + CHUNK], last=False)
                await asyncio.sleep(0.06)
            outputs, _, end = await w.until_end(1, timeout=60)
            await worker.stop()
            await task
            return outputs, end

    outputs, end = asyncio.run(asyncio.wait_for(main(), 120))
    assert end["type"] == "done"
    assert [o["event"] for o in outputs] == ["speech_start", "speech_end", "final"]
    assert word_error_rate("how far away is the moon", outputs[-1]["text"]) <= WER_BOUND, outputs[-1]


def test_the_transcription_can_start_before_the_turn_model_judges():
    # The speculative pass at 32 ms of silence (one window), the turn model at 64 ms (two); speech
    # in between voids the pause before the model ran.
    e = Endpointer(EndpointConfig(min_speech_ms=64, speculate_ms=32, judge_ms=64))
    seq = [0.9, 0.9, 0.1, 0.9, 0.1, 0.1, 0.1]
    events = [(i, ev) for i, p in enumerate(seq) for ev in e.push(p)]
    assert events == [(1, Event.SPEECH_START), (2, Event.PAUSE), (3, Event.RESUME), (4, Event.PAUSE), (5, Event.JUDGE)]


def test_the_utterance_starts_at_its_first_sound_not_at_the_run_that_confirms_it():
    # Silero's windows of eSpeak's Russian "Какая сегодня погода?": the first syllable scores 0.73
    # 0.52 0.33 0.47 0.52 before the run of three that confirms speech.
    e = Endpointer(EndpointConfig())
    first = [0.0, 0.0, 0.04, 0.01, 0.73, 0.52, 0.33, 0.47, 0.52, 0.88, 0.92, 0.97]
    starts = [(i, ev) for i, p in enumerate(first) for ev in e.push(p)]
    assert starts == [(10, Event.SPEECH_START)]  # confirmed by 0.52 0.88 0.92, as before
    assert e.speech_start == 4  # the 0.73
    # A longer dip (a click, a breath 100 ms before speaking) separates the two; so does distance.
    e = Endpointer(EndpointConfig())
    for p in [0.9, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9]:
        e.push(p)
    assert e.speech_start == 4
    e = Endpointer(EndpointConfig())
    for p in [0.9] + [0.4] * 12 + [0.9, 0.9, 0.9]:
        e.push(p)
    assert e.speech_start == 13  # the 0.9 is 384 ms before the run: beyond onset_lookback_ms


def test_the_pass_hears_the_utterance_from_before_its_first_sound():
    """Real Silero VAD on the evaluation set's Russian "Какая сегодня погода?" at 150 wpm (0.3 s of
    digital silence, then speech): the audio a pass gets starts in the silence before the first
    syllable (``lead_seconds`` before the onset: 0.148 s before the speech). When the utterance
    began at the run that confirms speech, the pass started 0.02 s before the speech and base
    wrote "как я" for "Какая"."""
    from voicecore.asr.engine import SAMPLE_RATE, Transcript
    from voicecore.testing.turn_clips import make_clip

    clip = make_clip("ru", "finished", "Какая сегодня погода?", speed=150)
    heard: list[np.ndarray] = []

    class Recording:
        name = "recording"

        async def transcribe(self, audio, language=""):
            heard.append(audio)
            return Transcript("Какая сегодня погода?", language)

    pcm = (clip.audio * 32767).astype(np.int16).tobytes()
    events, _, _ = asyncio.run(recognize(Recording(), pcm, CONFIG, language="ru"))
    assert [e for e, _ in events] == ["speech_start", "speech_end", "final"]
    first_sound = int(np.argmax(np.abs(heard[-1]) > 0.01))
    assert first_sound >= 0.1 * SAMPLE_RATE, f"the pass starts {first_sound / SAMPLE_RATE:.3f} s before the speech"
