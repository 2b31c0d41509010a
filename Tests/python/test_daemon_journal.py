"""Record and replay end to end: the real voicecored records a journal of a few real turns (real
device protocol with Opus, scripted workers on the real worker protocol), and `voicecore replay`
runs it through a fresh Coordinator to the same event-log digest. A tampered journal is a clear
mismatch, a flipped byte a clear corruption, and a journal cut by `kill -9` or mid-record replays
up to its last complete record and says so."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from daemon_harness import ROOT, Daemon, connect_device, hello, next_json
from test_daemon_turns import asr_job, assistant_job, scripted_worker, speak, stop_workers, tts_job

from voicecore.journal import MAGIC, Record, read_segment, run_files, write_record


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    return subprocess.run([sys.executable, "-m", "voicecore", "replay", *args], capture_output=True, text=True,
                          env=env, timeout=120)


async def turns(d: Daemon, count: int, tts_seconds: float = 0.3, wait_for_end: bool = True) -> None:
    """`count` spoken turns on one device, each heard to its end (tts stop)."""
    workers = [await scripted_worker(d, "asr", asr_job), await scripted_worker(d, "assistant", assistant_job),
               await scripted_worker(d, "tts", tts_job(tts_seconds))]
    device = await connect_device(d)
    await device.send(hello(60))
    server_hello = await next_json(device)
    for _ in range(count):
        await device.send(json.dumps({"session_id": server_hello["session_id"], "type": "listen", "state": "start", "mode": "auto"}))
        await speak(device, 1, 60, 8)
        while True:
            msg = await asyncio.wait_for(device.recv(), 30)
            if isinstance(msg, str) and json.loads(msg).get("state") == ("stop" if wait_for_end else "start") \
                    and json.loads(msg)["type"] == "tts":
                break
    await device.send(json.dumps({"type": "listen", "state": "detect", "text": "hello there"}))
    await asyncio.sleep(0.3)
    await device.close()
    await stop_workers(workers)


def record(tmp_path: Path, count: int = 3, *flags: str) -> Path:
    journal = tmp_path / "journal"
    with Daemon("--journal", str(journal), "--journal-digest-every", "16", "--drain-timeout-ms", "0", *flags) as d:
        assert d.coordinator
        started = next(e for e in d.log if e.get("event") == "journal.started")  # logged before `listening`
        assert started["path"].startswith(str(journal))
        asyncio.run(turns(d, count))
    deadline = time.monotonic() + 5  # the log reaches the harness through a pipe: let it catch up
    while not any(e.get("event") == "journal.closed" for e in d.log) and time.monotonic() < deadline:
        time.sleep(0.02)
    (tmp_path / "voicecored.log").write_text("".join(json.dumps(e) + "\n" for e in d.log))
    return journal


def events_of(path: Path) -> list[Record]:
    return read_segment(path)[0]


def rewrite(path: Path, records: list[Record], magic: bytes = MAGIC) -> None:
    with open(path, "wb") as out:
        out.write(magic)
        for r in records:
            write_record(out, r.type, r.time_us, r.json, r.data)


def test_replay_of_real_turns_gives_the_recorded_digest(tmp_path: Path) -> None:
    journal = record(tmp_path, 3)
    files = run_files(journal)
    assert len(files) == 1
    records = events_of(files[0])
    kinds = "".join(r.type for r in records)
    assert kinds[0] == "H" and kinds.endswith("DZ") and kinds.count("D") >= 3, kinds
    end = records[-1].obj()
    assert end["reason"] == "closed"
    events = [r.obj() for r in records if r.type == "E"]
    types = {e["type"] for e in events}
    assert {"worker.connected", "device.connected", "device.message", "device.audio", "worker.audio", "worker.message",
            "device.playback_done", "device.disconnected"} <= types, types
    assert sum(1 for r in records if r.type == "E" and r.data) > 20  # binary payloads (PCM) recorded
    header = records[0].obj()
    assert header["daemon"] == "voicecored" and header["segment"] == 0 and isinstance(header["config"], dict)

    out = replay(str(journal))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"OK: digest {end['digest']} over {end['entries']:,} log entries equals the recorded one" in out.stdout, out.stdout
    assert "the journal ends cleanly" in out.stdout
    assert f"replayed {end['events']:,} events" in out.stdout
    # With the daemon's own log, every event-log entry is compared too.
    logged = replay(str(journal), "--log", str(tmp_path / "voicecored.log"))
    assert logged.returncode == 0, logged.stdout + logged.stderr
    assert f"{end['entries']:,} event-log entries equal those in voicecored's log" in logged.stdout, logged.stdout

    # --trace follows one device (by its session name, "s" and the daemon's id) up to a time.
    session = "s%d" % next(e["session"] for e in events if e["type"] == "device.connected")
    traced = replay(str(files[0]), "--trace", session, "--until", "600s")
    assert traced.returncode == 0, traced.stdout + traced.stderr
    lines = traced.stdout.splitlines()
    assert any(f"→ device.connected {session}" in line for line in lines), traced.stdout[:3000]
    assert any("← " in line and '"device.send"' in line for line in lines)
    assert any("· " in line and '"turn.' in line for line in lines)
    assert not any("worker.connected" in line for line in lines)  # other peers' events are not shown
    early = replay(str(journal), "--trace", session, "--until", "1ms")
    assert early.returncode == 0 and "stopped at --until" in early.stdout and "→" not in early.stdout, early.stdout


def test_tampered_journal_is_a_clear_mismatch(tmp_path: Path) -> None:
    journal = record(tmp_path, 2)
    path = run_files(journal)[0]
    records = events_of(path)
    # Turn the second listen start into a listen stop: the framing stays valid, the run does not.
    # The record holds the device's frame as it sent it; the altered one keeps its length.
    starts = [i for i, r in enumerate(records) if r.type == "E" and r.obj().get("type") == "device.message"
              and r.obj()["message"].get("type") == "listen" and r.obj()["message"].get("state") == "start"]
    assert len(starts) == 2, [r.obj() for r in records if r.type == "E" and b"listen" in r.json]
    victim = records[starts[1]]
    victim.json = re.sub(rb'"state":\s*"start"', lambda m: m.group(0)[:-7] + b' "stop"', victim.json)
    assert victim.obj()["message"]["state"] == "stop"
    rewrite(path, records)
    out = replay(str(journal))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "MISMATCH: the replayed event log diverges from the recorded one" in out.stdout, out.stdout
    assert "the last agreeing check was after event #" in out.stdout
    assert "device.message listen/stop" in out.stdout  # the altered event is named in the window
    # With the daemon's log the divergence is named at the exact event: the altered one.
    exact = replay(str(journal), "--log", str(tmp_path / "voicecored.log"))
    assert exact.returncode == 1, exact.stdout + exact.stderr
    assert "MISMATCH: the replayed event log first differs from voicecored's log at entry #" in exact.stdout, exact.stdout
    altered = sum(1 for r in records[:starts[1] + 1] if r.type == "E")
    assert f"written while handling event #{altered} " in exact.stdout, exact.stdout
    assert "device.message listen/stop s1" in exact.stdout

    # A flipped byte is caught by the record's checksum, naming the record and its offset.
    raw = bytearray(path.read_bytes())
    at = raw.index(b"listen")
    raw[at] = ord("L")
    path.write_bytes(bytes(raw))
    out = replay(str(path))
    assert out.returncode == 1
    assert "CORRUPT: record #" in out.stdout and "fails its checksum" in out.stdout, out.stdout


def test_journal_of_a_killed_daemon_replays_to_its_last_complete_record(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    d = Daemon("--journal", str(journal), "--journal-digest-every", "16")
    try:
        asyncio.run(turns(d, 2))
        time.sleep(0.3)
        os.kill(d.proc.pid, signal.SIGKILL)
        d.proc.wait(10)
    finally:
        d.stop()
    path = run_files(journal)[0]
    records, tail = read_segment(path)
    assert tail.kind == "end" and records[-1].type != "Z"  # whole records, no closing one
    out = replay(str(journal))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "ends without a closing record" in out.stdout and "replayed up to the last complete record" in out.stdout
    assert "OK: digest" in out.stdout and "digest checks passed" in out.stdout

    # Cut inside the last record (a crash mid-write): the complete ones replay, and it says where.
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size - 5)
    out = replay(str(journal))
    assert out.returncode == 0, out.stdout + out.stderr
    last = records[-1]
    assert f"the journal ends inside a record at byte {last.offset} of {path.name}" in out.stdout, out.stdout
    assert "OK: digest" in out.stdout


def test_sigterm_while_the_daemon_starts_still_closes_its_journal(tmp_path: Path) -> None:
    """A supervisor may stop a daemon it has just (re)started: a SIGTERM that lands once the journal
    is open but before the port listens still drains, and the journal ends with its closing record."""
    from daemon_harness import daemon_binary
    for attempt in range(3):
        journal = tmp_path / f"journal-{attempt}"
        proc = subprocess.Popen([str(daemon_binary()), "--port", "0", "--worker-token", "t", "--journal", str(journal)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 30
            while not (journal.is_dir() and any(journal.glob("*.vcj"))):  # the hub opened it: SIGTERM now
                assert time.monotonic() < deadline and proc.poll() is None, "the daemon never opened its journal"
                time.sleep(0.0005)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
        out = replay(str(journal))
        assert out.returncode == 0 and "ends cleanly" in out.stdout, out.stdout + out.stderr


def test_rotation_splits_a_run_and_replay_follows_its_segments(tmp_path: Path) -> None:
    journal = tmp_path / "journal"
    with Daemon("--journal", str(journal), "--journal-digest-every", "16", "--journal-max-mb", "1",
                "--drain-timeout-ms", "0") as d:
        asyncio.run(turns(d, 1, tts_seconds=30.0, wait_for_end=False))  # 30 s of 24 kHz PCM: 1.4 MB recorded
    files = run_files(journal)
    assert len(files) >= 2, files
    headers = [events_of(f)[0].obj() for f in files]
    assert [h["segment"] for h in headers] == list(range(len(files)))
    assert headers[1]["events"] > 0
    out = replay(str(files[-1]))  # any file of the run replays the run from its first segment
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"{len(files)} file(s)" in out.stdout and "OK: digest" in out.stdout

    # Without its first segment a run cannot be replayed: said plainly.
    files[0].unlink()
    out = replay(str(journal))
    assert out.returncode == 2
    assert "starts at segment 1" in out.stderr and "cannot be replayed" in out.stderr, out.stderr


def test_a_journal_that_cannot_be_opened_is_logged_and_the_daemon_serves_without_it(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with Daemon("--journal", str(blocker / "journal")) as d:
        failed = next(e for e in d.log if e.get("event") == "journal.failed")
        assert "journal directory" in failed["message"] and str(blocker) in failed["message"]
        assert not any(e.get("event") == "journal.started" for e in d.log)

        async def serve() -> None:  # a device still gets its hello
            device = await connect_device(d)
            await device.send(hello(60))
            assert (await next_json(device))["type"] == "hello"
            await device.close()
        asyncio.run(serve())
