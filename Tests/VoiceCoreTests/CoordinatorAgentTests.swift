import Testing
@testable import VoiceCore

/// Agents: bindings, placement of assistant jobs on the agent's workers, the agent's language and
/// voice in every job, moves at run time, and budgets (turns per minute, tokens per day).
@Suite struct CoordinatorAgentTests {
    static let agents = """
    {"agents": {"kitchen": {"language": "en", "voice": "en-us"},
                "story": {"language": "ru"}},
     "bindings": {"devices": {"dev1": "kitchen"}, "tokens": {"tok-story": "story"}, "default": "kitchen"}}
    """

    /// ASR w1, TTS w3, an assistant worker per agent: w2 kitchen, w4 story.
    static func hub(_ json: String = agents) throws -> CoordinatorScript {
        var t = try CoordinatorScript(json: json)
        t.worker(1, [.asr])
        t.worker(3, [.tts])
        t.assistant(2, agents: ["kitchen"])
        t.assistant(4, agents: ["story"])
        return t
    }

    func params(_ t: CoordinatorScript, _ kind: WorkerKind) -> [(WorkerID, JSON)] {
        t.effects.compactMap {
            if case let .workerSend(w, .job(_, k, _, _, p), _) = $0, k == kind { return (w, WireEncoder.jobParams(p, session: "s")) }
            return nil
        }
    }

    @Test func devicesAreBoundByDeviceIDTokenOrDefaultAndJobsCarryTheAgent() throws {
        var t = try Self.hub()
        t.device(1)                                   // dev1: bound by device id
        t.connect(2, deviceID: "dev2", token: "tok-story")
        t.connect(3, deviceID: "dev3", token: "")     // the default
        t.listen(2)
        #expect(t.hasSubsequence(["session.agent session=s1 to=kitchen reason=device"]))
        #expect(t.hasSubsequence(["session.agent session=s2 to=story reason=token"]))
        #expect(t.hasSubsequence(["session.agent session=s3 to=kitchen reason=default"]))
        t.utter(1, "what's for dinner")
        t.utter(2, "tell me a story")
        let assistant = params(t, .assistant)
        #expect(assistant.count == 2)
        #expect(assistant[0].0 == WorkerID(2) && assistant[0].1["agent"]?.stringValue == "kitchen")
        #expect(assistant[0].1["language"]?.stringValue == "en")
        #expect(assistant[1].0 == WorkerID(4) && assistant[1].1["agent"]?.stringValue == "story")
        #expect(assistant[1].1["language"]?.stringValue == "ru")
        // The ASR hint and the TTS voice and language follow the agent.
        let asr = params(t, .asr)
        #expect(asr.contains { $0.1["language"]?.stringValue == "ru" })
        t.answer(1, ["Pasta tonight."])
        t.answer(2, ["Жил-был кот."])
        let tts = params(t, .tts).map(\.1)
        #expect(tts.contains { $0["text"]?.stringValue == "Pasta tonight." && $0["voice"]?.stringValue == "en-us" && $0["language"]?.stringValue == "en" })
        #expect(tts.contains { $0["text"]?.stringValue == "Жил-был кот." && $0["voice"]?.stringValue == "" && $0["language"]?.stringValue == "ru" })
    }

    @Test func aJobWaitsForItsAgentsWorkerWithoutHoldingUpOthers() throws {
        var t = try CoordinatorScript(json: Self.agents)
        t.worker(1, [.asr])
        t.worker(3, [.tts])
        t.assistant(2, agents: ["kitchen"], slots: 1)
        t.connect(2, deviceID: "dev2", token: "tok-story")   // story: no worker yet
        t.listen(2)
        t.device(1)                                          // kitchen
        t.utter(2, "a story please")
        t.utter(1, "dinner")
        // The kitchen job went to w2; the story job waits in the queue, not on w2.
        #expect(t.assistantJob(1)?.1 == WorkerID(2))
        #expect(t.assistantJob(2) == nil)
        #expect(t.c.jobs(of: SessionID(2)).contains { t.c.jobKind($0) == .assistant })
        // A story worker joins: the waiting job goes there.
        t.assistant(4, agents: ["story"])
        #expect(t.assistantJob(2)?.1 == WorkerID(4))
    }

    @Test func aJobForAnAgentNoWorkerServesFailsOpenAfterTheQueueTimeout() throws {
        var t = try CoordinatorScript(json: Self.agents)
        t.worker(1, [.asr])
        t.worker(3, [.tts])
        t.assistant(2, agents: ["kitchen"])
        t.connect(2, deviceID: "dev2", token: "tok-story")
        t.listen(2)
        t.utter(2, "a story please")
        t.advanceMs(3_500)
        #expect(t.hasSubsequence(["job.queued job_kind=assistant to=story", "job.timeout job_kind=assistant to=story reason=queue",
                                  "turn.fallback reason=assistant:no-worker"]))
        #expect(t.forbids(["job.dispatched job_kind=assistant"]))
        #expect(t.c.counters.placementFailures[WorkerKind.assistant.rawValue] == 1)
    }

    @Test func aWorkerThatNamesNoAgentServesEveryAgent() throws {
        var t = try CoordinatorScript(json: Self.agents)
        t.worker(1, [.asr])
        t.worker(3, [.tts])
        t.worker(2, [.assistant])
        t.connect(2, deviceID: "dev2", token: "tok-story")
        t.listen(2)
        t.utter(2, "a story please")
        #expect(t.assistantJob(2)?.1 == WorkerID(2))
    }

    @Test func aDeviceMovedAtRunTimeGetsTheNewAgentsWorkers() throws {
        var t = try Self.hub()
        t.device(1)
        t.utter(1, "dinner")
        #expect(t.assistantJob(1)?.1 == WorkerID(2))
        t.answer(1, ["Pasta."])
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(throws: VCError.self) { try t.c.moveDevice("dev1", to: "nobody") }
        try t.c.moveDevice("dev1", to: "story")
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        t.utter(1, "now a story")
        #expect(t.assistantJob(1)?.1 == WorkerID(4))
        #expect(t.hasSubsequence(["session.agent session=s1 from=kitchen to=story reason=moved"]))
        // A reconnect keeps the move.
        t.feed(.deviceDisconnected(SessionID(1), reason: "bye"))
        t.connect(5, deviceID: "dev1", token: "")
        #expect(t.hasSubsequence(["session.agent session=s5 to=story reason=moved"]))
    }

    @Test func aTurnInFlightFinishesWithTheAgentItStartedWith() throws {
        var t = try Self.hub()
        t.device(1)
        t.utter(1, "dinner")
        try t.c.moveDevice("dev1", to: "story")
        t.answer(1, ["Pasta tonight."])
        let tts = params(t, .tts).map(\.1)
        #expect(tts.count == 1 && tts[0]["voice"]?.stringValue == "en-us" && tts[0]["language"]?.stringValue == "en")
        #expect(t.c.agent(of: SessionID(1)) == "story")
    }

    @Test func theOperatorMovesADeviceAndListsAgents() throws {
        var t = try Self.hub()
        t.device(1)
        func call(_ id: UInt64, _ method: String, _ path: String, _ body: String? = nil) -> (Int, JSON) {
            let effects = t.feed(.adminRequest(AdminRequest(id: id, method: method, path: path, body: body.map { try! JSONParser.parse($0) })))
            for e in effects { if case let .httpRespond(i, a) = e, i == id { return (a.status, a.body.rendered(session: { $0.description })) } }
            return (0, .null)
        }
        #expect(call(1, "POST", "/api/v1/devices/nobody/agent", #"{"agent": "story"}"#).0 == 404)
        let bad = call(2, "POST", "/api/v1/devices/dev1/agent", #"{"agent": "cartoons"}"#)
        #expect(bad.0 == 400 && bad.1["error"]?.stringValue?.contains("unknown agent \"cartoons\"") == true)
        #expect(call(3, "POST", "/api/v1/devices/dev1/agent", #"{"agents": 1}"#).0 == 400)
        #expect(t.c.agent(of: SessionID(1)) == "kitchen")
        let moved = call(4, "POST", "/api/v1/devices/dev1/agent", #"{"agent": "story"}"#)
        #expect(moved.0 == 200 && moved.1["from"]?.stringValue == "kitchen" && moved.1["agent"]?.stringValue == "story")
        #expect(t.c.agent(of: SessionID(1)) == "story")
        let device = call(5, "GET", "/api/v1/devices/dev1")
        #expect(device.1["agent"]?.stringValue == "story")
        let agents = call(6, "GET", "/api/v1/agents")
        #expect(agents.0 == 200)
        let list = agents.1["agents"]?.arrayValue ?? []
        #expect(list.map { $0["name"]?.stringValue ?? "" } == ["kitchen", "story"])
        #expect(list[1]["language"]?.stringValue == "ru" && list[1]["workers"]?.int64Value == 1 && list[1]["devices"]?.int64Value == 1)
        #expect(list[0]["default"]?.boolValue == true)
    }

    @Test func configErrorsNameTheProblem() {
        func error(_ json: String) -> String {
            do {
                _ = try CoordinatorConfig(json: JSONParser.parse(json))
                return ""
            } catch let e as VCError { return e.message } catch { return "\(error)" }
        }
        #expect(error(#"{"agents": {"a": {}}, "bindings": {"devices": {"d": "b"}}}"#).contains("unknown agent \"b\""))
        #expect(error(#"{"agents": {"a": {}}, "bindings": {"default": "zz"}}"#).contains("unknown agent \"zz\""))
        #expect(error(#"{"agents": {"a": {}}, "bindings": {"devices": {"d": "a", "d": "a"}}}"#).contains("twice"))
        #expect(error(#"{"agents": {"a b": {}}}"#).contains("agent name"))
        #expect(error(#"{"agents": {"a": {"budgets": {"device": {"turns_per_minute": -1}}}}}"#).contains("turns_per_minute"))
        #expect(error(#"{"agents": {"a": {"prompt": "x"}}}"#).contains("agents.a.prompt"))
    }

    // MARK: budgets

    static let budgets = """
    {"agents": {"kitchen": {}, "story": {"budgets": {"device": {"turns_per_minute": 0}, "refusal_text": "Story time is over."}}},
     "bindings": {"devices": {"dev2": "story"}, "default": "kitchen"},
     "budgets": {"device": {"turns_per_minute": 2, "tokens_per_day": 100}, "refusal_text": "Enough for now."},
     "heartbeat_ms": 3600000, "missed_heartbeats": 100, "idle_timeout_ms": 86400000}
    """

    /// One finished text turn of the session (assistant answer, spoken, played).
    static func turn(_ t: inout CoordinatorScript, _ s: UInt64, usage: Int64? = nil) {
        t.feed(.textInput(SessionID(s), "hello"))
        guard let (job, w) = t.assistantJob(s) else { return }
        if let usage { t.feed(.workerOutput(w, job, .usage(model: "m1", prompt: usage - 5, completion: 5, total: usage))) }
        t.answer(s, ["Hi there."])
        t.speakAll(s)
        if let turn = t.c.currentTurn(of: SessionID(s)) { t.feed(.devicePlaybackDone(SessionID(s), turn)) }
    }

    @Test func turnsPerMinuteRefuseWithTheSpokenRefusalAndAnEvent() throws {
        var t = try Self.hub(Self.budgets)
        t.device(1)
        Self.turn(&t, 1)
        t.advanceMs(1_000)
        Self.turn(&t, 1)
        t.advanceMs(1_000)
        let before = t.log.count
        t.feed(.textInput(SessionID(1), "one more"))
        #expect(t.hasSubsequence(["budget.exceeded session=s1 to=kitchen reason=device.turns_per_minute text=dev1",
                                  "segment.queued"], since: before))
        #expect(t.log[before...].contains { $0["kind"]?.stringValue == "segment.queued" && $0["text"]?.stringValue == "Enough for now." })
        #expect(t.forbids(["job.queued job_kind=assistant"], since: before))
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), t.c.currentTurn(of: SessionID(1))!))
        #expect(t.hasSubsequence(["turn.ended reason=refused"], since: before))
        // A minute after the first turn, the window has room again.
        t.advanceMs(59_000)
        let later = t.log.count
        Self.turn(&t, 1)
        #expect(t.forbids(["budget.exceeded"], since: later))
        // Another agent lifts the per-device limit (0) and has its own refusal text.
        t.connect(2, deviceID: "dev2", token: "")
        for _ in 0..<4 { Self.turn(&t, 2) }
        #expect(t.forbids(["budget.exceeded session=s2"]))
    }

    @Test func tokensPerDayCountTheReportedUsageElseAnEstimate() throws {
        var t = try Self.hub(Self.budgets)
        t.device(1)
        Self.turn(&t, 1, usage: 60)
        #expect(t.hasSubsequence(["turn.usage session=s1 to=kitchen reason=reported value=60 text=m1"]))
        t.advanceMs(61_000)
        Self.turn(&t, 1)  // no usage reported: estimated from "hello" and "Hi there."
        #expect(t.hasSubsequence(["turn.usage session=s1 to=kitchen reason=estimated value=5"]))
        t.advanceMs(61_000)
        Self.turn(&t, 1, usage: 40)  // 105 ≥ 100 now
        t.advanceMs(61_000)      // the turns window is clear; the day is not
        let before = t.log.count
        t.feed(.textInput(SessionID(1), "again"))
        #expect(t.hasSubsequence(["budget.exceeded reason=device.tokens_per_day"], since: before))
        let rows = t.c.usage.rows
        #expect(rows.contains { $0.agent == "kitchen" && $0.model == "m1" && $0.tokens == 100 && $0.turns == 2 && $0.estimated == 0 })
        #expect(rows.contains { $0.agent == "kitchen" && $0.model == "unknown" && $0.tokens == 5 && $0.estimated == 1 })
        // The device's budget outlives its connection; a day after its first tokens it may talk again.
        t.feed(.deviceDisconnected(SessionID(1), reason: "bye"))
        t.connect(7, deviceID: "dev1", token: "")
        let reconnected = t.log.count
        t.feed(.textInput(SessionID(7), "still there?"))
        #expect(t.hasSubsequence(["budget.exceeded session=s7 reason=device.tokens_per_day"], since: reconnected))
        t.advance(BudgetUsage.dayUs)
        t.connect(8, deviceID: "dev1", token: "")
        let next = t.log.count
        t.feed(.textInput(SessionID(8), "good morning"))
        #expect(t.forbids(["budget.exceeded"], since: next))
        #expect(t.hasSubsequence(["job.queued job_kind=assistant"], since: next))
    }

    @Test func anAgentsTotalBudgetCoversAllItsDevices() throws {
        var t = try Self.hub("""
        {"agents": {"kitchen": {"budgets": {"agent": {"turns_per_minute": 3}}}}, "bindings": {"default": "kitchen"}}
        """)
        t.device(1)
        t.device(2)
        Self.turn(&t, 1)
        Self.turn(&t, 2)
        Self.turn(&t, 1)
        let before = t.log.count
        t.feed(.textInput(SessionID(2), "hi"))
        #expect(t.hasSubsequence(["budget.exceeded session=s2 to=kitchen reason=agent.turns_per_minute"], since: before))
    }

    @Test func speculationIsNotStartedOverBudget() throws {
        var t = try Self.hub(#"{"agents": {"kitchen": {}}, "bindings": {"default": "kitchen"}, "budgets": {"device": {"turns_per_minute": 1}}}"#)
        t.device(1)
        t.feed(.textInput(SessionID(1), "hi"))
        t.answer(1, ["Hello."])
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), t.c.currentTurn(of: SessionID(1))!))
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        let (job, w) = t.asrJob(1)!
        let before = t.log.count
        t.feed(.workerOutput(w, job, .speechStart))
        t.feed(.workerOutput(w, job, .speculative("tell me more")))
        #expect(t.forbids(["preempt.started"], since: before))
    }
}

extension CoordinatorScript {
    mutating func assistant(_ w: UInt64, agents: [String], slots: Int = 4) {
        feed(.workerConnected(WorkerID(w)))
        feed(.workerRegister(WorkerID(w), WorkerRegistration(name: "w\(w)", kinds: KindSet([.assistant]), slots: [.assistant: slots],
                                                              agents: agents)))
    }

    mutating func connect(_ s: UInt64, deviceID: String, token: String) {
        feed(.deviceConnected(SessionID(s), DeviceInfo(deviceID: deviceID, protocolVersion: 1, token: token)))
        feed(.deviceHello(SessionID(s), DeviceHello()))
    }

    mutating func listen(_ s: UInt64) { feed(.deviceListen(SessionID(s), .start(.auto))) }
}
