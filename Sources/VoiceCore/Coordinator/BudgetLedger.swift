/// What one party (a device or an agent) has spent: the start times of its recent turns (for
/// turns per minute, a sliding window) and its LLM tokens in the current day (a 24-hour window
/// that starts with the first tokens counted after the previous one ended: the core has no
/// calendar, only the host's monotonic time).
struct BudgetUsage: Sendable {
    var turns: [Instant] = []
    var dayStart: Instant?
    var tokens: Int64 = 0

    static let minuteUs: Int64 = 60_000_000
    static let dayUs: Int64 = 86_400_000_000

    mutating func expire(_ now: Instant) {
        if let first = turns.first, now - first >= Self.minuteUs { turns.removeAll { now - $0 >= Self.minuteUs } }
        if let start = dayStart, now - start >= Self.dayUs {
            dayStart = nil
            tokens = 0
        }
    }

    /// The limit this party is over, if any ("turns_per_minute", "tokens_per_day").
    func exceeded(_ limits: BudgetLimits) -> String? {
        if let n = limits.turnsPerMinute, n > 0, turns.count >= n { return "turns_per_minute" }
        if let n = limits.tokensPerDay, n > 0, tokens >= n { return "tokens_per_day" }
        return nil
    }

    var isIdle: Bool { turns.isEmpty && dayStart == nil }
}

/// The budgets' counters, per device id and per agent name. A value owned by the Coordinator.
struct BudgetLedger: Sendable {
    var devices: [String: BudgetUsage] = [:]
    var agents: [String: BudgetUsage] = [:]

    /// Forgets parties whose windows all ended (called now and then, so the tables stay small).
    mutating func prune(_ now: Instant) {
        for key in devices.keys {
            devices[key]!.expire(now)
            if devices[key]!.isIdle { devices[key] = nil }
        }
        for key in agents.keys {
            agents[key]!.expire(now)
            if agents[key]!.isIdle { agents[key] = nil }
        }
    }
}

/// LLM usage per agent and model, for `/metrics` (VC_TALLY_USAGE).
public struct UsageTally: Sendable, Equatable {
    public struct Row: Sendable, Equatable {
        public var agent: String
        public var model: String
        public var tokens: UInt64 = 0
        public var turns: UInt64 = 0
        /// Of `turns`, those whose tokens were estimated from the text (no `usage` reported).
        public var estimated: UInt64 = 0
    }

    public private(set) var rows: [Row] = []
    /// Distinct (agent, model) pairs kept at most; a worker cannot grow the table without bound.
    static let maxRows = 256

    mutating func add(agent: String, model: String, tokens: Int64, estimated: Bool) {
        let i: Int
        if let found = rows.firstIndex(where: { $0.agent == agent && $0.model == model }) {
            i = found
        } else if rows.count < Self.maxRows {
            rows.append(Row(agent: agent, model: model))
            i = rows.count - 1
        } else if let other = rows.firstIndex(where: { $0.agent == agent && $0.model == "other" }) {
            i = other
        } else {
            rows.append(Row(agent: agent, model: "other"))
            i = rows.count - 1
        }
        rows[i].tokens += UInt64(max(0, tokens))
        rows[i].turns += 1
        if estimated { rows[i].estimated += 1 }
    }
}
