/// Speaking first: an operator (`POST /api/v1/devices/{id}/say`) or the business logic (the
/// worker message `say`) asks a connected device to speak. The Coordinator picks the moment:
/// never over the user — not while an utterance has heard speech or is being recognised, nor in
/// manual mode while the user holds the button — and behind the reply in progress. A say is
/// then an assistant turn of its own (`turn.started` reason `say`): its text goes through the
/// splitter and TTS to the device (`tts start`, `sentence_start`, audio, `tts stop`), or, for an
/// instruction, an assistant job phrases it first. Says wait on their session in order; the
/// device leaving drops them (`say.dropped`).

/// What to say: words spoken as they are, or an instruction the device's assistant phrases.
public enum SayContent: Sendable, Equatable {
    case text(String)
    case instruction(String)

    public var words: String {
        switch self {
        case let .text(t), let .instruction(t): return t
        }
    }

    public var kindName: String {
        switch self {
        case .text: return "text"
        case .instruction: return "instruction"
        }
    }
}

/// A say waiting on its session for the moment to speak.
struct PendingSay: Sendable {
    let id: UInt64
    let content: SayContent
    /// Who asked: `api` or `worker`.
    let source: String
}

extension Coordinator {
    /// The longest text or instruction, in characters.
    public static let sayMaxChars = 1000
    /// Says a session holds waiting at most; more are refused.
    public static let sayMaxQueued = 8

    /// Why this content cannot be said, or nil.
    static func sayProblem(_ content: SayContent) -> String? {
        let words = Self.trimmed(content.words)
        if words.isEmpty { return "\(content.kindName) is empty" }
        if words.count > sayMaxChars { return "\(content.kindName) is longer than \(sayMaxChars) characters" }
        return nil
    }

    /// The device may be spoken to now: it said hello, is not closing, no reply is in flight or
    /// held, and the user is not talking (an open utterance that heard nothing in auto or realtime
    /// mode is only the device listening).
    func canSpeakFirst(_ s: SessionID) -> Bool {
        guard let session = sessions[s], session.helloDone, !session.closing, session.reply == nil, session.held == nil
        else { return false }
        guard let u = session.utterance else { return true }
        return !u.speech && !u.ended && u.mode != .manual && u.pause == nil
    }

    /// Queues a say on the session; it starts at once when the moment is right. Returns its id.
    mutating func enqueueSay(_ s: SessionID, _ content: SayContent, source: String) -> UInt64 {
        let id = nextSay
        nextSay += 1
        sessions[s]!.says.append(PendingSay(id: id, content: content, source: source))
        record(.sayQueued, session: s, to: content.kindName, reason: source, value: Int64(id), text: Self.trimmed(content.words))
        startDueSay(s)
        touch(s)
        return id
    }

    /// Starts the first waiting say of each session this event touched, where the moment is right.
    mutating func startDueSays() {
        var i = 0
        while i < touched.count {
            let s = touched[i]
            if sessions[s]?.says.isEmpty == false { startDueSay(s) }
            i += 1
        }
    }

    mutating func startDueSay(_ s: SessionID) {
        guard canSpeakFirst(s), let say = sessions[s]!.says.first else { return }
        sessions[s]!.says.removeFirst()
        sessions[s]!.lastActivity = now
        // The device was only listening: that stream reopens after the say (realtime: at once).
        if let u = sessions[s]!.utterance {
            clearTurnTimers(s, u)
            cancelJob(u.job, reason: "say")
            sessions[s]!.utterance = nil
            record(.turnCancelled, session: s, turn: u.turn, reason: "say")
        }
        let turn = TurnID(sessions[s]!.nextTurn)
        sessions[s]!.nextTurn += 1
        let words = Self.trimmed(say.content.words)
        record(.turnStarted, session: s, turn: turn, reason: "say")
        record(.sayStarted, session: s, turn: turn, to: say.content.kindName, reason: say.source, value: Int64(say.id))
        let reply = Reply(turn: turn, text: words, splitter: ReplySplitter(options: config.splitter))
        reply.say = say.id
        if case .instruction = say.content { reply.instruction = true }
        reply.marks = TurnMarks(speechEnd: now)
        reply.watchdog = setTimer(.reply(s, turn), at: now + config.replyTimeoutUs)
        sessions[s]!.reply = reply
        switch say.content {
        case .text:
            reply.splitter.push(words)
            reply.splitter.flush()
            while let piece = sessions[s]!.reply!.splitter.next() { addPiece(s, piece) }
            sessions[s]!.reply!.assistantDone = true
            checkReplyComplete(s)
        case .instruction:
            startAssistant(s, avoid: nil)
        }
        ensureUtterance(s)
        touch(s)
    }

    /// The device left: its waiting says are dropped.
    mutating func dropSays(_ s: SessionID, reason: String) {
        guard let says = sessions[s]?.says, !says.isEmpty else { return }
        for say in says { record(.sayDropped, session: s, to: say.content.kindName, reason: reason, value: Int64(say.id)) }
        sessions[s]!.says.removeAll()
    }

    // MARK: the worker message `say`

    mutating func workerSay(_ w: WorkerID, deviceID: String, _ content: SayContent) {
        guard let worker = workers[w], worker.registered else { return reject("say before register", worker: w) }
        if let problem = Self.sayProblem(content) {
            out.append(.workerSend(w, .error("say: " + problem, job: nil), audio: nil))
            return reject("say: " + problem, worker: w)
        }
        guard let s = connectedSession(ofDevice: deviceID) else {
            out.append(.workerSend(w, .error("say: device \"\(deviceID)\" is not connected", job: nil), audio: nil))
            record(.sayDropped, worker: w, to: content.kindName, reason: "not-connected", text: deviceID)
            return
        }
        guard sessions[s]!.says.count < Self.sayMaxQueued else {
            out.append(.workerSend(w, .error("say: \(Self.sayMaxQueued) says already wait for device \"\(deviceID)\"", job: nil), audio: nil))
            record(.sayDropped, session: s, worker: w, to: content.kindName, reason: "queue-full")
            return
        }
        _ = enqueueSay(s, content, source: "worker")
    }

    // MARK: POST /api/v1/devices/{device}/say

    mutating func adminSay(_ call: AdminCall) -> AdminResponse {
        let deviceID = call.param("device")
        guard let body = call.body?.objectValue else {
            return .error(400, "the body must be a JSON object: {\"text\": \"...\"} or {\"instruction\": \"...\"}")
        }
        let text = call.body?["text"], instruction = call.body?["instruction"]
        let content: SayContent
        switch (text, instruction) {
        case let (t?, nil):
            guard let t = t.stringValue else { return .error(400, "\"text\" must be a string") }
            content = .text(t)
        case let (nil, i?):
            guard let i = i.stringValue else { return .error(400, "\"instruction\" must be a string") }
            content = .instruction(i)
        case (.some, .some):
            return .error(400, "give \"text\" or \"instruction\", not both")
        case (nil, nil):
            return .error(400, "the body needs \"text\" (spoken as is) or \"instruction\" (phrased by the assistant)")
        }
        if let unknown = body.first(where: { $0.0 != "text" && $0.0 != "instruction" }) {
            return .error(400, "unknown field \"\(unknown.0)\"")
        }
        if let problem = Self.sayProblem(content) { return .error(400, problem) }
        guard let s = connectedSession(ofDevice: deviceID) else { return .error(404, "device \"\(deviceID)\" is not connected") }
        let waiting = sessions[s]!.says.count
        guard waiting < Self.sayMaxQueued else {
            return .error(429, "\(Self.sayMaxQueued) says already wait for device \"\(deviceID)\"")
        }
        let id = enqueueSay(s, content, source: "api")
        let started = sessions[s]!.reply?.say == id
        return AdminResponse(202, .object([
            ("say", .json(.number(Double(id)))), ("device_id", .json(.string(deviceID))), ("session", .session(s)),
            ("status", .json(.string(started ? "speaking" : "queued"))), ("says_ahead", .json(.number(Double(waiting)))),
        ]))
    }
}
