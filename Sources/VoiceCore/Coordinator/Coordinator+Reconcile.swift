/// Reconciliation of the hub's view with each worker's heartbeats (`load`: {kind: running}).
///
/// Per kind the worker reports, the load is compared with the hub's count of jobs on it:
///   - below the count of jobs dispatched at least one heartbeat interval ago (so in-flight jobs
///     are not counted), or below the count while some of those settled jobs were never accepted
///     (a worker accepts what it reads at once: those are the missing ones), for
///     `reconcile_heartbeats` heartbeats, none in between reporting exactly the jobs the hub
///     counts (other reports say nothing of a missing job): the jobs the worker does not run are
///     moved (cancelled there, re-dispatched like after a lost worker), the ones never accepted
///     first, then the oldest (on a busy worker, jobs sent since the last heartbeat hide a
///     missing one in the count);
///   - above the hub's count for `reconcile_heartbeats` in a row: the surplus are leaked slots on
///     the worker; they count as occupied, so no job is sent that would be refused; after
///     `recycle_heartbeats` in a row the worker is recycled (closed; the SDK redials clean).
/// A report with room clears a refusal's "full" mark. Every correction is `worker.reconciled`.
extension Coordinator {
    func reconcile(_ w: WorkerID, _ load: [WorkerKind: Int]) {
        for k in WorkerKind.allCases {
            guard let reported = load[k], let state = scheduler.worker(w) else { continue }
            let i = k.rawValue
            guard state.slots[i] > 0, state.kinds.contains(k) || state.running[i] > 0 else { continue }
            let counted = state.running[i]
            var low = state.lowStreak[i], high = state.highStreak[i]
            var phantom = state.phantom[i]
            let refused = state.refusedFull.contains(k) && reported >= state.slots[i]
            var settled: [JobID] = []
            var missing = 0
            if reported < counted {
                settled = settledJobs(on: w, kind: k)
                // A worker accepts a job as soon as it reads it: a settled job never accepted is
                // one it does not hold, even where jobs sent since hide it in the count.
                let unaccepted = settled.prefix { jobs[$0]?.accepted == false }.count
                missing = max(settled.count - reported, min(counted - reported, unaccepted))
            }
            if reported < counted {
                // Without a missing job the jobs sent since the last heartbeat may not have been in
                // this one: no verdict, the streak stands.
                if missing > 0 { low += 1 }
                high = 0
                phantom = 0
            } else if reported > counted {
                // More than counted (a job the hub cancelled may still be running there) says
                // nothing of a missing one: its streak stands.
                high += 1
            } else {
                low = 0
                high = 0
                phantom = 0
            }
            if phantom == 0 && state.phantom[i] > 0 {
                record(.workerReconciled, jobKind: k, worker: w, from: String(counted), to: String(reported),
                       reason: "leak-cleared", value: 0)
            }
            if high >= config.reconcileHeartbeats {
                let leaked = min(reported - counted, state.slots[i])
                if leaked != phantom {
                    phantom = leaked
                    counters.leaksMarked += 1
                    record(.workerReconciled, jobKind: k, worker: w, from: String(counted), to: String(reported),
                           reason: "leaked-slots", value: Int64(leaked))
                }
            }
            scheduler.setLoadState(w, k, low: low, high: high, phantom: phantom, refusedFull: refused)
            // Free slots changed: queued jobs may be placed, health recomputed.
            if phantom != state.phantom[i] || refused != state.refusedFull.contains(k) { placementDirty = true }
            if high >= config.recycleHeartbeats {
                counters.recycles += 1
                record(.workerReconciled, jobKind: k, worker: w, from: String(counted), to: String(reported),
                       reason: "recycle", value: Int64(high))
                return workerGone(w, reason: "recycled", close: true)
            }
            if low >= config.reconcileHeartbeats {
                scheduler.setLoadState(w, k, low: 0, high: 0, phantom: 0, refusedFull: refused)
                moveMissing(settled, count: missing, worker: w, kind: k, counted: counted, reported: reported)
            }
        }
    }

    /// The worker's jobs of a kind dispatched at least one heartbeat interval ago: not yet
    /// accepted first, then by age.
    private func settledJobs(on w: WorkerID, kind: WorkerKind) -> [JobID] {
        let settle = Int64(config.heartbeatMs) * 1000
        var found: [(Bool, Instant, JobID)] = []
        for (id, j) in jobs.pairs where j.worker == w && j.kind == kind && j.phase == .running && now - j.dispatchedAt >= settle {
            found.append((j.accepted, j.dispatchedAt, id))
        }
        found.sort { ($0.0 ? 1 : 0, $0.1, $0.2) < ($1.0 ? 1 : 0, $1.1, $1.2) }
        return found.map(\.2)
    }

    /// Moves jobs the worker does not report: cancelled there, re-dispatched elsewhere at once
    /// (bounded by `max_redispatches` like a lost worker).
    private func moveMissing(_ candidates: [JobID], count: Int, worker w: WorkerID, kind: WorkerKind, counted: Int, reported: Int) {
        for id in candidates.prefix(max(0, count)) {
            guard let j = jobs[id], j.worker == w else { continue }
            counters.jobsReconciled += 1
            record(.workerReconciled, session: j.session, turn: j.turn, job: id, jobKind: kind, worker: w,
                   from: String(counted), to: String(reported), reason: "job-missing", value: 1)
            out.append(.workerSend(w, .cancel(id, reason: "not-running"), audio: nil))
            scheduler.cancel(id, kind: kind)
            jobFailed(id, reason: "job-missing", retryable: true, lost: true)
        }
    }
}
