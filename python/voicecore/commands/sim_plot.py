"""The PNG of ``voicecore sim --plot``, drawn with matplotlib: the virtual time-to-first-audio
histogram with the budget, and the fleet timeline over simulated time from the report's
``timeline`` samples — workers per kind up / ejected / draining / down, active sessions, faults
injected (a marker row per kind) and turns per interval by outcome."""

from __future__ import annotations

import io
from typing import Any, Mapping

WORKER_COLORS = ["#3caa5a", "#f0961e", "#4678dc", "#d22828"]  # up, ejected, draining, down
OUTCOME_COLORS = ["#3caa5a", "#f0aa28", "#969696", "#d22828", "#aaaae6"]
BAR = "#4670c8"
RED = "#d22828"


def _duration(us: float) -> str:
    """A simulated duration as 90 s, 15 min, 6 h, 2 d."""
    s = int(round(us / 1e6))
    for unit, name in ((86400, "d"), (3600, "h"), (60, "min")):
        if s >= unit and s % unit == 0:
            return f"{s // unit} {name}"
    return f"{s // 60} min {s % 60} s" if s >= 60 else f"{s} s"


TICK_STEPS_S = [10, 30, 60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400, 7 * 86400,
                10 * 86400, 30 * 86400]


def _tick_step(span_hours: float) -> int:
    """Seconds between time-axis ticks: at most ten ticks over the run."""
    return next((s for s in TICK_STEPS_S if span_hours * 3600 / s <= 10), TICK_STEPS_S[-1])


def _clock(hours: float, seconds: bool) -> str:
    """An axis label for simulated time given in hours: 0d06:00, or 0d00:01:30 with seconds."""
    total = int(round(hours * 3600))
    d, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, sec = divmod(rest, 60)
    return f"{d}d{h:02}:{m:02}:{sec:02}" if seconds else f"{d}d{h:02}:{m:02}"


def _histogram(ax: Any, report: Mapping[str, Any]) -> None:
    from matplotlib.ticker import MaxNLocator

    hist = report["ttfa_histogram_ms"]
    q = report["ttfa_ms"]
    width = 5000 / len(hist)  # the last bin holds everything from 5000 ms on
    ax.bar([i * width for i in range(len(hist))], hist, width=width * 0.9, align="edge", color=BAR)
    ax.axvline(q["budget"], color=RED, linewidth=2)
    ax.text(q["budget"], 0.95, f" budget {q['budget']} ms", color=RED, va="top", transform=ax.get_xaxis_transform())
    quiet = (f"fault-free p99 {q['quiet_p99']:.0f} ms over {q['quiet_count']}" if q["quiet_count"]
             else "no fault-free turns")
    ax.set_title(f"Time to first audio (virtual): {q['count']} turns, p50 {q['p50']:.0f} ms, p99 {q['p99']:.0f} ms; {quiet}",
                 loc="left", fontsize=10)
    ax.set_xlim(0, 5000)
    ax.set_ylim(0, max(max(hist), 1) * 1.05)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xticks(range(0, 5001, 500), [str(ms) if ms < 5000 else "5000+" for ms in range(0, 5001, 500)])
    ax.set_xlabel("ms")
    ax.set_ylabel("turns")


def render(report: Mapping[str, Any]) -> bytes:
    """The plot of a simulation report (``SimReport`` or its dict) as PNG bytes."""
    try:
        import matplotlib
    except ImportError as e:  # an optional dependency: voicecore[plot]
        raise RuntimeError("voicecore sim --plot needs matplotlib (pip install matplotlib)") from e

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator

    tl = report.get("timeline")
    samples = tl["samples"] if tl else []
    groups = tl["worker_groups"] if samples else []
    kinds = tl["fault_kinds"] if samples else []
    # Rows: the histogram, a heading with the worker-state legend, one row per worker kind,
    # sessions, faults, turns.
    heights = [2.2, 0.35] + [0.45] * len(groups) + ([1.0, 0.25 * max(len(kinds), 1) + 0.3, 1.8] if samples else [0.6])
    fig = plt.figure(figsize=(12, sum(heights) + 1.6), dpi=100)
    grid = fig.add_gridspec(len(heights), 1, height_ratios=heights, hspace=0.35, left=0.16, right=0.97, top=0.93, bottom=0.06)
    w = report["workers"]
    fig.suptitle(f"voicecore sim — seed {report['seed']}, {report['devices']} devices, asr={w['asr']} "
                 f"assistant={w['assistant']} tts={w['tts']} gpu={w['gpu']}, faults {report['faults']}"
                 f"{' (liveness)' if report['liveness'] else ''}, {report['sim_time']} simulated", fontsize=11)
    _histogram(fig.add_subplot(grid[0]), report)
    v = report.get("violation")
    verdict = ("PASS: no invariant violated" if v is None
               else f"FAIL: {v['invariant']} at {v['time']} in {v['session'] or 'the fleet'}")
    fig.text(0.01, 0.01, verdict, color="#288c3c" if v is None else RED, fontsize=11, weight="bold")
    heading = fig.add_subplot(grid[1])
    heading.axis("off")
    if not samples:
        heading.text(0, 0, "No timeline samples (the run is shorter than one interval).", color="grey")
        return _png(fig, plt)
    heading.text(0, 0, f"Fleet timeline: {len(samples)} intervals of {_duration(tl['interval_us'])} (workers and sessions "
                 "at the interval's end, faults and turns within it)", fontsize=10, va="bottom")

    interval = tl["interval_us"]
    hours = [s["t_us"] / 3.6e9 for s in samples]
    starts = [max(0, s["t_us"] - interval) / 3.6e9 for s in samples]  # sample i covers (t - interval, t]
    edges = starts[:1] + hours
    timeline_axes = []

    def stacked(ax: Any, layers: list[list[float]], colors: list[str], labels: list[str | None]) -> list[float]:
        """Layers stacked per interval, as steps over the interval edges; returns the top."""
        bottom = [0.0] * len(samples)
        for values, color, label in zip(layers, colors, labels):
            top = [b + v for b, v in zip(bottom, values)]
            ax.fill_between(edges, bottom + bottom[-1:], top + top[-1:], step="post", color=color, linewidth=0, label=label)
            bottom = top
        return bottom

    def axis(row: int) -> Any:
        ax = fig.add_subplot(grid[row], sharex=timeline_axes[0] if timeline_axes else None)
        ax.set_xlim(0, hours[-1])
        ax.tick_params(labelbottom=False)
        timeline_axes.append(ax)
        return ax

    # Workers per kind: the shares of up / ejected / draining / down at each interval's end.
    for g, name in enumerate(groups):
        ax = axis(2 + g)
        totals = [max(sum(s["workers"][g]), 1) for s in samples]
        states = tl["worker_states"]
        stacked(ax, [[s["workers"][g][k] / t for s, t in zip(samples, totals)] for k in range(len(states))],
                WORKER_COLORS, list(states) if g == 0 else [None] * len(states))
        ax.set_yticks([])
        ax.set_ylim(0, 1)
        ax.set_ylabel(f"{name} ({max(sum(s['workers'][g]) for s in samples)})", rotation=0, ha="right", va="center")
        if g == 0:
            ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), ncol=4, fontsize=8, frameon=False)
    row = 2 + len(groups)
    ax = axis(row)
    stacked(ax, [[s["sessions"] for s in samples]], ["#5a8cc8"], [None])
    ax.set_ylabel("sessions", rotation=0, ha="right", va="center")
    ax.set_ylim(0, max(max(s["sessions"] for s in samples), 1) * 1.05)
    ax.yaxis.set_major_locator(MaxNLocator(3, integer=True))
    # Faults: one row per kind, a marker per interval with faults (larger for more).
    ax = axis(row + 1)
    totals = report["faults_injected"]
    for k, name in enumerate(kinds):
        counts = [s["faults"][k] for s in samples]
        peak = max(counts) or 1
        xs = [(a + h) / 2 for a, h, c in zip(starts, hours, counts) if c]
        sizes = [8 + 40 * c / peak for c in counts if c]
        ax.scatter(xs, [k] * len(xs), s=sizes, color=plt.cm.tab20(k % 20), linewidths=0)
    ax.set_yticks(range(len(kinds)), [f"{n.replace('_', ' ')} {totals.get(n, 0)}" for n in kinds], fontsize=8)
    ax.set_ylim(len(kinds) - 0.5, -0.5)
    ax.grid(axis="y", color="#e6e6e6")
    ax.set_title("faults injected (a marker per interval with faults, larger for more)", loc="left", fontsize=9)
    # Turns per interval, stacked by outcome.
    ax = axis(row + 2)
    outcomes = tl["turn_outcomes"]
    top = stacked(ax, [[s["turns"][k] for s in samples] for k in range(len(outcomes))],
                  [OUTCOME_COLORS[k % len(OUTCOME_COLORS)] for k in range(len(outcomes))], [o.replace("_", " ") for o in outcomes])
    ax.set_ylabel("turns per\ninterval", rotation=0, ha="right", va="center")
    ax.legend(loc="upper left", ncol=len(tl["turn_outcomes"]), fontsize=8, frameon=False)
    ax.set_ylim(0, max(max(top), 1) * 1.3)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelbottom=True)
    step = _tick_step(hours[-1])
    ax.xaxis.set_major_locator(MultipleLocator(step / 3600))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _clock(x, step < 60)))
    ax.set_xlabel("simulated time")
    if v is not None:
        for a in timeline_axes:
            a.axvline(v["time_us"] / 3.6e9, color=RED, linewidth=2)
    return _png(fig, plt)


def _png(fig: Any, plt: Any) -> bytes:
    out = io.BytesIO()
    fig.savefig(out, format="png")
    plt.close(fig)
    return out.getvalue()


def write_plot(report: Mapping[str, Any], path: str) -> None:
    with open(path, "wb") as f:
        f.write(render(report))
