/// The one state machine that owns every device session, turn, job and timer. A deterministic
/// reactor: `handle(event, now)` returns the effects the host must carry out and appends to the
/// event log; it never reads a clock, sleeps, spawns threads, does I/O or draws unseeded random
/// numbers (the Scheduler's PRNG is seeded from the config).
public struct Coordinator: Sendable {
    public private(set) var config: CoordinatorConfig
    public internal(set) var scheduler: Scheduler
    public var log = EventLog()
    /// Set when the last event was rejected (and logged as `input.rejected`); nil otherwise.
    public private(set) var lastRejection: VCError?

    var sessions = SlotTable<SessionID, Session>()
    var jobs = SlotTable<JobID, JobRecord>()
    var timers = IDMap<TimerID, TimerPurpose>()
    var workers = IDMap<WorkerID, WorkerConnection>()
    var nextJob: UInt64 = 1
    var nextTimer: UInt64 = 1
    var nextSay: UInt64 = 1
    var now = Instant(us: 0)
    var out: [Effect] = []
    /// Something changed that may let a queued job be placed.
    var placementDirty = false
    var justQueued: [JobID] = []
    var touched: [SessionID] = []
    var asrBlockedSessions = 0
    var rebalanceTimer: TimerID?
    var replayLimitBytes: Int
    /// Counters for `/metrics` (Coordinator+Health.swift).
    public internal(set) var counters = CoordinatorCounters()
    var healthState = HealthTracker()
    /// Placement ran during this event: the health conditions are recomputed.
    var healthDirty = false
    /// Devices moved to another agent at run time (device id → agent), over `config.bindings`.
    var movedDevices: [String: String] = [:]
    /// Turns and tokens spent per device and per agent (Coordinator+Agents.swift).
    var budgets = BudgetLedger()
    var budgetTurns = 0
    /// LLM tokens and turns per agent and model, for `/metrics`.
    public internal(set) var usage = UsageTally()

    public init(config: CoordinatorConfig = CoordinatorConfig()) throws(VCError) {
        self.config = config
        replayLimitBytes = Int(config.asrReplayUs * Int64(config.asrSampleRate) * 2 / 1_000_000)
        scheduler = Scheduler(config: config.scheduler)
        log.storing = config.log
        out.reserveCapacity(64)
    }

    // MARK: the reactor

    /// Handles one event at host time `now` and returns the effects to carry out, in order. The
    /// returned array is the Coordinator's reused buffer: drop it before the next call to avoid a
    /// copy. An invalid event changes nothing but the log (`input.rejected`) and `lastRejection`.
    public mutating func handle(_ event: consuming Event, now: Instant) -> [Effect] {
        out.removeAll(keepingCapacity: true)
        lastRejection = nil
        guard now >= self.now else {
            reject("time went backwards: \(now.us) < \(self.now.us)")
            return out
        }
        self.now = now
        dispatch(event)
        if !touched.isEmpty { startDueSays() }
        if placementDirty { placeJobs() }
        if !touched.isEmpty { updatePhases() }
        if healthDirty || healthState.pending {
            updateHealth(recompute: healthDirty)
            healthDirty = false
        }
        return out
    }

    /// Records an event the host could not even decode (bad JSON, unknown type) as rejected.
    public mutating func rejectInput(_ reason: String, session: SessionID? = nil, worker: WorkerID? = nil, now: Instant) {
        lastRejection = VCError(.parse, reason)
        log.append(LogEntry(time: max(now, self.now), kind: .inputRejected, session: session, worker: worker, reason: reason))
    }

    private mutating func dispatch(_ event: consuming Event) {
        switch event {
        case let .deviceConnected(s, info): deviceConnected(s, info)
        case let .deviceHello(s, hello): deviceHello(s, hello)
        case let .deviceListen(s, command): deviceListen(s, command)
        case let .deviceAbort(s, reason): deviceAbort(s, reason: reason)
        case let .deviceMCP(s, payload): deviceMCP(s, payload)
        case let .deviceAudio(s, pcm): deviceAudio(s, pcm)
        case let .devicePlaybackDone(s, turn): devicePlaybackDone(s, turn)
        case let .deviceDisconnected(s, reason): deviceDisconnected(s, reason: reason)
        case let .textInput(s, text): textInput(s, text)
        case let .workerConnected(w): workerConnected(w)
        case let .workerRegister(w, registration): workerRegister(w, registration)
        case let .workerHeartbeat(w, load): workerHeartbeat(w, load)
        case let .workerAccepted(w, job): workerAccepted(w, job)
        case let .workerOutput(w, job, output): workerOutput(w, job, output)
        case let .workerAudio(w, job, last, pcm): workerAudio(w, job, last: last, pcm)
        case let .workerDone(w, job): workerDone(w, job)
        case let .workerError(w, job, message, retryable): workerError(w, job, message: message, retryable: retryable)
        case let .workerDrain(w): workerDrain(w)
        case let .workerDisconnected(w): workerGone(w, reason: "disconnected", close: false)
        case let .timerFired(t): timerFired(t)
        case let .configure(c): configure(c)
        case let .adminRequest(r): adminRequest(r)
        case let .workerSay(w, deviceID, content): workerSay(w, deviceID: deviceID, content)
        }
    }

    private mutating func configure(_ c: CoordinatorConfig) {
        config = c
        movedDevices = movedDevices.filter { c.agents[$0.value] != nil }
        replayLimitBytes = Int(c.asrReplayUs * Int64(c.asrSampleRate) * 2 / 1_000_000)
        scheduler.reconfigure(c.scheduler)
        log.storing = c.log
        record(.configApplied)
    }

    // MARK: helpers shared by the transitions

    mutating func reject(_ reason: String, session: SessionID? = nil, worker: WorkerID? = nil, job: JobID? = nil) {
        lastRejection = VCError(.notFound, reason)
        log.append(LogEntry(time: now, kind: .inputRejected, session: session, job: job, worker: worker, reason: reason))
    }

    mutating func record(_ kind: LogKind, session: SessionID? = nil, turn: TurnID? = nil, job: JobID? = nil,
                         jobKind: WorkerKind? = nil, worker: WorkerID? = nil, from: String? = nil, to: String? = nil,
                         reason: String? = nil, value: Int64? = nil, text: String? = nil, timings: [(String, Int64)]? = nil) {
        log.append(LogEntry(time: now, kind: kind, session: session, turn: turn, job: job, jobKind: jobKind,
                            worker: worker, from: from, to: to, reason: reason, value: value, text: text, timings: timings))
    }

    mutating func touch(_ s: SessionID) {
        if touched.last != s { touched.append(s) }
    }

    private mutating func updatePhases() {
        for s in touched {
            settleReplyPause(s)
            guard let session = sessions[s] else { continue }
            let next = session.currentPhase
            if next != session.phase {
                record(.sessionState, session: s, turn: session.reply?.turn ?? session.utterance?.turn,
                       from: session.phase.description, to: next.description)
                sessions[s]!.phase = next
            }
        }
        touched.removeAll(keepingCapacity: true)
    }

    mutating func setTimer(_ purpose: TimerPurpose, at: Instant) -> TimerID {
        let id = TimerID(nextTimer)
        nextTimer += 1
        timers[id] = purpose
        out.append(.timerSet(id, at: at))
        return id
    }

    mutating func cancelTimer(_ id: TimerID?) {
        guard let id, timers.removeValue(forKey: id) != nil else { return }
        out.append(.timerCancel(id))
    }

    // MARK: inspection (tests, the Simulator)

    public var sessionCount: Int { sessions.count }
    public var jobCount: Int { jobs.count }
    public var timerCount: Int { timers.count }
    public func phase(of s: SessionID) -> SessionPhase? { sessions[s]?.currentPhase }
    public func currentTurn(of s: SessionID) -> TurnID? { sessions[s].flatMap { $0.reply?.turn ?? $0.utterance?.turn } }
    /// Live jobs of a session (queued, backing off or running), in id order.
    public func jobs(of s: SessionID) -> [JobID] { jobs.pairs.filter { $0.value.session == s }.map(\.key).sorted() }
    public func jobKind(_ j: JobID) -> WorkerKind? { jobs[j]?.kind }
    public func jobWorker(_ j: JobID) -> WorkerID? { jobs[j]?.worker }
    /// The turn of the session's held (preemptive, uncommitted) reply, if any.
    public func heldTurn(of s: SessionID) -> TurnID? { sessions[s]?.held?.turn }
}
