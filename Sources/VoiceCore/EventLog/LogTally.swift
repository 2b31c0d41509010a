/// Running counts over every event-log entry, drained or not: entries per kind, turns ended per
/// outcome (`turn.ended` reason) and the `turn.mark` durations per stage as histograms. The host
/// reads them with `vc_coordinator_tally` (include/voicecore.h) to render its metrics, so it never
/// parses log lines to count them.
public struct LogTally: Sendable, Equatable {
    /// Upper bounds of the stage histogram's buckets in µs (a mark lands in the first bucket whose
    /// bound is ≥ its value; the last bucket holds the rest). `VC_TALLY_BOUNDS_US` in the header.
    public static let boundsUs: [Int64] = [10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000, 100_000, 250_000, 500_000,
                                           1_000_000, 2_500_000, 10_000_000]

    public struct Histogram: Sendable, Equatable {
        public var buckets = [UInt64](repeating: 0, count: LogTally.boundsUs.count + 1)
        public var count: UInt64 = 0
        public var sumUs: Int64 = 0

        mutating func observe(_ us: Int64) {
            var i = 0
            while i < LogTally.boundsUs.count && us > LogTally.boundsUs[i] { i += 1 }
            buckets[i] += 1
            count += 1
            sumUs &+= us
        }
    }

    /// Entries per kind, indexed by `LogKind.rawValue`.
    public private(set) var kinds = [UInt64](repeating: 0, count: LogKind.allCases.count)
    /// Turns ended per outcome, in order of first appearance.
    public private(set) var outcomes: [(name: String, count: UInt64)] = []
    /// `turn.mark` durations per stage, in order of first appearance (marks without a value are
    /// not observed).
    public private(set) var stages: [(name: String, histogram: Histogram)] = []

    /// Distinct outcome and stage names kept at most; new names past it are not counted (the
    /// names come from the Coordinator's own code, so this is a guard, not a policy).
    static let maxNames = 64

    public init() {}

    mutating func add(kind: LogKind, reason: String?, value: Int64?) {
        kinds[Int(kind.rawValue)] += 1
        guard let reason else { return }
        if kind == .turnEnded {
            if let i = outcomes.firstIndex(where: { $0.name == reason }) { outcomes[i].count += 1 }
            else if outcomes.count < Self.maxNames { outcomes.append((reason, 1)) }
        } else if kind == .turnMark, let value {
            if let i = stages.firstIndex(where: { $0.name == reason }) { stages[i].histogram.observe(value) }
            else if stages.count < Self.maxNames {
                var h = Histogram()
                h.observe(value)
                stages.append((reason, h))
            }
        }
    }

    public static func == (a: LogTally, b: LogTally) -> Bool {
        a.kinds == b.kinds && a.outcomes.elementsEqual(b.outcomes, by: { $0 == $1 })
            && a.stages.elementsEqual(b.stages, by: { $0.name == $1.name && $0.histogram == $1.histogram })
    }
}
