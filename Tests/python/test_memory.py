"""The memory store and the memory service: the SQLite store's rules (budget window, summary mark,
facts, caps, idempotent retries), a real `voicecore memory` process over HTTP (token, bad input,
concurrent writers), and the assistant's client (a service that is down: reads give up at once,
writes are queued and delivered once it is back)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from voicecore.memory import HttpMemory, LocalMemory, MemoryStore
from voicecore.memory.store import BadRequest, Conflict, estimate_tokens
from voicecore.testing.memory import MemoryProcess


def turn(i: int) -> list[dict[str, str]]:
    return [{"role": "user", "content": f"question {i}"}, {"role": "assistant", "content": f"answer {i}"}]


def write(store: MemoryStore, fn: Any) -> Any:
    store.begin()
    try:
        result = fn()
        store.commit()
        return result
    except BaseException:
        store.rollback()
        raise


# --- The store ---------------------------------------------------------------------------------------


def test_store_window_summary_mark_and_facts(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.sqlite3", keep_messages=30, keep_facts=3)
    for i in range(10):
        write(store, lambda: store.append("a", "d", turn(i)))
    per_turn = estimate_tokens("question 0") + estimate_tokens("answer 0")
    snap = store.snapshot("a", "d", budget_tokens=per_turn * 3)
    assert [m["content"] for m in snap.messages] == ["question 7", "answer 7", "question 8", "answer 8", "question 9", "answer 9"]
    assert snap.unsummarised_tokens == per_turn * 10 and snap.unsummarised_messages == 20
    # A window that would open with an assistant message starts at the next user message.
    assert store.snapshot("a", "d", budget_tokens=per_turn * 3 - 1).messages[0]["content"] == "question 8"
    # The summary of the first six messages: they go, the mark moves, a stale summariser is refused.
    upto = store.messages("a", "d")[5]["id"]
    write(store, lambda: store.put_summary("a", "d", "The user asked questions 0 to 2.", upto, expected_upto=0))
    snap = store.snapshot("a", "d", budget_tokens=10_000)
    assert snap.summary == "The user asked questions 0 to 2." and snap.summary_upto == upto
    assert snap.messages[0]["content"] == "question 3" and snap.unsummarised_messages == 14
    with pytest.raises(Conflict):
        write(store, lambda: store.put_summary("a", "d", "stale", upto + 2, expected_upto=0))
    assert store.snapshot("a", "d", 10_000).summary == "The user asked questions 0 to 2."
    # Facts: whitespace-normalised, deduplicated, the oldest beyond the cap dropped.
    for text in ["My name is Ana.", "  My name is   Ana. ", "Ana likes tea.", "Ana has a cat.", "Ana lives in Porto."]:
        write(store, lambda: store.add_fact("a", "d", text))
    assert [f["text"] for f in store.snapshot("a", "d", 0).facts] == ["Ana likes tea.", "Ana has a cat.", "Ana lives in Porto."]
    # Another agent's memory of the same device is separate; forget clears one key only.
    write(store, lambda: store.append("b", "d", turn(99)))
    write(store, lambda: store.forget("a", "d"))
    empty = store.snapshot("a", "d", 10_000)
    assert empty.messages == [] and empty.facts == [] and empty.summary == ""
    assert len(store.snapshot("b", "d", 10_000).messages) == 2


def test_store_caps_and_idempotent_retries(tmp_path: Path) -> None:
    store = MemoryStore(tmp_path / "m.sqlite3", keep_messages=8)
    first = write(store, lambda: store.append("a", "d", turn(0), op="op-1"))
    again = write(store, lambda: store.append("a", "d", turn(0), op="op-1"))  # a retry after a lost answer
    assert first == again and len(store.messages("a", "d")) == 2
    for i in range(1, 10):
        write(store, lambda: store.append("a", "d", turn(i)))
    kept = store.messages("a", "d")
    assert len(kept) == 8 and kept[0]["content"] == "question 6"
    for bad in ([], [{"role": "system", "content": "x"}], [{"role": "user", "content": 3}], "text",
                [{"role": "user", "content": "x" * 32_001}], turn(0) * 33):
        with pytest.raises(BadRequest):
            store.append("a", "d", bad)
    with pytest.raises(BadRequest):
        store.snapshot("a", "d", -1)
    with pytest.raises(BadRequest):
        store.add_fact("a", "d", "   ")
    with pytest.raises(BadRequest):
        store.put_summary("a", "d", "s", "7")


# --- The service, a real process -------------------------------------------------------------------------


@pytest.fixture
def service(tmp_path: Path):
    s = MemoryProcess(tmp_path / "memory.sqlite3")
    yield s
    assert s.stop() == 0, s.log_path.read_text()[-2000:]


def test_service_wants_its_token(service: MemoryProcess) -> None:
    key = service.key("default", "aa:bb:cc")
    status, body = service.request("GET", "/healthz", token="")
    assert status == 200 and body["ok"] is True
    status, body = service.request("GET", key, token="")
    assert status == 401 and "bearer" in body["error"]
    status, body = service.request("POST", key + "/messages", {"messages": turn(1)}, token="not-the-token")
    assert status == 403 and body == {"error": "wrong token"}
    assert service.get("default", "aa:bb:cc")["messages"] == []  # the refused write changed nothing


def test_service_answers_bad_input_with_400_and_changes_nothing(service: MemoryProcess) -> None:
    key = service.key("default", "aa:bb:cc")
    assert service.request("POST", key + "/messages", {"messages": turn(1)})[0] == 200
    assert service.request("POST", key + "/facts", {"text": "The user's name is Ana."})[0] == 200
    before = service.get("default", "aa:bb:cc")
    bad = [
        ("POST", key + "/messages", None, b"{not json", "not JSON"),
        ("POST", key + "/messages", [1, 2], None, "JSON object"),
        ("POST", key + "/messages", {"messages": []}, None, "non-empty list"),
        ("POST", key + "/messages", {"messages": [{"role": "system", "content": "x"}]}, None, "role"),
        ("POST", key + "/messages", {"messages": [{"role": "user", "content": None}]}, None, "content"),
        ("POST", key + "/messages", {"messages": turn(1) * 40}, None, "at most 64"),
        ("POST", key + "/messages", {"messages": turn(1), "op": 7}, None, "op"),
        ("POST", key + "/facts", {"text": ""}, None, "text"),
        ("POST", key + "/facts", {"text": "x" * 501}, None, "at most 500"),
        ("PUT", key + "/summary", {"text": "s", "upto": "1"}, None, "upto"),
        ("PUT", key + "/summary", {"text": 5, "upto": 1}, None, "text"),
        ("GET", key + "?budget_tokens=lots", None, None, "budget_tokens"),
        ("GET", key + "?budget_tokens=-5", None, None, "budget_tokens"),
        ("GET", key + "/messages?limit=0", None, None, "limit"),
        ("DELETE", key + "/facts/first", None, None, "integer"),
        ("GET", service.key("default", "x" * 129), None, None, "longer than 128"),
    ]
    for method, path, body, raw, reason in bad:
        status, answer = service.request(method, path, body, raw=raw)
        assert status == 400 and reason in answer["error"], (method, path, status, answer)
    status, answer = service.request("PUT", key + "/summary", {"text": "s", "upto": 1, "expected_upto": 9})
    assert status == 409 and "summary mark" in answer["error"]
    assert service.request("DELETE", key + "/facts/999")[0] == 404
    assert service.request("GET", "/v1/nothing")[0] == 404
    assert service.get("default", "aa:bb:cc") == before


def test_concurrent_writers_and_readers_lose_nothing_and_keep_each_turn_whole(service: MemoryProcess) -> None:
    writers, turns = 8, 20  # 320 messages on the shared key: under its cap of 400

    async def main() -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {service.token}"}
        async with aiohttp.ClientSession(headers=headers) as http:
            async def writer(w: int) -> None:
                for i in range(turns):
                    # All on one shared key and each also on its own key.
                    for device in ("shared", f"own-{w}"):
                        messages = [{"role": "user", "content": f"w{w} q{i}"}, {"role": "assistant", "content": f"w{w} a{i}"}]
                        async with http.post(f"{service.url}{service.key('default', device)}/messages", json={"messages": messages}) as r:
                            assert r.status == 200, await r.text()

            async def reader() -> int:
                reads = 0
                for _ in range(40):
                    async with http.get(f"{service.url}{service.key('default', 'shared')}?budget_tokens=500") as r:
                        assert r.status == 200
                        body = await r.json()
                        assert not body["messages"] or body["messages"][0]["role"] == "user"
                        reads += 1
                return reads

            results = await asyncio.gather(*(writer(w) for w in range(writers)), reader(), reader())
            assert results[-1] == 40
            async with http.get(f"{service.url}/healthz") as r:
                return await r.json()

    health = asyncio.run(main())
    shared = service.get("default", "shared", 1_000_000)["messages"]
    assert len(shared) == writers * turns * 2 <= 400
    for w in range(writers):
        mine = [m["content"] for m in shared if m["content"].startswith(f"w{w} ")]
        assert mine == [f"w{w} {k}{i}" for i in range(turns) for k in ("q", "a")]  # in the order written
    # A turn's two messages are adjacent: one write, one transaction.
    for user, reply in zip(shared[::2], shared[1::2]):
        assert user["role"] == "user" and reply["content"] == user["content"].replace(" q", " a") and reply["id"] == user["id"] + 1
    for w in range(writers):
        assert len(service.get("default", f"own-{w}")["messages"]) == turns * 2
    assert health["writes"] == writers * turns * 2 and health["batches"] <= health["writes"]


# --- The client ----------------------------------------------------------------------------------------------


def test_client_reads_give_up_when_the_service_is_down_and_queued_writes_arrive_once_it_is_back(tmp_path: Path) -> None:
    service = MemoryProcess(tmp_path / "memory.sqlite3")

    async def main() -> None:
        memory = HttpMemory(service.url, service.token, read_timeout=1.0, write_wait=0.3, backoff_cap=0.5)
        try:
            assert await memory.append("default", "dev", turn(1)) is not None
            assert (await memory.load("default", "dev", 1000)).messages[0]["content"] == "question 1"
            service.kill()
            t0 = time.monotonic()
            down = await memory.load("default", "dev", 1000)
            assert not down.available and down.messages == [] and time.monotonic() - t0 < 1.5
            assert await memory.append("default", "dev", turn(2)) is None  # queued
            assert await memory.add_fact("default", "dev", "The user's name is Ana.") is True  # queued
            assert await memory.add_fact("default", "dev", "") is True  # queued too: only the service can refuse it
            assert memory.queued == 3
            await asyncio.sleep(1.0)  # retried with backoff meanwhile
            await asyncio.to_thread(service.start)  # the same port, the same file
            assert await memory.flush(15)
            back = await memory.load("default", "dev", 1000)
            assert [m["content"] for m in back.messages] == ["question 1", "answer 1", "question 2", "answer 2"]
            assert back.facts == ["The user's name is Ana."]
            # Bad input is refused, not retried for ever.
            assert await memory.append("default", "dev", [{"role": "system", "content": "x"}]) is None
            assert await memory.add_fact("default", "dev", "") is False
            assert memory.queued == 0
        finally:
            await memory.close()

    try:
        asyncio.run(main())
    finally:
        service.stop()


def test_local_memory_has_the_same_interface(tmp_path: Path) -> None:
    async def main() -> None:
        memory = LocalMemory(tmp_path / "local.sqlite3")
        assert await memory.append("a", "d", turn(1)) == estimate_tokens("question 1") + estimate_tokens("answer 1")
        assert await memory.add_fact("a", "d", "Ana likes tea.")
        first = (await memory.transcript("a", "d", 0, 10))[-1]["id"]
        assert await memory.put_summary("a", "d", "Asked question 1.", first, 0)
        assert not await memory.put_summary("a", "d", "stale", first, 0)
        loaded = await memory.load("a", "d", 100)
        assert loaded.summary == "Asked question 1." and loaded.facts == ["Ana likes tea."] and loaded.messages == []
        await memory.forget("a", "d")
        assert (await memory.load("a", "d", 100)).facts == []
        await memory.close()

    asyncio.run(main())


def test_the_memory_example_keeps_and_forgets_facts(tmp_path: Path) -> None:
    """Examples/python/memory.py on a scripted hub and a scripted LLM: the LLM's `remember` call and
    the script's own `remember_fact` keep facts; the next turns see them; "forget everything" clears."""
    import runpy

    from voicecore.assistant import LLM
    from voicecore.testing import Rule, ScriptedHub, ScriptedLLM, ToolCall

    example = Path(__file__).resolve().parents[2] / "Examples" / "python" / "memory.py"

    async def main() -> list[str]:
        rules = [Rule(when="my name is ana", tool_calls=[ToolCall("remember", {"fact": "The user's name is Ana."})]),
                 Rule(when='"result": "remembered"', reply="Nice to meet you, Ana.")]
        async with ScriptedLLM(rules) as server, ScriptedHub() as hub:
            app = runpy.run_path(str(example), run_name="example")["app"]
            app.llm = LLM([server.url])
            app.llm.tool_source = app._current_tools
            app.llm.on_tool_event = app._tool_event
            app._memory = LocalMemory(tmp_path / "memory.sqlite3")
            worker = app.worker()
            task = asyncio.create_task(worker.serve(hub.url, hub.token))
            w = await hub.next_worker()
            said = []
            for i, text in enumerate(["My name is Ana.", "Remember that I like tea.", "What do you know about me?",
                                      "Forget everything.", "What do you know about me?"], start=1):
                await w.job(i, "assistant", {"text": text, "device_id": "kitchen-1", "session": "s1", "agent": "kitchen"})
                outputs, _, end = await w.until_end(i)
                assert end["type"] == "done", end
                said.append("".join(o["text"] for o in outputs if o["event"] == "delta"))
            assert "What do you know" not in json.dumps(server.requests)  # answered by the script, not the LLM
            stored = await app.memory.load("kitchen", "kitchen-1", 1000)
            await worker.stop()
            await task
            # The forget cleared what came before; that turn and the next were stored after it.
            assert [m["content"] for m in stored.messages][::2] == ["Forget everything.", "What do you know about me?"]
            assert stored.facts == []
            return said

    said = asyncio.run(main())
    assert said == ["Nice to meet you, Ana.", "I will remember that.", "I know this: The user's name is Ana. I like tea.",
                    "All right, I have forgotten our conversation.", "Nothing yet. Tell me about yourself!"]
