"""Memory that holds, end to end through real processes: the real voicecored, real worker SDK
processes (instant ASR and TTS: a device's tone n is heard as "question n"), two real assistant
worker processes running Examples/python/tools.py against a scripted OpenAI-compatible LLM over
real HTTP, a real `voicecore memory` process, and devices speaking XiaoZhi with real Opus.

The LLM answers "question n" with "Answer n begins. Answer n ends." (the sentences device_turn
expects), calls the built-in `remember` tool for question 5 ("my name is Ana"), and answers the
assistant's summary request (its system prompt is SUMMARY_PROMPT) after SUMMARY_DELAY seconds."""

from __future__ import annotations

import asyncio
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from voicecore.assistant.app import SUMMARY_PROMPT
from voicecore.testing import Rule, ScriptedLLM, ToolCall
from voicecore.testing.fullstack import Stack, device_turn
from voicecore.testing.memory import MemoryProcess

ROOT = Path(__file__).resolve().parents[2]
TOOLS_SCRIPT = str(ROOT / "Examples" / "python" / "tools.py")
DEVICE = "mem:00:00:00:00:01"
FACT = "The user's name is Ana."
SUMMARY = "The user asked questions one and two and got both answers."
SUMMARY_DELAY = 10.0  # long beside a turn (~1-2 s here), so a turn that waited for it would show


def reply_to(n: int) -> str:
    return f"Answer {n} begins. Answer {n} ends."


class Brain:
    """The scripted LLM's script; every request it saw, with the time it arrived."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str, list[dict[str, Any]]]] = []

    def __call__(self, messages: list[dict[str, Any]]) -> Rule:
        if str(messages[0].get("content", "")).startswith(SUMMARY_PROMPT):
            self.seen.append((time.monotonic(), "summary", messages))
            return Rule(reply=SUMMARY, first_token_delay=SUMMARY_DELAY)
        question = next(m["content"] for m in reversed(messages) if m["role"] == "user")
        if question in ("", "Hello."):  # the assistant's prime of a conversation, its warm-up at start
            self.seen.append((time.monotonic(), "prime" if question == "" else "warm-up", messages))
            return Rule(reply="Ok.")
        self.seen.append((time.monotonic(), "reply", messages))
        n = int(re.search(r"\d+", question).group())  # type: ignore[union-attr]
        if n == 5 and messages[-1]["role"] == "user":
            return Rule(tool_calls=[ToolCall("remember", {"fact": FACT})])
        return Rule(reply=reply_to(n))

    def replies(self) -> list[list[dict[str, Any]]]:
        return [m for _, kind, m in self.seen if kind == "reply"]

    def primes(self) -> list[list[dict[str, Any]]]:
        return [m for _, kind, m in self.seen if kind == "prime"]

    def summaries(self) -> list[float]:
        return [t for t, kind, _ in self.seen if kind == "summary"]


def turns(*ns: int) -> list[dict[str, str]]:
    out = []
    for n in ns:
        out += [{"role": "user", "content": f"question {n}"}, {"role": "assistant", "content": reply_to(n)}]
    return out


def chat(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The request's conversation without the system prompt and the tool round."""
    return [{"role": m["role"], "content": m["content"]} for m in messages[1:] if m["role"] in ("user", "assistant") and m.get("content")]


async def start(tmp_path: Path, llm: ScriptedLLM, memory: MemoryProcess, assistants: int = 2, **env: str) -> Stack:
    stack = Stack(tmp_path / "stack", workers={"asr": (1, 4), "tts": (1, 4)},
                  env={"VOICECORE_LLM_URL": llm.url, "VOICECORE_MEMORY_URL": memory.url, "VOICECORE_MEMORY_TOKEN": memory.token, **env})
    stack.dispatches = Dispatches(stack)  # type: ignore[attr-defined]
    await stack.start()
    for i in range(assistants):
        # Each as if on its own machine: a disk of its own (where a per-worker store would live).
        own_disk = tmp_path / f"machine-{i + 1}"
        stack.start_worker("assistant", 2, f"assistant-{i + 1}", extra=["--script", TOOLS_SCRIPT],
                           env={"VOICECORE_SESSION_DB": str(own_disk / "sessions.sqlite3"), "XDG_STATE_HOME": str(own_disk)})
    await stack.wait_registered(2 + assistants, 60)
    return stack


class Dispatches:
    """The names of the workers the assistant jobs went to, in order (from the daemon's own log)."""

    def __init__(self, stack: Stack) -> None:
        self.names: dict[str, str] = {}
        self.workers: list[str] = []
        stack.watchers.append(self.see)

    def see(self, e: dict[str, Any]) -> None:
        if e.get("kind") == "worker.registered":
            self.names[str(e.get("worker"))] = str(e.get("text"))
        elif e.get("kind") == "job.dispatched" and e.get("job_kind") == "assistant":
            self.workers.append(self.names.get(str(e.get("worker")), "?"))


def served_by(stack: Stack) -> list[str]:
    return list(stack.dispatches.workers)  # type: ignore[attr-defined]


async def ask(stack: Stack, n: int, device: str = DEVICE) -> Any:
    result = await device_turn(stack.ws_url, n, device_id=device, timeout=30)
    assert result.ok, result.problem
    return result


@pytest.fixture
def llm():
    brain = Brain()
    server = ScriptedLLM(brain).start_in_thread()
    server.brain = brain  # type: ignore[attr-defined]
    yield server
    server.stop_thread()


@pytest.fixture
def memory(tmp_path: Path):
    service = MemoryProcess(tmp_path / "memory.sqlite3")
    yield service
    service.stop()


def test_conversation_and_facts_hold_across_reconnects_and_assistant_workers(tmp_path: Path, llm: ScriptedLLM, memory: MemoryProcess) -> None:
    brain: Brain = llm.brain  # type: ignore[attr-defined]

    async def main() -> None:
        stack = await start(tmp_path, llm, memory)
        try:
            await ask(stack, 1)
            await ask(stack, 2)  # a new connection: the device reconnected
            assert chat(brain.replies()[-1]) == turns(1) + [{"role": "user", "content": "question 2"}]

            await ask(stack, 5)  # "my name is Ana": the LLM calls `remember`
            tool_round = brain.replies()[-1]
            assert tool_round[-1]["role"] == "tool" and json.loads(tool_round[-1]["content"]) == {"result": "remembered"}
            assert memory.get("default", DEVICE)["facts"][0]["text"] == FACT

            # The worker that served that turn dies; the next turn lands on the other one and the
            # LLM gets the earlier turns and the fact.
            first = served_by(stack)[-1]
            victim = next(w for w in stack.workers if w.name == first)
            stack.kill_worker(victim)
            await ask(stack, 3)
            second = served_by(stack)[-1]
            assert second != first
            request = brain.replies()[-1]
            assert FACT in request[0]["content"]
            assert chat(request) == turns(1, 2, 5) + [{"role": "user", "content": "question 3"}]

            # The killed worker comes back (a new process); the other one dies: the turn after is
            # served by the restarted process and still remembers everything.
            stack.replace_worker(victim)
            await stack.wait_registered(4, 60)
            stack.kill_worker(next(w for w in stack.workers if w.name == second))
            await ask(stack, 4)
            assert served_by(stack)[-1] == first
            request = brain.replies()[-1]
            assert FACT in request[0]["content"]
            assert chat(request) == turns(1, 2, 5, 3) + [{"role": "user", "content": "question 4"}]

            # Another device (or the same one with another agent) has its own memory.
            await ask(stack, 6, device="mem:00:00:00:00:02")
            assert chat(brain.replies()[-1]) == [{"role": "user", "content": "question 6"}]
            assert FACT not in brain.replies()[-1][0]["content"]
            stored = memory.get("default", DEVICE)
            assert [{"role": m["role"], "content": m["content"]} for m in stored["messages"]] == turns(1, 2, 5, 3, 4)
        finally:
            await stack.stop()

    asyncio.run(main())


def test_old_turns_are_summarised_after_the_reply_and_nothing_waits_for_it(tmp_path: Path, llm: ScriptedLLM, memory: MemoryProcess) -> None:
    brain: Brain = llm.brain  # type: ignore[attr-defined]

    async def main() -> None:
        # 40 tokens of history: a turn here is 19 (7 + 12), so the third turn outgrows it.
        stack = await start(tmp_path, llm, memory, assistants=1, VOICECORE_HISTORY_TOKENS="40")
        try:
            await ask(stack, 1)
            await ask(stack, 2)
            assert brain.summaries() == []
            third = await ask(stack, 3)
            # The summary request came after the reply's own request, and the reply's first audio
            # did not wait for the summary (which takes SUMMARY_DELAY seconds to come back).
            deadline = time.monotonic() + 10
            while not brain.summaries():
                assert time.monotonic() < deadline, "no summary was asked for"
                await asyncio.sleep(0.05)
            asked = brain.summaries()[0]
            reply_request = max(t for t, kind, m in brain.seen if kind == "reply" and chat(m)[-1]["content"] == "question 3")
            assert reply_request < asked
            assert third.first_audio_at < asked + SUMMARY_DELAY and memory.get("default", DEVICE)["summary"] == ""
            summary_request = next(m for _, kind, m in brain.seen if kind == "summary")
            assert "User: question 1" in summary_request[1]["content"] and "question 3" not in summary_request[1]["content"]

            # The next turn goes on at once: the summary gives way to it (cancelled, asked again
            # once the worker is idle), so the LLM is never busy summarising when a reply needs it.
            fourth = await ask(stack, 4)
            assert fourth.ended_at < asked + SUMMARY_DELAY, "the next turn waited for the summary"
            assert memory.get("default", DEVICE)["summary"] == ""

            deadline = time.monotonic() + SUMMARY_DELAY + 20
            while not memory.get("default", DEVICE)["summary"]:
                assert time.monotonic() < deadline, "the summary was never stored"
                await asyncio.sleep(0.1)
            fourth_request = max(t for t, kind, m in brain.seen if kind == "reply" and chat(m)[-1]["content"] == "question 4")
            assert len(brain.summaries()) >= 2 and brain.summaries()[-1] > fourth_request  # asked again after that reply
            stored = memory.get("default", DEVICE)
            assert stored["summary"] == SUMMARY
            # The old turns are folded into the summary; the newest that fit half the budget stay.
            assert [m["content"] for m in stored["messages"]] == ["question 4", reply_to(4)]

            # The prompt is now system + summary + recent turns.
            await ask(stack, 7)
            request = brain.replies()[-1]
            assert request[0]["content"].endswith(f"Earlier in this conversation: {SUMMARY}")
            assert chat(request) == turns(4) + [{"role": "user", "content": "question 7"}]
        finally:
            await stack.stop()

    asyncio.run(main())


def test_memory_service_down_the_turn_is_still_answered_and_queued_writes_arrive_later(tmp_path: Path, llm: ScriptedLLM,
                                                                                         memory: MemoryProcess) -> None:
    brain: Brain = llm.brain  # type: ignore[attr-defined]

    async def main() -> None:
        stack = await start(tmp_path, llm, memory, assistants=1)
        try:
            await ask(stack, 1)
            memory.kill()
            down = await ask(stack, 2)  # answered, without history
            assert down.sentences == ["Answer 2 begins.", "Answer 2 ends."]
            assert chat(brain.replies()[-1]) == [{"role": "user", "content": "question 2"}]
            log = next(w for w in stack.workers if w.kind == "assistant").log_path
            deadline = time.monotonic() + 5
            while "unreachable" not in log.read_text():
                assert time.monotonic() < deadline, log.read_text()[-2000:]
                await asyncio.sleep(0.1)
            assert "answers without history" in log.read_text()

            memory.start()  # back on the same port, over the same file: the queued turn is delivered
            deadline = time.monotonic() + 20
            while len(memory.get("default", DEVICE)["messages"]) < 4:
                assert time.monotonic() < deadline, "the queued turn never arrived"
                await asyncio.sleep(0.2)
            await ask(stack, 3)
            assert chat(brain.replies()[-1]) == turns(1, 2) + [{"role": "user", "content": "question 3"}]
            assert "reachable again" in log.read_text()
        finally:
            await stack.stop()

    asyncio.run(main())


def test_voicecore_up_starts_the_memory_service_and_its_assistant_worker_remembers_across_a_restart(tmp_path: Path) -> None:
    """`voicecore up` (real voicecored, its own memory service and assistant worker running
    Tests/python/memory_assistant.py), instant ASR and TTS workers joining it from outside."""
    import os
    import signal
    import subprocess
    import sys

    from voicecore.testing.fullstack import PACKAGE_PARENT

    state = tmp_path / "state"
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT)
    up = subprocess.Popen([sys.executable, "-m", "voicecore", "up", "--host", "127.0.0.1", "--port", "0", "--workers", "assistant",
                           "--no-llm", "--no-journal", "--script", str(ROOT / "Tests" / "python" / "memory_assistant.py"),
                           "--worker-token", "up-worker-token", "--memory-token", "up-memory-token", "--state-dir", str(state)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        lines = []
        for line in up.stdout:  # type: ignore[union-attr]
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        banner = "".join(lines)
        status = json.loads((state / "up.json").read_text())
        assert status["memory"].startswith("http://") and "memory" in status["pids"], banner
        assert f"--memory-url {status['memory']} --memory-token up-memory-token" in banner
        memory = MemoryProcess(state / "memory.sqlite3", token="up-memory-token", start=False)
        memory.port = int(status["memory"].rsplit(":", 1)[1])
        for kind in ("asr", "tts"):
            workers.append(subprocess.Popen([sys.executable, "-m", "voicecore", "worker", kind, "--engine", "instant", "--hub",
                                             status["worker_url"],
                                             "--token=up-worker-token"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

        async def turn(n: int) -> Any:
            deadline = time.monotonic() + 60
            while True:  # until the joining workers have registered
                result = await device_turn(status["ws"], n, device_id=DEVICE, timeout=30)
                if result.sentences or time.monotonic() > deadline:
                    return result
                await asyncio.sleep(0.5)

        first = asyncio.run(turn(1))
        assert first.sentences == ["Answer 1 begins.", "I remember 0 turns and 0 facts."], first
        # remember_fact: the fact is stored and in the session at once.
        assert asyncio.run(turn(9)).sentences == ["Answer 9 begins.", "I remember 1 turns and 1 facts."]
        # The assistant worker is killed; the supervisor restarts it; the new process remembers.
        old = status["pids"]["assistant worker"]
        os.kill(old, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while json.loads((state / "up.json").read_text())["pids"]["assistant worker"] == old:
            assert time.monotonic() < deadline, "the assistant worker was not restarted"
            time.sleep(0.2)
        again = asyncio.run(turn(2))
        assert again.sentences == ["Answer 2 begins.", "I remember 2 turns and 1 facts."], again
        stored = memory.get("default", DEVICE)
        assert [m["content"] for m in stored["messages"]][::2] == ["question 1", "question 9", "question 2"]
        assert [f["text"] for f in stored["facts"]] == ["The user asked question 9."]
    finally:
        for w in workers:
            w.terminate()
        up.send_signal(signal.SIGTERM)
        assert up.wait(60) == 0
        for w in workers:
            w.wait(10)


def test_two_hubs_share_one_memory_service(tmp_path: Path, llm: ScriptedLLM, memory: MemoryProcess) -> None:
    """Two hubs (two voicecored, each with its own workers) pointed at one memory service: a device
    that talks to one hub and then to the other continues its conversation."""
    brain: Brain = llm.brain  # type: ignore[attr-defined]

    async def main() -> None:
        east = await start(tmp_path / "east", llm, memory, assistants=1)
        west = await start(tmp_path / "west", llm, memory, assistants=1)
        try:
            await ask(east, 1)
            await ask(west, 2)
            assert chat(brain.replies()[-1]) == turns(1) + [{"role": "user", "content": "question 2"}]
            await ask(east, 3)
            assert chat(brain.replies()[-1]) == turns(1, 2) + [{"role": "user", "content": "question 3"}]
        finally:
            await east.stop()
            await west.stop()

    asyncio.run(main())


def test_with_the_warm_up_on_the_llm_is_primed_with_the_conversation_between_turns(tmp_path: Path, llm: ScriptedLLM, memory: MemoryProcess) -> None:
    """`voicecore up` turns the warm-up on for its embedded llama.cpp server: after each reply the
    assistant worker sends the LLM the conversation as the device's next turn will send it (from
    the memory service), so that turn's prompt starts with everything the server just read."""
    brain: Brain = llm.brain  # type: ignore[attr-defined]

    async def main() -> None:
        stack = await start(tmp_path, llm, memory, assistants=1, VOICECORE_LLM_WARM_UP="1")
        try:
            await ask(stack, 1)
            deadline = time.monotonic() + 10
            while not brain.primes():
                assert time.monotonic() < deadline, "the conversation was not primed after the reply"
                await asyncio.sleep(0.05)
            await ask(stack, 2)  # a new connection of the same device
            prime, second = brain.primes()[0], brain.replies()[-1]
            assert prime[-1] == {"role": "user", "content": ""} and chat(prime) == turns(1)
            assert second[:-1] == prime[:-1] and second[-1] == {"role": "user", "content": "question 2"}
            assert [kind for _, kind, _ in brain.seen][:2] == ["warm-up", "reply"]
        finally:
            await stack.stop()

    asyncio.run(main())
