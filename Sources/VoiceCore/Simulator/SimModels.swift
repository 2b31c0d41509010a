/// The simulated fleet's members and the content they produce.

/// A device and the scripted user behind it.
struct SimDevice: Sendable {
    enum Phase: Sendable { case asleep, connecting, greeting, idle, listening, waiting, playing }

    var phase = Phase.asleep
    var mode = ListenMode.auto
    /// Bumped on every connection and disconnection: events of an older connection are stale.
    var epoch: UInt32 = 0
    /// Bumped on every step of the user's script: scheduled steps of an older one are stale.
    var serial: UInt32 = 0
    var session: SessionID?
    /// The user is in a conversation and wants the device connected.
    var wantsConnection = false
    var disconnectedSince: Int64 = 0
    /// The last fault that struck the device (a drop, a partition, an outage).
    var struckAt: Int64 = 0
    var backoffUs: Int64 = 0
    var turnsLeft = 0
    var speechFrames = 0
    var leadFrames = 0
    var silenceFrames = 0
    var framesRunning = false
    var bargeIn = false
    /// The link: messages in either direction are held until this time (partition).
    var heldUntil: Int64 = 0
    var lastUp: Int64 = 0
    var lastDown: Int64 = 0
}

/// A job as a simulated worker runs it.
struct SimJob: Sendable {
    var kind: WorkerKind
    var gen: UInt32
    var mode = ListenMode.auto
    /// ASR: the hub ends the utterance (`endpointing: "hub"`) on the evidence this job reports.
    var hubEndpointing = false
    var speech = false
    var silence = 0
    var finished = false
    var step = 0
    var steps = 0
    var samplesSent = 0
    var totalSamples = 0
    var deltas: [String] = []
    var failAt = -1
    var transcript = ""
    /// ASR: a speculative transcript is out and not voided. Assistant: started on one (`preemptive`),
    /// committed by the hub, its answer complete and waiting for the commit.
    var speculated = false
    /// ASR: the speculative transcript out said `refining`; its `refined` (the final's text) is due.
    var refining = false
    /// ASR: a speculative transcript with other words than the final's went out without `refining`:
    /// the hub was told wrong words it had no reason to doubt.
    var misheard = false
    var preemptive = false
    var committed = false
    var awaitingCommit = false
    /// Cancelled by the hub while the worker leaked: it holds its slot and never steps again.
    var leaked = false
    /// The SDK runs a job in a task that sends `accepted` at its first step, after the messages read
    /// with its `job`; `firstStepAt`: when its first output is due (TTS, assistant).
    var started = false
    var firstStepAt: Int64?
}

/// A worker process: fixed kinds or a multi-role GPU box.
struct SimWorker: Sendable {
    var name: String
    var kinds: KindSet
    var roles: KindSet
    var slots: [WorkerKind: Int]
    /// The languages its model really hears (empty: every language); registered as such.
    var languages: Set<String> = []
    /// Whether it is part of the fleet now (spares join later; leavers come back).
    var online: Bool
    var epoch: UInt32 = 0
    var id: WorkerID?
    var registered = false
    var draining = false
    var heartbeatUs: Int64 = 5_000_000
    /// Ordered by job id (a dictionary's order would differ between processes).
    var jobs: [(JobID, SimJob)] = []
    var nextGen: UInt32 = 0
    var hangUntil: Int64 = 0
    var slowUntil: Int64 = 0
    var errorsUntil: Int64 = 0
    var garbageUntil: Int64 = 0
    /// SIGSTOP'd until then: nothing is read, stepped or sent.
    var frozenUntil: Int64 = 0
    var leakUntil: Int64 = 0
    var loseJobsUntil: Int64 = 0
    var heldUntil: Int64 = 0
    var lastUp: Int64 = 0
    var lastDown: Int64 = 0
    var backoffUs: Int64 = 0
    /// The last fault that struck the worker, and when its connection last went away.
    var struckAt: Int64 = 0
    var lostAt: Int64 = 0
    /// Its time away ended while it was still draining: it comes back as soon as it has left.
    var rejoinWhenDrained = false

    func jobIndex(_ id: JobID) -> Int? {
        for i in 0..<jobs.count where jobs[i].0 == id { return i }
        return nil
    }
}

/// Content of the simulated world: transcripts, replies, audio.
enum SimContent {
    static let words = ["the", "weather", "is", "sunny", "today", "and", "tomorrow", "it", "will", "rain", "in",
                        "the", "city", "turn", "on", "lights", "play", "some", "music", "what", "time", "please",
                        "remind", "me", "to", "call", "mom", "at", "five", "a", "clock", "good", "morning"]

    static let backchannels = ["Uh-huh.", "Yeah.", "Mm-hmm", "right", "嗯", "对。", "Ага.", "угу", "Ja.", "genau", "うん"]

    static func sentence(_ rng: inout SimRandom, words n: Int) -> String {
        var s = ""
        for i in 0..<n {
            if i > 0 { s += " " }
            s += words[rng.below(words.count)]
        }
        return s
    }

    /// Audio of a TTS segment: its length follows the text (about 40 ms per byte at 8 kHz).
    static func samples(for text: String) -> Int {
        max(800, text.utf8.count * 320)
    }

    /// One chunk of a segment's audio. Sample i holds i mod 2^16, so the invariant checker can
    /// tell from the bytes alone where in the segment a chunk belongs (duplicates, gaps, order).
    static func pcm(from start: Int, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count * 2) { buf, n in
            let raw = UnsafeMutableRawPointer(buf.baseAddress!)
            let base = UInt16(truncatingIfNeeded: start)
            for i in 0..<count {
                raw.storeBytes(of: (base &+ UInt16(truncatingIfNeeded: i)).littleEndian, toByteOffset: 2 * i, as: UInt16.self)
            }
            n = count * 2
        }
    }

    /// The index (mod 2^16) of the first sample of a chunk.
    static func firstSample(_ pcm: [UInt8]) -> UInt16 {
        pcm.count >= 2 ? UInt16(pcm[0]) | UInt16(pcm[1]) << 8 : 0
    }

    /// Uplink frames (200 ms at 8 kHz): the first byte marks speech, which the simulated ASR hears.
    static let frameUs: Int64 = 200_000
    static let speechFrame = [UInt8](repeating: 1, count: 3200)
    static let silenceFrame = [UInt8](repeating: 0, count: 3200)
}
