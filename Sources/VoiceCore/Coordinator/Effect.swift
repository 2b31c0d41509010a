/// An output of the Coordinator, carried out by the host. The C edge hands them over as typed
/// `vc_effect`s (CoordinatorWire, docs/coordinator.md).
public enum Effect: Sendable {
    case deviceSend(SessionID, DeviceMessage)
    /// Queue PCM16LE for paced playback; `sentenceStart` is sent in band when this audio reaches
    /// the head of the device's queue.
    case deviceAudio(SessionID, turn: TurnID, segment: Int, sampleRate: Int, sentenceStart: String?, [UInt8])
    /// After turn N's queued audio is played: send `tts stop`, report `device.playback_done`.
    case deviceAudioEnd(SessionID, turn: TurnID)
    /// Drop all queued audio now (barge-in, abort).
    case deviceFlush(SessionID)
    /// Hold the queued audio: send no more frames until `deviceResume` or `deviceFlush`. Speech
    /// over a reply, not yet judged. `deviceDrops`: the device was told to drop the few frames it
    /// holds (`ttsPauseStop`, `ttsPauseStart`), so the host sends those frames again on resume;
    /// otherwise it plays them out and then nothing.
    case devicePause(SessionID, deviceDrops: Bool)
    /// Send the queued audio again from where `devicePause` held it.
    case deviceResume(SessionID)
    /// Close the device's WebSocket with this close code (RFC 6455 §7.4) and reason.
    case deviceClose(SessionID, code: Int, reason: String)
    /// A message to a worker; `audio` is ASR input (the daemon adds the binary job header).
    case workerSend(WorkerID, WorkerMessage, audio: [UInt8]?)
    case workerClose(WorkerID, code: Int, reason: String)
    case timerSet(TimerID, at: Instant)
    case timerCancel(TimerID)
    /// The answer to the admin request with this id (`Event.adminRequest`).
    indirect case httpRespond(UInt64, AdminResponse)
}

/// WebSocket close codes the core decides (RFC 6455 §7.4.1).
public enum CloseCode {
    public static let normal = 1000
    /// The peer broke a rule (no hello in time, a worker that never registered or stopped
    /// answering, leaked slots).
    public static let policyViolation = 1008
}

/// A JSON text message for a device (XiaoZhi protocol). `session_id` is added by the encoder.
public enum DeviceMessage: Sendable, Equatable {
    /// The server `hello`: transport websocket, audio_params opus 24000 Hz mono 60 ms.
    case hello
    case stt(String)
    indirect case llmEmotion(emoji: String, emotion: String)
    case ttsStart
    /// Sent directly only when no audio is queued (abort, flush); otherwise the daemon sends it
    /// after `device.audio_end`.
    case ttsStop
    /// `tts stop` then `tts start`, each with `"pause": true`, sent together when a playing reply
    /// pauses: the XiaoZhi firmware drops the audio it holds on entering its speaking state
    /// (application.cc, `ResetDecoder`), so the reply falls silent at once instead of after the
    /// frames it holds, and the device stays in its speaking state. Our clients read `pause` and
    /// drop their queued audio, keeping the reply open.
    case ttsPauseStop
    case ttsPauseStart
    indirect case alert(status: String, message: String, emotion: String)
    case mcp(JSON)
}

/// A JSON message for a worker (docs/worker-protocol.md).
public enum WorkerMessage: Sendable {
    case registered(heartbeatMs: Int)
    indirect case job(JobID, kind: WorkerKind, session: SessionID, turn: TurnID, params: JobParams)
    /// ASR input audio for `job`, payload in the effect.
    case audio(JobID)
    case inputEnd(JobID)
    /// A preemptive assistant job's transcript is confirmed: it may remember the exchange and finish.
    case inputCommit(JobID)
    case inputMCP(JobID, JSON)
    case cancel(JobID, reason: String)
    case roles(KindSet)
    indirect case error(String, job: JobID?)
}

public enum JobParams: Sendable {
    /// `hubEndpointing`: the core ends the utterance (`input end`) on the worker's evidence.
    case asr(mode: ListenMode, sampleRate: Int, language: String, hubEndpointing: Bool = false)
    case tts(text: String, segment: Int, sampleRate: Int, language: String, voice: String)
    /// `preemptive`: started on a speculative transcript; the hub sends `commit` or `cancel` later.
    /// `tools`: the device's MCP tools as it listed them (absent: none, or not listed yet).
    /// `agent`: the session's agent ("" = none), which the worker's business logic serves.
    case assistant(text: String, language: String, deviceID: String, preemptive: Bool = false, tools: [JSON]? = nil, agent: String = "")
    /// An assistant job that phrases an instruction for the device to say first (a say): the
    /// params of `assistant` with `"instruction": true`.
    case instruction(text: String, language: String, deviceID: String, tools: [JSON]? = nil, agent: String = "")

    /// The language a worker's model must handle for the job ("" for assistant jobs: the business
    /// logic answers in the job's language whatever the worker): placement prefers a worker that
    /// names it (`QueuedJob.language`).
    var modelLanguage: String {
        switch self {
        case let .asr(_, _, language, _), let .tts(_, _, _, language, _): return language
        case .assistant, .instruction: return ""
        }
    }
}
