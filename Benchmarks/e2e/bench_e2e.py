"""End of speech → first audio frame at the device, through the whole assistant as `voicecore up`
runs it (voicecored, faster-whisper tiny.en, eSpeak NG, the default assistant script), with a
device speaking the real protocol in real time. Per configuration: p50/p99 over the turns, the
stage breakdown, and the hub's own share; beside it the anchor: the same engines called directly,
one after the other, with no hub, no network and no streaming (what the pipeline costs at least if
nothing overlapped).

    python Benchmarks/e2e/bench_e2e.py [--turns 20] [--only scripted|smollm2] [--preemption both|on|off]
    python Benchmarks/e2e/bench_e2e.py --vs-pipecat [--turns 20] [--only scripted]

`--vs-pipecat` runs `voicecore up` (embedded SmolLM2) beside the Pipecat 1.x peer
(Benchmarks/e2e/pipecat_peer.py: the same engines, its own llama.cpp server) and sends the same
spoken questions to both, turns alternating; it prints both latencies (p50/p90/p99, the endpoint
and the reply part), the ratio, the stages of each and the load average before and after
(`--only scripted`: both on the instant scripted LLM). It needs pipecat-ai 1.x installed; nothing
else in this file imports pipecat.

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
from voicecore.client.device import MIC_RATE  # noqa: E402
from voicecore.launcher import embedded_llm  # noqa: E402
from voicecore.testing.default_assistant import load_default_assistant  # noqa: E402
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
def _pipecat_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("pipecat-ai")
    except metadata.PackageNotFoundError:
        return "(not installed)"


PIPECAT_VERSION = _pipecat_version()
ENDPOINT = EndpointConfig()
VERBOSE = False  # the ASR worker's endpointing defaults, as voicecore up runs them


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

    def endpoint_of(self, session: str) -> str:
        """The hub's end-of-turn rule for the session's turns, and the silence it had heard (ms)."""
        rules = []
        with open(self.status["logs"]["voicecored"], encoding="utf-8") as f:
            for line in f:
                if '"turn.endpoint"' in line:
                    e = json.loads(line)
                    if str(e.get("session")) == session:
                        rules.append(f"{e.get('reason', '?')}@{e.get('value', '?')}ms")
        return ",".join(rules)

    def early_ends(self) -> int:
        """Utterances the ASR workers ended early (their own semantic endpointer), from their logs
        (`asr worker`, or one per model with `--asr-model tiny.en,base`)."""
        count = 0
        for name, path in self.status["logs"].items():
            if name.startswith("asr worker"):
                with open(path, encoding="utf-8") as f:
                    count += sum("utterance ended: early" in line for line in f)
        return count

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


def voicecore_turn(up: Up, mic: bytes, i: int) -> dict | None:
    """One spoken question to `voicecore up` as a new device session: the latency (end of speech →
    first audio frame at the device), the stages (seconds after the end of speech, from the hub's
    turn.mark events), the hub's own time on the path; None when no audio came."""
    r = asyncio.run(converse(up.status["ws"], mic, device_id=f"bench:{i:02d}", timeout=60, abort_after_first_audio=True))
    if "first_audio" not in r.timings:
        return None
    latency = r.timings["first_audio"]
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
    endpointing = latency - marks.get("first_audio_sent", latency)
    marks["speech_end"] = 0.0  # the hub's zero point: its marks count from there
    stages = {key: endpointing + marks[key] for key, _ in STAGES if key in marks}
    if VERBOSE:
        print(f"  turn {i:2d}: {latency:.3f} s  {up.endpoint_of(r.session_id):<18} "
              + " ".join(f"{key} {value:.3f}" for key, value in stages.items() if key != "first_frame_sent")
              + f"  {r.stt!r} -> {(r.sentences or [''])[0]!r}", file=sys.stderr)
    return {"latency": latency, "stages": stages, "hub_path": path, "transcript": r.stt}


def run_config(name: str, args: list[str], spoken: list[tuple[str, bytes]], turns: int, warmup: int = 2) -> dict:
    """``spoken``: each question and its audio, asked in turn."""
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_STATE_PARENT")) as tmp:
        up = Up(Path(tmp), *args)
        try:
            latencies: list[float] = []
            stages: dict[str, list[float]] = {k: [] for k, _ in STAGES}
            incomplete = 0
            hub_before = 0.0
            hub_path: list[float] = []
            transcripts: dict[str, dict[str, int]] = {}
            for i in range(warmup + turns):
                if i == warmup:
                    hub_before = up.hub_seconds()
                question, mic = spoken[i % len(spoken)]
                t = voicecore_turn(up, mic, i)
                if i < warmup:
                    continue
                if t is None:
                    incomplete += 1
                    continue
                count_heard(transcripts, question, t["transcript"])
                latencies.append(t["latency"])
                if t["hub_path"] is not None:
                    hub_path.append(t["hub_path"])
                for key, value in t["stages"].items():
                    stages[key].append(value)
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
            "head_start": head_start, "transcripts": transcripts}


def count_heard(transcripts: dict[str, dict[str, int]], question: str, heard: str) -> None:
    counts = transcripts.setdefault(question, {})
    counts[heard.strip()] = counts.get(heard.strip(), 0) + 1


def print_heard(transcripts: dict[str, dict[str, int]]) -> None:
    print("  heard (transcript: turns):")
    for question, heard in transcripts.items():
        print(f"    {question!r}: " + "; ".join(f"{text!r} {n}" for text, n in sorted(heard.items(), key=lambda kv: -kv[1])))


PEER_STAGES = [("vad_stop", "Silero VAD stop"), ("turn_end", "end of turn (Smart Turn)"), ("transcript", "transcript"),
               ("first_token", "first LLM token"), ("first_tts_audio", "first TTS audio")]


class Peer:
    """The Pipecat bot (Benchmarks/e2e/pipecat_peer.py) on its own llama.cpp server, started with
    the flags `voicecore up` gives its embedded LLM."""

    def __init__(self, llm_url: str | None = None) -> None:
        """``llm_url``: an OpenAI-compatible server to use instead of its own SmolLM2."""
        from voicecore.launcher.addresses import free_port

        env = dict(os.environ, PYTHONPATH=str(ROOT / "python"), HF_HUB_OFFLINE="1")
        self.port = free_port()
        self.llm: subprocess.Popen | None = None
        self.bot: subprocess.Popen | None = None
        try:
            if llm_url is None:
                llm_port = free_port()
                self.llm = subprocess.Popen(embedded_llm.server_argv(embedded_llm.serving_model(), llm_port), stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, env=dict(env, **embedded_llm.SERVER_ENV))
                llm_url = f"http://127.0.0.1:{llm_port}/v1"
                if not asyncio.run(embedded_llm.wait_ready(llm_url, 120)):
                    raise RuntimeError("the peer's llama.cpp server did not start")
            self.bot = subprocess.Popen([sys.executable, str(Path(__file__).with_name("pipecat_peer.py")), "--port", str(self.port),
                                         "--llm-url", llm_url], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
            self.output: list[str] = []
            threading.Thread(target=lambda: self.output.extend(self.bot.stdout), daemon=True).start()  # type: ignore[union-attr, arg-type]
            deadline = time.monotonic() + 300
            while not any("PEER READY" in line for line in self.output):
                if self.bot.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the Pipecat peer did not start:\n" + "".join(self.output)[-3000:])
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise
        self.url = f"ws://127.0.0.1:{self.port}"

    def stop(self) -> None:
        for proc in (self.bot, self.llm):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


async def converse_pipecat(url: str, pcm: bytes, frame_ms: int = 60, lead_silence: float = 0.3, timeout: float = 60.0,
                           quiet_after: float = 1.0) -> dict:
    """Speaks ``pcm`` (16 kHz mono PCM16LE) to the Pipecat peer in real time, as `converse` does to
    VoiceCore (frame i leaves at its end; the microphone goes on sending silence), over Pipecat's
    protobuf frames. Returns the first reply audio frame's arrival and the bot's marks (its last
    peer.marks message), in seconds after the end of speech. The connection stays until the reply
    has been played out and the turn's transcript is in (Pipecat may end the turn and answer
    before its Whisper pass is done; a late transcript starts another reply): marks with a
    transcript came and no audio for ``quiet_after`` s, so the next turn starts on an idle bot."""
    import websockets
    from pipecat.frames.protobufs import frames_pb2  # only here: the harness's other parts run without pipecat

    loop = asyncio.get_running_loop()
    out: dict = {"marks": {}, "transcript": "", "reply": ""}
    async with websockets.connect(url, max_size=1 << 22) as ws:
        step = MIC_RATE * frame_ms // 1000 * 2
        audio = b"\0\0" * int(lead_silence * MIC_RATE) + pcm
        audio += b"\0" * (-len(audio) % step)
        start = loop.time()
        speech_end = start + lead_silence + speech_end_seconds(pcm)

        async def microphone() -> None:
            silence = b"\0" * step
            i = 0
            while True:
                chunk = audio[i * step:(i + 1) * step] if i * step < len(audio) else silence
                await asyncio.sleep(max(0.0, start + (i + 1) * frame_ms / 1000 - loop.time()))
                msg = frames_pb2.Frame()
                msg.audio.audio = chunk
                msg.audio.sample_rate = MIC_RATE
                msg.audio.num_channels = 1
                await ws.send(msg.SerializeToString())
                i += 1

        mic = asyncio.create_task(microphone())
        last_audio = None
        try:
            deadline = loop.time() + timeout
            while loop.time() < deadline:
                wait = deadline - loop.time()
                if "transcript" in out["marks"] and last_audio is not None:
                    wait = min(wait, max(last_audio, out["marks_at"]) + quiet_after - loop.time())
                    if wait <= 0:
                        break
                try:
                    data = await asyncio.wait_for(ws.recv(), max(0.01, wait))
                except asyncio.TimeoutError:
                    continue
                now = loop.time()
                msg = frames_pb2.Frame.FromString(data) if isinstance(data, bytes) else None
                if msg is None:
                    continue
                which = msg.WhichOneof("frame")
                if which == "audio":
                    out.setdefault("first_audio", now - speech_end)
                    last_audio = now
                elif which == "message":
                    m = json.loads(msg.message.data)
                    if isinstance(m, dict) and m.get("type") == "peer.marks":
                        out["marks_at"] = now
                        out["marks"] = {k: v - speech_end for k, v in m.get("marks", {}).items()}
                        out["transcript"], out["reply"] = m.get("transcript", ""), m.get("reply", "")
        finally:
            mic.cancel()
            await asyncio.gather(mic, return_exceptions=True)
    return out


def pipecat_turn(peer: Peer, mic: bytes) -> dict | None:
    r = asyncio.run(converse_pipecat(peer.url, mic))
    if "first_audio" not in r:
        return None
    marks = r["marks"]
    return {"latency": r["first_audio"], "stages": {k: marks[k] for k, _ in PEER_STAGES if k in marks},
            "endpoint": marks.get("turn_end"), "transcript": r["transcript"], "reply": r["reply"]}


def run_versus(spoken: list[tuple[str, bytes]], turns: int, up_args: list[str], llm_url: str | None = None, warmup: int = 2) -> tuple[dict, dict]:
    """VoiceCore (`voicecore up`, embedded SmolLM2) and the Pipecat peer (its own llama.cpp
    server), both running, the same questions in alternating turns: VoiceCore's turn i, then
    Pipecat's turn i. With ``llm_url`` both use that server instead (the scripted LLM)."""
    sides = {name: {"latencies": [], "endpoints": [], "stages": {}, "incomplete": 0, "transcripts": {}, "hub_path": []}
             for name in ("voicecore", "pipecat")}
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp), *([] if llm_url is None else ["--llm-url", llm_url]), *up_args)
        peer = None
        try:
            peer = Peer(llm_url)
            for i in range(warmup + turns):
                question, mic = spoken[i % len(spoken)]
                for name in ("voicecore", "pipecat"):
                    t = voicecore_turn(up, mic, i) if name == "voicecore" else pipecat_turn(peer, mic)
                    side = sides[name]
                    if i >= warmup:
                        if t is None:
                            side["incomplete"] += 1
                        else:
                            side["latencies"].append(t["latency"])
                            endpoint = t["stages"].get("speech_end") if name == "voicecore" else t["endpoint"]
                            if endpoint is not None:
                                side["endpoints"].append(endpoint)
                            for key, value in t["stages"].items():
                                side["stages"].setdefault(key, []).append(value)
                            if t.get("hub_path") is not None:
                                side["hub_path"].append(t["hub_path"])
                            count_heard(side["transcripts"], question, t["transcript"])
                    lat = "no audio" if t is None else f"{t['latency']:.3f} s"
                    print(f"  turn {i:2d}{' (warm-up)' if i < warmup else ''} {name:<9} {lat:>9}  heard {t and t['transcript']!r}",
                          file=sys.stderr, flush=True)
                    time.sleep(0.3)
            sides["voicecore"]["endpoint_rules"] = up.endpoints()
            sides["voicecore"]["preempt"], sides["voicecore"]["head_start"] = up.preemptions()
        finally:
            if peer is not None:
                peer.stop()
            up.stop()
    return sides["voicecore"], sides["pipecat"]


def print_versus(vc: dict, pc: dict, turns: int, load_before: tuple[float, float, float], up_args: list[str], llm: str) -> None:
    load_after = os.getloadavg()
    print(f"\nVoiceCore vs Pipecat {PIPECAT_VERSION}: end of speech → first reply audio at the client, the same {len(QUESTIONS)} "
          f"spoken questions, turns alternating, {turns} turns each; LLM: {llm}")
    print(f"CPU: {os.cpu_count()} cores; load average (1/5/15 min) before {'/'.join(f'{x:.2f}' for x in load_before)}, "
          f"after {'/'.join(f'{x:.2f}' for x in load_after)}" + (f"; voicecore up {' '.join(up_args)}" if up_args else ""))
    print(f"{'':<30} {'p50 s':>7} {'p90 s':>7} {'p99 s':>7} {'max s':>7} {'endpoint p50':>13} {'reply part p50':>15}")
    for name, r in (("VoiceCore (voicecore up)", vc), (f"Pipecat {PIPECAT_VERSION}", pc)):
        lat, ep = r["latencies"], r["endpoints"]
        reply = [a - b for a, b in zip(lat, ep)] if len(ep) == len(lat) else []
        print(f"{name:<30} {pct(lat, 50):7.3f} {pct(lat, 90):7.3f} {pct(lat, 99):7.3f} {max(lat, default=float('nan')):7.3f} "
              f"{pct(ep, 50):13.3f} {pct(reply, 50):15.3f}" + (f"   ({r['incomplete']} turns without audio)" if r["incomplete"] else ""))
    ratio = pct(pc["latencies"], 50) / pct(vc["latencies"], 50)
    ratio99 = pct(pc["latencies"], 99) / pct(vc["latencies"], 99)
    print(f"Pipecat / VoiceCore: p50 {ratio:.2f}x, p99 {ratio99:.2f}x")
    print(f"targets (VoiceCore): p50 ≤ 0.50 s [{'met' if pct(vc['latencies'], 50) <= 0.5 else 'missed'}], "
          f"p99 ≤ 0.80 s [{'met' if pct(vc['latencies'], 99) <= 0.8 else 'missed'}], "
          f"≥ 2x faster than Pipecat at p50 [{'met' if ratio >= 2 else 'missed'}]")
    for title, r, stages in (("VoiceCore", vc, STAGES), ("Pipecat", pc, PEER_STAGES)):
        print(f"\nstages, {title} (seconds after the end of speech; p50 / p90 / p99):")
        for key, label in stages:
            v = r["stages"].get(key, [])
            print(f"  {label:<32} {pct(v, 50):6.3f} / {pct(v, 90):6.3f} / {pct(v, 99):6.3f}")
        lat = r["latencies"]
        print(f"  {'first audio frame at the client':<32} {pct(lat, 50):6.3f} / {pct(lat, 90):6.3f} / {pct(lat, 99):6.3f}")
        if r.get("endpoint_rules"):
            print("  the hub's end-of-turn decisions (turn.endpoint, by rule): " + ", ".join(f"{k} {v}" for k, v in sorted(r["endpoint_rules"].items())))
        if r.get("preempt"):
            p, h = r["preempt"], r["head_start"]
            print(f"  held replies (preemptive generation): {p.get('started', 0)} started, {p.get('committed', 0)} committed, "
                  f"{p.get('deferred:refining', 0)} deferred to the ASR's beam search; "
                  f"the LLM's head start when committed (speculative → final): p50 {pct(h, 50):.3f} s")
        print_heard(r["transcripts"])


def scripted_reply(messages):
    text = str(messages[-1].get("content", "")).lower()
    return Rule(reply=next((r for k, r in REPLIES.items() if k in text), "I do not know."))


async def llm_first_token(url: str, question: str, script) -> float:
    """The default script's own handler (its prompt, the passages it retrieves, its options) against
    the LLM at ``url``: seconds to its first words."""
    from voicecore.assistant.llm import LLM
    from voicecore.assistant.session import Session

    from contextlib import aclosing

    script.app.llm = LLM(endpoints=[url])
    start = time.perf_counter()
    async with aclosing(script.answer(Session(device_id="anchor", id="anchor", language="en"), question)) as words:
        async for _ in words:
            break  # closing the handler closes its LLM stream
    return time.perf_counter() - start


def anchor(mics: list[bytes], llm_url: str | None, rounds: int = 5) -> list[float]:
    """The engines alone, sequentially: the silence the endpointer needs for that text (early or
    full) + whisper on the utterance + the LLM's first token for the default script's prompt +
    eSpeak's first audio chunk of the reply's first sentence."""
    from voicecore.asr.faster_whisper_engine import FasterWhisperEngine

    asr = FasterWhisperEngine()
    script = load_default_assistant() if llm_url else None
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
    parser.add_argument("--verbose", action="store_true", help="print each VoiceCore turn (its end-of-turn rule, stages, transcript) as it ends")
    parser.add_argument("--only", choices=["scripted", "smollm2"])
    parser.add_argument("--preemption", choices=["both", "on", "off"], default="both",
                        help="SmolLM2 with preemptive generation, without (voicecore up --no-preemption), or both, in that order")
    parser.add_argument("--up-arg", action="append", default=[], help="one more `voicecore up` argument for every configuration (A/B runs)")
    parser.add_argument("--vs-pipecat", action="store_true",
                        help="VoiceCore's embedded defaults against the Pipecat peer (Benchmarks/e2e/pipecat_peer.py) on the same "
                             "engines, turns alternating, instead of the configurations above")
    args = parser.parse_args()
    global VERBOSE
    VERBOSE = args.verbose
    spoken = [(q, asyncio.run(synthesize(q, 16000))) for q in QUESTIONS]
    if args.vs_pipecat:
        why = "pipecat-ai is not installed" if PIPECAT_VERSION == "(not installed)" else "" if args.only == "scripted" else embedded_llm.missing()
        if why:
            print(f"VoiceCore vs Pipecat: not measured — {why} (Benchmarks/e2e/RESULTS.md lists the installs)")
            return 1
        load_before = os.getloadavg()
        if args.only == "scripted":  # both sides on the instant scripted LLM: endpointing, ASR and TTS alone
            llm = ScriptedLLM(scripted_reply).start_in_thread()
            try:
                vc, pc = run_versus(spoken, args.turns, args.up_arg, llm_url=llm.url)
            finally:
                llm.stop_thread()
        else:
            vc, pc = run_versus(spoken, args.turns, args.up_arg)
        print_versus(vc, pc, args.turns, load_before, args.up_arg, "the scripted LLM (instant answers)" if args.only == "scripted"
                     else f"{embedded_llm.MODEL_NAME} on llama.cpp, each its own server")
        return 0

    results = []
    if args.only in (None, "scripted"):
        llm = ScriptedLLM(scripted_reply).start_in_thread()
        try:
            r = run_config("scripted LLM", ["--llm-url", llm.url, *args.up_arg], spoken, args.turns)
            r["anchor"] = anchor([mic for _, mic in spoken], llm.url)
            results.append(r)
            # Partial transcripts share the one Whisper engine with the speculative final.
            r2 = run_config("scripted LLM, 1 s partials", ["--llm-url", llm.url, "--asr-partial-interval", "1", *args.up_arg], spoken, args.turns)
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
                runs.append(run_config("SmolLM2-135M (llama.cpp)", list(args.up_arg), spoken, args.turns))
            if args.preemption in ("both", "off"):
                runs.append(run_config("SmolLM2, --no-preemption", ["--no-preemption", *args.up_arg], spoken, args.turns))
            r = runs[0]
            port_llm = None
            # The anchor talks to its own llama.cpp server, started the way voicecore up starts it.
            from voicecore.launcher.addresses import free_port

            port_llm = free_port()
            server = subprocess.Popen(embedded_llm.server_argv(embedded_llm.serving_model(), port_llm), stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, env=dict(os.environ, **embedded_llm.SERVER_ENV))
            try:
                url = f"http://127.0.0.1:{port_llm}/v1"
                if asyncio.run(embedded_llm.wait_ready(url, 120)):
                    r["anchor"] = anchor([mic for _, mic in spoken], url)
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
            print(f"  held replies (preemptive generation): {p.get('started', 0)} started, {p.get('committed', 0)} committed, "
                  f"{p.get('deferred:refining', 0)} deferred to the ASR's beam search" + (f", discarded: {discarded}" if discarded else ""))
            h = r["head_start"]
            print(f"  the LLM's head start when committed (speculative → final, s): p50 {pct(h, 50):.3f}, max {max(h, default=float('nan')):.3f}")
        else:
            print("  held replies (preemptive generation): none")
        print_heard(r["transcripts"])
    print("\nanchor: the same engines called directly and sequentially (the endpointer's silence for the text, "
          f"{ENDPOINT.early_silence_ms / 1000:.3f} s early or {ENDPOINT.min_silence_ms / 1000:.2f} s, + whisper on the utterance "
          "+ LLM first token for the default script's prompt + eSpeak first chunk), 5 rounds")
    return 0


if __name__ == "__main__":
    sys.exit(main())
