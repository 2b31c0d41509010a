"""Whisper tiny.en per utterance: VoiceCore's short encoder window against faster-whisper's own
transcribe (the anchor, which pads every utterance to Whisper's 30 s window), on eSpeak questions
and commands as a device sends them (Opus at 16 kHz, 60 ms frames, decoded as the daemon does; each
utterance with three different silences around it, since Whisper's slips move with the exact audio),
in the same run: wall time and CPU time per pass, word error rate, utterances with a WER over 0.2,
and how often the transcript reads complete (the semantic early endpoint needs its final punctuation).

    python3 Benchmarks/asr/bench_asr.py [--rounds 2] [--window 12]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from voicecore.asr.faster_whisper_engine import FasterWhisperEngine  # noqa: E402
from voicecore.asr.recognizer import reads_complete  # noqa: E402
from voicecore.client import OpusDecoder, OpusEncoder  # noqa: E402
from voicecore.testing import silence, speak, word_error_rate  # noqa: E402

UTTERANCES = [
    "What is the capital of France?", "What is the capital of Germany?", "What is the capital of Japan?",
    "What is the highest mountain?", "Which ocean is the largest?", "How many minutes does it take to boil an egg?",
    "What is the weather like in London today?", "Please play some relaxing music.", "What time is it?",
    "Who wrote the novel Pride and Prejudice?", "Set a timer for ten minutes.", "Translate good morning into Spanish.",
    "Turn on the light in the kitchen and set the temperature to twenty one degrees.",
    "Can you tell me a short story about a dragon who learned to play the piano?",
    "Remind me to call my mother tomorrow at nine in the morning.",
    "Explain how photosynthesis works in simple words, and then tell me why leaves change color in the autumn.",
    "Stop.", "Yes please.",
]
SILENCES = [(0.1, 0.1), (0.3, 0.25), (0.2, 0.5)]  # seconds before and after the speech


def as_the_device_sends(pcm: bytes) -> np.ndarray:
    """PCM16 through an Opus encoder and decoder (16 kHz, 60 ms frames), as float32."""
    encoder, decoder = OpusEncoder(16000, 60), OpusDecoder(16000)
    frame = encoder.frame_samples * 2
    pcm += b"\0" * (-len(pcm) % frame)
    out = b"".join(decoder.decode(encoder.encode(pcm[i:i + frame])) for i in range(0, len(pcm), frame))
    return np.frombuffer(out, dtype=np.int16).astype(np.float32) / 32768


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def measure(engine: FasterWhisperEngine, window: float, clips: list[tuple[str, np.ndarray]], rounds: int) -> dict[str, float]:
    engine.window_s = window
    walls: list[float] = []
    cpus: list[float] = []
    wers: list[float] = []
    complete = 0
    for r in range(rounds):
        for text, clip in clips:
            c0, t0 = cpu_seconds(), time.perf_counter()
            out = asyncio.run(engine.transcribe(clip, "en")).text
            walls.append(time.perf_counter() - t0)
            cpus.append(cpu_seconds() - c0)
            if r == 0:
                wers.append(word_error_rate(text, out))
                complete += reads_complete(out)
    return {"wall": statistics.median(walls), "cpu": statistics.median(cpus), "wer": statistics.mean(wers),
            "bad": sum(w > 0.2 for w in wers), "complete": complete}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="passes over the utterances per configuration (default 2)")
    ap.add_argument("--window", type=float, default=FasterWhisperEngine.DEFAULT_WINDOW_S,
                    help=f"VoiceCore's shortest encoder window in seconds (default {FasterWhisperEngine.DEFAULT_WINDOW_S:g})")
    args = ap.parse_args()
    print(f"speaking {len(UTTERANCES)} utterances with eSpeak ...", flush=True)
    speech = {u: speak(u, trim=True) for u in UTTERANCES}
    clips = [(u, as_the_device_sends(silence(before) + speech[u] + silence(after))) for before, after in SILENCES for u in UTTERANCES]
    engine = FasterWhisperEngine()
    asyncio.run(engine.transcribe(clips[0][1], "en"))  # load and warm up
    rows = []
    # Alternate the two so that a change in the machine's load hits both alike.
    results: dict[str, list[dict[str, float]]] = {"anchor": [], "voicecore": []}
    for _ in range(2):
        results["anchor"].append(measure(engine, 30.0, clips, max(1, args.rounds // 2)))
        results["voicecore"].append(measure(engine, args.window, clips, max(1, args.rounds // 2)))
    for name, label in (("anchor", "faster-whisper transcribe (30 s window)"), ("voicecore", f"VoiceCore window {args.window:g} s")):
        rs = results[name]
        rows.append((label, statistics.mean(r["wall"] for r in rs), statistics.mean(r["cpu"] for r in rs), rs[0]["wer"], rs[0]["bad"], rs[0]["complete"]))
    n = len(clips)
    lengths = [len(c) / 16000 for _, c in clips]
    print(f"\nWhisper tiny.en int8, 2 threads, {len(UTTERANCES)} eSpeak utterances x {len(SILENCES)} silences = {n} clips of "
          f"{min(lengths):.1f}-{max(lengths):.1f} s, through Opus")
    print(f"| {'configuration':<42} | wall p50 | CPU p50 | mean WER | WER > 0.2 | reads complete |")
    print(f"|{'-' * 44}|---------:|--------:|---------:|----------:|---------------:|")
    for label, wall, cpu, wer, bad, comp in rows:
        print(f"| {label:<42} | {wall:7.3f}s | {cpu:6.3f}s | {wer:8.3f} | {bad:>3} of {n} | {comp:>7} of {n} |")
    print(f"\nspeed-up (wall, same run): {rows[0][1] / rows[1][1]:.2f}x; CPU: {rows[0][2] / rows[1][2]:.2f}x")


if __name__ == "__main__":
    main()
