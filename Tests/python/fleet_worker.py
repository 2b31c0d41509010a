"""A real worker-SDK process for the fleet tests (test_daemon_fleet.py): instant engines, real SDK,
real socket, real process (so `kill -STOP` and signals are real).

    python fleet_worker.py HUB_URL TOKEN KIND [--slots N] [--name NAME] [--mode MODE]

KIND is `tts` or `assistant`. MODE:
  normal    every job answers at once (TTS: 0.3 s of tone then `segment_done`; assistant: one
            sentence of deltas);
  stubborn  the first TTS job sends a little audio, then hangs and swallows the hub's `cancel`
            (a hung handler): its slot stays busy on the worker while the hub has freed it;
            SIGUSR1 lets it finish. Later jobs are normal.
  stuck     every TTS job hangs like that (SIGUSR1 releases them all).
It prints `ready <worker id>` once registered.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import signal
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "python"))

from voicecore.worker import Job, Worker  # noqa: E402


def tone(samples: int, rate: int) -> bytes:
    return b"".join(struct.pack("<h", int(6000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(samples))


async def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("hub")
    p.add_argument("token")
    p.add_argument("kind", choices=["tts", "assistant"])
    p.add_argument("--slots", type=int, default=1)
    p.add_argument("--name", default="")
    p.add_argument("--mode", default="normal", choices=["normal", "stubborn", "stuck"])
    args = p.parse_args()

    worker = Worker(slots={args.kind: args.slots}, name=args.name or f"fleet-{args.kind}")
    release = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, release.set)
    hung = 0

    async def hang() -> None:
        while not release.is_set():
            try:
                await release.wait()
            except asyncio.CancelledError:
                continue  # the handler swallows the hub's cancel: the SDK's slot stays taken

    if args.kind == "tts":

        @worker.handler("tts")
        async def speak(job: Job) -> None:
            nonlocal hung
            rate = int(job.params.get("sample_rate", 24000))
            if args.mode == "stuck" or (args.mode == "stubborn" and hung == 0):
                hung += 1
                await job.send_audio(tone(rate // 10, rate), last=False)
                print(f"hanging {job.id}", flush=True)
                await hang()
                return
            await job.send_audio(tone(rate * 3 // 10, rate), last=True)
            await job.output("segment_done")

    else:

        @worker.handler("assistant")
        async def answer(job: Job) -> None:
            for piece in ["Here is ", "the answer."]:
                await job.output("delta", text=piece)

    async def announce() -> None:
        print(f"ready {await worker.wait_registered()}", flush=True)

    serving = asyncio.create_task(worker.serve(args.hub, args.token, handle_signals=True))
    await asyncio.sleep(0)
    await announce()
    await serving


if __name__ == "__main__":
    asyncio.run(main())
