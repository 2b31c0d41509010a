"""Scripted peers that speak the real protocols, for tests and local experiments:
``ScriptedHub`` (the hub side of the worker protocol) and ``ScriptedLLM`` (an OpenAI-compatible
HTTP/SSE server that answers from a script)."""

from __future__ import annotations

from .hub import HubWorker, ScriptedHub
from .llm_server import ScriptedLLM

__all__ = ["HubWorker", "ScriptedHub", "ScriptedLLM"]
