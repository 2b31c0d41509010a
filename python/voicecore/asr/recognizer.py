"""One utterance, streaming: VAD → endpointing → partial and final text from the engine.

A transcription of the utterance starts speculatively as soon as a short pause begins; when the
pause grows into the endpoint with no speech in between, that result is the final text, so the
endpoint wait and the recognition overlap instead of adding up.

A light semantic endpointer ends the utterance before the full silence when the speculative text
reads as a finished sentence (``reads_complete``: it ends in ``.``, ``?`` or ``!`` and not on a word
that cannot close a sentence, such as "the" or "and") and the pause has reached
``early_silence_ms`` — longer than a pause inside a sentence. Otherwise the utterance ends after
``min_silence_ms`` of silence, as without it.

Each speculative transcript that completes while still valid is also sent to the hub as
``speculative`` (so the hub can start the assistant on it: preemptive generation); when new speech
voids a transcript already sent, ``speculation_void`` follows. The final is then a new pass.

Hub endpointing (the ASR job's ``endpointing: "hub"`` param): the hub decides when the utterance
ends, on this worker's evidence. At each pause the recognizer sends ``pause`` {silence_ms}, its
speculative transcript (always, as ``speculative`` with its ``language``; empty when it heard no
words) and the turn model's probability that the audio
so far is a finished turn (``turn`` {probability}, when a model is loaded); speech again sends
``resume``. It never ends the utterance early itself: the utterance ends when the hub closes the
audio (``input end``), or after ``hub_silence_ms`` of silence as a safety net.

An engine with ``transcribe_refinable`` (faster-whisper with ``final_beam_size``) also decodes each
speculative pass it was unsure of again with beam search, in the background: the pause's evidence
stays the greedy text, and the final is the beam text. That ``speculative`` says ``refining``, and the
beam text follows it to the hub as ``refined`` {text}: a preemptive reply starts on the words the
final will have.
"""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable, Protocol

import numpy as np

from ..audio import pcm16_to_float
from .endpointer import EndpointConfig, Endpointer, Event
from .engine import SAMPLE_RATE, AsrEngine, Transcript
from .vad import WINDOW, StreamingVad

log = logging.getLogger("voicecore.asr")

Emit = Callable[..., Awaitable[None]]

# Words a sentence does not end on, however Whisper punctuated the pause after them.
# A wrong "open" only costs the rest of the silence wait; a wrong "complete" would cut the speaker
# off, so the list is generous (prepositions included, though "Where are you from?" is complete).
_OPEN_ENDED = frozenset("""a an the and or but nor so because if than that which who whose whom of to for with from
by as at in on into onto about like my your our their this these those is are was were am be been""".split())
_LAST_WORD = re.compile(r"([A-Za-z']+)\W*$")


def reads_complete(text: str) -> bool:
    """Whether a transcript reads as a finished sentence: the semantic endpointer's rule."""
    text = text.strip().rstrip("\"')»”’ ")
    if not text or text[-1] not in ".?!" or text.endswith(".."):
        return False
    word = _LAST_WORD.search(text[:-1])
    return word is None or word.group(1).lower() not in _OPEN_ENDED


@dataclass
class RecognizerConfig:
    endpoint: EndpointConfig
    partial_interval: float = 1.0  # seconds of new speech between partial transcriptions; 0 = none
    # Audio before the speech's onset that the passes include. More moved base's finals on the
    # evaluation set either way by clip (German 0.454 -> 0.397 with 0.5 s, and 0.386 -> 0.395 on
    # speeds the set does not have; tiny.en heard "… capital of France?" as "… capital and friends?"
    # in every turn with 0.3 s), so the onset is found instead (Endpointer.onset_lookback_ms).
    lead_seconds: float = 0.2
    pad_seconds: float = 0.2  # audio after the speech's stop that the final includes
    max_pause_seconds: float = 0.4  # longer pauses inside an utterance are shortened to this
    max_utterance_seconds: float = 28.0  # Whisper's window is 30 s
    speculative_events: bool = False  # send `speculative` / `speculation_void` (the hub's preemptive generation)
    hub_silence_ms: float = 3000.0  # hub endpointing: the worker's own end, a safety net for a hub that never decides

    @staticmethod
    def default() -> "RecognizerConfig":
        return RecognizerConfig(endpoint=EndpointConfig())


class TurnModel(Protocol):
    def probability(self, pcm: np.ndarray) -> float: ...


class StreamingRecognizer:
    """``await feed(pcm)`` per chunk (True once the utterance is final); ``await finish()`` when the
    audio ends. ``emit(event, **fields)`` sends speech_start / partial / speculative /
    speculation_void / speech_end / final, and with ``endpointing="hub"`` pause / resume / turn."""

    def __init__(self, engine: AsrEngine, emit: Emit, config: RecognizerConfig | None = None, language: str = "", mode: str = "auto",
                 endpointing: str = "worker", turn_model: TurnModel | None = None) -> None:
        self.engine = engine
        self.emit = emit
        self.config = config or RecognizerConfig.default()
        self.language = language
        self.auto_endpoint = mode in ("auto", "realtime")
        self.hub = endpointing == "hub" and self.auto_endpoint
        self.turn_model = turn_model if self.hub else None
        self.vad = StreamingVad()
        endpoint = self.config.endpoint
        if self.hub:  # no early end; the worker's own end only as a safety net
            endpoint = replace(endpoint, early_silence_ms=0.0, min_silence_ms=max(endpoint.min_silence_ms, self.config.hub_silence_ms))
        self.endpointer = Endpointer(endpoint)
        self.chunks: list[np.ndarray] = []
        self.samples = 0
        self.final_sent = False
        self.last_partial_at = 0
        self.last_partial_text = ""
        self.partial_task: asyncio.Task[None] | None = None
        self.speculation: asyncio.Task[Transcript] | None = None
        self.refining: asyncio.Task[Transcript] | None = None  # the speculation decoded again with beam search
        self.early_task: asyncio.Task[None] | None = None  # an early end started by the speculation's completion
        self.turn_task: asyncio.Task[None] | None = None  # the turn model judging the current pause (hub mode)
        self.judging = asyncio.Event()  # the current pause has reached judge_ms (or the utterance is ending)
        self.used_speculation = False
        self.speculation_sent = False  # the current speculation's text went out as `speculative`
        self.early_reached = False  # the pause is long enough to end early (Event.EARLY, no RESUME since)
        self.end_reason = ""  # "early" (complete text), "silence", "length" or "audio end"
        self.finalizing = False
        self.ended = asyncio.Event()  # set once the final is out, however the utterance ended
        self.probabilities: list[float] = []

    # Audio in ----------------------------------------------------------------------------------

    async def feed(self, pcm: bytes) -> bool:
        if self.final_sent or self.finalizing:
            return self.final_sent or await self._final_of_early_end()
        audio = pcm16_to_float(pcm)
        self.chunks.append(audio)
        self.samples += len(audio)
        for probability in self.vad.feed(audio):
            self.probabilities.append(probability)
            for event in self.endpointer.push(probability):
                await self._on(event)
                if self.final_sent or self.finalizing:
                    return self.final_sent or await self._final_of_early_end()
        if self.endpointer.in_speech:
            if self.samples - self._start_sample() > self.config.max_utterance_seconds * SAMPLE_RATE:
                await self._finalize(self.samples, "length")
                return True
            self._maybe_partial()
        return self.final_sent

    def pending_evidence(self) -> set[asyncio.Task[Any]]:
        """The current pause's evidence still being computed that would report without more audio:
        the turn model's call, the speculative pass once the pause has reached ``judge_ms``
        (before that its text waits for the model's verdict, which waits for more silence), and
        the pass's beam search once the pass has started it. A
        caller that feeds audio faster than real time waits for these to see what a fast engine would."""
        judged = self.turn_model is None or self.judging.is_set()
        return {t for t in (self.speculation if judged else None, self.turn_task, self.refining) if t is not None and not t.done()}

    async def settle(self) -> None:
        """Waits until the pending evidence is in, including work it starts (a finished pass starts
        its beam search): what a caller feeding audio faster than real time does before more audio."""
        pending = self.pending_evidence()
        while pending:
            await asyncio.wait(pending)
            pending = self.pending_evidence()

    async def _final_of_early_end(self) -> bool:
        if self.early_task is not None:
            await asyncio.shield(self.early_task)
        return True

    async def finish(self) -> None:
        """The audio ended (last chunk, or ``end`` in manual mode): the utterance is over."""
        if self.final_sent or self.finalizing:
            await self._final_of_early_end()
            return
        if self.endpointer.speech_start is None:
            self.end_reason = "audio end"
            await self._send_final(Transcript("", self.language))
            return
        await self._finalize(self.samples, "audio end")

    # Events ------------------------------------------------------------------------------------

    async def _on(self, event: Event) -> None:
        if event is Event.SPEECH_START:
            await self.emit("speech_start")
        elif event is Event.PAUSE and self.auto_endpoint:
            if self.hub:
                await self.emit("pause", silence_ms=int(self.endpointer.silent_ms))
            end = min(self.samples, self._stop_sample() + self._pad())
            speculation = asyncio.create_task(self._speculate(self._start_sample(), end))
            speculation.add_done_callback(self._speculation_done)
            self.speculation = speculation
        elif event is Event.JUDGE and self.auto_endpoint:
            if self.turn_model is not None:
                self.turn_task = asyncio.create_task(self._judge_turn(self._start_sample(), self.samples))
            self.judging.set()
        elif event is Event.RESUME:
            voided = self.speculation_sent
            self._drop_speculation()
            if self.hub:
                await self.emit("resume")
            if voided:
                await self.emit("speculation_void")
        elif event is Event.EARLY and self.auto_endpoint and not self.hub:
            self.early_reached = True
            if self._speculation_reads_complete():
                await self._finalize(self.samples, "early")
        elif event is Event.END and self.auto_endpoint:
            await self._finalize(min(self.samples, self._stop_sample() + self._pad()), "silence")

    async def _speculate(self, start: int, end: int) -> Transcript:
        """A speculative pass; its text goes to the hub while it is still the utterance's likely final
        (not voided, the utterance not already ending: then the final itself follows at once). With
        hub endpointing an empty text goes too (the ASR heard no words: evidence as well), and the
        transcript's language with it (an English-only model says "en" whatever was spoken). With a turn
        model it waits for the pause's ``turn`` to be sent first."""
        transcript, refine = await self._transcribe_refinable(start, end)
        refining = False  # this pass is decoded again: its `speculative` says so
        if refine is not None and asyncio.current_task() is self.speculation:
            self.refining = asyncio.create_task(self._refine(refine, asyncio.current_task()))
            refining = True
        if self.turn_model is not None:
            await self.judging.wait()  # the model judges later in the pause (judge_ms) than the pass starts
        turn = self.turn_task
        if turn is not None and not turn.done():
            # The pause's `turn` goes first: a `speculative` without one tells the hub the worker has
            # no turn model (its `text` rule), so the transcript must not overtake the probability.
            await asyncio.wait({turn})
        if ((self.config.speculative_events or self.hub) and asyncio.current_task() is self.speculation and not self.finalizing
                and not self.final_sent and (self.hub or transcript.text.strip())):
            self.speculation_sent = True
            fields: dict[str, Any] = {"text": transcript.text}
            if transcript.language:
                fields["language"] = transcript.language
            if refining:
                fields["refining"] = True
            await self.emit("speculative", **fields)
        return transcript

    async def _refine(self, refine: Callable[[], Awaitable[Transcript]], speculation: "asyncio.Task[Transcript]") -> Transcript:
        """The speculation decoded again with beam search (an engine's ``transcribe_refinable``):
        the final's text if the utterance ends at this pause. Sent as ``refined`` after the
        ``speculative`` (which said ``refining``), so the hub starts its preemptive reply on it; the
        pause's evidence stays the greedy text. Not sent once the utterance is ending: the final,
        which waits for it, has the text then."""
        refined = await refine()
        if not speculation.done():
            await asyncio.wait({speculation})  # the `speculative` goes first
        if asyncio.current_task() is self.refining and self.speculation_sent and not self.finalizing and not self.final_sent:
            await self.emit("refined", text=refined.text)
        return refined

    async def _judge_turn(self, start: int, end: int) -> None:
        """Hub mode: the turn model's probability that the utterance up to the pause is a finished
        turn, computed in a thread, sent as ``turn`` unless speech resumed (or the utterance ended) meanwhile."""
        assert self.turn_model is not None
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        audio = self.chunks[0][max(0, start) : end]
        probability = await asyncio.get_running_loop().run_in_executor(None, self.turn_model.probability, audio)
        if asyncio.current_task() is self.turn_task and not self.finalizing and not self.final_sent:
            await self.emit("turn", probability=round(float(probability), 4))

    def _speculation_reads_complete(self) -> bool:
        s = self.speculation
        return s is not None and s.done() and not s.cancelled() and s.exception() is None and reads_complete(s.result().text)

    def _speculation_done(self, task: "asyncio.Task[Transcript]") -> None:
        # The text arrived after the pause had grown long enough: end now rather than at the next window.
        if task is self.speculation and self.early_reached and not self.finalizing and self._speculation_reads_complete():
            self.early_task = asyncio.get_running_loop().create_task(self._finalize(self.samples, "early"))

    async def _finalize(self, end: int, reason: str) -> None:
        if self.finalizing:
            return
        self.finalizing = True
        self.end_reason = reason
        self.judging.set()  # a speculation waiting for the turn model's moment goes on to be the final
        await self.emit("speech_end")
        if self.partial_task is not None:
            self.partial_task.cancel()
        if self.speculation is not None:
            transcript = await self.speculation
            if self.refining is not None:
                try:
                    transcript = await self.refining
                except Exception:  # the greedy text stands
                    log.exception("the beam search of the final failed; the greedy transcript stands")
            self.used_speculation = True
        else:
            transcript = await self._transcribe(self._start_sample(), end)
        await self._send_final(transcript)

    async def _send_final(self, transcript: Transcript) -> None:
        self.final_sent = True
        fields: dict[str, Any] = {"text": transcript.text}
        if transcript.language:
            fields["language"] = transcript.language
        await self.emit("final", **fields)
        self.ended.set()

    def _maybe_partial(self) -> None:
        interval = self.config.partial_interval
        if interval <= 0 or self.endpointer.paused or self.speculation is not None:
            return
        if self.partial_task is not None and not self.partial_task.done():
            return
        if self.samples - max(self.last_partial_at, self._start_sample()) < interval * SAMPLE_RATE:
            return
        self.last_partial_at = self.samples
        self.partial_task = asyncio.create_task(self._partial(self._start_sample(), self.samples))

    async def _partial(self, start: int, end: int) -> None:
        transcript = await self._transcribe(start, end)
        if not self.final_sent and transcript.text and transcript.text != self.last_partial_text:
            self.last_partial_text = transcript.text
            await self.emit("partial", text=transcript.text)

    def _drop_speculation(self) -> None:
        self.early_reached = False
        self.speculation_sent = False
        self.judging.clear()
        if self.turn_task is not None:
            self.turn_task.cancel()  # its thread finishes; the probability is not sent
            self.turn_task = None
        if self.speculation is not None:
            self.speculation.cancel()
            self.speculation = None
        if self.refining is not None:
            self.refining.cancel()
            self.refining = None

    def _audio(self, start: int, end: int) -> np.ndarray:
        if len(self.chunks) > 1:
            self.chunks = [np.concatenate(self.chunks)]
        audio = self.chunks[0][max(0, start) : end] if self.chunks else np.zeros(0, np.float32)
        return self._squeeze_pauses(audio, max(0, start))

    async def _transcribe(self, start: int, end: int) -> Transcript:
        return await self.engine.transcribe(self._audio(start, end), self.language)

    async def _transcribe_refinable(self, start: int, end: int) -> tuple[Transcript, Callable[[], Awaitable[Transcript]] | None]:
        refinable = getattr(self.engine, "transcribe_refinable", None)
        if refinable is None:
            return await self._transcribe(start, end), None
        return await refinable(self._audio(start, end), self.language)

    def _squeeze_pauses(self, audio: np.ndarray, offset: int) -> np.ndarray:
        """Shortens pauses inside the utterance to ``max_pause_seconds``: Whisper tends to stop
        at a long pause and drop what follows it."""
        limit = int(self.config.max_pause_seconds * SAMPLE_RATE / WINDOW)
        threshold = self.config.endpoint.neg_threshold
        keep = np.ones(len(audio), dtype=bool)
        first = offset // WINDOW
        last = min(len(self.probabilities), (offset + len(audio)) // WINDOW)
        run_start = None
        for i in range(first, last + 1):
            silent = i < last and self.probabilities[i] < threshold
            if silent and run_start is None:
                run_start = i
            elif not silent and run_start is not None:
                if i < last and i - run_start > limit:  # an inner pause, not the trailing one
                    cut_from = (run_start + limit // 2) * WINDOW - offset
                    cut_to = (i - limit // 2) * WINDOW - offset
                    keep[max(0, cut_from) : max(0, cut_to)] = False
                run_start = None
        return audio[keep]

    def _pad(self) -> int:
        return int(self.config.pad_seconds * SAMPLE_RATE)

    def _start_sample(self) -> int:
        start = self.endpointer.speech_start or 0
        return max(0, start * WINDOW - int(self.config.lead_seconds * SAMPLE_RATE))

    def _stop_sample(self) -> int:
        stop = self.endpointer.speech_stop
        return self.samples if stop is None else stop * WINDOW

    async def close(self) -> None:
        """Cancels the utterance's transcriptions (and turn-model call) still running and waits until
        they have unwound (a pass already inside the engine's thread finishes there; its result is dropped)."""
        tasks = [t for t in (self.partial_task, self.speculation, self.refining, self.early_task, self.turn_task) if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
