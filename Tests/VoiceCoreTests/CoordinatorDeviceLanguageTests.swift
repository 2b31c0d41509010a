import Testing
@testable import VoiceCore

/// A device's language reported over OTA (`Event.deviceLanguage`) travels in the jobs of its sessions.
@Suite struct CoordinatorDeviceLanguageTests {
    static func language(_ params: JobParams?) -> String? {
        switch params {
        case let .asr(_, _, language, _)?: return language
        case let .tts(_, _, _, language, _)?: return language
        case let .assistant(_, language, _, _, _, _)?: return language
        default: return nil
        }
    }

    func language(_ t: CoordinatorScript, _ job: (JobID, WorkerID)?) -> String? {
        guard let job else { return nil }
        return Self.language(t.c.jobs[job.0]?.params)
    }

    @Test func otaLanguageReachesTheJobsOfTheDevicesNextSession() {
        var t = CoordinatorScript.oneOfEach()
        t.feed(.deviceLanguage(deviceID: "dev1", language: "ru-RU"))
        #expect(t.c.lastRejection == nil)
        #expect(t.hasSubsequence(["device.language to=ru-RU text=dev1"]))
        t.device(1)
        #expect(language(t, t.asrJob(1)) == "ru-RU")
        t.utter(1, "какая сегодня погода")
        #expect(language(t, t.assistantJob(1)) == "ru-RU")
        t.answer(1, ["Сегодня солнечно. ", "Завтра дождь."], done: false)
        #expect(language(t, t.ttsJob(1, segment: 0)) == "ru-RU")
        // A device that reported nothing speaks the hub's language.
        t.device(2)
        #expect(language(t, t.asrJob(2)) == "en")
        #expect(t.rejections == 0)
    }

    @Test func aLaterReportReplacesTheEarlierOne() {
        var t = CoordinatorScript.oneOfEach()
        t.feed(.deviceLanguage(deviceID: "dev1", language: "ru-RU"))
        t.feed(.deviceLanguage(deviceID: "dev1", language: "zh-CN"))
        #expect(t.hasSubsequence(["device.language from=ru-RU to=zh-CN text=dev1"]))
        t.device(1)
        #expect(language(t, t.asrJob(1)) == "zh-CN")
    }

    @Test func badTagsAndDeviceIdsAreRejectedAndChangeNothing() {
        var t = CoordinatorScript.oneOfEach()
        t.feed(.deviceLanguage(deviceID: "dev1", language: "de-DE"))
        let bad: [(String, String)] = [("dev1", ""), ("dev1", "ru_RU"), ("dev1", "r"), ("dev1", "ru-"), ("dev1", "en;q=0.9"),
                                       ("dev1", "abcdefgh-12345678"), ("dev1", "русский"), ("dev1", "123"),
                                       ("", "ru-RU"), ("dev 1", "ru-RU"), (String(repeating: "d", count: 65), "ru-RU")]
        let before = t.log.count
        for (device, tag) in bad {
            t.feed(.deviceLanguage(deviceID: device, language: tag))
            #expect(t.c.lastRejection?.status == .invalidArgument, "\(device) \(tag)")
            #expect(t.last.isEmpty)
        }
        #expect(t.rejections == bad.count)
        #expect(t.count("input.rejected", since: before) == bad.count)
        #expect(t.forbids(["device.language"], since: before))
        t.device(1)
        #expect(language(t, t.asrJob(1)) == "de-DE")
        // Well-formed tags of up to 16 bytes pass.
        for tag in ["en", "zh-Hans-CN", "es-419", "abcdefgh-1234567"] {
            t.feed(.deviceLanguage(deviceID: "dev9", language: tag))
            #expect(t.c.lastRejection == nil, "\(tag)")
        }
    }

    @Test func theWireTakesTheTypedEvent() throws {
        var wire = try CoordinatorWire(config: CoordinatorConfig())
        var e = WireEvent(.deviceLanguage, text: "ru-RU")
        e.deviceID = "dev1"
        try wire.handle(e, nowUs: 1)
        let effect = wire.nextEffect()
        #expect(effect == nil)
        let first = wire.nextLogLine()
        let line = try #require(first)
        #expect(line.contains("\"kind\":\"device.language\"") && line.contains("\"to\":\"ru-RU\"") && line.contains("\"text\":\"dev1\""))
        var bad = WireEvent(.deviceLanguage, text: "not a tag")
        bad.deviceID = "dev1"
        var threw = false
        do { try wire.handle(bad, nowUs: 2) } catch { threw = true }
        #expect(threw)
        let after = wire.nextEffect()
        #expect(after == nil)
        let rejected = wire.nextLogLine() ?? ""
        #expect(rejected.contains("input.rejected"))
    }

    @Test func aDevicesUtterancesGoToTheASRWorkerThatHearsItsLanguage() throws {
        var t = CoordinatorScript()
        func register(_ w: UInt64, _ json: String) throws {
            t.feed(.workerConnected(WorkerID(w)))
            t.feed(try WireDecoder.workerMessage(WorkerID(w), WireFields(JSONParser.parse(json), "worker")))
        }
        try register(1, #"{"type":"register","name":"asr-tiny.en","kinds":["asr"],"slots":{"asr":4},"languages":["en"]}"#)
        try register(2, #"{"type":"register","name":"asr-base","kinds":["asr"],"slots":{"asr":4}}"#)
        t.worker(3, [.assistant])
        t.worker(4, [.tts])
        #expect(t.hasSubsequence(["worker.registered worker=w1 to=asr reason=languages=en text=asr-tiny.en"]))
        t.feed(.deviceLanguage(deviceID: "dev1", language: "zh-CN"))
        t.device(1, mode: .realtime)
        t.device(2, mode: .realtime)
        #expect(t.asrJob(1)?.1 == WorkerID(2) && t.asrJob(2)?.1 == WorkerID(1))
        // Each next utterance (realtime: opened as the last one ends) goes to the same worker.
        t.utter(1, "今天天气怎么样")
        t.utter(2, "What time is it?")
        #expect(t.asrJob(1)?.1 == WorkerID(2) && t.asrJob(2)?.1 == WorkerID(1))
        #expect(t.count("job.dispatched") >= 6)
        #expect(t.forbids(["job.dispatched reason=unheard-language=zh"]))
        // Without a worker that hears Chinese, the English-only one takes the utterance, and the
        // log says so.
        t.feed(.workerDisconnected(WorkerID(2)))
        t.utter(1, "今天天气怎么样")
        #expect(t.asrJob(1)?.1 == WorkerID(1))
        #expect(t.hasSubsequence(["job.dispatched job_kind=asr worker=w1 reason=unheard-language=zh"]))
        #expect(t.rejections == 0)
        let many = "[" + Array(repeating: "\"en\"", count: 129).joined(separator: ",") + "]"
        for bad in [#""languages":"en""#, #""languages":["en",1]"#, #""languages":["english!"]"#, #""languages":"# + many] {
            #expect(throws: VCError.self) {
                try WireDecoder.workerMessage(WorkerID(9), WireFields(JSONParser.parse(#"{"type":"register","kinds":["asr"],\#(bad)}"#), "worker"))
            }
        }
    }

    @Test func aChineseReplyIsSpokenByTheTTSWorkerThatSpeaksChinese() throws {
        var t = CoordinatorScript()
        t.worker(1, [.asr])
        t.worker(2, [.assistant])
        t.worker(3, [.tts])  // eSpeak: every language
        t.feed(.workerConnected(WorkerID(4)))
        t.feed(try WireDecoder.workerMessage(WorkerID(4), WireFields(JSONParser.parse(
            #"{"type":"register","name":"tts-zh","kinds":["tts"],"slots":{"tts":4},"languages":["zh"]}"#), "worker")))
        t.feed(.deviceLanguage(deviceID: "dev1", language: "zh-CN"))
        for s: UInt64 in [1, 2] {
            t.device(s)
            t.utter(s, s == 1 ? "讲个故事" : "Tell me a story")
            t.answer(s, s == 1 ? ["从前有座山。", "山里有座庙。"] : ["Once upon a time. ", "The end."])
        }
        #expect(t.ttsJob(1, segment: 0)?.1 == WorkerID(4) && t.ttsJob(1, segment: 1)?.1 == WorkerID(4))
        #expect(t.ttsJob(2, segment: 0)?.1 == WorkerID(3) && t.ttsJob(2, segment: 1)?.1 == WorkerID(3))
        #expect(t.rejections == 0)
    }

    @Test func theMemoryIsBoundedAndForgetsTheLeastRecentlyReported() {
        var m = DeviceLanguages(capacity: 3)
        m.learn("a", "en")
        m.learn("b", "de")
        m.learn("c", "fr")
        m.learn("a", "ru")          // a is now the most recent
        m.learn("d", "zh")          // b, the least recent, is forgotten
        #expect(m["b"] == nil && m["a"] == "ru" && m["c"] == "fr" && m["d"] == "zh")
        #expect(m.count == 3)
        for i in 0..<1000 { m.learn("a", i % 2 == 0 ? "en" : "ru") }   // the order queue stays bounded (asserted inside)
        m.learn("e", "ja")
        #expect(m["c"] == nil && m["d"] == "zh" && m["a"] == "ru" && m["e"] == "ja")
        #expect(DeviceLanguages().capacity == 4096)
    }
}
