"""``voicecore up`` settings: defaults < ``--config`` JSON file < environment < flags."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any


def default_state_dir() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "voicecore" / "up"


@dataclass
class UpConfig:
    host: str = "0.0.0.0"
    port: int = 8000
    script: str = ""                 # business-logic script; "" = Examples/python/assistant.py
    kb_dir: str = ""                 # KB_DIR for the script; "" = Examples/python/kb
    no_llm: bool = False
    llm_url: str = ""                # any OpenAI-compatible server(s), comma-separated; "" = the embedded SmolLM2
    llm_model: str = ""
    llm_threads: int = 2             # the embedded LLM's threads reading the prompt
    llm_decode_threads: int = 1      # … and writing the answer, token by token (embedded_llm.server_argv)
    llm_start_timeout: float = 120.0
    # Camera boards: an OpenAI-compatible model that takes images; "" = no vision endpoint.
    vision_url: str = ""
    vision_model: str = ""
    vision_port: int = 0             # the endpoint boards upload photos to; 0 = any free port
    vision_token: str = ""           # the token boards present (given to them in MCP initialize); "" = random per run
    worker_token: str = ""           # "" = a fresh random token per run
    device_tokens: str = ""          # "" = DEV MODE (devices need no token)
    admin_token: str = ""            # operators' bearer token for /api/v1/ (docs/admin-api.md); "" = the admin API is disabled
    workers: str = "asr,tts,assistant"
    asr_slots: int = 2
    # Seconds of speech between partial transcripts; 0: none. Off by default: on a small CPU a partial
    # still running when the user pauses delays the final (Benchmarks/e2e: p99 3.05 → 2.32 s on 2 cores).
    asr_partial_interval: float = 0.0
    asr_threads: int = 2             # CPU threads of one Whisper transcription (FasterWhisperEngine)
    asr_window: float = 12.0         # shortest Whisper encoder window, seconds; 30 = faster-whisper's own (~2-3x the CPU)
    # Preemptive generation: the assistant starts on the ASR's speculative transcript, its reply held
    # until the final confirms the text (docs/coordinator.md). False: the assistant starts at the final.
    preemption: bool = True
    tts_slots: int = 2
    assistant_slots: int = 4
    state_dir: str = ""
    # voicecored's event journal under STATE_DIR/journal, for `voicecore replay` (docs/journal.md).
    journal: bool = True
    journal_max_mb: int = 64         # a journal file rolls over at this size
    journal_keep: int = 8            # journal files kept (older runs' are deleted first)
    daemon_bin: str = ""
    ready_timeout: float = 180.0
    daemon: dict[str, Any] = field(default_factory=dict)  # more voicecored options (see voicecored --help)

    @staticmethod
    def keys() -> list[str]:
        return [f.name for f in fields(UpConfig)]

    def update(self, values: dict[str, Any], source: str) -> None:
        known = {f.name: f for f in fields(UpConfig)}
        for key, value in values.items():
            if key not in known:
                raise ValueError(f"{source}: unknown setting {key!r} (known: {', '.join(sorted(known))})")
            current = getattr(self, key)
            if isinstance(current, bool):
                ok = isinstance(value, bool)
            elif isinstance(current, (int, float)):
                ok = isinstance(value, (int, float)) and not isinstance(value, bool)
                value = type(current)(value) if ok else value
            elif isinstance(current, dict):
                ok = isinstance(value, dict)
            else:
                ok = isinstance(value, str)
            if not ok:
                raise ValueError(f"{source}: {key} must be {type(current).__name__}, got {value!r}")
            setattr(self, key, value)

    def load_file(self, path: str) -> None:
        try:
            values = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"config file {path}: {exc}") from exc
        if not isinstance(values, dict):
            raise ValueError(f"config file {path}: a JSON object is expected")
        self.update(values, path)

    def load_env(self, env: dict[str, str]) -> None:
        if env.get("VOICECORE_LLM_URL"):
            self.llm_url = env["VOICECORE_LLM_URL"]
        if env.get("VOICECORE_LLM_MODEL"):
            self.llm_model = env["VOICECORE_LLM_MODEL"]
        if env.get("VOICECORE_VISION_URL"):
            self.vision_url = env["VOICECORE_VISION_URL"]
        if env.get("VOICECORE_VISION_MODEL"):
            self.vision_model = env["VOICECORE_VISION_MODEL"]
        if env.get("VOICECORE_TOKEN"):
            self.worker_token = env["VOICECORE_TOKEN"]
        if env.get("VOICECORE_ADMIN_TOKEN"):
            self.admin_token = env["VOICECORE_ADMIN_TOKEN"]
        if env.get("VOICECORE_DEVICE_TOKENS"):
            self.device_tokens = env["VOICECORE_DEVICE_TOKENS"]
        if env.get("VOICECORE_STATE_DIR"):
            self.state_dir = env["VOICECORE_STATE_DIR"]

    def finish(self) -> None:
        if not self.worker_token:
            # Hex, not urlsafe base64: a generated token never starts with "-", so it can be pasted
            # after --token on any command line.
            self.worker_token = secrets.token_hex(18)
        if self.vision_url and not self.vision_token:
            self.vision_token = secrets.token_hex(18)
        if not self.state_dir:
            self.state_dir = str(default_state_dir())
        unknown = set(self.worker_kinds) - {"asr", "tts", "assistant"}
        if unknown:
            raise ValueError(f"--workers: unknown kinds {sorted(unknown)} (asr, tts, assistant, or none)")

    @property
    def worker_kinds(self) -> list[str]:
        return [k.strip() for k in self.workers.split(",") if k.strip() and k.strip() != "none"]

    @property
    def first_device_token(self) -> str:
        return next((t.strip() for t in self.device_tokens.split(",") if t.strip()), "")
