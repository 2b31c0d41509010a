import VoiceCore

/// Scheduler placement latency with 1,000 workers (4 slots each, all busy) and 10,000 queued jobs
/// over 500 sessions in three priority classes: each round frees one slot, then times one
/// placement; a new job keeps the queue at 10,000.
enum PlacementLatency {
    static func run(placements: Int) -> (p50: Double, p99: Double, max: Double) {
        var s = Scheduler()
        let t0 = Instant(us: 0)
        for w in 1...1000 { s.register(WorkerID(UInt64(w)), WorkerRegistration(kinds: KindSet([.tts]), slots: [.tts: 4]), now: t0) }
        var next: UInt64 = 1
        var rng = SplitMix64(seed: 99)
        func job() -> QueuedJob {
            defer { next += 1 }
            let p: JobPriority = rng.below(10) == 0 ? .first : (rng.below(10) == 0 ? .background : .later)
            return QueuedJob(job: JobID(next), kind: .tts, session: SessionID(UInt64(rng.below(500))), priority: p, enqueuedAt: t0)
        }
        for _ in 0..<14_000 { s.enqueue(job()) }
        var running: [JobID] = []
        while let p = s.nextPlacement(now: t0) { running.append(p.job.job) }
        var samples: [Double] = []
        samples.reserveCapacity(placements)
        for _ in 0..<placements {
            let k = rng.below(running.count)
            s.finish(running[k], success: true, now: t0)
            let start = Clock.ns()
            let p = s.nextPlacement(now: t0)
            let end = Clock.ns()
            samples.append(Double(end - start) / 1000)
            running[k] = p!.job.job
            s.enqueue(job())
        }
        samples.sort()
        return (percentile(samples, 0.5), percentile(samples, 0.99), samples.last!)
    }

    /// The cost of the clock reads themselves, to read the table against.
    static func clockOverhead() -> Double {
        var samples: [Double] = []
        for _ in 0..<100_000 {
            let a = Clock.ns(); let b = Clock.ns()
            samples.append(Double(b - a) / 1000)
        }
        samples.sort()
        return percentile(samples, 0.5)
    }
}
