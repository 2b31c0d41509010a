"""The ``voicecore`` command. Each sub-command lives in its own module and registers itself here."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

Command = Callable[[argparse.Namespace], int]

# (name, help, add_arguments, run), filled by the sub-command modules imported below.
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Command]] = []


def command(name: str, help: str) -> Callable[[Callable[[argparse.ArgumentParser], None]], Callable]:
    """Decorator for a sub-command's ``add_arguments``; the parser's ``run`` default is the runner."""

    def register(add_arguments: Callable[[argparse.ArgumentParser], None]) -> Callable:
        def attach(run: Command) -> Command:
            _COMMANDS.append((name, help, add_arguments, run))
            return run

        return attach

    return register


def build_parser() -> argparse.ArgumentParser:
    from . import commands  # noqa: F401  (registers the sub-commands)
    from ._native import version

    parser = argparse.ArgumentParser(prog="voicecore", description="VoiceCore: a streaming voice-assistant core.")
    parser.add_argument("--version", action="store_true", help="print the library version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, add_arguments, run in sorted(_COMMANDS, key=lambda c: c[0]):
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
