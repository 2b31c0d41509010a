"""Memory that holds: each device's conversation per agent (recent messages, a summary of older
ones, long-term facts) in the memory service (``voicecore memory``), shared by every assistant
worker and hub. docs/memory.md."""

from __future__ import annotations

from .client import HttpMemory, LocalMemory, Memory, MemoryBackend, MemoryRefused, MemoryUnavailable
from .store import MemoryStore, estimate_tokens

__all__ = ["HttpMemory", "LocalMemory", "Memory", "MemoryBackend", "MemoryRefused", "MemoryStore", "MemoryUnavailable", "estimate_tokens"]
