"""An OpenAI-compatible chat client: streaming over HTTP/SSE, timeouts, retries with backoff and
failover across endpoints, and the tool-calling loop.

Endpoints are base URLs ending in ``/v1`` (llama.cpp server, vLLM, Ollama, hosted APIs). A request
that fails before its first token (connection refused, timeout, HTTP 429/5xx) moves on to the next
endpoint; when all have failed, it waits (exponential backoff with jitter) and goes round again, up
to ``attempts`` rounds. Once text has been streamed, a failure is raised: retrying would repeat it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

import aiohttp

from .tools import ToolRegistry

log = logging.getLogger("voicecore.llm")


class LLMError(RuntimeError):
    """The LLM could not answer (every endpoint failed, or a stream broke mid-answer)."""


class _Retryable(Exception):
    pass


@dataclass
class LLM:
    endpoints: list[str] = field(default_factory=list)
    model: str = ""
    api_key: str = ""
    connect_timeout: float = 5.0
    first_token_timeout: float = 20.0
    idle_timeout: float = 15.0
    attempts: int = 3
    backoff_base: float = 0.25
    max_tool_rounds: int = 4
    rng: random.Random = field(default_factory=random.Random)
    # Set by Assistant: the tools of the turn in progress, and where tool events go.
    tool_source: Callable[[], ToolRegistry | None] | None = None
    on_tool_event: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None
    # Asks a streaming server for the tokens a request used (``stream_options.include_usage``);
    # each request's ``usage`` (and the model that answered) goes to ``on_usage``. Assistant
    # reports them to the hub, which counts them against the budgets (docs/agents.md).
    include_usage: bool = True
    on_usage: Callable[[str, dict[str, Any]], None] | None = None
    _preferred: int = 0
    _models: dict[str, str] = field(default_factory=dict)

    @staticmethod
    def from_env() -> "LLM":
        """``VOICECORE_LLM_URL`` (comma-separated base URLs), ``VOICECORE_LLM_MODEL``, ``VOICECORE_LLM_API_KEY``."""
        urls = [u.strip() for u in os.environ.get("VOICECORE_LLM_URL", "").split(",") if u.strip()]
        return LLM(endpoints=urls, model=os.environ.get("VOICECORE_LLM_MODEL", ""), api_key=os.environ.get("VOICECORE_LLM_API_KEY", ""))

    @property
    def available(self) -> bool:
        return bool(self.endpoints)

    # Public ------------------------------------------------------------------------------------

    async def stream(self, messages: list[dict[str, Any]], tools: ToolRegistry | None | bool = True, **options: Any) -> AsyncIterator[str]:
        """Text deltas of the reply. ``tools=True`` offers the turn's tools (``@app.tool`` and the
        device's MCP tools) and runs the calls the model makes; ``False`` offers none."""
        if tools is True:
            registry = self.tool_source() if self.tool_source else None
        else:
            registry = tools if isinstance(tools, ToolRegistry) else None
        if registry is not None and not registry.tools:
            registry = None
        conversation = list(messages)
        for _ in range(self.max_tool_rounds + 1):
            calls: dict[int, dict[str, Any]] = {}
            # aclosing (here and below): a consumer that stops mid-reply (a cancelled turn) closes the
            # HTTP stream at once; async for alone would leave the inner generators suspended.
            async with aclosing(self._stream_once(conversation, registry, options)) as once:
                async for kind, value in once:
                    if kind == "text":
                        yield value
                    else:
                        calls = value
            if not calls or registry is None:
                return
            ordered = [calls[i] for i in sorted(calls)]
            conversation.append({"role": "assistant", "content": None, "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}} for c in ordered]})
            results = await asyncio.gather(*(self._run_tool(registry, c) for c in ordered))
            for call, result in zip(ordered, results):
                conversation.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        raise LLMError(f"the model kept calling tools after {self.max_tool_rounds} rounds")

    async def complete(self, messages: list[dict[str, Any]], **options: Any) -> str:
        async with aclosing(self.stream(messages, tools=False, **options)) as deltas:
            return "".join([d async for d in deltas])

    # Tools -------------------------------------------------------------------------------------

    async def _run_tool(self, registry: ToolRegistry, call: dict[str, Any]) -> str:
        try:
            arguments = json.loads(call["arguments"] or "{}")
        except ValueError as exc:
            arguments = None
            error = f"arguments are not valid JSON: {exc}"
        if self.on_tool_event:
            await self.on_tool_event("tool_call", {"id": call["id"], "name": call["name"], "arguments": arguments if arguments is not None else call["arguments"]})
        if arguments is None:
            result = {"error": error}
        else:
            result = await registry.call(call["name"], arguments)
        if self.on_tool_event:
            await self.on_tool_event("tool_result", {"id": call["id"], "name": call["name"], "ok": "error" not in result, "result": result})
        return json.dumps(result, ensure_ascii=False)

    # One request with failover -----------------------------------------------------------------

    async def _stream_once(self, messages: list[dict[str, Any]], registry: ToolRegistry | None, options: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
        if not self.endpoints:
            raise LLMError("no LLM endpoint configured (set VOICECORE_LLM_URL)")
        failures: list[str] = []
        for round_ in range(self.attempts):
            if round_:
                ceiling = self.backoff_base * 2 ** (round_ - 1)
                await asyncio.sleep(self.rng.uniform(ceiling / 2, ceiling))
            for k in range(len(self.endpoints)):
                index = (self._preferred + k) % len(self.endpoints)
                endpoint = self.endpoints[index].rstrip("/")
                started = False
                try:
                    async with aclosing(self._request(endpoint, messages, registry, options)) as items:
                        async for item in items:
                            started = True
                            yield item
                    self._preferred = index
                    return
                except _Retryable as exc:
                    if started:
                        raise LLMError(f"{endpoint}: stream broke mid-answer: {exc}") from exc
                    failures.append(f"{endpoint}: {exc}")
                    log.warning("LLM endpoint %s failed: %s", endpoint, exc)
        raise LLMError("every LLM endpoint failed: " + "; ".join(failures[-len(self.endpoints) * 2 :]))

    async def _model_for(self, http: aiohttp.ClientSession, endpoint: str) -> str:
        if self.model:
            return self.model
        if endpoint not in self._models:
            try:
                async with http.get(f"{endpoint}/models", headers=self._headers()) as r:
                    data = (await r.json()).get("data") or [{}]
                    self._models[endpoint] = str(data[0].get("id") or "default")
            except (aiohttp.ClientError, ValueError, asyncio.TimeoutError):
                self._models[endpoint] = "default"
        return self._models[endpoint]

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    async def _request(self, endpoint: str, messages: list[dict[str, Any]], registry: ToolRegistry | None, options: dict[str, Any]) -> AsyncIterator[tuple[str, Any]]:
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout, connect=self.connect_timeout)
        try:
            async with aiohttp.ClientSession(timeout=timeout) as http:
                body: dict[str, Any] = {"model": await self._model_for(http, endpoint), "messages": messages, "stream": True, **options}
                if self.include_usage and "stream_options" not in body:
                    body["stream_options"] = {"include_usage": True}
                if registry is not None:
                    body["tools"] = registry.openai_schema()
                try:
                    response = await asyncio.wait_for(http.post(f"{endpoint}/chat/completions", json=body, headers=self._headers()), self.first_token_timeout)
                except asyncio.TimeoutError:
                    raise _Retryable(f"no response for {self.first_token_timeout:.1f} s") from None
                async with response:
                    if response.status == 429 or response.status >= 500:
                        raise _Retryable(f"HTTP {response.status}")
                    if response.status != 200:
                        raise LLMError(f"{endpoint} answered HTTP {response.status}: {(await response.text())[:300]}")
                    calls: dict[int, dict[str, Any]] = {}
                    wait = self.first_token_timeout
                    while True:
                        try:
                            line = await asyncio.wait_for(response.content.readline(), wait)
                        except asyncio.TimeoutError:
                            raise _Retryable(f"no data for {wait:.1f} s") from None
                        if not line:
                            break
                        line = line.strip()
                        if not line.startswith(b"data:"):
                            continue
                        data = line[5:].strip()
                        if data == b"[DONE]":
                            break
                        try:
                            chunk = json.loads(data)
                        except ValueError:
                            raise _Retryable("malformed SSE data") from None
                        wait = self.idle_timeout
                        usage = chunk.get("usage")
                        if isinstance(usage, dict) and self.on_usage is not None:
                            self.on_usage(str(chunk.get("model") or body["model"]), usage)
                        for choice in chunk.get("choices") or []:
                            delta = choice.get("delta") or {}
                            if delta.get("content"):
                                yield ("text", delta["content"])
                            for tc in delta.get("tool_calls") or []:
                                slot = calls.setdefault(int(tc.get("index", 0)), {"id": "", "name": "", "arguments": ""})
                                slot["id"] = tc.get("id") or slot["id"]
                                fn = tc.get("function") or {}
                                slot["name"] += fn.get("name") or ""
                                slot["arguments"] += fn.get("arguments") or ""
                    for i, c in calls.items():
                        c["id"] = c["id"] or f"call_{i}"
                    if calls:
                        yield ("calls", calls)
        except (aiohttp.ClientError, OSError) as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
