import Testing
@testable import VoiceCore

/// The hub's view of its workers stays true: refusals, heartbeat reconciliation, frozen workers,
/// and the health verdict built on them.
@Suite struct CoordinatorFleetTests {
    /// Two TTS workers (3 and 5, `slots` each) plus ASR (1) and assistant (2); the user asks and
    /// the assistant answers one sentence, so one TTS job is dispatched.
    static func replyScript(_ json: String = #"{"heartbeat_ms": 1000}"#, slots: Int = 1, second: Bool = true) -> CoordinatorScript {
        var t = try! CoordinatorScript(json: json)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts], slots: slots)
        if second { t.worker(5, [.tts], slots: slots) }
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Hello there."])
        return t
    }

    /// Advances `ms` in steps of one heartbeat interval, each worker in `loads` sending its load.
    static func beat(_ t: inout CoordinatorScript, _ loads: [(UInt64, [WorkerKind: Int])], times: Int, everyMs: Int64 = 1000) {
        for _ in 0..<times {
            t.advanceMs(everyMs)
            for (w, load) in loads where t.c.scheduler.worker(WorkerID(w)) != nil { t.feed(.workerHeartbeat(WorkerID(w), load: load)) }
        }
    }

    // MARK: refusals

    @Test func refusalIsPlacedElsewhereAtOnceWithoutFailureOrBudget() {
        var t = Self.replyScript()
        let (job, w) = t.ttsJob(1, segment: 0)!
        let other = w == WorkerID(3) ? WorkerID(5) : WorkerID(3)
        let tokens = t.c.scheduler.retryTokens
        let mark = t.log.count
        t.feed(.workerError(w, job, message: "no free tts slot", retryable: true))
        #expect(t.hasSubsequence(["job.refused job=\(job.raw) job_kind=tts worker=\(w) value=1",
                                  "job.queued job=\(job.raw)", "job.dispatched job=\(job.raw) worker=\(other)"], since: mark))
        #expect(t.forbids(["job.failed", "job.retry", "worker.ejected"], since: mark))
        #expect(t.ttsJob(1, segment: 0)?.0 == job && t.ttsJob(1, segment: 0)?.1 == other)
        #expect(t.log.last { $0["kind"]?.stringValue == "job.refused" }?["reason"]?.stringValue == "no free tts slot")
        #expect(t.c.scheduler.worker(w)!.consecutiveFailures == 0)
        #expect(t.c.scheduler.retryTokens == tokens)
        #expect(t.c.counters.refusals[WorkerKind.tts.rawValue] == 1)
        #expect(t.c.scheduler.runningCount == t.c.jobCount - t.c.scheduler.queuedCount(.asr) - t.c.scheduler.queuedCount(.tts))
    }

    @Test func refusingWorkerIsFullUntilItsHeartbeatSaysOtherwiseSoNoPingPong() {
        var t = Self.replyScript()
        let (job, w) = t.ttsJob(1, segment: 0)!
        let other = w == WorkerID(3) ? WorkerID(5) : WorkerID(3)
        t.feed(.workerError(w, job, message: "no free tts slot", retryable: true))
        let mark = t.log.count
        // The other worker refuses too: the job waits rather than bouncing back to the first.
        t.feed(.workerError(other, job, message: "no free tts slot", retryable: true))
        #expect(t.hasSubsequence(["job.refused job=\(job.raw) worker=\(other) value=2", "job.queued job=\(job.raw)"], since: mark))
        #expect(t.count("job.dispatched", since: mark) == 0)
        #expect(t.c.scheduler.worker(w)!.freeSlots(.tts) == 0)
        // A heartbeat reporting room clears the mark: the job goes there.
        t.advanceMs(500)
        t.feed(.workerHeartbeat(w, load: [.tts: 0]))
        #expect(t.hasSubsequence(["job.dispatched job=\(job.raw) worker=\(w)"], since: mark))
    }

    @Test func refusalsNeverEjectAWorker() {
        var t = Self.replyScript(second: false)
        var refused = 0
        for _ in 0..<8 {
            guard let (job, w) = t.ttsJob(1, segment: 0) else { break }
            t.feed(.workerError(w, job, message: "no free tts slot", retryable: true))
            refused += 1
            t.feed(.workerHeartbeat(w, load: [.tts: 0]))
        }
        // max_refusals (4) bounds one job's refusals; then the next one is an ordinary failure.
        #expect(refused >= 4)
        #expect(t.count("job.refused") == 4)
        #expect(!t.c.scheduler.isEjected(WorkerID(3)))
    }

    @Test func errorAfterAcceptanceIsStillAFailure() {
        var t = Self.replyScript()
        let (job, w) = t.ttsJob(1, segment: 0)!
        t.feed(.workerAccepted(w, job))
        let mark = t.log.count
        t.feed(.workerError(w, job, message: "engine crashed", retryable: true))
        #expect(t.hasSubsequence(["job.failed job=\(job.raw)", "job.retry job_kind=tts reason=backoff"], since: mark))
        #expect(t.forbids(["job.refused"], since: mark))
    }

    // MARK: reconciliation

    @Test func jobsTheWorkerDoesNotReportAreMovedAfterThreeHeartbeats() {
        var t = Self.replyScript()
        let (job, w) = t.ttsJob(1, segment: 0)!
        let other = w == WorkerID(3) ? WorkerID(5) : WorkerID(3)
        let mark = t.log.count
        // Two disagreeing heartbeats: nothing yet.
        Self.beat(&t, [(w.raw, [.tts: 0]), (other.raw, [.tts: 0])], times: 2)
        #expect(t.forbids(["worker.reconciled"], since: mark))
        Self.beat(&t, [(w.raw, [.tts: 0]), (other.raw, [.tts: 0])], times: 1)
        #expect(t.hasSubsequence(["worker.reconciled job=\(job.raw) worker=\(w) reason=job-missing from=1 to=0",
                                  "job.failed job=\(job.raw) reason=job-missing", "job.retry job_kind=tts reason=redispatch",
                                  "job.dispatched job_kind=tts worker=\(other)"], since: mark))
        #expect(t.cancelled(in: nil).contains(job))
        #expect(t.c.counters.jobsReconciled == 1)
        #expect(t.c.scheduler.worker(w)!.running[WorkerKind.tts.rawValue] == 0)
    }

    @Test func aJobNeverAcceptedIsMovedWhileJobsSentSinceHideItInTheCount() {
        // A busy ASR worker: a device connects between every two heartbeats and its job, just
        // sent, is not yet settled; the worker reports one job fewer than the hub counts, never
        // fewer than the settled ones. The first device's job was never accepted: that is the
        // missing one, moved after three such heartbeats.
        var t = try! CoordinatorScript(json: #"{"heartbeat_ms": 1000}"#)
        t.worker(1, [.asr], slots: 8); t.worker(2, [.assistant]); t.worker(3, [.tts]); t.worker(4, [.asr], slots: 8)
        t.device(1)
        let (lost, w) = t.asrJob(1)!
        let mark = t.log.count
        var held = 0
        for n in 2...4 {
            t.advanceMs(1000)
            t.device(UInt64(n))
            if let (job, on) = t.asrJob(UInt64(n)), on == w { t.feed(.workerAccepted(w, job)); held += 1 }
            t.feed(.workerHeartbeat(w, load: [.asr: held]))
        }
        #expect(t.hasSubsequence(["worker.reconciled job=\(lost.raw) worker=\(w) reason=job-missing"], since: mark))
        #expect(t.count("worker.reconciled") == 1)
    }

    @Test func jobsInFlightAreNotMoved() {
        var t = Self.replyScript()
        let (_, w) = t.ttsJob(1, segment: 0)!
        let mark = t.log.count
        // Heartbeats sent before the job arrived (the hub dispatched it less than an interval ago).
        for _ in 0..<4 {
            t.advanceMs(100)
            t.feed(.workerHeartbeat(w, load: [.tts: 0]))
        }
        #expect(t.forbids(["worker.reconciled"], since: mark))
    }

    @Test func leakedSlotsCountAsOccupiedThenTheWorkerIsRecycled() {
        var t = Self.replyScript(#"{"heartbeat_ms": 1000, "recycle_heartbeats": 6}"#, slots: 2)
        let (job, w) = t.ttsJob(1, segment: 0)!
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        _ = job
        let leaky = w, good = w == WorkerID(3) ? WorkerID(5) : WorkerID(3)
        let mark = t.log.count
        // The worker reports both slots busy while the hub knows of none.
        Self.beat(&t, [(leaky.raw, [.tts: 2]), (good.raw, [.tts: 0]), (1, [:]), (2, [:])], times: 3)
        #expect(t.hasSubsequence(["worker.reconciled job_kind=tts worker=\(leaky) reason=leaked-slots from=0 to=2 value=2"], since: mark))
        #expect(t.c.scheduler.worker(leaky)!.freeSlots(.tts) == 0)
        #expect(t.c.counters.leaksMarked == 1)
        // New work goes to the other worker only.
        t.feed(.deviceListen(SessionID(1), .start(.auto)))
        let effectsMark = t.effects.count
        t.utter(1, "again")
        t.answer(1, ["One. ", "Two. ", "Three."])
        #expect(t.dispatched(to: leaky, kind: .tts, in: Array(t.effects[effectsMark...])).isEmpty)
        #expect(!t.dispatched(to: good, kind: .tts, in: Array(t.effects[effectsMark...])).isEmpty)
        // Persisting: recycled (closed) after recycle_heartbeats.
        Self.beat(&t, [(leaky.raw, [.tts: 2]), (good.raw, [.tts: 0]), (1, [:]), (2, [:])], times: 3)
        #expect(t.hasSubsequence(["worker.reconciled worker=\(leaky) reason=recycle", "worker.gone worker=\(leaky) reason=recycled"], since: mark))
        #expect(t.effects.contains { if case let .workerClose(x, code, _) = $0 { return x == leaky && code == 1008 } else { return false } })
        #expect(t.c.counters.recycles == 1)
    }

    @Test func aLeakThatClearsIsForgotten() {
        var t = Self.replyScript(slots: 2)
        let (_, w) = t.ttsJob(1, segment: 0)!
        t.speakAll(1)
        let mark = t.log.count
        Self.beat(&t, [(w.raw, [.tts: 1])], times: 3)
        #expect(t.hasSubsequence(["worker.reconciled worker=\(w) reason=leaked-slots value=1"], since: mark))
        #expect(t.c.scheduler.worker(w)!.freeSlots(.tts) == 1)
        Self.beat(&t, [(w.raw, [.tts: 0])], times: 1)
        #expect(t.hasSubsequence(["worker.reconciled worker=\(w) reason=leak-cleared"], since: mark))
        #expect(t.c.scheduler.worker(w)!.freeSlots(.tts) == 2)
    }

    // MARK: health

    @Test func healthDegradesWhenTheOnlyTTSWorkerIsFullOfLeakedSlotsAndRecovers() {
        var t = Self.replyScript(#"{"heartbeat_ms": 1000, "health_grace_ms": 5000}"#, second: false)
        t.speakAll(1)
        t.feed(.devicePlaybackDone(SessionID(1), TurnID(1)))
        let w = WorkerID(3)
        #expect(!t.c.health(at: Instant(us: t.now)).degraded)
        let mark = t.log.count
        Self.beat(&t, [(3, [.tts: 1]), (1, [:]), (2, [:])], times: 3)
        // Leak marked: full, but not yet for the grace period.
        #expect(t.c.kindHealth(.tts, at: Instant(us: t.now)).degraded == false)
        #expect(t.c.kindHealth(.tts, at: Instant(us: t.now + 5_000_000)).reason == "leaked")
        Self.beat(&t, [(3, [.tts: 1]), (1, [:]), (2, [:])], times: 5)
        #expect(t.c.health(at: Instant(us: t.now)).degraded)
        #expect(t.hasSubsequence(["health.changed job_kind=tts from=ok to=degraded reason=leaked"], since: mark))
        let json = t.c.healthJSON(at: Instant(us: t.now))
        #expect(json["status"]?.stringValue == "degraded")
        #expect(json["kinds"]?["tts"]?["reason"]?.stringValue == "leaked")
        #expect(json["reasons"]?.arrayValue?.count == 1)
        // The worker frees its slot: ok at once.
        Self.beat(&t, [(3, [.tts: 0]), (1, [:]), (2, [:])], times: 1)
        #expect(!t.c.health(at: Instant(us: t.now)).degraded)
        #expect(t.hasSubsequence(["health.changed job_kind=tts from=leaked to=ok reason=ok"], since: mark))
        _ = w
    }

    @Test func healthDegradesWhenJobsCannotBePlacedAndClearsWhenAWorkerComes() {
        var t = try! CoordinatorScript(json: #"{"heartbeat_ms": 1000000, "queue_timeout_ms": 3000}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant])
        t.device(1)
        #expect(t.c.kindHealth(.tts, at: Instant(us: t.now)).status == "absent")
        t.utter(1, "hello")
        t.answer(1, ["Hello there."])
        #expect(!t.c.health(at: Instant(us: t.now)).degraded)
        t.advanceMs(3000)  // the queue deadline: fails open
        #expect(t.c.counters.placementFailures[WorkerKind.tts.rawValue] == 1)
        t.advanceMs(2100)
        t.feed(.workerHeartbeat(WorkerID(1), load: [:]))
        #expect(t.c.kindHealth(.tts, at: Instant(us: t.now)).reason == "unplaced")
        #expect(t.hasSubsequence(["health.changed job_kind=tts to=degraded reason=unplaced"]))
        t.worker(3, [.tts])
        #expect(!t.c.health(at: Instant(us: t.now)).degraded)
        #expect(t.hasSubsequence(["health.changed job_kind=tts from=unplaced to=ok"]))
    }

    @Test func healthIsAQuery() {
        var t = Self.replyScript()
        let before = t.log.count
        _ = t.c.healthJSON(at: Instant(us: t.now + 60_000_000))
        t.feed(.workerHeartbeat(WorkerID(1), load: [.asr: 1]))
        #expect(t.log.count == before)
    }

    // MARK: frozen and hung workers (the defaults: 1 s heartbeats, 3 missed; 3 s TTS progress)

    /// Default config, two TTS workers (w3, w5); the first segment accepted by one of them (`w`).
    static func segmentAcceptedWithASpareTTSWorker() -> (CoordinatorScript, JobID, WorkerID, WorkerID) {
        var t = CoordinatorScript(CoordinatorConfig())
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts]); t.worker(5, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Hello there."])
        let (job, w) = t.ttsJob(1, segment: 0)!
        let other = w == WorkerID(3) ? WorkerID(5) : WorkerID(3)
        t.feed(.workerAccepted(w, job))
        return (t, job, w, other)
    }

    @Test func frozenTTSWorkerIsGoneAndItsSegmentMovesWithinThreeSeconds() {
        var (t, _, w, other) = Self.segmentAcceptedWithASpareTTSWorker()
        let stalled = t.now
        // The frozen worker sends nothing more; the others keep beating.
        var moved: Int64?
        for _ in 0..<40 {
            t.advanceMs(100)
            if t.now % 1_000_000 < 100_000 {
                for x: UInt64 in [1, 2] { t.feed(.workerHeartbeat(WorkerID(x), load: [:])) }
                t.feed(.workerHeartbeat(other, load: [:]))
            }
            if moved == nil, let (_, now) = t.ttsJob(1, segment: 0), now == other { moved = t.now }
        }
        #expect(t.hasSubsequence(["worker.gone worker=\(w) reason=heartbeat-timeout", "job.dispatched job_kind=tts worker=\(other)"]))
        #expect(moved != nil && moved! - stalled <= 3_100_000)
        #expect(t.c.counters.heartbeatTimeouts == 1)
    }

    @Test func hungTTSHandlerIsTimedOutAndMovedWithinThreeSeconds() {
        var (t, job, w, other) = Self.segmentAcceptedWithASpareTTSWorker()
        let mark = t.log.count
        // Heartbeats keep coming (the handler hangs, the process does not).
        Self.beat(&t, [(1, [:]), (2, [:]), (3, [.tts: w == WorkerID(3) ? 1 : 0]), (5, [.tts: w == WorkerID(5) ? 1 : 0])],
                  times: 3)
        t.advanceMs(200)
        #expect(t.hasSubsequence(["job.timeout job=\(job.raw) reason=progress", "job.failed job=\(job.raw) reason=timeout",
                                  "job.dispatched job_kind=tts worker=\(other)"], since: mark))
        #expect(t.c.counters.progressTimeouts == 1)
    }
}
