/// The Coordinator's configuration; every field is a key of the config JSON (docs/coordinator.md).
/// Durations are microseconds here and milliseconds in JSON.
public struct CoordinatorConfig: Sendable {
    public var helloTimeoutUs: Int64 = 10_000_000
    /// A session with no speech, text or playback for this long is closed (the firmware gives up
    /// after 120 s without frames anyway).
    public var idleTimeoutUs: Int64 = 120_000_000
    /// After `device.close`, the session is forgotten if the host never reports the disconnect.
    public var closeTimeoutUs: Int64 = 5_000_000
    public var registerTimeoutUs: Int64 = 10_000_000
    /// The heartbeat interval told to workers; `missedHeartbeats` intervals without one and the
    /// worker is gone (a frozen worker's jobs move within ~3 s).
    public var heartbeatMs = 1_000
    public var missedHeartbeats = 3
    /// Consecutive heartbeats whose `load` disagrees with the hub's count before the hub corrects
    /// its view (moves jobs the worker does not run, counts leaked slots as occupied).
    public var reconcileHeartbeats = 3
    /// Consecutive heartbeats reporting leaked slots before the worker is recycled (closed; the
    /// SDK redials with a clean slate).
    public var recycleHeartbeats = 10
    /// Refusals (retryable errors before `accepted`) one job may meet before a refusal counts as
    /// an ordinary failure.
    public var maxRefusals = 4
    /// A kind whose jobs could not be placed, or whose workers are all full with leaked slots,
    /// for this long makes health `degraded`.
    public var healthGraceUs: Int64 = 5_000_000
    /// A job that no worker took within this long fails open.
    public var queueTimeoutUs: Int64 = 3_000_000
    /// An ASR job that heard speech (or was told the utterance ended) must produce output within this.
    public var asrTimeoutUs: Int64 = 10_000_000
    /// The utterance's audio kept for moving the stream to another worker.
    public var asrReplayUs: Int64 = 10_000_000
    /// The assistant must produce its first text, and then each further output, within this.
    public var assistantTimeoutUs: Int64 = 10_000_000
    /// A TTS job must make progress (first audio, more audio, segment done) within this; a hung
    /// handler's segment moves to another worker after it.
    public var ttsTimeoutUs: Int64 = 3_000_000
    /// After the last audio is queued, playback must be reported done within its duration plus this.
    public var playbackMarginUs: Int64 = 5_000_000
    /// A segment's audio may not exceed this (a misbehaving TTS worker cannot fill memory).
    public var maxSegmentAudioUs: Int64 = 60_000_000
    /// No reply lives longer than this, whatever happens.
    public var replyTimeoutUs: Int64 = 120_000_000
    /// Attempts of one job (the first one included) that may end in an error or a timeout before
    /// the turn fails open. A worker lost under a job does not count here (see `maxRedispatches`).
    public var maxAttempts = 3
    /// How often one job's work moves to another worker because its worker was lost (crash,
    /// disconnect, missed heartbeats) — bounded so that a job that kills workers cannot loop.
    public var maxRedispatches = 3
    /// An assistant that fails before any text is retried this many times elsewhere.
    public var assistantRetries = 1
    public var language = "en"
    public var voice = ""
    public var asrSampleRate = 16_000
    /// The Opus the host sends devices, announced in the server hello: sample rate (8000, 12000,
    /// 16000, 24000, 48000) and frame duration in ms (10, 20, 40, 60). voicecored sets both from
    /// its codec settings (`--downlink-sample-rate`, `--downlink-frame-ms`).
    public var downlinkSampleRate = 24_000
    public var downlinkFrameMs = 60
    public var ttsSampleRate = 24_000
    /// Spoken (or shown in an `alert` when no TTS can serve) when the reply cannot be completed.
    public var fallbackText = "Sorry, something went wrong. Please try again."
    /// Spoken (or shown) when no ASR worker can hear the user.
    public var asrFallbackText = "Sorry, I can't hear you right now. Please try again later."
    /// Whether a failure is answered at all (fail open) or the turn just ends (fail closed).
    public var failOpen = true
    /// Options of every reply's SentenceSplitter (JSON key `splitter`, the splitter's own options).
    public var splitter = SplitterOptions()
    public var scheduler = SchedulerConfig()
    /// Whether the event log keeps entries for the host to drain.
    public var log = true
    /// Start the assistant on the ASR's speculative transcript and hold its output until the final
    /// confirms the same text (docs/coordinator.md, "Preemptive generation").
    public var preemptiveGeneration = true
    /// Device MCP: each `initialize` / `tools/list` request must be answered within this, or the
    /// device's assistant jobs go without its tools for the connection.
    public var mcpListTimeoutUs: Int64 = 5_000_000
    /// A job's `tools/call` must be answered within this, or the job gets a JSON-RPC error.
    public var mcpCallTimeoutUs: Int64 = 10_000_000
    /// Advertised to camera boards in `initialize` (`capabilities.vision`) when not empty: where
    /// the firmware uploads a photo with its question (docs/device-protocol.md, "Vision").
    public var visionURL = ""
    public var visionToken = ""
    /// The end-of-turn decision and backchannels (JSON key `turn`; EndOfTurn.swift).
    public var turn = TurnTakingConfig()
    /// Named agents (JSON key `agents`; AgentConfig.swift, docs/agents.md) and the table binding
    /// devices to them (`bindings`). No agents: every session runs with the hub's settings.
    public var agents: [String: AgentConfig] = [:]
    public var bindings = AgentBindings()
    /// Turns per minute and LLM tokens per day, per device and per agent (`budgets`).
    public var budgets = BudgetConfig()

    public init() {}

    public init(json: JSON) throws(VCError) {
        try apply(json: json)
    }

    /// Applies the keys of `json` on top of this configuration (the others keep their values).
    public mutating func apply(json: JSON) throws(VCError) {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config must be a JSON object") }
        for (key, value) in members {
            switch key {
            case "hello_timeout_ms": helloTimeoutUs = try ConfigValue.ms(key, value)
            case "idle_timeout_ms": idleTimeoutUs = try ConfigValue.ms(key, value)
            case "close_timeout_ms": closeTimeoutUs = try ConfigValue.ms(key, value)
            case "register_timeout_ms": registerTimeoutUs = try ConfigValue.ms(key, value)
            case "heartbeat_ms": heartbeatMs = try ConfigValue.int(key, value, 1...3_600_000)
            case "missed_heartbeats": missedHeartbeats = try ConfigValue.int(key, value, 1...1000)
            case "reconcile_heartbeats": reconcileHeartbeats = try ConfigValue.int(key, value, 1...1000)
            case "recycle_heartbeats": recycleHeartbeats = try ConfigValue.int(key, value, 1...100_000)
            case "max_refusals": maxRefusals = try ConfigValue.int(key, value, 0...100)
            case "health_grace_ms": healthGraceUs = try ConfigValue.ms(key, value)
            case "queue_timeout_ms": queueTimeoutUs = try ConfigValue.ms(key, value)
            case "asr_timeout_ms": asrTimeoutUs = try ConfigValue.ms(key, value)
            case "asr_replay_ms": asrReplayUs = try ConfigValue.ms(key, value)
            case "assistant_timeout_ms": assistantTimeoutUs = try ConfigValue.ms(key, value)
            case "tts_timeout_ms": ttsTimeoutUs = try ConfigValue.ms(key, value)
            case "playback_margin_ms": playbackMarginUs = try ConfigValue.ms(key, value)
            case "reply_timeout_ms": replyTimeoutUs = try ConfigValue.ms(key, value)
            case "max_segment_audio_ms": maxSegmentAudioUs = try ConfigValue.ms(key, value)
            case "max_attempts": maxAttempts = try ConfigValue.int(key, value, 1...100)
            case "max_redispatches": maxRedispatches = try ConfigValue.int(key, value, 0...100)
            case "assistant_retries": assistantRetries = try ConfigValue.int(key, value, 0...100)
            case "language": language = try ConfigValue.string(key, value)
            case "voice": voice = try ConfigValue.string(key, value)
            case "asr_sample_rate": asrSampleRate = try ConfigValue.int(key, value, 8_000...48_000)
            case "tts_sample_rate": ttsSampleRate = try ConfigValue.int(key, value, 8_000...48_000)
            case "downlink_sample_rate":
                downlinkSampleRate = try ConfigValue.int(key, value, 8_000...48_000)
                guard [8_000, 12_000, 16_000, 24_000, 48_000].contains(downlinkSampleRate) else {
                    throw VCError(.invalidArgument, "config: downlink_sample_rate must be 8000, 12000, 16000, 24000 or 48000")
                }
            case "downlink_frame_ms":
                downlinkFrameMs = try ConfigValue.int(key, value, 10...60)
                guard [10, 20, 40, 60].contains(downlinkFrameMs) else {
                    throw VCError(.invalidArgument, "config: downlink_frame_ms must be 10, 20, 40 or 60")
                }
            case "fallback_text": fallbackText = try ConfigValue.string(key, value)
            case "asr_fallback_text": asrFallbackText = try ConfigValue.string(key, value)
            case "fail_open": failOpen = try ConfigValue.bool(key, value)
            case "log": log = try ConfigValue.bool(key, value)
            case "preemptive_generation": preemptiveGeneration = try ConfigValue.bool(key, value)
            case "mcp_list_timeout_ms": mcpListTimeoutUs = try ConfigValue.ms(key, value)
            case "mcp_call_timeout_ms": mcpCallTimeoutUs = try ConfigValue.ms(key, value)
            case "vision_url": visionURL = try ConfigValue.string(key, value)
            case "vision_token": visionToken = try ConfigValue.string(key, value)
            case "splitter":
                do { splitter = try SplitterOptions(json: value) } catch { throw VCError(error.status, "config: splitter: " + error.message) }
            case "scheduler": try scheduler.apply(json: value)
            case "turn": try turn.apply(json: value)
            case "seed": scheduler.seed = UInt64(try ConfigValue.int(key, value, 0...Int(Int64.max)))
            case "agents": try applyAgents(value)
            case "bindings":
                var b = AgentBindings()
                try b.apply(json: value)
                bindings = b
            case "budgets": try budgets.apply(json: value, path: "budgets")
            default: throw VCError(.invalidArgument, "config: unknown key \"\(key)\"")
            }
        }
        try validateBindings()
    }
}

extension SchedulerConfig {
    public init(json: JSON) throws(VCError) {
        self.init()
        try apply(json: json)
    }

    public mutating func apply(json: JSON) throws(VCError) {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: scheduler must be an object") }
        for (key, value) in members {
            let path = "scheduler." + key
            switch key {
            case "seed": seed = UInt64(try ConfigValue.int(path, value, 0...Int(Int64.max)))
            case "eject_after_failures": ejectAfterFailures = try ConfigValue.int(path, value, 1...1000)
            case "ejection_base_ms": ejectionBaseUs = try ConfigValue.ms(path, value)
            case "ejection_max_ms": ejectionMaxUs = try ConfigValue.ms(path, value)
            case "max_ejected_share": maxEjectedShare = try ConfigValue.double(path, value, 0...1)
            case "backoff_initial_ms": backoffInitialUs = try ConfigValue.ms(path, value)
            case "backoff_multiplier": backoffMultiplier = try ConfigValue.double(path, value, 1...10)
            case "backoff_jitter": backoffJitter = try ConfigValue.double(path, value, 0...1)
            case "backoff_max_ms": backoffMaxUs = try ConfigValue.ms(path, value)
            case "backoff_scale": backoffScale = try ConfigValue.double(path, value, 0.0001...100)
            case "retry_tokens": retryTokens = try ConfigValue.double(path, value, 1...1_000_000)
            case "retry_token_ratio": retryTokenRatio = try ConfigValue.double(path, value, 0...1_000_000)
            case "rebalance_interval_ms": rebalanceIntervalUs = try ConfigValue.ms(path, value)
            case "rebalance_hysteresis": rebalanceHysteresis = try ConfigValue.double(path, value, 1...1000)
            default: throw VCError(.invalidArgument, "config: unknown key \"\(path)\"")
            }
        }
    }
}

/// Typed reads of config values with the key in every error message.
enum ConfigValue {
    static func int(_ key: String, _ v: JSON, _ range: ClosedRange<Int>) throws(VCError) -> Int {
        guard let n = v.int64Value, n >= Int64(range.lowerBound), n <= Int64(range.upperBound) else {
            throw VCError(.invalidArgument, "config: \(key) must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return Int(n)
    }

    static func ms(_ key: String, _ v: JSON) throws(VCError) -> Int64 {
        Int64(try int(key, v, 1...86_400_000)) * 1000
    }

    static func double(_ key: String, _ v: JSON, _ range: ClosedRange<Double>) throws(VCError) -> Double {
        guard let n = v.doubleValue, range.contains(n) else {
            throw VCError(.invalidArgument, "config: \(key) must be a number in \(range.lowerBound)...\(range.upperBound)")
        }
        return n
    }

    static func string(_ key: String, _ v: JSON) throws(VCError) -> String {
        guard let s = v.stringValue else { throw VCError(.invalidArgument, "config: \(key) must be a string") }
        return s
    }

    static func bool(_ key: String, _ v: JSON) throws(VCError) -> Bool {
        guard let b = v.boolValue else { throw VCError(.invalidArgument, "config: \(key) must be true or false") }
        return b
    }
}
