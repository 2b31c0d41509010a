import VoiceCore

// vc-bench: the Coordinator and Scheduler benchmarks of `make bench` (Benchmarks/coordinator).
// Single-threaded: everything runs on one core.

let args = CommandLine.arguments
let quick = args.contains("--quick")
let only = args.dropFirst().first { !$0.hasPrefix("--") }  // coordinator | placement | queueing | once

if only == nil || only == "coordinator" {
print("Coordinator throughput, 1,000 concurrent sessions (audio frames, deltas, TTS chunks), one thread;")
print("events per CPU-second of that thread, median and best of \(quick ? 3 : 5) runs (the machine is shared)")
print("| variant | events/run | median | best | per wall second (median) | target | turns/run | log entries/run |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
_ = CoordinatorLoad.run(sessions: 1000, total: 100_000, storeLog: true)  // warm-up: page in the allocator
for (name, store) in [("log stored and drained", true), ("log digest only", false)] {
    let total = quick ? 200_000 : 2_000_000
    let runs = (0..<(quick ? 3 : 5)).map { _ in CoordinatorLoad.run(sessions: 1000, total: total, storeLog: store) }
    let rates = runs.map(\.rate).sorted(), walls = runs.map(\.wallRate).sorted()
    let r = runs[0]
    print("| \(name) | \(total) | \(fmt(rates[rates.count / 2] / 1e6)) M | \(fmt(rates.last! / 1e6)) M | \(fmt(walls[walls.count / 2] / 1e6)) M | ≥ 2.00 M | \(r.turns) | \(r.logEntries) |")
}
let wireEvents = quick ? 50_000 : 500_000
print("| anchor: the C edge (CoordinatorWire, typed), audio frames only | \(wireEvents) | \(fmt(WireLoad.run(events: wireEvents) / 1e6)) M | | | | | |")
}

if only == nil || only == "placement" {
print("")
print("Scheduler placement, 1,000 workers (all slots busy), 10,000 queued jobs")
let clock = PlacementLatency.clockOverhead()
let placement = PlacementLatency.run(placements: quick ? 20_000 : 300_000)
print("| measure | p50 µs | p99 µs | max µs | target p99 |")
print("|---|---:|---:|---:|---:|")
print("| one placement (incl. clock read) | \(fmt(placement.p50, 3)) | \(fmt(placement.p99, 3)) | \(fmt(placement.max, 1)) | ≤ 5 µs |")
print("| clock read alone (anchor) | \(fmt(clock, 3)) | | | |")
}

if only == nil || only == "queueing" {
print("")
let jobs = quick ? 50_000 : 400_000
print("Queueing delay at 80 % load, \(QueueingDelay.workers) workers × \(QueueingDelay.slots) slots, half of them 30 % slower, \(jobs) jobs")
print("| placement | p50 ms | p99 ms | p99 vs round robin |")
print("|---|---:|---:|---:|")
let rows = QueueingDelay.run(jobs: jobs, load: 0.8, seed: 42)
let rr = rows.first { $0.0 == "round robin" }!.p99
for (name, p50, p99) in rows {
    print("| \(name) | \(fmt(p50)) | \(fmt(p99)) | \(p99 > 0 ? fmt(rr / p99, 1) + "× better" : "∞ (never waits)") |")
}
print("(target: VoiceCore p99 ≥ 2× better than round robin)")
}

// `vc-bench once`: one short run for instruction counting (valgrind --tool=cachegrind).
if only == "once" {
    let r = CoordinatorLoad.run(sessions: 1000, total: 200_000, storeLog: true)
    print("once: \(r.turns) turns")
}
