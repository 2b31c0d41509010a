"""The device's MCP tools (XiaoZhi firmware: JSON-RPC 2.0 in ``mcp`` messages), reached through
the assistant job.

The hub owns the device side: it sends ``initialize`` and ``tools/list`` after the device's hello,
hands the listed tools to every assistant job (job param ``tools``), forwards a job's requests to
the device under ids of its own and answers each with the device's result or, when the device does
not answer in time, a JSON-RPC error. This side runs the LLM's tool loop: a call goes out as an
``output`` ``mcp`` event and its answer comes back as an ``input`` ``mcp`` event with the same id.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any, Awaitable, Callable

from .tools import Tool, ToolRegistry, llm_name

SendPayload = Callable[[dict[str, Any]], Awaitable[None]]
log = logging.getLogger("voicecore.assistant.mcp")

# The hub times a device call out (config ``mcp_call_timeout_ms``, default 10 s) and answers with an
# error; this is only a backstop for a hub that never answers.
BACKSTOP_TIMEOUT = 60.0


class McpError(RuntimeError):
    pass


class DeviceMcp:
    """One job's channel to the device's MCP server. ``bind(send)`` points it at the running job."""

    def __init__(self, timeout: float = BACKSTOP_TIMEOUT) -> None:
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._send: SendPayload | None = None

    @property
    def bound(self) -> bool:
        return self._send is not None

    def bind(self, send: SendPayload | None) -> None:
        self._send = send
        if send is None:
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(McpError("the turn ended before the device answered"))
            self._pending.clear()

    def unbind(self, send: SendPayload) -> None:
        """A job that ends lets go of the device only if it is still the one bound (a later job of
        the same device may have bound itself meanwhile, e.g. the final beside a preemptive one)."""
        if self._send is send:
            self.bind(None)

    def deliver(self, payload: Any) -> None:
        """An ``mcp`` input: the answer to one of this job's requests."""
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
            log.warning("mcp input without an integer id dropped: %r", payload)
            return
        future = self._pending.pop(payload["id"], None)
        if future is None or future.done():
            log.warning("mcp answer to no pending request dropped (id %s)", payload["id"])
            return
        future.set_result(payload)

    async def request(self, method: str, params: dict[str, Any] | None = None) -> Any:
        if self._send is None:
            raise McpError("no turn in progress to reach the device through")
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[ident] = future
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            message["params"] = params
        await self._send(message)
        try:
            answer = await asyncio.wait_for(future, self.timeout)
        except asyncio.TimeoutError:
            raise McpError(f"no answer to {method} within {self.timeout:g} s") from None
        finally:
            self._pending.pop(ident, None)
        if "error" in answer:
            error = answer["error"]
            raise McpError(str(error.get("message") if isinstance(error, dict) else error))
        return answer.get("result")

    def registry(self, specs: list[Any]) -> ToolRegistry:
        """The tools the hub listed (job param ``tools``, the device's ``tools/list`` entries)."""
        registry = ToolRegistry()
        for spec in specs:
            if isinstance(spec, dict):
                self.add_tool(registry, spec)
        return registry

    def add_tool(self, registry: ToolRegistry, spec: dict[str, Any]) -> None:
        name = str(spec.get("name") or "")
        if not name:
            return
        schema = spec.get("inputSchema") if isinstance(spec.get("inputSchema"), dict) else {"type": "object", "properties": {}}

        async def run(arguments: dict[str, Any], _name: str = name) -> Any:
            result = await self.request("tools/call", {"name": _name, "arguments": arguments})
            if isinstance(result, dict) and result.get("isError"):
                raise McpError(_text_of(result) or "device tool failed")
            return _text_of(result) if isinstance(result, dict) and "content" in result else result

        registry.add(Tool(llm_name(name), str(spec.get("description") or name), schema, run, self.timeout + 1, source="device"))


def _text_of(result: dict[str, Any]) -> str:
    return " ".join(str(c.get("text", "")) for c in result.get("content") or [] if isinstance(c, dict))
