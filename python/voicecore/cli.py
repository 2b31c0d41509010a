"""The ``voicecore`` command. Each sub-command lives in its own module of ``voicecore.commands``,
which registers it (``commands.registry``)."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence


def build_parser() -> argparse.ArgumentParser:
    from ._native import version
    from .commands import COMMANDS

    parser = argparse.ArgumentParser(prog="voicecore", description="VoiceCore: a streaming voice-assistant core.")
    parser.add_argument("--version", action="store_true", help="print the library version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_arguments, run in sorted(COMMANDS, key=lambda c: c[0]):
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.set_defaults(run=run)
    parser.set_defaults(version_fn=version)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ._native import Error

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        print(args.version_fn())
        return 0
    if not getattr(args, "run", None):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except Error as exc:
        print(f"voicecore: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
