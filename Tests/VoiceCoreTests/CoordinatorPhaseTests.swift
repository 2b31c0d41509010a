import Testing
@testable import VoiceCore

/// Every loss at every phase of a turn: a worker of each kind, or the device, vanishes at each
/// point; the turn must still end (normally, or with the fallback), no audio may be sent twice
/// or out of order, and nothing may leak.
@Suite struct CoordinatorPhaseTests {
    enum Phase: String, CaseIterable {
        case listening, hearing, afterFinal, firstDelta, midSegment, betweenSegments, draining
    }

    enum Loss: String, CaseIterable { case asrWorker, assistantWorker, ttsWorker, device }

    /// Two workers of every kind so that re-dispatch has somewhere to go.
    func fleet() -> CoordinatorScript {
        var t = try! CoordinatorScript(json: #"{"heartbeat_ms": 1000000}"#)
        t.worker(1, [.asr]); t.worker(2, [.asr])
        t.worker(3, [.assistant]); t.worker(4, [.assistant])
        t.worker(5, [.tts]); t.worker(6, [.tts])
        return t
    }

    /// Drives the turn up to `phase`.
    func reach(_ phase: Phase, _ t: inout CoordinatorScript) {
        t.device(1)
        if phase == .listening { return }
        let (asr, aw) = t.asrJob(1)!
        t.feed(.workerOutput(aw, asr, .speechStart))
        t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame))
        if phase == .hearing { return }
        t.feed(.workerOutput(aw, asr, .final("tell me two things", language: nil)))
        if phase == .afterFinal { return }
        let (a, w) = t.assistantJob(1)!
        t.feed(.workerOutput(w, a, .delta("First thing is this. ")))
        if phase == .firstDelta { return }
        t.feed(.workerOutput(w, a, .delta("Second thing is that.")))
        t.feed(.workerDone(w, a))
        let (s0, sw) = t.ttsJob(1, segment: 0)!
        t.feed(.workerAudio(sw, s0, last: false, [UInt8](repeating: 1, count: 960)))
        if phase == .midSegment { return }
        t.feed(.workerAudio(sw, s0, last: true, [UInt8](repeating: 1, count: 960)))
        if phase == .betweenSegments { return }
        let (s1, sw1) = t.ttsJob(1, segment: 1)!
        t.feed(.workerAudio(sw1, s1, last: true, [UInt8](repeating: 2, count: 960)))
    }

    /// The worker of `kind` that holds a job of session 1 now (or any worker of the kind).
    func victim(_ kind: WorkerKind, _ t: CoordinatorScript) -> WorkerID {
        for j in t.c.jobs(of: SessionID(1)) where t.c.jobKind(j) == kind {
            if let w = t.c.jobWorker(j) { return w }
        }
        return kind == .asr ? WorkerID(1) : kind == .assistant ? WorkerID(3) : WorkerID(5)
    }

    /// Lets whatever is still running finish normally: the fake workers answer every job.
    func finishEverything(_ t: inout CoordinatorScript) {
        for _ in 0..<20 {
            guard t.c.sessions[SessionID(1)] != nil else { return }
            if let (a, w) = t.assistantJob(1) {
                t.feed(.workerOutput(w, a, .delta("Recovered answer.")))
                t.feed(.workerDone(w, a))
            }
            if let u = t.c.sessions[SessionID(1)]?.utterance, u.speech, let (j, w) = t.asrJob(1) {
                t.feed(.workerOutput(w, j, .final("tell me two things", language: nil)))
            }
            if let r = t.c.sessions[SessionID(1)]?.reply {
                for k in 0..<r.segments.count {
                    if let (j, w) = t.ttsJob(1, segment: k) {
                        t.feed(.workerAudio(w, j, last: true, [UInt8](repeating: UInt8(k + 1), count: 960)))
                    }
                }
                if r.audioEndSent { t.feed(.devicePlaybackDone(SessionID(1), r.turn)) }
            }
            t.advanceMs(200)
        }
    }

    @Test(arguments: Phase.allCases, Loss.allCases)
    func lossAtEveryPhase(_ phase: Phase, _ loss: Loss) {
        var t = fleet()
        reach(phase, &t)
        let deliveredBefore = t.deviceAudio(SessionID(1)).flatMap(\.pcm).count
        switch loss {
        case .asrWorker: t.feed(.workerDisconnected(victim(.asr, t)))
        case .assistantWorker: t.feed(.workerDisconnected(victim(.assistant, t)))
        case .ttsWorker: t.feed(.workerDisconnected(victim(.tts, t)))
        case .device: t.feed(.deviceDisconnected(SessionID(1), reason: "lost"))
        }
        #expect(t.c.lastRejection == nil)
        finishEverything(&t)

        // Audio: in segment order, never more than each segment's audio (no duplicates).
        let audio = t.deviceAudio(SessionID(1))
        #expect(audio.map(\.segment) == audio.map(\.segment).sorted())
        for k in Set(audio.map(\.segment)) {
            let bytes = audio.filter { $0.segment == k }.reduce(0) { $0 + $1.pcm.count }
            #expect(bytes <= 1920, "segment \(k) got \(bytes) bytes")
        }
        #expect(audio.flatMap(\.pcm).count >= deliveredBefore)
        if loss == .device {
            #expect(t.c.sessionCount == 0 && t.c.jobCount == 0 && t.c.scheduler.runningCount == 0)
            if phase != .draining { #expect(t.cancelled().count >= 1) }
        } else {
            // The turn reached an end (done or fallback) or is listening again; never stuck.
            let phaseNow = t.c.phase(of: SessionID(1))
            #expect(phaseNow == .idle || phaseNow == .listening, "stuck in \(String(describing: phaseNow))")
            if phase != .listening && phase != .hearing {
                #expect(t.count("turn.ended turn=1") == 1)
            }
        }
    }
}
