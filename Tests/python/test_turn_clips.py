"""The evaluation set's voices: eSpeak NG by default; ``voice="neural"`` speaks zh and ja through
the neural-voice helper's protocol (JSON lines in, 16 kHz .npy files out) in its own interpreter,
once per line, and says how to install it when it is missing.

The helper's real voices need the 2 GB venv of Benchmarks/turn/install-neural-voices.sh (not part
of the tests); a stand-in interpreter speaking the same protocol drives the plumbing here."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from voicecore.audio import pcm16_to_float
from voicecore.testing import turn_clips
from voicecore.testing.speech import HUMS, speak
from voicecore.tts.japanese import JapaneseReading
from voicecore.testing.turn_clips import SAMPLE_RATE, evaluation_set, make_clip

STAND_IN = """#!{python}
import json, sys
import numpy as np
calls = {calls!r}
for line in sys.stdin:
    request = json.loads(line)
    with open(calls, "a") as f:
        f.write(json.dumps(request) + "\\n")
    if request["text"] == "坏":
        print(json.dumps({{"ok": False, "error": "ValueError: no reading"}}), flush=True)
        continue
    n = int(16000 * 0.5 / request["rate"])
    tone = 0.3 * np.sin(np.arange(n) * 2 * np.pi * 220 / 16000)
    np.save(request["out"], np.concatenate([np.zeros(800), tone, np.zeros(800)]).astype(np.float32))
    print(json.dumps({{"ok": True}}), flush=True)
"""


@pytest.fixture
def neural(tmp_path, monkeypatch):
    """A stand-in neural-voices venv; the cache in tmp_path; returns the log of the requests it got."""
    venv, calls = tmp_path / "venv", tmp_path / "calls.jsonl"
    (venv / "bin").mkdir(parents=True)
    python = venv / "bin" / "python"
    python.write_text(STAND_IN.format(python=sys.executable, calls=str(calls)))
    python.chmod(0o755)
    monkeypatch.setattr(turn_clips, "NEURAL_HELPER", Path("/dev/null"))  # the stand-in is the whole helper
    monkeypatch.setenv("VOICECORE_NEURAL_VOICES", str(venv))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    turn_clips._spoken.cache_clear()
    yield calls
    turn_clips._spoken.cache_clear()


def requests(calls: Path) -> list[dict]:
    return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []


def test_neural_voice_speaks_chinese_and_japanese_once_per_line(neural):
    clip = make_clip("zh", "finished", "现在几点了？", speed=210, voice="neural")
    assert clip.voice == "neural" and clip.id == "zh/finished/210/clean/neural/现在几点了？"
    # The helper's speech, trimmed at both ends, between the clip's lead and tail.
    speech = clip.speech_end - 0.3
    assert abs(speech - 0.5 * 175 / 210) < 0.01, speech
    assert len(clip.audio) == int(round(0.3 * SAMPLE_RATE)) + int(round(speech * SAMPLE_RATE)) + int(round(2.5 * SAMPLE_RATE))
    assert requests(neural) == [{"language": "zh", "text": "现在几点了？", "rate": 1.2, "out": requests(neural)[0]["out"]}]
    # Kept on disk: a new process (the in-memory cache cleared) asks the helper nothing again.
    turn_clips._spoken.cache_clear()
    again = make_clip("zh", "finished", "现在几点了？", speed=210, voice="neural")
    assert np.array_equal(again.audio, clip.audio) and len(requests(neural)) == 1


def test_a_neural_set_asks_the_helper_once_for_every_line(neural):
    clips = evaluation_set(languages=("en", "ja"), speeds=(175,), noise=(None,), kinds=("finished", "pause"), voice="neural")
    lines = [(r["language"], r["text"]) for r in requests(neural)]
    assert lines == [("ja", "今日の天気はどうですか？"), ("ja", "イタリアの首都はどこですか？"), ("ja", "台所の電気をつけて"), ("ja", "それから扇風機も。")]
    # English has no neural voice here: eSpeak speaks it, and its ids are the usual ones.
    assert {c.voice for c in clips if c.language == "en"} == {"espeak"}
    assert "en/finished/175/clean/What is the capital of Italy?" in {c.id for c in clips}
    assert all("/neural/" in c.id for c in clips if c.language == "ja")


def test_espeak_speaks_every_japanese_line_of_the_set_as_japanese():
    """eSpeak's Japanese voice reads a kanji as the English "Chinese letter" (an `(en)` switch in its
    phonemes); the engine gives it each line's reading, in which no such switch is left."""
    reading = JapaneseReading()
    lines = [part for source in (turn_clips.FINISHED, turn_clips.UNFINISHED, turn_clips.PAUSED, turn_clips.BACKCHANNELS)
             for line in source["ja"] for part in (line if isinstance(line, tuple) else (line,))]
    for line in lines:
        phonemes = subprocess.run(["espeak-ng", "-q", "-x", "-v", "ja", reading(line)], capture_output=True, text=True, check=True).stdout
        assert "(en)" not in phonemes, (line, reading(line), phonemes)
    clip = make_clip("ja", "finished", "イタリアの首都はどこですか？", lead=0.0, tail=0.0)
    assert clip.text == "イタリアの首都はどこですか？"
    spoken = pcm16_to_float(speak("イタリアノシュトワドコデスカ？", SAMPLE_RATE, trim=True, language="ja"))
    assert np.array_equal(clip.audio, spoken[int(np.nonzero(np.abs(spoken) > 0.01)[0][0]):])


def test_hummed_backchannels_are_hummed_not_spelled():
    """eSpeak spells "mhm" letter by letter ("Em Ha Em"); the set's "mhm" and "mm-hmm" are said
    from the phonemes of a hum, syllabic m, h, syllabic m."""
    def phonemes(text: str, voice: str) -> str:
        return subprocess.run(["espeak-ng", "-q", "-x", "-v", voice, text], capture_output=True, text=True, check=True).stdout.strip()

    assert phonemes("mhm", "de") == "_!,Emh,A:'Em"  # the letters' names
    for line, language, voice in (("mhm", "de", "de"), ("mm-hmm", "en", "en-us")):
        assert line in turn_clips.BACKCHANNELS[language]
        assert phonemes(HUMS[line], voice) == "m-h'm-"
        assert speak(line, language=language) == speak("[[m-'hm-]]", language=language)


def test_a_line_the_helper_cannot_speak_is_an_error_naming_it(neural):
    with pytest.raises(RuntimeError, match="could not speak zh '坏': ValueError: no reading"):
        make_clip("zh", "finished", "坏", voice="neural")


def test_missing_neural_voices_say_how_to_install_them(tmp_path, monkeypatch):
    monkeypatch.setenv("VOICECORE_NEURAL_VOICES", str(tmp_path / "none"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    turn_clips._spoken.cache_clear()
    with pytest.raises(FileNotFoundError, match="install-neural-voices.sh"):
        make_clip("ja", "finished", "はい", voice="neural")
    with pytest.raises(ValueError, match="voice must be"):
        make_clip("ja", "finished", "はい", voice="piper")


def test_the_turn_benchmark_says_which_clips_a_recorded_run_lacks(tmp_path):
    """``bench_turn.py --from-json`` decides again on recorded evidence; a file recorded for other
    clips than the ones asked (another --languages) is a clear error, not a KeyError."""
    root = Path(__file__).resolve().parents[2]
    recorded = tmp_path / "turn.json"
    recorded.write_text("[]")
    done = subprocess.run([sys.executable, str(root / "Benchmarks/turn/bench_turn.py"), "--languages", "en", "--speeds", "175",
                           "--clean-only", "--from-json", str(recorded)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert f"{recorded} has no evidence for" in done.stderr and "en/finished/175/clean/" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_turn_benchmark_compares_error_rates_clip_by_clip(monkeypatch):
    """The difference to transcribe() is paired: a side that is better on every clip by the same
    amount has that amount as its whole interval, however hard the clips are; differences that go
    either way give an interval around 0."""
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "Benchmarks/turn"))
    bench = importlib.import_module("bench_turn")
    theirs = [0.0, 0.9, 0.3, 1.0, 0.5, 0.2]
    low, high = bench.paired_interval([e - 0.1 for e in theirs], theirs)
    assert low == pytest.approx(-0.1) and high == pytest.approx(-0.1)
    low, high = bench.paired_interval([0.2, 0.0, 0.4, 0.1, 0.3, 0.0], [0.0, 0.2, 0.1, 0.4, 0.0, 0.3])
    assert low < 0 < high
    assert bench.paired_interval([0.2, 0.0], [0.0, 0.2]) == bench.paired_interval([0.2, 0.0], [0.0, 0.2])  # seeded


def test_the_turn_benchmark_replays_the_beam_search_text_to_the_hub(monkeypatch):
    """A pause's recorded ``refined`` text reaches the real Coordinator after its ``speculative``:
    Whisper base's greedy "Кополлика с" ends open (1.6 s), its beam search's "Который час." is a
    finished statement the confident model agrees with — the hold, 750 ms after the silence began."""
    import importlib

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "Benchmarks/turn"))
    bench = importlib.import_module("bench_turn")
    pause = {"at": 1.0, "stop": 0.936, "silence_ms": 64, "text": "Кополлика с", "language": "ru", "refining": True,
             "text_at": 1.2, "probability": 0.97, "probability_at": 1.05, "resume": None}
    greedy = bench.Evidence(speech_start=0.5, pauses=[dict(pause)])
    at, rule = bench.hub(greedy, "ru")
    assert rule == "open" and at == pytest.approx(0.936 + 1.6, abs=0.002)
    refined = bench.Evidence(speech_start=0.5, pauses=[{**pause, "refined": "Который час.", "refined_at": 1.3}])
    outputs = [event for _, event, _ in sorted(bench.worker_outputs(refined, 0))]
    assert outputs.index("speculative") < outputs.index("refined")
    at, rule = bench.hub(refined, "ru")
    assert rule == "hold" and at == pytest.approx(0.936 + 0.75, abs=0.002)
