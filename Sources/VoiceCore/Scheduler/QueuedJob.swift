/// A job waiting for a worker, as the Scheduler sees it.
public struct QueuedJob: Sendable {
    public var job: JobID
    public var kind: WorkerKind
    public var session: SessionID
    public var priority: JobPriority
    /// Placed on this worker when it can take the job (ASR stream affinity).
    public var preferred: WorkerID?
    /// Placed elsewhere when any other worker can take the job (a retry after a failure there).
    public var avoid: WorkerID?
    public var enqueuedAt: Instant
    /// Placed only on a worker that serves this agent ("": any worker of the kind).
    public var agent: String
    /// The job's language, its primary subtag ("": any worker; "auto": the ASR detects it):
    /// placed on a worker that names it, else on one that hears every language; on one that
    /// hears neither only when no registered worker of the kind hears it.
    public var language: String

    public init(job: JobID, kind: WorkerKind, session: SessionID, priority: JobPriority,
                preferred: WorkerID? = nil, avoid: WorkerID? = nil, enqueuedAt: Instant, agent: String = "", language: String = "") {
        self.job = job
        self.kind = kind
        self.session = session
        self.priority = priority
        self.preferred = preferred
        self.avoid = avoid
        self.enqueuedAt = enqueuedAt
        self.agent = agent
        self.language = LanguageTag.primary(language)
    }
}
