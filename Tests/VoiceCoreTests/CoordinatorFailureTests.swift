import Testing
@testable import VoiceCore

@Suite struct CoordinatorAbortTests {
    func fleet() -> CoordinatorScript { .oneOfEach() }

    @Test func abortBeforeTheASRFinalCancelsThatTurnForGood() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.deviceAbort(SessionID(1), reason: "wake_word_detected"))
        #expect(t.cancelled(in: t.last) == [job])
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=abort:wake_word_detected", "turn.started turn=2"]))
        // The final arrives late: ignored, no stt, no assistant.
        let before = t.log.count
        t.feed(.workerOutput(w, job, .final("too late", language: nil)))
        #expect(t.rejections == 0)
        #expect(t.count("job.late", since: before) == 1)
        #expect(!t.deviceMessages(SessionID(1)).contains(.stt("too late")))
        #expect(t.dispatched(kind: .assistant).isEmpty)
        #expect(t.forbids(["turn.transcript", "job.queued job_kind=assistant", "turn.mark reason=asr_final"], since: before))
    }

    @Test func abortBeforeTheFirstTokenCancelsTheAssistant() {
        var t = fleet()
        t.device(1)
        t.utter(1, "hello")
        let (job, w) = t.assistantJob(1)!
        t.feed(.deviceAbort(SessionID(1), reason: ""))
        #expect(t.cancelled(in: t.last) == [job])
        #expect(t.deviceMessages(SessionID(1), in: t.last) == [.ttsStop])
        let before = t.log.count
        t.feed(.workerOutput(w, job, .delta("Hello! ")))
        t.feed(.workerDone(w, job))
        #expect(t.dispatched(kind: .tts).isEmpty)
        #expect(t.forbids(["segment.queued", "turn.mark reason=first_delta", "session.state to=speaking"], since: before))
        #expect(t.deviceAudio(SessionID(1)).isEmpty)
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=abort"]))
    }

    @Test func abortWhileSpeakingFlushesAndStopsAtOnce() {
        var t = fleet()
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["First sentence here. ", "Second sentence here."], done: false)
        let (tts, w) = t.ttsJob(1, segment: 0)!
        t.feed(.workerAudio(w, tts, last: false, [UInt8](repeating: 0, count: 960)))
        t.feed(.deviceAbort(SessionID(1), reason: ""))
        let kinds = t.last.compactMap { e -> String? in
            switch e {
            case .deviceFlush: return "flush"
            case .deviceSend(_, .ttsStop): return "stop"
            default: return nil
            }
        }
        #expect(kinds == ["flush", "stop"])
        #expect(t.c.jobs(of: SessionID(1)).allSatisfy { t.c.jobKind($0) == .asr })
        #expect(t.cancelled(in: t.last).count == 2)  // the assistant and the segment being spoken
    }
}

@Suite struct CoordinatorWorkerLossTests {
    @Test func asrWorkerLostMidUtteranceMovesTheStreamWithItsAudio() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(4, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        for _ in 0..<5 { t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame)) }
        t.feed(.workerDisconnected(w))
        let (job2, w2) = t.asrJob(1)!
        #expect(w2 != w)
        #expect(job2 != job)
        #expect(t.audioSent(to: w2, job: job2) == 5 * 1920)
        #expect(t.hasSubsequence(["worker.gone reason=disconnected", "job.failed job_kind=asr reason=worker-lost",
                                  "job.retry job_kind=asr reason=redispatch", "job.dispatched job_kind=asr"]))
        t.feed(.workerOutput(w2, job2, .final("hello", language: nil)))
        #expect(t.assistantJob(1) != nil)
    }

    @Test func asrReplayBufferIsBounded() {
        var t = try! CoordinatorScript(json: #"{"asr_replay_ms": 300}"#)
        t.worker(1, [.asr]); t.worker(4, [.asr])
        t.device(1)
        let (job, w) = t.asrJob(1)!
        for _ in 0..<20 { t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame)) }
        t.feed(.workerDisconnected(w))
        let (job2, w2) = t.asrJob(1)!
        #expect(job2 != job)
        #expect(t.audioSent(to: w2, job: job2) <= 300 * 32)
        #expect(t.audioSent(to: w2, job: job2) >= 4 * 1920)
    }

    @Test func assistantLostBeforeTextIsRetriedOnceElsewhereThenFallsBack() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(5, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        let (a1, w1) = t.assistantJob(1)!
        t.feed(.workerDisconnected(w1))
        let (a2, w2) = t.assistantJob(1)!
        #expect(a2 != a1 && w2 != w1)
        t.feed(.workerAccepted(w2, a2))  // an engine error after acceptance, not a refusal
        t.feed(.workerError(w2, a2, message: "crashed", retryable: true))
        // Second failure before any text: the fallback sentence is spoken.
        #expect(t.assistantJob(1) == nil)
        #expect(t.hasSubsequence(["job.retry job_kind=assistant", "job.failed job_kind=assistant reason=crashed",
                                  "turn.fallback turn=1", "segment.queued turn=1 value=0"]))
        if case let .tts(text, _, _, _, _)? = t.c.jobs[t.ttsJob(1, segment: 0)!.0]?.params {
            #expect(text == CoordinatorConfig().fallbackText)
        } else { Issue.record("no fallback TTS job") }
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=fallback"]))
        #expect(t.c.jobs(of: SessionID(1)).count == 0 || t.c.jobs(of: SessionID(1)).allSatisfy { t.c.jobKind($0) == .asr })
    }

    @Test func assistantLostAfterTextEndsTheTurnWithASpokenFallback() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(5, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Here is the first part. ", "And then"], done: false)
        let (_, w) = t.assistantJob(1)!
        t.feed(.workerDisconnected(w))
        #expect(t.dispatched(kind: .assistant).count == 1)  // no retry after text
        let texts = t.c.sessions[SessionID(1)]!.reply!.segments.map(\.text)
        #expect(texts == ["Here is the first part.", CoordinatorConfig().fallbackText])
        t.speakAll(1)
        #expect(t.effects.contains { if case .deviceAudioEnd = $0 { return true } else { return false } })
    }

    @Test func ttsWorkerLostMidSegmentIsRedispatchedWithoutSendingAudioTwice() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts]); t.worker(6, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["A single sentence to speak."])
        let (j1, w1) = t.ttsJob(1, segment: 0)!
        let pcm = (0..<4000).map { UInt8($0 & 0xFF) }
        t.feed(.workerAudio(w1, j1, last: false, Array(pcm[0..<1000])))
        t.feed(.workerAudio(w1, j1, last: false, Array(pcm[1000..<1600])))
        t.feed(.workerDisconnected(w1))
        let (j2, w2) = t.ttsJob(1, segment: 0)!
        #expect(w2 != w1 && j2 != j1)
        // The replacement synthesizes the same audio from the start: the first 1600 bytes are dropped.
        t.feed(.workerAudio(w2, j2, last: false, Array(pcm[0..<2000])))
        t.feed(.workerAudio(w2, j2, last: true, Array(pcm[2000..<4000])))
        let sent = t.deviceAudio(SessionID(1)).flatMap(\.pcm)
        #expect(sent == pcm)
        #expect(t.deviceAudio(SessionID(1)).filter { $0.start != nil }.count == 1)
    }

    @Test func workerThatMissesHeartbeatsIsGoneAndItsJobsMove() {
        var t = try! CoordinatorScript(json: #"{"heartbeat_ms": 1000, "missed_heartbeats": 3}"#)
        t.worker(1, [.asr]); t.worker(4, [.asr])
        t.device(1)
        let (_, w) = t.asrJob(1)!
        let other = w == WorkerID(1) ? WorkerID(4) : WorkerID(1)
        for _ in 0..<5 {
            t.advanceMs(1000)
            t.feed(.workerHeartbeat(other, load: [:]))
        }
        #expect(t.hasSubsequence(["worker.gone worker=\(w) reason=heartbeat-timeout", "job.dispatched job_kind=asr worker=\(other)"]))
        #expect(t.effects.contains { if case let .workerClose(x, _, _) = $0 { return x == w } else { return false } })
        #expect(t.c.scheduler.worker(other) != nil)
    }

    @Test func deviceLostCancelsAllItsJobsAndLeaksNothing() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1, mode: .realtime)
        t.utter(1, "hello")
        t.answer(1, ["One sentence. ", "Two sentences."], done: false)
        let live = t.c.jobs(of: SessionID(1))
        #expect(live.count == 3)  // the next ASR stream, the assistant, the first TTS segment
        t.feed(.deviceDisconnected(SessionID(1), reason: "network"))
        #expect(Set(t.cancelled(in: t.last)) == Set(live))
        #expect(t.c.jobCount == 0)
        #expect(t.c.sessionCount == 0)
        #expect(t.c.timerCount == t.timers.count)
        #expect(t.c.scheduler.runningCount == 0)
        // Worker timers (heartbeats) are all that is left.
        #expect(t.c.timerCount == 3)
        // Late output of the cancelled jobs is ignored.
        let (_, w) = (live[0], WorkerID(1))
        t.feed(.workerOutput(w, live[0], .partial("x")))
        #expect(t.c.lastRejection == nil)
    }
}

@Suite struct CoordinatorFailOpenTests {
    @Test func noAssistantWithinTheDeadlineSpeaksTheFallback() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.advanceMs(3_100)
        #expect(t.hasSubsequence(["job.timeout job_kind=assistant reason=queue", "turn.fallback turn=1 reason=assistant:no-worker",
                                  "job.dispatched job_kind=tts"]))
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.c.phase(of: SessionID(1)) == .idle)
    }

    @Test func noTTSAtAllShowsAnAlertAndReturnsToListening() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(2, [.assistant])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Hi there, how are you?"])
        t.advanceMs(3_100)
        #expect(t.deviceMessages(SessionID(1)).contains(.alert(status: "error", message: CoordinatorConfig().fallbackText, emotion: "sad")))
        #expect(t.hasSubsequence(["turn.fallback turn=1 reason=tts:no-worker", "turn.ended turn=1 reason=fallback",
                                  "turn.started turn=2"]))
        #expect(t.c.phase(of: SessionID(1)) == .listening)
    }

    @Test func noASRWorkerFailsOpenOnceThenWaitsForOne() {
        var t = CoordinatorScript()
        t.worker(2, [.assistant])
        t.device(1)
        t.advanceMs(3_100)
        #expect(t.deviceMessages(SessionID(1)).contains(.alert(status: "error", message: CoordinatorConfig().asrFallbackText, emotion: "sad")))
        #expect(t.hasSubsequence(["job.timeout job_kind=asr reason=queue", "turn.fallback turn=1 reason=asr:no-worker",
                                  "turn.ended turn=1 reason=fallback"]))
        t.advanceMs(10_000)
        #expect(t.count("turn.fallback") == 1)  // no alert storm
        t.worker(1, [.asr])
        #expect(t.asrJob(1) != nil)
    }

    @Test func ttsFailingEveryAttemptEndsWithAnAlert() {
        var t = try! CoordinatorScript(json: #"{"max_attempts": 2}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Hello there!"])
        let (j1, w) = t.ttsJob(1, segment: 0)!
        t.feed(.workerAccepted(w, j1))  // an engine error after acceptance, not a refusal
        t.feed(.workerError(w, j1, message: "engine", retryable: true))
        #expect(t.hasSubsequence(["job.failed job_kind=tts", "job.retry job_kind=tts reason=backoff"]))
        #expect(t.ttsJob(1, segment: 0) == nil)  // backing off
        t.advanceMs(200)
        let (j2, w2) = t.ttsJob(1, segment: 0)!
        #expect(j2 != j1)
        t.feed(.workerAccepted(w2, j2))  // an engine error after acceptance, not a refusal
        t.feed(.workerError(w2, j2, message: "engine", retryable: true))
        #expect(t.deviceMessages(SessionID(1)).contains { if case .alert = $0 { return true } else { return false } })
        #expect(t.hasSubsequence(["turn.fallback turn=1 reason=tts:engine", "turn.ended turn=1"]))
    }

    @Test func failClosedEndsTheTurnSilently() {
        var t = try! CoordinatorScript(json: #"{"fail_open": false}"#)
        t.worker(1, [.asr]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.advanceMs(3_100)
        #expect(t.dispatched(kind: .tts).isEmpty)
        #expect(t.hasSubsequence(["turn.fallback turn=1", "turn.ended turn=1"]))
    }
}

@Suite struct CoordinatorTimeoutTests {
    @Test func helloTimeoutClosesTheSession() {
        var t = CoordinatorScript()
        t.feed(.deviceConnected(SessionID(1), DeviceInfo()))
        t.advanceMs(10_001)
        #expect(t.effects.contains { if case let .deviceClose(_, code, r) = $0 { return r == "hello-timeout" && code == 1008 } else { return false } })
        t.feed(.deviceDisconnected(SessionID(1), reason: ""))
        #expect(t.c.sessionCount == 0)
    }

    @Test func idleSessionIsClosedAfterTheConfiguredSilence() {
        var t = try! CoordinatorScript(json: #"{"heartbeat_ms": 1000000}"#)
        t.worker(1, [.asr])
        t.device(1)
        for _ in 0..<100 { t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame)); t.advanceMs(1000) }
        #expect(!t.effects.contains { if case .deviceClose = $0 { return true } else { return false } })
        t.advanceMs(25_000)
        #expect(t.hasSubsequence(["session.closed reason=idle", "session.state to=closing"]))
        #expect(t.c.jobCount == 0)
        t.advanceMs(6_000)  // the host never reported the disconnect
        #expect(t.c.sessionCount == 0)
    }

    @Test func hungAssistantTimesOutAndIsRetriedThenFallsBack() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(5, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        for _ in 0..<6 { t.advanceMs(5_000); for w in [1, 2, 3, 5] { t.feed(.workerHeartbeat(WorkerID(UInt64(w)), load: [:])) } }
        #expect(t.hasSubsequence(["job.timeout job_kind=assistant reason=progress", "job.retry job_kind=assistant",
                                  "job.timeout job_kind=assistant reason=progress", "turn.fallback turn=1"]))
    }

    @Test func hungASRAfterSpeechStartTimesOut() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(4, [.asr])
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(10_001)
        #expect(t.hasSubsequence(["job.timeout job_kind=asr reason=progress", "job.retry job_kind=asr reason=backoff"]))
    }

    @Test func missingPlaybackDoneEndsTheTurnAnyway() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Just one sentence."])
        t.speakAll(1)  // 2 × 4800 bytes at 24 kHz = 200 ms
        #expect(t.c.phase(of: SessionID(1)) == .speaking)
        t.advanceMs(5_300)
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=playback-timeout"]))
        #expect(t.c.phase(of: SessionID(1)) == .idle)
    }

    @Test func replyWatchdogBoundsEveryReply() {
        var t = try! CoordinatorScript(json: #"{"reply_timeout_ms": 2000, "assistant_timeout_ms": 60000}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        for _ in 0..<5 {
            let (j, w) = t.assistantJob(1) ?? (JobID(0), WorkerID(0))
            if j.raw != 0 { t.feed(.workerOutput(w, j, .delta("la "))) }
            t.advanceMs(500)
        }
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=reply-timeout"]))
        #expect(t.c.phase(of: SessionID(1)) != .thinking)
    }
}

@Suite struct CoordinatorLimitTests {
    @Test func runawayTTSAudioIsCutOff() {
        var t = try! CoordinatorScript(json: #"{"max_segment_audio_ms": 100, "max_attempts": 1}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Say it forever."])
        let (j, w) = t.ttsJob(1, segment: 0)!
        for _ in 0..<10 { t.feed(.workerAudio(w, j, last: false, [UInt8](repeating: 1, count: 960))) }
        // 100 ms at 24 kHz = 4800 bytes: five chunks pass, the sixth fails the job.
        #expect(t.deviceAudio(SessionID(1)).flatMap(\.pcm).count == 4800)
        #expect(t.hasSubsequence(["job.failed job_kind=tts reason=audio-limit", "turn.fallback turn=1"]))
        #expect(t.c.jobs(of: SessionID(1)).allSatisfy { t.c.jobKind($0) == .asr })
    }
}

@Suite struct CoordinatorRealtimeFailureTests {
    /// The listener that runs during a realtime reply fails before the user said anything: it
    /// ends quietly (`listener-lost`), the reply plays on, and listening reopens after it.
    @Test func asrFailingWhileAnEarlierReplyPlaysLeavesThatReplyAlone() {
        var t = try! CoordinatorScript(json: #"{"max_attempts": 1}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1, mode: .realtime)
        t.utter(1, "hello")
        t.answer(1, ["Hello there my friend."])
        let (next, w) = t.asrJob(1)!
        let mark = t.log.count
        t.feed(.workerError(w, next, message: "asr broke", retryable: false))
        #expect(t.hasSubsequence(["job.failed turn=2", "turn.ended turn=2 reason=listener-lost"], since: mark))
        #expect(t.forbids(["turn.fallback", "turn.cancelled"], since: mark))
        #expect(t.deviceMessages(SessionID(1), in: t.last).isEmpty)  // no alert, no tts stop
        let reply = t.c.sessions[SessionID(1)]!.reply!
        #expect(reply.turn == TurnID(1) && reply.segments.map(\.text) == ["Hello there my friend."])
        #expect(t.asrJob(1) == nil)  // not reopened while the reply is in flight
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=done", "turn.started turn=3 reason=realtime",
                                  "job.dispatched turn=3 job_kind=asr"], since: mark))
    }
}
