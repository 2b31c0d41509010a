"""The Simulator (libvoicecore): the real Coordinator and Scheduler against a simulated voice fleet
on a virtual clock, with faults and invariants (docs/simulator.md)::

    report = voicecore.simulate(seed=42, devices=50, duration="1d", faults="harsh")
    print(report.passed, report.speedup, report["ttfa_ms"]["p99"])
    if not report.passed:
        print(report.violation["invariant"], report.violation["command"])

The library reads no clock; ``simulate`` measures the real time around the run.
"""

from __future__ import annotations

import ctypes
import json
import time
from typing import Any, Iterator, Mapping

from . import _native

INJECTABLE_BUGS = ("audio-after-barge-in", "tts-segment-twice", "leaked-slot", "stuck-speaking", "lost-reconnect",
                   "heartbeat-without-load", "undeclared-languages", "undeclared-refining")


@_native.declares
def _declare(l: ctypes.CDLL) -> None:
    l.vc_sim_new.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p]
    l.vc_sim_new.restype = ctypes.c_int
    l.vc_sim_free.argtypes = [ctypes.c_void_p]
    l.vc_sim_free.restype = None
    l.vc_sim_errmsg.argtypes = [ctypes.c_void_p]
    l.vc_sim_errmsg.restype = ctypes.c_char_p
    l.vc_sim_run.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), ctypes.POINTER(ctypes.c_size_t)]
    l.vc_sim_run.restype = ctypes.c_int


class SimReport(Mapping[str, Any]):
    """The report of one run: the library's JSON report (a read-only mapping) plus the real time
    the run took, measured here."""

    def __init__(self, data: dict[str, Any], real_s: float) -> None:
        self._data = data
        self.real_s = real_s

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    @property
    def passed(self) -> bool:
        return self._data["violation"] is None

    @property
    def violation(self) -> dict[str, Any] | None:
        return self._data["violation"]

    @property
    def sim_s(self) -> float:
        return self._data["sim_us"] / 1e6

    @property
    def speedup(self) -> float:
        return self.sim_s / self.real_s if self.real_s > 0 else float("inf")

    @property
    def hash(self) -> str:
        return self._data["hash"]

    def to_dict(self) -> dict[str, Any]:
        return dict(self._data, real_s=self.real_s, speedup=self.speedup)


def simulate(
    seed: int = 1,
    devices: int = 50,
    workers: Mapping[str, int] | None = None,
    duration: str = "1h",
    faults: str = "moderate",
    *,
    liveness: bool = False,
    buggify: bool = True,
    preemption: bool = True,
    backchannels: float = 0.0,
    until: str | None = None,
    trace: str | None = None,
    inject_bug: str | None = None,
    ttfa_budget_ms: int | None = None,
    last_events: int | None = None,
    turns_per_minute: int = 0,
    says_per_hour: float | None = None,
    chinese: float = 0.0,
    english_only_asr: int = 0,
) -> SimReport:
    """Runs one simulation and returns its report. ``workers`` counts per kind (asr, assistant,
    tts, gpu); durations are strings like ``"30d"``, ``"1h"``, ``"2d03:11:08"``. Raises
    ``voicecore.Error`` for bad options."""
    options: dict[str, Any] = {"seed": seed, "devices": devices, "duration": duration, "faults": faults,
                               "liveness": liveness, "buggify": buggify, "preemption": preemption}
    if backchannels:
        options["backchannels"] = backchannels
    if workers is not None:
        options["workers"] = dict(workers)
    if until is not None:
        options["until"] = until
    if trace is not None:
        options["trace"] = trace
    if inject_bug is not None:
        options["inject_bug"] = inject_bug
    if ttfa_budget_ms is not None:
        options["ttfa_budget_ms"] = ttfa_budget_ms
    if last_events is not None:
        options["last_events"] = last_events
    if turns_per_minute:
        options["turns_per_minute"] = turns_per_minute
    if says_per_hour is not None:
        options["says_per_hour"] = says_per_hour
    if chinese:
        options["chinese"] = chinese
    if english_only_asr:
        options["english_only_asr"] = english_only_asr
    lib = _native.lib()
    handle = ctypes.c_void_p()
    code = lib.vc_sim_new(ctypes.byref(handle), json.dumps(options).encode())
    try:
        _native.check(code, lambda: lib.vc_sim_errmsg(handle))
        report = ctypes.c_void_p()
        length = ctypes.c_size_t()
        start = time.perf_counter()
        code = lib.vc_sim_run(handle, ctypes.byref(report), ctypes.byref(length))
        real_s = time.perf_counter() - start
        _native.check(code, lambda: lib.vc_sim_errmsg(handle))
        data = json.loads(ctypes.string_at(report.value, length.value).decode())
    finally:
        lib.vc_sim_free(handle)
    return SimReport(data, real_s)
