#!/usr/bin/env python3
"""Soak: many turns through the real voicecored and real worker SDK processes, devices hanging up
at random phases, and what the processes keep afterwards.

    python3 Benchmarks/soak/soak.py --turns 10000                        # instant engines
    python3 Benchmarks/soak/soak.py --engine default --duration 3600     # faster-whisper tiny.en, eSpeak NG

Every ``--sample`` turns it records the RSS of the daemon and of each worker and the daemon's open
descriptors. At the end, with every device gone, it checks the daemon's own event log
(voicecore.testing.invariants: no job without its outcome, no slot held, every turn ended),
asks each worker's full slot count of turns at once (a leaked slot refuses one), and compares the
descriptors with the baseline. The figures it prints go into Benchmarks/soak/RESULTS.md.
With ``--engine default`` the devices speak real words (voicecore.testing.speech) and the
assistant is the instant script (no LLM), so the figures are those of the ASR and TTS engines.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from voicecore.testing.fullstack import PHASES, Stack, device_turn, fd_count, rss_kb  # noqa: E402


def slope_per_1000(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of (turns, value), per 1,000 turns."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mx = sum(p[0] for p in points) / n
    my = sum(p[1] for p in points) / n
    sxx = sum((p[0] - mx) ** 2 for p in points)
    return 1000 * sum((p[0] - mx) * (p[1] - my) for p in points) / sxx if sxx else 0.0


async def soak(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    out = Path(args.out)
    workers = {"asr": (args.asr, args.slots), "assistant": (1, max(4, args.slots)), "tts": (args.tts, args.slots)}
    stack = Stack(out, workers=workers, engine=args.engine, journal=True)
    if args.engine == "default":
        # the assistant stays the instant script: no LLM in the soak
        stack.workers_wanted = {k: v for k, v in workers.items() if k != "assistant"}
    await stack.start()
    llm = None
    if args.engine == "default":
        if args.llm == "scripted":
            # the default assistant script (Examples/python/assistant.py) against the scripted LLM
            from voicecore.testing import Rule, ScriptedLLM

            llm = ScriptedLLM([Rule(when="", reply="It is sunny and mild today. Enjoy the rest of your afternoon.")]).start_in_thread()
            stack.env.update(VOICECORE_LLM_URL=llm.url, KB_INDEX=str(out / "kb.vcidx"))
            script = Path(__file__).resolve().parents[2] / "Examples" / "python" / "assistant.py"
            stack.start_worker("assistant", max(4, args.slots), "assistant-1", engine="default", extra=["--script", str(script)])
        else:
            stack.start_worker("assistant", max(4, args.slots), "assistant-1", engine="instant")
        await stack.wait_registered(args.asr + args.tts + 1, timeout=180)
    procs = {"voicecored": stack.daemon.pid, **{w.name: w.pid for w in stack.workers}}  # type: ignore[union-attr]
    # A warm-up round first: the baseline is a process that has served (lazily opened files, caches).
    await asyncio.gather(*(device_turn(stack.ws_url, q, device_id=f"warm:{q}", timeout=args.turn_timeout,
                                       speech=args.engine == "default") for q in range(4)))
    await stack.quiesce(30)
    await asyncio.sleep(1.0)
    base_fds = {name: fd_count(pid) for name, pid in procs.items()}
    samples: list[dict] = []
    counts = {"turns": 0, "complete": 0, "hangups": 0, "problems": 0, "connections": 0}
    problems: list[str] = []
    started = time.monotonic()
    next_sample = 0

    def sample() -> None:
        row = {"turns": counts["turns"], "t": round(time.monotonic() - started, 1),
               **{f"rss_{name}": rss_kb(pid) for name, pid in procs.items()}, "fds_voicecored": fd_count(procs["voicecored"])}
        samples.append(row)
        print(json.dumps(row), flush=True)

    def more() -> bool:
        if args.duration:
            return time.monotonic() - started < args.duration
        return counts["turns"] < args.turns

    async def device(i: int) -> None:
        nonlocal next_sample
        drng = random.Random(rng.random())
        while more():
            turns = drng.randint(1, 3)
            hangup = drng.choice(PHASES[:-1]) if drng.random() < args.hangups else None
            q = drng.randrange(10)
            r = await device_turn(stack.ws_url, q, hangup=hangup, device_id=f"soak:{i:04d}", turns=turns, rng=drng,
                                  timeout=args.turn_timeout, speech=args.engine == "default")
            counts["connections"] += 1
            counts["turns"] += r.turns_done + (not r.ok)
            counts["hangups"] += hangup is not None and r.ok
            counts["complete"] += r.turns_done - (hangup is not None and r.ok)
            if not r.ok:
                counts["problems"] += 1
                if len(problems) < 20:
                    problems.append(f"q{q} hangup={hangup}: {r.problem}")
            if counts["turns"] >= next_sample:
                next_sample += args.sample
                sample()

    sample()
    next_sample = args.sample
    await asyncio.gather(*(device(i) for i in range(args.devices)))
    elapsed = time.monotonic() - started
    quiet = await stack.quiesce(30)
    await asyncio.sleep(2.0)
    sample()
    end_fds = {name: fd_count(pid) for name, pid in procs.items()}
    # Every slot free: each kind's full slot count of turns at once, none refused.
    burst = max(args.slots * min(args.asr, args.tts), 2)
    finals = await asyncio.gather(*(device_turn(stack.ws_url, q % 10, device_id=f"final:{q}", timeout=args.turn_timeout,
                                                speech=args.engine == "default") for q in range(burst)))
    final_ok = sum(r.ok for r in finals)
    await stack.quiesce(30)
    metrics = stack.metrics()
    health = stack.http_get("/healthz")
    code = await stack.stop()
    if llm is not None:
        llm.stop_thread()
    violations = stack.check(quiet=True)

    print()
    print(f"engine {args.engine}{' + scripted LLM' if llm else ''}, seed {args.seed}, {args.devices} devices, hang-up rate {args.hangups}")
    print(f"turns {counts['turns']} in {elapsed:.0f} s ({counts['turns'] / elapsed:.1f}/s) over {counts['connections']} connections; "
          f"{counts['hangups']} hung up; {counts['complete']} complete; {counts['problems']} with problems")
    for p in problems:
        print("  problem:", p)
    print(f"quiet at the end: {quiet}; final burst {final_ok}/{burst} complete; /healthz {health[0]}; daemon exit {code}")
    print(f"turn outcomes (/metrics): " + ", ".join(f"{k.split('outcome=')[1].rstrip('}').strip(chr(34))}={int(v)}"
                                                  for k, v in metrics.items() if k.startswith("voicecored_turns_total")))
    core = [f"{k.replace('voicecored_', '')}={int(v)}" for k, v in metrics.items()
            if k.startswith(("voicecored_reconciliations_total", "voicecored_job_refusals_total", "voicecored_placement_failures_total")) and v]
    if core:
        print("core counters (/metrics, non-zero): " + ", ".join(core))
    c = stack.checker
    print(f"log: {c.summary()}")
    fails: dict[str, int] = {}
    for line in open(stack.log_path, encoding="utf-8", errors="replace"):
        if '"kind":"job.failed"' in line or '"kind":"turn.fallback"' in line:
            e = json.loads(line)
            key = f"{e['kind']} {e.get('job_kind', '')} {str(e.get('reason', ''))[:40]}"
            fails[key] = fails.get(key, 0) + 1
    for k, n in sorted(fails.items(), key=lambda kv: -kv[1]):
        print(f"  {n:6d}  {k}")
    for v in violations[:20]:
        print("  violation:", v)
    print(f"violations: {len(violations)}")
    print("RSS (KB) first sample -> last, slope per 1,000 turns (all samples; after the first 20 %):")
    for name in procs:
        pts = [(s["turns"], s[f"rss_{name}"]) for s in samples]
        warm = [p for p in pts if p[0] >= 0.2 * counts["turns"]]
        print(f"  {name:12s} {pts[0][1]:8d} -> {pts[-1][1]:8d} KB; slope {slope_per_1000(pts):+8.1f} KB; after warm-up {slope_per_1000(warm):+8.1f} KB")
    print("descriptors baseline -> end: " + ", ".join(f"{n} {base_fds[n]} -> {end_fds[n]}" for n in procs))
    (out / "samples.json").write_text(json.dumps(samples))
    ok = not violations and final_ok == burst and quiet and all(end_fds[n] <= base_fds[n] for n in procs)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--turns", type=int, default=10000)
    p.add_argument("--duration", type=float, default=0, help="seconds instead of a turn count")
    p.add_argument("--devices", type=int, default=16)
    p.add_argument("--hangups", type=float, default=0.2, help="share of connections that hang up at a random phase")
    p.add_argument("--engine", choices=["instant", "default"], default="instant")
    p.add_argument("--llm", choices=["scripted", "none"], default="scripted",
                   help="--engine default: the default assistant script with the scripted LLM, or the instant assistant (none)")
    p.add_argument("--asr", type=int, default=1, help="ASR worker processes")
    p.add_argument("--tts", type=int, default=1, help="TTS worker processes")
    p.add_argument("--slots", type=int, default=4)
    p.add_argument("--sample", type=int, default=500, help="turns between RSS samples")
    p.add_argument("--turn-timeout", type=float, default=30.0)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", default="/tmp/voicecore-soak")
    return asyncio.run(soak(p.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
