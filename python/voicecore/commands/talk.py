"""``voicecore talk``: one spoken turn with a running assistant, as a device would have it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path

from .registry import command


def _status(state_dir: str) -> dict:
    from ..launcher.config import default_state_dir

    path = Path(state_dir or os.environ.get("VOICECORE_STATE_DIR") or default_state_dir()) / "up.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@command("talk", "say something to a running assistant (voicecore up) and hear its answer")
def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("text", nargs="?", help="what to say (spoken with eSpeak NG, as a microphone would hear it)")
    p.add_argument("--wav", help="say this recording instead (a 16-bit PCM WAV, any rate)")
    p.add_argument("--url", help="the server, ws://HOST:PORT (default: the running `voicecore up`, else ws://127.0.0.1:8000)")
    p.add_argument("--token", help="device token (default: the running `voicecore up`'s)")
    p.add_argument("--out", default="reply.wav", help="where to save the reply audio (default reply.wav; '' to skip)")
    p.add_argument("--device-id", default="cli:00:00:00:00:01", help="the device id (conversation history is kept per device)")
    p.add_argument("--protocol-version", type=int, choices=[1, 2, 3], default=1, help="device binary protocol version")
    p.add_argument("--frame-ms", type=int, choices=[20, 60], default=60, help="microphone frame duration")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the end of the reply")
    p.add_argument("--state-dir", default="", help="where `voicecore up` keeps up.json")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


@add_arguments
def run(args: argparse.Namespace) -> int:
    from ..audio import read_wav, resample, write_wav
    from ..client.device import MAX_LISTEN_S, converse

    if bool(args.text) == bool(args.wav):
        print("voicecore talk: give either TEXT or --wav FILE", file=sys.stderr)
        return 2
    status = _status(args.state_dir)
    url = args.url or status.get("ws") or "ws://127.0.0.1:8000"
    token = args.token if args.token is not None else status.get("device_token", "")
    if args.wav:
        try:
            pcm = read_wav(Path(args.wav).read_bytes())
        except (OSError, ValueError, EOFError) as exc:
            print(f"voicecore talk: {args.wav}: {exc}", file=sys.stderr)
            return 2
        mic = resample(pcm.samples, pcm.rate, 16000).astype("<i2").tobytes()
    else:
        mic = asyncio.run(_speak(args.text))
    try:
        result = asyncio.run(converse(url, mic, token=token, device_id=args.device_id, protocol_version=args.protocol_version,
                                      frame_ms=args.frame_ms, timeout=args.timeout))
    except (OSError, asyncio.TimeoutError) as exc:
        print(f"voicecore talk: no answer from {url}: {exc or type(exc).__name__} (is `voicecore up` running?)", file=sys.stderr)
        return 1
    except Exception as exc:  # websockets' handshake refusals and closes
        print(f"voicecore talk: {url}: {exc}", file=sys.stderr)
        return 1
    if not result.stt and not result.complete:
        print(f"voicecore talk: {url} heard no words (it listened {MAX_LISTEN_S:g} s after the speech)", file=sys.stderr)
        return 1
    marks = _daemon_marks(status, result.session_id)
    if args.out and result.reply_pcm:
        Path(args.out).write_bytes(write_wav(result.reply_pcm, result.reply_rate))
    if args.json:
        print(json.dumps({"stt": result.stt, "tts": result.sentences, "timings": result.timings, "marks": marks,
                          "reply_seconds": result.reply_seconds, "frames": result.frames, "complete": result.complete,
                          "out": args.out if result.reply_pcm else ""}))
        return 0 if result.complete else 1
    print(f"stt   {result.stt!r}")
    for sentence in result.sentences:
        print(f"tts   {sentence!r}")
    if result.complete and not result.frames:
        print("tts   (nothing: the assistant answered without words)")
    print("timings, seconds after you stopped speaking (measured here, at the device):")
    for key, label in (("stt", "stt (endpoint + ASR final)"), ("tts_start", "tts start"), ("first_sentence", "first sentence"),
                       ("first_audio", "first audio frame"), ("tts_stop", "tts stop (reply played)")):
        if key in result.timings:
            print(f"  {label:<30} {result.timings[key]:6.3f}")
    if marks:
        print("stages in the hub (its log's turn.mark, seconds after the ASR's end of speech):")
        for name, seconds in marks.items():
            print(f"  {name:<30} {seconds:6.3f}")
    if result.reply_pcm and args.out:
        print(f"reply {result.reply_seconds:.2f} s of audio in {result.frames} Opus frames → {args.out}")
    if not result.complete:
        print("voicecore talk: the turn did not end with `tts stop`", file=sys.stderr)
        return 1
    return 0


async def _speak(text: str) -> bytes:
    from ..tts.engine import SpeechRequest
    from ..tts.espeak import EspeakEngine

    return b"".join([c async for c in EspeakEngine().synthesize(SpeechRequest(text, sample_rate=16000))])


def _daemon_marks(status: dict, session_id: str) -> dict[str, float]:
    """The hub's own stage marks of this session's last turn, when its log is at hand (voicecore up)."""
    log = status.get("logs", {}).get("voicecored")
    if not log or not session_id:
        return {}
    marks: dict[str, float] = {}
    turn = None
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            for line in f:
                if '"turn.mark"' not in line:
                    continue
                entry = json.loads(line)
                if str(entry.get("session")) != session_id:
                    continue
                if entry.get("turn") != turn:
                    turn, marks = entry.get("turn"), {}
                if isinstance(entry.get("value"), int) and entry.get("reason") != "speech_start":
                    marks[str(entry.get("reason"))] = int(entry.get("value", 0)) / 1e6
    except (OSError, ValueError):
        return {}
    return marks
