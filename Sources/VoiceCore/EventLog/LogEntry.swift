/// One structured event-log entry: a transition or a decision of the Coordinator or Scheduler.
/// Fields that do not apply are nil and are left out of the JSON line.
public struct LogEntry: @unchecked Sendable {
    public var time: Instant
    public var seq: UInt64
    public var kind: LogKind
    public var session: SessionID?
    public var turn: TurnID?
    public var job: JobID?
    public var jobKind: WorkerKind?
    public var worker: WorkerID?
    public var from: String?
    public var to: String?
    public var reason: String?
    /// A number whose meaning the kind defines (a duration in µs, a segment index, a count).
    public var value: Int64?
    public var text: String?
    /// Named durations in µs (the latency budget of a turn, on `turn.ended`).
    public var timings: [(String, Int64)]?

    public init(time: Instant, seq: UInt64 = 0, kind: LogKind, session: SessionID? = nil, turn: TurnID? = nil,
                job: JobID? = nil, jobKind: WorkerKind? = nil, worker: WorkerID? = nil, from: String? = nil,
                to: String? = nil, reason: String? = nil, value: Int64? = nil, text: String? = nil,
                timings: [(String, Int64)]? = nil) {
        self.time = time
        self.seq = seq
        self.kind = kind
        self.session = session
        self.turn = turn
        self.job = job
        self.jobKind = jobKind
        self.worker = worker
        self.from = from
        self.to = to
        self.reason = reason
        self.value = value
        self.text = text
        self.timings = timings
    }
}
