/// What one simulation run is: the fleet, the duration, the fault profile and the seed. Every
/// field is a key of the options JSON of `vc_sim_new` (docs/simulator.md); unknown keys are errors.
public struct SimOptions: Sendable {
    public var seed: UInt64 = 1
    public var devices = 50
    /// Fixed workers per kind, and multi-role GPU boxes (roles asr+tts).
    public var asrWorkers = 3
    public var assistantWorkers = 2
    public var ttsWorkers = 4
    public var gpuWorkers = 2
    public var durationUs: Int64 = 3_600_000_000
    public var faults = FaultProfile.Level.moderate
    /// Faults stop for the last part of the run; then every turn must end and every device must
    /// be back within bounds.
    public var liveness = false
    /// Randomize the Coordinator's timeouts, queue and retry knobs within their ranges.
    public var buggify = true
    /// The Coordinator's preemptive generation (`preemptive_generation`); off: the simulated ASR's
    /// speculative transcripts are ignored, as by a hub without it.
    public var preemption = true
    /// The share of simulated ASR transcripts that are a backchannel ("uh-huh", "嗯", "ага"): said
    /// over a playing reply (realtime), the reply pauses and resumes instead of being cut.
    public var backchannels = 0.0
    /// Stop at this simulated time (nil: at `durationUs`).
    public var untilUs: Int64?
    /// Device index whose events are collected into the report's trace (-1: none).
    public var traceDevice = -1
    public var injectBug: InjectedBug?
    /// p99 budget of the virtual time to first audio in fault-free windows.
    public var ttfaBudgetUs: Int64 = 2_000_000
    /// Log lines kept per session for the report of a violation.
    public var lastEvents = 12
    /// A per-device budget of turns per minute (the Coordinator's `budgets.device`; 0: none): turns
    /// over it are refused with the spoken refusal (docs/agents.md).
    public var turnsPerMinute = 0
    /// Operators' says per connected device per hour (`POST /api/v1/devices/{id}/say`, a text or an
    /// instruction at random moments); 0: none.
    public var saysPerHour = 0.0
    /// The share of devices that speak Chinese: each reports `zh-CN` at its OTA check before it
    /// first connects, so its ASR jobs ask for Chinese (docs/languages.md).
    public var chinese = 0.0
    /// Of the fixed ASR workers, how many hear English only (registered `languages: ["en"]`, as
    /// Whisper tiny.en's worker does); the others and the GPU boxes hear every language.
    public var englishOnlyASR = 0

    public init() {}

    public init(json: JSON) throws(VCError) {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "options must be a JSON object") }
        for (key, value) in members {
            switch key {
            case "seed": seed = UInt64(try ConfigValue.int(key, value, 0...Int(Int64.max)))
            case "devices": devices = try ConfigValue.int(key, value, 1...100_000)
            case "workers":
                guard let counts = value.objectValue else { throw VCError(.invalidArgument, "options: workers must be an object like {\"asr\":3}") }
                for (kind, n) in counts {
                    let v = try ConfigValue.int("workers." + kind, n, 0...10_000)
                    switch kind {
                    case "asr": asrWorkers = v
                    case "assistant": assistantWorkers = v
                    case "tts": ttsWorkers = v
                    case "gpu": gpuWorkers = v
                    default: throw VCError(.invalidArgument, "options: unknown worker kind \"\(kind)\" (asr, assistant, tts, gpu)")
                    }
                }
            case "duration":
                guard let text = value.stringValue else { throw VCError(.invalidArgument, "options: duration must be a string like \"30d\"") }
                durationUs = try SimTime.parse(text)
            case "duration_us": durationUs = Int64(try ConfigValue.int(key, value, 1...Int(Int64.max / 4)))
            case "until":
                guard let text = value.stringValue else { throw VCError(.invalidArgument, "options: until must be a string like \"2d03:11:08\"") }
                untilUs = try SimTime.parse(text)
            case "faults":
                guard let name = value.stringValue, let level = FaultProfile.Level(name: name) else {
                    throw VCError(.invalidArgument, "options: faults must be \"none\", \"moderate\" or \"harsh\"")
                }
                faults = level
            case "liveness": liveness = try ConfigValue.bool(key, value)
            case "buggify": buggify = try ConfigValue.bool(key, value)
            case "preemption": preemption = try ConfigValue.bool(key, value)
            case "backchannels": backchannels = try ConfigValue.double(key, value, 0...1)
            case "trace":
                guard let name = value.stringValue, let index = SimOptions.deviceIndex(name) else {
                    throw VCError(.invalidArgument, "options: trace must name a device like \"dev-17\"")
                }
                traceDevice = index
            case "inject_bug":
                guard let name = value.stringValue, let bug = InjectedBug(rawValue: name) else {
                    let names = InjectedBug.allCases.map(\.rawValue).joined(separator: ", ")
                    throw VCError(.invalidArgument, "options: inject_bug must be one of \(names)")
                }
                injectBug = bug
            case "ttfa_budget_ms": ttfaBudgetUs = try ConfigValue.ms(key, value)
            case "last_events": lastEvents = try ConfigValue.int(key, value, 0...1000)
            case "turns_per_minute": turnsPerMinute = try ConfigValue.int(key, value, 0...1_000_000)
            case "says_per_hour":
                guard let v = value.doubleValue, v >= 0, v <= 3600 else {
                    throw VCError(.invalidArgument, "options: says_per_hour must be a number in 0...3600")
                }
                saysPerHour = v
            case "chinese": chinese = try ConfigValue.double(key, value, 0...1)
            case "english_only_asr": englishOnlyASR = try ConfigValue.int(key, value, 0...10_000)
            default: throw VCError(.invalidArgument, "options: unknown key \"\(key)\"")
            }
        }
        if englishOnlyASR > asrWorkers {
            throw VCError(.invalidArgument, "options: english_only_asr is \(englishOnlyASR) but there are \(asrWorkers) asr workers")
        }
        if traceDevice >= devices { throw VCError(.invalidArgument, "options: trace names dev-\(traceDevice) but there are \(devices) devices") }
        if asrWorkers + gpuWorkers == 0 || ttsWorkers + gpuWorkers == 0 || assistantWorkers == 0 {
            throw VCError(.invalidArgument, "options: the fleet needs asr (or gpu), tts (or gpu) and assistant workers")
        }
    }

    static func deviceIndex(_ name: String) -> Int? {
        guard name.hasPrefix("dev-"), let n = Int(name.dropFirst(4)), n >= 0 else { return nil }
        return n
    }

    /// The command line that replays this run exactly.
    public var command: String {
        var c = "voicecore sim --seed \(seed) --devices \(devices)"
        c += " --workers asr=\(asrWorkers),assistant=\(assistantWorkers),tts=\(ttsWorkers),gpu=\(gpuWorkers)"
        c += " --duration " + SimTime.format(durationUs, compact: true)
        c += " --faults " + faults.name
        if liveness { c += " --liveness" }
        if !buggify { c += " --no-buggify" }
        if !preemption { c += " --no-preemption" }
        if turnsPerMinute > 0 { c += " --turns-per-minute \(turnsPerMinute)" }
        if backchannels > 0 { c += " --backchannels \(backchannels)" }
        if let injectBug { c += " --inject-bug " + injectBug.rawValue }
        if saysPerHour > 0 { c += " --says-per-hour \(saysPerHour)" }
        if chinese > 0 { c += " --chinese \(chinese)" }
        if englishOnlyASR > 0 { c += " --english-only-asr \(englishOnlyASR)" }
        return c
    }
}

/// Simulated durations and instants as people type them: `30d`, `1h`, `90s`, `250ms`,
/// `2d03:11:08` (days, then hh:mm:ss), `03:11:08.5`.
public enum SimTime {
    public static func parse(_ text: String) throws(VCError) -> Int64 {
        let bad = VCError(.invalidArgument, "bad duration \"\(text)\" (examples: 30d, 1h, 15m, 90s, 250ms, 2d03:11:08)")
        var rest = Substring(text)
        guard !rest.isEmpty else { throw bad }
        if rest.contains(":") {
            var days: Int64 = 0
            if let d = rest.firstIndex(of: "d") {
                guard let n = Int64(rest[..<d]) else { throw bad }
                days = n
                rest = rest[rest.index(after: d)...]
            }
            let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
            guard (2...3).contains(parts.count) else { throw bad }
            var seconds = 0.0
            for p in parts {
                guard let v = Double(p), v >= 0 else { throw bad }
                seconds = seconds * 60 + v
            }
            return days * 86_400_000_000 + Int64(seconds * 1_000_000)
        }
        let units: [(String, Double)] = [("ms", 1_000), ("us", 1), ("d", 86_400_000_000), ("h", 3_600_000_000),
                                         ("m", 60_000_000), ("s", 1_000_000)]
        for (suffix, scale) in units where rest.hasSuffix(suffix) {
            guard let v = Double(rest.dropLast(suffix.count)), v >= 0 else { throw bad }
            return Int64(v * scale)
        }
        throw bad
    }

    /// `2d03:11:08.123`; with `compact`, whole days/hours/minutes print as `30d`, `1h`, `15m`.
    public static func format(_ us: Int64, compact: Bool = false) -> String {
        if compact {
            for (suffix, scale) in [("d", Int64(86_400_000_000)), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000)]
            where us % scale == 0 && us > 0 {
                return String(us / scale) + suffix
            }
            if us % 1000 == 0 { return String(us / 1000) + "ms" }
            return String(us) + "us"
        }
        let ms = us / 1000
        let days = ms / 86_400_000
        let h = ms / 3_600_000 % 24, m = ms / 60_000 % 60, s = ms / 1000 % 60, frac = ms % 1000
        func two(_ v: Int64) -> String { v < 10 ? "0" + String(v) : String(v) }
        let f = frac < 10 ? "00\(frac)" : frac < 100 ? "0\(frac)" : "\(frac)"
        return "\(days)d\(two(h)):\(two(m)):\(two(s)).\(f)"
    }
}
