"""A dependency-free PNG for ``voicecore sim --plot``: the time-to-first-audio histogram (bars, the
budget as a red line) over a strip of the turn outcomes. Written with zlib, no matplotlib."""

from __future__ import annotations

import struct
import zlib
from typing import Any, Mapping

WIDTH, HEIGHT = 640, 360


def _png(pixels: list[bytearray]) -> bytes:
    raw = b"".join(b"\x00" + bytes(row) for row in pixels)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", WIDTH, HEIGHT, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def render(report: Mapping[str, Any]) -> bytes:
    px = [bytearray(b"\xff" * (WIDTH * 3)) for _ in range(HEIGHT)]

    def rect(x0: int, y0: int, x1: int, y1: int, rgb: tuple[int, int, int]) -> None:
        for y in range(max(0, y0), min(HEIGHT, y1)):
            row = px[y]
            for x in range(max(0, x0), min(WIDTH, x1)):
                row[3 * x: 3 * x + 3] = bytes(rgb)

    hist = report["ttfa_histogram_ms"]
    top, bottom, left = 20, 260, 20
    peak = max(hist) or 1
    bar = (WIDTH - 2 * left) // len(hist)
    rect(left, bottom, WIDTH - left, bottom + 1, (0, 0, 0))
    for i, n in enumerate(hist):
        h = int((bottom - top) * n / peak)
        rect(left + i * bar + 1, bottom - h, left + (i + 1) * bar - 1, bottom, (70, 110, 200))
    budget = report["ttfa_ms"]["budget"] / 100
    bx = left + int(budget * bar)
    rect(bx, top, bx + 2, bottom, (220, 40, 40))
    # Turn outcomes as one stacked strip: completed, fallback, cancelled, timed out, empty.
    turns = report["turns"]
    colors = [(60, 170, 90), (230, 160, 40), (150, 150, 150), (200, 50, 50), (200, 200, 230)]
    total = sum(turns.values()) or 1
    x = left
    for (name, n), rgb in zip(turns.items(), colors):
        w = int((WIDTH - 2 * left) * n / total)
        rect(x, 290, x + w, 320, rgb)
        x += w
    if report["violation"] is not None:
        rect(0, 340, WIDTH, HEIGHT, (200, 30, 30))
    return _png(px)


def write_plot(report: Mapping[str, Any], path: str) -> None:
    with open(path, "wb") as f:
        f.write(render(report))
