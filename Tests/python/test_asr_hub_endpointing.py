"""Hub endpointing in the ASR worker (job param ``endpointing: "hub"``): the worker reports the
evidence — ``pause`` {silence_ms}, the speculative transcript, the turn model's ``turn``
{probability}, ``resume`` — and leaves the end of the utterance to the hub (``input end``), with its
own silence end only as a 3 s safety net. Clips of the shared evaluation set (eSpeak NG), real
Silero VAD, real faster-whisper tiny.en, the real Smart Turn v3.2 model.

Word error rate bound: 0.2 per utterance, as in test_asr_worker.py."""

import asyncio
import logging

import numpy as np
import pytest

from voicecore.asr.faster_whisper_engine import FasterWhisperEngine
from voicecore.asr.recognizer import RecognizerConfig
from voicecore.asr.turn_model import SmartTurn, model_path
from voicecore.asr.worker import asr_worker, load_turn_model
from voicecore.testing import ScriptedHub, word_error_rate
from voicecore.testing.turn_clips import FINISHED, PAUSED, make_clip

from asr_harness import CHUNK, recognize

WER_BOUND = 0.2
CONFIG = RecognizerConfig.default()
CONFIG.partial_interval = 0  # as `voicecore up` runs it

@pytest.fixture(autouse=True, scope="module")
def smart_turn_installed() -> None:
    """These tests need the turn model (`make test` installs it): fail saying so, never skip."""
    assert model_path().is_file(), f"Smart Turn is not installed at {model_path()}: run scripts/install-turn-model.sh"


@pytest.fixture(scope="module")
def engine():
    return FasterWhisperEngine()


@pytest.fixture(scope="module")
def turn_model():
    return SmartTurn()


def pcm16(audio: np.ndarray) -> bytes:
    return (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16).tobytes()


def names(events) -> list[str]:
    return [e for e, _ in events]


def test_finished_question_reports_pause_transcript_and_turn_probability_and_waits_for_the_hub(engine, turn_model):
    clip = make_clip("en", "finished", FINISHED["en"][0], tail=1.5)  # "What is the capital of Italy?"
    events, recognizer, _ = asyncio.run(recognize(engine, pcm16(clip.audio), CONFIG, endpointing="hub", turn_model=turn_model))
    # The worker never ends it itself inside 1.5 s of silence: the audio's end (the hub's `input end`) does.
    assert names(events)[:2] == ["speech_start", "pause"] and names(events)[-2:] == ["speech_end", "final"], events
    assert sorted(names(events)[2:4]) == ["speculative", "turn"], events
    assert recognizer.end_reason == "audio end" and recognizer.used_speculation
    pause = events[1][1]
    assert CONFIG.endpoint.speculate_ms <= pause["silence_ms"] < 200, pause
    speculative = dict(events[2:4])["speculative"]["text"]
    assert word_error_rate(clip.text, speculative) <= WER_BOUND, speculative
    assert events[-1][1]["text"] == speculative  # the final reuses the pause's transcription
    probability = dict(events[2:4])["turn"]["probability"]
    assert 0.0 <= probability <= 1.0


def test_inner_pause_reports_resume_and_voids_the_sent_transcript(engine, turn_model):
    clip = make_clip("en", "pause", PAUSED["en"][0], tail=1.0)  # "Turn on the kitchen light and … the fan."
    events, recognizer, _ = asyncio.run(recognize(engine, pcm16(clip.audio), CONFIG, endpointing="hub", turn_model=turn_model))
    n = names(events)
    assert n.count("speech_end") == 1 and n[-2:] == ["speech_end", "final"], events
    assert "resume" in n
    for i, name in enumerate(n):
        if name == "resume":  # speech again: the pause before it was reported, its transcript (if sent) voided
            last_pause = max(j for j in range(i) if n[j] == "pause")
            assert (n[i + 1] == "speculation_void") == ("speculative" in n[last_pause:i]), events
        if name == "turn":  # a probability only for a pause not voided before it was computed
            last_pause = max(j for j in range(i) if n[j] == "pause")
            assert "resume" not in n[last_pause:i], events
    assert n.count("pause") == n.count("resume") + 1
    final = events[-1][1]["text"]
    assert word_error_rate("turn on the kitchen light and the fan", final) <= WER_BOUND, final


def test_safety_net_ends_the_utterance_after_three_seconds_of_silence(engine, turn_model):
    clip = make_clip("en", "finished", FINISHED["en"][1], tail=4.0)
    events, recognizer, heard_ms = asyncio.run(recognize(engine, pcm16(clip.audio), CONFIG, endpointing="hub", turn_model=turn_model))
    assert recognizer.end_reason == "silence"
    assert CONFIG.hub_silence_ms <= heard_ms < CONFIG.hub_silence_ms + 100
    assert names(events)[-2:] == ["speech_end", "final"]


def test_without_the_param_the_worker_endpoints_as_before(engine, turn_model):
    clip = make_clip("en", "finished", FINISHED["en"][0], tail=1.5)
    events, recognizer, _ = asyncio.run(recognize(engine, pcm16(clip.audio), CONFIG, turn_model=turn_model))
    assert names(events) == ["speech_start", "speech_end", "final"], events
    assert recognizer.end_reason in ("early", "silence")


def test_missing_model_file_warns_once_and_gives_no_model(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("VOICECORE_TURN_MODEL", str(tmp_path / "absent.onnx"))
    with caplog.at_level(logging.WARNING, logger="voicecore.asr"):
        assert load_turn_model() is None
    assert len([r for r in caplog.records if "Smart Turn" in r.getMessage()]) == 1


def test_worker_job_in_hub_mode_ends_on_input_end(engine, turn_model):
    """Through the worker SDK: the job's params ask for hub endpointing; the worker reports the pause
    and the turn probability, and finalizes only when the hub sends ``input end``."""

    async def main():
        worker = asr_worker(engine, slots=1, config=CONFIG, turn_model=turn_model)
        async with ScriptedHub() as hub:
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            await w.job(1, "asr", {"sample_rate": 16000, "language": "en", "mode": "auto", "endpointing": "hub"})
            clip = make_clip("en", "finished", "How far is the moon from the earth?", tail=1.2)
            pcm = pcm16(clip.audio)
            for i in range(0, len(pcm), CHUNK):
                await w.audio(1, pcm[i : i + CHUNK], last=False)
                await asyncio.sleep(0.03)
            seen = []
            while "turn" not in seen or "speculative" not in seen:  # the evidence arrives; no final yet
                message = await w.expect("output", timeout=60)
                seen.append(message["event"])
            assert "final" not in seen and "speech_end" not in seen, seen
            await w.input(1, "end")
            outputs, _, end = await w.until_end(1, timeout=60)
            await worker.stop()
            await task
            return seen, outputs, end

    seen, outputs, end = asyncio.run(asyncio.wait_for(main(), 180))
    assert end["type"] == "done"
    assert seen[:2] == ["speech_start", "pause"], seen
    assert [o["event"] for o in outputs] == ["speech_end", "final"], outputs
    assert word_error_rate("how far is the moon from the earth", outputs[-1]["text"]) <= WER_BOUND, outputs[-1]
