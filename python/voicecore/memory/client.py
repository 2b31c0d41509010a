"""Memory for the assistant: a typed async client of the memory service (``HttpMemory``) and the
same interface over a local SQLite file (``LocalMemory``, one worker alone).

Reads are for the turn in progress: when the service cannot be reached in ``read_timeout`` seconds
the turn goes on without history (``Memory.available`` is False) and a warning is logged. Writes go
to an outbox, in order, each with an idempotency key (``op``), retried with backoff until the
service takes them (or ``max_queued`` writes wait: then the oldest are dropped, with an error); the
caller waits at most ``write_wait`` seconds for its write, then the outbox carries on alone.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from .store import BadRequest, Conflict, MemoryStore

log = logging.getLogger("voicecore.memory")


QUEUED = object()  # a write the service has not taken yet; the outbox delivers it later


class MemoryUnavailable(RuntimeError):
    """The memory service could not be reached (refused, timed out, HTTP 5xx)."""


class MemoryRefused(RuntimeError):
    """The memory service refused the request (HTTP 4xx other than 409): retrying will not help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


@dataclass
class Memory:
    """One device's memory with one agent, as a turn sees it."""

    summary: str = ""
    summary_upto: int = 0               # the last message id the summary covers
    facts: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)   # {"id", "role", "content"}, oldest first
    unsummarised_tokens: int = 0        # every stored message after the summary, in the window or not
    available: bool = True              # False: the store could not be read; the turn runs without history

    @staticmethod
    def from_json(data: dict[str, Any]) -> "Memory":
        return Memory(summary=str(data.get("summary") or ""), summary_upto=int(data.get("summary_upto") or 0),
                      facts=[str(f["text"]) for f in data.get("facts") or []],
                      messages=[{"id": int(m["id"]), "role": str(m["role"]), "content": str(m["content"])} for m in data.get("messages") or []],
                      unsummarised_tokens=int(data.get("unsummarised_tokens") or 0))


class MemoryBackend(Protocol):
    async def load(self, agent: str, device: str, budget_tokens: int) -> Memory: ...
    async def append(self, agent: str, device: str, messages: list[dict[str, str]]) -> int | None: ...
    async def add_fact(self, agent: str, device: str, text: str) -> bool: ...
    async def transcript(self, agent: str, device: str, after: int, upto: int) -> list[dict[str, Any]]: ...
    async def put_summary(self, agent: str, device: str, text: str, upto: int, expected_upto: int) -> bool: ...
    async def forget(self, agent: str, device: str) -> None: ...
    async def flush(self, timeout: float) -> bool: ...
    async def close(self) -> None: ...
    describe: str


# --- The memory service over HTTP --------------------------------------------------------------------


@dataclass
class _Op:
    method: str
    path: str
    body: dict[str, Any] | None
    what: str
    done: asyncio.Future[Any]


class HttpMemory:
    def __init__(self, url: str, token: str, read_timeout: float = 1.0, write_timeout: float = 5.0, write_wait: float = 1.0,
                 max_queued: int = 1000, backoff_base: float = 0.2, backoff_cap: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.read_timeout = read_timeout
        self.write_timeout = write_timeout
        self.write_wait = write_wait
        self.max_queued = max_queued
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.describe = f"the memory service at {self.url}"
        self._http: aiohttp.ClientSession | None = None
        self._outbox: deque[_Op] = deque()
        self._wake: asyncio.Event | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._reachable = True
        self.dropped = 0

    @staticmethod
    def from_env(env: dict[str, str] | None = None) -> "HttpMemory | None":
        """``VOICECORE_MEMORY_URL`` and ``VOICECORE_MEMORY_TOKEN``; None when no URL is set."""
        env = dict(os.environ) if env is None else env
        url = env.get("VOICECORE_MEMORY_URL", "").strip()
        if not url:
            return None
        timeout = float(env.get("VOICECORE_MEMORY_TIMEOUT") or 1.0)
        return HttpMemory(url, env.get("VOICECORE_MEMORY_TOKEN", ""), read_timeout=timeout)

    @property
    def queued(self) -> int:
        return len(self._outbox)

    def _path(self, agent: str, device: str, tail: str = "") -> str:
        return f"/v1/memory/{quote(agent, safe='')}/{quote(device, safe='')}{tail}"

    async def _request(self, method: str, path: str, body: dict[str, Any] | None, timeout: float) -> Any:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(headers={"Authorization": f"Bearer {self.token}"})
        try:
            async with self._http.request(method, self.url + path, json=body, timeout=aiohttp.ClientTimeout(total=timeout)) as r:
                text = await r.text()
                if r.status >= 500:
                    raise MemoryUnavailable(f"HTTP {r.status}: {text[:200]}")
                try:
                    data = await r.json(content_type=None) if text else {}
                except ValueError:
                    data = {"error": text[:200]}
                if r.status == 409:
                    raise Conflict(str(data.get("error", "conflict")))
                if r.status >= 400:
                    raise MemoryRefused(r.status, str(data.get("error", text[:200])))
                return data
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            raise MemoryUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from None

    def _mark(self, reachable: bool, why: str = "") -> None:
        if reachable and not self._reachable:
            log.warning("%s is reachable again (%d write(s) queued)", self.describe, len(self._outbox))
        elif not reachable and self._reachable:
            log.warning("%s is unreachable (%s): turns answer without history and writes are queued until it is back", self.describe, why)
        self._reachable = reachable

    # Reads -------------------------------------------------------------------------------------------

    async def load(self, agent: str, device: str, budget_tokens: int) -> Memory:
        try:
            data = await self._request("GET", self._path(agent, device, f"?budget_tokens={int(budget_tokens)}"), None, self.read_timeout)
        except MemoryUnavailable as exc:
            self._mark(False, str(exc))
            log.warning("memory of %s/%s not loaded (%s): this turn answers without history", agent, device, exc)
            return Memory(available=False)
        except MemoryRefused as exc:
            log.error("memory of %s/%s refused: %s; this turn answers without history", agent, device, exc)
            return Memory(available=False)
        self._mark(True)
        return Memory.from_json(data)

    async def transcript(self, agent: str, device: str, after: int, upto: int) -> list[dict[str, Any]]:
        data = await self._request("GET", self._path(agent, device, f"/messages?after={after}&upto={upto}&limit=1000"), None, self.write_timeout)
        return [{"id": int(m["id"]), "role": str(m["role"]), "content": str(m["content"])} for m in data.get("messages") or []]

    # Writes, through the outbox -------------------------------------------------------------------------

    def _enqueue(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        if body is not None:
            body = {**body, "op": uuid.uuid4().hex}  # the same key on every retry: applied once
        op = _Op(method, path, body, what, loop.create_future())
        if len(self._outbox) >= self.max_queued:
            old = self._outbox.popleft()
            self.dropped += 1
            log.error("memory outbox full (%d writes): dropped the oldest (%s)", self.max_queued, old.what)
            if not old.done.done():
                old.done.set_exception(MemoryUnavailable("dropped: the outbox was full"))
        self._outbox.append(op)
        if self._wake is None:
            self._wake = asyncio.Event()
        self._wake.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        return op.done

    async def _flush_loop(self) -> None:
        assert self._wake is not None
        failures = 0
        rng = random.Random()
        while True:
            if not self._outbox:
                self._wake.clear()
                await self._wake.wait()
                continue
            op = self._outbox[0]
            try:
                result = await self._request(op.method, op.path, op.body, self.write_timeout)
            except MemoryUnavailable as exc:
                self._mark(False, str(exc))
                failures += 1
                ceiling = min(self.backoff_cap, self.backoff_base * 2 ** (failures - 1))
                await asyncio.sleep(rng.uniform(ceiling / 2, ceiling))
                continue
            except (MemoryRefused, Conflict) as exc:
                log.error("memory write refused (%s): %s", op.what, exc)
                result = exc
            self._mark(True)
            failures = 0
            if self._outbox and self._outbox[0] is op:
                self._outbox.popleft()
            if not op.done.done():
                if isinstance(result, BaseException):
                    op.done.set_exception(result)
                else:
                    op.done.set_result(result)

    async def _write(self, method: str, path: str, body: dict[str, Any] | None, what: str) -> Any:
        """Queues the write and waits up to ``write_wait`` for its answer: the answer, ``QUEUED`` if the
        outbox still holds it, None if it was refused."""
        done = self._enqueue(method, path, body, what)
        try:
            return await asyncio.wait_for(asyncio.shield(done), self.write_wait)
        except asyncio.TimeoutError:
            log.warning("memory write (%s) queued: %s has not taken it yet (%d queued)", what, self.describe, len(self._outbox))
            done.add_done_callback(lambda f: f.exception() if not f.cancelled() else None)  # retrieved: no "never retrieved" noise
            return QUEUED
        except (MemoryRefused, MemoryUnavailable, Conflict):
            return None

    async def append(self, agent: str, device: str, messages: list[dict[str, str]]) -> int | None:
        result = await self._write("POST", self._path(agent, device, "/messages"), {"messages": messages}, f"{len(messages)} message(s) of {agent}/{device}")
        return int(result["unsummarised_tokens"]) if isinstance(result, dict) and "unsummarised_tokens" in result else None

    async def add_fact(self, agent: str, device: str, text: str) -> bool:
        """True when stored, or queued to be stored once the service is back; False if refused."""
        result = await self._write("POST", self._path(agent, device, "/facts"), {"text": text}, f"a fact of {agent}/{device}")
        return result is not None

    async def forget(self, agent: str, device: str) -> None:
        await self._write("DELETE", self._path(agent, device), None, f"forgetting {agent}/{device}")

    async def put_summary(self, agent: str, device: str, text: str, upto: int, expected_upto: int) -> bool:
        """Written directly, not queued: a summary that cannot be stored now is made again later."""
        try:
            await self._request("PUT", self._path(agent, device, "/summary"), {"text": text, "upto": upto, "expected_upto": expected_upto}, self.write_timeout)
            return True
        except Conflict as exc:
            log.info("summary of %s/%s not stored: %s", agent, device, exc)
            return False

    async def flush(self, timeout: float) -> bool:
        """Waits (up to ``timeout``) until every queued write is taken; True if none is left."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._outbox and loop.time() < deadline:
            await asyncio.sleep(0.05)
        if self._outbox:
            log.error("%d memory write(s) not delivered to %s: lost", len(self._outbox), self.describe)
        return not self._outbox

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            await asyncio.gather(self._flusher, return_exceptions=True)
        if self._http is not None:
            await self._http.close()


# --- A local SQLite file, for one worker alone ----------------------------------------------------------


class LocalMemory:
    """The same interface over a SQLite file on this machine: conversations survive this worker's
    restarts, but another worker does not see them (run `voicecore memory` for that)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.describe = f"the local file {self.path}"
        self._store: MemoryStore | None = None
        self._lock = threading.Lock()

    def _run(self, fn: Any, write: bool) -> Any:
        with self._lock:
            if self._store is None:
                self._store = MemoryStore(self.path)
            store = self._store
            if not write:
                return fn(store)
            store.begin()
            try:
                result = fn(store)
                store.commit()
                return result
            except BaseException:
                store.rollback()
                raise

    async def load(self, agent: str, device: str, budget_tokens: int) -> Memory:
        snapshot = self._run(lambda s: s.snapshot(agent, device, budget_tokens), write=False)
        return Memory.from_json(snapshot.to_json())

    async def append(self, agent: str, device: str, messages: list[dict[str, str]]) -> int | None:
        return int(self._run(lambda s: s.append(agent, device, messages), write=True)["unsummarised_tokens"])

    async def add_fact(self, agent: str, device: str, text: str) -> bool:
        try:
            self._run(lambda s: s.add_fact(agent, device, text), write=True)
            return True
        except BadRequest as exc:
            log.error("fact not stored: %s", exc)
            return False

    async def transcript(self, agent: str, device: str, after: int, upto: int) -> list[dict[str, Any]]:
        return [{k: m[k] for k in ("id", "role", "content")} for m in self._run(lambda s: s.messages(agent, device, after, upto, 1000), write=False)]

    async def put_summary(self, agent: str, device: str, text: str, upto: int, expected_upto: int) -> bool:
        try:
            self._run(lambda s: s.put_summary(agent, device, text, upto, expected_upto), write=True)
            return True
        except Conflict as exc:
            log.info("summary of %s/%s not stored: %s", agent, device, exc)
            return False

    async def forget(self, agent: str, device: str) -> None:
        self._run(lambda s: s.forget(agent, device), write=True)

    async def flush(self, timeout: float) -> bool:
        return True

    async def close(self) -> None:
        with self._lock:
            if self._store is not None:
                self._store.close()
                self._store = None
