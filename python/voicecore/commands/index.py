"""``voicecore index DIR --out kb.vcidx``: indexes the .txt, .md and .html files under DIR."""

from __future__ import annotations

import argparse
import html
import re
import sys
from pathlib import Path

from .registry import command
from ..retriever import Retriever

EXTENSIONS = {".txt", ".md", ".markdown", ".html", ".htm"}
_SKIP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)
_BLOCK = re.compile(r"</?(p|div|br|h[1-6]|li|tr|section|article|pre|blockquote)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")


def html_to_text(source: str) -> str:
    """Visible text of an HTML page, with block elements as paragraph breaks."""
    text = _SKIP.sub(" ", source)
    text = _BLOCK.sub("\n\n", text)
    text = html.unescape(_TAG.sub(" ", text))
    return re.sub(r"\n\s*\n+", "\n\n", re.sub(r"[ \t\r\f\v]+", " ", text)).strip()


def _progress(done: int, total: int, name: str) -> None:
    width = 30
    filled = width * done // max(total, 1)
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {name[-40:]:<40}")
    sys.stderr.flush()


STOPWORDS = {"spoken": "spoken", "function": True, "none": False}  # the Retriever's "stopwords" option


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dir", type=Path, help="folder to index (recursively)")
    p.add_argument("--out", required=True, type=Path, help="index file to create or update")
    p.add_argument("--chunk-size", type=int, default=1000, help="target chunk size in characters (new index)")
    p.add_argument("--overlap", type=float, default=0.15, help="chunk overlap fraction (new index)")
    p.add_argument("--stopwords", choices=tuple(STOPWORDS), default="spoken",
                   help="words left out of the index and its queries (new index): spoken (the default: function words and "
                        "the question words of spoken queries, for an assistant's knowledge), function, or none")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


@command("index", "index a folder of .txt, .md and .html files into a Retriever file")(_add_arguments)
def run(args: argparse.Namespace) -> int:
    if not args.dir.is_dir():
        print(f"voicecore index: {args.dir} is not a folder", file=sys.stderr)
        return 2
    files = sorted(f for f in args.dir.rglob("*") if f.is_file() and f.suffix.lower() in EXTENSIONS)
    kb = Retriever(args.out, {"chunk_size": args.chunk_size, "chunk_overlap": args.overlap, "stopwords": STOPWORDS[args.stopwords]})
    for n, f in enumerate(files, 1):
        raw = f.read_text(encoding="utf-8", errors="replace")
        text = html_to_text(raw) if f.suffix.lower() in {".html", ".htm"} else raw
        rel = str(f.relative_to(args.dir))
        kb.add(rel, text, metadata={"path": rel, "type": f.suffix.lower().lstrip(".")})
        if not args.quiet:
            _progress(n, len(files), rel)
    kb.save()
    stats = kb.stats()
    if not args.quiet:
        sys.stderr.write("\n")
    print(f"indexed {len(files)} files: {stats['documents']} documents, {stats['chunks']} chunks -> {args.out}")
    return 0
