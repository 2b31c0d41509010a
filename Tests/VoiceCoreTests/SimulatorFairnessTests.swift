import Testing
@testable import VoiceCore

/// The `fairness` invariant at the bound the Scheduler's round robin gives: between a session
/// starting to wait in a class and its next dispatch there, no other session is dispatched twice.
/// The order the real FairQueue produces passes; an order that serves one session twice in a row
/// while another waits is caught.
@Suite struct SimulatorFairnessTests {
    let worker = WorkerID(1)

    func checker() throws -> InvariantChecker {
        var c = InvariantChecker(config: CoordinatorConfig(), options: SimOptions())
        c.workerSlots[worker] = [.tts: 100]
        c.observe(LogEntry(time: Instant(us: 0), kind: .workerRegistered, worker: worker, to: "tts"), playback: [:], open: [:])
        return c
    }

    /// Queues `jobs` (session per job, in order), then dispatches them in `order` (indices).
    func replay(_ sessions: [UInt64], dispatch order: [Int]) throws -> InvariantChecker.Violation? {
        var c = try checker()
        var t: Int64 = 1
        for (i, s) in sessions.enumerated() {
            c.observe(LogEntry(time: Instant(us: t), kind: .jobQueued, session: SessionID(s), job: JobID(UInt64(i + 1)),
                               jobKind: .tts, reason: "later"), playback: [:], open: [:])
            t += 1
        }
        for i in order {
            c.observe(LogEntry(time: Instant(us: t), kind: .jobDispatched, session: SessionID(sessions[i]),
                               job: JobID(UInt64(i + 1)), jobKind: .tts, worker: worker), playback: [:], open: [:])
            t += 1
        }
        return c.violation
    }

    @Test func theRealFairQueueOrderPasses() throws {
        // Session 1 queues four segments, 2 and 3 two each, interleaved as a Coordinator would.
        let sessions: [UInt64] = [1, 1, 2, 1, 3, 1, 2, 3]
        var q = FairQueue()
        for (i, s) in sessions.enumerated() {
            q.push(QueuedJob(job: JobID(UInt64(i + 1)), kind: .tts, session: SessionID(s), priority: .later, enqueuedAt: Instant(us: 0)))
        }
        var order: [Int] = []
        while let j = q.pop() { order.append(Int(j.job.raw) - 1) }
        #expect(order.map { sessions[$0] } == [1, 2, 3, 1, 2, 3, 1, 1])
        #expect(try replay(sessions, dispatch: order) == nil)
    }

    @Test func aSecondDispatchWhileAnotherSessionWaitsIsCaught() throws {
        // 1, 1 while session 2 waits: the second dispatch of session 1 overtakes session 2.
        let v = try #require(try replay([1, 1, 2], dispatch: [0, 1, 2]))
        #expect(v.invariant == "fairness")
        #expect(v.session == SessionID(2))
    }

    @Test func aSessionThatStartsWaitingLaterIsNotOvertakenTwice() throws {
        // Session 1 was served once before session 2 queued: one more is fine, a third is not.
        var c = try checker()
        func queued(_ job: UInt64, _ s: UInt64) {
            c.observe(LogEntry(time: Instant(us: 1), kind: .jobQueued, session: SessionID(s), job: JobID(job), jobKind: .tts, reason: "later"), playback: [:], open: [:])
        }
        func dispatched(_ job: UInt64, _ s: UInt64) {
            c.observe(LogEntry(time: Instant(us: 2), kind: .jobDispatched, session: SessionID(s), job: JobID(job), jobKind: .tts, worker: worker), playback: [:], open: [:])
        }
        queued(1, 1); queued(2, 1); queued(3, 1)
        dispatched(1, 1)
        queued(4, 2)
        dispatched(2, 1)
        #expect(c.violation == nil)
        dispatched(3, 1)
        #expect(c.violation?.invariant == "fairness")
    }
}
