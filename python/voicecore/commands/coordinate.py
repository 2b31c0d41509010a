"""``voicecore coordinate``: drive a Coordinator from a JSON-lines script of events.

Each input line is ``{"now_us": T, "event": {...}, "data_hex": "..."}`` (``data_hex`` optional;
``now_us`` defaults to the previous line's); an event is a dict of docs/events.md with integer
``session`` / ``worker`` ids, turned into the ``vc_event`` the daemon hands the core. Each output line is ``{"effect": {...}}`` (binary
payloads as ``data_len``) or, with ``--log``, ``{"log": {...}}``; a rejected event prints
``{"rejected": "reason"}``. Handy to reproduce what the daemon saw.
"""

from __future__ import annotations

import argparse
import json
import sys

from .registry import command
from ..coordinator import Coordinator, RejectedEvent


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("script", nargs="?", help="a JSON-lines file of events (default: stdin)")
    p.add_argument("--config", default="{}", help="the Coordinator's config as a JSON object")
    p.add_argument("--log", action="store_true", help="also print the event log")


@command("coordinate", "run a JSON-lines script of events through a Coordinator, print effects")(_add)
def run(args: argparse.Namespace) -> int:
    coordinator = Coordinator(json.loads(args.config))
    source = open(args.script, encoding="utf-8") if args.script else sys.stdin
    out = sys.stdout
    now = 0
    rejected = 0
    with source:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                now = int(item.get("now_us", now))
                data = bytes.fromhex(item.get("data_hex", ""))
                event = item["event"]
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                print(f"voicecore coordinate: line {number}: {exc}", file=sys.stderr)
                return 2
            try:
                effects = coordinator.handle(event, now, data)
            except RejectedEvent as exc:
                effects = exc.effects
                rejected += 1
                out.write(json.dumps({"rejected": exc.message}, ensure_ascii=False) + "\n")
            for effect in effects:
                if "data" in effect:
                    effect["data_len"] = len(effect.pop("data"))
                out.write(json.dumps({"effect": effect}, ensure_ascii=False) + "\n")
            if args.log:
                for entry in coordinator.logs():
                    out.write(json.dumps({"log": entry}, ensure_ascii=False) + "\n")
    return 1 if rejected else 0
