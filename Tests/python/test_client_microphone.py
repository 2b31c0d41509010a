"""The device client's never-ending microphone (`voicecore.client.Microphone`): what it sends, when,
and where it says the speech began. The end-to-end turn-taking test and Benchmarks/e2e/bench_barge_in.py
talk to the real daemon through it."""

from __future__ import annotations

import asyncio

import numpy as np

from voicecore.client import Microphone, OpusDecoder, OpusEncoder

RATE = 16000
FRAME_MS = 60
STEP = RATE * FRAME_MS // 1000


def tone(seconds: float) -> bytes:
    t = np.arange(int(RATE * seconds)) / RATE
    return (np.sin(2 * np.pi * 440 * t) * 12000).astype("<i2").tobytes()


def test_the_microphone_sends_silence_then_the_speech_once_captured_and_marks_its_onset():
    async def main() -> tuple[float, list[tuple[float, bytes, int]], list[float]]:
        loop = asyncio.get_running_loop()
        sent: list[tuple[float, bytes, int]] = []

        async def send(opus: bytes, timestamp_ms: int) -> None:
            sent.append((loop.time(), opus, timestamp_ms))

        microphone = Microphone(send, OpusEncoder(RATE, FRAME_MS).encode, FRAME_MS)
        started = loop.time()
        running = asyncio.create_task(microphone.run())
        await asyncio.sleep(0.15)  # silence first: the speech starts with the next frame captured
        microphone.say(b"\0" * (STEP * 2) + tone(0.2))  # 60 ms of silence, then 200 ms of tone
        while len(sent) < 12:
            await asyncio.sleep(0.02)
        running.cancel()
        await asyncio.gather(running, return_exceptions=True)
        return started, sent, microphone.onsets

    started, sent, onsets = asyncio.run(main())
    assert [ms for _, _, ms in sent] == [i * FRAME_MS for i in range(len(sent))]
    for i, (at, _, _) in enumerate(sent):
        assert at >= started + (i + 1) * FRAME_MS / 1000 - 0.005, f"frame {i} left before it was captured"
    decoder = OpusDecoder(RATE)
    loud = [float(np.abs(np.frombuffer(decoder.decode(opus), "<i2").astype(np.int32)).mean()) > 1000 for _, opus, _ in sent]
    first = loud.index(True)
    # The tone fills 200 ms from a frame boundary plus one frame of silence: four frames, the last partly.
    assert loud[first:first + 4] == [True] * 4 and not any(loud[first + 4:]) and not any(loud[:first])
    assert len(onsets) == 1
    # Its first loud sample was captured one frame (the clip's 60 ms lead) after the frame it began with.
    clip_start = started + (first - 1) * FRAME_MS / 1000
    assert abs(onsets[0] - (clip_start + FRAME_MS / 1000)) < 0.005
