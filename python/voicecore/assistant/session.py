"""Conversation sessions: what ``on_utterance`` gets for one turn.

A device's memory with an agent (recent turns, a summary of older ones, long-term facts) lives in
a memory backend (voicecore.memory): the memory service shared by every worker (``voicecore
memory``, ``VOICECORE_MEMORY_URL``) or, for one worker alone, a local SQLite file. The turn loads it
before the script runs, so ``session.history`` is a plain list. What goes to the LLM is bounded by a
token budget: the newest turns that fit; older ones are summarised in the background after a reply
(docs/memory.md). Tokens are estimated (4 characters a token, plus a few per message), which is
close for English and conservative for CJK; set the budget with that in mind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..memory import Memory, MemoryBackend, estimate_tokens
from .tools import ToolRegistry

__all__ = ["Session", "estimate_tokens"]


@dataclass
class Session:
    """Who is talking (``device_id``, with which ``agent``), in which language, what was said before
    (``history``, ``summary``, ``facts``), and the device's MCP tools."""

    device_id: str
    id: str
    language: str
    agent: str = "default"
    memory: Memory = field(default_factory=Memory)
    backend: MemoryBackend | None = None
    budget_tokens: int = 2000
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    data: dict[str, Any] = field(default_factory=dict)  # scratch space for the script, per connection
    instruction: bool = False  # this job phrases what the device says first (say/remind with instruction=)

    @property
    def history(self) -> list[dict[str, str]]:
        """Earlier turns as OpenAI chat messages, the newest that fit ``budget_tokens`` (those not yet
        folded into ``summary``)."""
        return [{"role": m["role"], "content": m["content"]} for m in self.memory.messages]

    @property
    def summary(self) -> str:
        """What older turns said, summarised by the LLM ("" until the history outgrew its budget)."""
        return self.memory.summary

    @property
    def facts(self) -> list[str]:
        """Long-term facts kept for this device and agent (the ``remember`` tool, ``remember_fact``)."""
        return list(self.memory.facts)

    async def remember_fact(self, text: str) -> bool:
        """Keeps ``text`` as a long-term fact: later turns, on any worker, get it in their system prompt."""
        if self.backend is None:
            return False
        text = " ".join(text.split())
        if text and text not in self.memory.facts:
            self.memory.facts.append(text)
        return await self.backend.add_fact(self.agent, self.device_id, text)

    async def forget(self) -> None:
        """Forgets this device's conversation, summary and facts with this agent."""
        self.memory = Memory()
        if self.backend is not None:
            await self.backend.forget(self.agent, self.device_id)
