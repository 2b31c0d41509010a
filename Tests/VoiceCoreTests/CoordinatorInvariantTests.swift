import Testing
@testable import VoiceCore

/// The Coordinator's invariants (Coordinator+Invariants.swift): each family holds over a session
/// mid-reply, and each catches the corruption it names. The public API cannot break them (every
/// test here and in the Simulator runs with the debug self-check after each event), so each test
/// corrupts one piece of a live Coordinator's state the way a faulty transition would.
@Suite struct CoordinatorInvariantTests {
    /// Session 1 mid-reply: the user asked, the assistant answered two sentences and still runs,
    /// the first segment's TTS job runs on worker 3, the next utterance listens (realtime mode).
    static func midReply() -> CoordinatorScript {
        var t = CoordinatorScript.oneOfEach()
        t.device(1, mode: .realtime)
        t.utter(1, "what time is it")
        t.answer(1, ["It is noon. ", "Have a nice "], done: false)
        #expect(t.ttsJob(1, segment: 0) != nil)
        #expect(t.c.checkInvariants() == nil)
        return t
    }

    static func family(_ t: CoordinatorScript) -> String? { t.c.checkInvariants()?.invariant }

    @Test func aSlotHeldForNoRunningJobIsCaught() {
        let t = Self.midReply()
        let (job, w) = t.ttsJob(1, segment: 0)!
        // The slot of a job that ended is taken again behind the Coordinator's back.
        t.c.scheduler.place(QueuedJob(job: JobID(job.raw + 100), kind: .tts, session: SessionID(1), priority: .first,
                                      enqueuedAt: Instant(us: 0)), on: t.c.scheduler.indexOf[w]!)
        #expect(Self.family(t) == "worker-slots")
    }

    @Test func aJobInTwoPlacesOrUnknownToTheCoordinatorIsCaught() {
        let t = Self.midReply()
        let (job, _) = t.ttsJob(1, segment: 0)!
        // The running job is queued as well.
        t.c.scheduler.enqueue(QueuedJob(job: job, kind: .tts, session: SessionID(1), priority: .first, enqueuedAt: Instant(us: 0)))
        #expect(Self.family(t) == "job-placement")
        let u = Self.midReply()
        // The Scheduler queues a job the Coordinator does not hold.
        u.c.scheduler.enqueue(QueuedJob(job: JobID(9_999), kind: .asr, session: SessionID(1), priority: .first, enqueuedAt: Instant(us: 0)))
        #expect(Self.family(u) == "job-placement")
        let v = Self.midReply()
        // A job waiting for its backoff that never armed the timer.
        let asr = v.asrJob(1)!.0
        v.c.scheduler.cancel(asr, kind: .asr)
        v.c.jobs[asr]!.phase = .backoff
        v.c.cancelTimer(v.c.jobs[asr]!.timer)
        v.c.jobs[asr]!.timer = nil
        #expect(Self.family(v) == "job-placement")
    }

    @Test func aRegisteredWorkerUnknownToTheSchedulerIsCaught() {
        let t = Self.midReply()
        t.c.workerConnected(WorkerID(8))
        t.c.workers[WorkerID(8)]!.registered = true
        #expect(Self.family(t) == "worker-registry")
    }

    @Test func aTurnNamingAnotherTurnsJobIsCaught() {
        let t = Self.midReply()
        let s = SessionID(1)
        // The reply names the listening utterance's ASR job as its assistant.
        t.c.sessions[s]!.reply!.assistantJob = t.asrJob(1)!.0
        #expect(Self.family(t) == "session-turns")
        let u = Self.midReply()
        // The reply of the turn being heard: two replies for one turn.
        u.c.sessions[s]!.reply!.turn = u.c.sessions[s]!.utterance!.turn
        #expect(Self.family(u) == "session-turns")
        let v = Self.midReply()
        // A job no turn names (its owner forgot it).
        v.c.sessions[s]!.reply!.segments[0].job = nil
        #expect(Self.family(v) == "session-turns")
    }

    @Test func aHeldReplyOfAnotherTurnIsCaught() {
        let t = Self.midReply()
        let s = SessionID(1)
        t.c.sessions[s]!.held = HeldReply(turn: t.c.sessions[s]!.reply!.turn, text: "what time is it",
                                          splitter: ReplySplitter(options: t.c.config.splitter))
        #expect(Self.family(t) == "held-reply")
    }

    @Test func aTimerNoStateNamesOrOfAnotherPurposeIsCaught() {
        let t = Self.midReply()
        let watchdog = t.c.sessions[SessionID(1)]!.reply!.watchdog!
        t.c.timers[watchdog] = .idle(SessionID(1))
        #expect(Self.family(t) == "timer-ownership")
        let u = Self.midReply()
        _ = u.c.setTimer(.rebalance, at: Instant(us: 1))  // armed, but no state holds it
        #expect(Self.family(u) == "timer-ownership")
    }

    @Test func idsThatDoNotIncreaseAreCaught() {
        let t = Self.midReply()
        t.c.nextJob = 2
        #expect(Self.family(t) == "ids-increase")
        let u = Self.midReply()
        u.c.sessions[SessionID(1)]!.nextTurn = 1
        #expect(Self.family(u) == "ids-increase")
    }

    @Test func theSimulatorsCheckerReportsTheCoordinatorsInvariantsByName() throws {
        let sim = try Simulation(options: SimOptions(json: JSONParser.parse(#"{"seed": 1, "devices": 3, "duration": "40s", "faults": "none"}"#)))
        #expect(sim.run().passed)
        sim.coordinator.nextTimer = 1
        sim.checker.checkpoint(now: sim.now, coordinator: sim.coordinator)
        #expect(sim.checker.violation?.invariant == "ids-increase")
        #expect(InvariantChecker.names.contains("ids-increase") && InvariantChecker.names.contains("worker-slots"))
    }

    #if DEBUG
    /// Debug builds check after every event: the next event after a corruption traps.
    @Test func aDebugBuildTrapsAtTheFirstEventAfterACorruption() async {
        await #expect(processExitsWith: .failure) {
            let t = CoordinatorInvariantTests.midReply()
            t.c.nextJob = 1
            _ = t.c.handle(.timerFired(TimerID(UInt64.max - 1)), now: Instant(us: t.now))
        }
    }
    #endif
}
