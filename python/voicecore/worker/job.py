"""One job as a handler sees it: its parameters, its input (audio and events), its output."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable

from . import frames

Send = Callable[[dict[str, Any]], Awaitable[None]]
SendBinary = Callable[[bytes], Awaitable[None]]


class JobError(Exception):
    """Raise from a handler to fail the job with this message; ``retryable`` tells the hub whether
    another worker may try again. Any other exception fails the job as not retryable."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass
class Input:
    """An ``input`` message for a running job (``event`` = ``end``, ``mcp`` with ``payload``, ...)."""

    event: str
    fields: dict[str, Any]


@dataclass
class Job:
    id: int
    kind: str
    session: str
    turn: int | None
    params: dict[str, Any]
    _send: Send
    _send_binary: SendBinary
    _audio: asyncio.Queue[bytes | None] = field(default_factory=asyncio.Queue)
    _inputs: asyncio.Queue[Input] = field(default_factory=asyncio.Queue)
    _audio_ended: bool = False
    _closed: bool = False

    @property
    def closed(self) -> bool:
        """The job is over for the hub (its outcome was sent, the hub cancelled it, or the
        connection it came on is gone): ``output`` and ``send_audio`` send nothing any more."""
        return self._closed

    def _close(self) -> None:
        self._closed = True

    # Input -------------------------------------------------------------------------------------

    async def audio(self) -> AsyncIterator[bytes]:
        """PCM16LE chunks as the hub sends them; ends after the chunk flagged last, or at an
        ``input`` ``end`` event (end of utterance in manual mode)."""
        while True:
            chunk = await self._audio.get()
            if chunk is None:
                return
            yield chunk

    async def next_input(self) -> Input:
        """The next ``input`` event other than audio (``end`` is also delivered here)."""
        return await self._inputs.get()

    def _feed_audio(self, pcm: bytes, last: bool) -> None:
        if self._audio_ended or self._closed:
            return
        if pcm:
            self._audio.put_nowait(pcm)
        if last:
            self._end_audio()

    def _feed_input(self, message: dict[str, Any]) -> None:
        if self._closed:
            return
        event = str(message.get("event", ""))
        fields = {k: v for k, v in message.items() if k not in ("type", "job", "event")}
        if event == "end":
            self._end_audio()
        self._inputs.put_nowait(Input(event, fields))

    def _end_audio(self) -> None:
        if not self._audio_ended:
            self._audio_ended = True
            self._audio.put_nowait(None)

    # Output ------------------------------------------------------------------------------------

    async def output(self, event: str, **fields: Any) -> None:
        """Streams one output event (``partial``, ``final``, ``delta``, ``segment_done``, ...);
        nothing once the job is ``closed``."""
        if self._closed:
            return
        await self._send({"type": "output", "job": self.id, "event": event, **fields})

    async def send_audio(self, pcm: bytes, last: bool = False) -> None:
        """Sends PCM16LE mono audio for this job (TTS output) as one binary frame; nothing once
        the job is ``closed``."""
        if self._closed:
            return
        await self._send_binary(frames.encode(self.id, pcm, last))
