"""``voicecore memory``: the memory service assistant workers keep conversations in (docs/memory.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys

from .registry import command


def default_db() -> str:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "voicecore", "memory.sqlite3")


@command("memory", "run the memory service: conversations, summaries and facts per agent and device, shared by assistant workers")
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 for workers on other machines)")
    p.add_argument("--port", type=int, default=8700, help="port (default 8700; 0: any free port, printed in the `listening` line)")
    p.add_argument("--db", default=os.environ.get("VOICECORE_MEMORY_DB") or default_db(),
                   help="the SQLite file (env VOICECORE_MEMORY_DB; default ~/.local/state/voicecore/memory.sqlite3)")
    p.add_argument("--token", default=os.environ.get("VOICECORE_MEMORY_TOKEN", ""),
                   help="the bearer token clients present (env VOICECORE_MEMORY_TOKEN; required)")
    p.add_argument("--log-level", default=os.environ.get("VOICECORE_LOG_LEVEL", "INFO"))


@add_arguments
def run(args: argparse.Namespace) -> int:
    from ..memory.service import listening_line, serve

    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.token:
        print("voicecore memory: no token (--token or VOICECORE_MEMORY_TOKEN)", file=sys.stderr)
        return 2

    def ready(port: int) -> None:
        print(listening_line(args.host, port, args.db), flush=True)

    async def main() -> None:
        task = asyncio.ensure_future(serve(args.db, args.token, args.host, args.port, ready))
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, task.cancel)
        try:
            await task
        except asyncio.CancelledError:
            pass

    try:
        asyncio.run(main())
    except OSError as exc:
        print(f"voicecore memory: {exc}", file=sys.stderr)
        return 1
    return 0
