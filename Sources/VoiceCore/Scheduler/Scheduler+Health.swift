/// Outlier ejection after Envoy: `ejectAfterFailures` consecutive failures eject a worker for
/// `ejectionBase × times ejected`, at most `maxEjectedShare` of a kind's workers at once; when
/// every worker of a kind is ejected they are used anyway rather than serving nobody.
extension Scheduler {
    mutating func recordFailure(_ i: Int32, kind: WorkerKind, now: Instant) {
        guard workers[Int(i)] != nil else { return }
        workers[Int(i)]!.consecutiveFailures += 1
        let w = workers[Int(i)]!
        guard w.ejectedUntil == nil, w.consecutiveFailures >= config.ejectAfterFailures else { return }
        for k in w.kinds where !mayEject(k.rawValue) { return }
        workers[Int(i)]!.timesEjected += 1
        let duration = min(config.ejectionMaxUs, config.ejectionBaseUs * Int64(workers[Int(i)]!.timesEjected))
        workers[Int(i)]!.ejectedUntil = now + duration
        workers[Int(i)]!.consecutiveFailures = 0
        ejected.append(i)
        refresh(i)
        lastEjection = (w.id, now + duration)
    }

    /// Records the failure of a worker that is not tied to a job id (a timeout the Coordinator
    /// attributes to it).
    public mutating func recordFailure(_ id: WorkerID, kind: WorkerKind, now: Instant) {
        guard let i = indexOf[id] else { return }
        recordFailure(i, kind: kind, now: now)
    }

    private func mayEject(_ k: Int) -> Bool {
        let pool = members[k].count
        var already = 0
        for i in members[k].members where workers[Int(i)]!.ejectedUntil != nil { already += 1 }
        let allowed = max(1, Int(Double(pool) * config.maxEjectedShare))
        return already + 1 <= allowed
    }

    mutating func restoreEjected(now: Instant) {
        var kept: [Int32] = []
        for i in ejected {
            guard let until = workers[Int(i)]?.ejectedUntil else { continue }
            if until <= now {
                workers[Int(i)]!.ejectedUntil = nil
                refresh(i)
                restored.append(workers[Int(i)]!.id)
            } else {
                kept.append(i)
            }
        }
        ejected = kept
    }

    func hasEjectedFallback(_ k: Int) -> Bool {
        guard !ejected.isEmpty else { return false }
        return ejectedFallback(k, avoid: nil) != nil
    }

    /// When no worker of a kind is available but all non-draining ones with a free slot are
    /// ejected, the least loaded ejected one.
    func ejectedFallback(_ k: Int, avoid: Int32?, accepts: (WorkerState) -> Bool = { _ in true }) -> Int32? {
        Self.ejectedFallback(k, avoid: avoid, accepts: accepts, workers: workers, members: members[k])
    }

    /// The same, among the workers `accepts` lets the job run on.
    static func ejectedFallback(_ k: Int, avoid: Int32?, accepts: (WorkerState) -> Bool, workers: [WorkerState?],
                                members: IndexedSet) -> Int32? {
        for i in members.members {
            let w = workers[Int(i)]!
            if !accepts(w) { continue }
            if !w.draining && w.ejectedUntil == nil { return nil }  // a healthy worker exists, just busy
        }
        var best: Int32?
        for i in members.members {
            let w = workers[Int(i)]!
            if w.draining || !accepts(w) || !w.hasFreeSlot(WorkerKind(rawValue: k)!) { continue }
            if let b = best {
                if i != avoid && (b == avoid || workers[Int(b)]!.running[k] > w.running[k]) { best = i }
            } else {
                best = i
            }
        }
        return best
    }

    public func isEjected(_ id: WorkerID) -> Bool { worker(id)?.ejectedUntil != nil }

    /// Ejections and restorations since the last call, for the event log.
    public mutating func takeHealthChanges() -> (ejected: (WorkerID, Instant)?, restored: [WorkerID]) {
        if lastEjection == nil && restored.isEmpty { return (nil, []) }
        let changes = (lastEjection, restored)
        lastEjection = nil
        restored = []
        return changes
    }
}
