"""Word error rate: word-level Levenshtein distance over the reference length, after lower-casing
and dropping punctuation (how ASR results are compared in the tests and benchmarks). Chinese and
Japanese are written without spaces: each Han character and kana counts as a word there (the mixed
error rate of Chinese ASR evaluations), so a language's figure does not depend on word segmentation."""

from __future__ import annotations

import re


# One token per Han ideograph, hiragana, katakana or Hangul syllable; runs of other letters/digits.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(f"[{_CJK}]|[^\\W{_CJK}]+(?:'[^\\W{_CJK}]+)*")


def words(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


def word_error_rate(reference: str, hypothesis: str) -> float:
    ref, hyp = words(reference), words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    previous = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        current = [i] + [0] * len(hyp)
        for j, h in enumerate(hyp, 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h))
        previous = current
    return previous[-1] / len(ref)
