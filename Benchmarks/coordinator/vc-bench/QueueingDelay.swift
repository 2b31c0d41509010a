#if canImport(Glibc)
import Glibc
#endif
import VoiceCore

/// Queueing delay at 80 % load on workers of mixed speed: a discrete-event simulation with one
/// seeded arrival sequence and service demands, served three ways: VoiceCore's Scheduler (one
/// queue per kind, a job is placed only on a free slot, power of two choices), round robin and
/// uniform random (each job sent to a worker at arrival, FIFO there).
enum QueueingDelay {
    struct Job { var arrival: Double; var work: Double }

    static let workers = 40
    static let slots = 2
    /// Half the fleet is 30 % slower (older GPUs, busier boxes): round robin still keeps every
    /// worker below saturation, so its delays stay finite.
    static func speed(_ w: Int) -> Double { w % 2 == 0 ? 1.0 : 0.7 }
    static let meanWork = 0.2  // seconds of work on a speed-1 slot

    static func workload(jobs: Int, load: Double, seed: UInt64) -> [Job] {
        var rng = SplitMix64(seed: seed)
        var capacity = 0.0
        for w in 0..<workers { capacity += Double(slots) * speed(w) / meanWork }
        let rate = load * capacity
        var t = 0.0
        var out: [Job] = []
        for _ in 0..<jobs {
            t += -log1p(-rng.unit()) / rate
            out.append(Job(arrival: t, work: -log1p(-rng.unit()) * meanWork))
        }
        return out
    }

    /// A binary min-heap of (time, index) completions.
    struct Heap {
        var items: [(Double, Int)] = []
        var isEmpty: Bool { items.isEmpty }
        var min: (Double, Int)? { items.first }
        mutating func push(_ x: (Double, Int)) {
            items.append(x)
            var i = items.count - 1
            while i > 0, items[(i - 1) / 2].0 > items[i].0 { items.swapAt(i, (i - 1) / 2); i = (i - 1) / 2 }
        }
        mutating func pop() -> (Double, Int) {
            let top = items[0]
            let last = items.removeLast()
            if !items.isEmpty {
                items[0] = last
                var i = 0
                while true {
                    let l = 2 * i + 1, r = l + 1
                    var m = i
                    if l < items.count, items[l].0 < items[m].0 { m = l }
                    if r < items.count, items[r].0 < items[m].0 { m = r }
                    if m == i { break }
                    items.swapAt(i, m); i = m
                }
            }
            return top
        }
    }

    /// Jobs sent to a worker at arrival (round robin or random), FIFO with `slots` servers each.
    static func dispatchAtArrival(_ jobs: [Job], pick: (Int) -> Int) -> [Double] {
        var free = [[Double]](repeating: [Double](repeating: 0, count: slots), count: workers)
        var delays: [Double] = []
        delays.reserveCapacity(jobs.count)
        for (n, job) in jobs.enumerated() {
            let w = pick(n)
            // FIFO per worker: the job starts on the slot that frees first.
            var k = 0
            for i in 1..<slots where free[w][i] < free[w][k] { k = i }
            let start = Swift.max(job.arrival, free[w][k])
            free[w][k] = start + job.work / speed(w)
            delays.append(start - job.arrival)
        }
        return delays
    }

    /// VoiceCore: the real Scheduler places each job when a slot is free.
    static func voicecore(_ jobs: [Job], seed: UInt64) -> [Double] {
        var config = SchedulerConfig()
        config.seed = seed
        var s = Scheduler(config: config)
        for w in 0..<workers {
            s.register(WorkerID(UInt64(w + 1)), WorkerRegistration(kinds: KindSet([.tts]), slots: [.tts: slots]), now: Instant(us: 0))
        }
        var done = Heap()
        var delays = [Double](repeating: 0, count: jobs.count)
        var next = 0
        func us(_ t: Double) -> Instant { Instant(us: Int64(t * 1e6)) }
        func place(_ t: Double, _ s: inout Scheduler, _ done: inout Heap) {
            while let p = s.nextPlacement(now: us(t)) {
                let i = Int(p.job.job.raw) - 1
                delays[i] = t - jobs[i].arrival
                done.push((t + jobs[i].work / speed(Int(p.worker.raw) - 1), i))
            }
        }
        while next < jobs.count || !done.isEmpty {
            if next < jobs.count, done.isEmpty || jobs[next].arrival <= done.min!.0 {
                let t = jobs[next].arrival
                s.enqueue(QueuedJob(job: JobID(UInt64(next + 1)), kind: .tts, session: SessionID(UInt64(next % 1000)),
                                    priority: .later, enqueuedAt: us(t)))
                next += 1
                place(t, &s, &done)
            } else {
                let (t, i) = done.pop()
                s.finish(JobID(UInt64(i + 1)), success: true, now: us(t))
                place(t, &s, &done)
            }
        }
        return delays
    }

    static func run(jobs: Int, load: Double, seed: UInt64) -> [(String, p50: Double, p99: Double)] {
        let w = workload(jobs: jobs, load: load, seed: seed)
        var rng = SplitMix64(seed: seed ^ 0xABCDEF)
        let results: [(String, [Double])] = [
            ("voicecore (queue + p2c)", voicecore(w, seed: seed)),
            ("round robin", dispatchAtArrival(w) { $0 % workers }),
            ("random", dispatchAtArrival(w) { _ in rng.below(workers) }),
        ]
        return results.map { name, d in
            let sorted = d.sorted()
            return (name, percentile(sorted, 0.5) * 1000, percentile(sorted, 0.99) * 1000)
        }
    }
}
