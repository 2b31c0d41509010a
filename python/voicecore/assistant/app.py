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

Memory (docs/memory.md) is keyed by (agent, device): the agent is the job's ``params.agent``
("default" when absent). Before the script runs, the turn loads the device's memory from the memory
service (``--memory-url``/``VOICECORE_MEMORY_URL``; without one, a local SQLite file only this
worker sees); ``app.messages`` puts its facts and summary into the system prompt, its recent
turns after it, and the script's ``context`` (e.g. retrieved passages) with the utterance last. If
the service cannot be reached, the turn answers without history and a warning is logged; writes
are queued and retried. When the stored history outgrows ``history_tokens``, the
older turns are summarised by the LLM in the background after the reply (nothing waits on it), and
the LLM is offered a ``remember`` tool that keeps a fact the user states.

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
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable

from ..languages import primary
from ..memory import HttpMemory, LocalMemory, Memory, MemoryBackend
from ..worker import Job, JobError, Worker
from .llm import LLM
from .mcp import DeviceMcp
from .session import Session
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


SUMMARY_PROMPT = ("You keep the memory of a voice assistant. Summarise the conversation below in at most five short "
                  "sentences: what the user said about themselves, asked, decided or wants remembered, and what the "
                  "assistant answered or promised. Keep names, numbers and dates. Write only the summary.")


def default_db_path() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "voicecore" / "sessions.sqlite3"



LANGUAGE_NAMES = {"en": "English", "zh": "Chinese", "ja": "Japanese", "ko": "Korean", "ru": "Russian", "de": "German",
                  "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "pl": "Polish",
                  "uk": "Ukrainian", "tr": "Turkish", "ar": "Arabic", "hi": "Hindi"}


def reply_language(language: str) -> str:
    """The system prompt's line asking for the device's language; none for English (the prompts are
    written in English, and a small model answers in the prompt's language unless told)."""
    tag = primary(language or "en")
    if tag in ("en", "auto", ""):
        return ""
    return f" Always answer in {LANGUAGE_NAMES.get(tag, tag)}."


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
        memory: MemoryBackend | None = None,
        remember_tool: bool = True,
        summary_prompt: str = SUMMARY_PROMPT,
        summary_tokens: int = 200,
        llm_warm_up: bool | None = None,
    ) -> None:
        # An agent's system prompt (`voicecore up` sets it from the agent's config) replaces the script's.
        self.system = os.environ.get("VOICECORE_SYSTEM_PROMPT") or system
        # The agents this worker serves (`register.agents`): `voicecore up` sets VOICECORE_AGENTS.
        self.agents = [a.strip() for a in os.environ.get("VOICECORE_AGENTS", "").split(",") if a.strip()]
        # The tools the agent may use (its `tools` list; VOICECORE_TOOLS); None: every tool.
        allowed = os.environ.get("VOICECORE_TOOLS")
        self.allowed_tools: set[str] | None = None if allowed is None else {t.strip() for t in allowed.split(",") if t.strip()}
        # Prime the LLM with the system prompt when serving starts, and with each conversation after
        # its reply (``prime``); by default when VOICECORE_LLM_WARM_UP=1, which `voicecore up` sets
        # for its embedded llama.cpp server.
        self.llm_warm_up = os.environ.get("VOICECORE_LLM_WARM_UP") == "1" if llm_warm_up is None else llm_warm_up
        self.llm = llm or LLM.from_env()
        self.db_path = Path(os.environ.get("VOICECORE_SESSION_DB") or db or default_db_path())
        self.history_tokens = int(os.environ.get("VOICECORE_HISTORY_TOKENS") or history_tokens)
        self.summary_prompt = summary_prompt
        self.summary_tokens = summary_tokens
        self._memory = memory
        self._background: set[asyncio.Task[None]] = set()
        self._summarising: set[tuple[str, str]] = set()
        # Background LLM calls (summaries, primes) give way to turns: one runs only while no turn is
        # in progress here, and a turn that starts cancels it (a summary is retried after a later
        # reply). A small LLM server that serves one request at a time (llama.cpp) is then never
        # busy with them when a reply needs it.
        self._turns_running = 0
        self._no_turns = asyncio.Event()
        self._no_turns.set()
        self._yielding_calls: set[asyncio.Task[str]] = set()
        self.slots = slots
        self.name = os.environ.get("VOICECORE_ASSISTANT_NAME") or name  # `voicecore worker assistant --name` wins
        self.tool_timeout = tool_timeout
        self.device_tools = device_tools
        self.commit_timeout = commit_timeout  # a preemptive job's wait for `commit` (the hub's assistant timeout)
        self.tools = ToolRegistry()
        self.builtin_tools = ToolRegistry()  # offered after the script's and the device's tools; theirs win a name clash
        self._handler: Handler | None = None
        self._instruction_handler: Handler | None = None
        self._worker: Worker | None = None
        self._reminders: set[asyncio.Task[None]] = set()
        self._turn: contextvars.ContextVar[_Turn | None] = contextvars.ContextVar(f"voicecore-turn-{id(self)}", default=None)
        self.llm.tool_source = self._current_tools
        self.llm.on_tool_event = self._tool_event
        if remember_tool:
            self._add_remember_tool()
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
        """The usual prompt: system (plus the device's facts and summary), the recent history, the
        utterance with ``context`` (e.g. retrieved passages) before it."""
        # llama.cpp reuses the KV cache for the prompt's prefix it shares with the previous request.
        # The history only grows between summaries, so everything that changes every turn goes into
        # the last message: the next turn's prompt then starts with this one's, and the model reads
        # only the last exchange, the context and the utterance. With the context in the system
        # message it read the whole history every turn (SmolLM2 on 2 cores, the default assistant's
        # questions in one conversation: first token 159 ms at the first turn, 394 ms at the
        # eighth; with the context last 106-211 ms throughout). In the user message, not in a second
        # system message: many chat templates accept a system message only first.
        system = self.system + reply_language(session.language) + memory_prompt(session.memory)
        utterance = f"{context}\n\n{text}" if context else text
        return [{"role": "system", "content": system}, *session.history, {"role": "user", "content": utterance}]

    # Running -----------------------------------------------------------------------------------

    @property
    def memory(self) -> MemoryBackend:
        """Where conversations live: the backend given, else the memory service of
        ``VOICECORE_MEMORY_URL``, else a local SQLite file (``VOICECORE_SESSION_DB``)."""
        if self._memory is None:
            self._memory = HttpMemory.from_env() or LocalMemory(self.db_path)
            if isinstance(self._memory, LocalMemory):
                log.info("conversation memory: %s (only this worker sees it; set VOICECORE_MEMORY_URL to share it)", self._memory.describe)
            else:
                log.info("conversation memory: %s", self._memory.describe)
        return self._memory

    def use_memory(self, url: str, token: str) -> None:
        """Keeps conversations in the memory service at ``url`` (``voicecore memory``)."""
        self._memory = HttpMemory(url, token, read_timeout=float(os.environ.get("VOICECORE_MEMORY_TIMEOUT") or 1.0))

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
        parser.add_argument("--memory-url", default=os.environ.get("VOICECORE_MEMORY_URL", ""))
        parser.add_argument("--memory-token", default=os.environ.get("VOICECORE_MEMORY_TOKEN", ""))
        args, _ = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
        if not args.token:
            raise SystemExit("assistant: no worker token (--token or VOICECORE_TOKEN)")
        logging.basicConfig(level=os.environ.get("VOICECORE_LOG_LEVEL", "INFO"), format="%(asctime)s %(name)s %(levelname)s %(message)s")
        if args.memory_url and self._memory is None:
            self.use_memory(args.memory_url, args.memory_token)
        asyncio.run(self.serve(args.hub, args.token, handle_signals=True))

    async def serve(self, hub: str, token: str, handle_signals: bool = False) -> None:
        """Serves until stopped (drained by SIGTERM/SIGINT when ``handle_signals``), meanwhile primes
        the LLM once (``warm_up``), then delivers the queued memory writes (``close``)."""
        self.memory  # noqa: B018 - says where conversations live before the first turn
        warm = asyncio.create_task(self.warm_up()) if self.llm_warm_up else None
        try:
            await self.worker().serve(hub, token, handle_signals=handle_signals)
        finally:
            if warm is not None:
                warm.cancel()
                await asyncio.gather(warm, return_exceptions=True)
            await self.close()

    async def close(self, timeout: float = 5.0) -> None:
        """Drops the summaries in flight (a later reply makes them again, on any worker) and delivers
        the queued memory writes (up to ``timeout`` seconds)."""
        background = set(self._background)
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        if self._memory is not None:
            await self._memory.flush(timeout)
            await self._memory.close()

    async def warm_up(self) -> bool:
        """Primes the LLM with the system prompt: one request, one token, no tools. llama.cpp keeps
        the KV cache of the prompt prefix the next request shares (the system prompt: ``messages``
        keeps it first and byte-identical), so the first turn evaluates only its own context and
        words, and the server has read its weights in before anyone waits for it. Measured with the
        embedded SmolLM2 on 2 cores: docs/turn-latency.md. A failure is logged, never raised;
        True when the LLM answered."""
        if not self.llm.available:
            return False
        messages = [{"role": "system", "content": self.system}, {"role": "user", "content": "Hello."}]
        try:
            async with aclosing(self.llm.stream(messages, tools=False, max_tokens=1)) as deltas:
                async for _ in deltas:
                    break
        except Exception as exc:  # noqa: BLE001 - a warm-up must never stop the worker
            log.info("LLM warm-up failed: %s", exc)
            return False
        log.info("LLM warmed up with the system prompt")
        return True

    # One job = one utterance -------------------------------------------------------------------

    def session_for(self, job: Job) -> Session:
        """The job's session, its memory not loaded yet (``load_memory``)."""
        p = job.params
        device_id = str(p.get("device_id") or job.session or "anonymous")
        agent = p.get("agent")
        return Session(device_id=device_id, id=str(p.get("session") or job.session), language=str(p.get("language") or "en"),
                       agent=agent if isinstance(agent, str) and agent else "default", backend=self.memory,
                       budget_tokens=self.history_tokens)

    async def load_memory(self, session: Session) -> None:
        try:
            session.memory = await self.memory.load(session.agent, session.device_id, session.budget_tokens)
        except Exception as exc:  # noqa: BLE001 - a broken store never breaks the turn
            log.warning("memory of %s/%s not loaded (%s: %s): this turn answers without history", session.agent, session.device_id,
                        type(exc).__name__, exc)
            session.memory = Memory(available=False)

    async def handle_job(self, job: Job) -> None:
        if self._handler is None:
            raise JobError("the script registered no @app.on_utterance handler")
        text = job.params.get("text")
        if not isinstance(text, str):
            raise JobError("assistant job needs a string `text`")
        self._turn_started()
        try:
            await self._handle_turn(job, text)
        finally:
            self._turns_running -= 1
            if not self._turns_running:
                self._no_turns.set()

    def _turn_started(self) -> None:
        self._turns_running += 1
        self._no_turns.clear()
        for call in list(self._yielding_calls):
            call.cancel()  # the reply needs the LLM now

    async def _handle_turn(self, job: Job, text: str) -> None:
        session = self.session_for(job)
        instruction = job.params.get("instruction") is True
        session.instruction = instruction
        await self.load_memory(session)
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
                    await self._remember(session, None, "".join(reply))
            elif turn.committed.is_set():
                await self._remember(session, text, "".join(reply))

    # Memory --------------------------------------------------------------------------------------

    async def _remember(self, session: Session, text: str | None, reply: str) -> None:
        """Stores the exchange (waiting briefly; the backend queues what it cannot store now), then in
        the background summarises the history when it outgrew the budget, and primes the LLM with
        the conversation (``prime``) when the warm-up is on. ``text`` None: the device spoke first
        (a say), only its words are the conversation's."""
        messages = ([{"role": "user", "content": text}] if text is not None else []) + ([{"role": "assistant", "content": reply}] if reply else [])
        try:
            stored_tokens = await self.memory.append(session.agent, session.device_id, messages)
        except Exception as exc:  # noqa: BLE001
            log.warning("the turn of %s/%s was not stored: %s: %s", session.agent, session.device_id, type(exc).__name__, exc)
            return
        summarise = stored_tokens is not None and stored_tokens > session.budget_tokens
        if self.llm.available and (summarise or self.llm_warm_up):
            self.background(self._after_reply(session, summarise))

    async def _after_reply(self, session: Session, summarise: bool) -> None:
        if summarise:
            await self._summarise(session.agent, session.device_id)
        if self.llm_warm_up:
            await self.prime(session)

    async def prime(self, session: Session) -> bool:
        """Primes the LLM with ``session``'s conversation as its next turn will send it: the prompt
        of ``messages`` up to the next utterance, from the memory as stored (one request, one token,
        no tools), once no turn is in progress here; a turn that starts cancels it. The server
        keeps that prefix's KV cache, so the next turn reads only its context and words: without
        the prime it read the last exchange again, since the turn's prompt had the context before
        the utterance and the history keeps the utterance alone, and a reply as text can tokenize
        otherwise than as it was generated. The assistant primes after each reply when
        ``llm_warm_up`` is on. Measured: Benchmarks/e2e/bench_conversation.py. True when the LLM
        answered; a failure is logged, never raised."""
        await self._no_turns.wait()
        try:
            memory = await self.memory.load(session.agent, session.device_id, session.budget_tokens)
        except Exception as exc:  # noqa: BLE001 - the next turn loads it again
            log.info("no prime for %s/%s: its memory did not load: %s", session.agent, session.device_id, exc)
            return False
        if self._turns_running or not memory.available:
            return False  # a turn started while the memory loaded: it has the LLM now
        try:
            # None: a turn started, and its own request reads the conversation.
            prompt = self.messages(replace(session, memory=memory), "")
            return await self._give_way(self.llm.complete(prompt, max_tokens=1)) is not None
        except Exception as exc:  # noqa: BLE001 - a prime must never stop the worker
            log.info("priming the LLM with %s/%s failed: %s", session.agent, session.device_id, exc)
            return False

    async def _give_way(self, request: Awaitable[str]) -> str | None:
        """Runs a background LLM call that a turn starting here cancels (``_turn_started``): its
        text, or None when a turn took its place. Call it with no ``await`` after checking that no
        turn is in progress."""
        call = asyncio.ensure_future(request)
        self._yielding_calls.add(call)
        try:
            return await call
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # this task itself is cancelled (the worker stops)
            return None
        finally:
            self._yielding_calls.discard(call)

    def background(self, coro: Any) -> asyncio.Task[None]:
        """Runs ``coro`` beside the turns; ``close`` cancels it."""
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        return task

    async def _summarise(self, agent: str, device: str) -> None:
        """Folds the turns older than the newest half-budget into the summary (compare-and-set on the
        summary mark: when two workers summarise at once, the second one's write is refused)."""
        key = (agent, device)
        if key in self._summarising:
            return
        self._summarising.add(key)
        try:
            while True:
                await self._no_turns.wait()
                keep = await self.memory.load(agent, device, max(1, self.history_tokens // 2))
                if not keep.available or keep.unsummarised_tokens <= self.history_tokens:
                    return
                upto = keep.messages[0]["id"] - 1 if keep.messages else 2**62
                old = await self.memory.transcript(agent, device, keep.summary_upto, upto)
                if not old:
                    return
                if self._turns_running:
                    continue  # a turn started while the history loaded
                summary = await self._give_way(self.llm.complete(self.summary_messages(keep.summary, old), max_tokens=self.summary_tokens))
                if summary is None:
                    log.info("summary of %s/%s gave way to a turn; it runs again once no turn is in progress", agent, device)
                    continue
                summary = summary.strip()
                if summary and await self.memory.put_summary(agent, device, summary, old[-1]["id"], keep.summary_upto):
                    log.info("summarised %d message(s) of %s/%s", len(old), agent, device)
                return
        except Exception as exc:  # noqa: BLE001 - the next reply tries again
            log.warning("summary of %s/%s failed: %s: %s", agent, device, type(exc).__name__, exc)
        finally:
            self._summarising.discard(key)

    def summary_messages(self, summary: str, old: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines = "\n".join(f"{'User' if m['role'] == 'user' else 'Assistant'}: {m['content']}" for m in old)
        before = f"Summary so far: {summary}\n\n" if summary else ""
        return [{"role": "system", "content": self.summary_prompt},
                {"role": "user", "content": f"{before}Conversation to add:\n{lines}"}]

    def _add_remember_tool(self) -> None:
        async def remember(fact: str) -> str:
            """Keeps a lasting fact the user stated about themselves or wants remembered (their name, a
            preference, a date), for later conversations.

            Args:
                fact: The fact, as one short sentence, e.g. "The user's name is Ana."
            """
            turn = self._turn.get()
            if turn is None:
                raise RuntimeError("no turn in progress")
            return "remembered" if await turn.session.remember_fact(fact) else "the memory refused it"

        self.builtin_tools.add(python_tool(remember, timeout=self.tool_timeout))

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
        for name, tool in self.builtin_tools.tools.items():  # memory's own (remember): every agent keeps them
            tools.tools.setdefault(name, tool)
        return tools

    async def _tool_event(self, event: str, fields: dict[str, Any]) -> None:
        turn = self._turn.get()
        if turn is not None:
            if event == "tool_call":
                await turn.wait_commit()  # the LLM calls a tool only after this returns
            await turn.job.output(event, **fields)


def memory_prompt(memory: Memory) -> str:
    """The facts and the summary, as they follow the system prompt ("" when there are none)."""
    text = ""
    if memory.facts:
        text += "\n\nWhat you know about the user:\n" + "\n".join(f"- {fact}" for fact in memory.facts)
    if memory.summary:
        text += f"\n\nEarlier in this conversation: {memory.summary}"
    return text


__all__ = ["Assistant", "Session", "Tool", "memory_prompt"]
