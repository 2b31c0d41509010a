"""Endpointing from VAD probabilities: when speech starts, when a pause begins (a chance to
transcribe speculatively), and when the utterance is over. Pure: windows in, events out."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from enum import Enum


class Event(Enum):
    SPEECH_START = "speech_start"
    PAUSE = "pause"  # silence long enough to start transcribing speculatively
    JUDGE = "judge"  # silence long enough for the turn model to judge the pause (after PAUSE)
    RESUME = "resume"  # speech again after a PAUSE: the speculation is void
    EARLY = "early"  # silence long enough to end the utterance if its text reads as complete
    END = "end"  # silence long enough: the utterance is over, whatever its text


@dataclass
class EndpointConfig:
    threshold: float = 0.5
    neg_threshold: float = 0.35
    min_speech_ms: float = 90.0
    # Speech is confirmed by min_speech_ms of windows at ``threshold`` in a row, but it often began
    # earlier: eSpeak's Russian "Какая" (as raw PCM; through Opus it has no dip) scores 0.73 0.52
    # 0.33 0.47 0.52 before its run, and a pass starting 0.2 s before the run lost the "Ка". As in
    # Silero's own get_speech_timestamps (speech from its first window at the threshold), the
    # utterance starts at the first window at ``threshold`` up to onset_lookback_ms before the run,
    # unless a dip under ``neg_threshold`` longer than onset_gap_ms separates the two (a breath, a
    # click before speaking).
    onset_lookback_ms: float = 320.0
    onset_gap_ms: float = 64.0
    # The speculative transcription starts after speculate_ms of silence, the turn model judges the
    # pause after judge_ms (not before speculate_ms). Both need the silence: Smart Turn judged two of
    # the five e2e benchmark questions unfinished at 32 ms, none at 64; and with the pass at 32 ms
    # tiny.en heard the e2e test's "What is the capital of France?" as "… and friends?" (right at
    # 64). Sooner costs voided passes between words too (docs/turn-latency.md).
    speculate_ms: float = 64.0
    judge_ms: float = 64.0
    # Longer than the ~0.3 s pause a speaker makes inside a sentence (Silero hears a 0.3 s gap
    # between words as 256-288 ms of silence), shorter than min_silence_ms; 0 = never early.
    early_silence_ms: float = 352.0
    min_silence_ms: float = 480.0
    window_ms: float = 32.0


@dataclass
class Endpointer:
    config: EndpointConfig
    window: int = 0  # windows seen
    in_speech: bool = False
    speech_run: int = 0
    silence_run: int = 0
    paused: bool = False
    judged: bool = False
    speech_start: int | None = None  # window index
    speech_stop: int | None = None  # window index where the trailing silence began
    _before: deque[float] = field(init=False, repr=False)  # the probabilities before speech, newest last

    def __post_init__(self) -> None:
        self._before = deque(maxlen=self._windows(self.config.onset_lookback_ms + self.config.min_speech_ms))

    def push(self, probability: float) -> list[Event]:
        c = self.config
        events: list[Event] = []
        i = self.window
        self.window += 1
        if not self.in_speech:
            self._before.append(probability)
            self.speech_run = self.speech_run + 1 if probability >= c.threshold else 0
            if self.speech_run * c.window_ms >= c.min_speech_ms:
                self.in_speech = True
                self.speech_start = i - self.speech_run + 1 - self._lead_in()
                self.silence_run = 0
                events.append(Event.SPEECH_START)
            return events
        if probability < c.neg_threshold:
            if self.silence_run == 0:
                self.speech_stop = i
            self.silence_run += 1
            silent_ms = self.silence_run * c.window_ms
            if not self.paused and silent_ms >= c.speculate_ms:
                self.paused = True
                events.append(Event.PAUSE)
            if self.paused and not self.judged and silent_ms >= c.judge_ms:
                self.judged = True
                events.append(Event.JUDGE)
            if 0 < c.early_silence_ms < c.min_silence_ms and self.silence_run == self._windows(c.early_silence_ms):
                events.append(Event.EARLY)
            if silent_ms >= c.min_silence_ms:
                events.append(Event.END)
        elif probability >= c.threshold or self.silence_run == 0:
            self.silence_run = 0
            self.speech_stop = None
            if self.paused:
                self.paused = self.judged = False
                events.append(Event.RESUME)
        return events

    def _lead_in(self) -> int:
        """Windows of speech before the confirming run (see ``onset_lookback_ms``)."""
        c = self.config
        before = list(self._before)[: len(self._before) - self.speech_run]
        lead, gap, max_gap = 0, 0, self._windows(c.onset_gap_ms)
        for back, probability in enumerate(reversed(before), start=1):
            if back * c.window_ms > c.onset_lookback_ms:
                break
            if probability >= c.threshold:
                lead, gap = back, 0
            elif probability < c.neg_threshold:
                gap += 1
                if gap > max_gap:
                    break
            else:
                gap = 0
        return lead

    @property
    def silent_ms(self) -> float:
        """The silence heard since speech last stopped (0 while speaking)."""
        return self.silence_run * self.config.window_ms if self.in_speech else 0.0

    def _windows(self, ms: float) -> int:
        return max(1, -int(-ms // self.config.window_ms))  # the first window at which ms of silence are heard
