"""What the memory service costs a turn: a real `voicecore memory` process, the assistant's own
client (HttpMemory). Per turn the assistant makes one read before the LLM (on the critical path)
and one write after the reply. Prints p50/p99 of each, alone and with N devices' turns at once.

    PYTHONPATH=python python3 Benchmarks/memory/bench_memory.py [--turns 300] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from voicecore.memory import HttpMemory
from voicecore.testing.memory import MemoryProcess


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))] * 1000


async def turns(memory: HttpMemory, device: str, n: int, reads: list[float], writes: list[float]) -> None:
    for i in range(n):
        t0 = time.perf_counter()
        got = await memory.load("default", device, 2000)
        t1 = time.perf_counter()
        assert got.available
        await memory.append("default", device, [{"role": "user", "content": f"question {i} " + "x" * 60},
                                                {"role": "assistant", "content": f"answer {i} " + "y" * 160}])
        t2 = time.perf_counter()
        reads.append(t1 - t0)
        writes.append(t2 - t1)


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        service = MemoryProcess(Path(tmp) / "memory.sqlite3")
        try:
            for concurrency in (1, args.concurrency):
                memory = HttpMemory(service.url, service.token)
                reads: list[float] = []
                writes: list[float] = []
                t0 = time.perf_counter()
                per = args.turns // concurrency
                await asyncio.gather(*(turns(memory, f"dev-{concurrency}-{d}", per, reads, writes) for d in range(concurrency)))
                wall = time.perf_counter() - t0
                await memory.close()
                print(f"{concurrency:3d} device(s) at once, {per * concurrency} turns: read p50 {pct(reads, 50):.1f} ms p99 {pct(reads, 99):.1f} ms; "
                      f"write p50 {pct(writes, 50):.1f} ms p99 {pct(writes, 99):.1f} ms; {per * concurrency / wall:.0f} turns/s "
                      f"(mean read {statistics.mean(reads) * 1000:.1f} ms)")
        finally:
            service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=320)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
