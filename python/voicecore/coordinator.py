"""The Coordinator (libvoicecore): the deterministic state machine behind every turn.

Drive it with events and a monotonic time in microseconds; it answers with effects and writes
every transition to its event log. Events and effects cross the C ABI as typed structs
(``vc_event`` / ``vc_effect``, include/voicecore.h) with integer ids; this binding builds them from
dicts shaped like docs/events.md and turns effects back into dicts::

    c = Coordinator({"heartbeat_ms": 1000})
    c.handle({"type": "worker.connected", "worker": 1}, now_us=0)
    effects = c.handle({"type": "worker.message", "worker": 1,
                        "message": {"type": "register", "kinds": ["asr"]}}, now_us=0)
    for entry in c.log():
        print(entry["kind"])

Session and worker ids are the caller's integers (1..2**63-1), the core's ids too; the core prints
them as ``"s12"`` / ``"w3"`` in its log and in the messages it makes for devices.
"""

from __future__ import annotations

import ctypes
import enum
import json
from typing import Any, Iterator, Mapping

from . import _native

Effect = dict[str, Any]


class EventKind(enum.IntEnum):
    """``vc_event_kind``."""

    DEVICE_CONNECTED = 1
    DEVICE_MESSAGE = 2
    DEVICE_AUDIO = 3
    DEVICE_PLAYBACK_DONE = 4
    DEVICE_DISCONNECTED = 5
    TEXT_INPUT = 6
    WORKER_CONNECTED = 7
    WORKER_MESSAGE = 8
    WORKER_AUDIO = 9
    WORKER_DISCONNECTED = 10
    TIMER_FIRED = 11
    CONFIG = 12
    ADMIN_REQUEST = 13
    DEVICE_LANGUAGE = 14


class EffectKind(enum.IntEnum):
    """``vc_effect_kind``."""

    DEVICE_SEND = 1
    DEVICE_AUDIO = 2
    DEVICE_AUDIO_END = 3
    DEVICE_FLUSH = 4
    DEVICE_CLOSE = 5
    WORKER_SEND = 6
    WORKER_AUDIO = 7
    WORKER_CLOSE = 8
    TIMER_SET = 9
    TIMER_CANCEL = 10
    HTTP_RESPOND = 11
    DEVICE_PAUSE = 12
    DEVICE_RESUME = 13


EVENT_AUTHENTICATED = 1
"""``VC_EVENT_AUTHENTICATED``."""
EVENT_LAST = 2
"""``VC_EVENT_LAST``."""
EVENT_POST = 4
"""``VC_EVENT_POST``."""
EFFECT_HELLO = 1
"""``VC_EFFECT_HELLO``."""
EFFECT_TTS_START = 2
"""``VC_EFFECT_TTS_START``."""
KINDS = ("asr", "tts", "assistant", "llm")
"""``VC_KIND_*``: worker kinds by index."""

_EVENT_NAMES = {
    "device.connected": EventKind.DEVICE_CONNECTED, "device.message": EventKind.DEVICE_MESSAGE,
    "device.audio": EventKind.DEVICE_AUDIO, "device.playback_done": EventKind.DEVICE_PLAYBACK_DONE,
    "device.disconnected": EventKind.DEVICE_DISCONNECTED, "text.input": EventKind.TEXT_INPUT,
    "worker.connected": EventKind.WORKER_CONNECTED, "worker.message": EventKind.WORKER_MESSAGE,
    "worker.audio": EventKind.WORKER_AUDIO, "worker.disconnected": EventKind.WORKER_DISCONNECTED,
    "timer.fired": EventKind.TIMER_FIRED, "config": EventKind.CONFIG, "admin.request": EventKind.ADMIN_REQUEST,
    "device.language": EventKind.DEVICE_LANGUAGE,
}
_EFFECT_NAMES = {
    EffectKind.DEVICE_SEND: "device.send", EffectKind.DEVICE_AUDIO: "device.audio",
    EffectKind.DEVICE_AUDIO_END: "device.audio_end", EffectKind.DEVICE_FLUSH: "device.flush",
    EffectKind.DEVICE_CLOSE: "device.close", EffectKind.WORKER_SEND: "worker.send",
    EffectKind.WORKER_AUDIO: "worker.audio", EffectKind.WORKER_CLOSE: "worker.close",
    EffectKind.TIMER_SET: "timer.set", EffectKind.TIMER_CANCEL: "timer.cancel",
    EffectKind.HTTP_RESPOND: "http.respond", EffectKind.DEVICE_PAUSE: "device.pause",
    EffectKind.DEVICE_RESUME: "device.resume",
}


class CEvent(ctypes.Structure):
    """``vc_event``."""

    _fields_ = [
        ("kind", ctypes.c_int32), ("flags", ctypes.c_uint32),
        ("session", ctypes.c_uint64), ("worker", ctypes.c_uint64), ("job", ctypes.c_uint64),
        ("turn", ctypes.c_uint64), ("timer", ctypes.c_uint64),
        ("protocol_version", ctypes.c_int32), ("reserved", ctypes.c_int32),
        ("body", ctypes.c_char_p), ("body_len", ctypes.c_size_t),
        ("device_id", ctypes.c_char_p), ("device_id_len", ctypes.c_size_t),
        ("client_id", ctypes.c_char_p), ("client_id_len", ctypes.c_size_t),
        ("data", ctypes.c_char_p), ("data_len", ctypes.c_size_t),
        ("request", ctypes.c_uint64), ("path", ctypes.c_char_p), ("path_len", ctypes.c_size_t),
        ("token", ctypes.c_char_p), ("token_len", ctypes.c_size_t),
    ]


class _CEffect(ctypes.Structure):
    _fields_ = [
        ("kind", ctypes.c_int32), ("flags", ctypes.c_uint32),
        ("session", ctypes.c_uint64), ("worker", ctypes.c_uint64), ("job", ctypes.c_uint64),
        ("turn", ctypes.c_uint64), ("timer", ctypes.c_uint64), ("at_us", ctypes.c_int64),
        ("segment", ctypes.c_int32), ("sample_rate", ctypes.c_int32), ("code", ctypes.c_int32),
        ("job_kind", ctypes.c_int32),
        ("body", ctypes.c_void_p), ("body_len", ctypes.c_size_t),
        ("data", ctypes.c_void_p), ("data_len", ctypes.c_size_t),
        ("request", ctypes.c_uint64),
    ]


class _CCounters(ctypes.Structure):
    _fields_ = [
        ("placement_failures", ctypes.c_uint64 * 4), ("refusals", ctypes.c_uint64 * 4), ("degraded", ctypes.c_int32 * 4),
        ("jobs_reconciled", ctypes.c_uint64), ("leaks_marked", ctypes.c_uint64), ("recycles", ctypes.c_uint64),
        ("progress_timeouts", ctypes.c_uint64), ("heartbeat_timeouts", ctypes.c_uint64),
    ]


def _uint(value: Any) -> int:
    """An id or number for a struct field; what cannot be one becomes 0, which the core rejects
    where the field is required (so a bad dict is an ``input.rejected`` like any bad event)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value >= 2**64:
        return 0
    return value


def _bytes(value: Any) -> bytes:
    """A body: text as UTF-8, bytes as they are, anything else as its JSON."""
    if value is None:
        return b""
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def event_struct(event: Mapping[str, Any], data: bytes = b"") -> tuple[CEvent, list[bytes]]:
    """The ``vc_event`` for a dict of docs/events.md (and the buffers it points to, which must
    outlive the call). Ids are integers: ``session``, ``worker``; ``message`` (a peer's message:
    a dict, or its text as str/bytes), ``reason``, ``text``, ``config`` and ``language`` (of a
    ``device.language``, with its ``device_id``) become the body."""
    kind = _EVENT_NAMES.get(event.get("type"), 0) if isinstance(event.get("type"), str) else 0
    e = CEvent()
    e.kind = int(kind)
    e.session = _uint(event.get("session"))
    e.worker = _uint(event.get("worker"))
    e.job = _uint(event.get("job"))
    e.turn = _uint(event.get("turn"))
    e.timer = _uint(event.get("timer"))
    keep: list[bytes] = []

    def put(name: str, value: bytes) -> None:
        keep.append(value)
        setattr(e, name, value)
        setattr(e, name + "_len", len(value))

    if kind == EventKind.DEVICE_CONNECTED:
        version = event.get("protocol_version", 1)
        e.protocol_version = version if isinstance(version, int) and not isinstance(version, bool) and -2**31 <= version < 2**31 else -1
        e.flags = 0 if event.get("authenticated", True) is False else EVENT_AUTHENTICATED
        put("device_id", _bytes(event.get("device_id", "")))
        put("client_id", _bytes(event.get("client_id", "")))
        put("token", _bytes(event.get("token", "")))
    elif kind == EventKind.DEVICE_LANGUAGE:
        put("device_id", _bytes(event.get("device_id", "")))
    elif kind == EventKind.WORKER_AUDIO:
        e.flags = EVENT_LAST if event.get("last") is True else 0
    elif kind == EventKind.ADMIN_REQUEST:
        e.request = _uint(event.get("request"))
        e.flags = EVENT_POST if event.get("method") == "POST" else 0
        put("path", _bytes(event.get("path", "")))
    body = {EventKind.DEVICE_MESSAGE: "message", EventKind.WORKER_MESSAGE: "message", EventKind.DEVICE_DISCONNECTED: "reason",
            EventKind.TEXT_INPUT: "text", EventKind.CONFIG: "config", EventKind.ADMIN_REQUEST: "body",
            EventKind.DEVICE_LANGUAGE: "language"}.get(kind)
    if body:
        put("body", _bytes(event.get(body)))
    if data:
        put("data", bytes(data))
    return e, keep


TALLY_BUCKETS = 14
"""``VC_TALLY_BUCKETS``: the stage histograms have this many bounded buckets plus one above."""
TALLY_BOUNDS_US = (10, 50, 100, 500, 1000, 5000, 10000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000)
"""``VC_TALLY_BOUNDS_US``: the stage buckets' upper bounds in microseconds."""
_TALLY_TABLES = {"events": 0, "outcomes": 1, "stages": 2, "usage": 3}


class _CTally(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("count", ctypes.c_uint64),
        ("sum_us", ctypes.c_int64),
        ("buckets", ctypes.c_uint64 * (TALLY_BUCKETS + 1)),
    ]


@_native.declares
def _declare(l: ctypes.CDLL) -> None:
    l.vc_coordinator_new.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]
    l.vc_coordinator_new.restype = ctypes.c_int
    l.vc_coordinator_free.argtypes = [ctypes.c_void_p]
    l.vc_coordinator_free.restype = None
    l.vc_coordinator_errmsg.argtypes = [ctypes.c_void_p]
    l.vc_coordinator_errmsg.restype = ctypes.c_char_p
    l.vc_coordinator_handle.argtypes = [ctypes.c_void_p, ctypes.POINTER(CEvent), ctypes.c_int64]
    l.vc_coordinator_handle.restype = ctypes.c_int
    l.vc_coordinator_next_effect.argtypes = [ctypes.c_void_p, ctypes.POINTER(_CEffect)]
    l.vc_coordinator_next_effect.restype = ctypes.c_int
    l.vc_coordinator_next_log.argtypes = [
        ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
    ]
    l.vc_coordinator_next_log.restype = ctypes.c_int
    l.vc_coordinator_digest.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_uint64)]
    l.vc_coordinator_digest.restype = ctypes.c_int
    l.vc_coordinator_health.argtypes = [
        ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t),
    ]
    l.vc_coordinator_health.restype = ctypes.c_int
    l.vc_coordinator_tally.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.POINTER(_CTally)]
    l.vc_coordinator_tally.restype = ctypes.c_int
    l.vc_coordinator_counters.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.POINTER(_CCounters)]
    l.vc_coordinator_counters.restype = ctypes.c_int


class RejectedEvent(_native.Error):
    """An event the Coordinator rejected (also logged as ``input.rejected``). ``effects`` holds
    what it produced anyway (an ``error`` answer to a worker, for instance)."""

    def __init__(self, code: int, message: str, effects: list[Effect]) -> None:
        super().__init__(code, message)
        self.effects = effects


class Coordinator:
    """A Coordinator with its own sessions, workers, timers and event log.

    ``config``: a dict (or JSON string) of options from docs/coordinator.md; unknown keys raise
    ``voicecore.Error``.
    """

    def __init__(self, config: Mapping[str, Any] | str | None = None) -> None:
        lib = _native.lib()
        text = config if isinstance(config, str) else json.dumps(dict(config or {}))
        handle = ctypes.c_void_p()
        code = lib.vc_coordinator_new(ctypes.byref(handle), text.encode())
        self._handle: int | None = handle.value
        if code < 0:
            message = lib.vc_coordinator_errmsg(self._handle) if self._handle else None
            self.close()
            _native.check(code, lambda: message)

    def close(self) -> None:
        """Releases the coordinator (also done when it is garbage-collected)."""
        if self._handle:
            _native.lib().vc_coordinator_free(self._handle)
            self._handle = None

    def __del__(self) -> None:
        self.close()

    def __enter__(self) -> "Coordinator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _h(self) -> int:
        if not self._handle:
            raise _native.Error(-4, "the coordinator is closed")
        return self._handle

    def handle(self, event: Mapping[str, Any], now_us: int, data: bytes = b"") -> list[Effect]:
        """Handles one event, a dict of docs/events.md (integer ``session`` / ``worker`` ids; a
        peer's ``message`` as a dict or as the text it sent), with its binary payload ``data``
        (PCM16LE) at host time ``now_us``, and returns its effects, in order, as dicts. Raises
        ``RejectedEvent`` when the event is invalid (the state is then unchanged; its ``effects``
        hold the core's answer to the peer)."""
        struct, keep = event_struct(event, data)
        return self.handle_event(struct, now_us)

    def handle_event(self, event: CEvent, now_us: int) -> list[Effect]:
        """Handles one ``vc_event`` as it is (see :func:`event_struct`) and returns its effects."""
        lib = _native.lib()
        h = self._h()
        code = lib.vc_coordinator_handle(h, ctypes.byref(event), int(now_us))
        message = lib.vc_coordinator_errmsg(h) if code < 0 else None
        effects = self._drain_effects()
        if code < 0:
            raise RejectedEvent(code, (message or b"").decode("utf-8", "replace") or _native.strerror(code), effects)
        return effects

    def feed(self, event: CEvent, now_us: int, log_lines: list[bytes] | None = None) -> int:
        """Handles one ``vc_event`` exactly as the daemon handed it over and discards its effects
        (and its log lines, unless ``log_lines`` is given: they are appended to it, undecoded):
        the fast path of ``voicecore replay``. Returns the status (negative when the event was
        rejected; the state is then unchanged)."""
        lib = _native.lib()
        h = self._h()
        code = lib.vc_coordinator_handle(h, ctypes.byref(event), int(now_us))
        e = _CEffect()
        while lib.vc_coordinator_next_effect(h, ctypes.byref(e)) == 1:
            pass
        line, size = ctypes.c_void_p(), ctypes.c_size_t()
        while lib.vc_coordinator_next_log(h, ctypes.byref(line), ctypes.byref(size)) == 1:
            if log_lines is not None:
                log_lines.append(ctypes.string_at(line.value, size.value))
        return int(code)

    def _drain_effects(self) -> list[Effect]:
        lib = _native.lib()
        h = self._h()
        out: list[Effect] = []
        e = _CEffect()
        while True:
            code = _native.check(lib.vc_coordinator_next_effect(h, ctypes.byref(e)), lambda: lib.vc_coordinator_errmsg(h))
            if code == 0:
                return out
            out.append(_effect_dict(e))

    def logs(self) -> Iterator[dict[str, Any]]:
        """Drains the event log lazily, one entry (a dict, docs/events.md) at a time."""
        lib = _native.lib()
        line = ctypes.c_void_p()
        size = ctypes.c_size_t()
        while True:
            h = self._h()
            code = _native.check(
                lib.vc_coordinator_next_log(h, ctypes.byref(line), ctypes.byref(size)), lambda: lib.vc_coordinator_errmsg(h)
            )
            if code == 0:
                return
            yield json.loads(ctypes.string_at(line.value, size.value).decode("utf-8"))

    def digest(self) -> tuple[int, int]:
        """The event log's running digest and the number of entries logged so far (drained or
        not). Equal configs and equal events at equal times give equal digests; ``voicecore
        replay`` compares it with the one voicecored's journal recorded."""
        lib = _native.lib()
        h = self._h()
        digest, entries = ctypes.c_uint64(), ctypes.c_uint64()
        _native.check(lib.vc_coordinator_digest(h, ctypes.byref(digest), ctypes.byref(entries)), lambda: lib.vc_coordinator_errmsg(h))
        return digest.value, entries.value

    def log(self) -> list[dict[str, Any]]:
        """Drains the pending event-log entries."""
        return list(self.logs())

    def health(self, now_us: int) -> dict[str, Any]:
        """The core's health verdict at ``now_us`` (docs/coordinator.md, "Health"): ``status``
        (``ok`` or ``degraded``), ``reasons``, per-kind ``kinds`` and ``counters``. A query: the
        state and the log are unchanged."""
        lib = _native.lib()
        text = ctypes.c_void_p()
        size = ctypes.c_size_t()
        h = self._h()
        _native.check(
            lib.vc_coordinator_health(h, now_us, ctypes.byref(text), ctypes.byref(size)), lambda: lib.vc_coordinator_errmsg(h)
        )
        result: dict[str, Any] = json.loads(ctypes.string_at(text.value, size.value).decode("utf-8"))
        return result

    def counters(self, now_us: int) -> dict[str, Any]:
        """The counters the core keeps and each kind's verdict at ``now_us``
        (``vc_coordinator_counters``): ``placement_failures`` / ``refusals`` / ``degraded`` by
        kind, ``jobs_reconciled``, ``leaks_marked``, ``recycles``, ``progress_timeouts``,
        ``heartbeat_timeouts``. A query: the state and the log are unchanged."""
        lib = _native.lib()
        h = self._h()
        c = _CCounters()
        _native.check(lib.vc_coordinator_counters(h, int(now_us), ctypes.byref(c)), lambda: lib.vc_coordinator_errmsg(h))
        return {
            "placement_failures": dict(zip(KINDS, c.placement_failures)), "refusals": dict(zip(KINDS, c.refusals)),
            "degraded": {k: bool(d) for k, d in zip(KINDS, c.degraded)}, "jobs_reconciled": c.jobs_reconciled,
            "leaks_marked": c.leaks_marked, "recycles": c.recycles, "progress_timeouts": c.progress_timeouts,
            "heartbeat_timeouts": c.heartbeat_timeouts,
        }

    def tally(self, table: str) -> dict[str, Any]:
        """The counts the core keeps over every log entry (``vc_coordinator_tally``). ``table``:
        ``"events"`` ({kind: entries}, every kind), ``"outcomes"`` ({turn.ended reason: turns}) or
        ``"stages"`` ({turn.mark stage: {"count", "sum_us", "buckets"}}, buckets per
        ``TALLY_BOUNDS_US`` plus one above) or ``"usage"`` ({(agent, model): {"tokens", "turns",
        "estimated"}}, LLM usage of assistant turns). A query: the state and the log are unchanged."""
        lib = _native.lib()
        h = self._h()
        if table not in _TALLY_TABLES:
            raise ValueError(f"unknown tally table {table!r}: one of {sorted(_TALLY_TABLES)}")
        out: dict[str, Any] = {}
        row = _CTally()
        index = 0
        while _native.check(lib.vc_coordinator_tally(h, _TALLY_TABLES[table], index, ctypes.byref(row)), lambda: lib.vc_coordinator_errmsg(h)):
            name = (row.name or b"").decode("utf-8")
            if table == "stages":
                out[name] = {"count": row.count, "sum_us": row.sum_us, "buckets": list(row.buckets)}
            elif table == "usage":
                agent, _, model = name.partition("\t")
                out[(agent, model)] = {"tokens": row.count, "turns": row.buckets[0], "estimated": row.buckets[1]}
            else:
                out[name] = row.count
            index += 1
        return out


def _effect_dict(e: _CEffect) -> Effect:
    """A ``vc_effect`` as a dict: ``type`` (``device.send``, ``device.audio``, ...), the ids and
    numbers the kind carries, ``message`` (a text frame for a peer, parsed), ``reason`` (a close's),
    ``data`` (PCM16LE bytes)."""
    kind = EffectKind(e.kind)
    out: Effect = {"type": _EFFECT_NAMES[kind]}
    body = ctypes.string_at(e.body, e.body_len).decode("utf-8") if e.body else None
    if kind == EffectKind.HTTP_RESPOND:
        out.update(request=e.request, status=e.code, body=json.loads(body) if body else None)
        return out
    if kind in (EffectKind.TIMER_SET, EffectKind.TIMER_CANCEL):
        out["timer"] = e.timer
        if kind == EffectKind.TIMER_SET:
            out["at_us"] = e.at_us
        return out
    if kind in (EffectKind.WORKER_SEND, EffectKind.WORKER_AUDIO, EffectKind.WORKER_CLOSE):
        out["worker"] = e.worker
        if e.job:
            out["job"] = e.job
    else:
        out["session"] = e.session
    if kind in (EffectKind.DEVICE_AUDIO, EffectKind.DEVICE_AUDIO_END):
        out["turn"] = e.turn
    if kind == EffectKind.DEVICE_AUDIO:
        out["segment"] = e.segment
        out["sample_rate"] = e.sample_rate
    if kind in (EffectKind.DEVICE_CLOSE, EffectKind.WORKER_CLOSE):
        out["code"] = e.code
        out["reason"] = body or ""
    elif body is not None:
        out["message"] = json.loads(body)
    if e.flags:
        out["flags"] = e.flags
    if e.job_kind >= 0:
        out["job_kind"] = KINDS[e.job_kind]
    if e.data_len:
        out["data"] = ctypes.string_at(e.data, e.data_len)
    return out
