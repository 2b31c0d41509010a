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

# Retriever (issue 5)
from .embeddings import EmbeddingError, OpenAIEmbedder  # noqa: E402
from .retriever import Hit, Retriever  # noqa: E402

__all__ += ["EmbeddingError", "Hit", "OpenAIEmbedder", "Retriever"]
