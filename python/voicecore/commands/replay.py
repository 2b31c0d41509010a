"""``voicecore replay``: run voicecored's event journal through a fresh Coordinator (docs/journal.md)."""

from __future__ import annotations

import argparse
import sys

from .registry import command
from ..journal import JournalError, ReplayResult, format_time, parse_time, replay


def _add(p: argparse.ArgumentParser) -> None:
    p.add_argument("journal", metavar="JOURNAL",
                   help="a journal directory (its newest run) or any journal-*.vcj file of a run")
    p.add_argument("--run", dest="run_id", metavar="RUN", help="replay this run of the directory (the part of the file name after journal-)")
    p.add_argument("--trace", metavar="DEVICE",
                   help="print the events, effects and log entries of one device (session name like s3, "
                        "or its device_id/client_id) or worker (w2)")
    p.add_argument("--until", metavar="TIME", help="stop at this time after the run's start, e.g. 90s, 00:01:30.5")
    p.add_argument("--log", metavar="FILE",
                   help="voicecored's JSON-lines log of the run (voicecore up: STATE_DIR/logs/voicecored.log): compare every "
                        "event-log entry with it, naming the exact event where the replay first differs")


_ENDINGS = {
    "closed": "the journal ends cleanly (the daemon exited)",
    "full": "the run filled journal_keep files, so recording stopped here (its beginning was kept)",
    "no-end": "the journal ends without a closing record (the daemon was killed, or is still running): "
              "replayed up to the last complete record",
    "until": "stopped at --until",
    "rotated": "the journal ends at a rotation whose next segment is missing",
}


def report(r: ReplayResult) -> str:
    size = sum(p.stat().st_size for p in r.files)
    lines = [f"journal: run {r.run}, {len(r.files)} file(s), {size / 1e6:.1f} MB ({r.files[0].parent})"]
    lines += [f"  note: {n}" for n in r.notes]
    lines.append(f"  replayed {r.events:,} events ({format_time(r.span_us)} of daemon time, {r.rejected} rejected "
                 f"by the core) in {r.seconds:.2f} s; {r.checks} digest checks passed")
    if r.corrupt:
        lines.append(f"CORRUPT: {r.corrupt}")
        return "\n".join(lines)
    if r.mismatch:
        lines.append(f"MISMATCH: {r.mismatch}")
        return "\n".join(lines)
    if r.ending == "truncated" and r.tail is not None:
        lines.append(f"  the journal ends inside a record at byte {r.tail.offset} of {r.tail.path.name} (the daemon "
                     "stopped while writing it: killed, or the disk filled): replayed up to the last complete record")
    elif r.ending in _ENDINGS:
        lines.append("  " + _ENDINGS[r.ending])
    if r.log_compared is not None:
        lines.append(f"  {r.log_compared:,} event-log entries equal those in voicecored's log")
    if r.unchecked and r.ending != "until":
        lines.append(f"  the last {r.unchecked} event(s) came after the last recorded digest: replayed, not checked")
    if r.ending == "until":
        lines.append(f"OK: every recorded digest up to there agreed; digest {r.digest:016x} over {r.entries:,} log entries at that point")
    else:
        lines.append(f"OK: digest {r.digest:016x} over {r.entries:,} log entries"
                     + (" equals the recorded one" if r.checks and not r.unchecked else
                        " (the last recorded digest agreed)" if r.checks else " (nothing recorded to compare with)"))
    return "\n".join(lines)


@command("replay", "run voicecored's event journal through a fresh Coordinator and check its digest")(_add)
def run(args: argparse.Namespace) -> int:
    try:
        until = parse_time(args.until) if args.until else None
    except ValueError as exc:
        print(f"voicecore replay: {exc}", file=sys.stderr)
        return 2
    try:
        result = replay(args.journal, run=args.run_id, until_us=until, trace=args.trace, log=args.log)
    except JournalError as exc:
        print(f"voicecore replay: {exc}", file=sys.stderr)
        return 2
    print(report(result))
    return 0 if result.ok else 1
