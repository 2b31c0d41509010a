"""VoiceCore: the streaming voice-assistant core.

The deterministic parts (sentence splitting, coordination, scheduling, retrieval, simulation)
live in libvoicecore and are reached through ctypes; this package adds the worker SDK, the
default workers and the ``voicecore`` command.
"""

from __future__ import annotations

from ._native import ABI_VERSION, Error, LibraryNotFound, version

__all__ = ["ABI_VERSION", "Error", "LibraryNotFound", "version"]

# Sentence splitter
from .splitter import Segment, SentenceSplitter, split_sentences  # noqa: E402

__all__ += ["Segment", "SentenceSplitter", "split_sentences"]

# Coordinator
from .coordinator import Coordinator, RejectedEvent  # noqa: E402

__all__ += ["Coordinator", "RejectedEvent"]

# Simulator
from .simulator import INJECTABLE_BUGS, SimReport, simulate  # noqa: E402

__all__ += ["INJECTABLE_BUGS", "SimReport", "simulate"]
