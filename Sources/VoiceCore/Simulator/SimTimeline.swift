/// The fleet over simulated time, for the report's `timeline` (and `voicecore sim --plot`): one
/// sample per interval, taken at the first checkpoint after each interval ends, so the cost is a
/// few hundred samples a run whatever its length.
struct SimTimeline: Sendable {
    /// Worker groups by the name's kind, in report order (spares join and leave under faults).
    static let groups = ["asr", "assistant", "tts", "gpu", "spare"]
    /// The turn outcomes counted per interval, in report order.
    static let outcomes = ["completed", "fallback", "cancelled", "timed_out", "empty"]

    struct Sample: Sendable {
        var time: Int64
        /// Per group: workers up, ejected, draining, down (at the sample's time).
        var workers: [[Int]]
        var sessions: Int
        /// Faults injected in the interval, per kind (`FaultProfile.Kind` order).
        var faults: [Int]
        /// Turns that reached an outcome in the interval, per outcome.
        var turns: [Int]
    }

    let intervalUs: Int64
    var next: Int64
    var samples: [Sample] = []
    var lastFaults = [Int](repeating: 0, count: FaultProfile.Kind.allCases.count)
    var lastTurns = [Int](repeating: 0, count: outcomes.count)

    /// About 240 intervals over the run, whole multiples of the 10 s checkpoint.
    init(durationUs: Int64) {
        let checkpoint: Int64 = 10_000_000
        intervalUs = max(1, (durationUs / 240 + checkpoint - 1) / checkpoint) * checkpoint
        next = intervalUs
    }

    static func group(of name: String) -> Int {
        for (i, g) in groups.enumerated() where name.hasPrefix(g) { return i }
        return groups.count - 1
    }
}

extension Simulation {
    /// At a checkpoint: a timeline sample when an interval has ended.
    func sampleTimeline() {
        guard now >= timeline.next else { return }
        timeline.next += timeline.intervalUs
        var byGroup = [[Int]](repeating: [0, 0, 0, 0], count: SimTimeline.groups.count)
        for w in workers {
            let g = SimTimeline.group(of: w.name)
            if !w.online && w.id == nil && w.name.hasPrefix("spare") { continue }  // not part of the fleet
            if let id = w.id, w.registered {
                let state = coordinator.scheduler.worker(id)
                if w.draining || state?.draining == true {
                    byGroup[g][2] += 1
                } else if let until = state?.ejectedUntil, until.us > now {
                    byGroup[g][1] += 1
                } else {
                    byGroup[g][0] += 1
                }
            } else {
                byGroup[g][3] += 1
            }
        }
        let c = checker
        let turns = [c.turnsCompleted, c.turnsFallback, c.turnsCancelled, c.turnsTimedOut, c.turnsEmpty]
        var faults = stats.faults
        for k in 0..<faults.count { faults[k] -= timeline.lastFaults[k] }
        var turnDelta = turns
        for k in 0..<turns.count { turnDelta[k] -= timeline.lastTurns[k] }
        timeline.lastFaults = stats.faults
        timeline.lastTurns = turns
        timeline.samples.append(SimTimeline.Sample(time: now, workers: byGroup, sessions: sessionDevice.count,
                                                   faults: faults, turns: turnDelta))
    }

    /// The report's `timeline` object.
    func timelineJSON() -> JSON {
        func ints(_ a: [Int]) -> JSON { .array(a.map { .number(Double($0)) }) }
        let samples: [JSON] = timeline.samples.map { s in
            .object([("t_us", .number(Double(s.time))), ("workers", .array(s.workers.map(ints))),
                     ("sessions", .number(Double(s.sessions))), ("faults", ints(s.faults)), ("turns", ints(s.turns))])
        }
        return .object([("interval_us", .number(Double(timeline.intervalUs))),
                        ("worker_groups", .array(SimTimeline.groups.map { .string($0) })),
                        ("worker_states", .array(["up", "ejected", "draining", "down"].map { .string($0) })),
                        ("fault_kinds", .array(FaultProfile.Kind.allCases.map { .string($0.name) })),
                        ("turn_outcomes", .array(SimTimeline.outcomes.map { .string($0) })),
                        ("samples", .array(samples))])
    }
}
