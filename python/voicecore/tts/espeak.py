"""eSpeak NG (Debian ``espeak-ng``): many languages, offline, fast; streamed and resampled."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from typing import AsyncIterator

import numpy as np

from ..audio import parse_wav_header
from ..languages import primary
from .engine import SpeechRequest
from .japanese import JapaneseReading, has_kanji

# Language tags a device sends → eSpeak NG voice names. Mandarin is `cmn-latn-pinyin`, not `cmn`:
# both turn hanzi into pinyin with tone numbers, and `cmn` ("latin as English") then reads that
# pinyin as English, tone digits included: "今天" comes out as "jin one tian one", which Whisper base
# writes as "盡幻,盡幻,盡幻,4-3-5-4". `cmn-latn-pinyin` speaks the syllables with their tones and
# still switches to English for words that are no pinyin ("OK", "Python").
VOICES = {"en": "en-us", "zh": "cmn-latn-pinyin", "zh-cn": "cmn-latn-pinyin", "ja": "ja", "ru": "ru", "de": "de", "fr": "fr", "es": "es"}


def voice_for(language: str, voice: str = "") -> str:
    if voice:
        return voice
    tag = (language or "en").lower().replace("_", "-")
    return VOICES.get(tag) or VOICES.get(primary(tag)) or tag


class EspeakEngine:
    """One espeak-ng process per segment. With ``prespawn`` (the TTS worker's), the process for a
    voice's next segment is started as soon as this one has its text, and waits on its stdin: its
    start-up (loading the voice, ~10 ms of the first audio on this machine) is then done before the
    text arrives. The waiting processes belong to the event loop that started them and end with
    it: ``aclose()`` ends them (the TTS worker calls it, ``Worker.on_stop``), and so does the end
    of ``asyncio.run()`` without it (a guard task reaps them when the run cancels what is left);
    a process whose parent exits reads the end of its stdin and exits too. Japanese with kanji is
    spoken from its reading (``JapaneseReading``)."""

    name = "espeak-ng"

    def __init__(self, binary: str = "espeak-ng", speed_wpm: int = 175, read_size: int = 4096, prespawn: bool = False,
                 japanese: JapaneseReading | None = None) -> None:
        path = shutil.which(binary)
        if path is None:
            raise RuntimeError(f"{binary} not found: install the Debian package espeak-ng")
        self.binary = path
        self.speed_wpm = speed_wpm
        self.read_size = read_size
        self.prespawn = prespawn
        self._spares: dict[str, asyncio.subprocess.Process] = {}  # waiting processes, by voice
        self._spares_loop: asyncio.AbstractEventLoop | None = None  # the loop they belong to
        self._starting: dict[str, asyncio.Task[None]] = {}  # spares being started, by voice
        self._japanese = japanese or JapaneseReading()  # its voice reads kana only (japanese.py)
        self._guard: asyncio.Task[None] | None = None  # reaps the spares when their loop's run ends

    async def _spawn(self, voice: str) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            self.binary, "--stdout", "-b", "1", "-s", str(self.speed_wpm), "-v", voice,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )

    async def _process(self, voice: str) -> tuple[asyncio.subprocess.Process, bool]:
        """The voice's waiting process when there is a live one on this loop (True), else a new one."""
        loop = asyncio.get_running_loop()
        if self._spares_loop is not loop:
            # Of another loop (one closed while its tasks still waited): unusable here.
            for proc in self._spares.values():
                _kill(proc)
            self._spares, self._starting, self._spares_loop, self._guard = {}, {}, loop, None
        if self.prespawn and self._guard is None:
            self._guard = loop.create_task(self._end_with_loop())
        spare = self._spares.pop(voice, None)
        if spare is not None:
            if spare.returncode is None:
                return spare, True
            await _reap(spare)
        return await self._spawn(voice), False

    async def _begin(self, voice: str, text: str) -> tuple[asyncio.subprocess.Process, bytes, tuple[int, int, int]]:
        """A process speaking ``text``, with the output read so far and its WAV layout. A waiting
        process that died while it waited (killed from outside; the loop may not know yet) is
        replaced once by a new one: the segment does not fail for it."""
        proc, waited = await self._process(voice)
        while True:
            assert proc.stdin and proc.stdout and proc.stderr
            try:
                proc.stdin.write(text.replace("\n", " ").encode() + b"\n")
                proc.stdin.close()
                if self.prespawn:
                    self._keep_spare(voice)
                head = b""
                layout = None
                while layout is None:
                    more = await proc.stdout.read(self.read_size)
                    if not more:
                        err = (await proc.stderr.read()).decode(errors="replace").strip()
                        raise RuntimeError(f"espeak-ng produced no audio: {err or 'empty output'}")
                    head += more
                    layout = parse_wav_header(head)
                return proc, head, layout
            except (RuntimeError, ConnectionError):
                await _reap(proc)
                if not waited:
                    raise
                proc, waited = await self._spawn(voice), False
            except BaseException:
                await _reap(proc)
                raise

    def _keep_spare(self, voice: str) -> None:
        """Starts the voice's next process in the background (a task: a segment cancelled right
        after its first audio, as a barge-in does, still leaves one for the next)."""
        if voice in self._spares or voice in self._starting:
            return

        async def start() -> None:
            try:
                self._spares[voice] = await self._spawn(voice)
            finally:
                self._starting.pop(voice, None)

        self._starting[voice] = asyncio.get_running_loop().create_task(start())

    async def aclose(self) -> None:
        """Ends the processes waiting for a next segment."""
        guard, self._guard = self._guard, None
        if guard is not None and guard.get_loop() is asyncio.get_running_loop():
            guard.cancel()  # with _guard cleared first, it leaves the spares to _end_spares below
        await self._end_spares()

    async def _end_with_loop(self) -> None:
        """Waits for its loop's end: ``asyncio.run()`` cancels the tasks left as it finishes, and the
        loop still runs to reap the spares; without it their transports would be closed later by the
        garbage collector, on a closed loop."""
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            if self._guard is asyncio.current_task():
                self._guard = None
                await self._end_spares()

    async def _end_spares(self) -> None:
        ours = self._spares_loop is asyncio.get_running_loop()
        starting = list(self._starting.values())
        if starting and ours:
            await asyncio.gather(*starting, return_exceptions=True)
        spares, self._spares, self._starting = self._spares, {}, {}
        for proc in spares.values():
            if ours:
                await _reap(proc)
            else:
                _kill(proc)

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[bytes]:
        import soxr

        voice = voice_for(request.language, request.voice)
        text = request.text
        if voice == "ja" and has_kanji(text):  # kana alone needs no reading, nor a thread
            text = await asyncio.to_thread(self._japanese, text)
        proc, head, layout = await self._begin(voice, text)
        assert proc.stdout
        try:
            rate, channels, offset = layout
            if channels != 1:
                raise RuntimeError(f"espeak-ng produced {channels} channels")
            stream = soxr.ResampleStream(rate, request.sample_rate, 1, dtype="int16", quality="HQ") if rate != request.sample_rate else None
            pending = head[offset:]
            while True:
                more = await proc.stdout.read(self.read_size)
                pending += more
                usable = len(pending) - len(pending) % 2
                last = not more
                samples = np.frombuffer(pending[:usable], dtype="<i2")
                pending = pending[usable:]
                if stream is not None:
                    samples = stream.resample_chunk(samples, last=last)
                if len(samples):
                    yield samples.astype("<i2").tobytes()
                if last:
                    break
            code = await proc.wait()
            if code != 0:
                raise RuntimeError(f"espeak-ng exited with status {code}")
        finally:
            await _reap(proc)


def _kill(proc: asyncio.subprocess.Process) -> None:
    with contextlib.suppress(ProcessLookupError):  # already gone
        proc.kill()


async def _reap(proc: asyncio.subprocess.Process) -> None:
    """Kills ``proc`` if it still runs and waits for it."""
    if proc.returncode is None:
        proc.kill()
        # Not proc.wait(): since CPython 3.11.7 it returns only once the pipes are closed,
        # and a stdout pipe paused by flow control (we stopped reading a fast eSpeak)
        # never sees its EOF. communicate() drains both pipes, then waits.
        await proc.communicate()
