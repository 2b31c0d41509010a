"""The TTS worker with real eSpeak NG: real audio, at the rate asked, streamed over the protocol."""

import asyncio
import os
import signal
import subprocess
import time

import numpy as np
import pytest

from voicecore.audio import parse_wav_header, read_wav, write_wav
from voicecore.testing import ScriptedHub, ScriptedLLM
from voicecore.tts.engine import SpeechRequest
from voicecore.tts.espeak import EspeakEngine, voice_for
from voicecore.tts.japanese import JapaneseReading
from voicecore.tts.openai_engine import OpenAISpeechEngine
from voicecore.tts.worker import tts_worker


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def voiced(samples: np.ndarray, rate: int) -> float:
    """Seconds of 20 ms blocks louder than -40 dBFS."""
    block = rate // 50
    n = len(samples) // block
    rms = np.sqrt(((samples[: n * block].astype(np.float64).reshape(n, block) / 32768) ** 2).mean(axis=1))
    return float((rms > 0.01).sum()) * 0.02


def dominant_frequency_ceiling(samples: np.ndarray, rate: int) -> float:
    """The frequency under which 99.9 % of the energy lies (resampling must not alias above Nyquist)."""
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    cumulative = np.cumsum(spectrum) / spectrum.sum()
    return float(np.searchsorted(cumulative, 0.999) * rate / len(samples))


@pytest.mark.parametrize("rate", [16000, 24000, 48000])
def test_espeak_streams_real_speech_at_the_asked_rate(rate):
    async def main():
        engine = EspeakEngine()
        chunks = [c async for c in engine.synthesize(SpeechRequest("The quick brown fox jumps over the lazy dog.", sample_rate=rate))]
        return chunks

    chunks = run(main())
    assert len(chunks) > 1  # streamed, not one blob
    samples = np.frombuffer(b"".join(chunks), dtype="<i2")
    seconds = len(samples) / rate
    assert 1.5 < seconds < 4.5, seconds  # nine words at 175 wpm
    assert voiced(samples, rate) > 1.0
    assert np.abs(samples).max() > 3000
    assert dominant_frequency_ceiling(samples, rate) < 11025  # espeak's own band, not aliasing


def test_the_mandarin_voice_speaks_hanzi_as_mandarin_syllables_and_english_words_as_english():
    def phonemes(text: str) -> str:
        return subprocess.run(["espeak-ng", "-q", "-x", "-v", voice_for("zh"), text], capture_output=True, text=True, check=True).stdout

    # eSpeak's `cmn` voice read the pinyin's tone digits as English numbers: "(en)dZI55nw'055n" ("jin one").
    today = phonemes("今天天气很好")
    assert "(en)" not in today and len(today.split("_|")) >= 6, today
    assert "(en)" in phonemes("OK")


def test_japanese_is_spoken_from_its_reading():
    """eSpeak's Japanese voice says a kanji as the English words "Chinese letter"; the engine gives
    it the text's pronunciation in katakana instead, and kana-only text as it is."""
    reading = JapaneseReading()
    assert reading("今日の天気はどうですか？") == "キョーノテンキワドーデスカ？"  # は as it sounds: ワ
    assert reading("はい、わかりました。") == "はい、わかりました。"
    assert reading("東京は3時です。OK") == "トーキョーワ3ジデス。OK"

    async def main(text: str) -> bytes:
        engine = EspeakEngine(japanese=reading)
        return b"".join([c async for c in engine.synthesize(SpeechRequest(text, sample_rate=16000, language="ja"))])

    assert run(main("今日の天気はどうですか？")) == run(main("キョーノテンキワドーデスカ？"))
    def phonemes(text: str) -> str:
        return subprocess.run(["espeak-ng", "-q", "-x", "-v", "ja", text], capture_output=True, text=True, check=True).stdout

    # As written it said "Chinese letter" for each of the kanji, several seconds of English.
    assert phonemes("今日の天気はどうですか？").count("(en)") >= 4
    assert "(en)" not in phonemes(reading("今日の天気はどうですか？"))


def test_without_janome_japanese_goes_as_written_with_one_warning(monkeypatch, caplog):
    import sys

    monkeypatch.setitem(sys.modules, "janome.tokenizer", None)  # import fails as if not installed
    reading = JapaneseReading()
    with caplog.at_level("WARNING", logger="voicecore.tts.japanese"):
        assert reading("今日の天気") == "今日の天気" and reading("東京") == "東京"
    assert [r.getMessage() for r in caplog.records].count(
        "janome is not installed: eSpeak reads Japanese kanji as 'Chinese letter' (pip install janome)") == 1


def test_espeak_languages_and_voices():
    assert voice_for("en-US") == "en-us" and voice_for("zh-CN") == "cmn-latn-pinyin" and voice_for("ru") == "ru"
    assert voice_for("en", voice="en-gb") == "en-gb"

    async def main():
        engine = EspeakEngine()
        ru = b"".join([c async for c in engine.synthesize(SpeechRequest("Привет, как дела?", sample_rate=16000, language="ru"))])
        zh = b"".join([c async for c in engine.synthesize(SpeechRequest("今天天气很好", sample_rate=16000, language="zh"))])
        return ru, zh

    ru, zh = run(main())
    for pcm in (ru, zh):
        samples = np.frombuffer(pcm, dtype="<i2")
        assert voiced(samples, 16000) > 0.5


def test_a_prespawned_espeak_speaks_the_same_and_its_spare_ends_with_the_engine():
    # The TTS worker's engine starts the process for a voice's next segment after this one's first
    # audio; the next segment is read by that process, and aclose() ends the one left waiting.
    text = "The capital of Germany is Berlin."

    async def main():
        plain, spare = EspeakEngine(), EspeakEngine(prespawn=True)
        try:
            reference = b"".join([c async for c in plain.synthesize(SpeechRequest(text, sample_rate=16000))])
            first = b"".join([c async for c in spare.synthesize(SpeechRequest(text, sample_rate=16000))])
            await asyncio.gather(*spare._starting.values())  # started in the background
            waiting = spare._spares["en-us"]
            assert waiting.returncode is None  # started, waiting for its text
            second = b"".join([c async for c in spare.synthesize(SpeechRequest(text, sample_rate=16000))])
            # The next one may still be starting (a loaded machine spawns slower than eSpeak speaks).
            await asyncio.gather(*spare._starting.values())
            assert spare._spares["en-us"] is not waiting and waiting.returncode is not None  # it spoke; another waits
            russian = b"".join([c async for c in spare.synthesize(SpeechRequest("Привет.", sample_rate=16000, language="ru"))])
            await asyncio.gather(*spare._starting.values())
            assert set(spare._spares) == {"en-us", "ru"}  # one per voice
            left = list(spare._spares.values())
        finally:
            await spare.aclose()  # a failed check must not leave a waiting process to the tests after it
        assert spare._spares == {} and all(proc.returncode is not None for proc in left)
        return reference, first, second, russian

    reference, first, second, russian = run(main())
    assert first == reference and second == reference  # eSpeak is deterministic: the same samples
    assert voiced(np.frombuffer(russian, dtype="<i2"), 16000) > 0.3


def test_a_segment_cut_after_its_first_audio_still_leaves_the_next_process_waiting():
    # A barge-in cancels the TTS job right after its first audio; the next segment must not pay
    # for starting eSpeak again.
    from contextlib import aclosing

    async def main():
        engine = EspeakEngine(prespawn=True)
        async with aclosing(engine.synthesize(SpeechRequest("A long answer that the user cuts short.", sample_rate=16000))) as stream:
            async for _ in stream:
                break
        await asyncio.gather(*engine._starting.values())
        waiting = engine._spares["en-us"]
        alive = waiting.returncode is None
        await engine.aclose()
        return alive, waiting.returncode

    alive, code = run(main())
    assert alive and code is not None


def test_a_waiting_process_killed_from_outside_costs_the_segment_nothing():
    # An operator's pkill, the OOM killer: the waiting espeak-ng is gone before its text comes (the
    # loop may not have noticed yet). The segment is spoken by a new process, as if none waited.
    text = "The capital of Germany is Berlin."

    async def main():
        engine = EspeakEngine(prespawn=True)
        reference = b"".join([c async for c in engine.synthesize(SpeechRequest(text, sample_rate=16000))])
        await asyncio.gather(*engine._starting.values())
        waiting = engine._spares["en-us"]
        os.kill(waiting.pid, signal.SIGKILL)
        again = b"".join([c async for c in engine.synthesize(SpeechRequest(text, sample_rate=16000))])
        await asyncio.gather(*engine._starting.values())
        spare_alive = engine._spares["en-us"].returncode is None  # and the next one waits again
        await engine.aclose()
        return reference, again, waiting.returncode, spare_alive

    reference, again, code, spare_alive = run(main())
    assert again == reference and code == -signal.SIGKILL and spare_alive


def test_a_prespawned_espeak_ends_its_waiting_process_with_its_event_loop():
    # A script that runs the engine under asyncio.run() twice without aclose(): the process left
    # waiting belongs to the first loop, and ends with it (reaped while that loop still runs, so no
    # transport is left for the garbage collector to close on a closed loop); the second loop
    # speaks the same with a process of its own.
    text = "The capital of Germany is Berlin."
    engine = EspeakEngine(prespawn=True)

    async def speak():
        audio = b"".join([c async for c in engine.synthesize(SpeechRequest(text, sample_rate=16000))])
        await asyncio.gather(*engine._starting.values())
        waiting = engine._spares["en-us"]
        assert waiting.returncode is None  # started, waiting for its text
        return audio, waiting

    first, left_waiting = run(speak())  # no aclose()
    assert left_waiting.returncode == -signal.SIGKILL and engine._spares == {}
    try:
        second, waiting_now = run(speak())
    finally:
        run(engine.aclose())  # a failed check must not leave a waiting process behind
    assert second == first and waiting_now is not left_waiting  # eSpeak is deterministic: the same samples
    assert waiting_now.returncode == -signal.SIGKILL


def test_tts_worker_over_the_protocol_and_bad_params():
    async def main():
        engine = EspeakEngine(prespawn=True)  # as `voicecore worker tts` runs it
        worker = tts_worker(engine, slots=2)
        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            assert w.register["kinds"] == ["tts"] and w.register["models"] == ["espeak-ng"]
            await w.job(1, "tts", {"text": "Paris is the capital of France.", "sample_rate": 24000, "language": "en", "segment": 0})
            frames = []
            while True:
                m = await w.next()
                if isinstance(m, dict) and m["type"] == "done":
                    break
                frames.append(m)
            audio_frames = [f for f in frames if not isinstance(f, dict)]
            outputs = [f for f in frames if isinstance(f, dict) and f["type"] == "output"]
            assert [o["event"] for o in outputs] == ["segment_done"]
            assert frames.index(outputs[0]) > frames.index(audio_frames[-1])  # segment_done after the audio
            # Streamed in several frames; how many depends on how eSpeak's pipe output is chunked,
            # which a loaded machine coarsens, so only "more than one" is asserted.
            frame_count = len(audio_frames)
            assert frame_count >= 2
            assert audio_frames[-1].last
            assert not any(f.last for f in audio_frames[:-1])
            samples = np.frombuffer(b"".join(f.pcm for f in audio_frames), dtype="<i2")
            seconds = len(samples) / 24000
            assert 1.2 < seconds < 3.5
            voiced_share = float(voiced(samples, 24000))
            assert voiced_share > 0.8

            await w.job(2, "tts", {"text": "", "sample_rate": 24000})
            outputs, audio, end = await w.until_end(2)
            assert audio == b"" and end["type"] == "done"
            await w.job(3, "tts", {"text": "hi", "sample_rate": 5})
            _, _, end = await w.until_end(3)
            assert end["type"] == "error" and "sample_rate" in end["message"]
            await w.job(4, "tts", {"sample_rate": 24000})
            _, _, end = await w.until_end(4)
            assert end["type"] == "error" and "text" in end["message"]
            await asyncio.gather(*engine._starting.values())
            waiting = list(engine._spares.values())
            assert waiting and all(proc.returncode is None for proc in waiting)  # the next segment's process
            await worker.stop()
            await task
            assert engine._spares == {} and all(proc.returncode is not None for proc in waiting)  # ended with the worker

    run(main())


def test_cancel_stops_synthesis_at_once():
    async def main():
        worker = tts_worker(EspeakEngine(), slots=1)
        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "tts", {"text": "word " * 400, "sample_rate": 24000})
            first = await w.next()
            while isinstance(first, dict):
                first = await w.next()
            await w.cancel(1)
            # The slot is free as soon as the handler has unwound (eSpeak killed); poll rather than
            # sleep a fixed time, so a loaded CI machine does not make this flaky.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 5.0
            while worker.load() != {"tts": 0} and loop.time() < deadline:
                await asyncio.sleep(0.02)
            assert worker.load() == {"tts": 0}
            await asyncio.sleep(0.3)  # anything the worker would wrongly send after the cancel
            left = [w.messages.get_nowait() for _ in range(w.messages.qsize())]
            assert not any(isinstance(m, dict) and m.get("type") in ("done", "error") for m in left)
            await worker.stop()
            await task

    run(main())


def test_cancel_unwinds_when_the_consumer_stopped_reading():
    # A slow consumer lets eSpeak fill the pipe until asyncio pauses reading it; the cancelled
    # synthesis must still kill eSpeak and return at once (proc.wait() alone waits for an EOF that
    # a paused pipe never reads: the cause of a CI hang under CPU load).
    async def main():
        engine = EspeakEngine()
        gen = engine.synthesize(SpeechRequest(text="word " * 2000, sample_rate=16000, language="en"))

        async def consume_slowly() -> None:
            async for _ in gen:
                await asyncio.sleep(10)

        task = asyncio.create_task(consume_slowly())
        await asyncio.sleep(1.5)  # eSpeak writes far more than the reader's 128 KiB pause mark
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=3.0)
        assert task in done, "cancelled synthesis did not unwind"
        assert task.cancelled()
        await gen.aclose()

    run(main())


def test_openai_speech_adapter_resamples_what_the_server_returns():
    async def speech(body):
        pcm = b"".join([c async for c in EspeakEngine().synthesize(SpeechRequest(body["input"], sample_rate=22050))])
        return write_wav(pcm, 22050)

    async def main():
        async with ScriptedLLM([], speech=speech) as server:
            engine = OpenAISpeechEngine(server.url, model="tts-test", voice="v1")
            pcm = b"".join([c async for c in engine.synthesize(SpeechRequest("Hello there, general.", sample_rate=16000))])
            assert server.requests[-1] == {"model": "tts-test", "input": "Hello there, general.", "voice": "v1", "response_format": "wav"}
            return pcm

    samples = np.frombuffer(run(main()), dtype="<i2")
    assert 0.8 < len(samples) / 16000 < 2.5 and voiced(samples, 16000) > 0.5


def test_wav_helpers():
    pcm = (np.sin(np.arange(1600) / 5) * 10000).astype("<i2").tobytes()
    wav = write_wav(pcm, 8000)
    assert parse_wav_header(wav[:20]) is None
    assert parse_wav_header(wav) == (8000, 1, 44)
    back = read_wav(wav)
    assert back.rate == 8000 and back.to_bytes() == pcm
    with pytest.raises(ValueError, match="RIFF"):
        parse_wav_header(b"OggS" + b"\0" * 40)
