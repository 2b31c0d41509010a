"""Streaming Silero VAD: the ONNX model faster-whisper ships, fed 32 ms windows as audio arrives,
its recurrent state and 64-sample context carried across calls (the same inputs its batch
``SileroVADModel.__call__`` builds, split over time)."""

from __future__ import annotations

import functools

import numpy as np

WINDOW = 512  # samples at 16 kHz = 32 ms
CONTEXT = 64


@functools.lru_cache(maxsize=1)
def _session():
    import os

    import onnxruntime
    from faster_whisper.utils import get_assets_path

    opts = onnxruntime.SessionOptions()
    opts.inter_op_num_threads = 1
    opts.intra_op_num_threads = 1
    opts.log_severity_level = 4
    return onnxruntime.InferenceSession(os.path.join(get_assets_path(), "silero_vad_v6.onnx"), providers=["CPUExecutionProvider"], sess_options=opts)


class StreamingVad:
    """``feed(audio)`` → one speech probability per completed 32 ms window."""

    window_seconds = WINDOW / 16000

    def __init__(self) -> None:
        self._session = _session()
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)
        self._pending = np.zeros(0, dtype=np.float32)

    def feed(self, audio: np.ndarray) -> list[float]:
        self._pending = np.concatenate([self._pending, audio.astype(np.float32)])
        count = len(self._pending) // WINDOW
        if count == 0:
            return []
        windows = self._pending[: count * WINDOW].reshape(count, WINDOW)
        self._pending = self._pending[count * WINDOW :]
        contexts = np.empty((count, CONTEXT), dtype=np.float32)
        contexts[0] = self._context
        contexts[1:] = windows[:-1, -CONTEXT:]
        self._context = windows[-1, -CONTEXT:].copy()
        batch = np.concatenate([contexts, windows], axis=1)
        out, self._h, self._c = self._session.run(None, {"input": batch, "h": self._h, "c": self._c})
        return [float(p) for p in np.asarray(out).reshape(-1)]
