/// The outcome of a run, as the JSON object `vc_sim_run` returns (docs/simulator.md). Real time
/// is not in it: the library reads no clock, so the caller measures it (and the speedup).
public struct SimReport: Sendable {
    public var json: String
    public var passed: Bool

    init(sim: Simulation) {
        let c = sim.checker
        var o: [(String, JSON)] = []
        o.append(("seed", .number(Double(sim.options.seed))))
        o.append(("devices", .number(Double(sim.options.devices))))
        o.append(("workers", .object([("asr", .number(Double(sim.options.asrWorkers))),
                                      ("assistant", .number(Double(sim.options.assistantWorkers))),
                                      ("tts", .number(Double(sim.options.ttsWorkers))),
                                      ("gpu", .number(Double(sim.options.gpuWorkers)))])))
        o.append(("faults", .string(sim.options.faults.name)))
        o.append(("liveness", .bool(sim.options.liveness)))
        o.append(("inject_bug", sim.options.injectBug.map { .string($0.rawValue) } ?? .null))
        o.append(("sim_us", .number(Double(sim.now))))
        o.append(("sim_time", .string(SimTime.format(sim.now))))
        o.append(("events", .number(Double(sim.stats.events))))
        o.append(("core_events", .number(Double(sim.stats.coreEvents))))
        o.append(("log_entries", .number(Double(sim.coordinator.log.nextSeq - 1))))
        o.append(("hash", .string(Self.hex(sim.coordinator.log.digest ^ (sim.stats.events &* 0x9E37_79B9_7F4A_7C15)))))
        var faults: [(String, JSON)] = []
        for k in FaultProfile.Kind.allCases { faults.append((k.name, .number(Double(sim.stats.faults[k.rawValue])))) }
        o.append(("faults_injected", .object(faults)))
        o.append(("turns", .object([("completed", .number(Double(c.turnsCompleted))),
                                    ("fallback", .number(Double(c.turnsFallback))),
                                    ("cancelled", .number(Double(c.turnsCancelled))),
                                    ("timed_out", .number(Double(c.turnsTimedOut))),
                                    ("empty", .number(Double(c.turnsEmpty)))]
                                   + (c.turnsRefused > 0 ? [("refused", .number(Double(c.turnsRefused)))] : []))))
        if sim.options.saysPerHour > 0 {
            o.append(("says", .object([("requested", .number(Double(sim.stats.says))), ("started", .number(Double(c.saysStarted))),
                                       ("done", .number(Double(c.saysDone))), ("dropped", .number(Double(c.saysDropped)))])))
        }
        o.append(("jobs", .number(Double(c.created))))
        o.append(("connects", .number(Double(sim.stats.connects))))
        o.append(("reconnects", .number(Double(sim.stats.reconnects))))
        o.append(("rejected_inputs", .number(Double(c.rejectedInputs))))
        o.append(("ttfa_ms", .object([("count", .number(Double(c.ttfa.count))),
                                      ("p50", .number(Double(InvariantChecker.percentile(c.ttfa, 0.5)) / 1000)),
                                      ("p99", .number(Double(InvariantChecker.percentile(c.ttfa, 0.99)) / 1000)),
                                      ("quiet_count", .number(Double(c.ttfaQuiet.count))),
                                      ("quiet_p50", .number(Double(InvariantChecker.percentile(c.ttfaQuiet, 0.5)) / 1000)),
                                      ("quiet_p99", .number(Double(InvariantChecker.percentile(c.ttfaQuiet, 0.99)) / 1000)),
                                      ("budget", .number(Double(sim.options.ttfaBudgetUs / 1000)))])))
        o.append(("ttfa_histogram_ms", .array(Self.histogram(c.ttfa))))
        o.append(("timeline", sim.timelineJSON()))
        o.append(("knobs", .object(SimKnobs.describe(sim.config))))
        o.append(("invariants", .array(InvariantChecker.names.map { .string($0) })))
        if let v = c.violation {
            let session = v.session.map { s in sim.sessionDeviceName(s) } ?? nil
            var repro = sim.options.command
            if let session, let dev = session.split(separator: "/").first {
                repro += " --trace \(dev) --until \(SimTime.format(v.time + 1000))"
            }
            let events = c.lastEvents(v.session, sim.options.lastEvents).map { e in
                JSON.string(SimTime.format(e.time.us) + " " + e.jsonLine())
            }
            o.append(("violation", .object([("invariant", .string(v.invariant)),
                                            ("time_us", .number(Double(v.time))),
                                            ("time", .string(SimTime.format(v.time))),
                                            ("session", session.map { .string($0) } ?? .null),
                                            ("detail", .string(v.detail)),
                                            ("last_events", .array(events)),
                                            ("command", .string(repro))])))
        } else {
            o.append(("violation", .null))
        }
        o.append(("command", .string(sim.options.command)))
        o.append(("trace", .array(sim.trace.map { .string($0) })))
        json = JSON.object(o).serialized
        passed = c.violation == nil
    }

    static func hex(_ x: UInt64) -> String {
        let s = String(x, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    /// Counts per 100 ms bucket up to 5 s (the last bucket holds the rest).
    static func histogram(_ values: [Int64]) -> [JSON] {
        var buckets = [Int](repeating: 0, count: 51)
        for v in values { buckets[min(50, max(0, Int(v / 100_000)))] += 1 }
        return buckets.map { .number(Double($0)) }
    }
}

extension Simulation {
    /// "dev-17/s123": the device behind a session, as the trace option names it.
    func sessionDeviceName(_ s: SessionID) -> String? {
        if let i = sessionDevice[s] { return "dev-\(i)/\(s)" }
        if let i = sessionOwner[s] { return "dev-\(i)/\(s)" }
        return "\(s)"
    }
}
