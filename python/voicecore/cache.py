"""Where VoiceCore keeps files it derives or unpacks once on this machine (never downloads from a
model hub): the models folder."""

from __future__ import annotations

import os
from pathlib import Path


def models_dir() -> Path:
    """``$XDG_CACHE_HOME/voicecore/models``, else ``~/.cache/voicecore/models``: the Smart Turn ONNX
    file, the assembled Whisper base, the embedded LLM's serving copy."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "voicecore" / "models"
