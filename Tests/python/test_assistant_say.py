"""The Python side of speaking first, without a hub: what `Worker.say`, `Assistant.say` and
`Assistant.remind` accept, and that a reminder fires at its time through the worker's `say`
(the hub side is in test_e2e_say.py, with real processes)."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import Any

import pytest

from voicecore import Assistant
from voicecore.worker import Worker


def test_say_needs_exactly_one_of_text_and_instruction() -> None:
    w = Worker(slots={"assistant": 1})

    async def run() -> None:
        with pytest.raises(ValueError):
            await w.say("d1")
        with pytest.raises(ValueError):
            await w.say("d1", "a", instruction="b")
        with pytest.raises(RuntimeError):  # not serving a hub
            await w.say("d1", "hello")

    asyncio.run(run())


def test_remind_validates_and_fires_through_say() -> None:
    app = Assistant()
    sent: list[tuple[str, Any, Any, float]] = []

    class FakeWorker:  # records what app.say hands the worker (the wire part is tested end to end)
        async def say(self, device_id: str, text: Any = None, *, instruction: Any = None) -> None:
            sent.append((device_id, text, instruction, time.monotonic()))

    app._worker = FakeWorker()  # type: ignore[assignment]

    async def run() -> None:
        with pytest.raises(ValueError):
            app.remind("d1", "x")  # neither at nor after
        with pytest.raises(ValueError):
            app.remind("d1", "x", at=time.time(), after=1)
        with pytest.raises(ValueError):
            app.remind("d1", after=1)  # neither text nor instruction
        t0 = time.monotonic()
        app.remind("d1", "soon", after=0.3)
        app.remind("d2", instruction="later", at=datetime.now() + timedelta(seconds=0.6))
        cancelled = app.remind("d3", "never", after=0.2)
        cancelled.cancel()
        assert app.reminders == 3
        await asyncio.sleep(1.0)
        assert [(d, t, i) for d, t, i, _ in sent] == [("d1", "soon", None), ("d2", None, "later")]
        assert 0.25 <= sent[0][3] - t0 < 0.9 and 0.5 <= sent[1][3] - t0 < 1.0
        assert app.reminders == 0

    asyncio.run(run())
