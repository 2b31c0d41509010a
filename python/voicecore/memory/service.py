"""``voicecore memory``: the memory service. An asyncio HTTP server (aiohttp) over one SQLite file in
WAL mode: every write goes through one writer task (a queue drained in batches, one transaction per
batch, on one writer thread), reads run on reader threads with their own connections. The JSON API
is authenticated by a bearer token; docs/memory.md describes it.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable

from aiohttp import web

from .store import BadRequest, Conflict, MemoryStore, check_key

log = logging.getLogger("voicecore.memory")

PREFIX = "/v1/memory"
MAX_BODY = 1 << 20
DEFAULT_BUDGET = 2000


@dataclass
class _Write:
    run: Callable[[MemoryStore], Any]
    done: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class MemoryService:
    def __init__(self, db: str | Path, token: str, batch_max: int = 64) -> None:
        if not token:
            raise ValueError("the memory service needs a token")
        self.db_path = str(db)
        self.token = token
        self.batch_max = batch_max
        self.writes = 0
        self.batches = 0
        self.port = 0
        self._queue: asyncio.Queue[_Write] | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._write_pool = ThreadPoolExecutor(1, thread_name_prefix="memory-writer")
        self._read_pool = ThreadPoolExecutor(2, thread_name_prefix="memory-reader")
        self._local = threading.local()
        self._stores: list[MemoryStore] = []
        self._stores_lock = threading.Lock()
        self._runner: web.AppRunner | None = None

    # Lifecycle -------------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[self._errors, self._auth])
        app.router.add_get("/healthz", self._health)
        key = PREFIX + "/{agent}/{device}"
        app.router.add_get(key, self._get)
        app.router.add_delete(key, self._forget)
        app.router.add_get(key + "/messages", self._messages)
        app.router.add_post(key + "/messages", self._append)
        app.router.add_post(key + "/facts", self._add_fact)
        app.router.add_delete(key + "/facts/{fact}", self._delete_fact)
        app.router.add_put(key + "/summary", self._put_summary)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        # Opening the writer's connection first creates the file and the schema before any reader.
        await asyncio.get_running_loop().run_in_executor(self._write_pool, self._store)
        self._queue = asyncio.Queue()
        self._writer_task = asyncio.create_task(self._writer())
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._writer_task is not None:
            self._writer_task.cancel()
            await asyncio.gather(self._writer_task, return_exceptions=True)
        self._write_pool.shutdown(wait=True)
        self._read_pool.shutdown(wait=True)
        with self._stores_lock:
            for store in self._stores:
                store.close()
            self._stores.clear()

    def _store(self) -> MemoryStore:
        """This thread's connection."""
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = MemoryStore(self.db_path)
            with self._stores_lock:
                self._stores.append(store)
        return store

    # The one writer --------------------------------------------------------------------------------

    async def write(self, run: Callable[[MemoryStore], Any]) -> Any:
        assert self._queue is not None, "start() first"
        item = _Write(run)
        await self._queue.put(item)
        return await item.done

    async def _writer(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self.batch_max and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                outcomes = await loop.run_in_executor(self._write_pool, self._apply, batch)
            except Exception as exc:  # the transaction failed as a whole (disk full, I/O error)
                log.error("memory write batch of %d failed: %s", len(batch), exc)
                outcomes = [exc] * len(batch)
            self.batches += 1
            self.writes += len(batch)
            for item, outcome in zip(batch, outcomes):
                if item.done.done():
                    continue
                if isinstance(outcome, BaseException):
                    item.done.set_exception(outcome)
                else:
                    item.done.set_result(outcome)

    def _apply(self, batch: list[_Write]) -> list[Any]:
        """One transaction for the batch; a refused write (bad input, conflict) rolls back only itself."""
        store = self._store()
        outcomes: list[Any] = []
        store.begin()
        try:
            for item in batch:
                store.savepoint()
                try:
                    outcomes.append(item.run(store))
                    store.release()
                except (BadRequest, Conflict, ValueError) as exc:
                    store.rollback_to()
                    outcomes.append(exc)
            store.commit()
        except BaseException:
            store.rollback()
            raise
        return outcomes

    async def read(self, run: Callable[[MemoryStore], Any]) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._read_pool, lambda: run(self._store()))

    # HTTP ------------------------------------------------------------------------------------------

    @web.middleware
    async def _errors(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadRequest as exc:
            return _error(400, str(exc))
        except Conflict as exc:
            return _error(409, str(exc))
        except web.HTTPException as exc:
            if exc.status >= 400:
                return _error(exc.status, exc.reason)
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or the disk: say so, keep serving
            log.exception("memory request %s %s failed", request.method, request.path)
            return _error(500, f"{type(exc).__name__}: {exc}")

    @web.middleware
    async def _auth(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        if request.path == "/healthz":
            return await handler(request)
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            return _error(401, "missing bearer token (Authorization: Bearer TOKEN)", {"WWW-Authenticate": "Bearer"})
        if not hmac.compare_digest(header[7:].strip().encode(), self.token.encode()):
            return _error(403, "wrong token")
        return await handler(request)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "writes": self.writes, "batches": self.batches})

    async def _get(self, request: web.Request) -> web.Response:
        agent, device = _key(request)
        budget = _int_query(request, "budget_tokens", DEFAULT_BUDGET)
        snapshot = await self.read(lambda s: s.snapshot(agent, device, budget))
        return web.json_response({"agent": agent, "device": device, **snapshot.to_json()})

    async def _messages(self, request: web.Request) -> web.Response:
        agent, device = _key(request)
        after = _int_query(request, "after", 0)
        upto = _int_query(request, "upto", None)
        limit = _int_query(request, "limit", 400)
        if limit < 1 or limit > 1000:
            raise BadRequest("limit must be in 1..1000")
        rows = await self.read(lambda s: s.messages(agent, device, after, upto, limit))
        return web.json_response({"agent": agent, "device": device, "messages": rows})

    async def _append(self, request: web.Request) -> web.Response:
        agent, device = _key(request)
        body = await _json_body(request)
        messages, op = body.get("messages"), _op(body)
        return web.json_response(await self.write(lambda s: s.append(agent, device, messages, op)))

    async def _add_fact(self, request: web.Request) -> web.Response:
        agent, device = _key(request)
        body = await _json_body(request)
        text, op = body.get("text"), _op(body)
        return web.json_response(await self.write(lambda s: s.add_fact(agent, device, text, op)))

    async def _delete_fact(self, request: web.Request) -> web.Response:
        agent, device = _key(request)
        try:
            fact = int(request.match_info["fact"])
        except ValueError:
            raise BadRequest("the fact id must be an integer") from None
        if not await self.write(lambda s: s.delete_fact(agent, device, fact)):
            return _error(404, f"no fact {fact} for {agent}/{device}")
        return web.json_response({"deleted": fact})

    async def _put_summary(self, request: web.Request) -> web.Response:
        agent, device = _key(request)
        body = await _json_body(request)
        text, upto, expected = body.get("text"), body.get("upto"), body.get("expected_upto")
        return web.json_response(await self.write(lambda s: s.put_summary(agent, device, text, upto, expected)))

    async def _forget(self, request: web.Request) -> web.Response:
        agent, device = _key(request)
        return web.json_response(await self.write(lambda s: s.forget(agent, device)))


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message}, status=status, headers=headers)


def _key(request: web.Request) -> tuple[str, str]:
    return check_key("agent", request.match_info["agent"]), check_key("device", request.match_info["device"])


def _int_query(request: web.Request, name: str, default: Any) -> Any:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, got {raw!r}") from None


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def _op(body: dict[str, Any]) -> str | None:
    op = body.get("op")
    if op is None:
        return None
    if not isinstance(op, str) or not 1 <= len(op) <= 64:
        raise BadRequest("op (the idempotency key) must be a string of 1..64 characters")
    return op


async def serve(db: str | Path, token: str, host: str, port: int, ready: Callable[[int], None] | None = None) -> None:
    """Serves until cancelled (SIGTERM/SIGINT in ``voicecore memory``)."""
    service = MemoryService(db, token)
    bound = await service.start(host, port)
    if ready is not None:
        ready(bound)
    try:
        await asyncio.Event().wait()
    finally:
        await service.stop()


def listening_line(host: str, port: int, db: str | Path) -> str:
    return json.dumps({"event": "listening", "service": "memory", "host": host, "port": port, "db": str(db)})
