"""A device's speaker as the XiaoZhi firmware runs it, for clients and tests that need to know what
a listener heard and when: reply frames queue as they arrive and play back to back in real time,
and a paused reply's ``tts start`` (``"pause": true``) drops what is queued — the firmware resets
its decoder and empties its playback queue on entering its speaking state (application.cc,
``AudioService::ResetDecoder``). The hub sends the dropped frames again if the reply resumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass
class Played(Generic[T]):
    frame: T
    start: float  # when it began to play (seconds, the caller's clock)
    end: float  # when it stopped: its whole length, or the drop that cut it


@dataclass
class Speaker(Generic[T]):
    frame_seconds: float = 0.06
    played: list[Played[T]] = field(default_factory=list)  # in playing order, cut ones included

    @property
    def silent_from(self) -> float:
        """When the last frame it plays (or played) ends; 0 before any frame."""
        return self.played[-1].end if self.played else 0.0

    def receive(self, at: float, frame: T) -> None:
        """A frame arrives at ``at``: it plays once the frames before it have."""
        start = max(at, self.silent_from)
        self.played.append(Played(frame, start, start + self.frame_seconds))

    def drop(self, at: float) -> None:
        """Everything queued at ``at`` goes: frames not begun are forgotten, the one playing stops
        there."""
        self.played = [p for p in self.played if p.start < at]
        if self.played and self.played[-1].end > at:
            self.played[-1].end = at

    def heard(self) -> list[T]:
        """The frames that played, in order (a cut one counts)."""
        return [p.frame for p in self.played]
