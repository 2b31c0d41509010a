import Testing
@testable import VoiceCore

/// A session's language in its jobs: the configured one, or with `auto` what the ASR heard.
@Suite struct CoordinatorLanguageTests {
    func fleet(language: String) -> CoordinatorScript {
        var config = CoordinatorScript.scriptDefaults
        config.language = language
        var t = CoordinatorScript(config)
        t.worker(1, [.asr])
        t.worker(2, [.assistant])
        t.worker(3, [.tts])
        return t
    }

    /// The `language` of every job of `kind` sent so far, in order.
    func languages(_ t: CoordinatorScript, _ kind: WorkerKind) -> [String] {
        t.effects.compactMap {
            guard case let .workerSend(_, .job(_, k, _, _, params), _) = $0, k == kind else { return nil }
            switch params {
            case let .asr(_, _, language, _), let .tts(_, _, _, language, _), let .assistant(_, language, _, _, _, _): return language
            default: return nil
            }
        }
    }

    func say(_ t: inout CoordinatorScript, _ text: String, heardIn language: String?) {
        if t.asrJob(1) == nil { t.feed(.deviceListen(SessionID(1), .start(.auto))) }  // the device listens again after a reply
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .speechEnd))
        t.feed(.workerOutput(w, job, .final(text, language: language)))
        t.feed(.workerDone(w, job))
        t.answer(1, ["Gut."])
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), t.c.sessions[SessionID(1)]!.reply?.turn ?? TurnID(0)))
    }

    @Test func aConfiguredLanguageGoesIntoEveryJob() {
        var t = fleet(language: "ru")
        t.device(1)
        say(&t, "Какая погода?", heardIn: "ru")
        #expect(languages(t, .asr).allSatisfy { $0 == "ru" } && !languages(t, .asr).isEmpty)
        #expect(languages(t, .assistant) == ["ru"])
        #expect(languages(t, .tts) == ["ru"])
    }

    @Test func withAutoTheRepliesFollowTheLanguageTheASRHeard() {
        var t = fleet(language: "auto")
        t.device(1)
        say(&t, "Wie spät ist es?", heardIn: "de")
        #expect(t.hasSubsequence(["session.language turn=1 text=de"]))
        say(&t, "What time is it?", heardIn: "en")
        #expect(languages(t, .asr).allSatisfy { $0 == "auto" })   // the ASR keeps detecting
        #expect(languages(t, .assistant) == ["de", "en"])
        #expect(languages(t, .tts) == ["de", "en"])
        #expect(t.log.filter { $0["kind"]?.stringValue == "session.language" }.count == 2)
    }

    @Test func withAutoAndNoLanguageHeardTheRepliesAreEnglish() {
        var t = fleet(language: "auto")
        t.device(1)
        say(&t, "hello", heardIn: nil)
        #expect(languages(t, .assistant) == ["en"])
        #expect(!t.log.contains { $0["kind"]?.stringValue == "session.language" })
    }

    @Test func withAutoAReplyHeldInTheLanguageHeardBeforeIsDiscardedWhenTheFinalNamesAnother() {
        var t = fleet(language: "auto")
        t.device(1)
        say(&t, "Wie spät ist es?", heardIn: "de")
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .speculative("What time is it?")))   // preemption starts, in German
        #expect(languages(t, .assistant) == ["de", "de"])
        t.feed(.workerOutput(w, job, .speechEnd))
        t.feed(.workerOutput(w, job, .final("What time is it?", language: "en")))
        #expect(t.hasSubsequence(["preempt.started turn=2", "session.language turn=2 text=en", "preempt.discarded turn=2 reason=language"]))
        #expect(languages(t, .assistant) == ["de", "de", "en"])
    }
}
