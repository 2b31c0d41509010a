/// Health that tells the truth, decided per kind by the core. A kind is `degraded` when
///   - `unplaced`: its jobs waited with no worker able to take them (or timed out in the queue)
///     continuously for `health_grace_ms`, whether or not it has workers;
///   - `leaked`: it has workers, none has a free slot and some slots are leaked (busy with jobs
///     the hub does not know) or refused, for `health_grace_ms`;
///   - `ejected`: every worker of the kind is ejected.
/// It is `ok` again as soon as the condition clears (a free slot and nothing waiting). A kind
/// with no workers and no demand is `absent`, which is not degraded. Transitions are logged as
/// `health.changed` by the first event after they happen; `health(now:)` answers for any time.
public struct KindHealth: Sendable, Equatable {
    public var kind: WorkerKind
    public var degraded: Bool
    /// `ejected`, `leaked`, `unplaced`, or nil when not degraded.
    public var reason: String?
    /// A sentence for people (the `/healthz` body).
    public var detail: String
    /// Since when the condition holds (degraded or maturing).
    public var since: Instant?
    public var capacity: Scheduler.KindCapacity

    public var status: String { degraded ? "degraded" : capacity.workers == 0 && since == nil ? "absent" : "ok" }
}

/// Counters the core keeps for `/metrics` (per kind where it says so).
public struct CoordinatorCounters: Sendable, Equatable {
    /// Jobs that no worker could take within `queue_timeout_ms` (they failed open).
    public var placementFailures = [Int64](repeating: 0, count: WorkerKind.allCases.count)
    /// Retryable refusals of jobs a worker never accepted, placed elsewhere at once.
    public var refusals = [Int64](repeating: 0, count: WorkerKind.allCases.count)
    /// Jobs moved because the worker's heartbeats did not report them.
    public var jobsReconciled: Int64 = 0
    /// Times leaked slots were counted as occupied (a worker's load above the hub's count).
    public var leaksMarked: Int64 = 0
    /// Workers closed because their leaked slots persisted.
    public var recycles: Int64 = 0
    /// Running jobs that made no progress within their deadline.
    public var progressTimeouts: Int64 = 0
    /// Workers gone after missing heartbeats.
    public var heartbeatTimeouts: Int64 = 0
}

/// What the health tracker remembers between events, per kind.
struct HealthTracker: Sendable {
    var unplacedSince = [Instant?](repeating: nil, count: WorkerKind.allCases.count)
    var fullSince = [Instant?](repeating: nil, count: WorkerKind.allCases.count)
    /// The verdict last logged.
    var logged = [String?](repeating: nil, count: WorkerKind.allCases.count)
    /// Some condition is set: the verdict may mature without a placement.
    var pending = false
}

extension Coordinator {
    /// Updates the conditions after placement (`placementDirty` work), then logs verdicts that
    /// changed. Cheap when nothing is pending and placement did not run.
    func updateHealth(recompute: Bool) {
        if recompute {
            var pending = false
            for k in WorkerKind.allCases {
                let c = scheduler.capacity(k)
                let i = k.rawValue
                if c.queued > 0 {
                    if healthState.unplacedSince[i] == nil { healthState.unplacedSince[i] = now }
                } else if c.freeSlots > 0 {
                    healthState.unplacedSince[i] = nil
                }
                if c.workers > 0 && c.freeSlots == 0 && (c.leakedSlots > 0 || c.refusing > 0) {
                    if healthState.fullSince[i] == nil { healthState.fullSince[i] = now }
                } else {
                    healthState.fullSince[i] = nil
                }
                if healthState.unplacedSince[i] != nil || healthState.fullSince[i] != nil || c.ejected > 0 { pending = true }
            }
            healthState.pending = pending
        }
        guard healthState.pending || recompute else { return }
        for k in WorkerKind.allCases {
            let h = kindHealth(k, at: now)
            let verdict = h.degraded ? h.reason : nil
            if verdict != healthState.logged[k.rawValue] {
                record(.healthChanged, jobKind: k, from: healthState.logged[k.rawValue] ?? "ok", to: h.degraded ? "degraded" : "ok",
                       reason: h.reason ?? "ok", text: h.detail)
                healthState.logged[k.rawValue] = verdict
            }
        }
    }

    /// The verdict for one kind at `at` (the host's now; never before the last event).
    public func kindHealth(_ k: WorkerKind, at: Instant) -> KindHealth {
        let c = scheduler.capacity(k)
        let t = max(at, now)
        let grace = config.healthGraceUs
        let i = k.rawValue
        var h = KindHealth(kind: k, degraded: false, reason: nil, detail: "", since: nil, capacity: c)
        if c.workers > 0 && c.ejected == c.workers {
            h.degraded = true
            h.reason = "ejected"
            h.detail = "\(k): all \(c.workers) worker(s) are ejected after repeated failures"
            return h
        }
        if let since = healthState.fullSince[i] {
            h.since = since
            if t - since >= grace {
                h.degraded = true
                h.reason = "leaked"
                h.detail = "\(k): no free slot on \(c.workers) worker(s) for \((t - since) / 1000) ms "
                    + "(\(c.leakedSlots) slot(s) busy with jobs the hub does not know, \(c.refusing) refusing)"
                return h
            }
        }
        if let since = healthState.unplacedSince[i] {
            h.since = min(h.since ?? since, since)
            if t - since >= grace {
                h.degraded = true
                h.reason = "unplaced"
                h.detail = c.workers == 0
                    ? "\(k): jobs could not be placed for \((t - since) / 1000) ms: no \(k) worker"
                    : "\(k): jobs could not be placed for \((t - since) / 1000) ms (\(c.workers) worker(s), \(c.freeSlots) free slot(s))"
                return h
            }
        }
        h.detail = c.workers == 0 ? "\(k): no worker" : "\(k): \(c.workers) worker(s), \(c.freeSlots) free slot(s)"
        return h
    }

    /// Every kind's verdict at `at`; degraded when any kind is.
    public func health(at: Instant) -> (degraded: Bool, kinds: [KindHealth]) {
        let kinds = WorkerKind.allCases.map { kindHealth($0, at: at) }
        return (kinds.contains { $0.degraded }, kinds)
    }

    /// The health as a JSON object (the C ABI's `vc_coordinator_health`, docs/coordinator.md).
    public func healthJSON(at: Instant) -> JSON {
        let (degraded, kinds) = health(at: at)
        var perKind: [(String, JSON)] = []
        var reasons: [JSON] = []
        for h in kinds {
            var o: [(String, JSON)] = [
                ("status", .string(h.status)), ("workers", .number(Double(h.capacity.workers))),
                ("free_slots", .number(Double(h.capacity.freeSlots))), ("leaked_slots", .number(Double(h.capacity.leakedSlots))),
                ("ejected", .number(Double(h.capacity.ejected))), ("queued", .number(Double(h.capacity.queued))),
                ("detail", .string(h.detail)),
            ]
            if let r = h.reason { o.append(("reason", .string(r))) }
            if let since = h.since { o.append(("for_ms", .number(Double((max(at, now) - since) / 1000)))) }
            perKind.append((h.kind.name, .object(o)))
            if h.degraded { reasons.append(.string(h.detail)) }
        }
        let c = counters
        func perKindCounts(_ a: [Int64]) -> JSON { .object(WorkerKind.allCases.map { ($0.name, .number(Double(a[$0.rawValue]))) }) }
        let countersJSON: JSON = .object([
            ("placement_failures", perKindCounts(c.placementFailures)), ("refusals", perKindCounts(c.refusals)),
            ("jobs_reconciled", .number(Double(c.jobsReconciled))), ("leaks_marked", .number(Double(c.leaksMarked))),
            ("recycles", .number(Double(c.recycles))), ("progress_timeouts", .number(Double(c.progressTimeouts))),
            ("heartbeat_timeouts", .number(Double(c.heartbeatTimeouts))),
        ])
        return .object([("status", .string(degraded ? "degraded" : "ok")), ("reasons", .array(reasons)),
                        ("kinds", .object(perKind)), ("counters", countersJSON)])
    }
}
