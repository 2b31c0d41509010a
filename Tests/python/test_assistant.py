"""The assistant framework: tools, sessions, the LLM client over real HTTP/SSE against the
scripted OpenAI-compatible server, and whole assistant jobs over the worker protocol."""

import asyncio
import json
import random
import socket
from typing import Literal, Optional

import pytest

from voicecore import Assistant
from voicecore.assistant import LLM, LLMError, ToolRegistry, schema_from_function
from voicecore.memory import MemoryStore
from voicecore.assistant.tools import python_tool, validate
from voicecore.testing import Rule, ScriptedHub, ScriptedLLM, ToolCall

from assistant_harness import recent, serve_app, weather_app


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def dead_url() -> str:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    return f"http://127.0.0.1:{port}/v1"


def fast(llm: LLM) -> LLM:
    llm.backoff_base = 0.01
    llm.rng = random.Random(3)
    return llm


# Tools ---------------------------------------------------------------------------------------


def set_alarm(time: str, days: list[str], volume: int = 5, tone: Literal["beep", "chime"] = "beep", label: Optional[str] = None) -> str:
    """Sets an alarm on the device.

    Args:
        time: Wall-clock time, HH:MM.
        days: Weekdays it repeats on.
        volume (int): 1 to 10.
    """
    return f"alarm {time}"


def test_schema_from_signature_and_docstring():
    description, schema = schema_from_function(set_alarm)
    assert description == "Sets an alarm on the device."
    assert schema == {
        "type": "object",
        "properties": {
            "time": {"type": "string", "description": "Wall-clock time, HH:MM."},
            "days": {"type": "array", "items": {"type": "string"}, "description": "Weekdays it repeats on."},
            "volume": {"type": "integer", "description": "1 to 10.", "default": 5},
            "tone": {"type": "string", "enum": ["beep", "chime"], "default": "beep"},
            "label": {"type": "string"},
        },
        "required": ["time", "days"],
        "additionalProperties": False,
    }
    with pytest.raises(TypeError, match="no JSON schema"):
        schema_from_function(lambda x: x if False else None) if False else schema_from_function(_bad_tool)


def _bad_tool(x: complex) -> None:
    """Takes a complex number."""


def test_validation_names_the_bad_field():
    _, schema = schema_from_function(set_alarm)
    validate({"time": "07:00", "days": ["mon"]}, schema)
    for args, message in [
        ({"days": []}, "arguments.time is required"),
        ({"time": 7, "days": []}, "arguments.time must be string"),
        ({"time": "7", "days": [1]}, r"arguments.days\[0\] must be string"),
        ({"time": "7", "days": [], "tone": "gong"}, "must be one of"),
        ({"time": "7", "days": [], "volume": True}, "must be integer"),
        ({"time": "7", "days": [], "snooze": 1}, "snooze is not a parameter"),
    ]:
        with pytest.raises(ValueError, match=message):
            validate(args, schema)


def test_tool_calls_never_raise():
    async def main():
        registry = ToolRegistry()

        async def slow() -> str:
            """Never finishes in time."""
            await asyncio.sleep(5)
            return "late"

        def broken(n: int) -> float:
            """Divides by zero."""
            return n / 0

        registry.add(python_tool(set_alarm))
        registry.add(python_tool(slow, timeout=0.1))
        registry.add(python_tool(broken))
        return [
            await registry.call("set_alarm", {"time": "07:00", "days": ["mon"]}),
            await registry.call("slow", {}),
            await registry.call("broken", {"n": 1}),
            await registry.call("broken", {"n": "one"}),
            await registry.call("nope", {}),
        ]

    ok, slow, broken, invalid, missing = run(main())
    assert ok == {"result": "alarm 07:00"}
    assert slow == {"error": "tool slow timed out after 0.1 s"}
    assert broken == {"error": "ZeroDivisionError: division by zero"}
    assert invalid["error"].startswith("invalid arguments: arguments.n must be integer")
    assert "no tool named 'nope'" in missing["error"]


# Sessions ------------------------------------------------------------------------------------


def test_history_persists_and_respects_the_token_budget(tmp_path):
    db = tmp_path / "s.sqlite3"
    store = MemoryStore(db)
    for i in range(10):
        store.append("a", "dev", [{"role": "user", "content": f"question {i} " + "x" * 36},  # 47 characters: 16 tokens each
                                  {"role": "assistant", "content": f"answer {i} " + "y" * 38}])
    store.append("a", "other", [{"role": "user", "content": "unrelated"}])
    store.close()
    reopened = MemoryStore(db)
    recent = reopened.snapshot("a", "dev", budget_tokens=64).messages
    assert [m["content"].split()[0:2] for m in recent] == [["question", "8"], ["answer", "8"], ["question", "9"], ["answer", "9"]]
    assert len(reopened.snapshot("a", "dev", budget_tokens=10_000).messages) == 20
    assert reopened.snapshot("a", "nobody", 100).messages == []
    assert reopened.snapshot("b", "dev", 100).messages == []  # another agent's conversation with the same device
    assert recent[0]["role"] == "user"


# LLM client ------------------------------------------------------------------------------------


def test_streams_deltas_over_sse():
    async def main():
        async with ScriptedLLM([Rule(when="capital of france", reply="Paris is the capital of France. It is lovely.")]) as server:
            llm = LLM([server.url])
            deltas = [d async for d in llm.stream([{"role": "user", "content": "What is the capital of France?"}])]
            request = server.requests[-1]
            return deltas, request

    deltas, request = run(main())
    assert len(deltas) == 9 and "".join(deltas) == "Paris is the capital of France. It is lovely."
    assert request["stream"] is True and request["model"] == "scripted-llm"  # discovered from /v1/models


def test_failover_across_endpoints_and_retries_with_backoff():
    async def main():
        async with ScriptedLLM([Rule(status=500)]) as broken, ScriptedLLM([Rule(when="", reply="from the good one")]) as good:
            llm = fast(LLM([dead_url(), broken.url, good.url], model="m"))
            text = await llm.complete([{"role": "user", "content": "hi"}])
            assert text == "from the good one" and len(broken.requests) == 1
            assert await llm.complete([{"role": "user", "content": "again"}]) == "from the good one"
            assert len(broken.requests) == 1  # the good endpoint is now tried first

        async with ScriptedLLM([Rule(status=503, times=2), Rule(reply="third time lucky")]) as flaky:
            llm = fast(LLM([flaky.url], model="m", attempts=3))
            assert await llm.complete([{"role": "user", "content": "hi"}]) == "third time lucky"
            assert len(flaky.requests) == 3

        async with ScriptedLLM([Rule(status=503)]) as down:
            llm = fast(LLM([down.url, dead_url()], model="m", attempts=2))
            with pytest.raises(LLMError, match="every LLM endpoint failed"):
                await llm.complete([{"role": "user", "content": "hi"}])
            assert len(down.requests) == 2

        async with ScriptedLLM([Rule(status=400)]) as picky:
            llm = fast(LLM([picky.url], model="m"))
            with pytest.raises(LLMError, match="HTTP 400"):
                await llm.complete([{"role": "user", "content": "hi"}])
            assert len(picky.requests) == 1  # a bad request is not retried

    run(main())


def test_timeouts_before_and_during_the_answer():
    async def main():
        async with ScriptedLLM([Rule(reply="too slow", first_token_delay=3)]) as slow, ScriptedLLM([Rule(reply="fast answer")]) as quick:
            llm = fast(LLM([slow.url, quick.url], model="m", first_token_timeout=0.3))
            assert await llm.complete([{"role": "user", "content": "hi"}]) == "fast answer"

        async with ScriptedLLM([Rule(reply="one two three four five", stall_after=2)]) as stalling:
            llm = fast(LLM([stalling.url], model="m", idle_timeout=0.3))
            got = []
            with pytest.raises(LLMError, match="mid-answer"):
                async for d in llm.stream([{"role": "user", "content": "count"}]):
                    got.append(d)
            assert "".join(got) == "one two"

    run(main())


def test_no_endpoint_is_a_clear_error():
    with pytest.raises(LLMError, match="VOICECORE_LLM_URL"):
        run(LLM([]).complete([{"role": "user", "content": "hi"}]))


# Whole assistant jobs ------------------------------------------------------------------------


def weather_rules():
    return [
        Rule(when="weather in paris", tool_calls=[ToolCall("weather", {"city": "Paris"})]),
        Rule(when="weather in atlantis", tool_calls=[ToolCall("weather", {"city": "Atlantis"})]),
        Rule(when=r'"result": "sunny', reply="It is sunny in Paris."),
        Rule(when=r'"error"', reply="Sorry, I could not find out."),
        Rule(when="dim the lights", tool_calls=[ToolCall("self_light_set_brightness", {"brightness": 20})]),
        Rule(when=r'"result": "true"', reply="Done, the lights are dimmed."),
        Rule(when="my name", reply="Nice to meet you."),
        Rule(when="long story", reply="Once upon a time " + "there was a story " * 40, chunk_delay=0.02),
    ]


def test_assistant_job_streams_deltas_and_calls_python_tools(tmp_path):
    async def main():
        async with ScriptedLLM(weather_rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db")
            worker, task, w = await serve_app(app, hub)
            assert w.register["kinds"] == ["assistant"] and w.register["slots"] == {"assistant": 4}
            await w.job(1, "assistant", {"text": "What's the weather in Paris?", "device_id": "dev-1", "language": "en", "session": "s1"})
            outputs, _, end = await w.until_end(1)
            assert end["type"] == "done"
            events = [o["event"] for o in outputs]
            assert events[:2] == ["tool_call", "tool_result"]
            assert outputs[0]["name"] == "weather" and outputs[0]["arguments"] == {"city": "Paris"}
            assert outputs[1]["ok"] is True and outputs[1]["result"] == {"result": "sunny, 21 C"}
            assert "".join(o["text"] for o in outputs if o["event"] == "delta") == "It is sunny in Paris."
            first_request = server.requests[0]
            assert first_request["tools"][0]["function"]["name"] == "weather"
            assert first_request["tools"][0]["function"]["parameters"]["properties"]["city"]["description"] == "The city's name."

            await w.job(2, "assistant", {"text": "What's the weather in Atlantis?", "device_id": "dev-1", "session": "s1"})
            outputs, _, end = await w.until_end(2)
            assert end["type"] == "done"
            result = next(o for o in outputs if o["event"] == "tool_result")
            assert result["ok"] is False and "unknown city Atlantis" in result["result"]["error"]
            assert "".join(o["text"] for o in outputs if o["event"] == "delta") == "Sorry, I could not find out."
            await worker.stop()
            await task

    run(main())


def test_history_survives_reconnects_and_restarts(tmp_path):
    async def main():
        db = tmp_path / "s.db"
        async with ScriptedLLM(weather_rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, db)
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", {"text": "Hello, my name is Ada.", "device_id": "dev-7", "session": "s1"})
            await w.until_end(1)
            await worker.stop()
            await task

            app2 = weather_app(server, db)  # a restarted worker, a reconnected device (new session id)
            worker2, task2, w2 = await serve_app(app2, hub)
            await w2.job(5, "assistant", {"text": "What's my name again?", "device_id": "dev-7", "session": "s2"})
            await w2.until_end(5)
            await w2.job(6, "assistant", {"text": "What's my name?", "device_id": "someone-else", "session": "s3"})
            await w2.until_end(6)
            await worker2.stop()
            await task2
            return server.requests

    requests = run(main())
    second = requests[1]["messages"]
    assert second[0] == {"role": "system", "content": "Be brief."}
    assert second[1:] == [
        {"role": "user", "content": "Hello, my name is Ada."},
        {"role": "assistant", "content": "Nice to meet you."},
        {"role": "user", "content": "What's my name again?"},
    ]
    assert [m["role"] for m in requests[2]["messages"]] == ["system", "user"]  # another device's history is its own


def test_each_turns_prompt_starts_with_the_previous_turns_so_the_llm_reuses_its_cache(tmp_path):
    """Through the assistant worker and a real HTTP LLM: the retrieved context goes into the last
    message, so a conversation's next prompt is the previous one with the last message as stored
    (the utterance alone), the reply and the new message appended — llama.cpp then reads only those,
    not the whole history again. The history keeps the utterances, not their passages."""
    async def main():
        rules = [Rule(when="capital of France", reply="Paris."), Rule(when="capital of Japan", reply="Tokyo."),
                 Rule(when="highest mountain", reply="Mount Everest.")]
        async with ScriptedLLM(rules) as server, ScriptedHub() as hub:
            app = Assistant(system="Answer from the facts.", llm=LLM([server.url]), db=tmp_path / "s.db")
            facts = {"France": "Paris is the capital of France.", "Japan": "Tokyo is the capital of Japan.",
                     "mountain": "Mount Everest is the highest mountain."}

            @app.on_utterance
            async def answer(session, text):
                context = "Facts:\n" + next(fact for key, fact in facts.items() if key in text)
                async for delta in app.llm.stream(messages=app.messages(session, text, context=context)):
                    yield delta

            worker, task, w = await serve_app(app, hub)
            questions = ["What is the capital of France?", "And the capital of Japan?", "What is the highest mountain?"]
            for job, question in enumerate(questions, 1):
                await w.job(job, "assistant", {"text": question, "device_id": "dev-1", "session": "s1", "language": "en"})
                assert (await w.until_end(job))[2]["type"] == "done"
            stored = await recent(app, "dev-1")
            await worker.stop()
            await task
            return [r["messages"] for r in server.requests], stored

    prompts, stored = run(main())
    assert prompts[0] == [{"role": "system", "content": "Answer from the facts."},
                          {"role": "user", "content": "Facts:\nParis is the capital of France.\n\nWhat is the capital of France?"}]
    replies = ["Paris.", "Tokyo."]
    for before, after, question, reply in zip(prompts, prompts[1:], ["What is the capital of France?", "And the capital of Japan?"], replies):
        assert after[: len(before) - 1] == before[:-1]  # the shared prefix: all but the last message
        assert after[len(before) - 1 : len(before) + 1] == [{"role": "user", "content": question}, {"role": "assistant", "content": reply}]
    assert prompts[2][-1]["content"] == "Facts:\nMount Everest is the highest mountain.\n\nWhat is the highest mountain?"
    assert stored[0] == {"role": "user", "content": "What is the capital of France?"} and not any("Facts" in m["content"] for m in stored)


def test_device_mcp_tools_join_the_registry(tmp_path):
    """The hub lists the device's tools and hands them to each job (`tools`); a call goes out as
    output `mcp` and its answer comes back as input `mcp` with the job's id."""
    light = {"name": "self.light.set_brightness", "description": "Set the light brightness",
             "inputSchema": {"type": "object", "properties": {"brightness": {"type": "integer", "minimum": 0, "maximum": 100}}, "required": ["brightness"]}}

    async def main():
        async with ScriptedLLM(weather_rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db")
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", {"text": "Please dim the lights.", "device_id": "d", "session": "s1", "tools": [light]})
            calls = []
            while True:
                m = await w.expect("output", job=1)
                if m["event"] == "mcp":
                    request = m["payload"]
                    calls.append(request["method"])
                    assert request["params"] == {"name": "self.light.set_brightness", "arguments": {"brightness": 20}}
                    await w.input(1, "mcp", payload={"jsonrpc": "2.0", "id": request["id"],
                                                     "result": {"content": [{"type": "text", "text": "true"}], "isError": False}})
                elif m["event"] == "delta":
                    break
            outputs, _, end = await w.until_end(1)
            assert calls == ["tools/call"]
            names = {t["function"]["name"] for t in server.requests[0]["tools"]}
            assert names == {"weather", "self_light_set_brightness", "remember"}  # remember: the built-in memory tool

            # A job without `tools` (the hub has none for the device) offers only the script's tools.
            await w.job(2, "assistant", {"text": "What's my name?", "device_id": "d", "session": "s1"})
            outputs2, _, _ = await w.until_end(2)
            assert not any(o["event"] == "mcp" for o in outputs2)
            assert {t["function"]["name"] for t in server.requests[-1]["tools"]} == {"weather", "remember"}
            await worker.stop()
            await task
            return m, outputs, end

    first_delta, outputs, end = run(main())
    assert end["type"] == "done"
    assert first_delta["text"] + "".join(o["text"] for o in outputs if o["event"] == "delta") == "Done, the lights are dimmed."


def test_cancelled_turn_is_remembered_as_far_as_it_got(tmp_path):
    async def main():
        async with ScriptedLLM(weather_rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db")
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", {"text": "Tell me a long story.", "device_id": "d", "session": "s1"})
            for _ in range(5):
                await w.expect("output", job=1, event="delta")
            await w.cancel(1)
            await asyncio.sleep(0.2)
            history = await recent(app, "d")
            await w.job(2, "assistant", {"session": "s1"})
            _, _, bad = await w.until_end(2)
            await worker.stop()
            await task
            return history, bad

    history, bad = run(main())
    assert history[0] == {"role": "user", "content": "Tell me a long story."}
    assert history[1]["role"] == "assistant" and history[1]["content"].startswith("Once upon a time")
    assert len(history[1]["content"]) < 200
    assert bad["type"] == "error" and "text" in bad["message"]


def test_cancelled_turn_closes_the_llm_stream_at_once(tmp_path):
    """A cancel mid-reply closes the LLM's HTTP stream (the model stops), and the next turn runs."""

    async def main():
        rules = [Rule(when="endless", reply="and then " * 400, chunk_delay=0.05), *weather_rules()]
        async with ScriptedLLM(rules) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db")
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", {"text": "Tell me an endless tale.", "device_id": "d", "session": "s1"})
            for _ in range(3):
                await w.expect("output", job=1, event="delta")
            assert server.streams_open == 1
            await w.cancel(1)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 3.0  # the reply had 20 s left to stream
            while server.streams_open and loop.time() < deadline:
                await asyncio.sleep(0.01)
            still_open = server.streams_open
            await w.job(2, "assistant", {"text": "What is my name?", "device_id": "d", "session": "s1"})
            _, _, end = await w.until_end(2)
            await worker.stop()
            await task
            return still_open, end

    still_open, end = run(main())
    assert still_open == 0
    assert end["type"] == "done"


# Warming the LLM up ------------------------------------------------------------------------------


def test_serving_primes_the_llm_with_the_system_prompt_once_before_the_first_job(tmp_path):
    """`voicecore up` sets VOICECORE_LLM_WARM_UP=1 for its embedded llama.cpp server: the worker's
    first LLM request is the system prompt alone (one token, no tools), so the first turn shares
    that cached prefix; the turns after it are unchanged."""

    async def main():
        async with ScriptedLLM([Rule(when="Hello", reply="Hi."), *weather_rules()]) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db")
            app.llm_warm_up = True
            task = asyncio.create_task(app.serve(hub.url, hub.token))
            w = await hub.next_worker()
            for _ in range(500):
                if server.requests:
                    break
                await asyncio.sleep(0.01)
            warm = server.requests[0]
            assert warm["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello."}]
            assert warm["max_tokens"] == 1 and "tools" not in warm
            await w.job(1, "assistant", {"text": "What's the weather in Paris?", "device_id": "dev-1", "session": "s1"})
            outputs, _, end = await w.until_end(1)
            assert end["type"] == "done"
            assert "".join(o["text"] for o in outputs if o["event"] == "delta") == "It is sunny in Paris."
            assert server.requests[1]["messages"][0] == {"role": "system", "content": "Be brief."}
            assert server.requests[2]["messages"][-1]["role"] == "tool"  # the job's tool round and its answer
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(main())


def test_after_each_reply_the_llm_is_primed_with_the_conversation_as_the_next_turn_sends_it(tmp_path):
    """With the warm-up on, after a reply the worker sends the LLM the conversation as the device's
    next turn will send it (one token, no tools; the last message is the next utterance's place,
    empty): that turn's prompt then starts with everything the prime read. A turn that starts
    while a prime is in flight closes the prime's stream (the reply needs the LLM), and with the
    warm-up off there is no prime."""

    async def main(warm: bool):
        rules = [Rule(when="^Hello", reply="Hi."), Rule(when="^$", reply="Ok.", times=1), Rule(when="^$", reply="slow " * 400, chunk_delay=0.05, times=1),
                 Rule(when="^$", reply="Ok."), Rule(when="France", reply="Paris."), Rule(when="Japan", reply="Tokyo."),
                 Rule(when="mountain", reply="Everest.")]
        async with ScriptedLLM(rules) as server, ScriptedHub() as hub:
            app = Assistant(system="Be brief.", llm=LLM([server.url]), db=tmp_path / f"{warm}.db", remember_tool=False, llm_warm_up=warm)

            @app.on_utterance
            async def answer(session, text):
                async for delta in app.llm.stream(messages=app.messages(session, text, context="Facts: none.")):
                    yield delta

            task = asyncio.create_task(app.serve(hub.url, hub.token))
            w = await hub.next_worker()
            loop = asyncio.get_running_loop()

            async def until(predicate, seconds=5.0):
                deadline = loop.time() + seconds
                while not predicate() and loop.time() < deadline:
                    await asyncio.sleep(0.01)
                return predicate()

            def primes():
                return [r for r in server.requests if r["messages"][-1]["content"] == ""]

            await w.job(1, "assistant", {"text": "What is the capital of France?", "device_id": "dev-1", "session": "s1"})
            assert (await w.until_end(1))[2]["type"] == "done"
            if not warm:
                await asyncio.sleep(0.3)
                assert primes() == [] and len(server.requests) == 1
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                return
            assert await until(lambda: len(primes()) == 1)
            prime = primes()[0]
            assert prime["messages"] == [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "What is the capital of France?"},
                                         {"role": "assistant", "content": "Paris."}, {"role": "user", "content": ""}]
            assert prime["max_tokens"] == 1 and "tools" not in prime
            await w.job(2, "assistant", {"text": "And of Japan?", "device_id": "dev-1", "session": "s1"})
            assert (await w.until_end(2))[2]["type"] == "done"
            turn2 = next(r["messages"] for r in server.requests if r["messages"][-1]["content"].endswith("And of Japan?"))
            assert turn2[:-1] == prime["messages"][:-1] and turn2[-1]["content"] == "Facts: none.\n\nAnd of Japan?"
            # The next prime streams slowly; a turn that starts meanwhile closes it.
            assert await until(lambda: len(primes()) == 2 and server.streams_open == 1)
            await w.job(3, "assistant", {"text": "The highest mountain?", "device_id": "dev-1", "session": "s1"})
            assert (await w.until_end(3))[2]["type"] == "done"
            assert await until(lambda: server.streams_open == 0, 3.0)  # the slow prime had 20 s left
            assert await until(lambda: len(primes()) == 3)  # and after this reply, the conversation is primed again
            assert primes()[2]["messages"][-3:-1] == [{"role": "user", "content": "The highest mountain?"}, {"role": "assistant", "content": "Everest."}]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(main(True))
    run(main(False))


def test_warm_up_is_off_by_default_and_a_dead_llm_does_not_stop_the_worker(tmp_path, monkeypatch):
    monkeypatch.delenv("VOICECORE_LLM_WARM_UP", raising=False)
    assert Assistant(system="x", llm=LLM([dead_url()]), db=tmp_path / "a.db").llm_warm_up is False
    monkeypatch.setenv("VOICECORE_LLM_WARM_UP", "1")
    assert Assistant(system="x", llm=LLM([dead_url()]), db=tmp_path / "b.db").llm_warm_up is True
    assert run(Assistant(system="x", llm=LLM([]), db=tmp_path / "c.db").warm_up()) is False  # no LLM: nothing to prime

    async def main():
        async with ScriptedHub() as hub:
            app = Assistant(system="x", llm=fast(LLM([dead_url()])), db=tmp_path / "d.db")

            @app.on_utterance
            async def answer(session, text):
                yield "fine"

            assert app.llm_warm_up is True
            task = asyncio.create_task(app.serve(hub.url, hub.token))
            w = await hub.next_worker()
            assert await app.warm_up() is False
            await w.job(1, "assistant", {"text": "hi", "device_id": "dev-1", "session": "s1"})
            outputs, _, end = await w.until_end(1)
            assert end["type"] == "done" and [o["text"] for o in outputs if o["event"] == "delta"] == ["fine"]
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    run(main())
