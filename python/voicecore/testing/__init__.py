"""Scripted peers that speak the real protocols, for tests and local experiments:
``ScriptedHub`` (the hub side of the worker protocol) and ``ScriptedLLM`` (an OpenAI-compatible
HTTP/SSE server that answers from a script), and spoken input (``speak``, ``silence``)."""

from __future__ import annotations

from .hub import HubWorker, ScriptedHub
from .llm_server import Rule, ScriptedLLM, ToolCall
from .speech import silence, speak
from .wer import word_error_rate

__all__ = ["HubWorker", "Rule", "ScriptedHub", "ScriptedLLM", "ToolCall", "silence", "speak", "word_error_rate"]
