"""Speech over a playing reply, at the device: from the user's speech onset to the moment the device's
speaker falls silent, through the real processes.

`voicecore up` (voicecored, the ASR worker with Silero VAD, faster-whisper tiny.en and Smart Turn,
eSpeak NG, the default assistant script) answers on a scripted OpenAI-compatible LLM whose story
is long enough to talk over. A device in realtime mode speaks the XiaoZhi protocol with real Opus:
it asks for the story, and 1.0-1.3 s into the reply's audio it says an interruption ("Stop. What
is the capital of France?") or a backchannel ("yeah"), alternately, starting anywhere in a 60 ms
microphone frame, a new session each time. Its
speaker is the firmware's as `voicecore.client.Speaker` models it: frames play back to back as
they arrive, and a paused reply's `tts start` (`"pause": true`) empties the queue.

Printed per kind, seconds from the onset (the first loud sample the microphone captured):
- **silent**: when the speaker fell silent (the hub paused the reply and told the device to drop
  what it held);
- **played out (anchor)**: when it would have fallen silent had it played out what it held, as a
  device that is not told does — the same trial, the speaker's queue at the moment the pause
  arrived;
and for backchannels whether the reply resumed, the gap, and what the listener heard twice or
lost (the reply's frames against the frames the hub sent again: `voicecored_frames_rewound_total`).

    python3 Benchmarks/e2e/bench_barge_in.py [--trials 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_e2e import ROOT, Up, synthesize  # noqa: E402

sys.path.insert(0, str(ROOT / "python"))
from voicecore.client import Speaker  # noqa: E402
from voicecore.client.device import MIC_RATE, Device  # noqa: E402
from voicecore.testing import Rule, ScriptedLLM  # noqa: E402

FRAME_MS = 60
STORY = ("Once upon a time there was a small boat that sailed across the sea. Every morning it left the harbour "
         "before the sun came up, and the gulls followed it home.")
SAID = {"interruption": "Stop. What is the capital of France?", "backchannel": "yeah"}


def reply(messages) -> Rule:
    text = str(messages[-1].get("content", "")).lower()
    return Rule(reply="Paris is the capital of France." if "france" in text else STORY)


def rewound(up: Up) -> int:
    text = urllib.request.urlopen(up.status["http"] + "/metrics", timeout=5).read().decode()
    return int(float(re.search(r"^voicecored_frames_rewound_total ([0-9.e+-]+)$", text, re.M).group(1)))  # type: ignore[union-attr]


async def trial(up: Up, i: int, kind: str, question: bytes, said: bytes, delay: float) -> dict:
    """One session: the question, the reply, ``said`` over it ``delay`` s into the reply's audio."""
    device = await Device.open(up.status["ws"], device_id=f"barge:{i:02d}", frame_ms=FRAME_MS)
    speaker: Speaker[int] = Speaker(FRAME_MS / 1000)
    loop = asyncio.get_running_loop()
    microphone = device.open_microphone()
    microphone.say(question)
    out: dict = {"kind": kind}
    frames = 0

    try:
        await device.hello()
        await device.listen("realtime")
        mic = asyncio.create_task(microphone.run())
        first_audio = None
        said_at = None
        deadline = loop.time() + 40
        while loop.time() < deadline:
            try:
                m = await device.recv(0.05)
            except asyncio.TimeoutError:
                m = None
            now = loop.time()
            if said_at is None and first_audio is not None and now >= first_audio + delay:
                microphone.say(said)
                said_at = now
            if m is None:
                continue
            if isinstance(m, bytes):
                first_audio = first_audio or now
                if "paused" in out and "resumed" not in out:
                    out["resumed"] = now
                speaker.receive(now, frames)
                frames += 1
                continue
            if m.get("type") == "mcp":
                await device.answer_mcp(m.get("payload"))
                continue
            if m.get("type") == "tts" and m.get("pause") and m.get("state") == "start" and "paused" not in out:
                out["paused"] = now
                out["played_out"] = speaker.silent_from  # had it played out what it held
                speaker.drop(now)
                out["silent"] = speaker.silent_from
            elif m.get("type") == "tts" and m.get("state") == "stop" and not m.get("pause"):
                out["stopped"] = now  # the reply's end, or its cut
                break
        mic.cancel()
    finally:
        await device.close()
    out["onset"] = microphone.onsets[1] if len(microphone.onsets) > 1 else None
    out["frames"] = frames
    out["heard"] = sum(p.end - p.start for p in speaker.played)
    return out


def pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def row(label: str, xs: list[float]) -> str:
    if not xs:
        return f"  {label:<44} (none)"
    return (f"  {label:<44} {1000 * statistics.fmean(xs):6.0f} {1000 * pct(xs, 50):6.0f} {1000 * pct(xs, 90):6.0f}"
            f" {1000 * max(xs):6.0f} ms   ≤ 300 ms: {sum(x <= 0.3 for x in xs)}/{len(xs)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    args = parser.parse_args()
    question = asyncio.run(synthesize("Tell me a story about the sea.", MIC_RATE))
    said = {k: asyncio.run(synthesize(v, MIC_RATE)) for k, v in SAID.items()}
    llm = ScriptedLLM(reply).start_in_thread()
    rows: list[dict] = []
    load = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        up = Up(Path(tmp), "--llm-url", llm.url)
        try:
            for i in range(args.trials + 2):  # two warm-up trials
                kind = "interruption" if i % 2 == 0 else "backchannel"
                before = rewound(up)
                # The speech starts anywhere in a microphone frame (0-57 ms of silence before it).
                lead = b"\0\0" * (MIC_RATE * ((i * 19) % 20) * 3 // 1000)
                r = asyncio.run(trial(up, i, kind, question, lead + said[kind], 1.0 + 0.3 * ((i * 7) % 10) / 10))
                time.sleep(0.3)
                r["rewound"] = rewound(up) - before
                if i >= 2:
                    rows.append(r)
                print(f"  [{i + 1}/{args.trials + 2}] {kind}: " + json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in r.items()
                                                                             if k in ("frames", "rewound", "heard")}), file=sys.stderr)
        finally:
            up.stop()
            llm.stop_thread()
    print(f"speech over a playing reply at the device: `voicecore up` (tiny.en, Smart Turn v3.2, eSpeak NG, scripted LLM), realtime mode, "
          f"{args.trials} trials; load average before {load[0]:.2f}")
    print(f"  {'seconds from the speech onset':<44} {'mean':>6} {'p50':>6} {'p90':>6} {'max':>6}")
    for kind in ("interruption", "backchannel"):
        rs = [r for r in rows if r["kind"] == kind]
        paused = [r for r in rs if "paused" in r and r["onset"] is not None]
        print(f"{kind}s: {len(paused)}/{len(rs)} paused, {sum('resumed' in r for r in paused)} resumed, {sum('resumed' not in r for r in paused)} cut")
        print(row("speaker silent (the device drops what it held)", [r["silent"] - r["onset"] for r in paused]))
        print(row("played out what it held (anchor)", [r["played_out"] - r["onset"] for r in paused]))
        if kind == "backchannel":
            resumed = [r for r in paused if "resumed" in r]
            # Heard against sent: each frame 60 ms; the frames sent again were heard twice where
            # they had begun to play before the pause.
            extra = [r["heard"] - (r["frames"] - r["rewound"]) * FRAME_MS / 1000 for r in resumed]
            print(f"  resumed after {1000 * statistics.fmean([r['resumed'] - r['paused'] for r in resumed]) if resumed else 0:.0f} ms on average; frames sent again per pause mean {statistics.fmean([r['rewound'] for r in resumed]) if resumed else 0:.1f};"
                  f" heard twice mean {1000 * statistics.fmean(extra) if extra else 0:.0f} ms, max {1000 * max(extra) if extra else 0:.0f} ms;"
                  f" lost (heard less than the reply) {sum(x < -0.001 for x in extra)}/{len(extra)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
