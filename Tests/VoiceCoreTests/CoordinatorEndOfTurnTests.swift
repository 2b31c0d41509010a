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
        // A German verb particle ending a command (Whisper base: "Mach das Licht in der Küche aus.")
        // finishes it; without final punctuation, or after an ellipsis, the sentence stays open.
        for text in ["Mach das Licht in der Küche aus.", "Mach bitte das Licht an!", "Machst du die Tür zu?"] {
            #expect(TurnText.readsFinished(text), "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.96, text: text), config: c) != "open", "\(text)")
        }
        for text in ["Mach bitte das Licht in der Küche an", "Ich rufe dich an...", "Ich warte auf", "Ich warte auf,"] {
            #expect(TurnText.readsOpen(text), "\(text)")
        }
        // Chinese and Japanese particles that end sentences as well as leave them open: finished
        // before "？" / "。", open without; conjunctions stay open whatever follows.
        for text in ["你是怎么来的？", "何してるの？", "ちょっと待って。", "雨だから。", "是的。"] {
            #expect(!TurnText.readsOpen(text) && TurnText.readsFinished(text), "\(text)")
        }
        for text in ["明天北京的", "台所の電気をつけて", "请打开厨房的灯和。", "それから。", "因为。"] {
            #expect(TurnText.readsOpen(text), "\(text)")
        }
        // A question particle is a question with or without its "？".
        for text in ["今日の天気はどうですか", "イタリアの首都はどこですか。", "你好吗", "现在几点了？"] {
            #expect(TurnText.readsQuestion(text), "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.8, text: text), config: c) == "model", "\(text)")
        }
        #expect(!TurnText.readsQuestion("何か") && !TurnText.readsQuestion("请把客厅的灯关掉。"))
        #expect(!TurnText.readsFinished("Turn on the light and."))
        // tiny.en writes short questions without capital or mark: a question word first says it;
        // with a confident model it ends as a question. A mark other than "?" says it is none, and
        // an open ending still waits.
        for text in ["which ocean is the largest", "What is the capital of Italy", "Wo ist der Bahnhof", "где мой телефон"] {
            #expect(TurnText.readsQuestion(text), "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.8, text: text), config: c) == "model", "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.3, text: text), config: c) == "fallback", "\(text)")
        }
        for text in ["What a day.", "what is the weather like in", "which ocean is the", "the ocean is the largest", "Turn it on", "what's up!"] {
            #expect(!TurnText.readsQuestion(text), "\(text)")
        }
    }

    @Test func theBeamSearchsWordsDecideWhereTheGreedyOnesEndOpenNoSoonerThanTheHold() {
        // Whisper base at 210 wpm: the greedy pass of "Который час?" reads "Кополлика с" (open on
        // "с"), its beam search "Который час." — a finished statement: the hold, not open_ms.
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.97, text: "Кополлика с", refined: "Который час."), config: c) == "hold")
        // Beam search completes a sentence fluently, an inner pause's too: a question it writes waits
        // the hold, with or without a model, never the debounce or the text rule.
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.9, text: "Wie wird das Wetter morgen in",
                                             refined: "Wie wird das Wetter morgen?"), config: c) == "hold")
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, text: "What is the weather in", refined: "What is the weather today?"), config: c) == "hold")
        // Beam words that neither end open nor read finished, with a doubting model: the fallback.
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.2, text: "Turn on the light and", refined: "Turn on the light"), config: c) == "fallback")
        // Beam words that end open too, greedy words that do not, or words in another language: as before.
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.97, text: "Turn on the light and", refined: "Turn on the light and the"), config: c) == "open")
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.9, text: "What time is it?", refined: "What time is it and"), config: c) == "model")
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.97, text: "Can you see the", textTrusted: false, refined: "Can you see?"), config: c) == "hold")
    }

    @Test func aConfidentModelOnAFinishedQuestionEndsAfterTheDebounce() {
        for text in ["Which ocean is the largest?", "Какая сегодня погода?", "Wie spät ist es?", "现在几点了？"] {
            let e = PauseEvidence(since: t0, probability: 0.8, text: text)
            #expect(EndOfTurn.deadline(e, config: c) == t0 + c.minSilenceUs, "\(text)")
            #expect(EndOfTurn.rule(e, config: c) == "model")
        }
    }

    @Test func oneSignalOfTwoHoldsPastAnInnerPause() {
        let hold = t0 + c.holdUs
        #expect(c.holdUs > 600_000)  // longer than the evaluation set's 0.6 s pause inside a turn
        // A confident model on a statement (Whisper writes "Remind me to call." for half a sentence),
        // on words without final punctuation that open no question, on no transcript yet, or on one in
        // another language.
        for e in [PauseEvidence(since: t0, probability: 0.97, text: "Remind me to call."),
                  PauseEvidence(since: t0, probability: 0.97, text: "turn on the kitchen light"),
                  PauseEvidence(since: t0, probability: 0.99),
                  PauseEvidence(since: t0, probability: 0.99, text: "Can you see this?", textTrusted: false)] {
            #expect(EndOfTurn.deadline(e, config: c) == hold, "\(e)")
            #expect(EndOfTurn.rule(e, config: c) == "hold")
        }
        // Finished words the model doubts ("What time is it?" from eSpeak: p 0.07): not the fallback.
        #expect(EndOfTurn.deadline(PauseEvidence(since: t0, probability: 0.1, text: "What time is it?"), config: c) == hold)
        // Neither: the fallback.
        #expect(EndOfTurn.deadline(PauseEvidence(since: t0, probability: 0.2, text: "Which ocean is the largest"), config: c) == t0 + c.fallbackUs)
        #expect(EndOfTurn.deadline(PauseEvidence(since: t0, probability: 0.2, text: "Stop.", textTrusted: false), config: c) == t0 + c.fallbackUs)
        // No model at all: the text rule.
        #expect(EndOfTurn.deadline(PauseEvidence(since: t0, text: "What time is it?"), config: c) == t0 + c.textUs)
        // Foreign words are no open ending either.
        #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.9, text: "I can go and", textTrusted: false), config: c) == "hold")
    }

    @Test func chineseAsksInPlaceAndInEitherScript() {
        // The question word stands where the answer goes, and Whisper often writes no "？" and
        // traditional characters: a question, finished; with a confident model it ends at once,
        // with a doubting one it holds rather than waiting the fallback.
        for text in ["今天天气怎么样", "今天天氣怎麼樣", "现在几点了", "現在幾點了", "意大利的首都是哪裡", "你叫什么名字？", "这是不是你的书"] {
            #expect(TurnText.readsQuestion(text) && TurnText.readsFinished(text), "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.8, text: text), config: c) == "model", "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.05, text: text), config: c) == "hold", "\(text)")
        }
        // A mark other than "？" says it is no question; no question word, no question; an open
        // ending still waits, in either script.
        for text in ["我不知道是谁。", "请把客厅的灯关掉", "請把客廳的燈關掉", "明天北京的", "你能告訴我關於什麼的"] {
            #expect(!TurnText.readsQuestion(text), "\(text)")
        }
        for text in ["你能告訴我關於", "請幫我打開廚房的燈和", "還有"] {
            #expect(TurnText.readsOpen(text), "\(text)")
        }
        // A sentence-final particle or a request opened with "请" finishes a sentence Whisper left
        // unpunctuated: a doubting model then holds instead of waiting the fallback. No question.
        for text in ["現在去點了", "我们走吧", "请把客厅的灯关掉", "請把客廳的燈關掉"] {
            #expect(TurnText.readsFinished(text) && !TurnText.readsQuestion(text), "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.05, text: text), config: c) == "hold", "\(text)")
            #expect(EndOfTurn.rule(PauseEvidence(since: t0, probability: 0.9, text: text), config: c) == "hold", "\(text)")
        }
        for text in ["请把客厅的", "请打开厨房的灯和", "请问", "我吃了。我", "Turn it on"] {
            #expect(!TurnText.readsFinished(text), "\(text)")
        }
        #expect(TurnText.isBackchannel("對") && TurnText.isBackchannel("對對") && !TurnText.isOneWord("別說了"))
        #expect(TurnText.simplified("Wie spät ist es?") == "Wie spät ist es?")
    }

    @Test func fillersLeaveTheSentenceOpen() {
        for text in ["I would like, um", "Ich möchte ähm", "Я хочу э", "Я хочу, хм", "我想要那个", "それから、えっと"] {
            #expect(TurnText.readsOpen(text), "\(text)")
        }
    }

    @Test func contentWords() {
        for text in ["And m m", "And then then.", "and am then", "Uh-uh.", "Oh, I", "Ам, да.", "Хм, ну да", "Ähm, ja.", "Naja, gut", "Und dann...", ""] {
            #expect(!TurnText.hasContentWords(text), "\(text)")
        }
        for text in ["Stop.", "No.", "Wait", "and mamptons", "in high end", "停下", "Ам, стоп.", "Ähm, warte"] {
            #expect(TurnText.hasContentWords(text), "\(text)")
        }
    }

    @Test func oneWord() {
        for text in ["Подать", "А-ка!", "Ciao.", "おう", "是大範", "beautiful", "Da... Da...", "help help.", "Ja, ja"] {
            #expect(TurnText.isOneWord(text), "\(text)")
        }
        for text in ["Stop.", "стоп", "Nein!", "停", "待って", "Катоги, час!", "die Schäte ist es", "现在几点了", "",
                     "Stop, stop!", "Nein, nein.", "help me"] {
            #expect(!TurnText.isOneWord(text), "\(text)")
        }
    }

    @Test func transcriptLanguages() {
        #expect(TurnText.sameLanguage("en", "en") && TurnText.sameLanguage("zh", "zh-CN") && TurnText.sameLanguage(nil, "de"))
        #expect(TurnText.sameLanguage("en", ""))
        #expect(!TurnText.sameLanguage("en", "zh") && !TurnText.sameLanguage("en", "ru-RU"))
    }

    @Test func backchannelsInEveryLanguage() {
        for text in ["uh-huh", "Yeah.", "Right!", "Mm-hmm.", "yeah, yeah", "Mm mm", "嗯", "对。", "Ага.", "угу", "Ja.", "genau", "うん",
                     "Yeah. Yeah.", "Ja... ja."] {
            #expect(TurnText.isBackchannel(text), "\(text)")
        }
        for text in ["stop", "Wait, what about tomorrow?", "No.", "Yes, turn it off", "", "停"] {
            #expect(!TurnText.isBackchannel(text), "\(text)")
        }
    }

    @Test func configKeys() throws {
        var config = try CoordinatorConfig(json: JSONParser.parse(#"{"turn": {"endpointing": "worker", "min_silence_ms": 100, "threshold": 0.7, "open_ms": 2000, "barge_in_ms": 250, "hold_ms": 800, "interrupt_ms": 1200, "backchannel_ms": 400}}"#))
        #expect(!config.turn.hubEndpointing && config.turn.minSilenceUs == 100_000 && config.turn.threshold == 0.7)
        #expect(config.turn.openUs == 2_000_000 && config.turn.bargeInUs == 250_000)
        #expect(config.turn.holdUs == 800_000 && config.turn.interruptUs == 1_200_000 && config.turn.backchannelUs == 400_000)
        #expect(throws: VCError.self) { try config.apply(json: JSONParser.parse(#"{"turn": {"endpointing": "device"}}"#)) }
        #expect(throws: VCError.self) { try config.apply(json: JSONParser.parse(#"{"turn": {"threshold": 2}}"#)) }
        #expect(throws: VCError.self) { try config.apply(json: JSONParser.parse(#"{"turn": {"nope": 1}}"#)) }
        try config.apply(json: JSONParser.parse(#"{"turn": {"barge_in_ms": 0}}"#))
        #expect(config.turn.bargeInUs == 0)
    }
}

@Suite struct CoordinatorEndOfTurnTests {
    func fleet() -> CoordinatorScript { .oneOfEach() }

    /// One of each worker, the hub's `language`, one auto-mode device: the script and its ASR job.
    func session(language: String) throws -> (CoordinatorScript, JobID, WorkerID) {
        var t = try CoordinatorScript(json: #"{"language": "\#(language)"}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        let (job, w) = t.asrJob(1)!
        return (t, job, w)
    }

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
        t.feed(.workerOutput(w, job, .speculative("Which ocean is the largest?", language: "en")))
        #expect(inputEnds(t, job) == 1)
        #expect(t.hasSubsequence(["turn.endpoint turn=1 reason=model value=224"]))
        // The worker's final then ends the utterance as usual.
        t.feed(.workerOutput(w, job, .final("Which ocean is the largest?", language: nil)))
        #expect(t.deviceMessages(SessionID(1)).contains(.stt("Which ocean is the largest?")))
    }

    @Test func theDebounceHoldsAnEarlyVerdict() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 32)))
        t.feed(.workerOutput(w, job, .speculative("What time is it?")))
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
        t.advanceMs(600)
        #expect(inputEnds(t, job) == 0)  // a statement: held past another inner pause
        t.advanceMs(100)
        #expect(inputEnds(t, job) == 1)
        #expect(t.count("turn.endpoint") == 1)
        #expect(t.hasSubsequence(["turn.endpoint reason=hold value=750"]))
    }

    @Test func aRefinedTextThatDoesNotEndOpenEndsAnOpenPauseAtTheHold() throws {
        var (t, job, w) = try session(language: "ru")
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.feed(.workerOutput(w, job, .turnProbability(0.97)))
        t.advanceMs(160)
        t.feed(.workerOutput(w, job, .speculative("Кополлика с", language: "ru", refining: true)))
        t.advanceMs(100)
        #expect(t.forbids(["turn.endpoint"]))
        t.feed(.workerOutput(w, job, .refined("Который час.")))
        t.advanceMs(424)
        #expect(inputEnds(t, job) == 0)
        t.advanceMs(2)  // 750 ms of silence
        #expect(inputEnds(t, job) == 1)
        #expect(t.hasSubsequence(["turn.endpoint reason=hold value=750"]))
        // The log says which words decided.
        #expect(t.log.last { $0["kind"]?.stringValue == "turn.endpoint" }?["text"]?.stringValue == "Который час.")
        // A newer transcript of the same pause that ends open again: the earlier pass's beam text
        // no longer speaks for it.
        var (v, job3, w3) = try session(language: "ru")
        v.feed(.workerOutput(w3, job3, .speechStart))
        v.feed(.workerOutput(w3, job3, .pause(silenceMs: 64)))
        v.feed(.workerOutput(w3, job3, .turnProbability(0.97)))
        v.feed(.workerOutput(w3, job3, .speculative("Кополлика с", language: "ru", refining: true)))
        v.feed(.workerOutput(w3, job3, .refined("Который час.")))
        v.feed(.workerOutput(w3, job3, .speculative("Который час и", language: "ru")))
        v.advanceMs(1600)
        #expect(v.hasSubsequence(["turn.endpoint reason=open value=1600"]))
        #expect(v.log.last { $0["kind"]?.stringValue == "turn.endpoint" }?["text"]?.stringValue == "Который час и")
        // A `refined` of a pause that speech has voided changes nothing.
        var u = fleet()
        u.device(1)
        let (job2, w2) = u.asrJob(1)!
        u.feed(.workerOutput(w2, job2, .speechStart))
        u.feed(.workerOutput(w2, job2, .pause(silenceMs: 64)))
        u.feed(.workerOutput(w2, job2, .resume))
        u.feed(.workerOutput(w2, job2, .refined("Turn it on.")))
        u.advanceMs(3000)
        #expect(inputEnds(u, job2) == 0)
    }

    @Test func aConfidentModelOnAStatementIsHeldThroughA600MsPause() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.feed(.workerOutput(w, job, .turnProbability(0.96)))
        t.advanceMs(100)
        t.feed(.workerOutput(w, job, .speculative("Remind me to call.", language: "en")))
        t.advanceMs(440)  // speech again 0.6 s after it stopped
        #expect(inputEnds(t, job) == 0)
        t.feed(.workerOutput(w, job, .resume))
        t.advanceMs(900)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.feed(.workerOutput(w, job, .speculative("Remind me to call my mother at six?", language: "en")))
        t.feed(.workerOutput(w, job, .turnProbability(0.9)))
        t.advanceMs(100)
        #expect(inputEnds(t, job) == 1)
        #expect(t.count("turn.endpoint") == 1)
    }

    @Test func aTranscriptInAnotherLanguageLeavesTheModelToDecide() throws {
        var (t, job, w) = try session(language: "zh")
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        // tiny.en's reading of "今天天气怎么样？": finished-looking English, no evidence in a zh session.
        t.feed(.workerOutput(w, job, .speculative("I can't see this?", language: "en")))
        t.feed(.workerOutput(w, job, .turnProbability(0.9)))
        t.advanceMs(600)
        #expect(inputEnds(t, job) == 0)
        t.advanceMs(100)
        #expect(inputEnds(t, job) == 1)
        #expect(t.hasSubsequence(["turn.endpoint reason=hold value=750"]))
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

    /// A session in `session` language with a reply playing; the user speaks for `spokeMs` over it,
    /// pauses, and the ASR reads `heard` (in `language`). The script, and its log's length before the speech.
    func speakOverTheReply(session: String, spokeMs: Int, heard: String, language: String, refining: Bool = false) throws -> (CoordinatorScript, Int) {
        var t = try CoordinatorScript(json: #"{"language": "\#(session)"}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(Int64(spokeMs) + 64)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(300)
        t.feed(.workerOutput(w, job, .speculative(heard, language: language, refining: refining)))
        return (t, before)
    }

    @Test func wordsDecodedAgainDecideWhetherSpeechOverTheReplyIsABackchannel() throws {
        // Whisper base's greedy "Gute Auf!" for a noisy "genau" has a content word; decoded again it
        // is "Gut auf!", no content word: a backchannel. The greedy words cut nothing while the
        // worker decodes them again; the beam's decide, or the final's when it comes first.
        for (refined, backchannel) in [("Gut auf!", true), ("Was ist das?", false)] {
            var (t, before) = try speakOverTheReply(session: "de", spokeMs: 300, heard: "Gute Auf!", language: "de", refining: true)
            #expect(t.forbids(["turn.cancelled turn=1", "turn.backchannel"], since: before), "\(refined)")
            let (job, w) = t.asrJob(1)!
            t.advanceMs(80)
            t.feed(.workerOutput(w, job, .refined(refined)))
            if backchannel {
                #expect(t.hasSubsequence(["turn.backchannel turn=2 reason=no-content", "turn.resumed turn=1"], since: before))
                #expect(t.forbids(["turn.cancelled turn=1"], since: before))
            } else {
                #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before))
                #expect(t.forbids(["turn.backchannel", "turn.resumed"], since: before))
            }
        }
        // No `refined` (the utterance ended first): its final decides.
        var (t, before) = try speakOverTheReply(session: "de", spokeMs: 300, heard: "Gute Auf!", language: "de", refining: true)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .final("Gut auf!", language: "de")))
        #expect(t.hasSubsequence(["turn.backchannel turn=2 reason=no-content", "turn.resumed turn=1"], since: before))
        // Greedy words that prove a backchannel need not wait for the beam's.
        (t, before) = try speakOverTheReply(session: "de", spokeMs: 300, heard: "Ja.", language: "de", refining: true)
        #expect(t.hasSubsequence(["turn.backchannel turn=2 reason=words", "turn.resumed turn=1"], since: before))
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

    func pauses(_ t: CoordinatorScript, in list: [Effect]? = nil) -> Int {
        (list ?? t.effects).filter { if case .devicePause = $0 { return true } else { return false } }.count
    }

    func resumes(_ t: CoordinatorScript, in list: [Effect]? = nil) -> Int {
        (list ?? t.effects).filter { if case .deviceResume = $0 { return true } else { return false } }.count
    }

    func flushes(_ t: CoordinatorScript, in list: [Effect]? = nil) -> Int {
        (list ?? t.effects).filter { if case .deviceFlush = $0 { return true } else { return false } }.count
    }

    @Test func speechOverTheReplyPausesItsDownlinkAtOnce() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        #expect(pauses(t, in: t.last) == 1)
        // The device drops the frames it holds and stays in its speaking state (`tts stop` then
        // `tts start`, both marked `pause`); the host sends those frames again if the reply resumes.
        #expect(t.deviceMessages(SessionID(1), in: t.last) == [.ttsPauseStop, .ttsPauseStart])
        #expect(t.hasSubsequence(["turn.paused turn=1 value=0"], since: before))
        #expect(t.forbids(["turn.cancelled"], since: before))
    }

    @Test func speechOverAReplyWithoutAudioYetTellsTheDeviceNothing() {
        var t = fleet()
        t.device(1, mode: .realtime)
        t.utter(1, "tell me a story")
        #expect(t.c.phase(of: SessionID(1)) == .thinking)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        // Nothing plays yet: the device holds nothing to drop and has no `tts start` to undo.
        let paused = t.last.compactMap { e -> Bool? in if case let .devicePause(_, drops) = e { return drops } else { return nil } }
        #expect(paused == [false])
        #expect(t.deviceMessages(SessionID(1), in: t.last).isEmpty)
    }

    @Test func aBackchannelResumesTheReplyAndStartsNoTurn() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(150)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(200)
        t.feed(.workerOutput(w, job, .speculative("Uh-huh.", language: "en")))
        #expect(resumes(t, in: t.last) == 1)
        #expect(flushes(t) == 0)
        #expect(t.hasSubsequence(["turn.paused turn=1", "turn.backchannel turn=2 reason=words value=86", "turn.started turn=3",
                                  "turn.resumed turn=1 value=350"], since: before))
        #expect(t.forbids(["turn.cancelled turn=1", "turn.transcript", "preempt.started"], since: before))
        #expect(t.cancelled().contains(job))
        #expect(t.c.phase(of: SessionID(1)) == .speaking)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=done"], since: before))
    }

    @Test func thePlaybackDeadlineMovesOnByThePause() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(400)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(4000)  // the reply's audio would have played out long ago: no playback-timeout while paused
        #expect(t.forbids(["turn.ended turn=1"], since: before))
        t.feed(.workerOutput(w, job, .final("", language: "en")))
        #expect(t.hasSubsequence(["turn.backchannel turn=2", "turn.resumed turn=1"], since: before))
        t.advanceMs(1500)  // past the deadline the reply had before the pause (0.4 s of audio + playback_margin_ms)
        #expect(t.forbids(["turn.ended turn=1"], since: before))
        t.advanceMs(5000)
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=playback-timeout"], since: before))
    }

    @Test func speechStillGoingAtTheInterruptDeadlineCutsTheReply() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(999)
        #expect(t.forbids(["turn.cancelled turn=1"], since: before))
        t.advanceMs(1)
        #expect(t.hasSubsequence(["turn.paused turn=1", "turn.cancelled turn=1 reason=barge-in"], since: before))
        #expect(t.deviceMessages(SessionID(1)).last == .ttsStop)
        #expect(flushes(t, in: t.last) == 1)
        #expect(resumes(t) == 0)
        // The speech is the user's turn.
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.feed(.workerOutput(w, job, .speculative("Wait, what about tomorrow?")))
        t.feed(.workerOutput(w, job, .turnProbability(0.9)))
        t.advanceMs(200)
        #expect(inputEnds(t, job) == 1)
    }

    @Test func aBargeInDelayPausesLater() throws {
        var t = try CoordinatorScript(json: #"{"turn": {"barge_in_ms": 100}}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        let (job, w) = replying(&t)
        t.feed(.workerOutput(w, job, .speechStart))
        #expect(pauses(t) == 0)
        t.advanceMs(100)
        #expect(pauses(t) == 1)
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
        #expect(t.hasSubsequence(["turn.paused turn=1", "turn.cancelled turn=1 reason=barge-in"], since: before))
        #expect(t.forbids(["turn.backchannel", "turn.resumed"], since: before))
    }

    @Test func shortForeignSpeechIsABackchannelLongIsAnInterruption() throws {
        for (spokeMs, backchannel) in [(300, true), (900, false)] {
            // tiny.en's reading of "ага" / of "Который час?".
            let (t, before) = try speakOverTheReply(session: "ru", spokeMs: spokeMs, heard: "I'm gone.", language: "en")
            if backchannel {
                #expect(t.hasSubsequence(["turn.backchannel turn=2 reason=short", "turn.resumed turn=1"], since: before))
            } else {
                #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before))
                #expect(t.forbids(["turn.backchannel", "turn.resumed"], since: before))
            }
        }
    }

    @Test func oneShortWordIsABackchannelInTheSessionsLanguage() throws {
        // Whisper base with the session's language hears eSpeak's "понятно" as "Подать", "угу" as
        // "Ог", "genau" as "Ciao": words of the session's language, yet one short word. "Стоп." and
        // two words ("Катоги, час!": its "Который час?") are interruptions, and so is one word
        // spoken longer than backchannel_ms.
        // A word said again is still one ("Da... Da...": base's noisy German "mhm"; "help help.":
        // tiny.en's noisy "mm-hmm"); an interruption said twice still cuts.
        for (language, text, spokeMs, backchannel) in [("ru", "Подать", 300, true), ("ru", "Ог", 160, true), ("de", "Ciao", 300, true),
                                                         ("ja", "おう", 160, true), ("zh", "是大範", 480, true),
                                                         ("de", "Da... Da...", 240, true), ("en", "help help.", 260, true),
                                                         ("ru", "Стоп.", 300, false), ("ru", "Катоги, час!", 500, false),
                                                         ("en", "Stop, stop!", 300, false),
                                                         ("de", "Listasmeterhoiter", 1000, false), ("en", "Stop!", 300, false)] {
            let (t, before) = try speakOverTheReply(session: language, spokeMs: spokeMs, heard: text, language: language)
            if backchannel {
                #expect(t.hasSubsequence(["turn.backchannel turn=2 reason=one-word", "turn.resumed turn=1"], since: before), "\(text)")
            } else {
                #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before), "\(text)")
                #expect(t.forbids(["turn.backchannel", "turn.resumed"], since: before), "\(text)")
            }
        }
    }

    @Test func speechWithoutContentWordsIsABackchannel() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(640)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(300)
        t.feed(.workerOutput(w, job, .speculative("And m m", language: "en")))  // tiny.en's "mm-hmm"
        #expect(t.hasSubsequence(["turn.backchannel turn=2 reason=no-content value=576", "turn.resumed turn=1"], since: before))
        #expect(t.forbids(["turn.cancelled turn=1"], since: before))
    }

    @Test func moreSpeechAfterTheInterruptDeadlineIsAnInterruption() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.advanceMs(100)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(200)
        t.feed(.workerOutput(w, job, .resume))  // "yeah … yeah": not yet an interruption
        #expect(t.forbids(["turn.cancelled turn=1"], since: before))
        t.advanceMs(300)
        t.feed(.workerOutput(w, job, .pause(silenceMs: 64)))
        t.advanceMs(800)  // past interrupt_ms in a pause: the transcript would decide
        #expect(t.forbids(["turn.cancelled turn=1"], since: before))
        t.feed(.workerOutput(w, job, .resume))
        #expect(t.hasSubsequence(["turn.cancelled turn=1 reason=barge-in"], since: before))
    }

    @Test func anAbortWhilePausedFlushesWithoutResuming() {
        var t = fleet()
        let (job, w) = replying(&t)
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.deviceAbort(SessionID(1), reason: "user"))
        #expect(flushes(t, in: t.last) == 1)
        #expect(resumes(t) == 0)
        #expect(t.forbids(["turn.resumed"], since: before))
    }
}
