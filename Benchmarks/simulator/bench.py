"""Simulator speed: simulated time per real second, beside the anchor of issue 4 (50 devices x
30 simulated days with harsh faults in <= 2 minutes on one core, i.e. >= 21,600x real time).

    python Benchmarks/simulator/bench.py          # 50 devices x 1 day, harsh (about 3 s)
    python Benchmarks/simulator/bench.py --month  # the full anchor run (about a minute)
"""

import sys

import voicecore

ANCHOR_SPEEDUP = 30 * 86400 / 120


def main() -> int:
    duration = "30d" if "--month" in sys.argv else "1d"
    rows = []
    for faults in ("none", "moderate", "harsh"):
        r = voicecore.simulate(seed=42, devices=50, workers={"asr": 3, "assistant": 2, "tts": 4, "gpu": 2},
                               duration=duration, faults=faults)
        rows.append((faults, r))
    print(f"{'run':<34} {'events':>11} {'real s':>8} {'speedup':>10} {'anchor':>9}  result")
    for faults, r in rows:
        ok = "PASS" if r.passed else "FAIL " + r.violation["invariant"]
        print(f"{'50 dev x ' + duration + ' ' + faults:<34} {r['events']:>11,} {r.real_s:>8.2f} "
              f"{r.speedup:>9,.0f}x {ANCHOR_SPEEDUP:>8,.0f}x  {ok}")
    return 0 if all(r.passed for _, r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
