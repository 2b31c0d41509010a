"""The whole system on one machine, for the full-stack tests, ``make chaos`` and the soaks: the real
``voicecored`` (port 0, its JSON-lines log in a file and checked live by the invariant checker),
real worker SDK processes (``voicecore worker asr|tts|assistant --engine instant``, or the default
engines), and device clients that speak the XiaoZhi protocol with real Opus and can hang up at
every phase of a turn.

    stack = Stack(Path("/tmp/run"))
    await stack.start()
    result = await device_turn(stack.ws_url, question=3)
    assert result.ok, result.problem
    await stack.stop()                       # then stack.check() → violations of the log's invariants
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from ..asr.instant import question_tone
from ..client.device import Device
from ..launcher.daemon_binary import find_daemon
from .instant_assistant import answer
from .invariants import LogChecker

TOKEN = "fullstack-worker-token"
PACKAGE_PARENT = str(Path(__file__).resolve().parents[2])

# Where a device hangs up (device_turn(hangup=…)): before its hello is answered, while it speaks,
# right after the end of its speech (the ASR final and the assistant's dispatch), at the transcript
# (the reply's dispatch), at `tts start`, at the first audio frame, or never.
PHASES = ["hello", "speaking", "speech-end", "stt", "tts-start", "audio", None]


def daemon_supports(binary: Path, flag: str) -> bool:
    """Whether this voicecored knows ``flag`` (its --help lists it): the journal hook."""
    try:
        out = subprocess.run([str(binary), "--help"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return f"{flag} " in out.stdout + out.stderr


@dataclass
class WorkerProc:
    kind: str
    name: str
    slots: int
    engine: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    extra: list[str] = field(default_factory=list)  # its further command-line options (e.g. --script)
    env: dict[str, str] = field(default_factory=dict)  # its own environment on top of the stack's

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kb(self) -> int:
        return rss_kb(self.proc.pid)

    def fds(self) -> int:
        return fd_count(self.proc.pid)


def rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def fd_count(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


class Stack:
    """The real daemon and real SDK workers. ``workers``: kind → (processes, slots each)."""

    def __init__(self, directory: Path, workers: dict[str, tuple[int, int]] | None = None, engine: str = "instant",
                 daemon_args: list[str] | None = None, journal: bool = True, env: dict[str, str] | None = None) -> None:
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.workers_wanted = workers or {"asr": (1, 4), "assistant": (1, 4), "tts": (1, 4)}
        self.engine = engine
        self.daemon_args = list(daemon_args or [])
        self.journal = journal
        self.env = dict(env or {})
        self.daemon: subprocess.Popen[str] | None = None
        self.port = 0
        self.workers: list[WorkerProc] = []
        self.checker = LogChecker()
        self.log_path = self.dir / "voicecored.log"
        self.journal_path: Path | None = None
        self.entries = 0
        self._lock = threading.Lock()
        self._registered: dict[str, str] = {}  # worker id → name
        self._listening = threading.Event()
        self._reader: threading.Thread | None = None
        self.daemon_restarts = 0
        self.watchers: list[Any] = []  # callables that see every JSON entry of the daemon's log as it comes

    # Starting ------------------------------------------------------------------------------------

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        path = env.get("PYTHONPATH", "")
        env["PYTHONPATH"] = PACKAGE_PARENT + (os.pathsep + path if path else "")
        env.setdefault("VOICECORE_LOG_LEVEL", "WARNING")
        env["VOICECORE_SESSION_DB"] = str(self.dir / "sessions.sqlite3")
        env.update(self.env)
        return env

    async def start(self, timeout: float = 60.0) -> None:
        self.start_daemon()
        for kind, (count, slots) in self.workers_wanted.items():
            for i in range(count):
                self.start_worker(kind, slots, f"{kind}-{i + 1}")
        await self.wait_registered(sum(n for n, _ in self.workers_wanted.values()), timeout)

    def start_daemon(self, port: int = 0) -> None:
        binary = find_daemon("")
        if binary is None:
            raise RuntimeError("voicecored not found: run `make build`")
        argv = [str(binary), "--host", "127.0.0.1", "--port", str(port), "--worker-token", TOKEN, *self.daemon_args]
        if self.journal and daemon_supports(Path(binary), "--journal"):
            # voicecored --journal DIR (docs/journal.md): every event it hands the core, for `voicecore replay`
            self.journal_path = self.dir / "journal"
            argv += ["--journal", str(self.journal_path)]
        self._listening.clear()
        self.daemon = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self._env())
        self._reader = threading.Thread(target=self._read, args=(self.daemon,), daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 20
        while not self._listening.wait(0.05):
            if self.daemon.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"voicecored did not start listening (exit {self.daemon.poll()}); see {self.log_path}")

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stdout is not None
        with open(self.log_path, "a", encoding="utf-8") as log:
            for line in proc.stdout:
                log.write(line)
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                with self._lock:
                    self.entries += 1
                    self.checker.observe(entry)
                    for watch in self.watchers:
                        watch(entry)
                    if entry.get("kind") == "worker.registered":
                        self._registered[str(entry.get("worker"))] = str(entry.get("text", ""))
                    elif entry.get("kind") == "worker.gone":
                        self._registered.pop(str(entry.get("worker")), None)
                if entry.get("event") == "listening":
                    self.port = int(entry["port"])
                    self._listening.set()
            log.flush()

    def start_worker(self, kind: str, slots: int, name: str, engine: str | None = None, extra: list[str] | None = None,
                     env: dict[str, str] | None = None) -> WorkerProc:
        engine = engine or self.engine
        argv = [sys.executable, "-m", "voicecore", "worker", kind, "--hub", f"{self.ws_url}/worker", f"--token={TOKEN}",
                "--name", name, "--slots", str(slots), *(extra or [])]
        if engine != "default":
            argv += ["--engine", engine]
        log_path = self.dir / f"{name}.log"
        proc = subprocess.Popen(argv, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT, env={**self._env(), **(env or {})},
                                start_new_session=True)
        w = WorkerProc(kind, name, slots, engine, proc, log_path, list(extra or []), dict(env or {}))
        self.workers.append(w)
        with self._lock:
            self.checker.slots[name] = {kind: slots}
        return w

    def registered(self) -> dict[str, str]:
        with self._lock:
            return dict(self._registered)

    async def wait_registered(self, count: int, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while len(self.registered()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(self.registered())} of {count} workers registered; see {self.dir}")
            for w in self.workers:
                if w.proc.poll() is not None and w.proc.returncode not in (None, -9, -15):
                    raise RuntimeError(f"worker {w.name} exited with {w.proc.returncode}: {w.log_path.read_text()[-2000:]}")
            await asyncio.sleep(0.05)

    # Faults --------------------------------------------------------------------------------------

    def worker(self, kind: str) -> WorkerProc:
        return next(w for w in self.workers if w.kind == kind and w.proc.poll() is None)

    def kill_worker(self, w: WorkerProc) -> None:
        w.proc.send_signal(signal.SIGKILL)
        w.proc.wait()

    def replace_worker(self, w: WorkerProc) -> WorkerProc:
        """A new process for a killed one (what `voicecore up`'s supervisor does)."""
        if w.proc.poll() is None:
            self.kill_worker(w)
        self.workers.remove(w)
        return self.start_worker(w.kind, w.slots, w.name, w.engine, w.extra, w.env)

    # State ---------------------------------------------------------------------------------------

    def http_get(self, path: str, timeout: float = 5.0) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.http_url + path, timeout=timeout) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def metrics(self) -> dict[str, float]:
        _, text = self.http_get("/metrics")
        out: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                try:
                    out[name] = float(value)
                except ValueError:
                    pass
        return out

    async def quiesce(self, timeout: float = 20.0) -> bool:
        """Waits until the log shows no open job or turn (every device gone); True if it did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = bool(self.checker.jobs) or bool(self.checker.open_turns)
            if not busy:
                await asyncio.sleep(0.3)  # let the last lines arrive
                with self._lock:
                    if not self.checker.jobs and not self.checker.open_turns:
                        return True
            await asyncio.sleep(0.1)
        return False

    def check(self, quiet: bool = True) -> list[Any]:
        with self._lock:
            return list(self.checker.finish(quiet))

    async def stop(self) -> int | None:
        for w in self.workers:
            if w.proc.poll() is None:
                w.proc.send_signal(signal.SIGCONT)
                w.proc.terminate()
        for w in self.workers:
            try:
                w.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                w.proc.kill()
                w.proc.wait()
        code = None
        if self.daemon is not None:
            if self.daemon.poll() is None:
                self.daemon.terminate()
            try:
                code = self.daemon.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.daemon.kill()
                code = self.daemon.wait()
        if self._reader is not None:
            self._reader.join(timeout=5)
        return code


# --- A device ------------------------------------------------------------------------------------


@dataclass
class TurnOutcome:
    question: int
    hangup: str | None
    stt: str = ""
    sentences: list[str] = field(default_factory=list)
    frames: int = 0
    pcm_bytes: int = 0
    complete: bool = False
    alerts: list[dict[str, Any]] = field(default_factory=list)
    problem: str = ""  # why the turn is wrong (empty: as expected)
    turns_done: int = 0  # turns of this connection that ended as expected (the last one's hang-up included)
    seconds: float = 0.0
    first_audio_at: float = 0.0  # time.monotonic() of the last turn's first reply frame (0: none)
    ended_at: float = 0.0        # time.monotonic() of its `tts stop` (0: none)

    @property
    def ok(self) -> bool:
        return not self.problem


_spoken: dict[int, bytes] = {}


def spoken_question(question: int) -> bytes:
    if question not in _spoken:
        from .speech import speak

        _spoken[question] = speak(f"Question {question}.", trim=True)
    return _spoken[question]


def expected_sentences(question: int) -> list[str]:
    return [s.strip() for s in answer(f"question {question}")]


async def device_turn(url: str, question: int, hangup: str | None = None, device_id: str = "fs:00:00:00:00:01",
                      protocol_version: int = 1, abort_at_audio: bool = False, timeout: float = 20.0,
                      turns: int = 1, rng: random.Random | None = None, speech: bool = False) -> TurnOutcome:
    """One connection that asks ``question`` (``turns`` times in a row, the same question), speaking in
    real time; hangs up at phase ``hangup`` (PHASES) of the last turn. A complete turn must have the
    transcript ``question n``, the two expected sentences, and only Opus frames that decode.
    ``speech``: the device says "question n" (eSpeak NG) instead of playing its tone, for the default
    ASR engine; then any transcript and any reply with audio count."""
    out = TurnOutcome(question, hangup)
    loop = asyncio.get_running_loop()
    start = loop.time()
    try:
        device = await Device.open(url, device_id=device_id, client_id="fullstack", protocol_version=protocol_version,
                                   timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - reported as the outcome
        out.problem = f"connect failed: {type(exc).__name__}: {exc}"
        return out
    try:
        await device.send_hello()
        if hangup == "hello":
            return out
        try:
            await device.hello(timeout, send=False)
        except RuntimeError as exc:
            out.problem = str(exc)
            return out
        for turn in range(turns):
            last = turn == turns - 1
            cut = hangup if last else None
            problem = await _one_turn(device, question, cut, abort_at_audio and last, out, timeout, rng, speech)
            if not problem:
                out.turns_done += 1
            if problem or (cut is not None):
                out.problem = problem
                return out
        return out
    except (websockets.ConnectionClosed, asyncio.TimeoutError, OSError) as exc:
        out.problem = f"{type(exc).__name__}: {exc}"
        return out
    finally:
        out.seconds = loop.time() - start
        try:
            # A hang-up without a close handshake half the time.
            await device.close(hang_up=hangup is not None and rng is not None and rng.random() < 0.5)
        except Exception:  # noqa: BLE001
            pass


async def _one_turn(device: Device, question: int, hangup: str | None, abort_at_audio: bool, out: TurnOutcome, timeout: float,
                    rng: random.Random | None, speech: bool = False) -> str:
    loop = asyncio.get_running_loop()
    out.stt, out.sentences, out.frames, out.pcm_bytes, out.complete = "", [], 0, 0, False
    out.first_audio_at = out.ended_at = 0.0
    await device.listen("auto")
    step = device.frame_bytes
    audio = b"\0" * (step * 2) + (spoken_question(question) if speech else question_tone(question, 0.42))
    speech_frames = -(-len(audio) // step)
    answered = asyncio.Event()
    hung = asyncio.Event()

    async def after_frame(i: int) -> bool:
        if hangup == "speaking" and i == speech_frames // 2 + (rng.randrange(3) if rng else 0):
            hung.set()
            return True
        if i == speech_frames and hangup == "speech-end":
            # during the ASR's silence wait, its final, the assistant's dispatch
            await asyncio.sleep((rng.uniform(0.1, 0.5) if rng else 0.3))
            hung.set()
            return True
        return False

    async with device.microphone(audio, answered, speech_frames + int(8000 / device.frame_ms), after_frame):
        deadline = loop.time() + timeout
        while True:
            recv = asyncio.ensure_future(device.recv())
            stop = asyncio.ensure_future(hung.wait())
            done, _ = await asyncio.wait({recv, stop}, timeout=max(0.01, deadline - loop.time()), return_when=asyncio.FIRST_COMPLETED)
            if stop in done:
                recv.cancel()
                await asyncio.gather(recv, return_exceptions=True)
                return ""
            stop.cancel()
            if recv not in done:
                recv.cancel()
                await asyncio.gather(recv, return_exceptions=True)
                return f"no `tts stop` within {timeout} s (stt {out.stt!r}, {out.frames} frames, sentences {out.sentences})"
            try:
                m = recv.result()
            except ValueError as exc:
                return f"a reply frame does not decode: {exc}"
            if isinstance(m, bytes):
                out.pcm_bytes += len(m)
                out.frames += 1
                if out.frames == 1:
                    out.first_audio_at = time.monotonic()
                    if hangup == "audio":
                        return ""
                    if abort_at_audio:
                        await device.abort("wake_word_detected")
                continue
            kind, state = m.get("type"), m.get("state")
            if kind == "stt":
                out.stt = str(m.get("text", ""))
                answered.set()
                if hangup == "stt":
                    return ""
            elif kind == "alert":
                # fail-open when nothing can speak: the turn is over, the device shows the message
                out.alerts.append(m)
                if out.frames == 0:
                    break
            elif kind == "tts" and state == "start":
                answered.set()
                if hangup == "tts-start":
                    return ""
            elif kind == "tts" and state == "sentence_start":
                out.sentences.append(str(m.get("text", "")).strip())
            elif kind == "tts" and state == "stop" and not m.get("pause"):
                out.complete = True
                out.ended_at = time.monotonic()
                break
    if hangup is not None:
        return ""
    if out.alerts and not out.complete:
        return f"alert instead of a reply: {out.alerts[-1].get('message')!r} (stt {out.stt!r})"
    if abort_at_audio:
        return "" if out.frames >= 1 else "aborted turn had no audio"
    if speech:
        return "" if out.stt and out.sentences and out.frames else f"incomplete spoken turn: stt {out.stt!r}, {out.frames} frames, alerts {out.alerts}"
    if out.stt != f"question {question}":
        return f"transcript {out.stt!r}, expected 'question {question}' (alerts {out.alerts})"
    if out.sentences != expected_sentences(question):
        return f"sentences {out.sentences}, expected {expected_sentences(question)}"
    if out.frames == 0 or out.pcm_bytes == 0:
        return "a complete reply without audio"
    return ""
