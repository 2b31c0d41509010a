/// The worker registry and job placement. Pure: every call that depends on time takes `now`, and
/// every random choice comes from the seeded `SplitMix64` in the state.
///
/// Placement takes the next job of a kind (priority class, then per-session round robin) and puts
/// it on the least loaded of two randomly sampled workers that have a free slot of that kind
/// (power of two choices), honouring ASR stream affinity and "retry elsewhere". A job for an agent
/// goes only to a worker serving that agent; a job in a language to a worker that hears it
/// (`QueuedJob.language`), once any worker names its languages.
public struct Scheduler: Sendable {
    public struct Placement: Sendable {
        public var job: QueuedJob
        public var worker: WorkerID
    }

    struct Assignment: Sendable {
        var worker: Int32
        var kind: WorkerKind
    }

    public private(set) var config: SchedulerConfig
    var rng: SplitMix64
    var workers: [WorkerState?] = []
    var indexOf = IDMap<WorkerID, Int32>()
    private var freeIndices: [Int32] = []
    /// Per kind: workers that serve it now (registered, active role), whatever their state.
    var members = [IndexedSet](repeating: IndexedSet(), count: WorkerKind.allCases.count)
    /// Per kind: workers that can take a job of it now (free slot, not draining, not ejected).
    var available = [IndexedSet](repeating: IndexedSet(), count: WorkerKind.allCases.count)
    var queues = [FairQueue](repeating: FairQueue(), count: WorkerKind.allCases.count)
    var assignments = IDMap<JobID, Assignment>()
    var ejected: [Int32] = []
    var retryTokens: [Double]
    var lastEjection: (WorkerID, Instant)?
    var restored: [WorkerID] = []
    /// Registered workers that name their languages: while there are none, a job's language does
    /// not enter placement.
    var languageWorkers = 0

    public init(config: SchedulerConfig = SchedulerConfig()) {
        self.config = config
        rng = SplitMix64(seed: config.seed)
        retryTokens = [Double](repeating: config.retryTokens, count: WorkerKind.allCases.count)
    }

    /// New tunables; the PRNG state is kept (a `seed` change takes effect only at creation).
    public mutating func reconfigure(_ config: SchedulerConfig) {
        self.config = config
        for k in 0..<retryTokens.count { retryTokens[k] = min(retryTokens[k], config.retryTokens) }
    }

    // MARK: registry

    public var workerCount: Int { indexOf.count }

    public func worker(_ id: WorkerID) -> WorkerState? {
        guard let i = indexOf[id] else { return nil }
        return workers[Int(i)]
    }

    public var workerIDs: [WorkerID] { indexOf.keyList.sorted() }

    /// Registers a worker; returns false when the id is already registered.
    @discardableResult
    public mutating func register(_ id: WorkerID, _ registration: WorkerRegistration, now: Instant) -> Bool {
        guard indexOf[id] == nil else { return false }
        var kinds = registration.kinds
        var roles = registration.roles
        if !roles.isEmpty {
            // A multi-role worker starts with the roles it declared as kinds, or its first role.
            if kinds.isEmpty { kinds.insert(roles.first(where: { _ in true })!) }
            for k in kinds { roles.insert(k) }
        }
        var state = WorkerState(
            id: id, name: registration.name, kinds: kinds, roles: roles, slots: registration.slots,
            running: [Int](repeating: 0, count: WorkerKind.allCases.count), labels: registration.labels,
            models: registration.models, reportedLoad: [Int](repeating: 0, count: WorkerKind.allCases.count),
            lastHeartbeat: now)
        state.agents = Set(registration.agents)
        state.languages = Set(registration.languages.map { LanguageTag.primary($0) })
        if !state.languages.isEmpty { languageWorkers += 1 }
        let index: Int32
        if let reused = freeIndices.popLast() {
            index = reused
            workers[Int(index)] = state
        } else {
            index = Int32(workers.count)
            workers.append(state)
        }
        indexOf[id] = index
        refresh(index)
        return true
    }

    /// Records a heartbeat; returns false for an unknown worker. Reconciling the reported load
    /// with the hub's count is the Coordinator's (Coordinator+Reconcile.swift).
    @discardableResult
    public mutating func heartbeat(_ id: WorkerID, load: [WorkerKind: Int], now: Instant) -> Bool {
        guard let i = indexOf[id] else { return false }
        workers[Int(i)]!.lastHeartbeat = now
        for (k, n) in load { workers[Int(i)]!.reportedLoad[k.rawValue] = n }
        return true
    }

    /// Sets the reconciliation state of one kind of a worker (streaks, leaked slots, the refusal
    /// mark) and recomputes its availability.
    mutating func setLoadState(_ id: WorkerID, _ k: WorkerKind, low: Int, high: Int, phantom: Int, refusedFull: Bool) {
        guard let i = indexOf[id] else { return }
        workers[Int(i)]!.lowStreak[k.rawValue] = low
        workers[Int(i)]!.highStreak[k.rawValue] = high
        workers[Int(i)]!.phantom[k.rawValue] = max(0, phantom)
        if refusedFull { workers[Int(i)]!.refusedFull.insert(k) } else { workers[Int(i)]!.refusedFull.remove(k) }
        refresh(i)
    }

    /// The worker refused a job it never accepted (no free slot, draining, kind not served): the
    /// slot is released without counting a failure or spending the retry budget, and the worker
    /// counts as full for that kind until a heartbeat or a finished job says otherwise. Returns
    /// whether the job was assigned to that worker.
    @discardableResult
    public mutating func refuse(_ job: JobID) -> Bool {
        guard let a = assignments[job] else { return false }
        if workers[Int(a.worker)] != nil { workers[Int(a.worker)]!.refusedFull.insert(a.kind) }
        return release(job) != nil
    }

    /// The worker takes no new jobs; running ones finish.
    @discardableResult
    public mutating func drain(_ id: WorkerID) -> Bool {
        guard let i = indexOf[id] else { return false }
        workers[Int(i)]!.draining = true
        refresh(i)
        return true
    }

    /// Removes a worker; returns the jobs that were running on it (in id order), which are released.
    public mutating func remove(_ id: WorkerID) -> [JobID] {
        guard let i = indexOf.removeValue(forKey: id) else { return [] }
        var lost: [JobID] = []
        for job in assignments.keyList where assignments[job]!.worker == i { lost.append(job) }
        lost.sort()
        for job in lost { assignments.removeValue(forKey: job) }
        for k in WorkerKind.allCases {
            members[k.rawValue].remove(i)
            available[k.rawValue].remove(i)
        }
        ejected.removeAll { $0 == i }
        if !workers[Int(i)]!.languages.isEmpty { languageWorkers -= 1 }
        assert(languageWorkers >= 0, "language-workers: more removed than registered")
        workers[Int(i)] = nil
        freeIndices.append(i)
        return lost
    }

    /// Whether some registered worker serves `kind` (and `agent`, when given) now and is not
    /// draining (ejected ones count: when all are ejected they are used anyway).
    public func canServe(_ kind: WorkerKind, agent: String = "") -> Bool {
        for i in members[kind.rawValue].members where !(workers[Int(i)]!.draining) && workers[Int(i)]!.serves(agent: agent) {
            return true
        }
        return false
    }

    /// The agents named by the registered workers of `kind` (a worker that names none serves all
    /// and adds nothing here), sorted.
    public func servedAgents(_ kind: WorkerKind) -> [String] {
        var names = Set<String>()
        for i in members[kind.rawValue].members { names.formUnion(workers[Int(i)]!.agents) }
        return names.sorted()
    }

    /// Recomputes which per-kind sets a worker belongs to.
    mutating func refresh(_ i: Int32) {
        guard let w = workers[Int(i)] else { return }
        let isEjected = w.ejectedUntil != nil
        for k in WorkerKind.allCases {
            if w.kinds.contains(k) && w.slots[k.rawValue] > 0 {
                members[k.rawValue].insert(i)
                if !w.draining && !isEjected && w.hasFreeSlot(k) {
                    available[k.rawValue].insert(i)
                } else {
                    available[k.rawValue].remove(i)
                }
            } else {
                members[k.rawValue].remove(i)
                available[k.rawValue].remove(i)
            }
        }
    }

    // MARK: queue

    public mutating func enqueue(_ job: QueuedJob) {
        queues[job.kind.rawValue].push(job)
    }

    public func queuedCount(_ kind: WorkerKind) -> Int { queues[kind.rawValue].count }

    public func isQueued(_ job: JobID, kind: WorkerKind) -> Bool { queues[kind.rawValue].live[job] != nil }

    public func assignedWorker(_ job: JobID) -> WorkerID? {
        guard let a = assignments[job] else { return nil }
        return workers[Int(a.worker)]?.id
    }

    public var runningCount: Int { assignments.count }

    /// Per-kind capacity for the health verdict (Coordinator+Health.swift).
    public struct KindCapacity: Sendable, Equatable {
        /// Registered workers serving the kind.
        public var workers = 0
        /// Of those, ejected ones, and draining ones.
        public var ejected = 0
        public var draining = 0
        /// Free slots on workers that can take a job now.
        public var freeSlots = 0
        /// Slots the workers report busy with jobs the hub does not know.
        public var leakedSlots = 0
        /// Workers marked full after a refusal.
        public var refusing = 0
        public var queued = 0
    }

    public func capacity(_ kind: WorkerKind) -> KindCapacity {
        var c = KindCapacity()
        let k = kind.rawValue
        for i in members[k].members {
            let w = workers[Int(i)]!
            c.workers += 1
            if w.ejectedUntil != nil { c.ejected += 1 }
            if w.draining { c.draining += 1 }
            c.leakedSlots += w.phantom[k]
            if w.refusedFull.contains(kind) { c.refusing += 1 }
            if w.ejectedUntil == nil && !w.draining { c.freeSlots += w.freeSlots(kind) }
        }
        c.queued = queues[k].count
        return c
    }

    /// Removes a job from its queue or releases its slot. Returns whether it was known.
    @discardableResult
    public mutating func cancel(_ job: JobID, kind: WorkerKind) -> Bool {
        if queues[kind.rawValue].remove(job) { return true }
        return release(job) != nil
    }

    /// The job ended on its worker. A success resets the worker's failure streak and refills the
    /// retry budget; a failure counts towards ejection.
    public mutating func finish(_ job: JobID, success: Bool, now: Instant) {
        guard let a = release(job) else { return }
        if workers[Int(a.worker)]?.refusedFull.contains(a.kind) == true {
            workers[Int(a.worker)]!.refusedFull.remove(a.kind)
            refresh(a.worker)
        }
        if success {
            workers[Int(a.worker)]!.consecutiveFailures = 0
            retryTokens[a.kind.rawValue] = min(config.retryTokens, retryTokens[a.kind.rawValue] + config.retryTokenRatio)
        } else {
            recordFailure(a.worker, kind: a.kind, now: now)
        }
    }

    private mutating func release(_ job: JobID) -> Assignment? {
        guard let a = assignments.removeValue(forKey: job) else { return nil }
        if workers[Int(a.worker)] != nil {
            workers[Int(a.worker)]!.running[a.kind.rawValue] -= 1
            refresh(a.worker)
        }
        return a
    }

    // MARK: placement

    /// The next placement, or nil when no queued job can be placed now.
    public mutating func nextPlacement(now: Instant) -> Placement? {
        if !ejected.isEmpty { restoreEjected(now: now) }
        for k in 0..<queues.count where !queues[k].isEmpty {
            if available[k].isEmpty && ejected.isEmpty { continue }
            // A job that requires an agent waits (without holding up the others) until a worker
            // serving that agent can take it.
            // So does a job in a language while some worker that hears it is registered.
            let any = !available[k].isEmpty || hasEjectedFallback(k)
            let (pool, all, states, someEjected, languages) = (available[k], members[k], workers, !ejected.isEmpty, languageWorkers > 0)
            let placeable = { (job: QueuedJob) -> Bool in
                guard Self.restricts(job, languages: languages) else { return any }
                let accepts = Self.acceptance(job, members: all, workers: states, languages: languages)
                return Self.hasCandidate(k, accepts: accepts, available: pool, members: all, workers: states, someEjected: someEjected)
            }
            guard let job = queues[k].pop(where: placeable) else { continue }
            guard let i = chooseWorker(for: job) else {
                queues[k].push(job)  // cannot happen: a worker was available
                continue
            }
            place(job, on: i)
            return Placement(job: job, worker: workers[Int(i)]!.id)
        }
        return nil
    }

    /// Takes a slot of worker `i` for the job.
    // Internal rather than private: the Simulator's test-only `leaked-slot` bug places a job behind the
    // Coordinator's back to prove the slot invariant catches it.
    mutating func place(_ job: QueuedJob, on i: Int32) {
        workers[Int(i)]!.running[job.kind.rawValue] += 1
        assignments[job.job] = Assignment(worker: i, kind: job.kind)
        refresh(i)
    }

    private func score(_ i: Int32, _ k: Int) -> (Double, Int) {
        let w = workers[Int(i)]!
        return (Double(w.running[k] + w.phantom[k]) / Double(max(1, w.slots[k])), w.reportedLoad[k])
    }

    private func less(_ a: Int32, _ b: Int32, _ k: Int) -> Bool {
        let sa = score(a, k), sb = score(b, k)
        return sa.0 < sb.0 || (sa.0 == sb.0 && sa.1 < sb.1)
    }

    /// Whether an available (or, when all are ejected, an ejected) worker of kind `k` passes `accepts`.
    static func hasCandidate(_ k: Int, accepts: (WorkerState) -> Bool, available: IndexedSet, members: IndexedSet,
                             workers: [WorkerState?], someEjected: Bool) -> Bool {
        for i in available.members where accepts(workers[Int(i)]!) { return true }
        return someEjected && ejectedFallback(k, avoid: nil, accepts: accepts, workers: workers, members: members) != nil
    }

    /// Whether the job may not go to just any worker of its kind: it requires an agent, or it has a
    /// language and some worker names its languages.
    static func restricts(_ job: QueuedJob, languages: Bool) -> Bool {
        !job.agent.isEmpty || (languages && !job.language.isEmpty)
    }

    /// The workers `job` may run on (`members`: the workers of its kind): those serving its agent
    /// and, when one of those that is not draining hears its language, those that hear it. With
    /// none that hears it, any: a Chinese utterance heard by an English-only model beats one
    /// heard by nobody.
    static func acceptance(_ job: QueuedJob, members: IndexedSet, workers: [WorkerState?], languages: Bool) -> (WorkerState) -> Bool {
        let agent = job.agent, language = job.language
        guard languages, !language.isEmpty else { return { $0.serves(agent: agent) } }
        let heard = members.members.contains { i in
            let w = workers[Int(i)]!
            return !w.draining && w.serves(agent: agent) && w.fit(language: language) > 0
        }
        return { $0.serves(agent: agent) && (!heard || $0.fit(language: language) > 0) }
    }

    mutating func chooseWorker(for job: QueuedJob) -> Int32? {
        let k = job.kind.rawValue
        let languages = languageWorkers > 0
        guard Self.restricts(job, languages: languages) else {
            return chooseWorker(for: job, among: available[k].members) { _ in true }
        }
        let accepts = Self.acceptance(job, members: members[k], workers: workers, languages: languages)
        var pool = available[k].members.filter { accepts(workers[Int($0)]!) }
        if languages, !job.language.isEmpty {
            let states = workers, language = job.language
            let best = pool.reduce(0) { max($0, states[Int($1)]!.fit(language: language)) }
            pool.removeAll { states[Int($0)]!.fit(language: language) < best }  // a worker naming the language first
        }
        return chooseWorker(for: job, among: pool, accepts: accepts)
    }

    /// Power of two choices (`pool`: the available workers of the kind the job may run on; `accepts`
    /// says which ejected ones it may fall back to).
    private mutating func chooseWorker(for job: QueuedJob, among pool: [Int32], accepts: (WorkerState) -> Bool) -> Int32? {
        let k = job.kind.rawValue
        if let p = job.preferred, let i = indexOf[p], pool.contains(i) { return i }
        let avoid = job.avoid.flatMap { indexOf[$0] }
        switch pool.count {
        case 0:
            return ejectedFallback(k, avoid: avoid, accepts: accepts)
        case 1:
            return pool[0]
        default:
            let n = pool.count
            let x = rng.below(n)
            var y = rng.below(n - 1)
            if y >= x { y += 1 }
            let a = pool[x], b = pool[y]
            if a == avoid { return b }
            if b == avoid { return a }
            return less(b, a, k) ? b : a
        }
    }

    // MARK: retries

    /// The delay before retry number `attempt` (1-based): gRPC's exponential backoff, scaled, with
    /// seeded ±jitter.
    public mutating func retryDelay(attempt: Int) -> Int64 {
        var base = Double(config.backoffInitialUs) * config.backoffScale
        let cap = Double(config.backoffMaxUs) * config.backoffScale
        for _ in 1..<max(1, attempt) { base = min(cap, base * config.backoffMultiplier) }
        let jitter = 1 + config.backoffJitter * (2 * rng.unit() - 1)
        return Int64(min(cap, base) * jitter)
    }

    /// Spends a retry token of `kind` when the budget allows a retry; returns whether it did.
    public mutating func takeRetryToken(_ kind: WorkerKind) -> Bool {
        let k = kind.rawValue
        retryTokens[k] -= 1
        if retryTokens[k] < 0 { retryTokens[k] = 0 }
        return retryTokens[k] > config.retryTokens / 2
    }
}
