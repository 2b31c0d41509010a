"""Preemptive assistant jobs (``params.preemptive``): the reply streams at once, but the exchange is
remembered only after the hub's ``commit``; a complete reply waits for it (bounded); a tool call
waits for it; a cancel forgets the exchange. Over the worker protocol with the ScriptedHub test
peer and the scripted OpenAI-compatible LLM server (real HTTP/SSE)."""

import asyncio

from voicecore.testing import Rule, ScriptedHub, ScriptedLLM, ToolCall

from assistant_harness import serve_app, weather_app


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


def rules():
    return [
        Rule(when="weather in paris", tool_calls=[ToolCall("weather", {"city": "Paris"})]),
        Rule(when=r'"result": "sunny', reply="It is sunny in Paris."),
        Rule(when="capital of france", reply="Paris is the capital of France."),
        Rule(when="long story", reply="Once upon a time " + "there was a story " * 40, chunk_delay=0.02),
    ]


async def quiet(w, job: int, seconds: float) -> list[dict]:
    """What the job sends within ``seconds`` (nothing may end it meanwhile)."""
    got = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            m = await w.next(timeout=left)
        except asyncio.TimeoutError:
            break
        if isinstance(m, dict) and m.get("job") == job and m.get("type") != "accepted":
            got.append(m)
    return got


PARAMS = {"text": "What is the capital of France?", "device_id": "dev-1", "language": "en", "session": "s1", "preemptive": True}


def test_preemptive_reply_streams_at_once_and_is_remembered_only_after_commit(tmp_path):
    async def main():
        calls: list[str] = []
        async with ScriptedLLM(rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db", calls)
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", PARAMS)
            before = await quiet(w, 1, 1.0)  # the whole reply streams, then the job waits for the hub
            history_before = app.store.recent("dev-1", 10_000)
            await w.input(1, "commit")
            outputs, _, end = await w.until_end(1)
            history_after = app.store.recent("dev-1", 10_000)
            await worker.stop()
            await task
            return before, history_before, outputs, end, history_after

    before, history_before, outputs, end, history_after = run(main())
    # The reply's deltas, then the LLM's token usage for the hub's budgets.
    assert [m["event"] for m in before] == ["delta"] * (len(before) - 1) + ["usage"] and len(before) > 1
    assert before[-1]["model"] == "scripted-llm" and before[-1]["completion_tokens"] == len(before) - 1
    assert "".join(m["text"] for m in before[:-1]) == "Paris is the capital of France."
    assert history_before == []
    assert outputs == [] and end["type"] == "done"
    assert history_after == [{"role": "user", "content": "What is the capital of France?"},
                             {"role": "assistant", "content": "Paris is the capital of France."}]


def test_cancelled_preemptive_reply_is_forgotten_and_an_ordinary_job_still_remembers(tmp_path):
    async def main():
        async with ScriptedLLM(rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db", [])
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", dict(PARAMS, text="Tell me a long story."))
            for _ in range(3):
                await w.expect("output", job=1, event="delta")
            await w.cancel(1, reason="preempt:mismatch")  # mid-reply
            await w.job(2, "assistant", PARAMS)
            await quiet(w, 2, 0.5)
            await w.cancel(2, reason="preempt:void")  # complete, waiting for the commit
            await asyncio.sleep(0.2)
            forgotten = app.store.recent("dev-1", 10_000)
            await w.job(3, "assistant", dict(PARAMS, preemptive=False))
            _, _, end = await w.until_end(3)
            remembered = app.store.recent("dev-1", 10_000)
            await worker.stop()
            await task
            return forgotten, end, remembered

    forgotten, end, remembered = run(main())
    assert forgotten == []
    assert end["type"] == "done"
    assert [m["role"] for m in remembered] == ["user", "assistant"]


def test_tool_call_waits_for_the_commit(tmp_path):
    async def main():
        calls: list[str] = []
        async with ScriptedLLM(rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db", calls)
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", dict(PARAMS, text="What's the weather in Paris?"))
            before = await quiet(w, 1, 1.0)
            calls_before = list(calls)
            await w.input(1, "commit")
            outputs, _, end = await w.until_end(1)
            # Cancelled before the commit: the tool never runs.
            await w.job(2, "assistant", dict(PARAMS, text="What's the weather in Paris?"))
            await quiet(w, 2, 0.5)
            await w.cancel(2, reason="preempt:mismatch")
            await asyncio.sleep(0.2)
            await worker.stop()
            await task
            return before, calls_before, outputs, end, calls

    before, calls_before, outputs, end, calls = run(main())
    assert before == [] and calls_before == []
    assert [o["event"] for o in outputs][:2] == ["tool_call", "tool_result"]
    assert "".join(o["text"] for o in outputs if o["event"] == "delta") == "It is sunny in Paris."
    assert end["type"] == "done"
    assert calls == ["Paris"]


def test_preemptive_job_without_commit_fails_after_its_timeout(tmp_path):
    async def main():
        async with ScriptedLLM(rules()) as server, ScriptedHub() as hub:
            app = weather_app(server, tmp_path / "s.db", [])
            app.commit_timeout = 0.3
            worker, task, w = await serve_app(app, hub)
            await w.job(1, "assistant", PARAMS)
            outputs, _, end = await w.until_end(1, timeout=10)
            history = app.store.recent("dev-1", 10_000)
            await worker.stop()
            await task
            return outputs, end, history

    outputs, end, history = run(main())
    assert "".join(o["text"] for o in outputs if o["event"] == "delta") == "Paris is the capital of France."
    assert end["type"] == "error" and "no commit" in end["message"]
    assert history == []
