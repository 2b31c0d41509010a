/// What the Scheduler knows about one registered worker.
public struct WorkerState: Sendable {
    public var id: WorkerID
    public var name: String
    /// Kinds the worker serves now (for a multi-role worker: its active roles).
    public var kinds: KindSet
    /// Kinds a multi-role worker could serve (empty for a fixed worker).
    public var roles: KindSet
    public var slots: [Int]
    public var running: [Int]
    public var labels: [(String, String)]
    public var models: [String]
    /// The last load the worker reported, per kind.
    public var reportedLoad: [Int]
    public var lastHeartbeat: Instant
    public var draining = false
    public var consecutiveFailures = 0
    public var timesEjected = 0
    public var ejectedUntil: Instant?
    public var lastRoleChange: Instant?

    public var outstanding: Int { running.reduce(0, +) }

    func hasFreeSlot(_ k: WorkerKind) -> Bool { running[k.rawValue] < slots[k.rawValue] }
}

/// A worker's registration, as parsed from its `register` message.
public struct WorkerRegistration: Sendable {
    public var name: String
    public var kinds: KindSet
    public var roles: KindSet
    public var slots: [Int]
    public var models: [String]
    public var labels: [(String, String)]

    public init(name: String = "", kinds: KindSet, roles: KindSet = KindSet(), slots: [WorkerKind: Int] = [:],
                models: [String] = [], labels: [(String, String)] = []) {
        self.name = name
        self.kinds = kinds
        self.roles = roles
        self.slots = WorkerKind.allCases.map { slots[$0] ?? 1 }
        self.models = models
        self.labels = labels
    }
}
