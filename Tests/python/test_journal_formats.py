"""The journal's event records: the typed events the daemon hands the core (VCJRNL2) replay to the
recorded digest, and a journal of the JSON-event daemon (VCJRNL1) replays through the typed ABI
to the same digest, its "s12" / "w3" ids read as 12 / 3."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import voicecore
from voicecore.coordinator import event_struct
from voicecore.journal import MAGIC, MAGIC_V1, read_segment, replay, write_record

EVENTS = [  # (time, typed event, its JSON as the ABI 2 daemon recorded it, payload)
    (10, {"type": "worker.connected", "worker": 3}, {"type": "worker.connected", "worker": "w3"}, b""),
    (20, {"type": "worker.message", "worker": 3, "message": '{"type":"register","kinds":["asr"],"slots":{"asr":2}}'},
     {"type": "worker.message", "worker": "w3", "message": {"type": "register", "kinds": ["asr"], "slots": {"asr": 2}}}, b""),
    (30, {"type": "device.connected", "session": 12, "device_id": "aa:bb", "protocol_version": 2},
     {"type": "device.connected", "session": "s12", "device_id": "aa:bb", "protocol_version": 2, "authenticated": True}, b""),
    (40, {"type": "device.message", "session": 12, "message": '{"type":"hello","version":2}'},
     {"type": "device.message", "session": "s12", "message": {"type": "hello", "version": 2}}, b""),
    (50, {"type": "device.message", "session": 12, "message": '{"type":"listen","state":"start","mode":"manual"}'},
     {"type": "device.message", "session": "s12", "message": {"type": "listen", "state": "start", "mode": "manual"}}, b""),
    (60, {"type": "device.audio", "session": 12}, {"type": "device.audio", "session": "s12"}, b"\x01\x00" * 320),
    (70, {"type": "device.message", "session": 12, "message": "{oops"},
     {"type": "device.message", "session": "s12", "message": {"type": "teleport"}}, b""),
]


def encode(event: dict, data: bytes) -> bytes:
    """The 'E' record's first part for a typed event (journal.h): the 76-byte head, then the bytes."""
    s, _ = event_struct(event, data)
    body = bytes(s.body[:s.body_len]) if s.body_len else b""
    device = bytes(s.device_id[:s.device_id_len]) if s.device_id_len else b""
    client = bytes(s.client_id[:s.client_id_len]) if s.client_id_len else b""
    path = bytes(s.path[:s.path_len]) if s.path_len else b""
    token = bytes(s.token[:s.token_len]) if s.token_len else b""
    head = struct.pack("<iIQQQQQiIHHQII", s.kind, s.flags, s.session, s.worker, s.job, s.turn, s.timer, s.protocol_version,
                       len(body), len(device), len(client), s.request, len(path), len(token))
    return head + body + device + client + path + token


def write(path: Path, magic: bytes, records: list[tuple[int, bytes, bytes]], digest: int, entries: int) -> None:
    with open(path, "wb") as out:
        out.write(magic)
        header = {"daemon": "test", "library": voicecore.version(), "config": {}, "run": "t", "segment": 0}
        write_record(out, "H", 0, json.dumps(header).encode())
        for t, first, data in records:
            write_record(out, "E", t, first, data)
        end = {"digest": f"{digest:016x}", "entries": entries, "events": len(records), "reason": "closed"}
        write_record(out, "Z", 100, json.dumps(end).encode())


def test_typed_and_json_event_journals_replay_to_one_digest(tmp_path: Path) -> None:
    c = voicecore.Coordinator()
    for t, event, _, data in EVENTS:
        try:
            c.handle(event, t, data)
        except voicecore.RejectedEvent:
            pass  # recorded all the same: the core logged it
    digest, entries = c.digest()
    typed = tmp_path / "typed.vcj"
    write(typed, MAGIC, [(t, encode(e, d), d) for t, e, _, d in EVENTS], digest, entries)
    records, tail = read_segment(typed)
    assert tail.kind == "end" and [r.obj()["type"] for r in records if r.type == "E"][3] == "device.message"
    assert records[4].obj()["message"] == {"type": "hello", "version": 2}  # the frame as the device sent it
    result = replay(typed, say=lambda _: None)
    assert result.ok and result.checks == 1 and result.events == len(EVENTS) and result.rejected == 1

    # The JSON-event daemon's journal of the same run (its last frame was a different bad message,
    # rejected as well): ids "s12" / "w3" are read as 12 / 3 and the digest is the same.
    old = tmp_path / "old.vcj"
    write(old, MAGIC_V1, [(t, json.dumps(j).encode(), d) for t, _, j, d in EVENTS], digest, entries)
    assert read_segment(old)[0][3].obj()["session"] == 12
    result = replay(old, say=lambda _: None)
    assert result.ok and result.checks == 1 and result.rejected == 1
