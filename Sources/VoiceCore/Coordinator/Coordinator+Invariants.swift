/// The Coordinator's invariants over its own state, in one place. The transitions assert the cheap
/// ones where the state changes (`precondition`); `checkInvariants()` checks them all over the whole
/// state (O(sessions + jobs + workers + timers)). Debug builds run it after every `handle`; the
/// Simulator's checker runs it at its checkpoints and reports a violation by its name
/// (docs/simulator.md) instead of trapping.
public struct InvariantViolation: Sendable, Equatable, CustomStringConvertible {
    /// The invariant's stable name (`InvariantViolation.names`).
    public var invariant: String
    public var session: SessionID?
    public var detail: String

    public var description: String { "\(invariant): \(detail)" }

    /// The families, each a function below.
    public static let names = ["job-placement", "worker-slots", "worker-registry", "session-turns", "held-reply",
                               "timer-ownership", "ids-increase"]
}

extension Coordinator {
    /// Every invariant over the whole state; the first violation, or nil.
    public func checkInvariants() -> InvariantViolation? {
        checkWorkerSlots() ?? checkJobPlacement() ?? checkWorkerRegistry() ?? checkSessions() ?? checkTimers()
    }

    /// Traps on a violation (debug builds call it after every event while `selfCheck` is on).
    func verify() {
        if let v = checkInvariants() { preconditionFailure("Coordinator invariant \(v)") }
    }

    private static let perKind = [Int](repeating: 0, count: WorkerKind.allCases.count)

    private func violation(_ invariant: String, _ session: SessionID? = nil, _ detail: String) -> InvariantViolation {
        InvariantViolation(invariant: invariant, session: session, detail: detail)
    }

    /// `job-placement`: a job is in exactly one place — queued in the Scheduler (`queued`), holding
    /// a slot of the one worker it was dispatched to (`running`), or waiting for its backoff timer
    /// (`backoff`) — and the Scheduler holds no job the Coordinator does not. `ids-increase`: every
    /// job id was issued (below `nextJob`).
    func checkJobPlacement() -> InvariantViolation? {
        var queued = 0, running = 0
        for (id, j) in jobs.pairs {
            if id.raw == 0 || id.raw >= nextJob { return violation("ids-increase", j.session, "job \(id) not below the next id \(nextJob)") }
            let inQueue = scheduler.isQueued(id, kind: j.kind), slotOn = scheduler.assignedWorker(id)
            switch j.phase {
            case .queued:
                queued += 1
                guard inQueue, slotOn == nil, j.worker == nil else {
                    return violation("job-placement", j.session, "queued job \(id): in queue \(inQueue), slot on \(slotOn?.description ?? "none"), worker \(j.worker?.description ?? "none")")
                }
            case .running:
                running += 1
                guard !inQueue, let w = j.worker, slotOn == w else {
                    return violation("job-placement", j.session, "running job \(id) on \(j.worker?.description ?? "no worker"): in queue \(inQueue), slot on \(slotOn?.description ?? "none")")
                }
            case .backoff:
                guard !inQueue, slotOn == nil, j.timer != nil else {
                    return violation("job-placement", j.session, "job \(id) in backoff: in queue \(inQueue), slot on \(slotOn?.description ?? "none"), timer \(j.timer != nil)")
                }
            }
        }
        let schedulerQueued = WorkerKind.allCases.reduce(0) { $0 + scheduler.queuedCount($1) }
        if schedulerQueued != queued || scheduler.runningCount != running {
            return violation("job-placement", nil, "the Scheduler holds \(schedulerQueued) queued and \(scheduler.runningCount) running jobs, the Coordinator \(queued) and \(running)")
        }
        return nil
    }

    /// `worker-slots`: each worker's busy slots of a kind equal the running jobs placed on it.
    func checkWorkerSlots() -> InvariantViolation? {
        var placed: [WorkerID: [Int]] = [:]
        for (_, j) in jobs.pairs where j.phase == .running {
            if let w = j.worker { placed[w, default: Self.perKind][j.kind.rawValue] += 1 }
        }
        for w in scheduler.workerIDs {
            let busy = scheduler.worker(w)!.running, jobs = placed[w] ?? Self.perKind
            for k in WorkerKind.allCases where busy[k.rawValue] != jobs[k.rawValue] {
                return violation("worker-slots", nil, "worker \(w) holds \(busy[k.rawValue]) \(k) slots for \(jobs[k.rawValue]) running jobs (leaked slot)")
            }
        }
        return nil
    }

    /// `worker-registry`: the Scheduler knows exactly the registered worker connections.
    func checkWorkerRegistry() -> InvariantViolation? {
        var registered = 0
        for w in workers.keyList where workers[w]!.registered {
            registered += 1
            if scheduler.worker(w) == nil { return violation("worker-registry", nil, "registered worker \(w) is not in the Scheduler") }
        }
        if registered != scheduler.workerCount {
            return violation("worker-registry", nil, "\(scheduler.workerCount) workers in the Scheduler, \(registered) registered connections")
        }
        return nil
    }

    /// `session-turns`: a session's utterance and reply are turns it issued (`ids-increase`), a reply
    /// playing while the next utterance is heard is of an earlier turn, and every job a turn names is
    /// live, of that session and turn and of the right kind (and no job is named twice).
    /// `held-reply`: a held reply belongs to the session's open utterance, and its job is live.
    func checkSessions() -> InvariantViolation? {
        var owned = 0
        func owns(_ s: SessionID, _ id: JobID, _ kind: WorkerKind, _ turn: TurnID, segment: Int = -1,
                  _ invariant: String = "session-turns") -> InvariantViolation? {
            owned += 1
            guard let j = jobs[id] else { return violation(invariant, s, "turn \(turn) names job \(id), which is not live") }
            guard j.session == s, j.kind == kind, j.turn == turn, j.segment == segment else {
                return violation(invariant, s, "turn \(turn) names job \(id) as \(kind) segment \(segment); it is \(j.kind) of \(j.session) turn \(j.turn) segment \(j.segment)")
            }
            return nil
        }
        for (s, session) in sessions.pairs {
            let next = TurnID(session.nextTurn)
            if let u = session.utterance {
                if u.turn >= next { return violation("ids-increase", s, "utterance of turn \(u.turn) not below the next turn \(next)") }
                if let v = owns(s, u.job, .asr, u.turn) { return v }
            }
            if let r = session.reply {
                if r.turn >= next { return violation("ids-increase", s, "reply of turn \(r.turn) not below the next turn \(next)") }
                if let u = session.utterance, r.turn >= u.turn {
                    return violation("session-turns", s, "reply of turn \(r.turn) plays while turn \(u.turn) is heard")
                }
                if r.head > r.segments.count { return violation("session-turns", s, "reply head \(r.head) past \(r.segments.count) segments") }
                if let j = r.assistantJob, let v = owns(s, j, .assistant, r.turn) { return v }
                for (i, segment) in r.segments.enumerated() {
                    if let j = segment.job, let v = owns(s, j, .tts, r.turn, segment: i) { return v }
                }
            }
            if let h = session.held {
                guard let u = session.utterance, u.turn == h.turn else {
                    return violation("held-reply", s, "held reply of turn \(h.turn) without that turn's open utterance")
                }
                if let j = h.job, let v = owns(s, j, .assistant, h.turn, "held-reply") { return v }
            }
        }
        if owned != jobs.count {
            return violation("session-turns", nil, "\(jobs.count) live jobs, \(owned) named by the sessions' turns")
        }
        return nil
    }

    /// `timer-ownership`: every timer the state names is armed for that purpose, and every armed
    /// timer is named by the state (none leaks); `ids-increase`: every timer id was issued.
    func checkTimers() -> InvariantViolation? {
        var named = 0
        func armed(_ t: TimerID?, _ purpose: TimerPurpose, _ s: SessionID? = nil) -> InvariantViolation? {
            guard let t else { return nil }
            named += 1
            if t.raw == 0 || t.raw >= nextTimer { return violation("ids-increase", s, "timer \(t) not below the next id \(nextTimer)") }
            guard let p = timers[t], p == purpose else {
                return violation("timer-ownership", s, "timer \(t) is named for \(purpose) but armed for \(timers[t].map { "\($0)" } ?? "nothing")")
            }
            return nil
        }
        for (id, j) in jobs.pairs { if let v = armed(j.timer, .job(id), j.session) { return v } }
        for w in workers.keyList {
            let conn = workers[w]!
            if let v = armed(conn.timer, conn.registered ? .heartbeat(w) : .register(w)) { return v }
        }
        if let v = armed(rebalanceTimer, .rebalance) { return v }
        for (s, session) in sessions.pairs {
            if let v = armed(session.helloTimer, .hello(s), s) ?? armed(session.idleTimer, .idle(s), s)
                ?? armed(session.closeTimer, .close(s), s) { return v }
            if let u = session.utterance, let v = armed(u.endTimer, .endOfTurn(s, u.turn), s) ?? armed(u.bargeInTimer, .bargeIn(s, u.turn), s) {
                return v
            }
            if let r = session.reply, let v = armed(r.watchdog, .reply(s, r.turn), s) ?? armed(r.playbackTimer, .playback(s, r.turn), s) {
                return v
            }
            if let h = session.held, let v = armed(h.watchdog, .preemption(s, h.turn), s) { return v }
            if let mcp = session.deviceMCP {
                if let v = armed(mcp.listTimer, .mcpList(s, mcp.listRequest?.id ?? -1), s) { return v }
                for (id, call) in mcp.calls { if let v = armed(call.timer, .mcpCall(s, id), s) { return v } }
            }
        }
        if named != timers.count { return violation("timer-ownership", nil, "\(timers.count) timers armed, \(named) named by the state") }
        return nil
    }
}
