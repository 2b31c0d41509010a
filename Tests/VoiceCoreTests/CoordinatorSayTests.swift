import Testing
@testable import VoiceCore

/// Speaking first (Coordinator+Say.swift) and the admin API router (Coordinator+Admin.swift):
/// when a say may start, what waits, and what is dropped.
@Suite struct CoordinatorSayTests {
    func fleet() -> CoordinatorScript { .oneOfEach() }

    /// POST /api/v1/devices/{device}/say through the router; the answer of request `id`.
    @discardableResult
    func say(_ t: inout CoordinatorScript, _ device: String, _ body: String, id: UInt64 = 1) -> (Int, JSON) {
        let effects = t.feed(.adminRequest(AdminRequest(id: id, method: "POST", path: "/api/v1/devices/\(device)/say",
                                                        body: try! JSONParser.parse(body))))
        for e in effects {
            if case let .httpRespond(r, answer) = e, r == id { return (answer.status, answer.body.rendered(session: { $0.description })) }
        }
        Issue.record("no answer to request \(id)")
        return (0, .null)
    }

    func ttsStarts(_ t: CoordinatorScript, _ s: UInt64, since: Int = 0) -> Int {
        t.effects[since...].filter { if case let .deviceSend(x, .ttsStart) = $0 { return x == SessionID(s) } else { return false } }.count
    }

    @Test func anIdleListeningDeviceSpeaksAtOnceAndListensAgainAfterwards() {
        var t = fleet()
        t.device(1)
        let (status, body) = say(&t, "dev1", #"{"text": "Dinner is ready. Please come to the kitchen."}"#)
        #expect(status == 202)
        #expect(body["status"]?.stringValue == "speaking")
        #expect(body["session"]?.stringValue == "s1")
        #expect(t.hasSubsequence(["say.queued reason=api to=text value=1", "turn.cancelled turn=1 reason=say",
                                  "turn.started turn=2 reason=say", "say.started turn=2 value=1",
                                  "segment.queued turn=2 value=0", "segment.queued turn=2 value=1"]))
        // No assistant job: the text is spoken as it is.
        #expect(t.c.sessions[SessionID(1)]?.reply?.assistantJob == nil)
        t.speakAll(1)
        #expect(ttsStarts(t, 1) == 1)
        #expect(t.deviceAudio(SessionID(1)).first?.start == "Dinner is ready.")
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(2)))
        #expect(t.hasSubsequence(["turn.ended turn=2 reason=done", "say.done turn=2 value=1"]))
        // `tts start` ended the device's listening (auto mode); after `tts stop` it says `listen start` again.
        #expect(t.c.phase(of: SessionID(1)) == .idle)
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        #expect(t.hasSubsequence(["say.done", "turn.started turn=3"]))
        #expect(t.c.phase(of: SessionID(1)) == .listening)
    }

    @Test func aSayWaitsWhileTheUserSpeaksAndStartsWhenTheReplyEnds() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        let (status, body) = say(&t, "dev1", #"{"text": "Your timer is done."}"#)
        #expect(status == 202 && body["status"]?.stringValue == "queued" && body["says_ahead"]?.int64Value == 0)
        #expect(t.count("say.started") == 0)
        // The user's turn finishes: transcript, reply — the say still waits behind that reply.
        t.feed(.workerOutput(w, job, .speechEnd))
        t.feed(.workerOutput(w, job, .final("what time is it", language: nil)))
        t.feed(.workerDone(w, job))
        #expect(t.count("say.started") == 0)
        t.answer(1, ["It is noon."])
        t.speakAll(1)
        #expect(t.count("say.started") == 0)
        #expect(ttsStarts(t, 1) == 1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=done", "say.started value=1"]))
        let sayTurn = t.c.currentTurn(of: SessionID(1))
        t.speakAll(1)
        #expect(ttsStarts(t, 1) == 2)
        #expect(t.deviceAudio(SessionID(1)).last?.start == nil || t.deviceAudio(SessionID(1)).contains { $0.start == "Your timer is done." })
        t.feed(.devicePlaybackDone(SessionID(1), sayTurn!))
        #expect(t.count("say.done value=1") == 1)
    }

    @Test func manualModeHoldsTheSayWhileTheButtonIsHeld() {
        var t = fleet()
        t.device(1, mode: .manual)
        say(&t, "dev1", #"{"text": "Hello."}"#)
        #expect(t.count("say.started") == 0)
        t.feed(.deviceListen(SessionID(1), .stop))
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .final("", language: nil)))
        #expect(t.hasSubsequence(["turn.ended turn=1 reason=empty", "say.started turn=2 value=1"]))
    }

    @Test func saysWaitInOrderAndTheDeviceLeavingDropsThem() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        say(&t, "dev1", #"{"text": "First."}"#, id: 1)
        let (_, second) = say(&t, "dev1", #"{"instruction": "tell the user the laundry is done"}"#, id: 2)
        #expect(second["says_ahead"]?.int64Value == 1)
        t.feed(.deviceDisconnected(SessionID(1), reason: "gone"))
        #expect(t.hasSubsequence(["say.dropped reason=device-left value=1", "say.dropped reason=device-left value=2",
                                  "session.gone"]))
        #expect(t.count("say.started") == 0)
        #expect(t.c.jobCount == 0)
        // The device is gone: a new say is 404.
        let (status, body) = say(&t, "dev1", #"{"text": "Anyone?"}"#, id: 3)
        #expect(status == 404 && body["error"]?.stringValue == #"device "dev1" is not connected"#)
    }

    @Test func anInstructionIsPhrasedByAnAssistantJob() {
        var t = fleet()
        t.device(1)
        say(&t, "dev1", #"{"instruction": "wish the user good morning"}"#)
        let (job, _) = t.assistantJob(1)!
        let sent = t.effects.compactMap { e -> JSON? in
            if case let .workerSend(_, .job(id, _, _, _, params), _) = e, id == job { return WireEncoder.jobParams(params, session: "s1") }
            return nil
        }
        #expect(sent.first?["instruction"] == .bool(true))
        #expect(sent.first?["text"]?.stringValue == "wish the user good morning")
        t.answer(1, ["Good morning! ", "Did you sleep well?"])
        t.speakAll(1)
        #expect(t.deviceAudio(SessionID(1)).first?.start == "Good morning!")
    }

    @Test func bargeInOnASayDropsIt() {
        var t = fleet()
        t.device(1)
        say(&t, "dev1", #"{"text": "A long announcement."}"#)
        t.feed(.deviceAbort(SessionID(1), reason: "wake_word_detected"))
        #expect(t.hasSubsequence(["say.started value=1", "turn.cancelled turn=2", "say.dropped turn=2 value=1"]))
    }

    @Test func theAdminAPIRefusesBadSays() {
        var t = fleet()
        t.device(1)
        let cases: [(String, Int, String)] = [
            (#"{"text": ""}"#, 400, "text is empty"),
            (#"{"text": "   "}"#, 400, "text is empty"),
            (#"{"text": 5}"#, 400, "\"text\" must be a string"),
            (#"{"text": "a", "instruction": "b"}"#, 400, "give \"text\" or \"instruction\", not both"),
            (#"{}"#, 400, "the body needs \"text\" (spoken as is) or \"instruction\" (phrased by the assistant)"),
            (#"{"text": "a", "voice": "x"}"#, 400, "unknown field \"voice\""),
            (#"["text"]"#, 400, "the body must be a JSON object: {\"text\": \"...\"} or {\"instruction\": \"...\"}"),
            ("{\"text\": \"\(String(repeating: "é", count: 1001))\"}", 400, "text is longer than 1000 characters"),
        ]
        for (i, (body, status, message)) in cases.enumerated() {
            let (got, answer) = say(&t, "dev1", body, id: UInt64(10 + i))
            #expect(got == status && answer["error"]?.stringValue == message, "\(body)")
        }
        #expect(t.count("say.queued") == 0)
        // A full queue is 429.
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .speechStart))
        for i in 0..<Coordinator.sayMaxQueued { #expect(say(&t, "dev1", #"{"text": "x"}"#, id: UInt64(100 + i)).0 == 202) }
        #expect(say(&t, "dev1", #"{"text": "x"}"#, id: 200).0 == 429)
    }

    @Test func theRouterAnswers404And405AndListsDevices() {
        var t = fleet()
        t.device(1)
        t.device(2)
        func call(_ method: String, _ path: String, id: UInt64) -> (Int, JSON) {
            for e in t.feed(.adminRequest(AdminRequest(id: id, method: method, path: path))) {
                if case let .httpRespond(r, a) = e, r == id { return (a.status, a.body.rendered(session: { $0.description })) }
            }
            return (0, .null)
        }
        let (status, list) = call("GET", "/api/v1/devices", id: 1)
        #expect(status == 200)
        #expect(list["devices"]?.arrayValue?.compactMap { $0["device_id"]?.stringValue } == ["dev1", "dev2"])
        #expect(list["devices"]?.arrayValue?.first?["state"]?.stringValue == "listening")
        #expect(call("GET", "/api/v1/devices/dev2", id: 2).1["session"]?.stringValue == "s2")
        #expect(call("GET", "/api/v1/devices/nope", id: 3).0 == 404)
        #expect(call("GET", "/api/v1/devices/dev1/say", id: 4).0 == 405)
        #expect(call("POST", "/api/v1/devices", id: 5).0 == 405)
        #expect(call("GET", "/api/v1/", id: 6).0 == 404)
        #expect(call("GET", "/api/v1/devices/dev1/extra/segments", id: 7).0 == 404)
        #expect(t.hasSubsequence(["admin.request value=200", "admin.request value=404"]))
    }

    @Test func aWorkerSayReachesTheDeviceOrIsAnsweredWithAnError() {
        var t = fleet()
        t.device(1)
        t.feed(.workerSay(WorkerID(2), deviceID: "dev1", .text("Time to stretch.")))
        #expect(t.hasSubsequence(["say.queued reason=worker value=1", "say.started value=1"]))
        let answer = t.feed(.workerSay(WorkerID(2), deviceID: "nobody", .text("Hello?")))
        #expect(answer.contains { if case let .workerSend(w, .error(m, job: nil), _) = $0 { return w == WorkerID(2) && m.contains("not connected") } else { return false } })
        #expect(t.count("say.dropped reason=not-connected") == 1)
        t.feed(.workerSay(WorkerID(2), deviceID: "dev1", .text("")))
        #expect(t.c.lastRejection != nil)
    }
}

/// The Simulator with operators' says at random moments, beside users talking, barging in and
/// hanging up under faults: no say ever starts over the user or beside a reply in flight.
@Suite struct SimulatorSayTests {
    func run(_ json: String) throws -> JSON {
        var sim = try Simulation(options: SimOptions(json: JSONParser.parse(json)))
        return try JSONParser.parse(sim.run().json)
    }

    @Test func saysStartOnlyWhenTheUserIsNotTalkingAndNoReplyIsInFlight() throws {
        for (seed, faults) in [(1, "none"), (2, "moderate"), (3, "harsh")] {
            let r = try run(#"{"seed": \#(seed), "devices": 20, "duration": "30m", "faults": "\#(faults)", "says_per_hour": 240}"#)
            #expect(r["violation"] == .null, "\(r["violation"]?.serialized ?? "")")
            let says = r["says"]
            #expect((says?["requested"]?.int64Value ?? 0) > 20)
            #expect((says?["started"]?.int64Value ?? 0) > 10)
            #expect((says?["done"]?.int64Value ?? 0) > 5)
            #expect(r["violation"]?["command"] == nil)
        }
    }

    @Test func theCheckerCatchesASayOverTheUser() {
        var checker = InvariantChecker(config: CoordinatorConfig(), options: SimOptions())
        let s = SessionID(1)
        checker.observe(LogEntry(time: Instant(us: 1), kind: .turnStarted, session: s, turn: TurnID(1), reason: "auto"), playback: [:], open: [s: 0])
        checker.observe(LogEntry(time: Instant(us: 2), kind: .turnMark, session: s, turn: TurnID(1), reason: "speech_start"), playback: [:], open: [s: 0])
        checker.observe(LogEntry(time: Instant(us: 3), kind: .sayStarted, session: s, turn: TurnID(2), value: 1), playback: [:], open: [s: 0])
        #expect(checker.violation?.invariant == "say-not-over-user")
    }

    @Test func theSaysOptionIsInTheReproCommand() throws {
        let o = try SimOptions(json: JSONParser.parse(#"{"says_per_hour": 12}"#))
        #expect(o.command.hasSuffix(" --says-per-hour 12.0"))
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"says_per_hour": -1}"#)) }
    }
}
