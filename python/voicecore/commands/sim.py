"""``voicecore sim``: a simulated month of a voice fleet in minutes (docs/simulator.md)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .registry import command
from ..simulator import INJECTABLE_BUGS, SimReport, simulate
from .sim_plot import write_plot


def _workers(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for part in text.split(","):
        kind, _, n = part.partition("=")
        if not n.isdigit():
            raise argparse.ArgumentTypeError(f"bad --workers part {part!r} (expected kind=count)")
        out[kind.strip()] = int(n)
    return out


def _seeds(text: str) -> tuple[int, int]:
    lo, sep, hi = text.partition("..")
    if not sep or not lo.isdigit() or not hi.isdigit() or int(hi) < int(lo):
        raise argparse.ArgumentTypeError(f"bad --seeds {text!r} (expected FIRST..LAST, e.g. 1..1000)")
    return int(lo), int(hi)


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=int, default=1, help="the run's seed (default 1)")
    p.add_argument("--seeds", type=_seeds, help="sweep FIRST..LAST, stopping at the first failure")
    p.add_argument("--devices", type=int, default=50, help="simulated devices (default 50)")
    p.add_argument("--workers", type=_workers, default=None,
                   help="workers per kind, e.g. asr=3,assistant=2,tts=4,gpu=2 (the default)")
    p.add_argument("--duration", default="1h", help="simulated time: 30d, 1h, 15m, 90s (default 1h)")
    p.add_argument("--faults", choices=["none", "moderate", "harsh"], default="moderate")
    p.add_argument("--liveness", action="store_true", help="faults stop for the last quarter; all must heal")
    p.add_argument("--no-buggify", action="store_true", help="keep the Coordinator's default knobs")
    p.add_argument("--no-preemption", action="store_true",
                   help="the Coordinator ignores the simulated ASR's speculative transcripts (preemptive_generation false)")
    p.add_argument("--turns-per-minute", type=int, default=0, metavar="N",
                   help="a per-device budget of N turns per minute: turns over it are refused with the spoken refusal (docs/agents.md)")
    p.add_argument("--backchannels", type=float, default=0.0, metavar="SHARE",
                   help="share of simulated transcripts that are backchannels (uh-huh, 嗯, ага), e.g. 0.3")
    p.add_argument("--chinese", type=float, default=0.0, metavar="SHARE",
                   help="share of devices that speak Chinese (they report zh-CN over OTA; their ASR jobs ask for zh), e.g. 0.3")
    p.add_argument("--english-only-asr", type=int, default=0, metavar="N",
                   help="that many of the asr workers hear English only (register languages [\"en\"], as tiny.en's worker)")
    p.add_argument("--trace", metavar="DEV", help="print one device's events, e.g. dev-17")
    p.add_argument("--until", metavar="TIME", help="stop at this simulated time, e.g. 2d03:11:08")
    p.add_argument("--plot", metavar="PNG", help="write a PNG: latency histogram and fleet timeline")
    p.add_argument("--says-per-hour", type=float, default=None,
                   help="operators' says per connected device per hour (admin API): the invariants check their moment")
    p.add_argument("--inject-bug", choices=INJECTABLE_BUGS, help="test only: a deliberate bug the invariants must catch")
    p.add_argument("--json", action="store_true", help="print the whole report as JSON")


def summary(r: SimReport) -> str:
    faults = ", ".join(f"{k} {v}" for k, v in r["faults_injected"].items() if v) or "none"
    t = r["turns"]
    q = r["ttfa_ms"]
    lines = [
        f"seed {r['seed']}: {r['devices']} devices, workers {','.join(f'{k}={v}' for k, v in r['workers'].items())}, "
        f"faults {r['faults']}{' (liveness)' if r['liveness'] else ''}"
        + (f", injected bug {r['inject_bug']}" if r["inject_bug"] else ""),
        f"  simulated {r['sim_time']} in {r.real_s:.2f} s real time: speedup {r.speedup:,.0f}x",
        f"  events {r['events']:,} ({r['core_events']:,} Coordinator steps, {r['log_entries']:,} log entries)",
        f"  faults injected: {faults}",
        f"  turns: completed {t['completed']}, fallback {t['fallback']}, cancelled {t['cancelled']}, "
        f"timed out {t['timed_out']}, empty {t['empty']}" + (f", refused {t['refused']} (budget)" if t.get("refused") else ""),
        f"  time to first audio (virtual): p50 {q['p50']:.0f} ms, p99 {q['p99']:.0f} ms over {q['count']} turns; "
        f"fault-free windows p99 {q['quiet_p99']:.0f} ms over {q['quiet_count']} (budget {q['budget']} ms)",
        f"  invariants: {len(r['invariants'])} checked; event-log hash {r['hash']}",
    ]
    v = r.violation
    if v is None:
        lines.append("  PASS: no invariant violated")
    else:
        lines.append(f"  FAIL: {v['invariant']} at {v['time']} in {v['session'] or 'the fleet'}: {v['detail']}")
        lines.append("  last events:")
        lines += ["    " + e for e in v["last_events"]]
        lines.append("  reproduce with:")
        lines.append("    " + v["command"])
    return "\n".join(lines)


def _options(args: argparse.Namespace, seed: int) -> dict[str, Any]:
    return dict(seed=seed, devices=args.devices, workers=args.workers, duration=args.duration, faults=args.faults,
                liveness=args.liveness, buggify=not args.no_buggify, preemption=not args.no_preemption, backchannels=args.backchannels, until=args.until, trace=args.trace,
                inject_bug=args.inject_bug, turns_per_minute=args.turns_per_minute,
                says_per_hour=args.says_per_hour, chinese=args.chinese, english_only_asr=args.english_only_asr)


@command("sim", "simulate a voice fleet on a virtual clock with faults and invariants")(_add)
def run(args: argparse.Namespace) -> int:
    if args.seeds:
        lo, hi = args.seeds
        total_sim = total_real = 0.0
        for seed in range(lo, hi + 1):
            r = simulate(**_options(args, seed))
            total_sim += r.sim_s
            total_real += r.real_s
            if not r.passed:
                print(summary(r))
                print(f"sweep: seed {seed} failed after {seed - lo} passing seed(s)")
                return 1
            print(f"seed {seed}: ok  {r['sim_time']}  {r['events']:,} events  {r.real_s:.2f} s  hash {r.hash}", flush=True)
        print(f"sweep: {hi - lo + 1} seeds passed, {total_sim / 3600:.1f} simulated hours in {total_real:.1f} s "
              f"(speedup {total_sim / max(total_real, 1e-9):,.0f}x)")
        return 0
    r = simulate(**_options(args, args.seed))
    if args.json:
        json.dump(r.to_dict(), sys.stdout, indent=1)
        print()
    else:
        if args.trace:
            for line in r["trace"]:
                print(line)
        print(summary(r))
    if args.plot:
        write_plot(r, args.plot)
        print(f"  plot written to {args.plot}")
    return 0 if r.passed else 1
