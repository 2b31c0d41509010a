"""Sub-commands of the ``voicecore`` CLI, one module each; importing this package registers them
all (``registry.COMMANDS``)."""

from . import coordinate, demo, index, memory, replay, search, sim, split, talk, up, worker  # noqa: F401
from .registry import COMMANDS

__all__ = ["COMMANDS"]
