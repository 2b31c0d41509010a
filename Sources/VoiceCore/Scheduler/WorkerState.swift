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
    /// The agents whose assistant jobs the worker runs (empty: every agent's).
    public var agents: Set<String> = []
    /// The languages the worker's model hears or speaks, primary subtags (empty: every language).
    public var languages: Set<String> = []
    /// The last load the worker reported, per kind.
    public var reportedLoad: [Int]
    public var lastHeartbeat: Instant
    public var draining = false
    public var consecutiveFailures = 0
    public var timesEjected = 0
    public var ejectedUntil: Instant?
    public var lastRoleChange: Instant?
    /// Per kind: slots the worker reports busy with jobs the hub does not know (a leak on the
    /// worker), set by reconciliation; they count as occupied.
    public var phantom: [Int] = [Int](repeating: 0, count: WorkerKind.allCases.count)
    /// Kinds for which the worker refused a job for lack of a slot: treated as full until a
    /// heartbeat reports room or one of its jobs of that kind ends.
    public var refusedFull = KindSet()
    /// Per kind: consecutive heartbeats whose load disagreed with the hub's count (below it,
    /// above it).
    public var lowStreak: [Int] = [Int](repeating: 0, count: WorkerKind.allCases.count)
    public var highStreak: [Int] = [Int](repeating: 0, count: WorkerKind.allCases.count)

    public var outstanding: Int { running.reduce(0, +) }

    /// Slots of `k` free for a new job: leaked (phantom) slots and a refusal count as occupied.
    public func freeSlots(_ k: WorkerKind) -> Int {
        if refusedFull.contains(k) { return 0 }
        return max(0, slots[k.rawValue] - running[k.rawValue] - phantom[k.rawValue])
    }

    func hasFreeSlot(_ k: WorkerKind) -> Bool { freeSlots(k) > 0 }

    /// Whether the worker may run a job that requires `agent` ("" requires none).
    public func serves(agent: String) -> Bool { agent.isEmpty || agents.isEmpty || agents.contains(agent) }

    /// How well the worker fits a job in `language` (`LanguageTag.fit`).
    public func fit(language: String) -> Int { LanguageTag.fit(languages, language) }
}

/// A worker's registration, as parsed from its `register` message.
public struct WorkerRegistration: Sendable {
    public var name: String
    public var kinds: KindSet
    public var roles: KindSet
    public var slots: [Int]
    public var models: [String]
    public var labels: [(String, String)]
    /// The agents the worker serves (`register.agents`; empty: every agent).
    public var agents: [String]
    /// The languages its model handles (`register.languages`; empty: every language).
    public var languages: [String]

    public init(name: String = "", kinds: KindSet, roles: KindSet = KindSet(), slots: [WorkerKind: Int] = [:],
                models: [String] = [], labels: [(String, String)] = [], agents: [String] = [], languages: [String] = []) {
        self.name = name
        self.kinds = kinds
        self.roles = roles
        self.slots = WorkerKind.allCases.map { slots[$0] ?? 1 }
        self.models = models
        self.labels = labels
        self.agents = agents
        self.languages = languages
    }
}
