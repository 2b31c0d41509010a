/// Rebalancing of multi-role workers (a GPU box that can hold ASR or TTS models): the active
/// roles follow queue pressure, with hysteresis, at most one change per worker per interval,
/// never taking a role with running jobs and never the last worker of a kind.
extension Scheduler {
    public struct RoleChange: Sendable {
        public var worker: WorkerID
        public var from: KindSet
        public var to: KindSet
    }

    public var hasMultiRoleWorkers: Bool {
        workers.contains { $0.map { !$0.roles.isEmpty } ?? false }
    }

    /// Queued jobs per slot of a kind; a kind with queued jobs and no slots has infinite pressure.
    public func pressure(_ k: WorkerKind) -> Double {
        var slots = 0
        for i in members[k.rawValue].members { slots += workers[Int(i)]!.slots[k.rawValue] }
        let queued = Double(queues[k.rawValue].count)
        if slots == 0 { return queued > 0 ? .infinity : 0 }
        return queued / Double(slots)
    }

    public mutating func rebalance(now: Instant) -> [RoleChange] {
        var changes: [RoleChange] = []
        var p = WorkerKind.allCases.map { pressure($0) }
        for i in 0..<workers.count {
            guard let w = workers[i], !w.roles.isEmpty, !w.draining else { continue }
            if let last = w.lastRoleChange, now - last < config.rebalanceIntervalUs { continue }
            var gain: WorkerKind?
            for k in w.roles where !w.kinds.contains(k) && p[k.rawValue] > 0 {
                if gain == nil || p[k.rawValue] > p[gain!.rawValue] { gain = k }
            }
            guard let g = gain else { continue }
            var lose: WorkerKind?
            for k in w.kinds where w.running[k.rawValue] == 0 && members[k.rawValue].count > 1 {
                if lose == nil || p[k.rawValue] < p[lose!.rawValue] { lose = k }
            }
            guard let l = lose, p[g.rawValue] > config.rebalanceHysteresis * p[l.rawValue] + 0.5 else { continue }
            var to = w.kinds
            to.remove(l)
            to.insert(g)
            workers[i]!.kinds = to
            workers[i]!.lastRoleChange = now
            refresh(Int32(i))
            changes.append(RoleChange(worker: w.id, from: w.kinds, to: to))
            p[g.rawValue] = pressure(g)
            p[l.rawValue] = pressure(l)
        }
        return changes
    }
}
