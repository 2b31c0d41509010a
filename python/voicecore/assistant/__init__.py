"""Business logic as a plain Python script: ``Assistant``, its LLM client, tools and sessions."""

from __future__ import annotations

from .app import Assistant
from .llm import LLM, LLMError
from .mcp import DeviceMcp, McpError
from .session import Session
from .tools import Tool, ToolRegistry, schema_from_function

__all__ = ["Assistant", "DeviceMcp", "LLM", "LLMError", "McpError", "Session", "Tool", "ToolRegistry", "schema_from_function"]
