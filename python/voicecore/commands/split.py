"""``voicecore split``: split stdin into segments, one per line."""

from __future__ import annotations

import argparse
import sys

from .registry import command
from ..splitter import SentenceSplitter


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--language", default="auto", help="auto (default), en, de, fr, es, ru, zh, ja, ko, hi, ar, ...")
    p.add_argument("--stream", action="store_true",
                   help="read stdin as it arrives and print each segment as soon as it is ready "
                        "(first segment may end at a comma); default: batch sentence splitting")
    p.add_argument("--raw", action="store_true", help="keep markdown, <think> blocks and emoji")
    p.add_argument("--max-chars", type=int, default=220, help="maximum segment length (default 220)")


@command("split", "split text from stdin into sentences/segments, one per line")(_add)
def run(args: argparse.Namespace) -> int:
    splitter = SentenceSplitter(
        language=args.language,
        first_segment="comma" if args.stream else "sentence",
        max_segment_chars=args.max_chars,
        clean_for_speech=not args.raw,
        semicolon_ends=args.stream,
    )
    out = sys.stdout
    stdin = sys.stdin.buffer
    while True:
        chunk = stdin.read1(4096) if args.stream else stdin.read()
        if not chunk:
            break
        for seg in splitter.push(chunk):
            out.write(seg + "\n")
        if args.stream:
            out.flush()
    for seg in splitter.flush():
        out.write(seg + "\n")
    out.flush()
    return 0
