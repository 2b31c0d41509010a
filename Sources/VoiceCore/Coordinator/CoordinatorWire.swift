/// The Coordinator as the C ABI and Python see it: typed events in (`WireEvent`, with the host's
/// integer ids, which are the core's ids), typed effects out (`WireEffect`, their message bodies
/// serialised to the JSON text frames the peers read) and JSON log lines out.
///
/// A peer's message arrives as the text frame it sent and is parsed here once. A rejected message
/// from a device or a worker is answered here: the effects gain an `error` message to that peer
/// (unless the core already answered it), so the host only moves bytes.
public final class CoordinatorWire {
    public private(set) var core: Coordinator
    private var effects = Ring<WireEffect>()
    private var logLines = Ring<String>()

    public init(config: CoordinatorConfig) throws(VCError) {
        core = try Coordinator(config: config)
    }

    public convenience init(configJSON: JSON) throws(VCError) {
        try self.init(config: CoordinatorConfig(json: configJSON))
    }

    /// Handles one event. Throws (after logging `input.rejected`) when it is invalid; the effects
    /// it produced (an `error` answer to the peer) are queued either way.
    public func handle(_ wire: WireEvent, nowUs: Int64) throws(VCError) {
        let now = Instant(us: nowUs)
        let event: Event
        do {
            event = try Self.decode(wire, config: core.config)
        } catch {
            core.rejectInput(error.message, session: wire.session > 0 && wire.session <= Self.maxID ? SessionID(wire.session) : nil,
                             worker: wire.worker > 0 && wire.worker <= Self.maxID ? WorkerID(wire.worker) : nil, now: now)
            answer(wire, error.message, answered: false)
            drainLog()
            throw error
        }
        var answered = false
        for e in core.handle(event, now: now) {
            if case let .workerSend(w, .error, _) = e, w.raw == wire.worker { answered = true }
            effects.push(WireEncoder.effect(e, downlink: (core.config.downlinkSampleRate, core.config.downlinkFrameMs)))
        }
        let rejection = core.lastRejection
        if let rejection { answer(wire, rejection.message, answered: answered) }
        drainLog()
        if let rejection { throw rejection }
    }

    public func nextEffect() -> WireEffect? { effects.pop() }
    public func nextLogLine() -> String? { logLines.pop() }

    private func drainLog() {
        core.log.drain { entry in
            logLines.push(entry.jsonLine(sessionName: { $0.description }, workerName: { $0.description }))
        }
    }

    /// A rejected message from a peer is answered to that peer with the reason; events the host
    /// made up itself (connected, playback done, disconnected, timers) are not.
    private func answer(_ wire: WireEvent, _ message: String, answered: Bool) {
        guard let kind = WireEvent.Kind(rawValue: wire.kind) else { return }
        switch kind {
        case .deviceMessage, .deviceAudio, .textInput:
            guard wire.session > 0 else { return }
            var e = WireEffect(.deviceSend)
            e.session = wire.session
            e.body = WireEncoder.errorMessage(message)
            effects.push(e)
        case .workerMessage, .workerAudio:
            guard wire.worker > 0, !answered else { return }
            var e = WireEffect(.workerSend)
            e.worker = wire.worker
            let job: UInt64? = kind == .workerAudio ? wire.job : Self.jobOf(wire.body)
            e.job = job ?? 0
            e.body = WireEncoder.errorMessage(message, job: job)
            effects.push(e)
        case .adminRequest:
            // Every admin request is answered: a rejected one with 400 and the reason.
            guard wire.request > 0 else { return }
            var e = WireEffect(.httpRespond)
            e.request = wire.request
            e.code = 400
            e.body = JSON.object([("error", .string(message))]).serialized
            effects.push(e)
        default:
            return
        }
    }

    /// Ids are integers in 1...2^63-1 (they fit a signed 64-bit integer in every language).
    static let maxID = UInt64(Int64.max)

    /// The "job" of a worker message the core could not take, for its answer; nil when it has none.
    private static func jobOf(_ body: [UInt8]) -> UInt64? {
        guard let json = try? JSONParser.parse(bytes: body), let n = json["job"]?.int64Value, n >= 0 else { return nil }
        return UInt64(n)
    }

    private static func id(_ raw: UInt64, _ name: String) throws(VCError) -> UInt64 {
        guard raw > 0, raw <= maxID else { throw VCError(.invalidArgument, "\(name) id must be in 1...2^63-1, not \(raw)") }
        return raw
    }

    /// A peer's text frame: well-formed JSON (UTF-8, no duplicate keys) or VC_ERR_CORRUPT.
    static func message(_ body: [UInt8]) throws(VCError) -> WireFields {
        let json: JSON
        do {
            json = try JSONParser.parse(bytes: body)
        } catch {
            throw VCError(.corrupt, "malformed JSON: \(error.message)")
        }
        if let key = json.duplicateKey { throw VCError(.corrupt, "malformed JSON: duplicate key \"\(key)\"") }
        return try WireFields(json, "message")
    }

    static func text(_ body: [UInt8], _ what: String) throws(VCError) -> String {
        guard let s = String(validating: body, as: UTF8.self) else { throw VCError(.invalidUTF8, "\(what) is not valid UTF-8") }
        return s
    }

    static func decode(_ e: WireEvent, config: CoordinatorConfig) throws(VCError) -> Event {
        guard let kind = WireEvent.Kind(rawValue: e.kind) else { throw VCError(.invalidArgument, "unknown event kind \(e.kind)") }
        switch kind {
        case .deviceConnected:
            let info = DeviceInfo(deviceID: e.deviceID, clientID: e.clientID,
                                  protocolVersion: e.protocolVersion == 0 ? 1 : Int(e.protocolVersion),
                                  authenticated: e.flags & WireEvent.authenticated != 0, token: e.token)
            return .deviceConnected(SessionID(try id(e.session, "session")), info)
        case .deviceMessage:
            let s = SessionID(try id(e.session, "session"))
            return try WireDecoder.deviceMessage(s, try message(e.body))
        case .deviceAudio:
            let s = SessionID(try id(e.session, "session"))
            guard e.data.count % 2 == 0 else { throw VCError(.parse, "device audio: odd PCM16 length \(e.data.count)") }
            return .deviceAudio(s, e.data)
        case .devicePlaybackDone:
            let s = SessionID(try id(e.session, "session"))
            guard e.turn > 0, e.turn <= UInt64(UInt32.max) else { throw VCError(.invalidArgument, "device playback done: bad turn \(e.turn)") }
            return .devicePlaybackDone(s, TurnID(UInt32(e.turn)))
        case .deviceDisconnected:
            return .deviceDisconnected(SessionID(try id(e.session, "session")), reason: try text(e.body, "the reason"))
        case .textInput:
            let s = SessionID(try id(e.session, "session"))
            return .textInput(s, try text(e.body, "text input"))
        case .workerConnected:
            return .workerConnected(WorkerID(try id(e.worker, "worker")))
        case .workerMessage:
            let w = WorkerID(try id(e.worker, "worker"))
            return try WireDecoder.workerMessage(w, try message(e.body))
        case .workerAudio:
            let w = WorkerID(try id(e.worker, "worker"))
            guard e.job > 0, e.job <= maxID else { throw VCError(.parse, "worker audio: \"job\" must be a positive integer") }
            guard e.data.count % 2 == 0 else { throw VCError(.parse, "worker audio: odd PCM16 length \(e.data.count)") }
            return .workerAudio(w, JobID(e.job), last: e.flags & WireEvent.last != 0, e.data)
        case .workerDisconnected:
            return .workerDisconnected(WorkerID(try id(e.worker, "worker")))
        case .config:
            var patched = config
            let patch: JSON
            do { patch = try JSONParser.parse(bytes: e.body) } catch { throw VCError(.parse, "config: \(error.message)") }
            try patched.apply(json: patch)
            return .configure(patched)
        case .deviceLanguage:
            return .deviceLanguage(deviceID: e.deviceID, language: try text(e.body, "the language"))
        case .timerFired:
            guard e.timer > 0, e.timer <= maxID else { throw VCError(.invalidArgument, "timer fired: bad timer id \(e.timer)") }
            return .timerFired(TimerID(e.timer))
        case .adminRequest:
            guard e.request > 0, e.request <= maxID else { throw VCError(.invalidArgument, "admin request: id must be in 1...2^63-1, not \(e.request)") }
            var body: JSON?
            if !e.body.isEmpty {
                do {
                    body = try JSONParser.parse(bytes: e.body)
                } catch {
                    throw VCError(.corrupt, "malformed JSON body: \(error.message)")
                }
                if let key = body?.duplicateKey { throw VCError(.corrupt, "malformed JSON body: duplicate key \"\(key)\"") }
                if body == .null { body = nil }
            }
            return .adminRequest(AdminRequest(id: e.request, method: e.flags & WireEvent.post != 0 ? "POST" : "GET", path: e.path, body: body))
        }
    }
}

extension JSON {
    /// The first key that an object (at any depth) holds twice, or nil.
    var duplicateKey: String? {
        switch self {
        case let .object(members):
            if members.count > 1 {
                var seen = Set<String>()
                for (k, _) in members where !seen.insert(k).inserted { return k }
            }
            for (_, v) in members { if let k = v.duplicateKey { return k } }
            return nil
        case let .array(items):
            for v in items { if let k = v.duplicateKey { return k } }
            return nil
        default:
            return nil
        }
    }
}
