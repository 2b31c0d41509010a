"""Japanese as eSpeak NG can say it. Its Japanese voice reads kana only: a kanji comes out as the
English words "Chinese letter", so an LLM's Japanese would be spoken as a string of them. Text with
kanji goes to eSpeak as its pronunciation in katakana, from Janome's morphological analysis (its
IPADIC dictionary ships in the wheel; Apache 2.0): the particle は as ワ, long vowels as ー, words it
does not know (Latin, digits) as they are."""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

log = logging.getLogger(__name__)

_KANJI = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def has_kanji(text: str) -> bool:
    return _KANJI.search(text) is not None


class JapaneseReading:
    """``reading(text)``: ``text`` with kanji as its katakana pronunciation; kana-only text, or any
    text when Janome is not installed (a warning, once), as it is. The analyser loads on first use
    (~0.2 s, ~60 MB of its dictionary mapped), then a sentence takes a few milliseconds."""

    def __init__(self) -> None:
        self._tokenizer: Any = None
        self._missing = False
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._tokenizer is None and not self._missing:
                try:
                    from janome.tokenizer import Tokenizer
                except ImportError:
                    self._missing = True
                    log.warning("janome is not installed: eSpeak reads Japanese kanji as 'Chinese letter' (pip install janome)")
                else:
                    self._tokenizer = Tokenizer()
            return self._tokenizer

    def __call__(self, text: str) -> str:
        if not has_kanji(text):
            return text
        tokenizer = self._load()
        if tokenizer is None:
            return text
        with self._lock:  # one analysis at a time: the TTS worker's segments call from threads
            return "".join(t.phonetic if t.phonetic != "*" else t.surface for t in tokenizer.tokenize(text))
