"""The device's MCP tools (XiaoZhi firmware: JSON-RPC 2.0 in ``mcp`` messages), reached through
the assistant job: requests go out as ``output`` ``mcp`` events, answers come back as ``input``
``mcp`` events, matched by JSON-RPC id."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any, Awaitable, Callable

from .tools import Tool, ToolRegistry, llm_name

SendPayload = Callable[[dict[str, Any]], Awaitable[None]]


class McpError(RuntimeError):
    pass


class DeviceMcp:
    """One device connection's MCP client. ``bind(send)`` points it at the running job."""

    def __init__(self, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._send: SendPayload | None = None
        self.tools: ToolRegistry | None = None  # listed once per connection

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
        """An ``mcp`` input from the device."""
        if isinstance(payload, dict) and isinstance(payload.get("id"), int):
            future = self._pending.pop(payload["id"], None)
            if future is not None and not future.done():
                future.set_result(payload)

    async def request(self, method: str, params: dict[str, Any] | None = None, timeout: float | None = None) -> Any:
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
            answer = await asyncio.wait_for(future, timeout or self.timeout)
        except asyncio.TimeoutError:
            raise McpError(f"device did not answer {method} within {timeout or self.timeout:g} s") from None
        finally:
            self._pending.pop(ident, None)
        if "error" in answer:
            error = answer["error"]
            raise McpError(str(error.get("message") if isinstance(error, dict) else error))
        return answer.get("result")

    async def list_tools(self, timeout: float = 2.0) -> ToolRegistry:
        if self.tools is not None:
            return self.tools
        await self.request("initialize", {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "voicecore", "version": "0.1"}}, timeout)
        registry = ToolRegistry()
        cursor = ""
        for _ in range(20):  # pages
            result = await self.request("tools/list", {"cursor": cursor} if cursor else {}, timeout) or {}
            for spec in result.get("tools") or []:
                self.add_tool(registry, spec)
            cursor = result.get("nextCursor") or ""
            if not cursor:
                break
        self.tools = registry
        return registry

    def use_listed(self, specs: list[dict[str, Any]]) -> ToolRegistry:
        """Tools the hub already listed (job param ``tools``)."""
        registry = ToolRegistry()
        for spec in specs:
            self.add_tool(registry, spec)
        self.tools = registry
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

        registry.add(Tool(llm_name(name), str(spec.get("description") or name), schema, run, self.timeout, source="device"))


def _text_of(result: dict[str, Any]) -> str:
    return " ".join(str(c.get("text", "")) for c in result.get("content") or [] if isinstance(c, dict))
