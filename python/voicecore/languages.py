"""Language tags as devices, agents and workers send them ("zh-CN", "en_US", "ja")."""

from __future__ import annotations

import re

_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")


def primary(tag: str) -> str:
    """The primary subtag, lowercased: "zh-CN" → "zh", "en_US" → "en", "" → "" (as the core's
    ``LanguageTag.primary``)."""
    return tag.lower().replace("_", "-").split("-")[0]


def is_tag(tag: str) -> bool:
    """Whether the hub takes ``tag`` as a language (``Coordinator.isLanguageTag``: BCP 47's shape,
    at most 16 bytes): "en", "zh-CN", "zh-Hans-CN"; not "zh CN" or "english!"."""
    return len(tag.encode()) <= 16 and _TAG.fullmatch(tag) is not None
