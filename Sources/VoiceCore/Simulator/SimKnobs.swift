/// Buggification: the Coordinator's timeouts, queue, retry and backoff knobs drawn per run from
/// their allowed ranges, so that no tuned value is load-bearing. Without buggify the defaults
/// stay, except the audio rates the simulated fleet uses.
enum SimKnobs {
    static func config(buggify: Bool, rng: inout SimRandom, schedulerSeed: UInt64) -> CoordinatorConfig {
        var c = CoordinatorConfig()
        // Low rates keep simulated PCM small; the Coordinator treats every rate alike.
        c.asrSampleRate = 8_000
        c.ttsSampleRate = 8_000
        c.scheduler.seed = schedulerSeed
        guard buggify else { return c }
        c.helloTimeoutUs = rng.us(2_000_000, 20_000_000)
        c.idleTimeoutUs = rng.us(30_000_000, 300_000_000)
        c.closeTimeoutUs = rng.us(1_000_000, 10_000_000)
        c.registerTimeoutUs = rng.us(2_000_000, 20_000_000)
        c.heartbeatMs = rng.int(1_000...10_000)
        c.missedHeartbeats = rng.int(2...5)
        c.queueTimeoutUs = rng.us(1_000_000, 6_000_000)
        c.asrTimeoutUs = rng.us(3_000_000, 15_000_000)
        c.assistantTimeoutUs = rng.us(3_000_000, 15_000_000)
        c.ttsTimeoutUs = rng.us(2_000_000, 15_000_000)
        c.playbackMarginUs = rng.us(1_000_000, 8_000_000)
        c.replyTimeoutUs = rng.us(45_000_000, 180_000_000)
        c.maxAttempts = rng.int(1...5)
        c.assistantRetries = rng.int(0...2)
        c.failOpen = rng.chance(0.85)
        c.scheduler.ejectAfterFailures = rng.int(2...10)
        c.scheduler.ejectionBaseUs = rng.us(5_000_000, 60_000_000)
        c.scheduler.ejectionMaxUs = c.scheduler.ejectionBaseUs * Int64(rng.int(2...10))
        c.scheduler.maxEjectedShare = rng.uniform(0.1, 0.9)
        c.scheduler.backoffScale = rng.uniform(0.01, 0.2)
        c.scheduler.backoffMultiplier = rng.uniform(1.2, 3)
        c.scheduler.backoffJitter = rng.uniform(0, 0.5)
        c.scheduler.retryTokens = Double(rng.int(4...20))
        c.scheduler.retryTokenRatio = rng.uniform(0.05, 1)
        c.scheduler.rebalanceIntervalUs = rng.us(5_000_000, 60_000_000)
        c.scheduler.rebalanceHysteresis = rng.uniform(1, 4)
        // Drawn last so that adding it left every earlier knob of a seed as it was.
        c.maxRedispatches = rng.int(1...4)
        return c
    }

    /// The knobs as the report lists them.
    static func describe(_ c: CoordinatorConfig) -> [(String, JSON)] {
        [("queue_timeout_ms", .number(Double(c.queueTimeoutUs / 1000))),
         ("asr_timeout_ms", .number(Double(c.asrTimeoutUs / 1000))),
         ("assistant_timeout_ms", .number(Double(c.assistantTimeoutUs / 1000))),
         ("tts_timeout_ms", .number(Double(c.ttsTimeoutUs / 1000))),
         ("reply_timeout_ms", .number(Double(c.replyTimeoutUs / 1000))),
         ("idle_timeout_ms", .number(Double(c.idleTimeoutUs / 1000))),
         ("heartbeat_ms", .number(Double(c.heartbeatMs))),
         ("missed_heartbeats", .number(Double(c.missedHeartbeats))),
         ("max_attempts", .number(Double(c.maxAttempts))),
         ("max_redispatches", .number(Double(c.maxRedispatches))),
         ("assistant_retries", .number(Double(c.assistantRetries))),
         ("fail_open", .bool(c.failOpen)),
         ("eject_after_failures", .number(Double(c.scheduler.ejectAfterFailures))),
         ("backoff_scale", .number(c.scheduler.backoffScale)),
         ("retry_tokens", .number(c.scheduler.retryTokens))]
    }
}
