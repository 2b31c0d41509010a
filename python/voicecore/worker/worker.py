"""The worker side of docs/worker-protocol.md: dial the hub, register, heartbeat, run jobs.

A worker is a few lines::

    worker = Worker(slots={"tts": 2}, name="tts-box")

    @worker.handler("tts")
    async def speak(job: Job) -> None:
        await job.send_audio(synthesize(job.params["text"]), last=True)
        await job.output("segment_done")

    worker.run("ws://hub:8000/worker", token="secret")

The handler's return ends the job (``done``); an exception fails it (``error``) and the worker carries
on; a hub ``cancel`` becomes ``asyncio.CancelledError`` inside the handler. Lost connections are
redialled with exponential backoff and jitter; SIGTERM/SIGINT drain: no new jobs, running ones
finish, then the worker exits.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from . import frames
from .backoff import Backoff
from .job import Job, JobError

PROTOCOL = 1
log = logging.getLogger("voicecore.worker")

Handler = Callable[[Job], Awaitable[None]]


class WorkerAuthError(RuntimeError):
    """The hub refused the worker's token; retrying will not help."""


@dataclass
class _Running:
    job: Job
    task: asyncio.Task[None]
    cancelled_by_hub: bool = False


@dataclass
class Worker:
    """A dial-in worker. ``slots`` is how many jobs of each kind it runs at once."""

    slots: dict[str, int]
    name: str = ""
    models: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    max_message_size: int = 1 << 20
    drain_timeout: float = 30.0
    backoff: Backoff = field(default_factory=Backoff)
    on_roles: Callable[[list[str]], Awaitable[None]] | None = None

    _handlers: dict[str, Handler] = field(default_factory=dict, init=False)
    _running: dict[int, _Running] = field(default_factory=dict, init=False)
    _ws: ClientConnection | None = field(default=None, init=False)
    _draining: bool = field(default=False, init=False)
    _stopped: asyncio.Event | None = field(default=None, init=False)
    _registered: asyncio.Event | None = field(default=None, init=False)
    worker_id: str | None = field(default=None, init=False)
    connections: int = field(default=0, init=False)

    def handler(self, kind: str) -> Callable[[Handler], Handler]:
        """Decorator: ``fn(job)`` runs every job of ``kind``."""

        if kind not in self.slots:
            raise ValueError(f"handler for kind {kind!r}, but slots declare only {sorted(self.slots)}")

        def register(fn: Handler) -> Handler:
            self._handlers[kind] = fn
            return fn

        return register

    # Running -----------------------------------------------------------------------------------

    def run(self, hub: str, token: str) -> None:
        """Blocks: serves the hub until drained by SIGTERM/SIGINT."""
        asyncio.run(self.serve(hub, token, handle_signals=True))

    async def serve(self, hub: str, token: str, handle_signals: bool = False) -> None:
        missing = set(self.slots) - set(self._handlers)
        if missing:
            raise ValueError(f"no handler for kinds {sorted(missing)}")
        self._stopped = asyncio.Event()
        self._registered = asyncio.Event()
        loop = asyncio.get_running_loop()
        if handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, lambda: asyncio.ensure_future(self.drain()))
        try:
            while not self._stopped.is_set():
                try:
                    await self._session(hub, token)
                except InvalidStatus as exc:
                    if exc.response.status_code in (401, 403):
                        raise WorkerAuthError(f"hub {hub} refused the worker token (HTTP {exc.response.status_code})") from exc
                    log.warning("hub %s answered HTTP %s", hub, exc.response.status_code)
                except (OSError, ConnectionClosed, asyncio.TimeoutError) as exc:
                    log.warning("hub connection lost: %s", exc)
                finally:
                    self._ws = None
                    self._registered.clear()
                    await self._abandon_jobs()
                if self._stopped.is_set():
                    break
                delay = self.backoff.next_delay()
                log.info("reconnecting to %s in %.2f s", hub, delay)
                try:
                    await asyncio.wait_for(self._stopped.wait(), delay)
                except asyncio.TimeoutError:
                    pass
        finally:
            if handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT):
                    loop.remove_signal_handler(sig)

    async def wait_registered(self) -> str:
        assert self._registered is not None, "serve() has not started"
        await self._registered.wait()
        assert self.worker_id is not None
        return self.worker_id

    async def drain(self) -> None:
        """Takes no new jobs, lets running ones finish (up to ``drain_timeout``), then stops."""
        if self._draining:
            return
        self._draining = True
        log.info("draining: %d running job(s)", len(self._running))
        if self._ws is not None:
            try:
                await self._send({"type": "drain"})
            except ConnectionClosed:
                pass
        tasks = [r.task for r in self._running.values()]
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=self.drain_timeout)
            for t in pending:
                t.cancel()
        await self.stop()

    async def stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()
        if self._ws is not None:
            await self._ws.close(1001, "worker stopping")

    def load(self) -> dict[str, int]:
        counts = {kind: 0 for kind in self.slots}
        for r in self._running.values():
            counts[r.job.kind] = counts.get(r.job.kind, 0) + 1
        return counts

    # One connection ----------------------------------------------------------------------------

    async def _session(self, hub: str, token: str) -> None:
        async with connect(
            hub,
            additional_headers={"Authorization": f"Bearer {token}"},
            max_size=self.max_message_size,
            open_timeout=10,
        ) as ws:
            self._ws = ws
            self.connections += 1
            await self._send(
                {
                    "type": "register",
                    "protocol": PROTOCOL,
                    "name": self.name,
                    "kinds": sorted(self.slots),
                    "slots": dict(self.slots),
                    "models": list(self.models),
                    "labels": dict(self.labels),
                }
            )
            heartbeat: asyncio.Task[None] | None = None
            try:
                async for raw in ws:
                    if isinstance(raw, bytes):
                        self._on_binary(raw)
                        continue
                    try:
                        message = json.loads(raw)
                    except ValueError:
                        log.warning("hub sent malformed JSON: %.80r", raw)
                        continue
                    if not isinstance(message, dict):
                        continue
                    kind = message.get("type")
                    if kind == "registered":
                        self.worker_id = str(message.get("worker", ""))
                        period = max(0.05, float(message.get("heartbeat_ms", 5000)) / 1000)
                        if heartbeat is None:
                            heartbeat = asyncio.create_task(self._heartbeats(period))
                        self.backoff.reset()
                        assert self._registered is not None
                        self._registered.set()
                        if self._draining:
                            await self._send({"type": "drain"})
                    elif kind == "job":
                        await self._on_job(message)
                    elif kind == "input":
                        running = self._running.get(_job_id(message))
                        if running is not None:
                            running.job._feed_input(message)
                    elif kind == "cancel":
                        running = self._running.get(_job_id(message))
                        if running is not None:
                            running.cancelled_by_hub = True
                            running.task.cancel()
                    elif kind == "roles":
                        if self.on_roles is not None:
                            await self.on_roles([str(k) for k in message.get("active", [])])
                    elif kind == "error":
                        log.warning("hub rejected a message: %s (job %s)", message.get("message"), message.get("job"))
                    else:
                        log.debug("ignoring hub message type %r", kind)
            finally:
                if heartbeat is not None:
                    heartbeat.cancel()

    async def _heartbeats(self, period: float) -> None:
        while True:
            await asyncio.sleep(period)
            try:
                await self._send({"type": "heartbeat", "load": self.load()})
            except ConnectionClosed:
                return

    def _on_binary(self, raw: bytes) -> None:
        try:
            frame = frames.decode(raw)
        except frames.FrameError as exc:
            log.warning("hub sent a bad binary frame: %s", exc)
            return
        running = self._running.get(frame.job)
        if running is not None:
            running.job._feed_audio(frame.pcm, frame.last)

    async def _on_job(self, message: dict[str, Any]) -> None:
        job_id = _job_id(message)
        kind = str(message.get("kind", ""))
        if job_id is None:
            return
        if self._draining:
            await self._send({"type": "error", "job": job_id, "message": "worker is draining", "retryable": True})
            return
        if kind not in self._handlers:
            await self._send({"type": "error", "job": job_id, "message": f"this worker does not serve {kind!r}", "retryable": True})
            return
        if job_id in self._running:
            await self._send({"type": "error", "job": job_id, "message": f"job {job_id} is already running", "retryable": False})
            return
        if self.load().get(kind, 0) >= self.slots[kind]:
            await self._send({"type": "error", "job": job_id, "message": f"no free {kind} slot", "retryable": True})
            return
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        job = Job(
            id=job_id,
            kind=kind,
            session=str(message.get("session", "")),
            turn=message.get("turn") if isinstance(message.get("turn"), int) else None,
            params=params,
            _send=self._send,
            _send_binary=self._send_binary,
        )
        await self._send({"type": "accepted", "job": job_id})
        task = asyncio.create_task(self._run_job(job), name=f"job-{job_id}")
        self._running[job_id] = _Running(job, task)

    async def _run_job(self, job: Job) -> None:
        handler = self._handlers[job.kind]
        try:
            await handler(job)
        except asyncio.CancelledError:
            running = self._running.get(job.id)
            if running is None or not running.cancelled_by_hub:
                raise
            return  # the hub cancelled it: send nothing more
        except JobError as exc:
            await self._report_error(job, str(exc), exc.retryable)
        except Exception as exc:  # a broken handler fails its job, never the worker
            log.exception("job %d (%s) failed", job.id, job.kind)
            await self._report_error(job, f"{type(exc).__name__}: {exc}", False)
        else:
            await self._quiet_send({"type": "done", "job": job.id})
        finally:
            self._running.pop(job.id, None)

    async def _report_error(self, job: Job, message: str, retryable: bool) -> None:
        await self._quiet_send({"type": "error", "job": job.id, "message": message, "retryable": retryable})

    async def _quiet_send(self, message: dict[str, Any]) -> None:
        try:
            await self._send(message)
        except (ConnectionClosed, RuntimeError):
            pass

    async def _abandon_jobs(self) -> None:
        """The connection is gone: the hub re-dispatches its jobs, so ours are void."""
        running = list(self._running.values())
        for r in running:
            r.cancelled_by_hub = True
            r.task.cancel()
        if running:
            await asyncio.gather(*(r.task for r in running), return_exceptions=True)
        self._running.clear()

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise RuntimeError("not connected to the hub")
        await ws.send(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    async def _send_binary(self, frame: bytes) -> None:
        ws = self._ws
        if ws is None:
            raise RuntimeError("not connected to the hub")
        await ws.send(frame)


def _job_id(message: dict[str, Any]) -> int | None:
    job = message.get("job")
    return job if isinstance(job, int) and not isinstance(job, bool) and job >= 0 else None


def new_backoff(seed: int | None = None, base: float = 0.5, cap: float = 30.0) -> Backoff:
    return Backoff(base=base, cap=cap, rng=random.Random(seed))
