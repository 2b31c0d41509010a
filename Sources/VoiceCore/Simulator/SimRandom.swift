#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// One of the named PRNG streams a run's seed splits into. Each part of the world draws from its
/// own stream, so adding a fault draw does not shift the workload, and the other way round.
struct SimRandom: Sendable {
    private var rng: SplitMix64

    init(seed: UInt64, stream: String) {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in stream.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        var mixer = SplitMix64(seed: seed ^ h)
        rng = SplitMix64(seed: mixer.next())
    }

    mutating func next() -> UInt64 { rng.next() }
    mutating func unit() -> Double { rng.unit() }
    /// 0..<n
    mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : rng.below(n) }
    mutating func chance(_ p: Double) -> Bool { rng.unit() < p }
    mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + below(range.count) }
    mutating func uniform(_ lo: Double, _ hi: Double) -> Double { lo + (hi - lo) * rng.unit() }
    mutating func us(_ lo: Int64, _ hi: Int64) -> Int64 { lo + Int64(Double(hi - lo) * rng.unit()) }

    /// Exponential with the given mean (µs).
    mutating func exponential(_ mean: Double) -> Int64 {
        Int64(-log(1 - rng.unit()) * mean)
    }

    /// Log-normal with the given median (µs) and shape: a latency with a tail.
    mutating func lognormal(median: Double, sigma: Double) -> Int64 {
        let u1 = max(rng.unit(), 1e-12), u2 = rng.unit()
        let z = sqrt(-2 * log(u1)) * cos(2 * Double.pi * u2)
        return Int64(median * exp(sigma * z))
    }
}

/// The streams of one run.
struct SimStreams: Sendable {
    var workload: SimRandom
    var faults: SimRandom
    var network: SimRandom
    var latency: SimRandom
    var knobs: SimRandom
    /// The simulated ASR's speculative transcripts (its own stream: the other streams stay as they were).
    var speculation: SimRandom
    /// Which transcripts are backchannels (`SimOptions.backchannels`; its own stream too).
    var backchannel: SimRandom
    /// Which wrong speculative transcripts the ASR decodes again (`refining`; its own stream too).
    var refining: SimRandom
    /// Seeds the Scheduler's own PRNG (placement ties, backoff jitter).
    var schedulerSeed: UInt64

    init(seed: UInt64) {
        workload = SimRandom(seed: seed, stream: "workload")
        faults = SimRandom(seed: seed, stream: "faults")
        network = SimRandom(seed: seed, stream: "network")
        latency = SimRandom(seed: seed, stream: "latency")
        knobs = SimRandom(seed: seed, stream: "knobs")
        speculation = SimRandom(seed: seed, stream: "speculation")
        backchannel = SimRandom(seed: seed, stream: "backchannel")
        refining = SimRandom(seed: seed, stream: "refining")
        var s = SimRandom(seed: seed, stream: "scheduler")
        schedulerSeed = s.next() >> 1
    }
}
