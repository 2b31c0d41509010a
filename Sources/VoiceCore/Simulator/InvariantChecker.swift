/// The invariants, checked continuously against the Coordinator's event log and the effects the
/// host carries out. Each has a stable name (docs/simulator.md); the first violation stops the run.
struct InvariantChecker: Sendable {
    struct Violation: Sendable {
        var invariant: String
        var time: Int64
        var session: SessionID?
        var detail: String
    }

    struct JobInfo: Sendable {
        var kind: WorkerKind
        var session: SessionID
        var priority: Int = -1
        var worker: WorkerID?
        var queued = false
        var running = false
        /// When it last entered the queue.
        var queuedAt: Int64 = 0
        /// Earlier attempts of the same work that ended in an error or timeout, and in a lost worker.
        var errors = 0
        var losses = 0
    }

    struct WorkerInfo: Sendable {
        var kinds = KindSet()
        var running = [0, 0, 0, 0]
        var draining = false
        var ejectedUntil: Int64 = 0
    }

    struct AudioTrack: Sendable {
        var turn: TurnID
        var segment: Int
        var nextSample: Int
    }

    struct FairClass: Sendable {
        var seq: Int64 = 0
        /// Sessions with queued jobs: how many, and the dispatch count when they started waiting.
        var waiting: [SessionID: (count: Int, since: Int64)] = [:]
        /// Each session's last dispatch number in the class.
        var last: [SessionID: Int64] = [:]
    }

    static let names = ["one-terminal-outcome", "no-duplicate-delivery", "no-audio-after-barge-in", "segment-order",
                        "first-segment-priority", "fairness", "worker-slots", "no-dispatch-to-unavailable",
                        "retry-budget", "job-conservation", "no-stuck-turn", "liveness-after-heal", "fail-policy",
                        "ttfa-p99", "preempt-held", "preempt-commit-text", "preempt-discard-cancels",
                        "no-slot-leaked", "health-tells-the-truth", "say-not-over-user",
                        "say-behind-reply", "asr-language-placement", "backchannel-not-cut"] + InvariantViolation.names.filter { $0 != "worker-slots" }

    let config: CoordinatorConfig
    let ttfaBudgetUs: Int64
    let liveness: Bool
    var violation: Violation?
    var now: Int64 = 0
    /// Set by the host: no fault is active and none was for a while (for the latency budget).
    var quiet = false

    var jobs: [JobID: JobInfo] = [:]
    var terminated: [UInt64] = []
    var created: Int64 = 0
    var finished: Int64 = 0
    var workers: [WorkerID: WorkerInfo] = [:]
    /// Slots of every worker connection, filled by the host when it connects.
    var workerSlots: [WorkerID: [WorkerKind: Int]] = [:]
    var queuedFirstTTS = 0
    var fair = [FairClass](repeating: FairClass(), count: 12)
    /// Turns with a reply (transcript, typed text, fallback) and no outcome yet; more than one
    /// only in realtime mode, briefly.
    var openReplies: [SessionID: [(turn: TurnID, since: Int64)]] = [:]
    /// The last turn of each session that heard speech (`speech_start`).
    var heardSpeech: [SessionID: TurnID] = [:]
    /// The turn in which the user talks or is being recognised: speech heard, no outcome yet.
    var userTalking: [SessionID: TurnID] = [:]
    var saysStarted = 0
    var saysDone = 0
    var saysDropped = 0
    /// The attempt counts of the job that just failed, for the retry that follows it.
    var failedChain: (errors: Int, losses: Int, lost: Bool)?
    /// The counts a redispatched job carries into its `job.queued`.
    var retryChain: (errors: Int, losses: Int)?
    var lastTranscript: [SessionID: TurnID] = [:]
    var lastTranscriptText: [SessionID: (turn: TurnID, text: String)] = [:]
    /// Each session's held (preemptive, uncommitted) reply.
    var held: [SessionID: (turn: TurnID, text: String)] = [:]
    /// Jobs of replies discarded in this batch: each must be terminated by its end.
    var discardedJobs: [JobID] = []
    var pausedSessions: Set<SessionID> = []
    /// Sessions whose pause told the device to drop what it holds, and how much of the pause
    /// pair has followed in this step (0: `tts stop` is next, 1: `tts start`).
    var dropPairs: [SessionID: Int] = [:]
    /// Pauses whose device was told to drop what it held (their pair complete).
    var devicesDropped = 0
    var preemptsStarted = 0
    var backchannels = 0
    var resumes = 0
    var preemptsCommitted = 0
    var preemptsDeferred = 0
    var segmentSamples: [SessionID: (turn: TurnID, samples: [Int])] = [:]
    var tracks: [SessionID: AudioTrack] = [:]
    var batchFallbacks: [SessionID] = []
    var batchAnswers: [SessionID] = []
    var recent = [LogEntry?](repeating: nil, count: 512)
    var recentNext = 0

    // Outcomes for the report.
    var ttfa: [Int64] = []
    var ttfaQuiet: [Int64] = []
    var turnsCompleted = 0
    var turnsFallback = 0
    /// Turns refused by a budget (their refusal was spoken).
    var turnsRefused = 0
    var turnsCancelled = 0
    var turnsTimedOut = 0
    var turnsEmpty = 0
    var rejectedInputs = 0
    var checkpoints = 0

    init(config: CoordinatorConfig, options: SimOptions) {
        self.config = config
        ttfaBudgetUs = options.ttfaBudgetUs
        liveness = options.liveness
    }

    mutating func fail(_ invariant: String, _ session: SessionID?, _ detail: String) {
        guard violation == nil else { return }
        violation = Violation(invariant: invariant, time: now, session: session, detail: detail)
    }

    // MARK: the event log

    mutating func observe(_ e: LogEntry, playback: [SessionID: Simulation.HostPlayback], open: [SessionID: Int]) {
        now = e.time.us
        recent[recentNext] = e
        recentNext = (recentNext + 1) & (recent.count - 1)
        switch e.kind {
        case .jobQueued:
            guard let id = e.job, let kind = e.jobKind, let s = e.session else { return }
            let attempt = Int(e.value ?? 1)
            var info = jobs[id] ?? JobInfo(kind: kind, session: s)
            if jobs[id] == nil {
                if isTerminated(id) { return fail("one-terminal-outcome", s, "job \(id) queued after its outcome") }
                created += 1
                if let chain = retryChain { (info.errors, info.losses) = chain }
            }
            retryChain = nil
            if kind == .assistant {
                if attempt > 1 + config.assistantRetries {
                    fail("retry-budget", s, "assistant job \(id) queued as attempt \(attempt) > \(1 + config.assistantRetries)")
                }
            } else if attempt != 1 + info.errors + info.losses {
                fail("retry-budget", s, "job \(id) of kind \(kind) queued as attempt \(attempt) after \(info.errors) failed and \(info.losses) lost attempt(s)")
            }
            info.priority = e.reason == "first" ? 0 : e.reason == "later" ? 1 : 2
            info.queued = true
            info.queuedAt = e.time.us
            jobs[id] = info
            if kind == .tts && info.priority == 0 { queuedFirstTTS += 1 }
            startWaiting(info)
        case .jobRetry:
            // ASR and TTS: the next attempt of the job that just failed, at once after a lost
            // worker (at most `max_redispatches` times), after a backoff after an error or timeout
            // (attempts ending in errors at most `max_attempts`).
            guard e.reason == "backoff" || e.reason == "redispatch", let id = e.job, let kind = e.jobKind, let s = e.session
            else { return }
            guard let f = failedChain else { return fail("retry-budget", s, "job \(id) retried with no failed attempt before it") }
            failedChain = nil
            let chain = f.lost ? (f.errors, f.losses + 1) : (f.errors + 1, f.losses)
            if e.reason == "redispatch" && !f.lost { fail("retry-budget", s, "job \(id) redispatched at once after an error") }
            if chain.1 > config.maxRedispatches {
                fail("retry-budget", s, "\(kind) work moved \(chain.1) times after lost workers > max_redispatches \(config.maxRedispatches)")
            }
            if chain.0 + 1 > config.maxAttempts {
                fail("retry-budget", s, "\(kind) job \(id) is attempt \(chain.0 + 1) after errors > max_attempts \(config.maxAttempts)")
            }
            if e.reason == "redispatch" {
                retryChain = chain
            } else if jobs[id] == nil {
                // A backoff retry creates the next attempt's id before it is queued.
                created += 1
                var info = JobInfo(kind: kind, session: s)
                (info.errors, info.losses) = chain
                jobs[id] = info
            }
        case .jobDispatched:
            guard let id = e.job, let w = e.worker, var info = jobs[id] else {
                return fail("one-terminal-outcome", e.session, "dispatch of unknown job \(e.job?.raw ?? 0)")
            }
            dispatched(id, &info, to: w)
        case .jobFailed:
            if let id = e.job, let info = jobs[id] {
                failedChain = (info.errors, info.losses, e.reason == "worker-lost" || e.reason == "job-missing")
            }
            terminal(e)
        case .jobRefused:
            // Not an outcome: the worker never accepted the job; it is queued again (same id).
            guard let id = e.job, var info = jobs[id], info.running else {
                return fail("one-terminal-outcome", e.session, "refusal of job \(e.job?.raw ?? 0), which is not running")
            }
            if let w = info.worker { workers[w]?.running[info.kind.rawValue] -= 1 }
            info.running = false
            info.worker = nil
            jobs[id] = info
        case .jobDone, .jobCancelled:
            terminal(e)
        case .jobTimeout:
            if e.reason == "queue" { terminal(e) }
        case .workerRegistered:
            guard let w = e.worker else { return }
            var info = WorkerInfo()
            info.kinds = Self.kinds(e.to)
            workers[w] = info
        case .workerRoles:
            guard let w = e.worker else { return }
            workers[w]?.kinds = Self.kinds(e.to)
        case .workerDraining:
            if let w = e.worker { workers[w]?.draining = true }
        case .workerEjected:
            if let w = e.worker { workers[w]?.ejectedUntil = now + (e.value ?? 0) }
        case .workerGone:
            if let w = e.worker { workers[w] = nil; workerSlots[w] = nil }
        case .turnTranscript:
            if let s = e.session, let t = e.turn, userTalking[s] == t { userTalking[s] = nil }
            guard let s = e.session, let t = e.turn else { return }
            if let last = lastTranscript[s], last >= t {
                fail("no-duplicate-delivery", s, "transcript of turn \(t) sent after that of turn \(last)")
            }
            lastTranscript[s] = t
            lastTranscriptText[s] = (t, e.text ?? "")
            openReply(s, t)
        case .turnStarted:
            if e.reason == "text" || e.reason == "say", let s = e.session, let t = e.turn { openReply(s, t) }
        case .turnFallback:
            guard let s = e.session, let t = e.turn else { return }
            if userTalking[s] == t { userTalking[s] = nil }
            turnsFallback += 1
            batchFallbacks.append(s)
            openReply(s, t)
        case .turnEnded:
            if let s = e.session, let t = e.turn, userTalking[s] == t { userTalking[s] = nil }
            guard let s = e.session, let t = e.turn else { return }
            if e.reason == "listener-lost" {
                // Only a listener that heard nothing may end without a fallback, and only while
                // another turn's reply is in flight (that reply is not cut for it).
                if heardSpeech[s] == t { fail("fail-policy", s, "turn \(t) heard speech but ended as listener-lost, without a fallback") }
                if !(openReplies[s] ?? []).contains(where: { $0.turn != t }) {
                    fail("fail-policy", s, "turn \(t) ended as listener-lost with no other reply in flight")
                }
            }
            switch e.reason {
            case "done": turnsCompleted += 1
            case "playback-timeout": turnsTimedOut += 1
            case "empty": turnsEmpty += 1
            case "refused": turnsRefused += 1
            default: break
            }
            closeTurn(s, t)
        case .turnCancelled:
            if let s = e.session, let t = e.turn, userTalking[s] == t {
                // Only a listening stream that heard nothing may give way to a say.
                if e.reason == "say" { fail("say-not-over-user", s, "a say cancelled turn \(t), which had heard the user speak") }
                userTalking[s] = nil
            }
            guard let s = e.session, let t = e.turn else { return }
            if e.reason == "reply-timeout" { turnsTimedOut += 1 } else if isOpen(s, t) { turnsCancelled += 1 }
            closeTurn(s, t)
            // The device must not keep playing a cancelled turn (barge-in, abort) beyond the budget.
            if open[s] != nil, let p = playback[s], p.turn == t, p.playEnd > now + Self.flushBudgetUs {
                fail("no-audio-after-barge-in", s, "turn \(t) cancelled (\(e.reason ?? "")) but \((p.playEnd - now) / 1000) ms of its audio still play")
            }
        case .turnMark:
            if e.reason == "speech_start", let s = e.session, let t = e.turn { heardSpeech[s] = t; userTalking[s] = t }
            if e.reason == "first_audio_sent", let v = e.value {
                ttfa.append(v)
                if quiet { ttfaQuiet.append(v) }
            }
        case .turnBackchannel:
            backchannels += 1
        case .turnResumed:
            resumes += 1
        case .preemptStarted:
            guard let s = e.session, let t = e.turn else { return }
            if let h = held[s] { fail("preempt-held", s, "turn \(t) held while turn \(h.turn)'s held reply was neither committed nor discarded") }
            held[s] = (t, e.text ?? "")
            preemptsStarted += 1
        case .preemptCommitted:
            guard let s = e.session, let t = e.turn else { return }
            guard let h = held[s], h.turn == t else { return fail("preempt-held", s, "turn \(t) committed with no held reply") }
            if let final = lastTranscriptText[s], final.turn == t, final.text != h.text {
                fail("preempt-commit-text", s, "turn \(t) committed a reply to \"\(h.text)\" for the final \"\(final.text)\"")
            } else if lastTranscriptText[s]?.turn != t {
                fail("preempt-commit-text", s, "turn \(t) committed before its final transcript")
            }
            held[s] = nil
            preemptsCommitted += 1
        case .preemptDeferred:
            preemptsDeferred += 1
        case .preemptDiscarded:
            guard let s = e.session else { return }
            held[s] = nil
            if let j = e.job, !isTerminated(j) { discardedJobs.append(j) }
        case .segmentQueued:
            guard let s = e.session, let t = e.turn, let k = e.value else { return }
            if let h = held[s], h.turn == t { return fail("preempt-held", s, "segment \(k) of turn \(t) queued for TTS before its commit") }
            var entry = segmentSamples[s] ?? (t, [])
            if entry.turn != t { entry = (t, []) }
            if Int(k) != entry.samples.count { fail("segment-order", s, "segment \(k) of turn \(t) queued after \(entry.samples.count) segments") }
            entry.samples.append(SimContent.samples(for: e.text ?? ""))
            segmentSamples[s] = entry
            if e.text == config.fallbackText || e.text == config.asrFallbackText { batchAnswers.append(s) }
        case .sayStarted:
            guard let s = e.session, let t = e.turn else { return }
            saysStarted += 1
            if let u = userTalking[s] { fail("say-not-over-user", s, "say \(e.value ?? 0) started as turn \(t) while the user's turn \(u) was heard") }
            if let other = openReplies[s]?.first(where: { $0.turn != t }) {
                fail("say-behind-reply", s, "say \(e.value ?? 0) started as turn \(t) while turn \(other.turn)'s reply was in flight")
            }
        case .sayDone:
            saysDone += 1
        case .sayDropped:
            saysDropped += 1
        case .turnBackchannel:
            if let s = e.session, let t = e.turn, userTalking[s] == t { userTalking[s] = nil }
        case .sessionGone:
            guard let s = e.session else { return }
            userTalking[s] = nil
            if let h = held[s] { fail("preempt-held", s, "session gone with turn \(h.turn)'s held reply not discarded") }
            lastTranscriptText[s] = nil
            openReplies[s] = nil
            heardSpeech[s] = nil
            for c in 0..<fair.count { fair[c].last[s] = nil }
            lastTranscript[s] = nil
            segmentSamples[s] = nil
            tracks[s] = nil
        case .inputRejected:
            rejectedInputs += 1
        default:
            break
        }
    }

    static let flushBudgetUs: Int64 = 100_000

    static func kinds(_ names: String?) -> KindSet {
        var set = KindSet()
        for n in (names ?? "").split(separator: ",") { if let k = WorkerKind(name: String(n)) { set.insert(k) } }
        return set
    }

    private mutating func openReply(_ s: SessionID, _ t: TurnID) {
        if !isOpen(s, t) { openReplies[s, default: []].append((t, now)) }
    }

    private func isOpen(_ s: SessionID, _ t: TurnID) -> Bool {
        openReplies[s]?.contains { $0.turn == t } ?? false
    }

    private mutating func closeTurn(_ s: SessionID, _ t: TurnID) {
        guard var open = openReplies[s] else { return }
        open.removeAll { $0.turn == t }
        openReplies[s] = open.isEmpty ? nil : open
    }

    /// How long the longest-waiting queued job of a kind has waited, if any waits.
    func longestWait(_ kind: WorkerKind) -> Int64? {
        var longest: Int64?
        for (_, info) in jobs where info.queued && info.kind == kind {
            longest = max(longest ?? 0, now - info.queuedAt)
        }
        return longest
    }

    private func isTerminated(_ id: JobID) -> Bool {
        let i = Int(id.raw >> 6)
        return i < terminated.count && terminated[i] & (1 << (id.raw & 63)) != 0
    }

    private mutating func terminal(_ e: LogEntry) {
        guard let id = e.job else { return }
        if isTerminated(id) { return fail("one-terminal-outcome", e.session, "job \(id) had a second outcome: \(e.kind.name)") }
        guard let info = jobs.removeValue(forKey: id) else {
            return fail("one-terminal-outcome", e.session, "outcome \(e.kind.name) for job \(id) that was never queued")
        }
        let i = Int(id.raw >> 6)
        if i >= terminated.count { terminated.append(contentsOf: repeatElement(0, count: i + 1 - terminated.count + 1024)) }
        terminated[i] |= 1 << (id.raw & 63)
        finished += 1
        if info.queued { stopWaiting(info) }
        if info.running, let w = info.worker { workers[w]?.running[info.kind.rawValue] -= 1 }
    }

    private mutating func dispatched(_ id: JobID, _ info: inout JobInfo, to w: WorkerID) {
        let k = info.kind.rawValue
        if info.queued { stopWaiting(info) } else { fail("one-terminal-outcome", info.session, "job \(id) dispatched while not queued") }
        // The first segment never waits while a later one is dispatched.
        if info.kind == .tts && info.priority == 1 && queuedFirstTTS > 0 {
            fail("first-segment-priority", info.session, "a later TTS segment (job \(id)) went to \(w) while \(queuedFirstTTS) first segment(s) waited")
        }
        fairnessCheck(info)
        info.queued = false
        info.running = true
        info.worker = w
        jobs[id] = info
        guard var wi = workers[w] else { return fail("no-dispatch-to-unavailable", info.session, "job \(id) dispatched to \(w), which is not registered") }
        if wi.draining { fail("no-dispatch-to-unavailable", info.session, "job \(id) dispatched to draining worker \(w)") }
        if !wi.kinds.contains(info.kind) { fail("no-dispatch-to-unavailable", info.session, "\(info.kind) job \(id) dispatched to \(w), which serves \(wi.kinds.names)") }
        if wi.ejectedUntil > now {
            for (other, o) in workers where other != w && o.kinds.contains(info.kind) && !o.draining && o.ejectedUntil <= now {
                fail("no-dispatch-to-unavailable", info.session, "job \(id) dispatched to ejected worker \(w) while \(other) was healthy")
                break
            }
        }
        wi.running[k] += 1
        let slots = workerSlots[w]?[info.kind] ?? 1
        if wi.running[k] > slots { fail("worker-slots", info.session, "worker \(w) runs \(wi.running[k]) \(info.kind) jobs with \(slots) slots") }
        workers[w] = wi
    }

    // MARK: fairness
    // The Scheduler's FairQueue serves a (kind, priority) class round robin over sessions: a
    // session that becomes waiting joins the ring behind the others, and one that was served goes
    // back behind every session still waiting. So between the moment a session starts waiting in a
    // class (or its previous dispatch there, while more of its jobs wait) and its next dispatch
    // there, no other session is dispatched twice in that class.

    private func classIndex(_ info: JobInfo) -> Int { info.kind.rawValue * 3 + max(0, info.priority) }

    private mutating func startWaiting(_ info: JobInfo) {
        let c = classIndex(info)
        if let w = fair[c].waiting[info.session] {
            fair[c].waiting[info.session] = (w.count + 1, w.since)
        } else {
            fair[c].waiting[info.session] = (1, fair[c].seq)
        }
    }

    private mutating func stopWaiting(_ info: JobInfo) {
        let c = classIndex(info)
        if info.kind == .tts && info.priority == 0 { queuedFirstTTS -= 1 }
        guard let w = fair[c].waiting[info.session] else { return }
        fair[c].waiting[info.session] = w.count <= 1 ? nil : (w.count - 1, w.since)
    }

    private mutating func fairnessCheck(_ info: JobInfo) {
        let c = classIndex(info)
        fair[c].seq += 1
        let seq = fair[c].seq
        // The session's previous dispatch in the class; a second one overtakes anyone who was
        // already waiting before it.
        if let previous = fair[c].last[info.session] {
            var starved: SessionID?
            for (b, w) in fair[c].waiting where b != info.session && previous > w.since {
                if starved == nil || b < starved! { starved = b }
            }
            if let b = starved {
                fail("fairness", b, "session \(b) waits for a \(info.kind) job (priority class \(info.priority)) while \(info.session) got its second dispatch since it started waiting")
            }
        }
        fair[c].last[info.session] = seq
        if let w = fair[c].waiting[info.session] { fair[c].waiting[info.session] = (w.count, seq) }
    }

    // MARK: effects the host carries out

    mutating func deviceSend(_ s: SessionID, _ message: DeviceMessage) {
        if case .alert = message { batchAnswers.append(s) }
        switch message {
        case .ttsPauseStop where dropPairs[s] == 0: dropPairs[s] = 1
        case .ttsPauseStart where dropPairs[s] == 1:
            dropPairs[s] = nil
            devicesDropped += 1
        case .ttsPauseStop, .ttsPauseStart:
            fail("pause-resume-paired", s, "\(message) without the device.pause that tells the device to drop what it holds")
        default:
            if dropPairs[s] != nil { fail("pause-resume-paired", s, "\(message) inside a pause's tts stop + start") }
        }
    }

    mutating func deviceAudio(_ s: SessionID, turn: TurnID, segment k: Int, _ pcm: [UInt8], now: Int64) {
        self.now = now
        if let h = held[s], h.turn == turn { return fail("preempt-held", s, "audio of turn \(turn) sent before its commit") }
        if !isOpen(s, turn) {
            return fail("no-audio-after-barge-in", s, "audio of turn \(turn) sent, which has no reply in flight (cancelled or ended)")
        }
        let samples = pcm.count / 2
        let first = Int(SimContent.firstSample(pcm))
        guard let expected = segmentSamples[s], expected.turn == turn, k < expected.samples.count else {
            return fail("segment-order", s, "audio of turn \(turn) segment \(k) that was never queued")
        }
        var track = tracks[s] ?? AudioTrack(turn: turn, segment: 0, nextSample: 0)
        if track.turn != turn { track = AudioTrack(turn: turn, segment: 0, nextSample: 0) }
        if k != track.segment {
            if k < track.segment { return fail("segment-order", s, "turn \(turn): segment \(k) audio after segment \(track.segment)") }
            if k > track.segment + 1 || track.nextSample != expected.samples[track.segment] {
                return fail("segment-order", s, "turn \(turn): segment \(k) started after \(track.nextSample)/\(expected.samples[track.segment]) samples of segment \(track.segment)")
            }
            track = AudioTrack(turn: turn, segment: k, nextSample: 0)
        } else if track.nextSample == 0 && k > 0 {
            // (first audio of the turn is of segment k > 0 only if earlier segments were silent)
        }
        let want = track.nextSample & 0xFFFF
        if first != want {
            let back = (want - first) & 0xFFFF
            if back > 0 && back < 0x8000 {
                return fail("no-duplicate-delivery", s, "turn \(turn) segment \(k): audio from sample \(track.nextSample - back) sent again (expected sample \(track.nextSample))")
            }
            return fail("segment-order", s, "turn \(turn) segment \(k): gap, chunk starts at sample \(first) mod 65536, expected \(track.nextSample)")
        }
        track.nextSample += samples
        if track.nextSample > expected.samples[k] {
            return fail("no-duplicate-delivery", s, "turn \(turn) segment \(k): \(track.nextSample) samples sent of \(expected.samples[k])")
        }
        tracks[s] = track
    }

    mutating func deviceFlush(_ s: SessionID) { pausedSessions.remove(s) }

    /// `device.pause` / `device.resume` come in pairs: a session is never paused twice, and a
    /// resume follows a pause (a flush ends a pause too). A pause that tells the device to drop
    /// what it holds is followed in the same step by `tts stop` and `tts start` marked `pause`,
    /// and those are sent only then.
    mutating func devicePause(_ s: SessionID, deviceDrops: Bool) {
        if !pausedSessions.insert(s).inserted { fail("pause-resume-paired", s, "device.pause while already paused") }
        if deviceDrops { dropPairs[s] = 0 }
    }

    mutating func deviceResume(_ s: SessionID) {
        if pausedSessions.remove(s) == nil { fail("pause-resume-paired", s, "device.resume without a pause") }
    }

    /// After each Coordinator step: the fail-open / fail-closed policy held for it.
    mutating func endBatch() {
        for s in dropPairs.keys.sorted() {
            fail("pause-resume-paired", s, "a device.pause that drops without its tts stop + start")
        }
        dropPairs.removeAll(keepingCapacity: true)
        for j in discardedJobs where !isTerminated(j) {
            fail("preempt-discard-cancels", jobs[j]?.session, "job \(j) of a discarded held reply was not cancelled")
        }
        discardedJobs.removeAll(keepingCapacity: true)
        failedChain = nil
        retryChain = nil
        if !batchFallbacks.isEmpty || !batchAnswers.isEmpty {
            if config.failOpen {
                for s in batchFallbacks where !batchAnswers.contains(s) {
                    fail("fail-policy", s, "fail-open: a turn failed without a spoken or displayed fallback")
                }
            } else if let s = batchAnswers.first {
                fail("fail-policy", s, "fail-closed: a fallback was spoken or displayed")
            }
            batchFallbacks.removeAll(keepingCapacity: true)
            batchAnswers.removeAll(keepingCapacity: true)
        }
    }

    // MARK: periodic and final checks

    /// The open turn (the lowest session, then turn) that was already open at `time`.
    func oldestOpenTurn(openedBy time: Int64) -> (SessionID, TurnID)? {
        var found: (SessionID, TurnID)?
        for (s, open) in openReplies {
            for r in open where r.since <= time {
                if found == nil || (s, r.turn) < (found!.0, found!.1) { found = (s, r.turn) }
            }
        }
        return found
    }

    mutating func checkpoint(now: Int64, coordinator: Coordinator) {
        self.now = now
        checkpoints += 1
        if created - finished != Int64(coordinator.jobCount) {
            fail("job-conservation", nil, "queued \(created) = finished \(finished) + live \(created - finished), but the Coordinator holds \(coordinator.jobCount) jobs")
        }
        // The Coordinator's own invariants (Coordinator+Invariants.swift), reported instead of trapping.
        if let v = coordinator.checkInvariants() { fail(v.invariant, v.session, v.detail) }
        let bound = config.replyTimeoutUs + 2_000_000
        // Every turn with a reply reaches an outcome in time, whatever the session's phase.
        var stuck: (s: SessionID, turn: TurnID, since: Int64)?
        for (s, open) in openReplies {
            for r in open where now - r.since > bound {
                if stuck == nil || (s, r.turn) < (stuck!.s, stuck!.turn) { stuck = (s, r.turn, r.since) }
            }
        }
        if let (s, turn, since) = stuck {
            let r = (turn: turn, since: since)
            let phase = coordinator.phase(of: s)?.description ?? "gone"
            fail("no-stuck-turn", s, "turn \(r.turn) open for \((now - r.since) / 1000) ms (> \(bound / 1000) ms), session \(phase)")
        }
    }

    /// The latency budget in fault-free windows.
    mutating func checkLatency() {
        guard ttfaQuiet.count >= 100 else { return }
        let p99 = Self.percentile(ttfaQuiet, 0.99)
        if p99 > ttfaBudgetUs {
            fail("ttfa-p99", nil, "p99 time to first audio in fault-free windows is \(p99 / 1000) ms > \(ttfaBudgetUs / 1000) ms")
        }
    }

    static func percentile(_ values: [Int64], _ q: Double) -> Int64 {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))]
    }

    /// The last log entries (of one session, or all), oldest first.
    func lastEvents(_ s: SessionID?, _ n: Int) -> [LogEntry] {
        var out: [LogEntry] = []
        var i = recentNext
        for _ in 0..<recent.count {
            i = (i - 1) & (recent.count - 1)
            guard let e = recent[i] else { break }
            if s == nil || e.session == s { out.append(e) }
            if out.count >= n { break }
        }
        return out.reversed()
    }
}

extension Simulation {
    /// End-of-run checks: the periodic ones once more, the latency budget, and in liveness mode
    /// that everything healed.
    func finishChecks() {
        checker.checkpoint(now: now, coordinator: coordinator)
        checker.checkLatency()
        guard options.liveness, checker.violation == nil, activeFaults == 0 else { return }
        let bound: Int64 = 120_000_000
        guard now - lastFaultAt > bound else { return }
        for i in 0..<devices.count where devices[i].wantsConnection && devices[i].session == nil && now - devices[i].disconnectedSince > bound {
            checker.fail("liveness-after-heal", nil, "dev-\(i) still not reconnected \((now - lastFaultAt) / 1000) ms after the last fault")
            return
        }
        for i in 0..<workers.count where workers[i].online && !workers[i].registered {
            checker.fail("liveness-after-heal", nil, "worker \(workers[i].name) not registered \((now - lastFaultAt) / 1000) ms after the last fault")
            return
        }
    }
}
