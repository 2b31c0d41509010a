import Testing
@testable import VoiceCore

/// Preemptive generation: a reply started on the ASR's speculative transcript is held until the
/// final confirms the text; nothing of a discarded one reaches TTS or the device.
@Suite struct CoordinatorPreemptionTests {
    static let question = "What is the capital of France?"

    func fleet(_ json: String = "{}") -> CoordinatorScript {
        var t = try! CoordinatorScript(json: json)
        t.worker(1, [.asr])
        t.worker(2, [.assistant])
        t.worker(3, [.tts])
        t.device(1)
        return t
    }

    /// Speech, then a pause long enough for the ASR worker to transcribe speculatively.
    func speakAndPause(_ t: inout CoordinatorScript, speculative text: String) {
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        for _ in 0..<3 { t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame)); t.advanceMs(60) }
        t.feed(.workerOutput(w, job, .speculative(text)))
    }

    func endUtterance(_ t: inout CoordinatorScript, final text: String) {
        let (job, w) = t.asrJob(1)!
        t.advanceMs(100)
        t.feed(.workerOutput(w, job, .speechEnd))
        t.advanceMs(50)
        t.feed(.workerOutput(w, job, .final(text, language: "en")))
        t.feed(.workerDone(w, job))
    }

    func heldJob(_ t: CoordinatorScript) -> (JobID, WorkerID)? {
        guard let j = t.c.sessions[SessionID(1)]?.held?.job, let w = t.c.jobs[j]?.worker else { return nil }
        return (j, w)
    }

    func assistantJobs(_ t: CoordinatorScript) -> [(JobID, String, Bool)] {
        t.effects.compactMap {
            if case let .workerSend(_, .job(id, _, _, _, .assistant(text, _, _, preemptive, _, _)), _) = $0 { return (id, text, preemptive) }
            return nil
        }
    }

    func commits(_ t: CoordinatorScript) -> [JobID] {
        t.effects.compactMap { if case let .workerSend(_, .inputCommit(id), _) = $0 { return id } else { return nil } }
    }

    func stts(_ t: CoordinatorScript) -> [String] {
        t.deviceMessages(SessionID(1)).compactMap { if case let .stt(s) = $0 { return s } else { return nil } }
    }

    @Test func sameFinalCommitsTheHeldReplyAndReleasesItsSegmentsInOrder() {
        var t = fleet()
        speakAndPause(&t, speculative: " \(Self.question) ")
        let jobs = assistantJobs(t)
        #expect(jobs.count == 1)
        #expect(jobs.first?.1 == Self.question)
        #expect(jobs.first?.2 == true)
        #expect(t.c.phase(of: SessionID(1)) == .listening)
        let (job, w) = heldJob(t)!
        for d in ["Paris is the capital. ", "It is on the Seine. ", "Visit it."] {
            t.feed(.workerOutput(w, job, .delta(d)))
            t.advanceMs(20)
        }
        // Held: no TTS job, nothing to the device beyond the hello, no stt.
        #expect(t.dispatched(kind: .tts).isEmpty)
        #expect(t.deviceMessages(SessionID(1)) == [.hello])
        #expect(t.deviceAudio(SessionID(1)).isEmpty)
        let before = t.effects.count
        endUtterance(&t, final: Self.question)
        #expect(stts(t) == [Self.question])
        #expect(commits(t) == [job])
        #expect(assistantJobs(t).count == 1)  // the held job became the reply's job: no second call
        #expect(t.assistantJob(1)?.0 == job)
        // The held segments went to TTS at once, in order, after the stt.
        let tts = t.dispatched(kind: .tts, in: Array(t.effects[before...]))
        #expect(tts.count == 2)
        let texts = t.effects.compactMap { e -> String? in
            if case let .workerSend(_, .job(_, .tts, _, _, .tts(text, _, _, _, _)), _) = e { return text } else { return nil }
        }
        #expect(texts == ["Paris is the capital.", "It is on the Seine."])
        #expect(t.hasSubsequence(["preempt.started turn=1", "turn.mark turn=1 reason=speech_end", "turn.mark turn=1 reason=asr_final",
                                  "turn.transcript turn=1", "preempt.committed turn=1", "turn.mark turn=1 reason=first_delta",
                                  "turn.mark turn=1 reason=first_segment", "segment.queued turn=1 value=0",
                                  "segment.queued turn=1 value=1"]))
        // The first text and segment came before the speech end: their marks say so.
        let firstDelta = t.log.first { $0["reason"]?.stringValue == "first_delta" }?["value"]?.int64Value
        #expect(firstDelta.map { $0 < 0 } == true)
        t.feed(.workerOutput(w, job, .delta(" Bye.")))
        t.feed(.workerDone(w, job))
        t.speakAll(1)
        let audio = t.deviceAudio(SessionID(1))
        #expect(audio.map(\.segment) == [0, 0, 1, 1, 2, 2, 3, 3])  // "Visit it." and "Bye." came after the commit
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=done"]))
        let timings = t.log.last { $0["kind"]?.stringValue == "turn.ended" }?["timings"]
        // Measured from the speech end as ever: the first audio went out with the commit, 50 ms later.
        #expect(timings?["total_us"]?.int64Value == 50_000)
        #expect(timings?["asr_us"]?.int64Value == 50_000)
        #expect(timings?["assistant_us"]?.int64Value.map { $0 < 0 } == true)
        #expect(t.c.jobCount == 0)
    }

    @Test func differentFinalDiscardsTheHeldReplyAndAnswersTheFinal() {
        var t = fleet()
        speakAndPause(&t, speculative: "Turn on the light.")
        let (held, w) = heldJob(t)!
        t.feed(.workerOutput(w, held, .delta("Turning on the light. ")))
        t.feed(.workerOutput(w, held, .delta("Done.")))
        endUtterance(&t, final: "Turn on the lights in the kitchen.")
        #expect(t.cancelled().contains(held))
        #expect(t.hasSubsequence(["preempt.started", "preempt.discarded reason=mismatch",
                                  "job.cancelled job=\(held.raw) reason=preempt:mismatch"]))
        let jobs = assistantJobs(t)
        #expect(jobs.count == 2)
        #expect(jobs.last?.1 == "Turn on the lights in the kitchen.")
        #expect(jobs.last?.2 == false)
        #expect(commits(t).isEmpty)
        // Late output of the discarded job is ignored; nothing of it was ever spoken.
        t.feed(.workerOutput(w, held, .delta("Late text.")))
        #expect(t.dispatched(kind: .tts).isEmpty)
        t.answer(1, ["The kitchen lights are on."])
        let texts = t.effects.compactMap { e -> String? in
            if case let .workerSend(_, .job(_, .tts, _, _, .tts(text, _, _, _, _)), _) = e { return text } else { return nil }
        }
        #expect(texts == ["The kitchen lights are on."])
        #expect(stts(t) == ["Turn on the lights in the kitchen."])
    }

    @Test func caseOrPunctuationDifferenceIsAMismatch() {
        var t = fleet()
        speakAndPause(&t, speculative: "what is the time.")
        endUtterance(&t, final: "What is the time?")
        #expect(t.hasSubsequence(["preempt.discarded reason=mismatch"]))
        #expect(assistantJobs(t).map(\.2) == [true, false])
    }

    @Test func speechResumingDiscardsTheHeldReply() {
        var t = fleet()
        speakAndPause(&t, speculative: "Please turn on the lights.")
        let (held, w) = heldJob(t)!
        t.feed(.workerOutput(w, held, .delta("Sure. ")))
        let (asr, aw) = t.asrJob(1)!
        t.feed(.workerOutput(aw, asr, .speculationVoid))
        #expect(t.cancelled().contains(held))
        #expect(t.hasSubsequence(["preempt.discarded reason=void", "job.cancelled reason=preempt:void"]))
        #expect(t.c.heldTurn(of: SessionID(1)) == nil)
        // A later speculation starts a new held reply; a repeated one with the same text does not.
        t.feed(.workerOutput(aw, asr, .speculative("Please turn on the lights in the hall.")))
        t.feed(.workerOutput(aw, asr, .speculative("Please turn on the lights in the hall.")))
        #expect(assistantJobs(t).count == 2)
        // A repeated speech_start (new speech) voids it too.
        t.feed(.workerOutput(aw, asr, .speechStart))
        #expect(t.count("preempt.discarded reason=speech") == 1)
        endUtterance(&t, final: "Please turn on the lights in the hall.")
        #expect(assistantJobs(t).map(\.2) == [true, true, false])
        #expect(t.dispatched(kind: .tts).isEmpty)
    }

    @Test func newerSpeculationWithOtherTextReplacesTheHeldReply() {
        var t = fleet()
        speakAndPause(&t, speculative: "Set a timer.")
        let (first, _) = heldJob(t)!
        let (asr, aw) = t.asrJob(1)!
        t.feed(.workerOutput(aw, asr, .speculative("Set a timer for ten minutes.")))
        #expect(t.cancelled().contains(first))
        #expect(t.hasSubsequence(["preempt.started", "preempt.discarded reason=respeculated", "preempt.started"]))
        let (second, w) = heldJob(t)!
        t.feed(.workerOutput(w, second, .delta("Timer set for ten minutes. ")))
        t.feed(.workerOutput(w, second, .delta("Anything else?")))
        endUtterance(&t, final: "Set a timer for ten minutes.")
        #expect(commits(t) == [second])
        #expect(t.dispatched(kind: .tts).count == 1)
    }

    @Test func aRefinedTranscriptRestartsTheHeldReplyButNotTheEvidence() {
        // Whisper base: the greedy pass "Какая симодия погода" is the pause's evidence, its beam
        // search "Какая сегодня погода?" the final's text; the held reply starts over on the latter.
        var t = fleet()
        speakAndPause(&t, speculative: "Какая симодия погода")
        let (first, _) = heldJob(t)!
        let (asr, aw) = t.asrJob(1)!
        t.feed(.workerOutput(aw, asr, .refined("Какая сегодня погода?")))
        #expect(t.cancelled().contains(first))
        #expect(t.hasSubsequence(["preempt.started", "preempt.discarded reason=respeculated", "preempt.started"]))
        #expect(t.c.sessions[SessionID(1)]?.utterance?.pause?.text == nil)  // no pause evidence came from it
        #expect(assistantJobs(t).map(\.1) == ["Какая симодия погода", "Какая сегодня погода?"])
        // The same refined text again changes nothing; the final confirms it.
        t.feed(.workerOutput(aw, asr, .refined("Какая сегодня погода?")))
        let (second, w) = heldJob(t)!
        t.feed(.workerOutput(w, second, .delta("Сегодня солнечно.")))
        endUtterance(&t, final: "Какая сегодня погода?")
        #expect(commits(t) == [second] && assistantJobs(t).count == 2)
    }

    @Test func aRefinedTranscriptWithoutAHeldReplyStartsNone() {
        var t = fleet()
        let (asr, aw) = t.asrJob(1)!
        t.feed(.workerOutput(aw, asr, .speechStart))
        t.feed(.workerOutput(aw, asr, .refined("Hello there.")))
        #expect(assistantJobs(t).isEmpty && heldJob(t) == nil)
    }

    /// A pass the worker decodes again (`refining`): its `refined` starts the held reply, whatever
    /// its text; without one the final starts an ordinary reply.
    @Test func aRefiningSpeculativeWaitsForItsRefinedText() {
        var t = fleet()
        let (asr, aw) = t.asrJob(1)!
        t.feed(.workerOutput(aw, asr, .speechStart))
        for _ in 0..<3 { t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame)); t.advanceMs(60) }
        t.feed(.workerOutput(aw, asr, .speculative("With social is the largest.", refining: true)))
        #expect(assistantJobs(t).isEmpty && heldJob(t) == nil)
        #expect(t.hasSubsequence(["preempt.deferred reason=refining"]) && t.forbids(["preempt.started"]))
        t.feed(.workerOutput(aw, asr, .refined("Which ocean is the largest?")))
        let (held, w) = heldJob(t)!
        #expect(assistantJobs(t).map(\.1) == ["Which ocean is the largest?"] && assistantJobs(t).map(\.2) == [true])
        t.feed(.workerOutput(aw, asr, .refined("Which ocean is the largest?")))  // again: nothing new
        t.feed(.workerOutput(w, held, .delta("The Pacific.")))
        endUtterance(&t, final: "Which ocean is the largest?")
        #expect(commits(t) == [held] && assistantJobs(t).count == 1)

        var u = fleet()
        let (asr2, aw2) = u.asrJob(1)!
        u.feed(.workerOutput(aw2, asr2, .speechStart))
        for _ in 0..<3 { u.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame)); u.advanceMs(60) }
        u.feed(.workerOutput(aw2, asr2, .speculative("With social is the largest.", refining: true)))
        u.feed(.workerOutput(aw2, asr2, .speculationVoid))  // speech again: that pass's refined never comes
        u.feed(.workerOutput(aw2, asr2, .refined("Which ocean is the largest?")))  // a stray one starts nothing
        #expect(assistantJobs(u).isEmpty)
        endUtterance(&u, final: "Which ocean is the largest?")
        #expect(assistantJobs(u).map(\.2) == [false] && commits(u).isEmpty)
    }

    @Test func disabledPreemptionIgnoresSpeculationExactlyAsBefore() {
        func run(_ json: String, speculate: Bool) -> [String] {
            var t = fleet(json)
            let (job, w) = t.asrJob(1)!
            t.feed(.workerOutput(w, job, .speechStart))
            for _ in 0..<3 { t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame)); t.advanceMs(60) }
            if speculate { t.feed(.workerOutput(w, job, .speculative(Self.question))) }
            endUtterance(&t, final: Self.question)
            t.answer(1, ["Paris. "])
            t.speakAll(1)
            return t.log.map(\.serialized)
        }
        let disabled = run(#"{"preemptive_generation": false}"#, speculate: true)
        #expect(disabled == run(#"{"preemptive_generation": false}"#, speculate: false))
        #expect(disabled == run("{}", speculate: false))
        #expect(!disabled.contains { $0.contains("preempt.") })
        #expect(throws: VCError.self) { try CoordinatorConfig(json: JSONParser.parse(#"{"preemptive_generation": 1}"#)) }
    }

    @Test func assistantFailureDiscardsWithoutRetryAndTheFinalStartsAfresh() {
        var t = fleet()
        speakAndPause(&t, speculative: Self.question)
        let (held, w) = heldJob(t)!
        t.feed(.workerAccepted(w, held))  // an engine error after acceptance, not a refusal
        t.feed(.workerError(w, held, message: "model-error", retryable: true))
        #expect(t.hasSubsequence(["job.failed job=\(held.raw)", "preempt.discarded reason=assistant:model-error"]))
        #expect(!t.log.contains { $0["kind"]?.stringValue == "job.retry" })
        #expect(!t.log.contains { $0["kind"]?.stringValue == "turn.fallback" })
        endUtterance(&t, final: Self.question)
        #expect(assistantJobs(t).map(\.2) == [true, false])
        #expect(t.deviceMessages(SessionID(1)).allSatisfy { if case .alert = $0 { return false } else { return true } })
    }

    @Test func workerLossAndTimeoutDiscard() {
        var t = fleet()
        speakAndPause(&t, speculative: Self.question)
        t.feed(.workerDisconnected(WorkerID(2)))
        #expect(t.hasSubsequence(["preempt.discarded reason=assistant:worker-lost"]))
        t.worker(4, [.assistant])
        let (asr, aw) = t.asrJob(1)!
        t.feed(.workerOutput(aw, asr, .speculative("What is the capital of Spain?")))
        #expect(heldJob(t)?.1 == WorkerID(4))
        t.advanceMs(10_001)  // the assistant's progress deadline
        #expect(t.hasSubsequence(["job.timeout job_kind=assistant", "preempt.discarded reason=assistant:timeout"]))
        #expect(t.c.heldTurn(of: SessionID(1)) == nil)
        #expect(t.dispatched(kind: .tts).isEmpty)
        #expect(stts(t).isEmpty)
    }

    @Test func watchdogDiscardsAHeldReplyThatOutlivesTheReplyTimeout() {
        var t = fleet(#"{"reply_timeout_ms": 2000, "assistant_timeout_ms": 5000}"#)
        speakAndPause(&t, speculative: Self.question)
        let (held, w) = heldJob(t)!
        for _ in 0..<30 { t.feed(.workerOutput(w, held, .delta("la "))); t.advanceMs(100) }
        #expect(t.hasSubsequence(["preempt.discarded reason=reply-timeout", "job.cancelled job=\(held.raw)"]))
        #expect(t.cancelled().contains(held))
    }

    @Test func disconnectAbortAndASRFailureDiscard() {
        var t = fleet()
        speakAndPause(&t, speculative: Self.question)
        let (held, _) = heldJob(t)!
        t.feed(.deviceAbort(SessionID(1), reason: ""))
        #expect(t.hasSubsequence(["preempt.discarded reason=abort", "job.cancelled job=\(held.raw) reason=preempt:abort"]))

        var u = fleet(#"{"max_attempts": 1}"#)
        speakAndPause(&u, speculative: Self.question)
        let (held2, _) = heldJob(u)!
        let (asr, aw) = u.asrJob(1)!
        u.feed(.workerError(aw, asr, message: "engine-crashed", retryable: false))
        #expect(u.hasSubsequence(["preempt.discarded reason=asr:engine-crashed", "turn.fallback"]))
        #expect(u.cancelled().contains(held2))
        // The fallback is spoken; nothing of the held reply is.
        let spoken = u.effects.compactMap { e -> String? in
            if case let .workerSend(_, .job(_, .tts, _, _, .tts(text, _, _, _, _)), _) = e { return text } else { return nil }
        }
        #expect(spoken == [u.c.config.asrFallbackText])

        var v = fleet()
        speakAndPause(&v, speculative: Self.question)
        let (held3, _) = heldJob(v)!
        v.feed(.deviceDisconnected(SessionID(1), reason: ""))
        #expect(v.hasSubsequence(["preempt.discarded reason=disconnected", "session.gone"]))
        #expect(v.cancelled().contains(held3))
        #expect(v.c.jobCount == 0)
    }

    @Test func heldMCPWaitsForTheCommitAndAnEarlyDoneIsKept() {
        func calls(_ t: CoordinatorScript) -> [JSON] {
            t.deviceMessages(SessionID(1)).compactMap { if case let .mcp(p) = $0, p["method"] == "tools/call" { return p } else { return nil } }
        }
        // A device tool call is a side effect: it reaches the device only at the commit.
        var m = try! CoordinatorScript(json: "{}")
        m.worker(1, [.asr])
        m.worker(2, [.assistant])
        m.worker(3, [.tts])
        m.device(1, mcp: true)
        speakAndPause(&m, speculative: "Turn the volume up.")
        let (job, mw) = heldJob(m)!
        m.feed(.workerOutput(mw, job, .mcp(["jsonrpc": "2.0", "method": "tools/call", "id": 1])))
        #expect(calls(m).isEmpty)
        endUtterance(&m, final: "Turn the volume up.")
        #expect(calls(m).count == 1 && calls(m)[0]["id"] == 2)  // after `initialize` (1)
        m.feed(.deviceMCP(SessionID(1), ["jsonrpc": "2.0", "id": 2, "result": ["content": []]]))
        #expect(m.effects.contains { if case let .workerSend(_, .inputMCP(j, p), _) = $0 { return j == job && p["id"] == 1 } else { return false } })

        var t = fleet()
        speakAndPause(&t, speculative: "Turn the volume up.")
        let (held, w) = heldJob(t)!
        t.feed(.workerOutput(w, held, .mcp(["jsonrpc": "2.0", "method": "tools/call", "id": 1])))
        t.feed(.workerOutput(w, held, .delta("Volume up.")))
        t.feed(.workerDone(w, held))  // a worker that does not wait for the commit
        #expect(t.deviceMessages(SessionID(1)) == [.hello])
        endUtterance(&t, final: "Turn the volume up.")
        #expect(commits(t).isEmpty)  // the job is over: nothing to commit
        // Nobody is left to take the call's answer: it is not sent.
        #expect(calls(t).isEmpty && t.hasSubsequence(["mcp.dropped reason=job-ended"]))
        #expect(t.dispatched(kind: .tts).count == 1)
        t.speakAll(1)
        #expect(t.effects.contains { if case .deviceAudioEnd = $0 { return true } else { return false } })
    }

    @Test func aHeldJobStillQueuedAtTheCommitGoesOutAsAnOrdinaryJob() {
        var t = try! CoordinatorScript(json: "{}")
        t.worker(1, [.asr])
        t.worker(3, [.tts])
        t.device(1)
        speakAndPause(&t, speculative: Self.question)
        #expect(t.c.heldTurn(of: SessionID(1)) == TurnID(1))
        #expect(assistantJobs(t).isEmpty)  // no assistant worker yet: queued
        endUtterance(&t, final: Self.question)
        t.worker(2, [.assistant])
        #expect(assistantJobs(t).map(\.2) == [false])
        #expect(t.hasSubsequence(["preempt.committed"]))
        t.answer(1, ["Paris."])
        #expect(t.dispatched(kind: .tts).count == 1)
    }

    @Test func wireDecodingOfTheNewOutputEvents() throws {
        let spec = try WireDecoder.workerMessage(WorkerID(1), WireFields(JSONParser.parse(
            #"{"type":"output","job":3,"event":"speculative","text":"hi."}"#), "worker"))
        guard case .workerOutput(_, _, .speculative("hi.", nil, false)) = spec else { Issue.record("not speculative"); return }
        let tagged = try WireDecoder.workerMessage(WorkerID(1), WireFields(JSONParser.parse(
            #"{"type":"output","job":3,"event":"speculative","text":"hi.","language":"en"}"#), "worker"))
        guard case .workerOutput(_, _, .speculative("hi.", "en", false)) = tagged else { Issue.record("no language"); return }
        let refining = try WireDecoder.workerMessage(WorkerID(1), WireFields(JSONParser.parse(
            #"{"type":"output","job":3,"event":"speculative","text":"hi.","refining":true}"#), "worker"))
        guard case .workerOutput(_, _, .speculative("hi.", nil, true)) = refining else { Issue.record("not refining"); return }
        #expect(throws: VCError.self) {
            try WireDecoder.workerMessage(WorkerID(1), WireFields(JSONParser.parse(
                #"{"type":"output","job":3,"event":"speculative","text":"hi.","refining":"yes"}"#), "worker"))
        }
        let void = try WireDecoder.workerMessage(WorkerID(1), WireFields(JSONParser.parse(
            #"{"type":"output","job":3,"event":"speculation_void"}"#), "worker"))
        guard case .workerOutput(_, _, .speculationVoid) = void else { Issue.record("not speculation_void"); return }
        #expect(throws: VCError.self) {
            try WireDecoder.workerMessage(WorkerID(1), WireFields(JSONParser.parse(#"{"type":"output","job":3,"event":"speculative"}"#), "worker"))
        }
        let commit = WireEncoder.workerMessage(.inputCommit(JobID(7)), worker: WorkerID(1))
        #expect(commit.serialized == #"{"type":"input","job":7,"event":"commit"}"#)
        let plain = WireEncoder.jobParams(.assistant(text: "a", language: "en", deviceID: "d"), session: "s")
        #expect(plain["preemptive"] == nil)
        let held = WireEncoder.jobParams(.assistant(text: "a", language: "en", deviceID: "d", preemptive: true), session: "s")
        #expect(held["preemptive"] == .bool(true))
    }
}
