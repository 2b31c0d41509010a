"""Opus through the system's libopus (Debian ``libopus0``), as a device encodes and decodes it."""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import lru_cache

OPUS_APPLICATION_VOIP = 2048


@lru_cache(maxsize=1)
def _lib() -> ctypes.CDLL:
    name = ctypes.util.find_library("opus") or "libopus.so.0"
    try:
        lib = ctypes.CDLL(name)
    except OSError as exc:
        raise RuntimeError(f"libopus not found ({exc}); on Debian: apt-get install libopus0") from exc
    lib.opus_encoder_create.restype = ctypes.c_void_p
    lib.opus_encoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_encode.restype = ctypes.c_int32
    lib.opus_encode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_int32]
    lib.opus_encoder_destroy.argtypes = [ctypes.c_void_p]
    lib.opus_decoder_create.restype = ctypes.c_void_p
    lib.opus_decoder_create.argtypes = [ctypes.c_int32, ctypes.c_int, ctypes.POINTER(ctypes.c_int)]
    lib.opus_decode.restype = ctypes.c_int
    lib.opus_decode.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int32, ctypes.c_char_p, ctypes.c_int, ctypes.c_int]
    lib.opus_decoder_destroy.argtypes = [ctypes.c_void_p]
    return lib


class OpusEncoder:
    """Mono PCM16LE frames of ``frame_ms`` in, one Opus packet each out."""

    def __init__(self, rate: int = 16000, frame_ms: int = 60) -> None:
        err = ctypes.c_int()
        self._lib = _lib()
        self._state = self._lib.opus_encoder_create(rate, 1, OPUS_APPLICATION_VOIP, ctypes.byref(err))
        if err.value != 0 or not self._state:
            raise RuntimeError(f"opus_encoder_create failed ({err.value})")
        self.rate = rate
        self.frame_samples = rate * frame_ms // 1000
        self._out = ctypes.create_string_buffer(4000)

    def encode(self, pcm: bytes) -> bytes:
        if len(pcm) != self.frame_samples * 2:
            raise ValueError(f"an Opus frame needs {self.frame_samples * 2} bytes of PCM, got {len(pcm)}")
        n = self._lib.opus_encode(self._state, pcm, self.frame_samples, self._out, len(self._out))
        if n < 0:
            raise RuntimeError(f"opus_encode failed ({n})")
        return self._out.raw[:n]

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            self._lib.opus_encoder_destroy(self._state)


class OpusDecoder:
    def __init__(self, rate: int = 24000) -> None:
        err = ctypes.c_int()
        self._lib = _lib()
        self._state = self._lib.opus_decoder_create(rate, 1, ctypes.byref(err))
        if err.value != 0 or not self._state:
            raise RuntimeError(f"opus_decoder_create failed ({err.value})")
        self.rate = rate
        self._max = rate * 120 // 1000
        self._out = ctypes.create_string_buffer(self._max * 2)

    def decode(self, packet: bytes) -> bytes:
        """PCM16LE of one packet; ValueError when libopus rejects it."""
        n = self._lib.opus_decode(self._state, packet, len(packet), self._out, self._max, 0)
        if n < 0:
            raise ValueError(f"opus_decode failed ({n})")
        return self._out.raw[: n * 2]

    def __del__(self) -> None:
        if getattr(self, "_state", None):
            self._lib.opus_decoder_destroy(self._state)
