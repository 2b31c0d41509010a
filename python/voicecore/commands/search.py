"""``voicecore search kb.vcidx "question"``: prints the best chunks (or documents) of an index."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .registry import command
from ..retriever import Retriever


def _add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("index", type=Path, help="index file made by `voicecore index`")
    p.add_argument("query", help="the question")
    p.add_argument("-k", type=int, default=5, help="number of results")
    p.add_argument("--filter", default=None, help='metadata filter as JSON, e.g. \'{"type": "md"}\'')
    p.add_argument("--documents", action="store_true", help="one hit per document (its best chunk)")
    p.add_argument("--json", action="store_true", help="one JSON object per hit")


@command("search", "search a Retriever index file")(_add_arguments)
def run(args: argparse.Namespace) -> int:
    if not args.index.is_file():
        print(f"voicecore search: {args.index} does not exist", file=sys.stderr)
        return 2
    kb = Retriever(args.index)
    hits = kb.search(args.query, k=args.k, mode="bm25", filter=json.loads(args.filter) if args.filter else None,
                     group_by="document" if args.documents else "chunk")
    for rank, h in enumerate(hits, 1):
        if args.json:
            print(json.dumps({"rank": rank, "id": h.id, "chunk": h.chunk, "score": h.score, "start": h.start,
                              "end": h.end, "text": h.text, "metadata": h.metadata}, ensure_ascii=False))
        else:
            snippet = " ".join(h.text.split())[:200]
            print(f"{rank}. {h.id} #{h.chunk} [{h.start}:{h.end}] score {h.score:.3f}\n   {snippet}")
    if not hits and not args.json:
        print("no results")
    return 0
