"""The assistant the assistant-job tests run (a weather tool, the LLM streamed as the reply) and how
they put it on the ScriptedHub, shared by test_assistant.py and test_assistant_preemptive.py."""

from __future__ import annotations

import asyncio
from typing import Optional

from voicecore import Assistant
from voicecore.assistant import LLM
from voicecore.testing import ScriptedHub, ScriptedLLM


def weather_app(server: ScriptedLLM, db, calls: Optional[list[str]] = None) -> Assistant:
    """An assistant with one tool, ``weather`` (sunny everywhere but Atlantis, which it does not
    know); each city it is asked for is appended to ``calls`` when given."""
    app = Assistant(system="Be brief.", llm=LLM([server.url]), db=db)

    @app.tool
    def weather(city: str) -> str:
        """Today's weather for a city.

        Args:
            city: The city's name.
        """
        if calls is not None:
            calls.append(city)
        if city == "Atlantis":
            raise LookupError("unknown city Atlantis")
        return "sunny, 21 C"

    @app.on_utterance
    async def answer(session, text):
        async for delta in app.llm.stream(messages=app.messages(session, text)):
            yield delta

    return app


async def recent(app: Assistant, device: str, agent: str = "default") -> list[dict[str, str]]:
    """The device's stored history with the agent, as OpenAI messages."""
    memory = await app.memory.load(agent, device, 10_000)
    return [{"role": m["role"], "content": m["content"]} for m in memory.messages]


async def serve_app(app: Assistant, hub: ScriptedHub):
    """Starts ``app``'s worker against ``hub``: the worker, its task and the hub's side of it."""
    worker = app.worker()
    task = asyncio.create_task(worker.serve(hub.url, hub.token))
    return worker, task, await hub.next_worker()
