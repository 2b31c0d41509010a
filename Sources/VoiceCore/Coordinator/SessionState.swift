/// A device session's state as the event log names it.
public enum SessionPhase: Int, Sendable, CustomStringConvertible {
    case connecting, idle, listening, thinking, speaking, closing

    public var description: String {
        switch self {
        case .connecting: return "connecting"
        case .idle: return "idle"
        case .listening: return "listening"
        case .thinking: return "thinking"
        case .speaking: return "speaking"
        case .closing: return "closing"
        }
    }
}

/// One device connection and everything in flight for it. A reference type on purpose: the hot
/// paths (an audio frame, a TTS chunk) update a few fields in place instead of copying a large
/// struct out of and back into the session table. A Session is owned by exactly one Coordinator
/// (used from one thread at a time) and never handed out.
final class Session {
    let id: SessionID
    var info: DeviceInfo
    var helloDone = false
    var mcp = false
    /// The device's MCP tools and the JSON-RPC calls in flight (nil: the hello did not announce MCP).
    var deviceMCP: DeviceMCP?
    var mode: ListenMode = .auto
    /// The device is in its listening state (between `listen start` and `stop`/`tts start`).
    var listening = false
    var closing = false
    var nextTurn: UInt32 = 1
    var utterance: Utterance? {
        didSet {
            // Recycle the replay buffer of a finished utterance for the next one.
            if let old = oldValue, old !== utterance {
                old.audio.removeAll()
                spareAudio = old.audio
                old.audio = Ring()
                old.audioBytes = 0
            }
        }
    }
    /// An empty replay buffer with capacity, kept between utterances.
    var spareAudio = Ring<[UInt8]>()
    var reply: Reply?
    /// The open utterance's reply started on a speculative transcript, held until the final.
    var held: HeldReply?
    var helloTimer: TimerID?
    var idleTimer: TimerID?
    var closeTimer: TimerID?
    var lastActivity: Instant
    /// After ASR failed open: no new utterance until `listen start` or a new ASR worker.
    var asrBlocked = false
    var lastASRWorker: WorkerID?
    /// The language the ASR decoded the last utterance in: the replies' language when the configured
    /// one is `auto` (Coordinator+Language.swift).
    var detectedLanguage: String?
    var phase: SessionPhase = .connecting
    /// Says waiting for the moment to speak, oldest first (Coordinator+Say.swift).
    var says: [PendingSay] = []
    let connectedAt: Instant
    /// The agent serving the session ("" = none: the hub's settings, any assistant worker).
    var agent = ""

    init(id: SessionID, info: DeviceInfo, now: Instant) {
        self.id = id
        self.info = info
        lastActivity = now
        connectedAt = now
    }

    var currentPhase: SessionPhase {
        if closing { return .closing }
        if !helloDone { return .connecting }
        if let reply { return reply.ttsStarted ? .speaking : .thinking }
        if utterance != nil { return .listening }
        return .idle
    }
}

/// The utterance being heard: the ASR stream job and the audio kept to move it elsewhere. A
/// reference type so that an audio frame appends to the replay buffer in place.
final class Utterance {
    var turn: TurnID
    var job: JobID
    /// The mode the ASR stream was opened with (its endpointing depends on it).
    var mode: ListenMode
    var attempts = 1
    var speech = false
    /// Input ended (`listen stop`): the ASR worker was (or will be) sent `input end`.
    var ended = false
    var audio = Ring<[UInt8]>()
    var audioBytes = 0
    var speechEndAt: Instant?
    var startedAt: Instant
    /// Hub endpointing: what the ASR worker reported about the current pause, and the timer that
    /// ends the turn at the deadline the evidence gives (EndOfTurn).
    var pause: PauseEvidence?
    var endTimer: TimerID?
    /// Realtime mode: the utterance began while a reply played; it cuts the reply only if it
    /// proves an interruption (speech past `turn.barge_in_ms`, or a transcript that is no backchannel).
    var overReply = false
    /// While `overReply`: pauses the reply's downlink (`barge_in_ms` after the speech start), then
    /// cuts the reply if the speech still goes on (`interrupt_ms`).
    var bargeInTimer: TimerID?
    var speechStartedAt: Instant?
    /// The last `speculative` is being decoded again (`refining`): its `refined` starts the
    /// preemptive reply.
    var refining = false

    init(turn: TurnID, job: JobID, mode: ListenMode, startedAt: Instant) {
        self.turn = turn
        self.job = job
        self.mode = mode
        self.startedAt = startedAt
    }
}

/// The reply of a turn: the assistant job, the splitter, the segments and their audio. A reference
/// type for the same reason as `Session`.
final class Reply {
    var turn: TurnID
    var text: String
    var assistantJob: JobID?
    var assistantAttempts = 0
    var assistantDone = false
    var gotText = false
    var splitter: ReplySplitter
    var segments: [SegmentState] = []
    /// The segment whose audio goes to the device now; audio of later segments waits.
    var head = 0
    var ttsStarted = false
    var audioEndSent = false
    var audioSentBytes: Int64 = 0
    var watchdog: TimerID?
    var playbackTimer: TimerID?
    /// The playback timer's deadline, moved on by the time the downlink was paused.
    var playbackAt: Instant?
    /// Speech over the reply paused its downlink at this time (`device.pause`), not yet judged.
    var pausedAt: Instant?
    /// The time the downlink spent paused so far (playback ends that much later).
    var pausedUs: Int64 = 0
    var fallback = false
    /// The turn was refused by a budget: its reply is the refusal text.
    var refused = false
    /// The session's agent when the turn started: its retries and TTS segments keep it, even if
    /// the device is moved meanwhile (nil: the session's agent).
    var agent: String?
    var marks = TurnMarks()
    /// The say this reply speaks (nil: a reply to the user); `instruction`: its assistant job
    /// phrases an instruction rather than answering an utterance.
    var say: UInt64?
    var instruction = false

    init(turn: TurnID, text: String, splitter: ReplySplitter) {
        self.turn = turn
        self.text = text
        self.splitter = splitter
    }
}

struct SegmentState: Sendable {
    var text: String
    var job: JobID?
    var attempts = 0
    /// Audio bytes of this segment taken from its jobs so far (sent or waiting to be sent).
    var acceptedBytes = 0
    /// Audio bytes the current attempt produced; a replacement attempt's first `acceptedBytes`
    /// bytes are dropped, so no audio is ever sent twice.
    var attemptBytes = 0
    var pending: [[UInt8]] = []
    var complete = false
    var started = false
}

/// Per-turn timing marks (µs on the host clock).
struct TurnMarks: Sendable {
    var speechEnd: Instant?
    var asrFinal: Instant?
    var firstDelta: Instant?
    var firstSegment: Instant?
    var firstTTSAudio: Instant?
    var firstAudioSent: Instant?

    /// The latency budget: each stage's share between the user falling silent and the first
    /// audio sent (`asr_us`: speech end → final, `assistant_us`: → first text, `split_us`: → first
    /// segment, `tts_us`: → first TTS audio, `send_us`: → first audio sent, `total_us`), for the
    /// stages the turn reached.
    var differences: [(String, Int64)]? {
        let points: [(String, Instant?)] = [("asr_us", asrFinal), ("assistant_us", firstDelta), ("split_us", firstSegment),
                                            ("tts_us", firstTTSAudio), ("send_us", firstAudioSent)]
        guard var previous = speechEnd else { return nil }
        var out: [(String, Int64)] = []
        for (name, t) in points {
            guard let t else { break }
            out.append((name, t - previous))
            previous = t
        }
        if let sent = firstAudioSent, let end = speechEnd { out.append(("total_us", sent - end)) }
        return out.isEmpty ? nil : out
    }
}
