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


class Refining:
    """A stand-in engine with ``transcribe_refinable``: each pass reads ``greedy`` and offers a beam
    search that reads ``beam`` (faster-whisper's with ``final_beam_size``)."""

    name = "refining"

    def __init__(self, greedy: str, beam: str, endless: bool = False) -> None:
        self.greedy, self.beam, self.endless, self.refines = greedy, beam, endless, 0

    async def transcribe(self, audio, language=""):
        from voicecore.asr.engine import Transcript

        return Transcript(self.greedy, "ru")

    async def transcribe_refinable(self, audio, language=""):
        from voicecore.asr.engine import Transcript

        async def refine():
            self.refines += 1
            await (asyncio.Event().wait() if self.endless else asyncio.sleep(0.01))
            return Transcript(self.beam, "ru")

        return Transcript(self.greedy, "ru"), refine


HUB = RecognizerConfig(endpoint=EndpointConfig(), partial_interval=0)


def test_a_refining_engine_keeps_the_greedy_evidence_and_gives_the_final_its_beam_text():
    # Whisper base on eSpeak's Russian: greedy "Какая симодия погода", beam "Какая сегодня погода?".
    engine = Refining("Какая симодия погода", "Какая сегодня погода?")
    pcm = silence(0.3) + speak("Какая сегодня погода?", language="ru") + silence(4.0)
    events = asyncio.run(run_recognizer(engine, pcm, HUB, language="ru", endpointing="hub"))[0]
    names = [e for e, _ in events]
    assert names == ["speech_start", "pause", "speculative", "refined", "speech_end", "final"], events
    assert events[2][1] == {"text": "Какая симодия погода", "language": "ru", "refining": True}  # the pause's evidence
    assert events[3][1] == {"text": "Какая сегодня погода?"} and events[-1][1]["text"] == "Какая сегодня погода?"


def test_the_same_beam_text_is_sent_too_and_new_speech_cancels_the_beam_search():
    # The hub waits for `refined` to start its preemptive reply: it comes whatever its text.
    engine = Refining("Turn on the lights.", "Turn on the lights.")
    pcm = silence(0.3) + speak("Turn on the lights.") + silence(4.0)
    events = asyncio.run(run_recognizer(engine, pcm, HUB, endpointing="hub"))[0]
    assert [e for e, _ in events] == ["speech_start", "pause", "speculative", "refined", "speech_end", "final"], events
    assert events[2][1]["refining"] and events[3][1] == {"text": "Turn on the lights."}

    async def voided():
        engine = Refining("Please turn on", "Please turn on the", endless=True)  # ends only by cancellation
        sent: list[str] = []

        async def emit(event: str, **fields) -> None:
            sent.append(event)

        from voicecore.asr.recognizer import StreamingRecognizer

        rec = StreamingRecognizer(engine, emit, HUB, mode="auto", endpointing="hub")
        speech = silence(0.3) + speak("Please turn on", trim=True)
        for i in range(0, len(speech), 1920):
            await rec.feed(speech[i : i + 1920])
        while rec.speculation is None:  # the pause: its pass starts
            await rec.feed(silence(0.06))
        await rec.speculation
        refining = rec.refining
        assert refining is not None
        more = speak("the kitchen", trim=True)
        for i in range(0, 16000, 1920):  # speech again before the beam search is done
            await rec.feed(more[i : i + 1920])
        await asyncio.gather(refining, return_exceptions=True)
        assert rec.refining is None and refining.cancelled()
        await rec.close()
        return sent

    sent = asyncio.run(voided())
    assert "refined" not in sent and "speculation_void" in sent, sent
