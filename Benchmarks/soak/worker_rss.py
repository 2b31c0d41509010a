"""RSS of a real TTS worker process over many jobs: slope per 1,000 jobs.

Starts ``python -m voicecore worker tts`` (eSpeak NG by default; the real SDK, process and socket)
against a scripted hub in this process (``voicecore.testing.ScriptedHub``: the hub side of
docs/worker-protocol.md over a real WebSocket), runs ``--jobs`` TTS jobs through it, ``--slots`` at
a time, reads the worker's resident set size from ``/proc/PID/status`` every ``--sample-every``
jobs, and prints the least-squares slope of RSS against jobs after the first ``--warmup`` jobs
(allocator pools, import-time caches and the first eSpeak voices settle there).

``--cancel-every K`` has the hub cancel every K-th job: half of those right behind the ``job``
message in the same write (cancelled before the job started), half after its first audio frame
(mid-way), as a device hanging up does. Every job must end with ``done`` (or silence after a
cancel), and the heartbeat load must be back to 0 at the end.

    python3 Benchmarks/soak/worker_rss.py --jobs 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "python"))

from voicecore.testing import ScriptedHub  # noqa: E402
from voicecore.testing.hub import HubWorker  # noqa: E402
from voicecore.worker import frames  # noqa: E402

WORDS = ("the weather in Paris is sunny and twenty one degrees sure I set a timer for five minutes here "
         "news could not find that song would you like something else tomorrow morning it will rain "
         "your meeting starts at three o'clock lights are off volume up").split()


def reply_segment(rng: random.Random) -> str:
    """A sentence of a reply, 1 to 40 words (segments vary as the splitter cuts replies)."""
    words = [rng.choice(WORDS) for _ in range(rng.choice([1, 3, 6, 10, 16, 24, 40]))]
    return " ".join(words).capitalize() + rng.choice([".", "?", "!", ","])


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def slope(points: list[tuple[int, int]]) -> float:
    """Least-squares slope of RSS (KB) against jobs."""
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else 0.0


class Router:
    """Reads the worker's messages once and hands each job its own queue."""

    def __init__(self, w: HubWorker) -> None:
        self.w = w
        self.queues: dict[int, asyncio.Queue] = {}
        self.cancelled: set[int] = set()
        self.late = 0  # messages of a mid-way cancelled job that crossed its cancel
        self.task = asyncio.create_task(self._route())

    def open(self, job: int) -> asyncio.Queue:
        self.queues[job] = asyncio.Queue()
        return self.queues[job]

    def close(self, job: int) -> None:
        del self.queues[job]
        self.cancelled.add(job)

    async def _route(self) -> None:
        while True:
            m = await self.w.messages.get()
            job = m.job if isinstance(m, frames.AudioFrame) else m.get("job")
            q = self.queues.get(job)
            if q is not None:
                q.put_nowait(m)
            elif job in self.cancelled:
                self.late += 1
            elif isinstance(m, dict) and m.get("type") not in ("drain",):
                raise AssertionError(f"message for no open job: {m}")


async def one_job(w: HubWorker, router: Router, job: int, text: str, session: str, cancel: str | None) -> int:
    """One TTS job; returns the audio bytes received. ``cancel``: None, "same-write" or "mid"."""
    q = router.open(job)
    message = {"type": "job", "job": job, "kind": "tts", "session": session, "turn": job, "params": {"text": text, "sample_rate": 24000}}
    if cancel == "same-write":
        await w.send_together(message, {"type": "cancel", "job": job, "reason": "hang-up"})
        await asyncio.sleep(0.05)  # anything the worker says about this job arrives here
        router.close(job)
        while not q.empty():
            m = q.get_nowait()
            if not (isinstance(m, dict) and m.get("type") == "accepted"):  # an SDK that read the job first may accept it
                raise AssertionError(f"job {job} cancelled in the same write sent {m}")
        return 0
    await w.send(message)
    audio = 0
    deadline = time.monotonic() + 60
    while True:
        m = await asyncio.wait_for(q.get(), max(0.1, deadline - time.monotonic()))
        if isinstance(m, frames.AudioFrame):
            audio += len(m.pcm)
            if cancel == "mid":
                await w.cancel(job, "hang-up")
                router.close(job)  # what was on the wire before the cancel crossed it is ignored
                return audio
            continue
        if m["type"] == "accepted":
            continue
        if m["type"] == "output":
            continue
        if m["type"] == "done":
            router.queues.pop(job)
            return audio
        raise AssertionError(f"job {job}: {m}")


async def main(args: argparse.Namespace) -> int:
    async with ScriptedHub(heartbeat_ms=200) as hub:
        env = dict(os.environ, PYTHONPATH=args.pythonpath, VOICECORE_LOG_LEVEL=args.log_level)
        cmd = [sys.executable, "-m", "voicecore", "worker", "tts", "--hub", hub.url, "--token", hub.token, "--slots", str(args.slots)]
        if args.engine_url:
            cmd += ["--engine", "openai", "--engine-url", args.engine_url]
        proc = await asyncio.create_subprocess_exec(*cmd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
        try:
            w = await hub.next_worker(timeout=30)
            router = Router(w)
            points: list[tuple[int, int]] = []
            fd_start = fds(proc.pid)
            started = time.monotonic()
            next_job = 1
            done = 0
            sem = asyncio.Semaphore(args.slots)
            rng = random.Random(args.seed)
            audio_total = 0

            async def run(job: int) -> None:
                nonlocal done, audio_total
                cancel = None
                if args.cancel_every and job % args.cancel_every == 0:
                    cancel = "same-write" if (job // args.cancel_every) % 2 else "mid"
                try:
                    audio_total += await one_job(w, router, job, reply_segment(rng), f"dev-{rng.randrange(500)}", cancel)
                finally:
                    done += 1
                    sem.release()
                    if done % args.sample_every == 0:
                        points.append((done, rss_kb(proc.pid)))

            tasks = []
            while next_job <= args.jobs:
                await sem.acquire()
                if router.task.done():
                    router.task.result()
                tasks.append(asyncio.create_task(run(next_job)))
                next_job += 1
            await asyncio.gather(*tasks)
            elapsed = time.monotonic() - started
            await asyncio.sleep(3 * hub.heartbeat_ms / 1000)
            load = w.heartbeats[-1]["load"] if w.heartbeats else None
            fd_end = fds(proc.pid)
        finally:
            proc.terminate()
            await proc.wait()

    settled = [p for p in points if p[0] > args.warmup] or points
    kb_per_1000 = slope(settled) * 1000
    first, last = settled[0], settled[-1]
    print(json.dumps({
        "jobs": args.jobs,
        "slots": args.slots,
        "cancel_every": args.cancel_every,
        "seconds": round(elapsed, 1),
        "audio_mb": round(audio_total / 1e6, 1),
        "rss_kb_after_warmup": first[1],
        "rss_kb_end": last[1],
        "rss_slope_kb_per_1000_jobs": round(kb_per_1000, 1),
        "fds_start": fd_start,
        "fds_end": fd_end,
        "heartbeat_load_end": load,
        "late_after_cancel": router.late,
    }))
    if args.trace:
        for n, kb in points:
            print(n, kb)
    return 0 if load == {"tts": 0} else 1


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=2000)
    p.add_argument("--slots", type=int, default=2)
    p.add_argument("--warmup", type=int, default=200, help="jobs before the slope is measured")
    p.add_argument("--sample-every", type=int, default=20)
    p.add_argument("--cancel-every", type=int, default=0, help="cancel every K-th job (alternately in the job's write and mid-way)")
    p.add_argument("--engine-url", default="", help="an OpenAI-compatible speech endpoint instead of eSpeak NG")
    p.add_argument("--log-level", default="INFO", help="the worker's log level")
    p.add_argument("--seed", type=int, default=1, help="the texts' and sessions' random seed")
    p.add_argument("--pythonpath", default=str(ROOT / "python"), help="where the worker imports voicecore from (e.g. another checkout)")
    p.add_argument("--trace", action="store_true", help="print every (jobs, RSS KB) sample")
    sys.exit(asyncio.run(main(p.parse_args())))
