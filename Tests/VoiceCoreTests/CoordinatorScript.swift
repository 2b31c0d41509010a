@testable import VoiceCore

/// The event-driven test DSL: feed events on a virtual clock that fires the Coordinator's own
/// timers, then expect an ordered subsequence of event-log entries (and forbid others).
///
/// A pattern is `"kind key=value ..."` matched against the entry's JSON fields, e.g.
/// `"turn.cancelled reason=abort"`, `"session.state from=speaking to=listening"`.
struct CoordinatorScript {
    var c: Coordinator
    var now: Int64 = 1_000_000
    /// Every log entry so far, rendered as JSON objects.
    var log: [JSON] = []
    /// Every effect so far, in order.
    var effects: [Effect] = []
    /// Effects of the last `feed`.
    var last: [Effect] = []
    var timers: [TimerID: Int64] = [:]
    var rejections = 0

    /// The timing these scripts were written for (5 s heartbeats, a 10 s TTS progress deadline);
    /// the scripts advance the clock without sending heartbeats. Tests of the faster defaults
    /// pass `CoordinatorConfig()` or set the keys themselves.
    static var scriptDefaults: CoordinatorConfig {
        var config = CoordinatorConfig()
        config.heartbeatMs = 5_000
        config.ttsTimeoutUs = 10_000_000
        return config
    }

    init(_ config: CoordinatorConfig = CoordinatorScript.scriptDefaults) {
        c = try! Coordinator(config: config)
    }

    init(json: String) throws {
        var config = CoordinatorScript.scriptDefaults
        try config.apply(json: JSONParser.parse(json))
        c = try Coordinator(config: config)
    }

    @discardableResult
    mutating func feed(_ event: Event) -> [Effect] {
        last = c.handle(event, now: Instant(us: now))
        if c.lastRejection != nil { rejections += 1 }
        absorb()
        return last
    }

    private mutating func absorb() {
        for e in last {
            switch e {
            case let .timerSet(t, at): timers[t] = at.us
            case let .timerCancel(t): timers[t] = nil
            default: break
            }
        }
        effects.append(contentsOf: last)
        c.log.drain { entry in
            log.append(try! JSONParser.parse(entry.jsonLine()))
        }
    }

    /// Moves the clock forward by `us`, firing every timer that falls due on the way, in order.
    mutating func advance(_ us: Int64) {
        let end = now + us
        while let (t, at) = timers.filter({ $0.value <= end }).min(by: { ($0.value, $0.key) < ($1.value, $1.key) }) {
            timers[t] = nil
            now = max(now, at)
            feed(.timerFired(t))
        }
        now = end
    }

    mutating func advanceMs(_ ms: Int64) { advance(ms * 1000) }

    // MARK: expectations

    static func matches(_ entry: JSON, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: " ")
        guard entry["kind"]?.stringValue == String(parts[0]) else { return false }
        for p in parts.dropFirst() {
            let kv = p.split(separator: "=", maxSplits: 1)
            let key = String(kv[0]), want = kv.count > 1 ? String(kv[1]) : ""
            guard let v = entry[key] else { return false }
            let have: String
            switch v {
            case let .string(s): have = s
            case let .number(n): have = String(Int64(n))
            default: have = v.serialized
            }
            if have != want { return false }
        }
        return true
    }

    /// Whether the patterns occur in this order (not necessarily adjacent) in the log, from `since`.
    func hasSubsequence(_ patterns: [String], since: Int = 0) -> Bool {
        var i = 0
        for entry in log[since...] where i < patterns.count {
            if Self.matches(entry, patterns[i]) { i += 1 }
        }
        return i == patterns.count
    }

    /// Whether none of the patterns occurs in the log from `since` (forbidden events).
    func forbids(_ patterns: [String], since: Int = 0) -> Bool {
        !log[since...].contains { entry in patterns.contains { Self.matches(entry, $0) } }
    }

    func count(_ pattern: String, since: Int = 0) -> Int {
        log[since...].filter { Self.matches($0, pattern) }.count
    }

    var logText: String { log.map(\.serialized).joined(separator: "\n") }

    // MARK: effect queries

    func deviceMessages(_ s: SessionID, in list: [Effect]? = nil) -> [DeviceMessage] {
        (list ?? effects).compactMap { if case let .deviceSend(x, m) = $0, x == s { return m } else { return nil } }
    }

    /// Every device.audio effect: (turn, segment, sentenceStart, bytes).
    func deviceAudio(_ s: SessionID, in list: [Effect]? = nil) -> [(turn: UInt32, segment: Int, start: String?, pcm: [UInt8])] {
        (list ?? effects).compactMap {
            if case let .deviceAudio(x, turn, seg, _, start, pcm) = $0, x == s { return (turn.raw, seg, start, pcm) }
            return nil
        }
    }

    /// Jobs dispatched to a worker (by the `job` message), in order.
    func dispatched(to w: WorkerID? = nil, kind: WorkerKind? = nil, in list: [Effect]? = nil) -> [JobID] {
        (list ?? effects).compactMap {
            if case let .workerSend(x, .job(id, k, _, _, _), _) = $0, w == nil || x == w, kind == nil || k == kind { return id }
            return nil
        }
    }

    func lastDispatched(_ kind: WorkerKind) -> (JobID, WorkerID)? {
        for e in effects.reversed() {
            if case let .workerSend(w, .job(id, k, _, _, _), _) = e, k == kind { return (id, w) }
        }
        return nil
    }

    func cancelled(in list: [Effect]? = nil) -> [JobID] {
        (list ?? effects).compactMap { if case let .workerSend(_, .cancel(id, _), _) = $0 { return id } else { return nil } }
    }

    func audioSent(to w: WorkerID, job: JobID) -> Int {
        effects.reduce(0) {
            if case let .workerSend(x, .audio(j), pcm) = $1, x == w, j == job { return $0 + (pcm?.count ?? 0) }
            return $0
        }
    }

    // MARK: building blocks

    /// The usual hub of the Coordinator tests: one ASR (w1), one assistant (w2), one TTS worker (w3).
    static func oneOfEach() -> CoordinatorScript {
        var t = CoordinatorScript()
        t.worker(1, [.asr])
        t.worker(2, [.assistant])
        t.worker(3, [.tts])
        return t
    }

    mutating func worker(_ w: UInt64, _ kinds: [WorkerKind], slots: Int = 4) {
        feed(.workerConnected(WorkerID(w)))
        var s: [WorkerKind: Int] = [:]
        for k in kinds { s[k] = slots }
        feed(.workerRegister(WorkerID(w), WorkerRegistration(name: "w\(w)", kinds: KindSet(kinds), slots: s)))
    }

    /// Connects a device, says hello and starts listening.
    mutating func device(_ s: UInt64, mode: ListenMode = .auto, mcp: Bool = false) {
        feed(.deviceConnected(SessionID(s), DeviceInfo(deviceID: "dev\(s)", protocolVersion: 1)))
        feed(.deviceHello(SessionID(s), DeviceHello(mcp: mcp)))
        feed(.deviceListen(SessionID(s), .start(mode)))
    }

    /// One chunk of 60 ms of 16 kHz PCM.
    static let frame = [UInt8](repeating: 1, count: 1920)

    /// The ASR job of the session's current utterance and its worker.
    func asrJob(_ s: UInt64) -> (JobID, WorkerID)? {
        guard let turn = c.sessions[SessionID(s)]?.utterance, let w = c.jobs[turn.job]?.worker else { return nil }
        return (turn.job, w)
    }

    func assistantJob(_ s: UInt64) -> (JobID, WorkerID)? {
        guard let j = c.sessions[SessionID(s)]?.reply?.assistantJob, let w = c.jobs[j]?.worker else { return nil }
        return (j, w)
    }

    func ttsJob(_ s: UInt64, segment: Int) -> (JobID, WorkerID)? {
        guard let r = c.sessions[SessionID(s)]?.reply, segment < r.segments.count, let j = r.segments[segment].job,
              let w = c.jobs[j]?.worker else { return nil }
        return (j, w)
    }

    /// The user says `text`: speech start, a few frames, speech end, final.
    mutating func utter(_ s: UInt64, _ text: String) {
        let (job, w) = asrJob(s)!
        feed(.workerOutput(w, job, .speechStart))
        for _ in 0..<3 { feed(.deviceAudio(SessionID(s), Self.frame)); advanceMs(60) }
        feed(.workerOutput(w, job, .speechEnd))
        advanceMs(100)
        feed(.workerOutput(w, job, .final(text, language: nil)))
        feed(.workerDone(w, job))
    }

    /// The assistant answers with `deltas`, then is done.
    mutating func answer(_ s: UInt64, _ deltas: [String], done: Bool = true) {
        let (job, w) = assistantJob(s)!
        for d in deltas { feed(.workerOutput(w, job, .delta(d))); advanceMs(20) }
        if done { feed(.workerDone(w, job)) }
    }

    /// Every running TTS job of the session produces `chunks` chunks of audio and finishes,
    /// segment by segment in order.
    mutating func speakAll(_ s: UInt64, chunks: Int = 2) {
        var k = 0
        while let r = c.sessions[SessionID(s)]?.reply, k < r.segments.count {
            if let (job, w) = ttsJob(s, segment: k) {
                for _ in 0..<chunks { feed(.workerAudio(w, job, last: false, [UInt8](repeating: UInt8(k & 0xFF), count: 4800))) }
                feed(.workerOutput(w, job, .segmentDone))
                feed(.workerDone(w, job))
            }
            k += 1
        }
    }
}

import Testing

extension CoordinatorScript: CustomTestStringConvertible {
    /// On a failed expectation, the tail of the event log rather than the whole state.
    var testDescription: String {
        "\n" + log.suffix(40).map(\.serialized).joined(separator: "\n") + "\n"
    }
}
