"""Sentence splitting: LLM text deltas in, TTS-ready segments out (libvoicecore's SentenceSplitter).

``SentenceSplitter.push`` returns the texts of the segments that became ready;
``SentenceSplitter.feed`` does the same but returns ``Segment`` objects that also carry the emoji
removed from the text (the device protocol shows the first as an emotion). ``split_sentences``
splits a whole text in one call.
"""

from __future__ import annotations

import ctypes
import json
from dataclasses import dataclass
from typing import Iterator

from . import _native


class _CSegment(ctypes.Structure):
    _fields_ = [
        ("text", ctypes.c_void_p),
        ("text_len", ctypes.c_size_t),
        ("emoji", ctypes.c_void_p),
        ("emoji_len", ctypes.c_size_t),
        ("index", ctypes.c_int64),
        ("emoji_count", ctypes.c_int32),
    ]


@_native.declares
def _declare(l: ctypes.CDLL) -> None:
    l.vc_splitter_new.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]
    l.vc_splitter_new.restype = ctypes.c_int
    l.vc_splitter_free.argtypes = [ctypes.c_void_p]
    l.vc_splitter_free.restype = None
    l.vc_splitter_errmsg.argtypes = [ctypes.c_void_p]
    l.vc_splitter_errmsg.restype = ctypes.c_char_p
    l.vc_splitter_push.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
    l.vc_splitter_push.restype = ctypes.c_int
    l.vc_splitter_next.argtypes = [ctypes.c_void_p, ctypes.POINTER(_CSegment)]
    l.vc_splitter_next.restype = ctypes.c_int
    l.vc_splitter_flush.argtypes = [ctypes.c_void_p]
    l.vc_splitter_flush.restype = ctypes.c_int
    l.vc_splitter_reset.argtypes = [ctypes.c_void_p]
    l.vc_splitter_reset.restype = ctypes.c_int


@dataclass(frozen=True)
class Segment:
    """One segment: the text to speak, the emoji removed from it, its index in the stream."""

    text: str
    emoji: tuple[str, ...]
    index: int


class SentenceSplitter:
    """A streaming splitter. Push text (``str`` or UTF-8 ``bytes``; bytes may split a character),
    get the segments whose end is certain; ``flush`` at the end of the reply returns the rest.

    Options: ``language`` ("auto", "en", "de", "fr", "es", "it", "pt", "nl", "ru", "uk", "zh",
    "ja", "ko", "hi", "ar"), ``first_segment`` ("comma" or "sentence"), ``min_first_chars``,
    ``max_segment_chars``, ``clean_for_speech``, ``semicolon_ends`` (";" ends a segment; the
    full-width "；" always does). Invalid options raise ``voicecore.Error``.
    """

    def __init__(
        self,
        language: str = "auto",
        first_segment: str = "comma",
        min_first_chars: int = 8,
        max_segment_chars: int = 220,
        clean_for_speech: bool = True,
        semicolon_ends: bool = True,
    ) -> None:
        self._lib = _native.lib()
        self._handle: ctypes.c_void_p | None = None
        options = {
            "language": language,
            "first_segment": first_segment,
            "min_first_chars": min_first_chars,
            "max_segment_chars": max_segment_chars,
            "clean_for_speech": clean_for_speech,
            "semicolon_ends": semicolon_ends,
        }
        handle = ctypes.c_void_p()
        code = self._lib.vc_splitter_new(ctypes.byref(handle), json.dumps(options).encode())
        if code < 0:
            message = self._lib.vc_splitter_errmsg(handle) if handle else None
            self._lib.vc_splitter_free(handle)
            _native.check(code, lambda: message)
        self._handle = handle
        self._seg = _CSegment()

    def __del__(self) -> None:
        self.close()

    def close(self) -> None:
        """Releases the native splitter (also done when the object is collected)."""
        if self._handle:
            self._lib.vc_splitter_free(self._handle)
            self._handle = None

    def __enter__(self) -> SentenceSplitter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, code: int) -> int:
        return _native.check(code, lambda: self._lib.vc_splitter_errmsg(self._handle))

    def _live(self) -> ctypes.c_void_p:
        if not self._handle:
            raise _native.Error(-4, "the splitter is closed")
        return self._handle

    def _push(self, text: str | bytes) -> None:
        data = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        self._check(self._lib.vc_splitter_push(self._live(), data, len(data)))

    def segments(self) -> Iterator[Segment]:
        """Drains the ready segments."""
        handle = self._live()
        while self._check(self._lib.vc_splitter_next(handle, ctypes.byref(self._seg))) == 1:
            s = self._seg
            text = ctypes.string_at(s.text, s.text_len).decode("utf-8")
            emoji = ctypes.string_at(s.emoji, s.emoji_len).decode("utf-8")
            yield Segment(text, tuple(emoji.split(" ")) if emoji else (), s.index)

    def feed(self, text: str | bytes) -> list[Segment]:
        """Pushes text and returns the segments that became ready, with their emoji."""
        self._push(text)
        return list(self.segments())

    def finish(self) -> list[Segment]:
        """End of input: returns the remaining segments, with their emoji."""
        self._check(self._lib.vc_splitter_flush(self._live()))
        return list(self.segments())

    def push(self, text: str | bytes) -> list[str]:
        """Pushes text and returns the texts of the segments that became ready."""
        return [s.text for s in self.feed(text) if s.text]

    def flush(self) -> list[str]:
        """End of input: returns the texts of the remaining segments. The next push starts a new
        reply."""
        return [s.text for s in self.finish() if s.text]

    def reset(self) -> None:
        """Forgets everything pushed and not yet drained."""
        self._check(self._lib.vc_splitter_reset(self._live()))


def split_sentences(
    text: str,
    language: str = "auto",
    max_segment_chars: int = 220,
    clean_for_speech: bool = True,
) -> list[str]:
    """Splits a whole text into sentences (every segment ends at a sentence end)."""
    with SentenceSplitter(
        language=language,
        first_segment="sentence",
        max_segment_chars=max_segment_chars,
        clean_for_speech=clean_for_speech,
        semicolon_ends=False,
    ) as s:
        return s.push(text) + s.flush()
