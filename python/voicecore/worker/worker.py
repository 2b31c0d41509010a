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

Slot accounting lives in one place: a job holds its slot from its ``job`` message until the first
of its outcome (``done`` or ``error``), the hub's ``cancel``, or the loss of its connection; then
``_release`` gives the slot back and closes the job, so nothing more is sent for it. The job's task
also releases it from its done-callback, which runs however the task ended, even when it was
cancelled before its first step (a ``cancel`` read in the same write as its ``job``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import signal
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Awaitable, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.protocol import State

from . import frames, memory
from .backoff import Backoff
from .job import Job, JobError

PROTOCOL = 1
log = logging.getLogger("voicecore.worker")

Handler = Callable[[Job], Awaitable[None]]


class WorkerAuthError(RuntimeError):
    """The hub refused the worker's token; retrying will not help."""


@dataclass(eq=False)
class _Running:
    """A job the worker holds: in ``Worker._running`` while it holds its slot, in
    ``Worker._unwinding`` from its release until its task has ended."""

    job: Job
    ws: ClientConnection  # the connection the job came on: its messages go there, never elsewhere
    task: asyncio.Task[None] | None = None
    ended: str = ""  # why the slot was released: done, error, cancel, connection lost, ended
    watchdog: asyncio.TimerHandle | None = None


@dataclass
class Worker:
    """A dial-in worker. ``slots`` is how many jobs of each kind it runs at once."""

    slots: dict[str, int]
    name: str = ""
    models: list[str] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    # The agents whose assistant jobs this worker runs (docs/agents.md); empty: every agent's.
    agents: list[str] = field(default_factory=list)
    # The languages its model handles ("en" for an English-only ASR; docs/languages.md); empty:
    # every language. The hub places a job on a worker that names its language first.
    languages: list[str] = field(default_factory=list)
    max_message_size: int = 1 << 20
    drain_timeout: float = 30.0
    cancel_grace: float = 5.0  # a cancelled job still running after this is logged (its handler ignores cancellation)
    trim_every: int = 50  # jobs between returns of the heap's free memory to the OS (memory.trim); 0: never
    backoff: Backoff = field(default_factory=Backoff)
    on_roles: Callable[[list[str]], Awaitable[None]] | None = None
    on_stop: Callable[[], Awaitable[None]] | None = None  # awaited when serve() ends (an engine's clean-up)

    _handlers: dict[str, Handler] = field(default_factory=dict, init=False)
    _running: dict[int, _Running] = field(default_factory=dict, init=False)  # jobs holding a slot, by id
    _unwinding: set[_Running] = field(default_factory=set, init=False)  # released, task not yet ended
    _background: set[asyncio.Future[None]] = field(default_factory=set, init=False)
    jobs_ended: int = field(default=0, init=False)
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
            if self.on_stop is not None:
                await self.on_stop()

    async def wait_registered(self) -> str:
        assert self._registered is not None, "serve() has not started"
        await self._registered.wait()
        assert self.worker_id is not None
        return self.worker_id

    async def say(self, device_id: str, text: str | None = None, *, instruction: str | None = None,
                  timeout: float = 10.0) -> None:
        """Asks the hub to make a connected device speak first (docs/worker-protocol.md, ``say``):
        ``text`` is spoken as it is, ``instruction`` is phrased by the device's assistant first.
        The hub picks the moment (never over the user, after a reply in progress) and logs what
        became of it (``say.queued`` … ``say.done``/``say.dropped``); a device that is not
        connected is answered with an ``error`` message, which this worker logs. Waits up to
        ``timeout`` seconds for the hub connection."""
        if (text is None) == (instruction is None):
            raise ValueError("say: give text or instruction (one of them)")
        if self._registered is None:
            raise RuntimeError("say: the worker is not serving a hub (serve() has not started)")
        await asyncio.wait_for(self._registered.wait(), timeout)
        message: dict[str, Any] = {"type": "say", "device_id": device_id}
        if text is not None:
            message["text"] = text
        else:
            message["instruction"] = instruction
        await self._send(message)

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
        tasks = {r.task: r for r in self._running.values() if r.task is not None}
        if tasks:
            _, pending = await asyncio.wait(set(tasks), timeout=self.drain_timeout)
            for task in pending:
                entry = tasks[task]
                await self._finish(entry, {"type": "error", "job": entry.job.id, "message": "the worker stopped before the job finished", "retryable": True})
                task.cancel()
        await self.stop()

    async def stop(self) -> None:
        if self._stopped is not None:
            self._stopped.set()
        if self._ws is not None:
            await self._ws.close(1001, "worker stopping")

    def load(self) -> dict[str, int]:
        """Jobs holding a slot, per kind: what the heartbeat reports and what admission checks."""
        counts = {kind: 0 for kind in self.slots}
        for r in self._running.values():
            if r.task is not None and not r.task.done():
                counts[r.job.kind] = counts.get(r.job.kind, 0) + 1
        return counts

    def unwinding(self) -> int:
        """Jobs released (cancelled, connection lost) whose handler has not returned yet."""
        return sum(1 for r in self._unwinding if r.task is not None and not r.task.done())

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
            register: dict[str, Any] = {
                "type": "register",
                "protocol": PROTOCOL,
                "name": self.name,
                "kinds": sorted(self.slots),
                "slots": dict(self.slots),
                "models": list(self.models),
                "labels": dict(self.labels),
            }
            if self.agents:
                register["agents"] = list(self.agents)
            if self.languages:
                register["languages"] = list(self.languages)
            await self._send(register)
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
                        await self._on_job(ws, message)
                    elif kind == "input":
                        running = self._running.get(_job_id(message))
                        if running is not None:
                            running.job._feed_input(message)
                    elif kind == "cancel":
                        running = self._running.get(_job_id(message))
                        if running is not None:  # a duplicate, late or unknown cancel finds nothing
                            self._cancel(running, "cancel")
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

    async def _on_job(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        job_id = _job_id(message)
        kind = str(message.get("kind", ""))
        if job_id is None:
            return
        if self._draining:
            await self._send_on(ws, {"type": "error", "job": job_id, "message": "worker is draining", "retryable": True})
            return
        if kind not in self._handlers:
            await self._send_on(ws, {"type": "error", "job": job_id, "message": f"this worker does not serve {kind!r}", "retryable": True})
            return
        if job_id in self._running:
            await self._send_on(ws, {"type": "error", "job": job_id, "message": f"job {job_id} is already running", "retryable": False})
            return
        if self.load().get(kind, 0) >= self.slots[kind]:
            await self._send_on(ws, {"type": "error", "job": job_id, "message": f"no free {kind} slot", "retryable": True})
            return
        params = message.get("params") if isinstance(message.get("params"), dict) else {}
        job = Job(
            id=job_id,
            kind=kind,
            session=str(message.get("session", "")),
            turn=message.get("turn") if isinstance(message.get("turn"), int) else None,
            params=params,
            _send=partial(self._send_on, ws),
            _send_binary=partial(self._send_binary_on, ws),
        )
        # No await from the check above to here: the slot is taken at once, and released by the
        # task's done-callback however the task ends (cancelled before its first step included).
        entry = _Running(job, ws)
        entry.task = asyncio.create_task(self._run_job(entry), name=f"job-{job_id}")
        entry.task.add_done_callback(partial(self._task_done, entry))
        self._running[job_id] = entry

    async def _run_job(self, entry: _Running) -> None:
        job = entry.job
        try:
            await self._send_on(entry.ws, {"type": "accepted", "job": job.id})
            await self._handlers[job.kind](job)
        except asyncio.CancelledError:
            if entry.ended:
                return  # released first (the hub cancelled it, the connection is gone): send nothing more
            # Not a cancel of ours: the handler raised CancelledError itself, or someone else cancelled this task.
            await self._finish(entry, {"type": "error", "job": job.id, "message": "the job was cancelled by the worker", "retryable": True})
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise
        except JobError as exc:
            await self._finish(entry, {"type": "error", "job": job.id, "message": str(exc), "retryable": exc.retryable})
        except Exception as exc:  # a broken handler fails its job, never the worker
            if not entry.ended and not isinstance(exc, ConnectionClosed):
                log.exception("job %d (%s) failed", job.id, job.kind)
            await self._finish(entry, {"type": "error", "job": job.id, "message": f"{type(exc).__name__}: {exc}", "retryable": False})
        else:
            await self._finish(entry, {"type": "done", "job": job.id})

    # Slot accounting: the only places that add to or remove from _running and _unwinding -------

    def _release(self, entry: _Running, why: str) -> bool:
        """Gives the job's slot back and closes the job (its sends are dropped from now on). The
        first call wins; returns whether this was it."""
        if entry.ended:
            return False
        entry.ended = why
        entry.job._close()
        if self._running.get(entry.job.id) is entry:
            del self._running[entry.job.id]
        if entry.task is not None and not entry.task.done():
            self._unwinding.add(entry)
        return True

    def _cancel(self, entry: _Running, why: str) -> None:
        """Releases the job and cancels its task (once: a second cancel would cut its clean-up)."""
        if not self._release(entry, why) or entry.task is None:
            return
        entry.task.cancel()
        if not entry.task.done():
            entry.watchdog = asyncio.get_running_loop().call_later(self.cancel_grace, self._stuck, entry)

    def _task_done(self, entry: _Running, task: asyncio.Task[None]) -> None:
        if self._release(entry, "ended"):
            # Only a task cancelled by someone else before its first step gets here (every other
            # path sends an outcome or is released first); the hub learns the job is gone.
            log.warning("job %d (%s) ended without an outcome", entry.job.id, entry.job.kind)
            if entry.ws.state is State.OPEN:
                message = {"type": "error", "job": entry.job.id, "message": "the job was cancelled by the worker", "retryable": True}
                sending = asyncio.ensure_future(self._quiet_send(entry.ws, message))
                self._background.add(sending)
                sending.add_done_callback(self._background.discard)
        self._unwinding.discard(entry)
        if entry.watchdog is not None:
            entry.watchdog.cancel()
            entry.watchdog = None
        if not task.cancelled() and task.exception() is not None:
            log.error("job %d (%s): %r escaped the job runner", entry.job.id, entry.job.kind, task.exception())
        self.jobs_ended += 1
        if self.trim_every and self.jobs_ended % self.trim_every == 0:
            memory.trim()

    def _stuck(self, entry: _Running) -> None:
        entry.watchdog = None
        if entry.task is not None and not entry.task.done():
            log.warning("job %d (%s) still runs %.1f s after its %s: its handler ignores cancellation",
                        entry.job.id, entry.job.kind, self.cancel_grace, entry.ended)

    async def _finish(self, entry: _Running, message: dict[str, Any]) -> None:
        """Sends the job's one outcome (``done`` or ``error``), unless it was released already."""
        if self._release(entry, str(message["type"])):
            await self._quiet_send(entry.ws, message)

    async def _quiet_send(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        try:
            await self._send_on(ws, message)
        except ConnectionClosed:
            pass

    async def _abandon_jobs(self) -> None:
        """The connection is gone: the hub re-dispatches its jobs, so ours are void. Their
        handlers get a bounded time to unwind before the worker redials."""
        for entry in list(self._running.values()):
            self._cancel(entry, "connection lost")
        tasks = [r.task for r in self._unwinding if r.task is not None and not r.task.done()]
        if tasks:
            await asyncio.wait(tasks, timeout=self.cancel_grace)

    async def _send(self, message: dict[str, Any]) -> None:
        ws = self._ws
        if ws is None:
            raise ConnectionClosed(None, None)
        await self._send_on(ws, message)

    @staticmethod
    async def _send_on(ws: ClientConnection, message: dict[str, Any]) -> None:
        await ws.send(json.dumps(message, ensure_ascii=False, separators=(",", ":")))

    @staticmethod
    async def _send_binary_on(ws: ClientConnection, frame: bytes) -> None:
        await ws.send(frame)


def _job_id(message: dict[str, Any]) -> int | None:
    job = message.get("job")
    return job if isinstance(job, int) and not isinstance(job, bool) and job >= 0 else None


def new_backoff(seed: int | None = None, base: float = 0.5, cap: float = 30.0) -> Backoff:
    return Backoff(base=base, cap=cap, rng=random.Random(seed))
