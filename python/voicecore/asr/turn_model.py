"""Smart Turn v3.2: a local audio end-of-turn model (23 languages, 8.7 MB ONNX, BSD-2).

The model reads the last 8 s of an utterance (16 kHz, zero-padded at the front when shorter) as
Whisper log-mel features and answers the probability that the speaker has finished their turn. It
hears intonation and rhythm, so it works for languages whose transcripts the ASR gets wrong and
before any transcript exists.

The ONNX file ships inside PyPI's ``pipecat-ai`` wheel; ``scripts/install-turn-model.sh`` takes it
out of the wheel once (``pip download --no-deps``), never from a model hub (``install()``, which
``voicecore up`` also calls). ``model_path()`` says where it is looked for.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from ..cache import models_dir

SAMPLE_RATE = 16000
WINDOW_SECONDS = 8
MODEL_FILE = "smart-turn-v3.2-cpu.onnx"
WHEEL_VERSION = "1.14.0"  # a pipecat-ai wheel known to carry the file
WHEEL_MEMBER = "pipecat/audio/turn/smart_turn/data/" + MODEL_FILE


def model_path() -> Path:
    """``$VOICECORE_TURN_MODEL``, else ``~/.cache/voicecore/models/smart-turn-v3.2-cpu.onnx``."""
    configured = os.environ.get("VOICECORE_TURN_MODEL")
    if configured:
        return Path(configured)
    return models_dir() / MODEL_FILE


def install(path: Path | None = None) -> Path:
    """Takes the ONNX file out of the pipecat-ai wheel (``pip download --no-deps``) into ``path``
    (default ``model_path()``); returns at once when it is there. Raises on failure (no network)."""
    dest = path or model_path()
    if dest.is_file() and dest.stat().st_size > 0:
        return dest
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                        "-d", tmp, f"pipecat-ai=={WHEEL_VERSION}"], check=True)
        wheel = next(Path(tmp).glob("pipecat_ai-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            data = z.read(WHEEL_MEMBER)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_suffix(".part")
    part.write_bytes(data)
    part.replace(dest)
    return dest


class TurnModelMissing(FileNotFoundError):
    """The ONNX file is not installed (run scripts/install-turn-model.sh)."""


class SmartTurn:
    """``probability(pcm)``: how likely the utterance in ``pcm`` (float32, 16 kHz) is finished."""

    def __init__(self, path: Path | None = None, threads: int = 1) -> None:
        import onnxruntime as ort  # installed with faster-whisper
        from faster_whisper.feature_extractor import FeatureExtractor

        path = path or model_path()
        if not path.is_file():
            raise TurnModelMissing(f"Smart Turn model not found at {path}: run scripts/install-turn-model.sh")
        options = ort.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])
        self._input = self._session.get_inputs()[0].name
        self._features = FeatureExtractor(feature_size=80, sampling_rate=SAMPLE_RATE, chunk_length=WINDOW_SECONDS)

    def features(self, pcm: np.ndarray) -> np.ndarray:
        """Whisper log-mel features of the last 8 s, shape (80, 800): the model's input."""
        n = SAMPLE_RATE * WINDOW_SECONDS
        x = np.asarray(pcm, dtype=np.float32)[-n:]
        if x.size < n:
            x = np.pad(x, (n - x.size, 0))
        x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)  # the model was trained on normalized waveforms
        return np.asarray(self._features(x, padding=0), dtype=np.float32)[:, : n // 160]

    def probability(self, pcm: np.ndarray) -> float:
        out = self._session.run(None, {self._input: self.features(pcm)[np.newaxis]})
        return float(np.asarray(out[0]).reshape(-1)[0])
