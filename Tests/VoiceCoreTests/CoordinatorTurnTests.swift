import Testing
@testable import VoiceCore

@Suite struct CoordinatorTurnTests {
    func fleet() -> CoordinatorScript { .oneOfEach() }

    @Test func helloIsAnsweredAndListeningOpensAnASRStream() {
        var t = fleet()
        t.device(1)
        #expect(t.deviceMessages(SessionID(1)).first == .hello)
        #expect(t.hasSubsequence(["session.connected", "session.hello", "session.state from=connecting to=idle",
                                  "session.listen to=start reason=auto", "turn.started turn=1",
                                  "job.queued job_kind=asr", "job.dispatched job_kind=asr worker=w1",
                                  "session.state from=idle to=listening"]))
        // Audio is routed to the stream as it arrives.
        let (job, w) = t.asrJob(1)!
        t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame))
        #expect(t.audioSent(to: w, job: job) == 1920)
    }

    @Test func happyPathTurnDeliversAudioInSegmentOrder() {
        var t = fleet()
        t.device(1)
        t.utter(1, "what's the weather")
        #expect(t.deviceMessages(SessionID(1)).contains(.stt("what's the weather")))
        #expect(t.assistantJob(1) != nil)
        t.answer(1, ["It is sunny today. ", "Tomorrow it will rain. ", "Take an umbrella."])
        let seg1 = t.ttsJob(1, segment: 1)!, seg0 = t.ttsJob(1, segment: 0)!
        // Segment 1 finishes first: its audio waits for segment 0.
        t.feed(.workerAudio(seg1.1, seg1.0, last: false, [UInt8](repeating: 1, count: 480)))
        t.feed(.workerOutput(seg1.1, seg1.0, .segmentDone))
        #expect(t.deviceAudio(SessionID(1)).isEmpty)
        t.feed(.workerAudio(seg0.1, seg0.0, last: false, [UInt8](repeating: 0, count: 480)))
        t.feed(.workerAudio(seg0.1, seg0.0, last: true, [UInt8](repeating: 0, count: 480)))
        let seg2 = t.ttsJob(1, segment: 2)!
        t.feed(.workerAudio(seg2.1, seg2.0, last: true, [UInt8](repeating: 2, count: 480)))
        let audio = t.deviceAudio(SessionID(1))
        #expect(audio.map(\.segment) == [0, 0, 1, 2])
        #expect(audio.map { $0.start != nil } == [true, false, true, true])
        #expect(audio[0].start == "It is sunny today.")
        let messages = t.deviceMessages(SessionID(1))
        #expect(messages.firstIndex(of: .ttsStart)! > messages.firstIndex(of: .stt("what's the weather"))!)
        // tts start precedes the first audio in the effect order.
        let startAt = t.effects.firstIndex { if case .deviceSend(_, .ttsStart) = $0 { return true } else { return false } }!
        let audioAt = t.effects.firstIndex { if case .deviceAudio = $0 { return true } else { return false } }!
        #expect(startAt < audioAt)
        #expect(t.effects.contains { if case let .deviceAudioEnd(_, turn) = $0 { return turn == TurnID(1) } else { return false } })
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.hasSubsequence(["turn.mark turn=1 reason=speech_end", "turn.mark turn=1 reason=asr_final",
                                  "turn.mark turn=1 reason=first_delta", "turn.mark turn=1 reason=first_segment",
                                  "turn.mark turn=1 reason=first_tts_audio", "turn.mark turn=1 reason=first_audio_sent",
                                  "session.state to=speaking", "turn.ended turn=1 reason=done"]))
        #expect(t.c.jobCount == 0)
        #expect(t.c.phase(of: SessionID(1)) == .idle)
        // The latency budget on turn.ended: every stage, summing to the total.
        let timings = t.log.last { $0["kind"]?.stringValue == "turn.ended" }?["timings"]
        let names = timings?.objectValue?.map(\.0) ?? []
        #expect(names == ["asr_us", "assistant_us", "split_us", "tts_us", "send_us", "total_us"])
        let parts = (timings?.objectValue ?? []).dropLast().compactMap { $0.1.int64Value }.reduce(0, +)
        #expect(parts == timings?["total_us"]?.int64Value)
        #expect(timings?["asr_us"]?.int64Value == 100_000)
        // The firmware listens again after tts stop: a new turn.
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        #expect(t.hasSubsequence(["turn.started turn=2", "job.dispatched job_kind=asr"]))
    }

    /// A reply with nothing to say (the script answered nothing, or its text made no audio) still
    /// ends with `tts stop`, without a `tts start`: clients that stop listening while the assistant
    /// answers wait for it.
    @Test func aReplyWithoutAudioEndsWithTTSStopAlone() {
        var t = fleet()
        t.device(1)
        t.utter(1, "never mind")
        let mark = t.effects.count
        t.answer(1, [])
        let messages = t.deviceMessages(SessionID(1), in: Array(t.effects[mark...]))
        #expect(messages == [.ttsStop])
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=silent"]))
        // A sentence whose synthesis made no audio: the same.
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        t.utter(1, "say nothing")
        let second = t.effects.count
        t.answer(1, ["..."])
        t.speakAll(1, chunks: 0)
        #expect(t.deviceMessages(SessionID(1), in: Array(t.effects[second...])) == [.ttsStop])
        #expect(t.hasSubsequence(["turn.ended turn=2 reason=silent"]))
        #expect(t.c.jobs(of: SessionID(1)).allSatisfy { t.c.jobs[$0]?.kind == .asr })
    }

    /// Push-to-talk with nothing heard (released without speaking, or only noise): the device
    /// waits for a reply after `listen stop`, and `tts stop` tells it there is none. An auto-mode
    /// device is still listening, and hears nothing.
    @Test func anEmptyPushToTalkTurnEndsWithTTSStopAndAnAutoOneSilently() {
        for mode in [ListenMode.manual, .auto] {
            var t = fleet()
            t.device(1, mode: mode)
            let (job, w) = t.asrJob(1)!
            let mark = t.effects.count
            if mode == .manual { t.feed(.deviceListen(SessionID(1), .stop)) }
            t.feed(.workerOutput(w, job, .final("", language: nil)))
            t.feed(.workerDone(w, job))
            #expect(t.hasSubsequence(["turn.ended turn=1 reason=empty"]))
            #expect(t.deviceMessages(SessionID(1), in: Array(t.effects[mark...])) == (mode == .manual ? [.ttsStop] : []), "\(mode)")
            #expect(t.assistantJob(1) == nil)
        }
    }

    @Test func firstSegmentIsQueuedAtTopPriority() {
        var t = fleet()
        t.device(1)
        t.utter(1, "hi")
        t.answer(1, ["One. ", "Two. ", "Three."])
        #expect(t.hasSubsequence(["job.queued job_kind=tts reason=first", "job.queued job_kind=tts reason=later",
                                  "job.queued job_kind=tts reason=later"]))
    }

    @Test func manualModeEndsTheUtteranceOnListenStop() {
        var t = fleet()
        t.device(1, mode: .manual)
        let (job, w) = t.asrJob(1)!
        t.feed(.deviceAudio(SessionID(1), CoordinatorScript.frame))
        t.feed(.deviceListen(SessionID(1), .stop))
        #expect(t.last.contains { if case let .workerSend(x, .inputEnd(j), _) = $0 { return x == w && j == job } else { return false } })
        t.feed(.workerOutput(w, job, .final("turn on the light", language: nil)))
        #expect(t.assistantJob(1) != nil)
        // No new utterance in manual mode until the device listens again.
        #expect(t.c.sessions[SessionID(1)]!.utterance == nil)
    }

    @Test func emptyTranscriptEndsTheTurnQuietlyAndKeepsListening() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .final("  ", language: nil)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=empty", "turn.started turn=2"]))
        #expect(t.deviceMessages(SessionID(1)).filter { if case .stt = $0 { return true } else { return false } }.isEmpty)
    }

    @Test func textInputStartsAReplyWithoutSpeech() {
        var t = fleet()
        t.device(1)
        t.feed(.textInput(SessionID(1), "tell me a joke"))
        #expect(t.assistantJob(1) != nil)
        #expect(t.hasSubsequence(["turn.cancelled turn=1", "turn.started turn=2 reason=text", "job.dispatched job_kind=assistant"]))
        if case let .workerSend(_, .job(_, _, _, _, .assistant(text, _, device, _, _, _)), _)? =
            t.effects.last(where: { if case .workerSend(_, .job(_, .assistant, _, _, _), _) = $0 { return true } else { return false } }) {
            #expect(text == "tell me a joke")
            #expect(device == "dev1")
        } else {
            Issue.record("no assistant job dispatched")
        }
    }

    @Test func emojiBecomesAnLLMEmotionMessage() {
        var t = fleet()
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["😊 Hello there, nice to meet you!"])
        #expect(t.deviceMessages(SessionID(1)).contains(.llmEmotion(emoji: "😊", emotion: "happy")))
    }

    @Test func realtimeModeListensWhileSpeakingAndBargeInCancelsTheReply() {
        var t = fleet()
        t.device(1, mode: .realtime)
        t.utter(1, "tell me a story")
        // Realtime: a new utterance (turn 2) opens at once.
        #expect(t.c.sessions[SessionID(1)]!.utterance?.turn == TurnID(2))
        t.answer(1, ["Once upon a time there was a fox. ", "It was clever."], done: false)
        let (tts, tw) = t.ttsJob(1, segment: 0)!
        t.feed(.workerAudio(tw, tts, last: false, [UInt8](repeating: 0, count: 960)))
        #expect(t.c.phase(of: SessionID(1)) == .speaking)
        let (asr2, aw) = t.asrJob(1)!
        let before = t.log.count
        t.feed(.workerOutput(aw, asr2, .speechStart))
        // Speech over the reply pauses its downlink at once and is an interruption once it lasts
        // turn.interrupt_ms (a backchannel would pause before: CoordinatorEndOfTurnTests). The
        // device, playing, is told to drop what it holds (`tts stop` + `tts start`, each marked
        // `pause`), and the host to send that again if the reply resumes.
        let paused = t.last.compactMap { e -> Bool? in if case let .devicePause(_, drops) = e { return drops } else { return nil } }
        #expect(paused == [true])
        #expect(t.deviceMessages(SessionID(1), in: t.last) == [.ttsPauseStop, .ttsPauseStart])
        let wire = t.last.map { WireEncoder.effect($0) }.filter { $0.kind == .devicePause || $0.kind == .deviceSend }
        #expect(wire.map(\.kind) == [.devicePause, .deviceSend, .deviceSend])
        #expect(wire.first?.flags == WireEffect.deviceDrops)
        #expect(wire.dropFirst().map { $0.body ?? "" } == [#"{"type":"tts","state":"stop","pause":true,"session_id":"s1"}"#,
                                                           #"{"type":"tts","state":"start","pause":true,"session_id":"s1"}"#])
        #expect(t.forbids(["turn.cancelled turn=1"], since: before))
        t.advanceMs(1000)
        #expect(t.last.contains { if case .deviceFlush = $0 { return true } else { return false } })
        #expect(t.deviceMessages(SessionID(1), in: t.last) == [.ttsStop])
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before))
        // Every job of turn 1 was cancelled.
        #expect(t.cancelled(in: t.last).contains(tts))
        #expect(t.c.jobs(of: SessionID(1)) == [asr2])
        // Late audio of the cancelled segment is ignored.
        t.feed(.workerAudio(tw, tts, last: false, [UInt8](repeating: 0, count: 960)))
        #expect(t.deviceAudio(SessionID(1), in: t.last).isEmpty)
        #expect(t.count("job.late", since: before) == 1)
    }
}

@Suite struct CoordinatorListenTests {
    @Test func listenStartInAnotherModeReopensAnIdleStream() {
        var t = CoordinatorScript()
        t.worker(1, [.asr])
        t.device(1, mode: .auto)
        let (first, _) = t.asrJob(1)!
        t.feed(.deviceListen(SessionID(1), .start(.manual)))
        let (second, _) = t.asrJob(1)!
        #expect(second != first)
        #expect(t.cancelled(in: t.last) == [first])
        if case let .asr(mode, _, _, _)? = t.c.jobs[second]?.params { #expect(mode == .manual) } else { Issue.record("no asr job") }
        // The same mode again changes nothing.
        t.feed(.deviceListen(SessionID(1), .start(.manual)))
        #expect(t.asrJob(1)?.0 == second)
    }
}
