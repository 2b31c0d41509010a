"""``voicecore demo``: streams typical assistant replies through the SentenceSplitter in LLM-sized
deltas with realistic token timing and shows each segment the moment it is emitted, with the
characters consumed so far (the interim ``make run``)."""

from __future__ import annotations

import argparse
import random
import sys
import time

from .registry import command
from ..splitter import SentenceSplitter

REPLIES: list[tuple[str, str]] = [
    ("en", "<think>The user wants the weather. Keep it short.</think>Sure, here's today's forecast for "
           "San Francisco: sunny, 21 °C, with a light breeze ☀️. Dr. Lee's talk at 3 p.m. is still on! "
           "Bring e.g. a jacket for the evening."),
    ("zh", "好的，我来帮你查一下。明天北京晴，最高气温25度，适合出门！记得带上《出行指南》😊。"),
    ("ru", "Конечно, вот ответ. Встреча назначена на 10:30, т.е. через час. Не опаздывайте!"),
    ("ja", "はい、わかりました。「明日は晴れ。」と予報が出ています。傘はいりません！"),
    ("de", "Gern, hier ist die Liste:\n\n1. **Milch** kaufen\n2. Hr. Müller anrufen, z.B. um 9 Uhr.\n\nViel Erfolg! 👍"),
]


def deltas(text: str, rng: random.Random) -> list[str]:
    """Cuts text like an LLM stream: 1–6 characters per delta (tokens), CJK shorter."""
    out, i = [], 0
    while i < len(text):
        n = rng.randint(1, 3) if ord(text[i]) > 0x2E80 else rng.randint(2, 6)
        out.append(text[i:i + n])
        i += n
    return out


@command("demo", "stream typical assistant replies through the sentence splitter")(
    lambda p: (p.add_argument("--no-delay", action="store_true", help="no token timing (for tests)"),
               p.add_argument("--seed", type=int, default=7, help="seed of the delta cutting")))
def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    token_s = 0.0 if args.no_delay else 0.012
    out = sys.stdout
    for lang, reply in REPLIES:
        out.write(f"── {lang} reply ({len(reply)} chars, streamed in LLM deltas)\n")
        splitter = SentenceSplitter()
        consumed = 0
        start = time.perf_counter()
        for delta in deltas(reply, rng):
            if token_s:
                time.sleep(token_s)
            consumed += len(delta)
            for seg in splitter.feed(delta):
                _show(out, seg, consumed, start)
        for seg in splitter.finish():
            _show(out, seg, consumed, start)
        out.write("\n")
    return 0


def _show(out, seg, consumed: int, start: float) -> None:  # type: ignore[no-untyped-def]
    emoji = f"  emoji {' '.join(seg.emoji)}" if seg.emoji else ""
    out.write(f"  [{consumed:4d} chars, {1000 * (time.perf_counter() - start):6.0f} ms] #{seg.index} {seg.text!r}{emoji}\n")
    out.flush()
