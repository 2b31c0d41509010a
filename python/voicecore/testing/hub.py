"""A scripted hub: a real WebSocket server speaking the hub side of docs/worker-protocol.md.

The test drives it: it waits for workers, assigns jobs, streams audio, cancels, and reads what the
workers send back, with timeouts so a silent worker fails the test instead of hanging it.
"""

from __future__ import annotations

import asyncio
import http
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from ..worker import frames


@dataclass
class HubWorker:
    """One connected worker as the hub sees it."""

    id: str
    ws: ServerConnection
    register: dict[str, Any] = field(default_factory=dict)
    messages: asyncio.Queue[dict[str, Any] | frames.AudioFrame] = field(default_factory=asyncio.Queue)
    heartbeats: list[dict[str, Any]] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)

    async def send(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def job(self, job: int, kind: str, params: dict[str, Any], session: str = "s1", turn: int = 1) -> None:
        await self.send({"type": "job", "job": job, "kind": kind, "session": session, "turn": turn, "params": params})

    async def audio(self, job: int, pcm: bytes, last: bool = False) -> None:
        await self.ws.send(frames.encode(job, pcm, last))

    async def input(self, job: int, event: str, **fields: Any) -> None:
        await self.send({"type": "input", "job": job, "event": event, **fields})

    async def cancel(self, job: int, reason: str = "barge-in") -> None:
        await self.send({"type": "cancel", "job": job, "reason": reason})

    async def send_together(self, *messages: dict[str, Any] | bytes) -> None:
        """Several messages (JSON objects, or binary frames as bytes) as one TCP write, as a hub
        whose socket buffer held them delivers them: the worker reads them all before its event
        loop runs anything else (e.g. a ``job`` and its ``cancel``: the job's task is cancelled
        before its first step)."""
        async with self.ws.send_context():
            for message in messages:
                if isinstance(message, bytes):
                    self.ws.protocol.send_binary(message)
                else:
                    self.ws.protocol.send_text(json.dumps(message).encode())
            self.ws.transport.write(b"".join(self.ws.protocol.data_to_send()))

    async def next(self, timeout: float = 10.0) -> dict[str, Any] | frames.AudioFrame:
        return await asyncio.wait_for(self.messages.get(), timeout)

    async def expect(self, type: str, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The next JSON message of ``type`` (and matching fields); audio frames and other types
        before it are skipped (audio is kept for ``collect_audio``)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        skipped: list[dict[str, Any] | frames.AudioFrame] = []
        try:
            while True:
                message = await asyncio.wait_for(self.messages.get(), max(0.0, deadline - loop.time()))
                if isinstance(message, dict) and message.get("type") == type and all(message.get(k) == v for k, v in match.items()):
                    return message
                skipped.append(message)
        finally:
            for m in reversed(skipped):
                self._requeue_front(m)

    def _requeue_front(self, message: dict[str, Any] | frames.AudioFrame) -> None:
        items = [message]
        while not self.messages.empty():
            items.append(self.messages.get_nowait())
        for m in items:
            self.messages.put_nowait(m)

    async def until_end(self, job: int, timeout: float = 30.0) -> tuple[list[dict[str, Any]], bytes, dict[str, Any]]:
        """Everything a job sends until its ``done`` or ``error``: (outputs, audio bytes, the end)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        outputs: list[dict[str, Any]] = []
        audio = bytearray()
        others: list[dict[str, Any] | frames.AudioFrame] = []
        try:
            while True:
                m = await asyncio.wait_for(self.messages.get(), max(0.0, deadline - loop.time()))
                if isinstance(m, frames.AudioFrame):
                    if m.job == job:
                        audio += m.pcm
                    else:
                        others.append(m)
                elif m.get("job") == job and m.get("type") in ("done", "error"):
                    return outputs, bytes(audio), m
                elif m.get("job") == job and m.get("type") == "output":
                    outputs.append(m)
                elif m.get("job") == job and m.get("type") == "accepted":
                    continue
                else:
                    others.append(m)
        finally:
            # Back in front, in order: another job's messages read here came before anything still
            # queued (its `done` may already be queued behind them).
            for m in reversed(others):
                self._requeue_front(m)


class ScriptedHub:
    """``async with ScriptedHub(token="t") as hub: ...``; ``hub.url`` is ws://127.0.0.1:PORT/worker."""

    def __init__(self, token: str = "test-token", heartbeat_ms: int = 200, max_size: int = 1 << 20) -> None:
        self.token = token
        self.heartbeat_ms = heartbeat_ms
        self.max_size = max_size
        self.workers: asyncio.Queue[HubWorker] = asyncio.Queue()
        self.refused = 0
        self._ids = itertools.count(1)
        self._server: Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/worker"

    async def __aenter__(self) -> "ScriptedHub":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def start(self, port: int = 0) -> None:
        self._server = await serve(self._serve, "127.0.0.1", port, process_request=self._authorize, max_size=self.max_size)
        self.port = self._server.sockets[0].getsockname()[1] if port == 0 else port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def next_worker(self, timeout: float = 10.0) -> HubWorker:
        return await asyncio.wait_for(self.workers.get(), timeout)

    def _authorize(self, connection: ServerConnection, request: Request) -> Response | None:
        if not request.path.startswith("/worker"):
            return connection.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        header = request.headers.get("Authorization", "")
        if header != f"Bearer {self.token}":
            self.refused += 1
            response = connection.respond(http.HTTPStatus.UNAUTHORIZED, "bad worker token\n")
            return response
        return None

    async def _serve(self, ws: ServerConnection) -> None:
        raw = await asyncio.wait_for(ws.recv(), 10)
        register = json.loads(raw)
        if register.get("type") != "register" or register.get("protocol") != 1:
            await ws.send(json.dumps({"type": "error", "message": "first message must be register (protocol 1)"}))
            await ws.close(1002, "expected register")
            return
        worker = HubWorker(id=f"w{next(self._ids)}", ws=ws, register=register)
        await worker.send({"type": "registered", "worker": worker.id, "heartbeat_ms": self.heartbeat_ms})
        await self.workers.put(worker)
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    await worker.messages.put(frames.decode(raw))
                    continue
                message = json.loads(raw)
                if message.get("type") == "heartbeat":
                    worker.heartbeats.append(message)
                    continue
                await worker.messages.put(message)
        except Exception:
            pass
        finally:
            worker.closed.set()


