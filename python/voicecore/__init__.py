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

# Python SDK (issue 7): imported on first use, so ctypes-only users need no aiohttp/websockets.
_LAZY = {"Assistant": ".assistant", "LLM": ".assistant", "Session": ".assistant", "Worker": ".worker", "Job": ".worker"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module 'voicecore' has no attribute {name!r}")


# Coordinator
from .coordinator import Coordinator, RejectedEvent  # noqa: E402

__all__ += ["Coordinator", "RejectedEvent"]

# Retriever (issue 5)
from .embeddings import EmbeddingError, OpenAIEmbedder  # noqa: E402
from .retriever import Hit, Retriever  # noqa: E402

__all__ += ["EmbeddingError", "Hit", "OpenAIEmbedder", "Retriever"]

# Simulator
from .simulator import INJECTABLE_BUGS, SimReport, simulate  # noqa: E402

__all__ += ["INJECTABLE_BUGS", "SimReport", "simulate"]
