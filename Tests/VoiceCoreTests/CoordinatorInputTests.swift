import Testing
@testable import VoiceCore

/// Invalid, duplicate, out-of-order and stale input: an `input.rejected` event with the reason
/// (or a `job.late` for a cancelled job), no state change, never a trap.
@Suite struct CoordinatorInputTests {
    func fleet() -> CoordinatorScript { .oneOfEach() }

    /// A stable picture of the state, to assert that a rejected event changed nothing.
    func snapshot(_ c: Coordinator) -> String {
        "\(c.sessionCount) \(c.jobCount) \(c.timerCount) \(c.scheduler.runningCount) " +
            c.sessions.keys.sorted().map { "\($0):\(c.phase(of: $0)!):\(c.currentTurn(of: $0).map(\.raw) ?? 0)" }.joined(separator: ",")
    }

    @Test func unknownIDsAreRejectedWithoutChangingState() {
        var t = fleet()
        t.device(1)
        let before = snapshot(t.c)
        let events: [(Event, String)] = [
            (.deviceAudio(SessionID(9), CoordinatorScript.frame), "unknown session"),
            (.deviceHello(SessionID(9), DeviceHello()), "unknown session"),
            (.deviceAbort(SessionID(9), reason: ""), "unknown session"),
            (.devicePlaybackDone(SessionID(9), TurnID(1)), "unknown session"),
            (.workerHeartbeat(WorkerID(9), load: [:]), "unknown worker"),
            (.workerAccepted(WorkerID(1), JobID(999)), "unknown job"),
            (.workerOutput(WorkerID(1), JobID(999), .partial("x")), "unknown job"),
            (.timerFired(TimerID(9999)), "unknown timer 9999"),
            (.workerDisconnected(WorkerID(42)), "unknown worker"),
        ]
        for (event, reason) in events {
            let n = t.log.count
            t.feed(event)
            #expect(t.c.lastRejection != nil)
            #expect(t.hasSubsequence(["input.rejected"], since: n))
            #expect((t.log.last?["reason"]?.stringValue ?? "").hasPrefix(reason))
        }
        #expect(snapshot(t.c) == before)
    }

    @Test func anotherWorkersJobIsRejectedAndTheWorkerIsTold() {
        var t = fleet()
        t.device(1)
        let (job, _) = t.asrJob(1)!
        t.feed(.workerOutput(WorkerID(3), job, .final("hijack", language: nil)))
        #expect(t.c.lastRejection != nil)
        #expect(t.last.contains { if case let .workerSend(w, .error(_, j), _) = $0 { return w == WorkerID(3) && j == job } else { return false } })
        #expect(t.assistantJob(1) == nil)
    }

    @Test func outputOfTheWrongKindIsRejected() {
        var t = fleet()
        t.device(1)
        let (job, w) = t.asrJob(1)!
        t.feed(.workerOutput(w, job, .delta("not an asr event")))
        #expect(t.c.lastRejection?.message == "output not valid for a asr job")
        t.feed(.workerAudio(w, job, last: false, [0, 0]))
        #expect(t.c.lastRejection != nil)
    }

    @Test func messagesBeforeHelloOrRegisterAreRejected() {
        var t = CoordinatorScript()
        t.feed(.deviceConnected(SessionID(1), DeviceInfo()))
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        #expect(t.c.lastRejection?.message == "message before hello")
        t.feed(.workerConnected(WorkerID(1)))
        t.feed(.workerHeartbeat(WorkerID(1), load: [:]))
        #expect(t.c.lastRejection?.message == "message before register")
        t.feed(.workerRegister(WorkerID(1), WorkerRegistration(kinds: KindSet())))
        #expect(t.c.lastRejection?.message == "register: no kinds")
        t.feed(.deviceConnected(SessionID(2), DeviceInfo(protocolVersion: 7)))
        #expect(t.c.lastRejection != nil && t.c.sessionCount == 1)
    }

    @Test func duplicateConnectsAndRegistrationsAreRejected() {
        var t = fleet()
        t.device(1)
        t.feed(.deviceConnected(SessionID(1), DeviceInfo()))
        #expect(t.c.lastRejection?.message == "session already connected")
        t.feed(.workerConnected(WorkerID(1)))
        #expect(t.c.lastRejection?.message == "worker already connected")
        t.feed(.workerRegister(WorkerID(1), WorkerRegistration(kinds: KindSet([.asr]))))
        #expect(t.c.lastRejection?.message == "worker already registered")
        // A repeated hello is answered again (the firmware retries), not rejected.
        t.feed(.deviceHello(SessionID(1), DeviceHello()))
        #expect(t.c.lastRejection == nil && t.deviceMessages(SessionID(1), in: t.last) == [.hello])
    }

    @Test func duplicateAndOutOfOrderWorkerMessagesAreHarmless() {
        var t = fleet()
        t.device(1)
        t.utter(1, "hello")
        let (a, aw) = t.assistantJob(1)!
        t.feed(.workerAccepted(aw, a))
        t.feed(.workerAccepted(aw, a))  // duplicate
        #expect(t.count("job.accepted") == 1)
        t.feed(.workerOutput(aw, a, .delta("Hello there this is one sentence.")))
        t.feed(.workerDone(aw, a))
        t.feed(.workerDone(aw, a))  // duplicate done: the job is finished, quietly ignored
        #expect(t.c.lastRejection == nil)
        t.feed(.workerOutput(aw, a, .delta("after done")))  // out of order: late
        #expect(t.c.lastRejection == nil && t.count("job.late") == 1)
        let (s0, sw) = t.ttsJob(1, segment: 0)!
        t.feed(.workerAudio(sw, s0, last: false, [1, 1, 1, 1]))
        t.feed(.workerOutput(sw, s0, .segmentDone))
        t.feed(.workerOutput(sw, s0, .segmentDone))  // duplicate segment_done
        t.feed(.workerAudio(sw, s0, last: true, [2, 2]))  // audio after the end: late, never delivered
        #expect(t.deviceAudio(SessionID(1)).flatMap(\.pcm) == [1, 1, 1, 1])
        #expect(t.effects.filter { if case .deviceAudioEnd = $0 { return true } else { return false } }.count == 1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))  // duplicate: stale, ignored
        #expect(t.count("turn.ended turn=1") == 1)
    }

    @Test func stalePlaybackDoneOfAnOldTurnDoesNotEndTheCurrentOne() {
        var t = fleet()
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Hello there friend."])
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(7)))
        #expect(t.count("turn.ended") == 0)
        #expect(t.c.phase(of: SessionID(1)) == .thinking)
    }

    @Test func timeGoingBackwardsIsRejected() {
        var t = fleet()
        t.now -= 10
        t.feed(.deviceConnected(SessionID(1), DeviceInfo()))
        #expect(t.c.lastRejection != nil && t.c.sessionCount == 0)
    }

    @Test func wireRejectsMalformedEventsWithReasons() throws {
        var wire = try CoordinatorWire(config: CoordinatorConfig())
        func event(_ kind: WireEvent.Kind, session: UInt64 = 0, worker: UInt64 = 0, _ body: String = "") -> WireEvent {
            WireEvent(kind, session: session, worker: worker, text: body)
        }
        var timer = WireEvent(.timerFired)
        timer.timer = 0
        let cases: [(WireEvent, String)] = [
            (WireEvent(kind: 99), "unknown event kind 99"),
            (event(.deviceConnected), "session id must be in 1...2^63-1, not 0"),
            (event(.deviceMessage, session: 7, #"{"type":"hello"}"#), "unknown session"),
            (event(.workerMessage, worker: 7, #"{"type":"drain"}"#), "unknown worker"),
            (timer, "timer fired: bad timer id 0"),
        ]
        for (e, reason) in cases {
            #expect(throws: VCError.self) { try wire.handle(e, nowUs: 0) }
            var last: String?
            while let line = wire.nextLogLine() { last = line }
            #expect(last?.contains(#""kind":"input.rejected""#) == true)
            #expect(try JSONParser.parse(last ?? "{}")["reason"]?.stringValue == reason)
        }
        while wire.nextEffect() != nil {}
        try wire.handle(event(.deviceConnected, session: 1), nowUs: 0)
        while wire.nextEffect() != nil {}  // the hello timer
        let deviceCases: [(String, String, Status)] = [
            (#"{"type":"hello","transport":"udp"}"#, "hello: transport \"udp\" is not supported (websocket)", .unsupported),
            (#"{"type":"listen","state":"start","mode":"psychic"}"#, "listen: unknown mode \"psychic\"", .parse),
            (#"{"type":"listen"}"#, "message: missing \"state\"", .parse),
            (#"{"type":"teleport"}"#, "unknown device message type \"teleport\"", .parse),
            (#"[1]"#, "message must be a JSON object", .parse),
            (#"{"type":"#, "malformed JSON: JSON: unexpected end of input at byte 8", .corrupt),
            (#"{"type":"hello","type":"abort"}"#, "malformed JSON: duplicate key \"type\"", .corrupt),
        ]
        for (message, reason, status) in deviceCases {
            do {
                try wire.handle(event(.deviceMessage, session: 1, message), nowUs: 0)
                Issue.record("accepted \(message)")
            } catch {
                #expect(error.message == reason)
                #expect(error.status == status)
            }
            // The device is answered with the reason, in an error message for it.
            var answers: [WireEffect] = []
            while let e = wire.nextEffect() { answers.append(e) }
            #expect(answers.count == 1 && answers[0].kind == .deviceSend && answers[0].session == 1)
            #expect(try JSONParser.parse(answers[0].body ?? "")["message"]?.stringValue == reason)
        }
        #expect(wire.core.sessionCount == 1)
    }

    @Test func wireIdsAreTheHostsAndEffectsAreTyped() throws {
        var wire = try CoordinatorWire(config: CoordinatorConfig())
        try wire.handle(WireEvent(.deviceConnected, session: 12), nowUs: 0)
        var timer: WireEffect?
        while let e = wire.nextEffect() { if e.kind == .timerSet { timer = e } }
        #expect(timer != nil && timer!.atUs == 10_000_000)
        try wire.handle(WireEvent(.deviceMessage, session: 12, text: #"{"type":"hello"}"#), nowUs: 1)
        var hello: WireEffect?
        while let e = wire.nextEffect() { if e.kind == .deviceSend { hello = e } }
        #expect(hello?.session == 12 && hello?.flags == WireEffect.hello)
        #expect(try JSONParser.parse(hello?.body ?? "")["session_id"]?.stringValue == "s12")
        var lines: [String] = []
        while let l = wire.nextLogLine() { lines.append(l) }
        #expect(lines.contains { $0.contains(#""session":"s12""#) })
        // A session that says nothing is closed by the core with the policy-violation code.
        try wire.handle(WireEvent(.deviceConnected, session: 13), nowUs: 2)
        var t13: UInt64 = 0
        while let e = wire.nextEffect() { if e.kind == .timerSet { t13 = e.timer } }
        var fired = WireEvent(.timerFired)
        fired.timer = t13
        try wire.handle(fired, nowUs: 20_000_000)
        var close: WireEffect?
        while let e = wire.nextEffect() { if e.kind == .deviceClose { close = e } }
        #expect(close?.session == 13 && close?.code == 1008 && close?.body == "hello-timeout")
    }
}

@Suite struct CoordinatorConfigTests {
    @Test func configurationChangesAtRunTime() throws {
        var wire = try CoordinatorWire(config: CoordinatorConfig())
        try wire.handle(WireEvent(.config, text: #"{"fallback_text":"Oops.","queue_timeout_ms":500}"#), nowUs: 0)
        #expect(wire.core.config.fallbackText == "Oops.")
        #expect(wire.core.config.queueTimeoutUs == 500_000)
        #expect(wire.core.config.idleTimeoutUs == 120_000_000)  // untouched keys keep their values
        var lines: [String] = []
        while let l = wire.nextLogLine() { lines.append(l) }
        #expect(lines.last?.contains(#""kind":"config.applied""#) == true)
        #expect(throws: VCError.self) {
            try wire.handle(WireEvent(.config, text: #"{"queue_timeout":1}"#), nowUs: 1)
        }
        #expect(wire.core.config.queueTimeoutUs == 500_000)
    }

    @Test func newQueueDeadlineAppliesToTheNextTurn() {
        var t = CoordinatorScript()
        t.worker(1, [.asr]); t.worker(3, [.tts])
        var c = t.c.config
        c.queueTimeoutUs = 500_000
        c.fallbackText = "No assistant."
        t.feed(.configure(c))
        t.device(1)
        t.utter(1, "hello")
        t.advanceMs(600)
        #expect(t.hasSubsequence(["config.applied", "turn.fallback turn=1 reason=assistant:no-worker"]))
        #expect(t.c.sessions[SessionID(1)]?.reply?.segments.first?.text == "No assistant.")
    }
}
