"""voicecored's memory across connection bursts: bursts of device connections (real WebSockets on
loopback, each sending its hello) are opened, held a moment and closed; the daemon's RSS is read
from /proc before, at the peak of each burst and after it settles. With --old-binary the same run
is made against a second build (e.g. one without the trimming) for the comparison.

    python Benchmarks/daemon/bench_bursts.py [--connections 2000] [--bursts 3] [--old-binary PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", type=Path, default=ROOT / "build" / "Sources" / "voicecored" / "voicecored")
    parser.add_argument("--old-binary", type=Path, default=None, help="a second build to compare with")
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--settle-seconds", type=float, default=3.0)
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


if __name__ == "__main__":
    sys.exit(main())
