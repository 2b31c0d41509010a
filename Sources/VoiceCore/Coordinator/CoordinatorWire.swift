/// The Coordinator as the C ABI and Python see it: JSON events in (with the daemon's string ids),
/// JSON effects and JSON log lines out. The string ids are interned to typed ids here and
/// released when the Coordinator forgets the session or worker. A reference type, like the
/// Coordinator it owns (the C handle holds the one instance).
public final class CoordinatorWire {
    public struct Output: Sendable {
        public var json: String
        public var data: [UInt8]?
    }

    public let core: Coordinator
    private var sessionIDs: [String: SessionID] = [:]
    private var sessionNames: [SessionID: String] = [:]
    private var workerIDs: [String: WorkerID] = [:]
    private var workerNames: [WorkerID: String] = [:]
    private var nextSession: UInt32 = 1
    private var nextWorker: UInt32 = 1
    private var effects = Ring<Output>()
    private var logLines = Ring<String>()

    public init(config: CoordinatorConfig) throws(VCError) {
        core = try Coordinator(config: config)
    }

    public convenience init(configJSON: JSON) throws(VCError) {
        try self.init(config: CoordinatorConfig(json: configJSON))
    }

    /// Handles one JSON event. Throws (after logging `input.rejected`) when it is invalid; the
    /// effects it produced (an `error` answer to a worker) are queued either way.
    public func handle(json: JSON, data: [UInt8], nowUs: Int64) throws(VCError) {
        let now = Instant(us: nowUs)
        let event: Event
        do {
            event = try decode(json, data)
        } catch {
            core.rejectInput(error.message, now: now)
            drainLog()
            throw error
        }
        let out = core.handle(event, now: now)
        for e in out {
            let (j, d) = WireEncoder.effect(e, session: { sessionNames[$0] ?? $0.description }, worker: { workerNames[$0] ?? $0.description },
                                            downlink: (core.config.downlinkSampleRate, core.config.downlinkFrameMs))
            effects.push(Output(json: j.serialized, data: d))
        }
        let rejection = core.lastRejection
        drainLog()
        // A refused connection leaves no name behind.
        if case let .deviceConnected(s, _) = event, core.sessions[s] == nil, let name = sessionNames.removeValue(forKey: s) {
            sessionIDs[name] = nil
        }
        if case let .workerConnected(w) = event, core.workers[w] == nil, let name = workerNames.removeValue(forKey: w) {
            workerIDs[name] = nil
        }
        if let rejection { throw rejection }
    }

    /// Records an event that is not even JSON as rejected (the C edge parses the bytes).
    public func rejectUnparsable(_ error: VCError, nowUs: Int64) {
        core.rejectInput(error.message, now: Instant(us: nowUs))
        drainLog()
    }

    public func nextEffect() -> Output? { effects.pop() }
    public func nextLogLine() -> String? { logLines.pop() }

    private func drainLog() {
        var goneSessions: [SessionID] = []
        var goneWorkers: [WorkerID] = []
        core.log.drain { entry in
            logLines.push(entry.jsonLine(sessionName: { sessionNames[$0] ?? $0.description },
                                         workerName: { workerNames[$0] ?? $0.description }))
            if entry.kind == .sessionGone, let s = entry.session { goneSessions.append(s) }
            if entry.kind == .workerGone, let w = entry.worker { goneWorkers.append(w) }
        }
        for s in goneSessions { if let name = sessionNames.removeValue(forKey: s) { sessionIDs[name] = nil } }
        for w in goneWorkers { if let name = workerNames.removeValue(forKey: w) { workerIDs[name] = nil } }
    }

    private func session(_ f: WireFields, create: Bool = false) throws(VCError) -> SessionID {
        let name = try f.string("session")
        guard !name.isEmpty else { throw VCError(.parse, "\(f.path): \"session\" must not be empty") }
        if let id = sessionIDs[name] { return id }
        guard create else { throw VCError(.notFound, "unknown session \"\(name)\"") }
        let id = SessionID(nextSession)
        nextSession &+= 1
        sessionIDs[name] = id
        sessionNames[id] = name
        return id
    }

    private func worker(_ f: WireFields, create: Bool = false) throws(VCError) -> WorkerID {
        let name = try f.string("worker")
        guard !name.isEmpty else { throw VCError(.parse, "\(f.path): \"worker\" must not be empty") }
        if let id = workerIDs[name] { return id }
        guard create else { throw VCError(.notFound, "unknown worker \"\(name)\"") }
        let id = WorkerID(nextWorker)
        nextWorker &+= 1
        workerIDs[name] = id
        workerNames[id] = name
        return id
    }

    private func decode(_ json: JSON, _ data: [UInt8]) throws(VCError) -> Event {
        let f = try WireFields(json, "event")
        let type = try f.string("type")
        switch type {
        case "device.connected":
            let info = DeviceInfo(deviceID: try f.optionalString("device_id") ?? "", clientID: try f.optionalString("client_id") ?? "",
                                  protocolVersion: Int(try f.optionalInt("protocol_version") ?? 1),
                                  authenticated: try f.optionalBool("authenticated") ?? true,
                                  token: try f.optionalString("token") ?? "")
            return .deviceConnected(try session(f, create: true), info)
        case "device.message":
            let s = try session(f)
            return try WireDecoder.deviceMessage(s, try f.object("message"))
        case "device.audio":
            let s = try session(f)
            guard data.count % 2 == 0 else { throw VCError(.parse, "device.audio: odd PCM16 length \(data.count)") }
            return .deviceAudio(s, data)
        case "device.playback_done":
            let s = try session(f)
            let turn = try f.int("turn")
            guard turn > 0, turn <= Int64(UInt32.max) else { throw VCError(.parse, "device.playback_done: bad turn") }
            return .devicePlaybackDone(s, TurnID(UInt32(turn)))
        case "device.disconnected":
            return .deviceDisconnected(try session(f), reason: try f.optionalString("reason") ?? "")
        case "text.input":
            let s = try session(f)
            return .textInput(s, try f.string("text"))
        case "worker.connected":
            return .workerConnected(try worker(f, create: true))
        case "worker.message":
            let w = try worker(f)
            return try WireDecoder.workerMessage(w, try f.object("message"))
        case "worker.audio":
            let w = try worker(f)
            guard data.count % 2 == 0 else { throw VCError(.parse, "worker.audio: odd PCM16 length \(data.count)") }
            return .workerAudio(w, try f.jobID(), last: try f.optionalBool("last") ?? false, data)
        case "worker.disconnected":
            return .workerDisconnected(try worker(f))
        case "config":
            var config = core.config
            guard let patch = json["config"] else { throw VCError(.parse, "event: missing \"config\"") }
            try config.apply(json: patch)
            return .configure(config)
        case "admin.request":
            let id = try f.int("request")
            guard id > 0 else { throw VCError(.parse, "admin.request: \"request\" must be a positive integer") }
            let method = try f.string("method")
            let path = try f.string("path")
            let body = json["body"].flatMap { $0 == .null ? nil : $0 }
            return .adminRequest(AdminRequest(id: UInt64(id), method: method, path: path, body: body))
        case "timer.fired":
            let t = try f.int("timer")
            guard t > 0 else { throw VCError(.parse, "timer.fired: bad timer id") }
            return .timerFired(TimerID(UInt64(t)))
        default:
            throw VCError(.parse, "unknown event type \"\(type)\"")
        }
    }
}
