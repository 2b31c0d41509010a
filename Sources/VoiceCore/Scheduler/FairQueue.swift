/// The queue of one worker kind: strict priority classes, and inside a class round robin over
/// sessions (each session's jobs in FIFO order), so one chatty session cannot starve the others.
/// Cancelled jobs are removed lazily: `live` says which queued ids still count.
struct FairQueue: Sendable {
    private struct Class: Sendable {
        var sessions = Ring<SessionID>()
        var perSession: [SessionID: Ring<QueuedJob>] = [:]
    }

    private var classes = [Class](repeating: Class(), count: JobPriority.allCases.count)
    private(set) var live = IDMap<JobID, Bool>()

    var count: Int { live.count }
    var isEmpty: Bool { live.isEmpty }

    mutating func push(_ job: QueuedJob) {
        live[job.job] = true
        let c = job.priority.rawValue
        if classes[c].perSession[job.session] == nil {
            classes[c].perSession[job.session] = Ring()
            classes[c].sessions.push(job.session)
        }
        classes[c].perSession[job.session]!.push(job)
    }

    /// Removes a queued job; returns whether it was queued.
    mutating func remove(_ job: JobID) -> Bool {
        live.removeValue(forKey: job) != nil
    }

    /// The next job by class, then session round robin, skipping removed ones.
    mutating func pop() -> QueuedJob? { pop(where: { _ in true }) }

    /// The next job, in the same order, that `placeable` accepts: a session whose next job it
    /// refuses keeps that job at its head and goes to the back of its class's round robin.
    mutating func pop(where placeable: (QueuedJob) -> Bool) -> QueuedJob? {
        guard !live.isEmpty else { return nil }
        for c in 0..<classes.count {
            var refused = 0
            while refused < classes[c].sessions.count, let session = classes[c].sessions.pop() {
                var job: QueuedJob?
                var more = false
                if var ring = classes[c].perSession.removeValue(forKey: session) {
                    while let j = ring.first {
                        if live[j.job] == nil { _ = ring.pop(); continue }
                        if placeable(j) { job = ring.pop() } else { refused += 1; more = true }
                        break
                    }
                    if job != nil { more = !ring.isEmpty }
                    if more { classes[c].perSession[session] = ring }
                }
                if more { classes[c].sessions.push(session) }
                if let job {
                    live.removeValue(forKey: job.job)
                    return job
                }
            }
        }
        return nil
    }
}
