import Testing
@testable import VoiceCore

@Suite struct EndOfTurnRuleTests {
    let c = TurnTakingConfig()
    let t0 = Instant(us: 10_000_000)

    @Test func openEndingsWaitInEveryLanguage() {
        for text in ["Turn on the kitchen light and", "What is the weather like in", "Включи свет на кухне и",
                     "Mach das Licht in der Küche an und", "请打开厨房的灯和", "明天北京的", "Play some music by,", "Well..."] {
            #expect(TurnText.readsOpen(text), "\(text)")
            #expect(EndOfTurn.deadline(PauseEvidence(since: t0, probability: 0.99, text: text), config: c) == t0 + c.openUs)
        }
    }

    @Test func finishedSentencesAreNotOpen() {
        for text in ["What is the capital of Italy?", "Which ocean is the largest", "Какая сегодня погода?",
                     "Wie spät ist es?", "现在几点了？", "Turn it on."] {
            #expect(!TurnText.readsOpen(text), "\(text)")
        }
        #expect(TurnText.readsFinished("What time is it?"))
        #expect(!TurnText.readsFinished("Which ocean is the largest"))
        #expect(!TurnText.readsFinished("Turn on the light and."))
    }

    @Test func aConfidentModelWithATranscriptEndsAfterTheDebounce() {
        let e = PauseEvidence(since: t0, probability: 0.8, text: "Which ocean is the largest")
        #expect(EndOfTurn.deadline(e, config: c) == t0 + c.minSilenceUs)
        #expect(EndOfTurn.rule(e, config: c) == "model")
        // The model alone (no transcript yet) does not end it early.
        #expect(EndOfTurn.deadline(PauseEvidence(since: t0, probability: 0.99), config: c) == t0 + c.fallbackUs)
        // An unconvinced model waits the fallback even on a finished-looking text.
        #expect(EndOfTurn.deadline(PauseEvidence(since: t0, probability: 0.2, text: "Stop."), config: c) == t0 + c.fallbackUs)
        // No model at all: the text rule.
        #expect(EndOfTurn.deadline(PauseEvidence(since: t0, text: "What time is it?"), config: c) == t0 + c.textUs)
    }

    @Test func backchannelsInEveryLanguage() {
        for text in ["uh-huh", "Yeah.", "Right!", "Mm-hmm.", "yeah, yeah", "嗯", "对。", "Ага.", "угу", "Ja.", "genau", "うん"] {
            #expect(TurnText.isBackchannel(text), "\(text)")
        }
        for text in ["stop", "Wait, what about tomorrow?", "No.", "Yes, turn it off", "", "停"] {
            #expect(!TurnText.isBackchannel(text), "\(text)")
        }
    }

    @Test func configKeys() throws {
        var config = try CoordinatorConfig(json: JSONParser.parse(#"{"turn": {"endpointing": "worker", "min_silence_ms": 100, "threshold": 0.7, "open_ms": 2000, "barge_in_ms": 250}}"#))
        #expect(!config.turn.hubEndpointing && config.turn.minSilenceUs == 100_000 && config.turn.threshold == 0.7)
        #expect(config.turn.openUs == 2_000_000 && config.turn.bargeInUs == 250_000)
        #expect(throws: VCError.self) { try config.apply(json: JSONParser.parse(#"{"turn": {"endpointing": "device"}}"#)) }
        #expect(throws: VCError.self) { try config.apply(json: JSONParser.parse(#"{"turn": {"threshold": 2}}"#)) }
        #expect(throws: VCError.self) { try config.apply(json: JSONParser.parse(#"{"turn": {"nope": 1}}"#)) }
    }
}

@Suite struct CoordinatorEndOfTurnTests {
    func fleet() -> CoordinatorScript { .oneOfEach() }

    func inputEnds(_ t: CoordinatorScript, _ job: JobID) -> Int {
        t.effects.filter { if case let .workerSend(_, .inputEnd(j), _) = $0 { return j == job } else { return false } }.count
    }

    @Test func asrJobsAskForHubEndpointingExceptInManualMode() {
        var t = fleet()
        t.device(1)
        if case let .asr(_, _, _, hub)? = t.c.jobs[t.asrJob(1)!.0]?.params { #expect(hub) } else { Issue.record("no asr job") }
        t.device(2, mode: .manual)
        if case let .asr(_, _, _, hub)? = t.c.jobs[t.asrJob(2)!.0]?.params { #expect(!hub) } else { Issue.record("no asr job") }
    }

    @Test func aConfidentFinishedQuestionEndsAtTheEvidence() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(900)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(100)
        t.feed(.workerOutput(w, job, .turnProbability(0.93)))
        #expect(inputEnds(t, job) == 0)  // the model alone waits for the transcript
        t.advanceMs(60)
        t.feed(.workerOutput(w, job, .speculative("Which ocean is the largest")))
        #expect(inputEnds(t, job) == 1)
        #expect(t.hasSubsequence(["turn.endpoint turn=1 reason=model value=224"]))
        // The worker's final then ends the utterance as usual.
        t.feed(.workerOutput(w, job, .final("Which ocean is the largest", language: nil)))
        #expect(t.deviceMessages(SessionID(1)).contains(.stt("Which ocean is the largest")))
    }

    @Test func theDebounceHoldsAnEarlyVerdict() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 32)))
        t.feed(.workerOutput(w, job, .speculative("Stop.")))
        t.feed(.workerOutput(w, job, .turnProbability(0.9)))
        #expect(inputEnds(t, job) == 0)
        t.advanceMs(117)
        #expect(inputEnds(t, job) == 0)
        t.advanceMs(2)
        #expect(inputEnds(t, job) == 1)
        #expect(t.hasSubsequence(["turn.endpoint reason=model value=150"]))
    }

    @Test func anInnerPauseAfterAnOpenWordIsOneTurn() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.feed(.workerOutput(w, job, .speculative("Turn on the kitchen light and")))
        t.feed(.workerOutput(w, job, .turnProbability(0.98)))
        t.advanceMs(540)  // a 0.6 s pause
        t.feed(.workerOutput(w, job, .resume))
        t.advanceMs(700)
        #expect(inputEnds(t, job) == 0)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.feed(.workerOutput(w, job, .speculative("Turn on the kitchen light and the fan.")))
        t.feed(.workerOutput(w, job, .turnProbability(0.97)))
        t.advanceMs(100)
        #expect(inputEnds(t, job) == 1)
        #expect(t.count("turn.endpoint") == 1)
    }

    @Test func withoutEvidenceTheFallbackEndsIt() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(835)
        #expect(inputEnds(t, job) == 0)
        t.advanceMs(2)
        #expect(inputEnds(t, job) == 1)
        #expect(t.hasSubsequence(["turn.endpoint reason=fallback value=900"]))
    }

    @Test func workerEndpointingLeavesTheDecisionToTheWorker() throws {
        var t = try CoordinatorScript(json: #"{"turn": {"endpointing": "worker"}}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        let (job, w) = t.asrJob(1)!
        if case let .asr(_, _, _, hub)? = t.c.jobs[job]?.params { #expect(!hub) }
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.feed(.workerOutput(w, job, .speculative("What time is it?")))
        t.advanceMs(5000)
        #expect(inputEnds(t, job) == 0)
        #expect(t.count("turn.endpoint") == 0)
    }

    /// A realtime device with a reply playing; returns the new utterance's ASR job.
    func replying(_ t: inout CoordinatorScript) -> (JobID, WorkerID) {
        t.device(1, mode: .realtime)
        t.utter(1, "tell me a story")
        t.answer(1, ["Once upon a time there was a fox. ", "It lived in a wood."])
        t.speakAll(1)
        #expect(t.c.phase(of: SessionID(1)) == .speaking)
        return t.asrJob(1)!
    }

    @Test func aBackchannelNeitherCutsTheReplyNorStartsATurn() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(150)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(200)  // past barge_in_ms, but in a pause: the transcript decides
        t.feed(.workerOutput(w, job, .speculative("Uh-huh.")))
        #expect(t.hasSubsequence(["turn.backchannel turn=2", "turn.started turn=3"], since: before))
        #expect(t.forbids(["turn.cancelled turn=1", "turn.transcript", "preempt.started"], since: before))
        #expect(t.cancelled().contains(job))
        #expect(t.c.phase(of: SessionID(1)) == .speaking)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=done"], since: before))
    }

    @Test func speechPastTheBargeInWindowCutsTheReply() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(199)
        #expect(t.forbids(["turn.cancelled turn=1"], since: before))
        t.advanceMs(1)
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before))
        #expect(t.deviceMessages(SessionID(1)).last == .ttsStop)
    }

    @Test func aShortCommandOverTheReplyCutsIt() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(120)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(150)
        t.feed(.workerOutput(w, job, .speculative("Stop.")))
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before))
        #expect(t.forbids(["turn.backchannel"], since: before))
    }

    @Test func aBackchannelThenMoreSpeechIsAnInterruption() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(100)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(200)
        t.feed(.workerOutput(w, job, .resume))
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before))
    }
}
