"""A dependency-free PNG for ``voicecore sim --plot`` (zlib only, no matplotlib): the virtual
time-to-first-audio histogram with the budget, and the fleet timeline over simulated time from the
report's ``timeline`` samples — workers per kind up / ejected / draining / down, active sessions,
faults injected (a marker row per kind), and turns per interval by outcome."""

from __future__ import annotations

import struct
import zlib
from typing import Any, Mapping, Sequence

from . import sim_font

WIDTH, HEIGHT = 960, 720
RGB = tuple[int, int, int]

BLACK: RGB = (0, 0, 0)
GREY: RGB = (120, 120, 120)
LIGHT: RGB = (225, 225, 225)
RED: RGB = (210, 40, 40)
WORKER_COLORS: list[RGB] = [(60, 170, 90), (240, 150, 30), (70, 120, 220), (210, 40, 40)]  # up, ejected, draining, down
OUTCOME_COLORS: list[RGB] = [(60, 170, 90), (240, 170, 40), (150, 150, 150), (210, 40, 40), (170, 170, 230)]
FAULT_COLORS: list[RGB] = [(200, 30, 30), (150, 60, 160), (230, 130, 30), (220, 70, 110), (120, 90, 40), (70, 120, 220),
                           (40, 160, 160), (120, 120, 120), (30, 90, 60), (0, 0, 0), (200, 170, 20)]


class Canvas:
    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray(b"\xff" * (width * 3)) for _ in range(height)]

    def rect(self, x0: int, y0: int, x1: int, y1: int, rgb: RGB) -> None:
        x0, x1 = max(0, x0), min(self.width, x1)
        if x1 <= x0:
            return
        fill = bytes(rgb) * (x1 - x0)
        for y in range(max(0, y0), min(self.height, y1)):
            self.rows[y][3 * x0: 3 * x1] = fill

    def text(self, x: int, y: int, s: str, rgb: RGB = BLACK) -> None:
        for dx, dy in sim_font.pixels(s):
            px, py = x + dx, y + dy
            if 0 <= px < self.width and 0 <= py < self.height:
                self.rows[py][3 * px: 3 * px + 3] = bytes(rgb)

    def text_right(self, x: int, y: int, s: str, rgb: RGB = BLACK) -> None:
        self.text(x - sim_font.width(s), y, s, rgb)

    def png(self) -> bytes:
        raw = b"".join(b"\x00" + bytes(row) for row in self.rows)

        def chunk(kind: bytes, data: bytes) -> bytes:
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

        header = struct.pack(">IIBBBBB", self.width, self.height, 8, 2, 0, 0, 0)
        return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def _nice(n: float) -> int:
    """A round axis maximum at or above n."""
    if n <= 0:
        return 1
    step = 1
    while True:
        for m in (1, 2, 5):
            if step * m >= n:
                return step * m
        step *= 10


def _time_label(us: float, step_s: int) -> str:
    s = int(round(us / 1e6))
    d, rest = divmod(s, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    if step_s >= 86400:
        return f"{d}D"
    return f"{d}D{h:02}:{m:02}" if d else f"{h:02}:{m:02}"


def _duration_label(us: int) -> str:
    s = us // 1_000_000
    for unit, name in ((86400, "D"), (3600, "H"), (60, "MIN")):
        if s >= unit and s % unit == 0:
            return f"{s // unit} {name}"
    return f"{s // 60} MIN {s % 60} S" if s >= 60 else f"{s} S"


def _legend(c: Canvas, x: int, y: int, items: Sequence[tuple[str, RGB]]) -> None:
    for name, rgb in items:
        c.rect(x, y, x + 7, y + 7, rgb)
        c.text(x + 10, y, name)
        x += 10 + sim_font.width(name) + 14


def _histogram(c: Canvas, report: Mapping[str, Any], top: int, bottom: int, left: int, right: int) -> None:
    hist = report["ttfa_histogram_ms"]
    q = report["ttfa_ms"]
    c.text(left, top - 14, f"TIME TO FIRST AUDIO (VIRTUAL) - {q['count']} TURNS, P50 {q['p50']:.0f} MS, "
                           f"P99 {q['p99']:.0f} MS; FAULT-FREE P99 "
                           + (f"{q['quiet_p99']:.0f} MS OVER {q['quiet_count']}" if q["quiet_count"] else "N/A (NO FAULT-FREE TURNS)"))
    peak = _nice(max(hist) or 1)
    bar = (right - left) / len(hist)
    for frac in (0, 0.5, 1):
        y = bottom - int((bottom - top) * frac)
        c.rect(left, y, right, y + 1, LIGHT if frac else BLACK)
        c.text_right(left - 4, y - 3, f"{peak * frac:g}")
    for i, n in enumerate(hist):
        h = int((bottom - top) * n / peak)
        c.rect(left + int(i * bar) + 1, bottom - h, left + int((i + 1) * bar) - 1, bottom, (70, 110, 200))
    for ms in range(0, 5001, 500):
        x = left + int(ms / 100 * bar)
        c.rect(x, bottom, x + 1, bottom + 4, BLACK)
        label = f"{ms}" if ms < 5000 else "5000+"
        c.text(x - sim_font.width(label) // 2, bottom + 6, label)
    c.text_right(right, bottom + 16, "MS")
    bx = left + int(q["budget"] / 100 * bar)
    c.rect(bx, top, bx + 2, bottom, RED)
    c.text(bx + 5, top, f"BUDGET {q['budget']} MS", RED)


def _timeline(c: Canvas, report: Mapping[str, Any], top: int, left: int, right: int) -> int:
    tl = report.get("timeline")
    samples = tl["samples"] if tl else []
    if not samples:
        c.text(left, top, "NO TIMELINE SAMPLES (RUN SHORTER THAN ONE INTERVAL)", GREY)
        return top + 20
    interval = tl["interval_us"]
    end_us = samples[-1]["t_us"]
    span = max(1.0, float(end_us))
    n = len(samples)

    def x_of(us: float) -> int:
        return left + int((right - left) * us / span)

    def cols() -> list[tuple[int, int, Mapping[str, Any]]]:
        # Sample i covers (t - interval, t].
        return [(x_of(max(0, s["t_us"] - interval)), max(x_of(s["t_us"]), x_of(max(0, s["t_us"] - interval)) + 1), s)
                for s in samples]

    columns = cols()
    c.text(8, top - 14, f"FLEET TIMELINE - {n} INTERVALS OF {_duration_label(interval)} (WORKERS AND SESSIONS AT THE "
                        f"INTERVAL'S END, FAULTS AND TURNS WITHIN IT)")
    y = top
    # Workers per kind: each column stacks the kind's up / ejected / draining / down shares.
    c.text(8, y, "WORKERS")
    _legend(c, left, y, list(zip(tl["worker_states"], WORKER_COLORS)))
    y += 12
    row_h = 16
    for g, name in enumerate(tl["worker_groups"]):
        total_max = max(sum(s["workers"][g]) for s in samples)
        c.text_right(left - 4, y + 4, f"{name} ({total_max})")
        for x0, x1, s in columns:
            counts = s["workers"][g]
            total = sum(counts)
            if total == 0:
                c.rect(x0, y, x1, y + row_h, LIGHT)
                continue
            yy = y
            for k, cnt in enumerate(counts):
                h = round(row_h * cnt / total)
                c.rect(x0, yy, x1, min(y + row_h, yy + h), WORKER_COLORS[k])
                yy += h
        y += row_h + 3
    y += 8
    # Active sessions (at each sample).
    sess_h = 50
    peak = _nice(max(s["sessions"] for s in samples))
    c.text(8, y + sess_h // 2 - 3, "SESSIONS")
    c.rect(left, y, right, y + 1, LIGHT)
    c.text_right(left - 4, y - 3, f"{peak}")
    c.text_right(left - 4, y + sess_h - 3, "0")
    for x0, x1, s in columns:
        h = int(sess_h * s["sessions"] / peak)
        c.rect(x0, y + sess_h - h, x1, y + sess_h, (90, 140, 200))
    c.rect(left, y + sess_h, right, y + sess_h + 1, BLACK)
    y += sess_h + 12
    # Faults injected: one marker row per kind.
    c.text(8, y, "FAULTS")
    fault_h = 9
    y += 10
    kinds = tl["fault_kinds"]
    totals = report["faults_injected"]
    for k, name in enumerate(kinds):
        c.text_right(left - 4, y + 1, f"{name.replace('_', ' ')} {totals.get(name, 0)}")
        c.rect(left, y + fault_h // 2, right, y + fault_h // 2 + 1, LIGHT)
        peak_k = max(s["faults"][k] for s in samples) or 1
        for x0, x1, s in columns:
            cnt = s["faults"][k]
            if cnt:
                # Taller marker for more faults in the interval.
                h = max(3, round(fault_h * cnt / peak_k))
                mid = y + fault_h // 2
                c.rect(x0, mid - h // 2, max(x1, x0 + 2), mid - h // 2 + h, FAULT_COLORS[k % len(FAULT_COLORS)])
        y += fault_h + 2
    y += 24
    # Turns per interval, stacked by outcome.
    turns_h = 110
    outcomes = tl["turn_outcomes"]
    peak = _nice(max(sum(s["turns"]) for s in samples))
    c.text(8, y, "TURNS PER")
    c.text(8, y + 10, "INTERVAL")
    _legend(c, left, y - 12, list(zip([o.replace("_", " ") for o in outcomes], OUTCOME_COLORS)))
    for frac in (0.5, 1):
        yy = y + turns_h - int(turns_h * frac)
        c.rect(left, yy, right, yy + 1, LIGHT)
        c.text_right(left - 4, yy - 3, f"{peak * frac:g}")
    c.text_right(left - 4, y + turns_h - 3, "0")
    for x0, x1, s in columns:
        yy = y + turns_h
        for k, cnt in enumerate(s["turns"]):
            h = int(turns_h * cnt / peak)
            c.rect(x0, yy - h, x1, yy, OUTCOME_COLORS[k])
            yy -= h
    y += turns_h
    c.rect(left, y, right, y + 1, BLACK)
    # The time axis.
    span_s = span / 1e6
    step = next((s for s in (60, 300, 600, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 5 * 86400,
                             7 * 86400, 10 * 86400, 30 * 86400) if span_s / s <= 10), 30 * 86400)
    t = 0
    while t <= span_s:
        x = x_of(t * 1e6)
        c.rect(x, y, x + 1, y + 4, BLACK)
        label = _time_label(t * 1e6, step)
        c.text(min(x - sim_font.width(label) // 2, WIDTH - 2 - sim_font.width(label)), y + 6, label)
        t += step
    c.text_right(right, y + 18, "SIMULATED TIME")
    v = report.get("violation")
    if v is not None:
        x = x_of(v["time_us"])
        c.rect(x, top, x + 2, y, RED)
        label = f"{v['invariant']} AT {v['time']}"
        c.text_right(right, top - 14, label, RED)
    return y + 30


def render(report: Mapping[str, Any]) -> bytes:
    c = Canvas(WIDTH, HEIGHT)
    left, right = 150, WIDTH - 20
    w = report["workers"]
    title = (f"VOICECORE SIM  SEED {report['seed']}  {report['devices']} DEVICES  "
             f"ASR={w['asr']} ASSISTANT={w['assistant']} TTS={w['tts']} GPU={w['gpu']}  "
             f"FAULTS {report['faults']}{' (LIVENESS)' if report['liveness'] else ''}  {report['sim_time']}")
    c.text(8, 6, title)
    _histogram(c, report, 40, 170, left, right)
    y = _timeline(c, report, 222, left, right)
    v = report.get("violation")
    if v is None:
        c.text(8, y, "PASS: NO INVARIANT VIOLATED", (40, 140, 60))
    else:
        c.rect(0, y - 4, WIDTH, y + 12, RED)
        c.text(8, y, f"FAIL: {v['invariant']} AT {v['time']} IN {v['session'] or 'THE FLEET'}", (255, 255, 255))
    return c.png()


def write_plot(report: Mapping[str, Any], path: str) -> None:
    with open(path, "wb") as f:
        f.write(render(report))
