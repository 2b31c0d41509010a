"""``Assistant``: business logic as a plain Python script.

    from voicecore import Assistant
    app = Assistant(system="You are a helpful voice assistant. Answer in one or two sentences.")

    @app.tool
    def weather(city: str) -> str:
        \"\"\"Today's weather in a city.\"\"\"
        return "sunny, 21 °C"

    @app.on_utterance
    async def answer(session, text):
        async for delta in app.llm.stream(messages=app.messages(session, text)):
            yield delta

    app.run()   # --hub/--token or VOICECORE_HUB/VOICECORE_TOKEN

Each ``assistant`` job is one user utterance; what the handler yields streams back as ``delta``
events; the exchange is then remembered in the session's history (also when interrupted).

Speaking first: ``await app.say(device_id, text)`` makes a connected device speak (the hub picks
the moment: never over the user, after a reply in progress), ``app.remind(device_id, text,
after=seconds)`` (or ``at=``) does it later. ``instruction=`` instead of ``text`` asks the device's
assistant to phrase it: that job calls the ``@app.on_instruction`` handler (default: the
``on_utterance`` handler with the instruction as its text) with ``session.instruction`` set.
Reminders live in this worker process's memory: a restart of the worker forgets them.

A *preemptive* job (``params.preemptive``: the hub started it on a speculative transcript) streams
its reply the same way, but the hub holds it until the final transcript confirms the text and then
sends the ``commit`` input; a cancel means the text was wrong. So such a job remembers the exchange
only after ``commit``; if its reply is complete first, it waits for ``commit`` (at most
``commit_timeout`` seconds) before remembering and finishing; and a tool call (a side effect: a
Python tool or the device's MCP tool) waits for ``commit`` before it runs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextvars
import inspect
import logging
import os
import sys
import time
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Callable

from ..worker import Job, JobError, Worker
from .llm import LLM
from .mcp import DeviceMcp
from .session import Session, SessionStore
from .tools import Tool, ToolRegistry, python_tool

log = logging.getLogger("voicecore.assistant")

Handler = Callable[[Session, str], Any]


@dataclass
class _Turn:
    session: Session
    job: Job
    committed: asyncio.Event  # set from the start unless the job is preemptive
    commit_timeout: float
    # The LLM's token usage over the turn's requests (tool rounds add up), and the model.
    model: str = ""
    usage: dict[str, int] | None = None

    def add_usage(self, model: str, usage: dict[str, Any]) -> None:
        def count(key: str) -> int:
            value = usage.get(key)
            return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0

        total = self.usage or {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        prompt, completion = count("prompt_tokens"), count("completion_tokens")
        total["prompt_tokens"] += prompt
        total["completion_tokens"] += completion
        total["total_tokens"] += count("total_tokens") or prompt + completion
        self.usage = total
        self.model = model or self.model

    async def wait_commit(self) -> None:
        if not self.committed.is_set():
            try:
                await asyncio.wait_for(self.committed.wait(), self.commit_timeout)
            except asyncio.TimeoutError:
                raise JobError(f"preemptive reply: no commit within {self.commit_timeout:g} s") from None


def default_db_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "voicecore" / "sessions.sqlite3"


class Assistant:
    def __init__(
        self,
        system: str = "You are a helpful voice assistant. Answer briefly, in plain spoken sentences.",
        llm: LLM | None = None,
        db: str | Path | None = None,
        history_tokens: int = 2000,
        slots: int = 4,
        name: str = "assistant",
        tool_timeout: float = 10.0,
        device_tools: bool = True,
        commit_timeout: float = 10.0,
    ) -> None:
        # An agent's system prompt (`voicecore up` sets it from the agent's config) replaces the script's.
        self.system = os.environ.get("VOICECORE_SYSTEM_PROMPT") or system
        # The agents this worker serves (`register.agents`): `voicecore up` sets VOICECORE_AGENTS.
        self.agents = [a.strip() for a in os.environ.get("VOICECORE_AGENTS", "").split(",") if a.strip()]
        # The tools the agent may use (its `tools` list; VOICECORE_TOOLS); None: every tool.
        allowed = os.environ.get("VOICECORE_TOOLS")
        self.allowed_tools: set[str] | None = None if allowed is None else {t.strip() for t in allowed.split(",") if t.strip()}
        self.llm = llm or LLM.from_env()
        self.db_path = Path(os.environ.get("VOICECORE_SESSION_DB") or db or default_db_path())
        self.history_tokens = history_tokens
        self.slots = slots
        self.name = name
        self.tool_timeout = tool_timeout
        self.device_tools = device_tools
        self.commit_timeout = commit_timeout  # a preemptive job's wait for `commit` (the hub's assistant timeout)
        self.tools = ToolRegistry()
        self._handler: Handler | None = None
        self._instruction_handler: Handler | None = None
        self._worker: Worker | None = None
        self._reminders: set[asyncio.Task[None]] = set()
        self._turn: contextvars.ContextVar[_Turn | None] = contextvars.ContextVar(f"voicecore-turn-{id(self)}", default=None)
        self._store: SessionStore | None = None
        self.llm.tool_source = self._current_tools
        self.llm.on_tool_event = self._tool_event
        self.llm.on_usage = self._llm_usage

    # Declaring the logic -----------------------------------------------------------------------

    def on_utterance(self, fn: Handler) -> Handler:
        """Registers ``fn(session, text)``: an async generator of reply text (or a coroutine/function
        returning the whole reply)."""
        self._handler = fn
        return fn

    def on_instruction(self, fn: Handler) -> Handler:
        """Registers ``fn(session, instruction)`` for the jobs that phrase what the device says first
        (``say``/``remind`` with ``instruction=``, or the admin API's ``{"instruction": …}``): like
        ``on_utterance``, it yields the words to speak. Without it, ``on_utterance`` gets the
        instruction as its text."""
        self._instruction_handler = fn
        return fn

    # Speaking first ----------------------------------------------------------------------------

    async def say(self, device_id: str, text: str | None = None, *, instruction: str | None = None) -> None:
        """Makes the connected device ``device_id`` speak ``text`` (as it is), or what this
        assistant phrases for ``instruction``. Returns once the hub has the request; the hub
        speaks it at a good moment and drops it if the device leaves first."""
        if self._worker is None:
            raise RuntimeError("say: the assistant is not serving a hub (app.run() / app.serve())")
        await self._worker.say(device_id, text, instruction=instruction)

    def remind(self, device_id: str, text: str | None = None, *, at: datetime | float | None = None,
               after: float | None = None, instruction: str | None = None) -> asyncio.Task[None]:
        """Says ``text`` (or phrases ``instruction``) on ``device_id`` at ``at`` (a datetime, or UNIX
        seconds) or ``after`` seconds. Returns the asyncio task: ``cancel()`` drops the reminder.
        Call it from the worker's event loop (a handler or a tool). The reminder lives in this
        process: if the worker restarts before it is due, it is lost."""
        if (at is None) == (after is None):
            raise ValueError("remind: give at or after (one of them)")
        if (text is None) == (instruction is None):
            raise ValueError("remind: give text or instruction (one of them)")
        if after is not None:
            delay = float(after)
        else:
            when = at.timestamp() if isinstance(at, datetime) else float(at)  # type: ignore[union-attr]
            delay = when - time.time()
        task = asyncio.get_running_loop().create_task(self._remind(max(0.0, delay), device_id, text, instruction))
        self._reminders.add(task)
        task.add_done_callback(self._reminders.discard)
        return task

    async def _remind(self, delay: float, device_id: str, text: str | None, instruction: str | None) -> None:
        await asyncio.sleep(delay)
        try:
            await self.say(device_id, text, instruction=instruction)
        except Exception as exc:  # a reminder has no caller to raise to
            log.warning("reminder for %s not sent: %s", device_id, exc)

    @property
    def reminders(self) -> int:
        """Reminders set and not yet due."""
        return len(self._reminders)

    def tool(self, fn: Callable[..., Any] | None = None, *, name: str | None = None, timeout: float | None = None) -> Any:
        """Registers a function the LLM may call (``@app.tool`` or ``@app.tool(timeout=3)``)."""

        def register(f: Callable[..., Any]) -> Callable[..., Any]:
            self.tools.add(python_tool(f, name=name, timeout=timeout or self.tool_timeout))
            return f

        return register(fn) if fn is not None else register

    def messages(self, session: Session, text: str, context: str = "") -> list[dict[str, Any]]:
        """The usual prompt: system (plus ``context``, e.g. retrieved passages), history, the utterance."""
        # llama.cpp reuses the KV cache for the prompt's prefix it shares with the previous request, so
        # the system prompt stays byte-identical and first. Moving ``context`` after the history (as a
        # later system message or into the user message) bought nothing measured with SmolLM2: the
        # history window slides and the last turn is re-evaluated anyway, and the answers got worse.
        system = self.system + (f"\n\n{context}" if context else "")
        return [{"role": "system", "content": system}, *session.history, {"role": "user", "content": text}]

    # Running -----------------------------------------------------------------------------------

    @property
    def store(self) -> SessionStore:
        if self._store is None:
            self._store = SessionStore(self.db_path)
        return self._store

    def worker(self) -> Worker:
        worker = Worker(slots={"assistant": self.slots}, name=os.environ.get("VOICECORE_ASSISTANT_NAME") or self.name,
                        models=["assistant"], agents=list(self.agents))
        worker.handler("assistant")(self.handle_job)
        self._worker = worker
        return worker

    def run(self, argv: list[str] | None = None) -> None:
        """Serves a hub until SIGTERM: ``--hub``/``--token`` or ``VOICECORE_HUB``/``VOICECORE_TOKEN``."""
        parser = argparse.ArgumentParser(description="a VoiceCore assistant worker")
        parser.add_argument("--hub", default=os.environ.get("VOICECORE_HUB", "ws://127.0.0.1:8000/worker"))
        parser.add_argument("--token", default=os.environ.get("VOICECORE_TOKEN", ""))
        args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
        if not args.token:
            raise SystemExit("assistant: no worker token (--token or VOICECORE_TOKEN)")
        logging.basicConfig(level=os.environ.get("VOICECORE_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s")
        self.worker().run(args.hub, args.token)

    async def serve(self, hub: str, token: str) -> None:
        await self.worker().serve(hub, token)

    # One job = one utterance -------------------------------------------------------------------

    def session_for(self, job: Job) -> Session:
        p = job.params
        device_id = str(p.get("device_id") or job.session or "anonymous")
        return Session(device_id=device_id, id=str(p.get("session") or job.session), language=str(p.get("language") or "en"),
                       store=self.store, budget_tokens=self.history_tokens, agent=str(p.get("agent") or ""))

    async def handle_job(self, job: Job) -> None:
        if self._handler is None:
            raise JobError("the script registered no @app.on_utterance handler")
        text = job.params.get("text")
        if not isinstance(text, str):
            raise JobError("assistant job needs a string `text`")
        session = self.session_for(job)
        instruction = job.params.get("instruction") is True
        session.instruction = instruction
        mcp = DeviceMcp()
        mcp.bind(lambda payload: job.output("mcp", payload=payload))
        turn = _Turn(session, job, asyncio.Event(), self.commit_timeout)
        if job.params.get("preemptive") is not True:
            turn.committed.set()
        inputs = asyncio.create_task(self._route_inputs(job, mcp, turn.committed))
        reply: list[str] = []
        token = self._turn.set(turn)
        try:
            self._load_device_tools(job, session, mcp)
            # aclosing: a cancel mid-reply closes the script's generator and the LLM's HTTP stream
            # now (the model stops generating), not when the garbage collector finds them.
            async with aclosing(self._deltas(session, text, instruction)) as deltas:
                async for delta in deltas:
                    if delta:
                        reply.append(delta)
                        await job.output("delta", text=delta)
            if turn.usage is not None:
                # Before `done`: the hub counts the tokens against the budgets (else it estimates them).
                await job.output("usage", model=turn.model, **turn.usage)
            await turn.wait_commit()
        finally:
            self._turn.reset(token)
            inputs.cancel()
            await asyncio.gather(inputs, return_exceptions=True)
            mcp.bind(None)
            # An uncommitted preemptive reply answered words the user may not have said.
            if instruction:
                # What the device said first is the conversation's; the instruction is not.
                if reply:
                    session.store.append(session.device_id, "assistant", "".join(reply))
            elif turn.committed.is_set():
                session.remember(text, "".join(reply))

    async def _deltas(self, session: Session, text: str, instruction: bool = False) -> AsyncIterator[str]:
        assert self._handler is not None
        handler = self._instruction_handler if instruction and self._instruction_handler is not None else self._handler
        result = handler(session, text)
        if inspect.isasyncgen(result):
            async with aclosing(result):
                async for delta in result:
                    yield str(delta)
        elif inspect.isawaitable(result):
            value = await result
            if value:
                yield str(value)
        elif inspect.isgenerator(result):
            for delta in result:
                yield str(delta)
        elif result:
            yield str(result)

    async def _route_inputs(self, job: Job, mcp: DeviceMcp, committed: asyncio.Event) -> None:
        while True:
            event = await job.next_input()
            if event.event == "mcp":
                mcp.deliver(event.fields.get("payload"))
            elif event.event == "commit":
                committed.set()

    def _load_device_tools(self, job: Job, session: Session, mcp: DeviceMcp) -> None:
        """The device's tools as the hub listed them for this job (none when it has none, or the
        hub has not finished listing them: the turn never waits for the device)."""
        listed = job.params.get("tools")
        session.tools = mcp.registry(listed) if self.device_tools and isinstance(listed, list) else ToolRegistry()

    def _llm_usage(self, model: str, usage: dict[str, Any]) -> None:
        turn = self._turn.get()
        if turn is not None:
            turn.add_usage(model, usage)

    def _current_tools(self) -> ToolRegistry | None:
        turn = self._turn.get()
        tools = self.tools.merged(turn.session.tools if turn else None)
        if self.allowed_tools is not None:
            tools = ToolRegistry({name: t for name, t in tools.tools.items() if name in self.allowed_tools})
        return tools

    async def _tool_event(self, event: str, fields: dict[str, Any]) -> None:
        turn = self._turn.get()
        if turn is not None:
            if event == "tool_call":
                await turn.wait_commit()  # the LLM calls a tool only after this returns
            await turn.job.output(event, **fields)


__all__ = ["Assistant", "Session", "Tool"]
