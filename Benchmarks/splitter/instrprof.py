"""Per-instruction profile of one function from a callgrind run made with --dump-instr=yes.

valgrind 3.19 cannot read the kernels' debug info, so callgrind_annotate shows no lines for them;
this joins callgrind's per-address counts with `objdump -d` of the library instead.

    valgrind --tool=callgrind --dump-instr=yes [--branch-sim=yes] --callgrind-out-file=OUT \\
        --toggle-collect=pass DIR/callgrind_pass DIR/counted.so DIR/bench.txt
    python3 Benchmarks/splitter/instrprof.py OUT FUNCTION_SUBSTRING DIR/counted.so

Prints each instruction of the first function whose name contains FUNCTION_SUBSTRING with the
instructions executed there (and, with --branch-sim=yes, the conditional branches mispredicted).
"""
import collections
import re
import subprocess
import sys


def profile(path: str, name: str) -> tuple[collections.Counter, collections.Counter, str]:
    counts: collections.Counter = collections.Counter()
    mispredicts: collections.Counter = collections.Counter()
    names: dict[str, str] = {}
    events: list[str] = []
    current = None
    chosen = None
    last = 0
    in_call = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
            if m:
                if m.group(3):
                    names[m.group(2)] = m.group(3)
                if m.group(1) == "fn":
                    current = names.get(m.group(2))
                continue
            if line.startswith("calls="):
                in_call = True
                continue
            m = re.match(r"^(0x[0-9a-f]+|[+-]\d+|\*)\s+(\S+)((?:\s+\d+)+)", line)
            if not m:
                continue
            a = m.group(1)
            last = int(a, 16) if a.startswith("0x") else last if a == "*" else last + int(a)
            if in_call:  # the inclusive cost of a call, not this function's own
                in_call = False
                continue
            if current and name in current and (chosen is None or chosen == current):
                chosen = current
                values = [int(v) for v in m.group(3).split()]
                counts[last] += values[0]
                if "Bcm" in events and events.index("Bcm") < len(values):
                    mispredicts[last] += values[events.index("Bcm")]
    return counts, mispredicts, chosen or ""


def main() -> None:
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    out, name, library = sys.argv[1:]
    counts, mispredicts, chosen = profile(out, name)
    if not counts:
        sys.exit(f"no function matching {name!r} in {out}")
    print(f"{chosen}: {sum(counts.values())} instructions, {sum(mispredicts.values())} mispredicted branches")
    dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--start-address={min(counts)}",
                          f"--stop-address={max(counts) + 16}", library], capture_output=True, text=True).stdout
    for line in dis.split("\n"):
        m = re.match(r"\s*([0-9a-f]+):\s*(.*)", line)
        if m:
            a = int(m.group(1), 16)
            print(f"{counts.get(a, 0):9d} {mispredicts.get(a, 0):7d}  {a:x}  {m.group(2)}")


if __name__ == "__main__":
    main()
