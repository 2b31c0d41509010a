"""The sub-commands' registry: each sub-command module registers itself with ``command``; the
``voicecore`` command (``voicecore.cli``) builds its parser from ``COMMANDS``."""

from __future__ import annotations

import argparse
from typing import Callable

Command = Callable[[argparse.Namespace], int]
AddArguments = Callable[[argparse.ArgumentParser], None]

# (name, help, add_arguments, run), filled as the sub-command modules are imported.
COMMANDS: list[tuple[str, str, AddArguments, Command]] = []


def command(name: str, help: str) -> Callable[[AddArguments], Callable[[Command], Command]]:
    """Decorator for a sub-command's ``add_arguments``; the parser's ``run`` default is the runner."""

    def register(add_arguments: AddArguments) -> Callable[[Command], Command]:
        def attach(run: Command) -> Command:
            COMMANDS.append((name, help, add_arguments, run))
            return run

        return attach

    return register
