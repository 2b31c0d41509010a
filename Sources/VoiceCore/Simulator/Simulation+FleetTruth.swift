/// Invariants of the hub's view of its fleet, checked against the simulated workers' ground truth
/// at every checkpoint:
///   - `no-slot-leaked`: for every connected worker, the slots the hub counts busy (running jobs
///     plus leaked slots it learnt from heartbeats) match the jobs the worker really holds, or
///     come to match within a bound (reconciliation, recycling); a frozen or partitioned worker is
///     judged once it is reachable again;
///   - `health-tells-the-truth`: a kind the core reports degraded really cannot take a job now (no
///     free slot, or jobs waiting, or every worker ejected), and a kind whose workers are all
///     ejected, or whose jobs wait longer than `health_grace_ms`, is reported degraded.
extension Simulation {
    /// How long the hub's count may disagree with a worker's truth: the reconciliation and
    /// recycling windows, plus a checkpoint interval and slack for in-flight messages.
    var slotTruthBoundUs: Int64 {
        Int64(config.heartbeatMs) * 1000 * Int64(config.reconcileHeartbeats + config.recycleHeartbeats + 3) + 20_000_000
    }

    func checkFleetTruth() {
        checkSlots()
        if checker.violation == nil { checkHealth() }
    }

    private func checkSlots() {
        for i in 0..<workers.count {
            var disagree = false
            if let w = workers[i].id, workers[i].registered, now >= workers[i].frozenUntil, now >= workers[i].heldUntil,
               let state = coordinator.scheduler.worker(w) {
                var truth = [Int](repeating: 0, count: WorkerKind.allCases.count)
                for (_, job) in workers[i].jobs { truth[job.kind.rawValue] += 1 }
                for k in WorkerKind.allCases where truth[k.rawValue] != state.running[k.rawValue] + state.phantom[k.rawValue] {
                    disagree = true
                }
            }
            if !disagree {
                slotDisagreeSince[i] = nil
            } else if let since = slotDisagreeSince[i] {
                if now - since > slotTruthBoundUs {
                    let w = workers[i].id!
                    let state = coordinator.scheduler.worker(w)!
                    var truth: [String] = []
                    for k in WorkerKind.allCases {
                        var n = 0
                        for (_, job) in workers[i].jobs where job.kind == k { n += 1 }
                        truth.append("\(k)=\(n) vs hub \(state.running[k.rawValue])+\(state.phantom[k.rawValue])")
                    }
                    checker.fail("no-slot-leaked", nil, "worker \(w) (\(workers[i].name)) holds jobs the hub has not counted right for "
                                 + "\((now - since) / 1_000_000) s: \(truth.joined(separator: ", "))")
                    return
                }
            } else {
                slotDisagreeSince[i] = now
            }
        }
    }

    private func checkHealth() {
        let at = Instant(us: now)
        for k in WorkerKind.allCases {
            let h = coordinator.kindHealth(k, at: at)
            let c = h.capacity
            if h.degraded && c.freeSlots > 0 && c.queued == 0 && c.ejected < c.workers {
                return checker.fail("health-tells-the-truth", nil, "\(k) reported degraded (\(h.detail)) with \(c.freeSlots) free slot(s) and nothing waiting")
            }
            if !h.degraded && c.workers > 0 && c.ejected == c.workers {
                return checker.fail("health-tells-the-truth", nil, "\(k) reported ok with all \(c.workers) worker(s) ejected")
            }
            if !h.degraded, let waited = checker.longestWait(k), waited > config.healthGraceUs + 1_000_000 {
                return checker.fail("health-tells-the-truth", nil, "\(k) reported ok while a job waited \(waited / 1000) ms")
            }
        }
    }
}
