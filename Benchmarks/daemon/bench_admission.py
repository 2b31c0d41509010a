"""voicecored under connection bursts and silent sockets (loopback only).

1. Memory across bursts: bursts of device connections (real WebSockets, each sending its hello)
   are opened, held a moment and closed; the daemon's RSS is read from /proc before, at the peak
   of each burst and after it settles.
2. Silent sockets: that many TCP connections that never send a byte are held against the port
   (any the daemon closes is opened again at once) while /healthz is asked on a new connection,
   one request at a time; the table gives how long each took (or that it got no answer in 5 s).

With --old-binary the same runs are made against a second build for the comparison.

    python Benchmarks/daemon/bench_admission.py [--connections 2000] [--bursts 3] [--silent 200]
        [--old-binary PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import socket
import statistics
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HELLO = json.dumps({"type": "hello", "version": 1, "transport": "websocket",
                    "audio_params": {"format": "opus", "sample_rate": 16000, "channels": 1, "frame_duration": 60}})


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(binary: Path) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([str(binary), "--host", "127.0.0.1", "--port", "0", "--worker-token", "bench", "--log-level", "warn"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, text=True)
    # The `listening` line is logged at info; with warn it is not, so the port comes from /proc.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        port = listening_port(proc.pid)
        if port:
            return proc, port
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"{binary} did not listen")


def listening_port(pid: int) -> int | None:
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = fd.readlink().as_posix() if fd.is_symlink() else ""
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        return None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:   # LISTEN
                return int(f[1].split(":")[1], 16)
    return None


async def burst(port: int, n: int, pid: int) -> float:
    import websockets
    url = f"ws://127.0.0.1:{port}/xiaozhi/v1/"
    conns = []
    for start_i in range(0, n, 200):
        batch = await asyncio.gather(*[
            websockets.connect(url, additional_headers={"Device-Id": f"bench-{i}", "Client-Id": f"bench-{i}"},
                               open_timeout=60, ping_interval=None, max_queue=4)
            for i in range(start_i, min(n, start_i + 200))])
        conns.extend(batch)
        await asyncio.gather(*[c.send(HELLO) for c in batch])
    await asyncio.sleep(1.0)
    peak = rss_mb(pid)
    await asyncio.gather(*[c.close() for c in conns], return_exceptions=True)
    return peak


def run(binary: Path, n: int, bursts: int, settle_s: float) -> dict[str, object]:
    proc, port = start(binary)
    try:
        time.sleep(0.5)
        before = rss_mb(proc.pid)
        peaks, afters = [], []
        for _ in range(bursts):
            peaks.append(asyncio.run(burst(port, n, proc.pid)))
            time.sleep(settle_s)
            afters.append(rss_mb(proc.pid))
        return {"before": before, "peaks": peaks, "afters": afters}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def silent_run(binary: Path, n: int, requests: int) -> list[float | None]:
    """Seconds per /healthz (None: no answer within 5 s) with n silent sockets held."""
    proc, port = start(binary)
    held: list[socket.socket] = []
    stop = threading.Event()

    def hold() -> None:
        while not stop.wait(0.05):
            for i, s in enumerate(held):
                try:
                    gone = s.recv(1, socket.MSG_PEEK) == b""
                except BlockingIOError:
                    gone = False
                except OSError:
                    gone = True
                if gone:
                    s.close()
                    held[i] = socket.create_connection(("127.0.0.1", port))
                    held[i].setblocking(False)

    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port))
            s.setblocking(False)
            held.append(s)
        holder = threading.Thread(target=hold, daemon=True)
        holder.start()
        time.sleep(0.5)
        times: list[float | None] = []
        for _ in range(requests):
            t0 = time.monotonic()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    r.read()
                times.append(time.monotonic() - t0)
            except OSError:
                times.append(None)
            time.sleep(0.25)
        stop.set()
        holder.join()
        return times
    finally:
        for s in held:
            s.close()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", type=Path, default=ROOT / "build" / "Sources" / "voicecored" / "voicecored")
    parser.add_argument("--old-binary", type=Path, default=None, help="a second build to compare with")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--settle-seconds", type=float, default=3.0)
    parser.add_argument("--silent", type=int, default=200, help="silent sockets held for the /healthz run")
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    runs = [("this build", args.binary)] + ([("old build", args.old_binary)] if args.old_binary else [])
    print(f"## voicecored: RSS across bursts of {args.connections} device connections (loopback), MB\n")
    print("| daemon | before | " + " | ".join(f"burst {i + 1} peak | after {i + 1}" for i in range(args.bursts)) + " |")
    print("|---|---:|" + "---:|---:|" * args.bursts)
    for name, binary in runs:
        r = run(binary, args.connections, args.bursts, args.settle_seconds)
        cells = [f"{r['before']:.1f}"] + [f"{p:.1f} | {a:.1f}" for p, a in zip(r["peaks"], r["afters"])]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)
    print(f"\n## voicecored: GET /healthz with {args.silent} silent sockets held, {args.requests} requests\n")
    print("| daemon | answered | median | max |\n|---|---:|---:|---:|")
    for name, binary in runs:
        times = silent_run(binary, args.silent, args.requests)
        done = [t for t in times if t is not None]
        median = f"{statistics.median(done) * 1000:.1f} ms" if done else "-"
        worst = f"{max(done) * 1000:.1f} ms" if done else "-"
        print(f"| {name} | {len(done)}/{len(times)} (none in 5 s: {len(times) - len(done)}) | {median} | {worst} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
