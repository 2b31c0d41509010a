import Testing
@testable import VoiceCore

@Suite struct SchedulerTests {
    let t0 = Instant(us: 0)

    func job(_ id: UInt64, _ kind: WorkerKind = .tts, session: UInt64 = 1, _ p: JobPriority = .later,
             preferred: WorkerID? = nil, avoid: WorkerID? = nil) -> QueuedJob {
        QueuedJob(job: JobID(id), kind: kind, session: SessionID(session), priority: p, preferred: preferred, avoid: avoid, enqueuedAt: t0)
    }

    func scheduler(workers: Int, kind: WorkerKind = .tts, slots: Int = 1, config: SchedulerConfig = SchedulerConfig()) -> Scheduler {
        var s = Scheduler(config: config)
        for i in 1...workers { s.register(WorkerID(UInt64(i)), WorkerRegistration(kinds: KindSet([kind]), slots: [kind: slots]), now: t0) }
        return s
    }

    @Test func servesPriorityClassesInOrder() {
        var s = scheduler(workers: 1)
        s.enqueue(job(1, .tts, .background))
        s.enqueue(job(2, .tts, .later))
        s.enqueue(job(3, .tts, .first))
        var order: [UInt64] = []
        for _ in 0..<3 {
            let p = s.nextPlacement(now: t0)!
            order.append(p.job.job.raw)
            s.finish(p.job.job, success: true, now: t0)
        }
        #expect(order == [3, 2, 1])
    }

    @Test func roundRobinsSessionsInsideAClass() {
        var s = scheduler(workers: 1)
        for i in 1...4 { s.enqueue(job(UInt64(i), session: 1)) }
        s.enqueue(job(10, session: 2))
        s.enqueue(job(11, session: 3))
        var order: [UInt64] = []
        while let p = s.nextPlacement(now: t0) {
            order.append(p.job.session.raw)
            s.finish(p.job.job, success: true, now: t0)
        }
        #expect(order == [1, 2, 3, 1, 1, 1])
    }

    @Test func agentJobsGoOnlyToTheirAgentsWorkersAndWaitWithoutBlockingOthers() {
        var s = Scheduler()
        s.register(WorkerID(1), WorkerRegistration(kinds: KindSet([.assistant]), slots: [.assistant: 1], agents: ["kitchen"]), now: t0)
        s.register(WorkerID(2), WorkerRegistration(kinds: KindSet([.assistant]), slots: [.assistant: 1], agents: ["story"]), now: t0)
        func agentJob(_ id: UInt64, _ agent: String, session: UInt64) -> QueuedJob {
            QueuedJob(job: JobID(id), kind: .assistant, session: SessionID(session), priority: .first, enqueuedAt: t0, agent: agent)
        }
        s.enqueue(agentJob(1, "story", session: 1))
        s.enqueue(agentJob(2, "story", session: 2))   // waits: the story worker is busy with job 1
        s.enqueue(agentJob(3, "kitchen", session: 3))
        s.enqueue(agentJob(4, "cartoons", session: 4)) // no worker serves it
        var placed: [(UInt64, UInt64)] = []
        while let p = s.nextPlacement(now: t0) { placed.append((p.job.job.raw, p.worker.raw)) }
        #expect(placed.map(\.0) == [1, 3] && placed.map(\.1) == [2, 1])
        #expect(s.queuedCount(.assistant) == 2)
        #expect(s.canServe(.assistant, agent: "story") && !s.canServe(.assistant, agent: "cartoons"))
        s.finish(JobID(1), success: true, now: t0)
        let next = s.nextPlacement(now: t0)
        #expect(next?.job.job == JobID(2) && next?.worker == WorkerID(2))
        #expect(s.nextPlacement(now: t0) == nil)
        // A worker that names no agent serves every agent.
        s.register(WorkerID(3), WorkerRegistration(kinds: KindSet([.assistant]), slots: [.assistant: 1]), now: t0)
        #expect(s.nextPlacement(now: t0)?.job.job == JobID(4))
        #expect(s.servedAgents(.assistant) == ["kitchen", "story"])
    }

    func asrJob(_ id: UInt64, _ language: String, session: UInt64, preferred: WorkerID? = nil) -> QueuedJob {
        QueuedJob(job: JobID(id), kind: .asr, session: SessionID(session), priority: .first, preferred: preferred, enqueuedAt: t0,
                  language: language)
    }

    func asrWorker(_ s: inout Scheduler, _ id: UInt64, slots: Int = 2, languages: [String] = []) {
        s.register(WorkerID(id), WorkerRegistration(kinds: KindSet([.asr]), slots: [.asr: slots], languages: languages), now: t0)
    }

    @Test func jobsGoToAWorkerNamingTheirLanguageThenToOneHearingEveryLanguage() {
        var s = Scheduler()
        asrWorker(&s, 1, languages: ["en"])  // tiny.en
        asrWorker(&s, 2)                     // multilingual base
        s.enqueue(asrJob(1, "en-US", session: 1))
        s.enqueue(asrJob(2, "zh-CN", session: 2))
        s.enqueue(asrJob(3, "auto", session: 3))  // detection: only a multilingual model tells languages apart
        s.enqueue(asrJob(4, "en", session: 4))
        var placed: [UInt64: UInt64] = [:]
        while let p = s.nextPlacement(now: t0) { placed[p.job.job.raw] = p.worker.raw }
        #expect(placed == [1: 1, 2: 2, 3: 2, 4: 1])
        // The English worker is full: the next English job goes to the multilingual one.
        s.finish(JobID(2), success: true, now: t0)
        s.enqueue(asrJob(5, "en", session: 5))
        #expect(s.nextPlacement(now: t0)?.worker == WorkerID(2))
    }

    @Test func aJobWaitsForAWorkerThatHearsItsLanguageRatherThanGoToOneThatDoesNot() {
        var s = Scheduler()
        asrWorker(&s, 1, slots: 4, languages: ["en"])
        asrWorker(&s, 2, slots: 1)
        s.enqueue(asrJob(1, "zh", session: 1))
        s.enqueue(asrJob(2, "ru", session: 2))  // waits: the multilingual worker is busy
        s.enqueue(asrJob(3, "en", session: 3))  // and does not hold up an English job
        var placed: [UInt64: UInt64] = [:]
        while let p = s.nextPlacement(now: t0) { placed[p.job.job.raw] = p.worker.raw }
        #expect(placed == [1: 2, 3: 1])
        #expect(s.queuedCount(.asr) == 1)
        // Affinity to the worker that heard the session last yields to the language.
        s.finish(JobID(1), success: true, now: t0)
        _ = s.cancel(JobID(2), kind: .asr)
        s.enqueue(asrJob(4, "zh", session: 1, preferred: WorkerID(1)))
        #expect(s.nextPlacement(now: t0)?.worker == WorkerID(2))
        // With no worker that hears it registered (or one draining), a job goes to any: heard badly beats not heard.
        s.drain(WorkerID(2))
        s.enqueue(asrJob(5, "ja", session: 5))
        #expect(s.nextPlacement(now: t0)?.worker == WorkerID(1))
    }

    @Test func languagesDoNotEnterPlacementUntilAWorkerNamesThem() {
        // Workers that name no language: the same placements, in the same order, as jobs without one.
        func placements(_ language: String) -> [UInt64] {
            var s = Scheduler()
            for i in 1...4 { asrWorker(&s, UInt64(i), slots: 3) }
            for j in 1...10 { s.enqueue(asrJob(UInt64(j), language, session: UInt64(j))) }
            var out: [UInt64] = []
            while let p = s.nextPlacement(now: t0) { out.append(p.worker.raw) }
            return out
        }
        #expect(placements("zh") == placements(""))
        #expect(Set(placements("zh")).count == 4)
    }

    @Test func cancelledQueuedJobsAreSkipped() {
        var s = scheduler(workers: 1)
        s.enqueue(job(1)); s.enqueue(job(2))
        let removed = s.cancel(JobID(1), kind: .tts)
        #expect(removed)
        #expect(s.queuedCount(.tts) == 1)
        #expect(s.nextPlacement(now: t0)?.job.job == JobID(2))
        #expect(s.nextPlacement(now: t0) == nil)
    }

    @Test func respectsSlotsAndReleasesThem() {
        var s = scheduler(workers: 2, slots: 2)
        for i in 1...5 { s.enqueue(job(UInt64(i))) }
        var placed: [Scheduler.Placement] = []
        while let p = s.nextPlacement(now: t0) { placed.append(p) }
        #expect(placed.count == 4)
        #expect(Set(placed.map(\.worker)).count == 2)
        s.finish(placed[0].job.job, success: true, now: t0)
        #expect(s.nextPlacement(now: t0)?.worker == placed[0].worker)
    }

    @Test func powerOfTwoChoicesPicksTheLessLoadedWorker() {
        var s = scheduler(workers: 2, slots: 8)
        // Load worker 1 with five jobs through affinity.
        for i in 1...5 { s.enqueue(job(UInt64(i), preferred: WorkerID(1))); _ = s.nextPlacement(now: t0) }
        for i in 10..<14 {
            s.enqueue(job(UInt64(i)))
            #expect(s.nextPlacement(now: t0)?.worker == WorkerID(2))
        }
    }

    @Test func affinityAndAvoidance() {
        var s = scheduler(workers: 3, slots: 4)
        s.enqueue(job(1, preferred: WorkerID(3)))
        #expect(s.nextPlacement(now: t0)?.worker == WorkerID(3))
        for i in 2..<30 {
            s.enqueue(job(UInt64(i), avoid: WorkerID(2)))
            let p = s.nextPlacement(now: t0)!
            #expect(p.worker != WorkerID(2))
            s.finish(p.job.job, success: true, now: t0)
        }
    }

    @Test func drainingWorkersGetNoNewJobs() {
        var s = scheduler(workers: 2, slots: 4)
        s.drain(WorkerID(1))
        for i in 1...6 {
            s.enqueue(job(UInt64(i)))
            if let p = s.nextPlacement(now: t0) { #expect(p.worker == WorkerID(2)) }
        }
        #expect(!s.canServe(.asr))
        #expect(s.canServe(.tts))
    }

    @Test func ejectsAfterFiveConsecutiveFailuresForAGrowingInterval() {
        var s = scheduler(workers: 4, slots: 10)
        func fail(_ w: UInt64, _ n: Int, at now: Instant) {
            for i in 0..<n {
                let id = JobID(UInt64(w) * 1000 + UInt64(i) + UInt64(now.us / 1000))
                s.enqueue(QueuedJob(job: id, kind: .tts, session: SessionID(1), priority: .first, preferred: WorkerID(w), enqueuedAt: now))
                let p = s.nextPlacement(now: now)!
                #expect(p.worker == WorkerID(w))
                s.finish(id, success: false, now: now)
            }
        }
        fail(1, 4, at: t0)
        #expect(!s.isEjected(WorkerID(1)))
        fail(1, 1, at: t0)
        #expect(s.isEjected(WorkerID(1)))
        #expect(s.worker(WorkerID(1))!.ejectedUntil == Instant(us: 30_000_000))
        // Ejected: no placements on worker 1, even when preferred.
        for i in 0..<20 {
            s.enqueue(job(UInt64(50_000 + i), preferred: WorkerID(1)))
            let p = s.nextPlacement(now: Instant(us: 1_000_000))!
            #expect(p.worker != WorkerID(1))
            s.finish(p.job.job, success: true, now: Instant(us: 1_000_000))
        }
        // Restored after 30 s; the second ejection lasts 60 s.
        s.enqueue(job(60_000, preferred: WorkerID(1)))
        #expect(s.nextPlacement(now: Instant(us: 30_000_000))?.worker == WorkerID(1))
        s.finish(JobID(60_000), success: true, now: Instant(us: 30_000_000))
        fail(1, 5, at: Instant(us: 31_000_000))
        #expect(s.worker(WorkerID(1))!.ejectedUntil == Instant(us: 91_000_000))
        let restored = s.takeHealthChanges().restored
        #expect(restored == [WorkerID(1)])
    }

    @Test func ejectsAtMostTheConfiguredShareAndUsesEjectedWorkersWhenNoneIsLeft() {
        var config = SchedulerConfig()
        config.maxEjectedShare = 0.5
        var s = scheduler(workers: 2, slots: 10, config: config)
        for w in [UInt64(1), 2] {
            for i in 0..<5 {
                let id = JobID(UInt64(w) * 100 + UInt64(i))
                s.enqueue(QueuedJob(job: id, kind: .tts, session: SessionID(1), priority: .first, preferred: WorkerID(w), enqueuedAt: t0))
                _ = s.nextPlacement(now: t0)
                s.finish(id, success: false, now: t0)
            }
        }
        #expect(s.isEjected(WorkerID(1)))
        #expect(!s.isEjected(WorkerID(2)))  // 50 % of 2 workers: only one may be out
        // A pool of one, ejected: it is used anyway rather than serving nobody.
        var one = scheduler(workers: 1, slots: 10)
        for i in 0..<5 {
            one.enqueue(job(UInt64(i)))
            _ = one.nextPlacement(now: t0)
            one.finish(JobID(UInt64(i)), success: false, now: t0)
        }
        #expect(one.isEjected(WorkerID(1)))
        one.enqueue(job(99))
        #expect(one.nextPlacement(now: t0)?.worker == WorkerID(1))
    }

    @Test func backoffFollowsGRPCScaledWithJitter() {
        var s = Scheduler()
        let expected: [Double] = [50_000, 80_000, 128_000, 204_800]
        for (i, base) in expected.enumerated() {
            for _ in 0..<50 {
                let d = Double(s.retryDelay(attempt: i + 1))
                #expect(d >= base * 0.8 - 1 && d <= base * 1.2 + 1)
            }
        }
        #expect(s.retryDelay(attempt: 100) <= 6_000_000 * 12 / 10)
    }

    @Test func retryBudgetRunsOutAndRefills() {
        var s = scheduler(workers: 1, slots: 100)
        var allowed = 0
        for _ in 0..<20 where s.takeRetryToken(.tts) { allowed += 1 }
        #expect(allowed == 4)  // tokens 10 → 9..6 are above half of 10
        let refused = !s.takeRetryToken(.tts)
        #expect(refused)
        for i in 0..<100 {
            s.enqueue(job(UInt64(i)))
            let p = s.nextPlacement(now: t0)!
            s.finish(p.job.job, success: true, now: t0)
        }
        let again = s.takeRetryToken(.tts)
        #expect(again)
    }

    @Test func sameSeedSameChoices() {
        func run(seed: UInt64) -> [UInt64] {
            var config = SchedulerConfig()
            config.seed = seed
            var s = scheduler(workers: 20, slots: 3, config: config)
            var out: [UInt64] = []
            for i in 0..<40 {
                s.enqueue(job(UInt64(i), session: UInt64(i % 7)))
                if let p = s.nextPlacement(now: t0) { out.append(p.worker.raw) }
            }
            return out
        }
        #expect(run(seed: 7) == run(seed: 7))
        #expect(run(seed: 7) != run(seed: 8))
    }

    @Test func removingAWorkerReturnsItsRunningJobs() {
        var s = scheduler(workers: 1, slots: 3)
        for i in 1...3 { s.enqueue(job(UInt64(i))); _ = s.nextPlacement(now: t0) }
        #expect(s.remove(WorkerID(1)) == [JobID(1), JobID(2), JobID(3)])
        #expect(s.runningCount == 0 && s.workerCount == 0)
    }

    @Test func rebalancesMultiRoleWorkersByPressureWithHysteresis() {
        var s = Scheduler()
        s.register(WorkerID(1), WorkerRegistration(kinds: KindSet([.asr]), slots: [.asr: 1]), now: t0)
        s.register(WorkerID(2), WorkerRegistration(kinds: KindSet([.tts]), slots: [.tts: 1]), now: t0)
        s.register(WorkerID(3), WorkerRegistration(kinds: KindSet([.asr]), roles: KindSet([.asr, .tts]), slots: [.asr: 1, .tts: 1]), now: t0)
        #expect(s.rebalance(now: t0).isEmpty)  // no pressure anywhere
        for i in 0..<6 { s.enqueue(job(UInt64(i), .tts)) }
        _ = s.nextPlacement(now: t0)
        let changes = s.rebalance(now: t0)
        #expect(changes.count == 1 && changes[0].worker == WorkerID(3))
        #expect(changes[0].to == KindSet([.tts]))
        #expect(s.worker(WorkerID(3))!.kinds == KindSet([.tts]))
        // At most one change per interval, even when pressure flips.
        for i in 100..<120 { s.enqueue(job(UInt64(i), .asr)) }
        #expect(s.rebalance(now: Instant(us: 1_000_000)).isEmpty)
        #expect(s.rebalance(now: Instant(us: 31_000_000)).count == 1)
    }
}

@Suite struct CoordinatorRebalanceTests {
    @Test func multiRoleWorkerIsToldItsRoles() {
        var t = try! CoordinatorScript(json: #"{"heartbeat_ms": 1000000, "queue_timeout_ms": 100000}"#)
        t.feed(.workerConnected(WorkerID(7)))
        t.feed(.workerRegister(WorkerID(7), WorkerRegistration(kinds: KindSet(), roles: KindSet([.asr, .tts]), slots: [.asr: 1, .tts: 1])))
        #expect(t.last.contains { if case let .workerSend(_, .roles(k), _) = $0 { return k == KindSet([.asr]) } else { return false } })
        t.worker(1, [.tts], slots: 1)
        t.worker(2, [.asr], slots: 1)
        t.worker(3, [.assistant])
        for s in UInt64(1)...4 {
            t.feed(.deviceConnected(SessionID(s), DeviceInfo()))
            t.feed(.deviceHello(SessionID(s), DeviceHello()))
            t.feed(.textInput(SessionID(s), "hi"))
            if let (a, w) = t.assistantJob(s) { t.feed(.workerOutput(w, a, .delta("One more. Two more. Three more. Four.\n"))) }
        }
        t.advanceMs(30_000)
        #expect(t.hasSubsequence(["worker.roles worker=w7 from=asr to=tts", "job.dispatched job_kind=tts worker=w7"]))
        #expect(t.effects.contains { if case let .workerSend(w, .roles(k), _) = $0 { return w == WorkerID(7) && k == KindSet([.tts]) } else { return false } })
    }
}
