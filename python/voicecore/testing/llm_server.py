"""A scripted OpenAI-compatible server: real HTTP, real SSE streaming, answers from a script.

    rules = [Rule(when="capital of france", reply="Paris is the capital of France.")]
    async with ScriptedLLM(rules) as llm:
        llm.url  # http://127.0.0.1:PORT/v1

Endpoints: ``GET /v1/models``, ``POST /v1/chat/completions`` (``stream`` true or false, tool calls
included), and, when callbacks are given, ``POST /v1/audio/speech`` and
``POST /v1/audio/transcriptions``. Faults for resilience tests: a rule can answer with an HTTP
``status``, wait ``first_token_delay`` seconds, or stall after ``stall_after`` chunks. Every
request body is kept in ``requests``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from aiohttp import web


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]


@dataclass
class Rule:
    """``when``: a case-insensitive regular expression searched in the last message (user or tool).
    A rule with ``times`` set is used that many times, then skipped."""

    when: str = ""
    reply: str = ""
    tool_calls: list[ToolCall] = field(default_factory=list)
    status: int = 200
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    stall_after: int | None = None
    times: int | None = None

    def matches(self, text: str) -> bool:
        return self.times != 0 and re.search(self.when, text, re.IGNORECASE) is not None


Script = Callable[[list[dict[str, Any]]], Rule]


def _last_text(messages: list[dict[str, Any]]) -> str:
    if not messages:
        return ""
    content = messages[-1].get("content") or ""
    if isinstance(content, list):  # content parts
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    return str(content)


def _chunks(text: str) -> list[str]:
    """Word-sized deltas, the way real servers stream tokens."""
    return re.findall(r"\s*\S+|\s+$", text) or ([text] if text else [])


class ScriptedLLM:
    def __init__(
        self,
        script: list[Rule] | Script,
        model: str = "scripted-llm",
        default_reply: str = "I do not know.",
        speech: Callable[[dict[str, Any]], Awaitable[bytes]] | None = None,
        transcribe: Callable[[bytes, dict[str, str]], Awaitable[str]] | None = None,
    ) -> None:
        self.script = script
        self.model = model
        self.default_reply = default_reply
        self.speech = speech
        self.transcribe = transcribe
        self.requests: list[dict[str, Any]] = []
        self.port = 0
        self.streams_open = 0  # streamed replies still being written
        self._ids = itertools.count(1)
        self._body_options: dict[str, dict[str, Any]] = {}
        self._prompt_words: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing: asyncio.Event | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def pick(self, messages: list[dict[str, Any]]) -> Rule:
        if callable(self.script):
            return self.script(messages)
        text = _last_text(messages)
        for rule in self.script:
            if rule.matches(text):
                if rule.times is not None:
                    rule.times -= 1
                return rule
        return Rule(reply=self.default_reply)

    # Lifecycle ---------------------------------------------------------------------------------

    async def __aenter__(self) -> "ScriptedLLM":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _pause(self, seconds: float) -> bool:
        """Sleeps, but wakes when the server closes; True if it is closing."""
        assert self._closing is not None
        try:
            await asyncio.wait_for(self._closing.wait(), seconds)
            return True
        except asyncio.TimeoutError:
            return False

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._closing = asyncio.Event()
        app = web.Application(client_max_size=32 << 20)
        app.router.add_get("/v1/models", self._models)
        app.router.add_post("/v1/chat/completions", self._chat)
        app.router.add_post("/v1/audio/speech", self._speech)
        app.router.add_post("/v1/audio/transcriptions", self._transcriptions)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def start_in_thread(self) -> "ScriptedLLM":
        """For synchronous callers: serves from its own thread and event loop."""
        ready = threading.Event()

        def serve() -> None:
            self._loop = asyncio.new_event_loop()
            self._loop.run_until_complete(self.start())
            ready.set()
            self._loop.run_forever()
            self._loop.run_until_complete(self.close())

        self._thread = threading.Thread(target=serve, daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop_thread(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)

    # Handlers ----------------------------------------------------------------------------------

    async def _models(self, request: web.Request) -> web.Response:
        return web.json_response({"object": "list", "data": [{"id": self.model, "object": "model", "owned_by": "voicecore-testing"}]})

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = await request.json()
            messages = body["messages"]
            if not isinstance(messages, list):
                raise ValueError("messages must be a list")
        except (ValueError, KeyError, TypeError) as exc:
            return web.json_response({"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}}, status=400)
        self.requests.append(body)
        rule = self.pick(messages)
        if rule.status != 200:
            return web.json_response({"error": {"message": f"scripted failure {rule.status}", "type": "server_error"}}, status=rule.status)
        if rule.first_token_delay and await self._pause(rule.first_token_delay):
            return web.Response(status=503)
        ident = f"chatcmpl-{next(self._ids)}"
        created = int(time.time())
        text = rule.reply
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": text or None}
            if rule.tool_calls:
                message["tool_calls"] = [
                    {"id": f"call_{i}", "type": "function", "function": {"name": c.name, "arguments": json.dumps(c.arguments)}}
                    for i, c in enumerate(rule.tool_calls)
                ]
            finish = "tool_calls" if rule.tool_calls else "stop"
            return web.json_response(
                {"id": ident, "object": "chat.completion", "created": created, "model": self.model,
                 "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                 "usage": {"prompt_tokens": 0, "completion_tokens": len(_chunks(text)), "total_tokens": 0}}
            )
        self._body_options[ident] = body.get("stream_options") if isinstance(body.get("stream_options"), dict) else {}
        self._prompt_words[ident] = sum(len(str(m.get("content") or "").split()) for m in messages if isinstance(m, dict))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        await response.prepare(request)
        self.streams_open += 1
        try:
            return await self._stream(response, rule, ident, created, text)
        finally:
            self.streams_open -= 1  # ended, or the client went away (the next write failed)

    async def _stream(self, response: web.StreamResponse, rule: Rule, ident: str, created: int, text: str) -> web.StreamResponse:

        async def event(delta: dict[str, Any], finish: str | None = None) -> None:
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": self.model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await event({"role": "assistant", "content": ""})
        sent = 0
        for piece in _chunks(text):
            if rule.stall_after is not None and sent >= rule.stall_after:
                await self._pause(3600)
                return response
            if rule.chunk_delay and await self._pause(rule.chunk_delay):
                return response
            await event({"content": piece})
            sent += 1
        for i, call in enumerate(rule.tool_calls):
            args = json.dumps(call.arguments)
            await event({"tool_calls": [{"index": i, "id": f"call_{next(self._ids)}", "type": "function", "function": {"name": call.name, "arguments": ""}}]})
            for j in range(0, len(args), 8):  # arguments arrive in fragments
                await event({"tool_calls": [{"index": i, "function": {"arguments": args[j : j + 8]}}]})
        await event({}, "tool_calls" if rule.tool_calls else "stop")
        if (self._body_options.get(ident) or {}).get("include_usage"):
            # As OpenAI streams it: a last chunk with no choices and the request's usage (prompt
            # tokens counted here as words of every message, completion tokens as the deltas sent).
            prompt, completion = self._prompt_words.pop(ident, 0), sent
            usage = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": self.model, "choices": [], "usage": usage}
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        self._body_options.pop(ident, None)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def _speech(self, request: web.Request) -> web.Response:
        if self.speech is None:
            return web.json_response({"error": {"message": "no speech engine scripted"}}, status=404)
        body = await request.json()
        self.requests.append(body)
        return web.Response(body=await self.speech(body), content_type="audio/wav")

    async def _transcriptions(self, request: web.Request) -> web.Response:
        if self.transcribe is None:
            return web.json_response({"error": {"message": "no transcriber scripted"}}, status=404)
        form = await request.post()
        upload = form.get("file")
        if upload is None or not hasattr(upload, "file"):
            return web.json_response({"error": {"message": "file is required"}}, status=400)
        audio = upload.file.read()  # type: ignore[union-attr]
        fields = {k: str(v) for k, v in form.items() if k != "file"}
        self.requests.append({"transcription": fields, "bytes": len(audio)})
        return web.json_response({"text": await self.transcribe(audio, fields)})
