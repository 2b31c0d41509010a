/// An event as it crosses the C ABI (`vc_event`, include/voicecore.h): a kind, the host's integer
/// ids, the numeric fields, and the bytes. `body` is a peer's text frame as it arrived (a device's
/// or a worker's JSON message), a reason, typed text or a config patch; `data` is PCM16LE.
public struct WireEvent: Sendable {
    /// `vc_event_kind`; the raw values are ABI.
    public enum Kind: Int32, Sendable, CaseIterable {
        case deviceConnected = 1, deviceMessage, deviceAudio, devicePlaybackDone, deviceDisconnected, textInput
        case workerConnected, workerMessage, workerAudio, workerDisconnected, timerFired, config, adminRequest, deviceLanguage
    }

    /// `VC_EVENT_AUTHENTICATED`: the device presented a valid token (device connected).
    public static let authenticated: UInt32 = 1
    /// `VC_EVENT_LAST`: the job's last audio (worker audio).
    public static let last: UInt32 = 2
    /// `VC_EVENT_POST`: an admin request's method is POST (else GET).
    public static let post: UInt32 = 4

    public var kind: Int32
    public var flags: UInt32 = 0
    public var session: UInt64 = 0
    public var worker: UInt64 = 0
    public var job: UInt64 = 0
    public var turn: UInt64 = 0
    public var timer: UInt64 = 0
    public var protocolVersion: Int32 = 0
    public var body: [UInt8] = []
    public var deviceID = ""
    public var clientID = ""
    public var data: [UInt8] = []
    /// The host's id for an admin request (its answer, `WireEffect.request`, names it).
    public var request: UInt64 = 0
    /// An admin request's path, e.g. "/api/v1/devices" (no query string).
    public var path = ""
    /// The device token a device connected with, for the agents' token bindings ("" = none).
    public var token = ""

    public init(_ kind: Kind, session: UInt64 = 0, worker: UInt64 = 0, body: [UInt8] = [], data: [UInt8] = []) {
        self.kind = kind.rawValue
        self.session = session
        self.worker = worker
        self.body = body
        self.data = data
    }

    public init(kind: Int32) { self.kind = kind }

    /// `body` given as text (a message's JSON, a reason).
    public init(_ kind: Kind, session: UInt64 = 0, worker: UInt64 = 0, text: String) {
        self.init(kind, session: session, worker: worker, body: Array(text.utf8))
    }
}

/// An effect as it crosses the C ABI (`vc_effect`). `body` is a text frame to send to the peer
/// unchanged (a device or worker message, JSON) or a close reason; `data` is PCM16LE.
public struct WireEffect: Sendable {
    /// `vc_effect_kind`; the raw values are ABI.
    public enum Kind: Int32, Sendable {
        case deviceSend = 1, deviceAudio, deviceAudioEnd, deviceFlush, deviceClose
        case workerSend, workerAudio, workerClose, timerSet, timerCancel, httpRespond, devicePause, deviceResume
    }

    /// `VC_EFFECT_HELLO`: a device.send that is the server hello (the device may send audio now).
    public static let hello: UInt32 = 1
    /// `VC_EFFECT_TTS_START`: a device.send that announces a reply's audio.
    public static let ttsStart: UInt32 = 2
    /// `VC_EFFECT_DEVICE_DROPS`: a device.pause after which the device drops the frames it holds;
    /// the host sends them again on resume.
    public static let deviceDrops: UInt32 = 4

    public var kind: Kind
    public var flags: UInt32 = 0
    public var session: UInt64 = 0
    public var worker: UInt64 = 0
    public var job: UInt64 = 0
    public var turn: UInt64 = 0
    public var timer: UInt64 = 0
    public var atUs: Int64 = 0
    public var segment: Int32 = 0
    public var sampleRate: Int32 = 0
    public var code: Int32 = 0
    /// The `WorkerKind` raw value of a job message, -1 otherwise.
    public var jobKind: Int32 = -1
    public var body: String?
    public var data: [UInt8]?
    /// The admin request an `httpRespond` answers (`code` is its HTTP status, `body` its JSON).
    public var request: UInt64 = 0

    public init(_ kind: Kind) { self.kind = kind }
}
