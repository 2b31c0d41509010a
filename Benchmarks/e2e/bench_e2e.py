"""End of speech → first audio frame at the device, through the whole assistant as `voicecore up`
runs it (voicecored, faster-whisper tiny.en, eSpeak NG, the default assistant script), with a
device speaking the real protocol in real time. Per configuration: p50/p99 over the turns, the
stage breakdown, and the hub's own share; beside it the anchor: the same engines called directly,
one after the other, with no hub, no network and no streaming (what the pipeline costs at least if
nothing overlapped).

    python Benchmarks/e2e/bench_e2e.py [--turns 20] [--only scripted|smollm2] [--preemption both|on|off]

SmolLM2 runs twice by default, with preemptive generation (the default: the assistant starts on the
ASR's speculative transcript, its reply held until the final confirms it) and with
`voicecore up --no-preemption`, one after the other in the same run, so the gain shows beside it.

Stage times are seconds after the user truly stopped speaking. The device knows that moment and
when the first frame arrived; the hub logs each stage (turn.mark) relative to its ASR's end of
speech, so endpointing = first frame at the device − the hub's first_audio_sent mark (localhost).
Hub share = the hub's own time on the turn's path (the daemon's turn.hub_latency: the last uplink
frame to ASR, ASR final or speculative → assistant job, first sentence → TTS job, first TTS audio →
first Opus frame out; docs/device-protocol.md) over the end-of-speech → first-frame latency, summed
over the turns. Beside it an upper bound: all time spent inside the hub during the turns
(voicecored_hub_seconds_sum of /metrics: every event the Coordinator handled, the question's uplink
audio and the reply's audio after its first frame included) over the same sum.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from voicecore.asr.endpointer import EndpointConfig  # noqa: E402
from voicecore.asr.recognizer import reads_complete  # noqa: E402
from voicecore.client import converse, speech_end_seconds  # noqa: E402
from voicecore.launcher import embedded_llm  # noqa: E402
from voicecore.testing import Rule, ScriptedLLM  # noqa: E402
from voicecore.tts.engine import SpeechRequest  # noqa: E402
from voicecore.tts.espeak import EspeakEngine  # noqa: E402

QUESTIONS = ["What is the capital of France?", "What is the capital of Germany?", "What is the capital of Japan?",
             "What is the highest mountain?", "Which ocean is the largest?"]
REPLIES = {"france": "Paris is the capital of France.", "germany": "Berlin is the capital of Germany.",
           "japan": "Tokyo is the capital of Japan.", "mountain": "Mount Everest is the highest mountain.",
           "ocean": "The Pacific is the largest ocean."}
STAGES = [("speech_end", "endpointing (hub's speech_end)"), ("asr_final", "ASR final"), ("first_delta", "first LLM token"),
          ("first_segment", "first segment"), ("first_tts_audio", "first TTS audio"), ("first_audio_sent", "first frame sent")]
ENDPOINT = EndpointConfig()  # the ASR worker's endpointing defaults, as voicecore up runs them


async def synthesize(text: str, rate: int) -> bytes:
    return b"".join([c async for c in EspeakEngine().synthesize(SpeechRequest(text, sample_rate=rate))])


class Up:
    def __init__(self, state: Path, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
        self.state = state
        self.proc = subprocess.Popen([sys.executable, "-m", "voicecore", "up", "--host", "127.0.0.1", "--port", "0",
                                      "--state-dir", str(state), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True, env=env)
        self.output: list[str] = []
        threading.Thread(target=lambda: self.output.extend(self.proc.stdout), daemon=True).start()  # type: ignore[arg-type]
        deadline = time.monotonic() + 300
        while not any("VoiceCore is up" in line for line in self.output):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("voicecore up did not start:\n" + "".join(self.output)[-3000:])
            time.sleep(0.2)
        self.status = json.loads((state / "up.json").read_text())

    def hub_seconds(self) -> float:
        text = urllib.request.urlopen(self.status["http"] + "/metrics", timeout=5).read().decode()
        return float(re.search(r"^voicecored_hub_seconds_sum ([0-9.e+-]+)$", text, re.M).group(1))  # type: ignore[union-attr]

    def marks(self, session: str) -> tuple[dict[str, float], float | None]:
        """The marks of the session's turn that sent audio (a session may also hold an empty turn),
        and the hub's own time on that turn's path (turn.hub_latency), in one read of the log."""
        turns: dict[int, dict[str, float]] = {}
        hub_path = None
        with open(self.status["logs"]["voicecored"], encoding="utf-8") as f:
            for line in f:
                if '"turn.mark"' in line or '"turn.hub_latency"' in line:
                    e = json.loads(line)
                    if str(e.get("session")) != session:
                        continue
                    if e.get("kind") == "turn.mark" and isinstance(e.get("value"), int):
                        turns.setdefault(int(e.get("turn", 0)), {}).setdefault(e["reason"], e["value"] / 1e6)
                    elif e.get("event") == "turn.hub_latency" and hub_path is None:
                        hub_path = e["total_us"] / 1e6
        return next((m for _, m in sorted(turns.items()) if "first_audio_sent" in m), {}), hub_path

    def preemptions(self) -> tuple[dict[str, int], list[float]]:
        """Held replies the hub started, committed and discarded (by reason), from its log; and for
        each committed one its head start: seconds from preempt.started to the ASR final."""
        counts: dict[str, int] = {}
        started: dict[tuple[str, int], int] = {}
        finals: dict[tuple[str, int], int] = {}
        committed: list[tuple[str, int]] = []
        with open(self.status["logs"]["voicecored"], encoding="utf-8") as f:
            for line in f:
                if '"preempt.' in line or '"asr_final"' in line:
                    e = json.loads(line)
                    turn = (str(e.get("session")), int(e.get("turn", 0)))
                    if e["kind"] == "turn.mark":
                        finals[turn] = e["t_us"]
                        continue
                    key = e["kind"].split(".", 1)[1] + (":" + e["reason"] if e.get("reason") else "")
                    counts[key] = counts.get(key, 0) + 1
                    if key == "started":
                        started[turn] = e["t_us"]
                    elif key == "committed":
                        committed.append(turn)
        return counts, [(finals[t] - started[t]) / 1e6 for t in committed if t in finals and t in started]

    def early_ends(self) -> int:
        """Utterances the ASR worker ended early (its own semantic endpointer), from its log."""
        with open(self.status["logs"]["asr worker"], encoding="utf-8") as f:
            return sum("utterance ended: early" in line for line in f)

    def endpoints(self) -> dict[str, int]:
        """The hub's end-of-turn decisions (`turn.endpoint`, hub endpointing) by rule."""
        counts: dict[str, int] = {}
        with open(self.status["logs"]["voicecored"], encoding="utf-8") as f:
            for line in f:
                if '"turn.endpoint"' in line:
                    rule = json.loads(line).get("reason", "?")
                    counts[rule] = counts.get(rule, 0) + 1
        return counts

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def run_config(name: str, args: list[str], mics: list[bytes], turns: int, warmup: int = 2) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp), *args)
        try:
            latencies: list[float] = []
            stages: dict[str, list[float]] = {k: [] for k, _ in STAGES}
            incomplete = 0
            hub_before = 0.0
            hub_path: list[float] = []
            for i in range(warmup + turns):
                if i == warmup:
                    hub_before = up.hub_seconds()
                r = asyncio.run(converse(up.status["ws"], mics[i % len(mics)], device_id=f"bench:{i:02d}", timeout=60,
                                         abort_after_first_audio=True))
                if i < warmup:
                    continue
                if "first_audio" not in r.timings:
                    incomplete += 1
                    continue
                latency = r.timings["first_audio"]
                latencies.append(latency)
                marks, path = up.marks(r.session_id)
                for _ in range(20):  # the daemon's log reaches its file through voicecore up's pipe: a moment later
                    if marks and path is not None:
                        break
                    time.sleep(0.1)
                    marks, path = up.marks(r.session_id)
                if not marks:
                    print(f"turn {i}: no hub marks for session {r.session_id}", file=sys.stderr)
                if path is None:
                    print(f"turn {i}: no turn.hub_latency for session {r.session_id}", file=sys.stderr)
                else:
                    hub_path.append(path)
                endpointing = latency - marks.get("first_audio_sent", latency)
                marks["speech_end"] = 0.0  # the hub's zero point: its marks count from there
                for key, _ in STAGES:
                    if key in marks:
                        stages[key].append(endpointing + marks[key])
                time.sleep(0.3)
            hub = up.hub_seconds() - hub_before
            early = up.early_ends()
            endpoints = up.endpoints()
            preempt, head_start = up.preemptions()
        finally:
            up.stop()
    return {"name": name, "latencies": latencies, "stages": stages, "hub_share": hub / sum(latencies) if latencies else float("nan"),
            "hub_path_share": sum(hub_path) / sum(latencies) if latencies and len(hub_path) == len(latencies) else float("nan"),
            "hub_path": hub_path,
            "hub_seconds": hub, "incomplete": incomplete, "early": early, "endpoints": endpoints, "utterances": warmup + turns, "preempt": preempt,
            "head_start": head_start}


def default_script():
    """Examples/python/assistant.py as a module: its knowledge base and its prompt."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("default_assistant", ROOT / "Examples" / "python" / "assistant.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


async def llm_first_token(url: str, question: str, script) -> float:
    """The default script's own request (its system prompt, the passages it retrieves) to the LLM."""
    from voicecore.assistant.llm import LLM

    passages = script.facts(question)
    messages = script.app.messages(type("Session", (), {"history": []})(), question, context="Facts:\n" + "\n".join(passages) if passages else "")
    llm = LLM(endpoints=[url])
    start = time.perf_counter()
    async for _ in llm.stream(messages, tools=False, max_tokens=60):
        return time.perf_counter() - start
    return time.perf_counter() - start


def anchor(mics: list[bytes], llm_url: str | None, rounds: int = 5) -> list[float]:
    """The engines alone, sequentially: the silence the endpointer needs for that text (early or
    full) + whisper on the utterance + the LLM's first token for the default script's prompt +
    eSpeak's first audio chunk of the reply's first sentence."""
    from voicecore.asr.faster_whisper_engine import FasterWhisperEngine

    asr = FasterWhisperEngine()
    script = default_script() if llm_url else None
    totals = []

    async def once(i: int) -> float:
        mic = mics[i % len(mics)]
        audio = np.frombuffer(mic[: int(speech_end_seconds(mic) * 16000) * 2], dtype="<i2").astype(np.float32) / 32768.0
        t = time.perf_counter()
        text = (await asr.transcribe(audio, language="en")).text
        asr_s = time.perf_counter() - t
        llm_s = await llm_first_token(llm_url, text, script) if llm_url else 0.0
        t = time.perf_counter()
        async for _ in EspeakEngine().synthesize(SpeechRequest(list(REPLIES.values())[i % len(REPLIES)], sample_rate=24000)):
            break
        tts_s = time.perf_counter() - t
        silence_ms = ENDPOINT.early_silence_ms if reads_complete(text) else ENDPOINT.min_silence_ms
        return silence_ms / 1000 + asr_s + llm_s + tts_s

    asyncio.run(once(0))  # warm-up
    for i in range(rounds):
        totals.append(asyncio.run(once(i)))
    return totals


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--only", choices=["scripted", "smollm2"])
    parser.add_argument("--preemption", choices=["both", "on", "off"], default="both",
                        help="SmolLM2 with preemptive generation, without (voicecore up --no-preemption), or both, in that order")
    parser.add_argument("--up-arg", action="append", default=[], help="one more `voicecore up` argument for every configuration (A/B runs)")
    args = parser.parse_args()
    mics = [asyncio.run(synthesize(q, 16000)) for q in QUESTIONS]

    def script(messages):
        text = str(messages[-1].get("content", "")).lower()
        return Rule(reply=next((r for k, r in REPLIES.items() if k in text), "I do not know."))

    results = []
    if args.only in (None, "scripted"):
        llm = ScriptedLLM(script).start_in_thread()
        try:
            r = run_config("scripted LLM", ["--llm-url", llm.url, *args.up_arg], mics, args.turns)
            r["anchor"] = anchor(mics, llm.url)
            results.append(r)
            # Partial transcripts share the one Whisper engine with the speculative final.
            r2 = run_config("scripted LLM, 1 s partials", ["--llm-url", llm.url, "--asr-partial-interval", "1", *args.up_arg], mics, args.turns)
            r2["anchor"] = r["anchor"]
            results.append(r2)
        finally:
            llm.stop_thread()
    if args.only in (None, "smollm2"):
        why = embedded_llm.missing()
        if why:
            print(f"SmolLM2-135M-Instruct: not measured — {why} (scripts/install-llm.sh installs it)")
        else:
            runs = []
            if args.preemption in ("both", "on"):
                runs.append(run_config("SmolLM2-135M (llama.cpp)", list(args.up_arg), mics, args.turns))
            if args.preemption in ("both", "off"):
                runs.append(run_config("SmolLM2, --no-preemption", ["--no-preemption", *args.up_arg], mics, args.turns))
            r = runs[0]
            port_llm = None
            # The anchor talks to its own llama.cpp server, started the way voicecore up starts it.
            from voicecore.launcher.addresses import free_port

            port_llm = free_port()
            server = subprocess.Popen(embedded_llm.server_argv(embedded_llm.gguf_path(), port_llm), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=dict(os.environ, **embedded_llm.SERVER_ENV))
            try:
                url = f"http://127.0.0.1:{port_llm}/v1"
                if asyncio.run(embedded_llm.wait_ready(url, 120)):
                    r["anchor"] = anchor(mics, url)
            finally:
                server.terminate()
                server.wait(30)
            for other in runs:
                other["anchor"] = r.get("anchor", [])
                results.append(other)

    print(f"\nend of speech → first audio frame at the device, {args.turns} turns each (CPU: {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f})" + (f"; voicecore up {' '.join(args.up_arg)}" if args.up_arg else ""))
    print(f"{'configuration':<28} {'p50 s':>7} {'p99 s':>7} {'max s':>7} {'hub share':>10} {'(bound)':>9} {'anchor p50 s':>13}  target")
    for r in results:
        lat = r["latencies"]
        a = r.get("anchor", [])
        print(f"{r['name']:<28} {pct(lat, 50):7.3f} {pct(lat, 99):7.3f} {max(lat, default=float('nan')):7.3f} "
              f"{100 * r['hub_path_share']:9.3f}% {100 * r['hub_share']:8.3f}% {pct(a, 50):13.3f}  p50 ≤ 1.0 s, hub ≤ 1 %"
              + (f"   ({r['incomplete']} turns without audio)" if r["incomplete"] else ""))
    for r in results:
        print(f"\nstages, {r['name']} (seconds after the end of speech; p50 / p99):")
        for key, label in STAGES:
            v = r["stages"][key]
            print(f"  {label:<32} {pct(v, 50):6.3f} / {pct(v, 99):6.3f}")
        lat = r["latencies"]
        print(f"  {'first frame at the device':<32} {pct(lat, 50):6.3f} / {pct(lat, 99):6.3f}")
        hp = r["hub_path"]
        print(f"  hub's own time on the path (turn.hub_latency): p50 {1000 * pct(hp, 50):.2f} ms, p99 {1000 * pct(hp, 99):.2f} ms; "
              f"all hub time during the turns: {1000 * r['hub_seconds']:.1f} ms over {len(lat)} turns")
        if r["endpoints"]:
            rules = ", ".join(f"{k} {v}" for k, v in sorted(r["endpoints"].items()))
            print(f"  the hub's end-of-turn decisions (turn.endpoint, by rule): {rules} of {r['utterances']} utterances")
        else:
            print(f"  utterances the ASR worker ended early (complete text after {ENDPOINT.early_silence_ms:.0f} ms of silence, "
                  f"else {ENDPOINT.min_silence_ms:.0f} ms): {r['early']} of {r['utterances']}")
        p = r["preempt"]
        if p:
            discarded = ", ".join(f"{k.split(':', 1)[1]} {v}" for k, v in sorted(p.items()) if k.startswith("discarded:"))
            print(f"  held replies (preemptive generation): {p.get('started', 0)} started, {p.get('committed', 0)} committed"
                  + (f", discarded: {discarded}" if discarded else ""))
            h = r["head_start"]
            print(f"  the LLM's head start when committed (speculative → final, s): p50 {pct(h, 50):.3f}, max {max(h, default=float('nan')):.3f}")
        else:
            print("  held replies (preemptive generation): none")
    print("\nanchor: the same engines called directly and sequentially (the endpointer's silence for the text, "
          f"{ENDPOINT.early_silence_ms / 1000:.3f} s early or {ENDPOINT.min_silence_ms / 1000:.2f} s, + whisper on the utterance "
          "+ LLM first token for the default script's prompt + eSpeak first chunk), 5 rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
