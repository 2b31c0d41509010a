"""The Simulator's named invariants (docs/simulator.md, Sources/VoiceCore/Simulator/InvariantChecker.swift),
checked on a real daemon's own event log: the Coordinator's JSON lines (docs/events.md, the entries
with a ``kind``) that ``voicecored`` writes to its log beside its own (``event``) lines.

The Simulator also sees the effects its host carries out (each PCM sample); a real daemon's log
shows what the Coordinator decided, so these are the checks that decisions allow:

- ``one-terminal-outcome``: a job is queued once and ends once (``job.done``, ``job.failed``,
  ``job.cancelled``, ``job.timeout`` of reason ``queue``); nothing is dispatched after its outcome.
  A ``job.refused`` (a retryable refusal before ``accepted``) is not an outcome: it frees the
  worker's slot and the same job is queued again.
- ``no-duplicate-delivery``: a turn's transcript and each of its segments are delivered at most once.
- ``no-audio-after-barge-in``: no segment of a turn is delivered after the turn was cancelled or ended.
- ``segment-order``: a turn's segments are queued 0, 1, 2… and delivered in that order.
- ``worker-slots``: a worker never runs more jobs of a kind than it has slots (when the slots are
  known: ``slots`` by worker name).
- ``no-slot-leaked``: at the end of a quiet run the hub holds no slot of a connected worker (the
  Simulator also compares with what each worker really holds, which a log does not show; the
  full-stack suite and the soak ask each worker's full slot count of turns at once for that).
- ``no-dispatch-to-unavailable``: no job goes to a worker that is gone, draining or of another kind.
- ``job-conservation``: at the end of a quiet run every job that was queued has its outcome.
- ``no-stuck-turn``: at the end of a quiet run every turn that started has ended or was cancelled.

``LogChecker.observe(entry)`` takes the entries in order; ``finish(quiet=True)`` adds the end-of-run
checks. ``python -m voicecore.testing.invariants LOG`` checks a saved log.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any, Iterable

NAMES = ["one-terminal-outcome", "no-duplicate-delivery", "no-audio-after-barge-in", "segment-order", "worker-slots",
         "no-dispatch-to-unavailable", "job-conservation", "no-stuck-turn", "no-slot-leaked"]

TERMINAL = {"job.done", "job.failed", "job.cancelled"}


@dataclass
class Violation:
    invariant: str
    detail: str
    seq: int | None = None
    session: str | None = None

    def __str__(self) -> str:
        where = f" (seq {self.seq}{', session ' + self.session if self.session else ''})" if self.seq is not None else ""
        return f"{self.invariant}: {self.detail}{where}"


@dataclass
class _Job:
    kind: str
    session: str | None
    worker: str | None = None
    running: bool = False


@dataclass
class _Worker:
    name: str
    kinds: set[str]
    draining: bool = False
    running: dict[str, int] = field(default_factory=dict)


@dataclass
class LogChecker:
    """The invariants over one daemon's Coordinator log. ``slots``: worker name → {kind: slots}."""

    slots: dict[str, dict[str, int]] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)
    jobs: dict[int, _Job] = field(default_factory=dict)
    ended_jobs: set[int] = field(default_factory=set)
    workers: dict[str, _Worker] = field(default_factory=dict)
    open_turns: dict[tuple[str, int], int] = field(default_factory=dict)  # → seq of turn.started
    closed_turns: set[tuple[str, int]] = field(default_factory=set)
    queued_segments: dict[tuple[str, int], int] = field(default_factory=dict)
    delivered_segments: dict[tuple[str, int], int] = field(default_factory=dict)
    transcripts: set[tuple[str, int]] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    entries: int = 0
    _seq: int | None = None

    def fail(self, invariant: str, detail: str, session: str | None = None) -> None:
        self.violations.append(Violation(invariant, detail, self._seq, session))

    def observe_all(self, entries: Iterable[dict[str, Any]]) -> "LogChecker":
        for e in entries:
            self.observe(e)
        return self

    def observe(self, e: dict[str, Any]) -> None:
        kind = e.get("kind")
        if not isinstance(kind, str):
            return  # the daemon's own lines (`event`)
        self.entries += 1
        self._seq = e.get("seq")
        self.counts[kind] = self.counts.get(kind, 0) + 1
        s = e.get("session")
        t = e.get("turn")
        job = e.get("job")
        if kind == "job.queued":
            if job in self.ended_jobs:
                return self.fail("one-terminal-outcome", f"job {job} queued after its outcome", s)
            info = self.jobs.get(job)
            if info is not None and info.running:
                return self.fail("one-terminal-outcome", f"job {job} queued while running on {info.worker}", s)
            self.jobs[job] = _Job(str(e.get("job_kind")), s)
        elif kind == "job.retry":
            if job not in self.jobs and job not in self.ended_jobs:
                self.jobs[job] = _Job(str(e.get("job_kind")), s)  # a backoff retry's new attempt
        elif kind == "job.dispatched":
            info = self.jobs.get(job)
            if info is None:
                return self.fail("one-terminal-outcome", f"dispatch of job {job}, which is not queued" +
                                 (" (it has its outcome)" if job in self.ended_jobs else ""), s)
            if info.running:
                return self.fail("one-terminal-outcome", f"job {job} dispatched twice", s)
            w = self.workers.get(e.get("worker"))
            if w is None:
                self.fail("no-dispatch-to-unavailable", f"job {job} dispatched to {e.get('worker')}, which is not registered", s)
            else:
                if w.draining:
                    self.fail("no-dispatch-to-unavailable", f"job {job} dispatched to draining worker {e.get('worker')}", s)
                if info.kind not in w.kinds:
                    self.fail("no-dispatch-to-unavailable", f"{info.kind} job {job} dispatched to {e.get('worker')} ({sorted(w.kinds)})", s)
                w.running[info.kind] = w.running.get(info.kind, 0) + 1
                limit = self.slots.get(w.name, {}).get(info.kind)
                if limit is not None and w.running[info.kind] > limit:
                    self.fail("worker-slots", f"worker {e.get('worker')} ({w.name}) runs {w.running[info.kind]} {info.kind} jobs with {limit} slots", s)
            info.running, info.worker = True, e.get("worker")
        elif kind == "job.refused":
            # a retryable refusal before `accepted`: not an outcome; the same job is queued again
            info = self.jobs.get(job)
            if info is None or not info.running:
                return self.fail("one-terminal-outcome", f"refusal of job {job}, which is not running", s)
            w = self.workers.get(info.worker)
            if w is not None:
                w.running[info.kind] = w.running.get(info.kind, 0) - 1
            info.running, info.worker = False, None
        elif kind in TERMINAL or (kind == "job.timeout" and e.get("reason") == "queue"):
            self._terminal(job, kind, s)
        elif kind == "worker.registered":
            self.workers[e["worker"]] = _Worker(str(e.get("text", "")), set(str(e.get("to", "")).split(",")) - {""})
        elif kind == "worker.roles":
            if e.get("worker") in self.workers:
                self.workers[e["worker"]].kinds = set(str(e.get("to", "")).split(",")) - {""}
        elif kind == "worker.draining":
            if e.get("worker") in self.workers:
                self.workers[e["worker"]].draining = True
        elif kind == "worker.gone":
            w = self.workers.pop(e.get("worker"), None)
            # Its jobs must end (failed worker-lost, or cancelled) in the same batch; checked at the end.
            del w
        elif kind == "turn.started":
            self.open_turns[(s, t)] = e.get("seq", 0)
        elif kind in ("turn.ended", "turn.cancelled"):
            key = (s, t)
            if key in self.closed_turns and kind == "turn.ended":
                self.fail("one-terminal-outcome", f"turn {t} ended twice", s)
            self.open_turns.pop(key, None)
            self.closed_turns.add(key)
        elif kind == "turn.transcript":
            if (s, t) in self.transcripts:
                self.fail("no-duplicate-delivery", f"transcript of turn {t} delivered twice", s)
            self.transcripts.add((s, t))
        elif kind == "segment.queued":
            k = e.get("value", 0)
            expected = self.queued_segments.get((s, t), 0)
            if k != expected:
                self.fail("segment-order", f"segment {k} of turn {t} queued after {expected} segment(s)", s)
            self.queued_segments[(s, t)] = max(expected, k + 1)
        elif kind == "segment.delivered":
            k = e.get("value", 0)
            key = (s, t)
            if key in self.closed_turns:
                self.fail("no-audio-after-barge-in", f"segment {k} of turn {t} delivered after the turn ended or was cancelled", s)
            done = self.delivered_segments.get(key, 0)
            if k < done:
                self.fail("no-duplicate-delivery", f"segment {k} of turn {t} delivered again (after {done})", s)
            elif k != done:
                self.fail("segment-order", f"segment {k} of turn {t} delivered after {done} segment(s)", s)
            elif k >= self.queued_segments.get(key, 0):
                self.fail("segment-order", f"segment {k} of turn {t} delivered, never queued", s)
            self.delivered_segments[key] = max(done, k + 1)
        elif kind == "session.gone":
            for key in [k for k in self.open_turns if k[0] == s]:
                self.fail("no-stuck-turn", f"turn {key[1]} neither ended nor cancelled when its session went", s)
                self.open_turns.pop(key)

    def _terminal(self, job: Any, kind: str, s: str | None) -> None:
        if job in self.ended_jobs:
            return self.fail("one-terminal-outcome", f"job {job} had a second outcome: {kind}", s)
        info = self.jobs.pop(job, None)
        if info is None:
            return self.fail("one-terminal-outcome", f"outcome {kind} for job {job} that was never queued", s)
        self.ended_jobs.add(job)
        if info.running and info.worker in self.workers:
            w = self.workers[info.worker]
            w.running[info.kind] = w.running.get(info.kind, 0) - 1

    def finish(self, quiet: bool = True) -> list[Violation]:
        """The end-of-run checks, when the run ended quiet (no device connected, nothing in flight)."""
        self._seq = None
        if quiet:
            for job, info in sorted(self.jobs.items()):
                self.fail("job-conservation", f"{info.kind} job {job} has no outcome" + (f" (running on {info.worker})" if info.running else " (queued)"),
                          info.session)
            for w_id, w in self.workers.items():
                for kind, n in w.running.items():
                    if n:
                        self.fail("no-slot-leaked", f"worker {w_id} ({w.name}) still holds {n} {kind} slot(s) at the end", None)
            for (s, t) in sorted(self.open_turns, key=str):
                self.fail("no-stuck-turn", f"turn {t} neither ended nor cancelled", s)
        return self.violations

    def summary(self) -> str:
        c = self.counts
        return (f"{self.entries} core log entries: {c.get('turn.started', 0)} turns started, {c.get('turn.ended', 0)} ended, "
                f"{c.get('turn.cancelled', 0)} cancelled, {c.get('turn.fallback', 0)} fallbacks; {c.get('job.queued', 0)} jobs queued, "
                f"{c.get('job.done', 0)} done, {c.get('job.failed', 0)} failed, {c.get('job.cancelled', 0)} cancelled; "
                f"{len(self.violations)} violation(s)")


def check_lines(lines: Iterable[str], slots: dict[str, dict[str, int]] | None = None, quiet: bool = True) -> LogChecker:
    checker = LogChecker(slots=slots or {})
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            checker.observe(json.loads(line))
        except ValueError:
            continue
    checker.finish(quiet)
    return checker


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m voicecore.testing.invariants DAEMON_LOG", file=sys.stderr)
        return 2
    with open(argv[0], encoding="utf-8", errors="replace") as f:
        checker = check_lines(f)
    for v in checker.violations:
        print(v)
    print(checker.summary())
    return 1 if checker.violations else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
