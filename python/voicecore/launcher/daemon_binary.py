"""Where voicecored is: ``VOICECORED_BIN``, the checkout's ``build/``, or ``PATH``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3]


def find_daemon(explicit: str = "") -> Path | None:
    candidates = [explicit, os.environ.get("VOICECORED_BIN", ""), str(CHECKOUT / "build" / "Sources" / "voicecored" / "voicecored"),
                  shutil.which("voicecored") or ""]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    return None


def web_root() -> Path:
    return Path(__file__).resolve().parents[1] / "web"


def default_script() -> Path:
    return CHECKOUT / "Examples" / "python" / "assistant.py"


def default_knowledge() -> Path:
    return CHECKOUT / "Examples" / "python" / "kb"
