"""voicecored benchmarks: idle device connections held (memory per connection, CPU while idle)
beside an anchor measured in the same run (the same connections held by a Python `websockets`
server), and Opus frames per second per core through the daemon's audio path beside bare libopus.

    python Benchmarks/daemon/bench_daemon.py [--connections 10000]

and 500 concurrent talking sessions with instant scripted workers: hub-added latency per hop of
the turn's critical path, measured inside the daemon (see talking_sessions.py for exactly what),
beside the same turns as the devices see them; the load comes from the C generator
(talking_load.c, smooth and cheap), then from the Python generator as the anchor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))
BUILD = ROOT / "build" / "Sources" / "voicecored"
HELLO = json.dumps({"type": "hello", "version": 1, "transport": "websocket",
                    "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60}})

ANCHOR_SERVER = """
import asyncio, sys, websockets
async def handler(ws):
    async for _ in ws:
        pass
async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, max_size=65536) as server:
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Future()
asyncio.run(main())
"""


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def hold(url: str, n: int, headers: dict[str, str], pid: int, idle_s: float) -> tuple[float, float, float]:
    import websockets
    before = rss_kb(pid)
    conns = []
    t0 = time.monotonic()
    for start in range(0, n, 200):
        batch = await asyncio.gather(*[websockets.connect(url, additional_headers=headers, open_timeout=60, ping_interval=None)
                                       for _ in range(start, min(n, start + 200))])
        conns.extend(batch)
        await asyncio.gather(*[c.send(HELLO) for c in batch])
    connect_s = time.monotonic() - t0
    await asyncio.sleep(1.0)
    after = rss_kb(pid)
    cpu0 = cpu_seconds(pid)
    await asyncio.sleep(idle_s)
    cpu = (cpu_seconds(pid) - cpu0) / idle_s
    await asyncio.gather(*[c.close() for c in conns], return_exceptions=True)
    return (after - before) * 1024 / n, cpu * 100, connect_s


def idle_connections(n: int, idle_s: float) -> list[tuple[str, str, str, str]]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = []
    daemon = subprocess.Popen([str(BUILD / "voicecored"), "--host", "127.0.0.1", "--port", "0", "--worker-token", "bench",
                               "--hello-timeout-ms", "600000", "--max-devices", str(n + 100)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = None
        assert daemon.stdout
        for line in daemon.stdout:
            entry = json.loads(line)
            if entry.get("event") == "listening":
                port = entry["port"]
                break
        # Keep reading the log so the pipe never blocks the daemon.
        import threading
        threading.Thread(target=lambda: [None for _ in daemon.stdout], daemon=True).start()
        per, cpu, took = asyncio.run(hold(f"ws://127.0.0.1:{port}/xiaozhi/v1/", n,
                                          {"Protocol-Version": "1", "Device-Id": "aa:bb:cc:dd:ee:ff"}, daemon.pid, idle_s))
        rows.append((f"voicecored, {n} idle devices (after hello)", f"{per / 1024:.1f} KiB", f"{cpu:.2f} %", f"{took:.1f} s"))
    finally:
        daemon.terminate()
        daemon.wait(timeout=30)
    anchor = subprocess.Popen([sys.executable, "-c", ANCHOR_SERVER], stdout=subprocess.PIPE, text=True)
    try:
        assert anchor.stdout
        port = int(anchor.stdout.readline())
        per, cpu, took = asyncio.run(hold(f"ws://127.0.0.1:{port}/", n, {}, anchor.pid, idle_s))
        rows.append((f"anchor: Python websockets server, {n} idle", f"{per / 1024:.1f} KiB", f"{cpu:.2f} %", f"{took:.1f} s"))
    finally:
        anchor.terminate()
        anchor.wait(timeout=30)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=10000)
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--sessions", type=int, default=500)
    parser.add_argument("--talk-seconds", type=float, default=20.0)
    args = parser.parse_args()
    print("## voicecored: idle connections\n")
    print("| server | memory per connection | CPU while idle | time to connect all |\n|---|---:|---:|---:|")
    for row in idle_connections(args.connections, args.idle_seconds):
        print("| " + " | ".join(row) + " |")
    print("\n## voicecored: Opus through the audio path\n")
    sys.stdout.flush()
    subprocess.run([str(BUILD / "voicecored_bench_opus"), "2", "5"], check=True)
    print(f"\n## voicecored: hub-added latency, {args.sessions} talking sessions, instant scripted workers\n")
    sys.stdout.flush()
    import talking_sessions
    # The load from the C generator (talking_load.c), then the same load from the Python generator
    # as the anchor, each against a fresh daemon in the same run.
    print(f"### load from the C generator\n")
    print(talking_sessions.table(talking_sessions.run_c(args.sessions, args.talk_seconds)))
    sys.stdout.flush()
    print(f"\n### anchor: the same load from the Python generator\n")
    print(talking_sessions.table(talking_sessions.run(args.sessions, args.talk_seconds)))


if __name__ == "__main__":
    main()
