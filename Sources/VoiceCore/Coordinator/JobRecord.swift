/// One job attempt the Coordinator tracks, from queueing to its terminal outcome. A reference type,
/// like `Session`, so worker messages update it in place; owned by one Coordinator.
final class JobRecord: @unchecked Sendable {
    enum Phase: Sendable { case queued, backoff, running }

    var kind: WorkerKind
    var session: SessionID
    var turn: TurnID
    /// The reply segment of a TTS job, else -1.
    var segment: Int
    var params: JobParams
    var priority: JobPriority
    var phase: Phase = .queued
    var worker: WorkerID?
    var accepted = false
    /// The attempt number (the first is 1), losses included.
    var attempt: Int
    /// How many of the earlier attempts ended because their worker was lost.
    var losses = 0
    var avoid: WorkerID?
    var preferred: WorkerID?
    var queuedAt: Instant
    var dispatchedAt = Instant(us: 0)
    /// Refusals met by this work (retryable errors before `accepted`); they spend no attempt.
    var refusals = 0
    /// When the job must have made progress; nil while no output is expected (ASR before speech).
    var deadline: Instant?
    var timer: TimerID?
    var timerAt: Instant = Instant(us: 0)
    /// The agent whose workers may run the job ("" = any worker of the kind).
    var agent = ""
    /// Assistant jobs: the worker reported the LLM's token usage (else it is estimated at `done`),
    /// and the characters of text it produced so far.
    var usageReported = false
    var outputChars = 0

    init(kind: WorkerKind, session: SessionID, turn: TurnID, segment: Int, params: JobParams, priority: JobPriority,
         attempt: Int, avoid: WorkerID?, preferred: WorkerID?, queuedAt: Instant) {
        self.kind = kind
        self.session = session
        self.turn = turn
        self.segment = segment
        self.params = params
        self.priority = priority
        self.attempt = attempt
        self.avoid = avoid
        self.preferred = preferred
        self.queuedAt = queuedAt
    }

    /// A fresh record for the next attempt of the same work.
    func copy() -> JobRecord {
        let r = JobRecord(kind: kind, session: session, turn: turn, segment: segment, params: params, priority: priority,
                          attempt: attempt, avoid: avoid, preferred: preferred, queuedAt: queuedAt)
        r.deadline = deadline
        r.losses = losses
        r.refusals = refusals
        r.agent = agent
        return r
    }
}

/// What a timer is for.
enum TimerPurpose: Sendable {
    case hello(SessionID)
    case idle(SessionID)
    case close(SessionID)
    case register(WorkerID)
    case heartbeat(WorkerID)
    case job(JobID)
    case reply(SessionID, TurnID)
    case preemption(SessionID, TurnID)
    case playback(SessionID, TurnID)
    case rebalance
    /// A device MCP listing request (`initialize`, `tools/list`) or a job's call, by JSON-RPC id.
    case mcpList(SessionID, Int)
    case mcpCall(SessionID, Int)
    case endOfTurn(SessionID, TurnID)
    case bargeIn(SessionID, TurnID)
}

/// A connected worker, registered or not yet.
struct WorkerConnection: Sendable {
    var registered = false
    var timer: TimerID?
}
