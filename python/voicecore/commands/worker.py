"""``voicecore worker asr|tts|assistant``: run a default worker that dials a hub."""

from __future__ import annotations

import argparse
import logging
import os
import runpy
import sys

from ..languages import is_tag
from .registry import command


@command("worker", "run an ASR, TTS or assistant worker that dials a VoiceCore hub")
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=["asr", "tts", "assistant"], help="what this worker serves")
    p.add_argument("--hub", default=os.environ.get("VOICECORE_HUB", "ws://127.0.0.1:8000/worker"), help="the hub's worker URL (env VOICECORE_HUB)")
    p.add_argument("--token", default=os.environ.get("VOICECORE_TOKEN", ""), help="the hub's worker token (env VOICECORE_TOKEN)")
    p.add_argument("--script", help="assistant: the business-logic script (calls app.run())")
    p.add_argument("--memory-url", default=os.environ.get("VOICECORE_MEMORY_URL", ""),
                   help="assistant: the memory service (`voicecore memory`) conversations live in, shared by every worker "
                        "(env VOICECORE_MEMORY_URL; default: a local SQLite file only this worker sees)")
    p.add_argument("--memory-token", default=os.environ.get("VOICECORE_MEMORY_TOKEN", ""),
                   help="assistant: the memory service's token (env VOICECORE_MEMORY_TOKEN)")
    p.add_argument("--slots", type=int, default=0, help="jobs run at once (default: asr 2, tts 2, assistant 4)")
    p.add_argument("--name", default="", help="worker name for the hub's logs")
    p.add_argument("--agent", action="append", default=[], metavar="NAME",
                   help="assistant: serve only this agent's jobs (repeatable; default: every agent's; docs/agents.md)")
    p.add_argument("--language", action="append", default=[], metavar="TAG", dest="languages",
                   help="asr, tts: a language the engine handles, e.g. zh (repeatable); the hub places a job on a worker "
                        "that names its language first (default: what the engine says — tiny.en: en — else every language; "
                        "docs/languages.md)")
    p.add_argument("--engine", choices=["default", "openai", "instant"], default="default",
                   help="asr: faster-whisper tiny.en (default) or an OpenAI-compatible /v1/audio/transcriptions; "
                        "tts: eSpeak NG (default) or an OpenAI-compatible /v1/audio/speech; "
                        "instant: no model, answers at once (asr: a tone's pitch is a question id, voicecore.asr.instant; "
                        "tts: a short tone per segment) for full-stack tests, chaos runs and soaks")
    p.add_argument("--engine-url", default="", help="base URL (…/v1) of the OpenAI-compatible engine")
    p.add_argument("--model", default="", help="model name for --engine openai; for asr: tiny.en (default), base (multilingual, "
                   "scripts/install-whisper-base.sh) or a CTranslate2 Whisper directory")
    p.add_argument("--partial-interval", type=float, default=1.0,
                   help="asr: seconds of new speech between partial transcripts (0: none, which leaves the engine free for the final)")
    p.add_argument("--speculative", action="store_true",
                   help="asr: send each speculative transcript to the hub (`speculative` / `speculation_void`) so it can "
                        "start the assistant before the endpoint (preemptive generation; voicecore up does unless --no-preemption)")
    p.add_argument("--no-turn-model", action="store_true",
                   help="asr: do not load the Smart Turn end-of-turn model (hub endpointing then gets no `turn` evidence)")
    p.add_argument("--cpu-threads", type=int, default=2, help="asr: CPU threads of one faster-whisper transcription (default 2)")
    p.add_argument("--asr-window", type=float, default=12.0, metavar="SECONDS",
                   help="asr: shortest Whisper encoder window (default 12; 30 = faster-whisper's full window, ~2-3x the CPU per pass; docs/turn-latency.md)")
    p.add_argument("--asr-final-beam", type=int, metavar="N",
                   help="asr: decode each pause's pass that the model was unsure of again with beam search of N for the "
                        "final text (the pause's evidence stays greedy); default 5 (transcribe()'s), 1 turns it off")
    p.add_argument("--log-level", default=os.environ.get("VOICECORE_LOG_LEVEL", "INFO"))


@add_arguments
def run(args: argparse.Namespace) -> int:
    from ..worker.threads import one_blas_thread

    one_blas_thread()  # first: numpy reads the setting when it loads
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if not args.token:
        print("voicecore worker: no token (--token or VOICECORE_TOKEN)", file=sys.stderr)
        return 2
    bad = [tag for tag in args.languages if not is_tag(tag)]
    if bad:  # the hub would refuse the registration: say so here, before a model loads
        print(f"voicecore worker: --language {bad[0]!r} is not a language tag such as en or zh-CN", file=sys.stderr)
        return 2
    if args.kind == "assistant":
        if not args.script and args.engine == "instant":
            args.script = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "testing", "instant_assistant.py")
            if args.slots:
                os.environ["VOICECORE_ASSISTANT_SLOTS"] = str(args.slots)
        if not args.script:
            print("voicecore worker assistant: --script app.py is required", file=sys.stderr)
            return 2
        os.environ["VOICECORE_HUB"] = args.hub
        os.environ["VOICECORE_TOKEN"] = args.token
        if args.agent:
            os.environ["VOICECORE_AGENTS"] = ",".join(args.agent)
        if args.name:
            os.environ["VOICECORE_ASSISTANT_NAME"] = args.name  # the hub's name for this worker, whatever the script says
        if args.memory_url:
            os.environ["VOICECORE_MEMORY_URL"] = args.memory_url
            os.environ["VOICECORE_MEMORY_TOKEN"] = args.memory_token
        sys.argv = [args.script]
        sys.path.insert(0, os.path.dirname(os.path.abspath(args.script)))
        runpy.run_path(args.script, run_name="__main__")
        return 0
    if args.engine == "openai" and not args.engine_url:
        print("voicecore worker: --engine openai needs --engine-url", file=sys.stderr)
        return 2
    if args.kind == "asr" and args.engine == "instant":
        from ..asr.instant import instant_asr_worker

        worker = instant_asr_worker(slots=args.slots or 2, name=args.name or "asr")
    elif args.kind == "asr":
        from ..asr.worker import asr_worker

        if args.engine == "openai":
            from ..asr.openai_engine import OpenAITranscriptionEngine

            engine = OpenAITranscriptionEngine(args.engine_url, model=args.model or "whisper-1", api_key=os.environ.get("VOICECORE_ENGINE_API_KEY", ""))
        else:
            from ..asr import models

            try:
                engine = models.load_engine(args.model, cpu_threads=args.cpu_threads, window_s=args.asr_window, final_beam=args.asr_final_beam)
            except models.ModelMissing as e:
                print(f"voicecore worker asr: {e}", file=sys.stderr)
                return 2
        from ..asr.recognizer import RecognizerConfig
        from ..asr.worker import load_turn_model

        config = RecognizerConfig.default()
        config.partial_interval = args.partial_interval
        config.speculative_events = args.speculative
        turn_model = None if args.no_turn_model else load_turn_model()
        worker = asr_worker(engine, slots=args.slots or 2, name=args.name or "asr", config=config, turn_model=turn_model)
    else:
        from ..tts.worker import tts_worker

        if args.engine == "openai":
            from ..tts.openai_engine import OpenAISpeechEngine

            tts_engine = OpenAISpeechEngine(args.engine_url, model=args.model or "tts-1", api_key=os.environ.get("VOICECORE_ENGINE_API_KEY", ""))
            worker = tts_worker(tts_engine, slots=args.slots or 2, name=args.name or "tts")
        elif args.engine == "instant":
            from ..tts.instant import InstantEngine

            worker = tts_worker(InstantEngine(), slots=args.slots or 2, name=args.name or "tts")
        else:
            from ..tts.espeak import EspeakEngine

            worker = tts_worker(EspeakEngine(prespawn=True), slots=args.slots or 2, name=args.name or "tts")
    if args.languages:
        worker.languages = list(args.languages)
    worker.run(args.hub, args.token)
    return 0
