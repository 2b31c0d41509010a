"""voicecored's event journal (docs/journal.md): read it, and replay it through a fresh Coordinator.

The daemon (``voicecored --journal DIR``) records every event it hands the Coordinator, with the
time it handed it and its binary payload, so a run can be reproduced exactly: the Coordinator is
deterministic. :func:`replay` runs a recorded run again and compares the event-log digest with the
digests the daemon recorded along the way.

File format (also in ``Sources/voicecored/journal.h``): the magic ``VCJRNL2\\n``, then records of a
24-byte little-endian header ``type:u8, 0:u8×3, json_len:u32, data_len:u32, time_us:i64,
crc32:u32`` (CRC-32 of header bytes 0..19 and both parts), then the two parts. Types: ``H`` a
segment's header, ``E`` an event, ``D`` a digest, ``Z`` a segment's end. The first part of ``H``,
``D`` and ``Z`` is a JSON object; of ``E`` the typed event the core was handed (``vc_event``: a
76-byte head of kind, flags, ids and numbers, then the body, device id, client id, path and token), its PCM
the second part. Journals of the JSON-event daemon (``VCJRNL1``) are read too: their events are
converted to the typed events that daemon would hand the core today.
"""

from __future__ import annotations

import json
import re
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable

MAGIC = b"VCJRNL2\n"
MAGIC_V1 = b"VCJRNL1\n"
_EVENT_HEAD = struct.Struct("<iIQQQQQiIHHQII")  # vc_event's kind .. client_id_len, request, path_len, token_len (journal.h)
_EVENT_TYPES = {1: "device.connected", 2: "device.message", 3: "device.audio", 4: "device.playback_done",
                5: "device.disconnected", 6: "text.input", 7: "worker.connected", 8: "worker.message",
                9: "worker.audio", 10: "worker.disconnected", 11: "timer.fired", 12: "config", 13: "admin.request",
                14: "device.language"}
_BODY_KEYS = {"device.message": "message", "worker.message": "message", "device.disconnected": "reason",
              "text.input": "text", "config": "config", "admin.request": "body",
              "device.language": "language"}
_HEAD = struct.Struct("<B3xIIqI")
_NAME = re.compile(r"^journal-(?P<run>.+)-(?P<segment>\d{4,})\.vcj$")


class JournalError(Exception):
    """A journal that cannot be replayed as asked (missing segments, not a journal, ...)."""


@dataclass
class Record:
    type: str
    time_us: int
    json: bytes  # the first part: JSON, or an 'E' record's encoded event
    data: bytes
    path: Path
    offset: int
    version: int = 2

    def obj(self) -> dict[str, Any]:
        """The record as a dict: its JSON, or for an 'E' record the event in the shape of
        docs/events.md (integer ids; a peer's message parsed when it is JSON)."""
        if self.type != "E":
            return json.loads(self.json)
        event = self.event()
        body = _BODY_KEYS.get(event.get("type", ""))
        if body and isinstance(event.get(body), bytes):
            raw = event[body]
            try:
                event[body] = json.loads(raw) if body in ("message", "config", "body") else raw.decode("utf-8")
            except ValueError:
                event[body] = raw.decode("utf-8", "replace")
        return event

    def event(self) -> dict[str, Any]:
        """An 'E' record as the dict :func:`voicecore.coordinator.event_struct` turns back into the
        exact ``vc_event`` the daemon handed the core (bodies as the bytes recorded)."""
        if self.version == 1:
            return _event_of_v1(json.loads(self.json))
        (kind, flags, session, worker, job, turn, timer, version, body_len, device_len, client_len, request,
         path_len, token_len) = _EVENT_HEAD.unpack_from(self.json)
        at = _EVENT_HEAD.size
        body = self.json[at:at + body_len]
        device_id = self.json[at + body_len:at + body_len + device_len].decode("utf-8", "replace")
        client_id = self.json[at + body_len + device_len:at + body_len + device_len + client_len].decode("utf-8", "replace")
        at_path = at + body_len + device_len + client_len
        path = self.json[at_path:at_path + path_len].decode("utf-8", "replace")
        token = self.json[at_path + path_len:at_path + path_len + token_len].decode("utf-8", "replace")
        event: dict[str, Any] = {"type": _EVENT_TYPES.get(kind, f"kind-{kind}")}
        if session:
            event["session"] = session
        if worker:
            event["worker"] = worker
        if job:
            event["job"] = job
        if turn:
            event["turn"] = turn
        if timer:
            event["timer"] = timer
        if kind == 1:
            event.update(device_id=device_id, client_id=client_id, protocol_version=version,
                         authenticated=bool(flags & 1))
            if token:
                event["token"] = token
        if kind == 9:
            event["last"] = bool(flags & 2)
        if kind == 13:
            event.update(request=request, method="POST" if flags & 4 else "GET", path=path)
        if kind == 14:
            event["device_id"] = device_id
        key = _BODY_KEYS.get(event["type"])
        if key:
            event[key] = bytes(body)
        return event


def _event_of_v1(e: dict[str, Any]) -> dict[str, Any]:
    """A JSON event of a VCJRNL1 journal as the typed daemon would give it: "s12" is session 12."""
    out = dict(e)
    for key in ("session", "worker"):
        value = out.get(key)
        if isinstance(value, str) and len(value) > 1 and value[1:].isdigit():
            out[key] = int(value[1:])
    return out


@dataclass
class Tail:
    """How a segment file ends after its last complete record."""

    kind: str  # "end" (at a record boundary), "truncated", "corrupt"
    path: Path
    offset: int


def write_record(out: BinaryIO, type: str, time_us: int, json_bytes: bytes, data: bytes = b"") -> None:
    """Appends one record (the daemon's framing); tests use it to build or alter journals."""
    head = struct.pack("<B3xIIq", ord(type), len(json_bytes), len(data), time_us)
    crc = zlib.crc32(data, zlib.crc32(json_bytes, zlib.crc32(head)))
    out.write(head + struct.pack("<I", crc) + json_bytes + data)


def read_segment(path: Path) -> tuple[list[Record], Tail]:
    """The complete records of one file, and how it ends."""
    buf = Path(path).read_bytes()
    version = 1 if buf.startswith(MAGIC_V1) else 2
    if not buf.startswith(MAGIC) and version == 2:
        if MAGIC.startswith(buf):
            return [], Tail("truncated", Path(path), 0)
        raise JournalError(f"{path} is not a voicecored journal (no {MAGIC!r} magic)")
    records: list[Record] = []
    at = len(MAGIC)
    view = memoryview(buf)
    while at < len(buf):
        if len(buf) - at < _HEAD.size:
            return records, Tail("truncated", Path(path), at)
        kind, json_len, data_len, time_us, crc = _HEAD.unpack_from(buf, at)
        if chr(kind) not in "HEDZ" or buf[at + 1:at + 4] != b"\0\0\0":
            return records, Tail("corrupt", Path(path), at)
        body = at + _HEAD.size
        if len(buf) - body < json_len + data_len:
            return records, Tail("truncated", Path(path), at)
        j = bytes(view[body:body + json_len])
        d = bytes(view[body + json_len:body + json_len + data_len])
        if zlib.crc32(d, zlib.crc32(j, zlib.crc32(view[at:at + 20]))) != crc:
            return records, Tail("corrupt", Path(path), at)
        records.append(Record(chr(kind), time_us, j, d, Path(path), at, version))
        at = body + json_len + data_len
    return records, Tail("end", Path(path), at)


def run_files(target: str | Path, run: str | None = None) -> list[Path]:
    """The segment files of one run, in order: ``target`` is a journal directory (its newest run,
    or ``run``) or any segment file (its run, the files beside it). Raises JournalError when the
    run's first segment is gone (rotated away) or a segment in between is missing."""
    target = Path(target)
    if target.is_dir():
        directory = target
        runs = sorted({m["run"] for p in target.iterdir() if (m := _NAME.match(p.name))})
        if not runs:
            raise JournalError(f"{target} holds no journal files (journal-*.vcj)")
        if run is None:
            run = runs[-1]
        elif run not in runs:
            raise JournalError(f"{target} has no run {run!r}; runs: {', '.join(runs)}")
    else:
        if not target.exists():
            raise JournalError(f"{target}: no such file or directory")
        m = _NAME.match(target.name)
        if not m:
            return [target]  # a lone file, named by hand: replayed as it is
        directory, run = target.parent, m["run"]
    segments = sorted((int(m["segment"]), p) for p in directory.iterdir()
                      if (m := _NAME.match(p.name)) and m["run"] == run)
    numbers = [n for n, _ in segments]
    if numbers[0] != 0:
        raise JournalError(f"run {run} starts at segment {numbers[0]}: segments 0..{numbers[0] - 1} are gone, so the "
                           "Coordinator's state at its start is unknown and it cannot be replayed")
    for a, b in zip(numbers, numbers[1:]):
        if b != a + 1:
            raise JournalError(f"run {run}: segment {a + 1} is missing (between {a} and {b})")
    return [p for _, p in segments]


def parse_time(text: str) -> int:
    """Microseconds from ``90s``, ``250ms``, ``15m``, ``1h``, ``2d03:11:08``, ``03:11:08.5`` or a
    plain number of seconds (the simulator's --until syntax)."""
    t = text.strip()
    bad = ValueError(f"bad time {text!r} (examples: 90s, 250ms, 15m, 1h, 00:01:30.5, 12.5)")
    if ":" in t:
        days = 0
        if "d" in t:
            d, _, t = t.partition("d")
            if not d.isdigit():
                raise bad
            days = int(d)
        parts = t.split(":")
        if len(parts) not in (2, 3):
            raise bad
        seconds = 0.0
        for p in parts:
            try:
                v = float(p)
            except ValueError:
                raise bad from None
            seconds = seconds * 60 + v
        return days * 86_400_000_000 + int(seconds * 1e6)
    for suffix, scale in (("ms", 1e3), ("us", 1.0), ("d", 86_400e6), ("h", 3_600e6), ("m", 60e6), ("s", 1e6), ("", 1e6)):
        if t.endswith(suffix):
            try:
                return int(float(t[:len(t) - len(suffix)] if suffix else t) * scale)
            except ValueError:
                if suffix == "":
                    raise bad from None
    raise bad


def format_time(us: int) -> str:
    """``0d00:01:23.456``, as the simulator prints times."""
    ms = max(us, 0) // 1000
    return f"{ms // 86_400_000}d{ms // 3_600_000 % 24:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


@dataclass
class ReplayResult:
    files: list[Path]
    run: str
    recorded_library: str
    library: str
    events: int = 0
    rejected: int = 0
    checks: int = 0
    digest: int = 0
    entries: int = 0
    span_us: int = 0
    seconds: float = 0.0
    unchecked: int = 0  # events after the last digest record
    ending: str = ""  # "closed", "rotated", "full", "no-end", "truncated", "until"
    tail: Tail | None = None
    mismatch: str | None = None  # the divergence, explained
    corrupt: str | None = None
    notes: list[str] = field(default_factory=list)
    log_compared: int | None = None  # event-log entries compared with voicecored's log (--log)

    @property
    def ok(self) -> bool:
        return self.mismatch is None and self.corrupt is None


def _text_of(r: Record) -> str:
    """An 'E' record as readable text: its event's JSON (binary parts as lengths)."""
    try:
        return json.dumps(r.obj(), ensure_ascii=False)
    except (ValueError, struct.error):
        return r.json.decode("utf-8", "replace")


def _summary_of(r: Record) -> str:
    try:
        e = r.obj()
    except (ValueError, struct.error):
        return r.json[:80].decode("utf-8", "replace")
    data_len = len(r.data)
    who = (f"s{e['session']}" if "session" in e else f"w{e['worker']}" if "worker" in e
           else f"timer {e['timer']}" if "timer" in e else "")
    what = e.get("type", "?")
    message = e.get("message")
    if isinstance(message, dict) and "type" in message:
        what += f" {message['type']}" + (f"/{message['state']}" if isinstance(message.get("state"), str) else "")
    return f"{what} {who}".strip() + (f" ({data_len} bytes)" if data_len else "")


def daemon_log_entries(log_path: Path, run: str) -> list[tuple[int, dict[str, Any]]]:
    """The Coordinator's event-log entries of one journal run, as voicecored wrote them to its
    JSON-lines log, with their line numbers: the lines after the `journal.started` line that names
    the run, up to the next `journal.started`. Raises JournalError when the log has no such run."""
    entries: list[tuple[int, dict[str, Any]]] = []
    inside = False
    with open(log_path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if b'"journal.started"' in raw:
                if inside:
                    break
                inside = f"journal-{run}-".encode() in raw
                continue
            if not inside or b'"seq"' not in raw:
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                continue
            if isinstance(entry, dict) and "seq" in entry and "kind" in entry and "source" not in entry:
                entries.append((number, entry))
    if not inside and not entries:
        raise JournalError(f"{log_path} has no `journal.started` line for run {run}")
    return entries


def replay(target: str | Path, *, run: str | None = None, until_us: int | None = None, trace: str | None = None,
           log: str | Path | None = None, say: Callable[[str], None] = print) -> ReplayResult:
    """Runs a recorded run through a fresh Coordinator and checks every recorded digest. With
    ``trace``, prints that device's (session name, device_id or client_id) or worker's events,
    effects and log entries as they replay; ``until_us`` (relative to the run's start) stops early.
    With ``log`` (voicecored's JSON-lines log of the run), every replayed event-log entry is also
    compared with the one the daemon logged, so a divergence is named at the exact event."""
    from . import _native
    from .coordinator import Coordinator, RejectedEvent, event_struct

    files = run_files(target, run)
    coordinator: Coordinator | None = None
    result: ReplayResult | None = None
    start_us: int | None = None
    recent: list[tuple[int, int, Record]] = []  # events since the last check: (index, time, record)
    last_ok: tuple[int, int] | None = None  # (event index, time) of the last passed check
    # A traced peer by its name ("s12", "w3"), its id (12) or a device's device_id / client_id.
    traced: set[Any] = set()
    if trace:
        traced.add(trace)
        if len(trace) > 1 and trace[0] in "sw" and trace[1:].isdigit():
            traced.add((trace[0], int(trace[1:])))
    logged: list[tuple[int, dict[str, Any]]] | None = None
    log_at = 0  # the next logged entry to compare
    began = time.perf_counter()

    def compare(entries: list[dict[str, Any]], r: Record) -> bool:
        """The replayed entries of event #result.events against the daemon's log."""
        nonlocal log_at
        assert result is not None and logged is not None
        for entry in entries:
            if log_at >= len(logged):
                return True  # the log ends first (a daemon killed before its log caught up): nothing to compare
            number, want = logged[log_at]
            if entry != want:
                result.mismatch = "\n".join([
                    f"the replayed event log first differs from voicecored's log at entry #{want.get('seq')} "
                    f"(line {number} of {Path(log).name if log else '?'}), written while handling event #{result.events} "
                    f"(t={format_time(r.time_us - (start_us or 0))}, {r.path.name} at byte {r.offset}):",
                    f"    {_summary_of(r)}  {_text_of(r)[:300]}",
                    f"  logged:   {json.dumps(want, ensure_ascii=False)[:300]}",
                    f"  replayed: {json.dumps(entry, ensure_ascii=False)[:300]}"])
                return False
            log_at += 1
        return True

    def check(r: Record, label: str) -> bool:
        nonlocal last_ok
        assert coordinator is not None and result is not None
        want = r.obj()
        digest, entries = coordinator.digest()
        if want.get("events", result.events) != result.events:
            result.mismatch = (f"{label} says {want.get('events')} events were recorded before it, but the replay "
                               f"has read {result.events} ({r.path.name} at byte {r.offset})")
            return False
        if int(want["digest"], 16) == digest and want["entries"] == entries:
            result.checks += 1
            last_ok = (result.events, r.time_us)
            recent.clear()
            return True
        at = format_time(r.time_us - (start_us or 0))
        lines = [f"the replayed event log diverges from the recorded one at {label} ({r.path.name} at byte {r.offset}):",
                 f"  recorded after event #{result.events} (t={at}): digest {want['digest']} over {want['entries']:,} log entries",
                 f"  replayed after event #{result.events}: digest {digest:016x} over {entries:,} log entries"]
        if last_ok is None:
            lines.append(f"  no earlier check agreed: the divergence is in events #1..#{result.events}")
        else:
            lines.append(f"  the last agreeing check was after event #{last_ok[0]} (t={format_time(last_ok[1] - (start_us or 0))}): "
                         f"the first divergence is in events #{last_ok[0] + 1}..#{result.events}:")
        for index, t, rec in recent[:12]:
            lines.append(f"    #{index} t={format_time(t - (start_us or 0))} {_summary_of(rec)}")
        if len(recent) > 12:
            lines.append(f"    ... {len(recent) - 12} more")
        result.mismatch = "\n".join(lines)
        return False

    def show(t: int, arrow: str, text: str) -> None:
        say(f"{format_time(t - (start_us or 0))}  {arrow} {text}")

    def involves(obj: dict[str, Any]) -> bool:
        if not traced:
            return False
        session, worker = obj.get("session"), obj.get("worker")
        if obj.get("type") == "device.language" or obj.get("kind") == "device.language":  # no session: by device id
            return obj.get("device_id", obj.get("text")) in traced
        return (session in traced or worker in traced or ("s", session) in traced or ("w", worker) in traced)

    records_total = 0
    for index, path in enumerate(files):
        records, tail = read_segment(path)
        records_total += len(records)
        for r in records:
            if r.type == "H":
                header = r.obj()
                if coordinator is None:
                    if header.get("segment", 0) != 0:
                        raise JournalError(f"{path.name} is segment {header.get('segment')} of run {header.get('run')}: "
                                           "replay needs the run from its first segment")
                    config = header.get("config") or {}
                    coordinator = Coordinator(json.dumps(config))
                    start_us = r.time_us
                    result = ReplayResult(files, str(header.get("run", "?")), str(header.get("library", "?")), _native.version())
                    if log is not None:
                        logged = daemon_log_entries(Path(log), result.run)
                    if result.recorded_library != result.library:
                        result.notes.append(f"recorded with libvoicecore {result.recorded_library}, replayed with {result.library}: "
                                            "a changed Coordinator may diverge")
                elif not check(r, f"the header of segment {header.get('segment')}"):
                    break
                continue
            if coordinator is None or result is None:
                raise JournalError(f"{path.name} does not start with a header record")
            if until_us is not None and r.time_us - (start_us or 0) > until_us:
                result.ending = "until"
                break
            if r.type == "E":
                result.events += 1
                result.span_us = r.time_us - (start_us or 0)
                recent.append((result.events, r.time_us, r))
                event = r.event()
                if traced:
                    if event.get("type") == "device.connected" and trace in (event.get("device_id"), event.get("client_id")):
                        traced.update({("s", event["session"]), f"s{event['session']}"})
                    show_it = involves(event)
                    if show_it:
                        show(r.time_us, "→", _summary_of(r) + "  " + _text_of(r)[:200])
                    try:
                        effects = coordinator.handle(event, r.time_us, r.data)  # the event as recorded
                    except RejectedEvent as exc:
                        effects = exc.effects
                        result.rejected += 1
                        if show_it:
                            show(r.time_us, "✗", f"rejected: {exc.message}")
                    for e in effects:
                        if involves(e):
                            data = e.pop("data", b"")
                            show(r.time_us, "←", json.dumps(e, ensure_ascii=False)[:200] + (f" ({len(data)} bytes)" if data else ""))
                    entries = coordinator.log()
                    for entry in entries:
                        if involves(entry):
                            show(r.time_us, "·", json.dumps(entry, ensure_ascii=False)[:200])
                    if logged is not None and not compare(entries, r):
                        break
                elif logged is not None:
                    lines: list[bytes] = []
                    struct_, keep = event_struct(event, r.data)
                    if coordinator.feed(struct_, r.time_us, lines) < 0:
                        result.rejected += 1
                    if not compare([json.loads(line) for line in lines], r):
                        break
                else:
                    struct_, keep = event_struct(event, r.data)
                    if coordinator.feed(struct_, r.time_us) < 0:
                        result.rejected += 1
            elif r.type == "D":
                if not check(r, f"digest check #{result.checks + 1}"):
                    break
            elif r.type == "Z":
                if not check(r, f"the end of segment {index}"):
                    break
                result.ending = str(r.obj().get("reason", "closed"))
        else:  # the segment's records all replayed: how does the file end?
            if result is not None:
                result.tail = tail
                if tail.kind == "corrupt":
                    result.corrupt = (f"record #{len(records) + 1} of {path.name} at byte {tail.offset} fails its checksum "
                                      "(the file was altered or damaged); the replay stops before it")
                    break
                if tail.kind == "truncated":
                    result.ending = "truncated"
                    break
                if index == len(files) - 1 and result.ending not in ("closed", "full"):
                    result.ending = "no-end"
                if result.ending == "full":
                    break
            continue
        break
    if result is None or coordinator is None:
        raise JournalError(f"{files[0]} holds no complete header record")
    result.digest, result.entries = coordinator.digest()
    result.unchecked = len(recent) if result.ok else 0
    if logged is not None:
        result.log_compared = log_at
    result.seconds = time.perf_counter() - began
    return result
