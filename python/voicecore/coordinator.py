"""The Coordinator (libvoicecore): the deterministic state machine behind every turn.

Drive it with the same JSON events the daemon sends (docs/events.md) and a monotonic time in
microseconds; it answers with effects (``device.send``, ``device.audio`` with PCM under ``"data"``,
``worker.send``, ``timer.set`` ...) and writes every transition to its event log::

    c = Coordinator({"heartbeat_ms": 1000})
    effects = c.handle({"type": "worker.connected", "worker": "w1"}, now_us=0)
    for entry in c.log():
        print(entry["kind"])
"""

from __future__ import annotations

import ctypes
import json
from typing import Any, Iterator, Mapping

from . import _native

Effect = dict[str, Any]


class _CEffect(ctypes.Structure):
    _fields_ = [
        ("json", ctypes.c_void_p),
        ("json_len", ctypes.c_size_t),
        ("data", ctypes.c_void_p),
        ("data_len", ctypes.c_size_t),
    ]


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
    l.vc_coordinator_handle.argtypes = [
        ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int64,
    ]
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

    def handle(self, event: Mapping[str, Any] | str | bytes, now_us: int, data: bytes = b"") -> list[Effect]:
        """Handles one event (a dict, or its JSON as str or bytes) at host time ``now_us`` and
        returns its effects, in order. A binary payload of an effect (PCM16LE) is under ``"data"``
        as ``bytes``. Raises ``RejectedEvent`` when the event is invalid (the state is then
        unchanged)."""
        lib = _native.lib()
        h = self._h()
        raw = event if isinstance(event, bytes) else (event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)).encode()
        code = lib.vc_coordinator_handle(h, raw, len(raw), bytes(data) if data else None, len(data), int(now_us))
        message = lib.vc_coordinator_errmsg(h) if code < 0 else None
        effects = self._drain_effects()
        if code < 0:
            raise RejectedEvent(code, (message or b"").decode("utf-8", "replace") or _native.strerror(code), effects)
        return effects

    def feed(self, event_json: bytes, now_us: int, data: bytes = b"", log_lines: list[bytes] | None = None) -> int:
        """Handles one event given as raw JSON bytes, exactly as the daemon hands it over, and
        discards its effects (and its log lines, unless ``log_lines`` is given: they are appended
        to it, undecoded): the fast path of ``voicecore replay``. Returns the status (negative
        when the event was rejected; the state is then unchanged)."""
        lib = _native.lib()
        h = self._h()
        code = lib.vc_coordinator_handle(h, event_json, len(event_json), data if data else None, len(data), int(now_us))
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
            effect: Effect = json.loads(ctypes.string_at(e.json, e.json_len).decode("utf-8"))
            if e.data_len:
                effect["data"] = ctypes.string_at(e.data, e.data_len)
            out.append(effect)

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
