/// An input of the Coordinator: what a device, a worker or a timer did. The C edge decodes the
/// daemon's JSON into these (`CoordinatorWire`); the Simulator builds them directly.
public enum Event: Sendable {
    indirect case deviceConnected(SessionID, DeviceInfo)
    case deviceHello(SessionID, DeviceHello)
    case deviceListen(SessionID, ListenCommand)
    case deviceAbort(SessionID, reason: String)
    /// A device MCP message (JSON-RPC), forwarded to the turn's assistant job.
    case deviceMCP(SessionID, JSON)
    /// PCM16LE mono at 16 kHz, decoded from the uplink Opus.
    case deviceAudio(SessionID, [UInt8])
    case devicePlaybackDone(SessionID, TurnID)
    case deviceDisconnected(SessionID, reason: String)
    /// Typed text instead of speech.
    case textInput(SessionID, String)
    case workerConnected(WorkerID)
    indirect case workerRegister(WorkerID, WorkerRegistration)
    case workerHeartbeat(WorkerID, load: [WorkerKind: Int])
    case workerAccepted(WorkerID, JobID)
    case workerOutput(WorkerID, JobID, JobOutput)
    /// TTS output audio (PCM16LE at the job's sample rate); `last` ends the job's audio.
    case workerAudio(WorkerID, JobID, last: Bool, [UInt8])
    case workerDone(WorkerID, JobID)
    case workerError(WorkerID, JobID, message: String, retryable: Bool)
    case workerDrain(WorkerID)
    case workerDisconnected(WorkerID)
    case timerFired(TimerID)
    /// New configuration at run time (timeouts, texts, scheduler tunables); the PRNG keeps its
    /// state so a run stays reproducible.
    indirect case configure(CoordinatorConfig)
    /// An authenticated operator request on the admin HTTP API, answered by `Effect.httpRespond`.
    indirect case adminRequest(AdminRequest)
    /// The business logic asks a device to speak (worker message `say`; Coordinator+Say.swift).
    indirect case workerSay(WorkerID, deviceID: String, SayContent)
    /// The language tag a device reported over OTA (its system info's `language`, else its
    /// `Accept-Language`), for the jobs of that device's sessions. No session: it arrives before
    /// the device connects.
    case deviceLanguage(deviceID: String, language: String)
}

/// What the daemon learned when the device connected.
public struct DeviceInfo: Sendable {
    public var deviceID: String
    public var clientID: String
    public var protocolVersion: Int
    public var authenticated: Bool
    /// The device token the device connected with (for the token bindings of agents); "" = none.
    public var token: String

    public init(deviceID: String = "", clientID: String = "", protocolVersion: Int = 1, authenticated: Bool = true,
                token: String = "") {
        self.deviceID = deviceID
        self.clientID = clientID
        self.protocolVersion = protocolVersion
        self.authenticated = authenticated
        self.token = token
    }
}

/// The device's `hello`.
public struct DeviceHello: Sendable {
    public var version: Int
    public var mcp: Bool
    /// Uplink frame duration in ms (20 or 60), for the record.
    public var frameDurationMs: Int

    public init(version: Int = 1, mcp: Bool = false, frameDurationMs: Int = 60) {
        self.version = version
        self.mcp = mcp
        self.frameDurationMs = frameDurationMs
    }
}

public enum ListenMode: Int, Sendable, CustomStringConvertible {
    case auto, manual, realtime

    public init?(name: String) {
        switch name {
        case "auto": self = .auto
        case "manual": self = .manual
        case "realtime": self = .realtime
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .auto: return "auto"
        case .manual: return "manual"
        case .realtime: return "realtime"
        }
    }
}

/// The device's `listen` message.
public enum ListenCommand: Sendable {
    case start(ListenMode)
    case stop
    /// Wake word detected (`text` is the wake word or an utterance typed on the device).
    case detect(text: String)
}

/// Streamed output of a job (docs/worker-protocol.md, `output.event`).
public enum JobOutput: Sendable {
    case speechStart
    case partial(String)
    case final(String, language: String?)
    /// A transcript of the utterance so far, made during a pause: the final if no speech follows.
    /// `language`: the transcript's language as the worker reports it (an English-only ASR: "en").
    /// `refining`: the worker decodes this pass again and sends that text as `refined`; a
    /// preemptive reply waits for it.
    case speculative(String, language: String? = nil, refining: Bool = false)
    /// New speech voided the last `speculative` transcript.
    case speculationVoid
    /// The last `speculative` pass decoded again (beam search): the final's text if no speech
    /// follows. For preemptive generation only; the pause's evidence stays the `speculative` text.
    case refined(String)
    case speechEnd
    /// End-of-turn evidence (hub endpointing): a pause began `silenceMs` of audio ago; speech
    /// resumed; the turn model's probability that the utterance so far is a finished turn.
    case pause(silenceMs: Int)
    case resume
    case turnProbability(Double)
    case delta(String)
    case toolCall(JSON)
    case toolResult(JSON)
    case mcp(JSON)
    case segmentDone
    /// An assistant job's LLM token usage as the LLM reported it (`model` "" = not known).
    case usage(model: String, prompt: Int64, completion: Int64, total: Int64)
}

extension JobOutput {
    var isToolCall: Bool { if case .toolCall = self { return true } else { return false } }
}
