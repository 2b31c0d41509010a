#!/usr/bin/env python3
"""Checks the layering of the daemon (Sources/voicecored, docs/architecture.md "The daemon's layers").

Reads every `#include "..."` of the daemon's .c and .h files and fails when
  - a file belongs to no layer (a new file must be placed in LAYERS),
  - a file includes a file of a higher layer, or
  - the include graph between modules has a cycle (a module is a .c and its .h: x.c including
    y.h and y.c including x.h is a cycle, as it is one of calls), or
  - a function x.c exports is not declared in x.h (a header declaring another file's functions
    hides that file's place in the graph), or
  - a file other than hub.c calls the Coordinator (vc_coordinator_*): the hub is its one caller,
    the modules below hand it typed events through their event_sink.
Calls up the layers go through callbacks the upper module registers, never through an include.

    scripts/check_layers.py            check; prints one line, exits 1 on a violation
    scripts/check_layers.py --graph    also prints the module include graph, layer by layer
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ROOT / "Sources" / "voicecored"

# Lowest first. A module may include modules of its own layer or of lower ones.
LAYERS = [
    ("base", [
        "config", "log", "metrics", "monotonic", "idmap", "outqueue", "timers", "utf8_trim",
        "frame_header", "http_request", "frame_guard",
        "opus_codec", "resample", "playout", "uplink_budget", "journal", "hub_latency", "event_sink",
    ]),
    ("transport", ["admission", "http", "transport"]),
    ("modules", ["device_session", "worker_link", "http_routes", "admin_api"]),
    ("hub", ["hub", "status"]),
    ("main", ["main"]),
]

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
# A function definition at the start of a line that is not static: its name.
DEFINITION = re.compile(r'^(?!static\b)(?:[A-Za-z_][\w \*]*?)\b(\w+)\s*\([^;{]*\)\s*\{', re.M)
# Definitions that are not the module's API: main, and the C library calls frame_guard.c interposes.
NOT_API = {"main": {"main"}, "frame_guard": {"recv", "SSL_read"}}


def include_graph(sources: Path) -> dict[str, set[str]]:
    """Module → the modules it includes (its .c and .h together; itself left out)."""
    graph: dict[str, set[str]] = {}
    for path in sorted(sources.glob("*.[ch]")):
        module = path.stem
        deps = graph.setdefault(module, set())
        for name in INCLUDE.findall(path.read_text(encoding="utf-8", errors="replace")):
            target = Path(name).stem
            if (sources / name).exists() and target != module:
                deps.add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}   # 1 on the path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return path[path.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def undeclared(sources: Path) -> list[str]:
    """Exported functions of x.c that x.h does not declare."""
    problems = []
    for path in sorted(sources.glob("*.c")):
        header = path.with_suffix(".h")
        declared = header.read_text(encoding="utf-8", errors="replace") if header.exists() else ""
        for name in DEFINITION.findall(path.read_text(encoding="utf-8", errors="replace")):
            if name in NOT_API.get(path.stem, ()) or re.search(r"\b" + name + r"\s*\(", declared):
                continue
            problems.append(f"{path.name}: {name}() is exported but not declared in {header.name}")
    return problems


# The one module that calls the Coordinator.
CORE_CALLER = "hub.c"
CORE_CALL = re.compile(r"\bvc_coordinator_\w+\s*\(")


def core_callers(sources: Path) -> list[str]:
    """Files other than hub.c that call vc_coordinator_*."""
    problems = []
    for path in sorted(sources.glob("*.[ch]")):
        if path.name == CORE_CALLER:
            continue
        text = re.sub(r"/\*.*?\*/", "", path.read_text(encoding="utf-8", errors="replace"), flags=re.S)
        found = sorted(set(m.group(0).rstrip("( ") for m in CORE_CALL.finditer(text)))
        if found:
            problems.append(f"{path.name}: calls {', '.join(found)} (only {CORE_CALLER} calls the Coordinator)")
    return problems


def check(graph: dict[str, set[str]]) -> list[str]:
    rank = {m: i for i, (_, members) in enumerate(LAYERS) for m in members}
    names = [name for name, _ in LAYERS]
    problems = []
    for module in sorted(graph):
        if module not in rank:
            problems.append(f"{module}: in no layer (add it to LAYERS in scripts/check_layers.py)")
    for module, deps in sorted(graph.items()):
        for dep in sorted(deps):
            if module in rank and dep in rank and rank[dep] > rank[module]:
                problems.append(f"{module} ({names[rank[module]]}) includes {dep} ({names[rank[dep]]}): a lower layer includes a higher one")
    cycle = find_cycle(graph)
    if cycle:
        problems.append("include cycle: " + " -> ".join(cycle))
    return problems


def print_graph(graph: dict[str, set[str]]) -> None:
    placed = set()
    for name, members in reversed(LAYERS):
        print(f"[{name}]")
        for module in members:
            if module in graph:
                placed.add(module)
                deps = sorted(graph[module])
                print(f"  {module} -> {', '.join(deps) if deps else '(nothing)'}")
    rest = sorted(set(graph) - placed)
    if rest:
        print("[no layer]")
        for module in rest:
            print(f"  {module} -> {', '.join(sorted(graph[module])) or '(nothing)'}")


def main(argv: list[str]) -> int:
    sources = SOURCES
    if "--sources" in argv:
        sources = Path(argv[argv.index("--sources") + 1])
    graph = include_graph(sources)
    if "--graph" in argv:
        print_graph(graph)
    problems = check(graph) + undeclared(sources) + core_callers(sources)
    for p in problems:
        print(f"check_layers: {p}", file=sys.stderr)
    if problems:
        return 1
    edges = sum(len(d) for d in graph.values())
    print(f"check_layers: {len(graph)} modules, {edges} include edges, {len(LAYERS)} layers: no cycle, no upward include")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
