/// The Scheduler's tunables. Every one is a knob of the Coordinator's config JSON (docs/coordinator.md).
public struct SchedulerConfig: Sendable {
    /// Seed of the placement and jitter PRNG.
    public var seed: UInt64 = 0x5EED
    /// Consecutive failures that eject a worker (Envoy: consecutive_5xx = 5).
    public var ejectAfterFailures = 5
    /// Base ejection time, multiplied by the number of times the worker was ejected (Envoy: 30 s).
    public var ejectionBaseUs: Int64 = 30_000_000
    /// Upper bound of one ejection.
    public var ejectionMaxUs: Int64 = 300_000_000
    /// At most this share of a kind's workers is ejected at once (Envoy's max_ejection_percent);
    /// one worker may always be ejected.
    public var maxEjectedShare = 0.5
    /// Retry backoff: gRPC's constants (1 s, ×1.6, ±20 %, cap 120 s) multiplied by `backoffScale`.
    public var backoffInitialUs: Int64 = 1_000_000
    public var backoffMultiplier = 1.6
    public var backoffJitter = 0.2
    public var backoffMaxUs: Int64 = 120_000_000
    /// Jobs are interactive: by default the gRPC schedule runs 20× faster (50 ms, 80 ms, ...).
    public var backoffScale = 0.05
    /// Retry budget (gRPC retry throttling): tokens start at `retryTokens`, a failure costs 1, a
    /// success returns `retryTokenRatio`; retries are allowed while tokens > half the maximum.
    public var retryTokens = 10.0
    public var retryTokenRatio = 0.1
    /// Rebalancing of multi-role workers: pressure is queued jobs per free slot of a kind.
    public var rebalanceIntervalUs: Int64 = 30_000_000
    /// A role switch needs this much more pressure on the gaining kind than on the losing one.
    public var rebalanceHysteresis = 2.0

    public init() {}
}
