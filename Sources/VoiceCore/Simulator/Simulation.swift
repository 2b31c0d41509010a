/// A simulated voice fleet around the real Coordinator and Scheduler: devices with scripted users,
/// workers with latencies and faults, links with latency, partitions and outages, on a virtual
/// clock that jumps from event to event. Single-threaded; every choice comes from the seed's named
/// streams, so a run is reproducible to the event.
///
/// The Simulation is the host: it carries out the Coordinator's effects as the daemon would
/// (paced playback, timers, connections), and hands every effect and log entry to the
/// `InvariantChecker`.
public final class Simulation {
    public let options: SimOptions
    public let config: CoordinatorConfig
    var coordinator: Coordinator
    var queue = SimQueue()
    var rng: SimStreams
    var now: Int64 = 0
    var end: Int64
    /// Faults stop from here on (liveness mode: the quiet tail of the run).
    var faultsUntil: Int64
    var devices: [SimDevice]
    var workers: [SimWorker]
    var profile: FaultProfile
    var checker: InvariantChecker
    var stats = SimStats()
    var trace: [String] = []
    var tracedSessions = Set<SessionID>()

    // The host's view of connections and playback.
    var sessionDevice: [SessionID: Int] = [:]
    /// Every session's device, also after it closed (for reports).
    var sessionOwner: [SessionID: Int] = [:]
    var workerIndex: [WorkerID: Int] = [:]
    var playback: [SessionID: HostPlayback] = [:]
    var armedTimers: [TimerID: Int64] = [:]
    var nextSession: UInt64 = 1
    var nextWorker: UInt64 = 1
    var outageUntil: Int64 = 0
    var latencyFactor = 1.0
    var activeFaults = 0
    var lastFaultAt: Int64 = 0
    var logBuffer: [LogEntry] = []
    /// The session whose reply the last Coordinator step cut for speech over it (`backchannel-not-cut`).
    var cutBySpeech: SessionID?
    var bugRandom: SimRandom
    var batchWorkerSends: [(Int, WorkerMessage, [UInt8]?)] = []
    /// Injected bug `tts-segment-twice`: audio sent per (session, turn, segment), to replay.
    var sentAudio: [SessionID: [(TurnID, Int, [UInt8])]] = [:]
    /// Heals not yet checked (`Simulation+Heals.swift`), oldest first from `healsNext`.
    var heals: [HealCheck] = []
    /// Per worker index: since when the hub's slot count has disagreed with the worker's jobs.
    var slotDisagreeSince: [Int: Int64] = [:]
    var timeline: SimTimeline
    var healsNext = 0

    /// `device.pause` held the session's queue at this time: nothing plays until `device.resume`.
    var hostPausedAt: [SessionID: Int64] = [:]

    struct HostPlayback: Sendable {
        var turn: TurnID
        var playEnd: Int64
        var endTurn: TurnID?
        var flushed = false
    }

    public init(options: SimOptions) throws(VCError) {
        self.options = options
        var rng = SimStreams(seed: options.seed)
        bugRandom = SimRandom(seed: options.seed, stream: "bugs")
        var config = SimKnobs.config(buggify: options.buggify, rng: &rng.knobs, schedulerSeed: rng.schedulerSeed)
        config.preemptiveGeneration = options.preemption
        if options.turnsPerMinute > 0 { config.budgets.device.turnsPerMinute = options.turnsPerMinute }
        self.rng = rng
        self.config = config
        coordinator = try Coordinator(config: config)
        // An injected bug corrupts the Coordinator's state from outside: the checker reports it.
        coordinator.selfCheck = options.injectBug == nil
        end = min(options.durationUs, options.untilUs ?? Int64.max)
        faultsUntil = options.liveness ? options.durationUs - min(options.durationUs / 4, 900_000_000) : options.durationUs
        profile = FaultProfile(options.faults, devices: options.devices)
        devices = [SimDevice](repeating: SimDevice(), count: options.devices)
        workers = []
        checker = InvariantChecker(config: config, options: options)
        timeline = SimTimeline(durationUs: options.durationUs)
        buildFleet()
    }

    private func buildFleet() {
        func add(_ name: String, kinds: [WorkerKind], roles: [WorkerKind] = [], slots: [WorkerKind: Int], online: Bool) {
            workers.append(SimWorker(name: name, kinds: KindSet(kinds), roles: KindSet(roles), slots: slots, online: online))
        }
        // ASR streams hold a slot while a device listens: size ASR for the awake share of devices.
        let asrSlots = max(4, options.devices / max(1, options.asrWorkers + options.gpuWorkers) / 2 + 2)
        for i in 0..<options.asrWorkers {
            add("asr-\(i)", kinds: [.asr], slots: [.asr: asrSlots], online: true)
            if i < options.englishOnlyASR { workers[workers.count - 1].languages = ["en"] }
        }
        for i in 0..<options.assistantWorkers { add("assistant-\(i)", kinds: [.assistant], slots: [.assistant: 8], online: true) }
        for i in 0..<options.ttsWorkers { add("tts-\(i)", kinds: [.tts], slots: [.tts: 4], online: true) }
        for i in 0..<options.gpuWorkers {
            add("gpu-\(i)", kinds: [], roles: [.asr, .tts], slots: [.asr: asrSlots, .tts: 4], online: true)
        }
        // Spares that join (and leave) under faults.
        if options.faults != .none {
            add("spare-tts", kinds: [.tts], slots: [.tts: 4], online: false)
            add("spare-asr", kinds: [.asr], slots: [.asr: asrSlots], online: false)
        }
    }

    // MARK: the loop

    public func run() -> SimReport {
        for i in 0..<workers.count where workers[i].online {
            queue.schedule(.workerConnect(i), at: rng.workload.us(0, 2_000_000))
        }
        for i in 0..<devices.count {
            let at = rng.workload.us(3_000_000, 600_000_000)
            queue.schedule(.deviceConnect(i), at: at)
            devices[i].wantsConnection = true
            devices[i].disconnectedSince = at
            devices[i].turnsLeft = rng.workload.int(1...6)
        }
        for i in 0..<devices.count where speaksChinese(i) {
            queue.schedule(.toCore(.deviceLanguage(deviceID: "dev-\(i)", language: "zh-CN")), at: 0)
        }
        if profile.total > 0 { scheduleNextFault() }
        if options.saysPerHour > 0 {
            for i in 0..<devices.count { queue.schedule(.operatorSay(i), at: rng.workload.exponential(3_600_000_000 / options.saysPerHour)) }
        }
        queue.schedule(.checkpoint, at: 10_000_000)
        while let item = queue.pop() {
            if item.time > end { now = end; break }
            now = item.time
            stats.events += 1
            handle(item.event)
            if checker.violation != nil { break }
        }
        if checker.violation == nil { finishChecks() }
        return SimReport(sim: self)
    }

    private func handle(_ event: SimEvent) {
        switch event {
        case let .toCore(e): toCore(e)
        case let .coreTimer(t):
            guard armedTimers.removeValue(forKey: t) != nil else { return }
            feed(.timerFired(t))
        case let .toDevice(i, epoch, message): deviceReceives(i, epoch: epoch, message)
        case let .deviceStep(i, serial): deviceStep(i, serial: serial)
        case let .deviceFrame(i, epoch): deviceFrame(i, epoch: epoch)
        case let .deviceConnect(i): deviceConnect(i)
        case let .hostPlaybackDone(s, turn): hostPlaybackDone(s, turn)
        case let .toWorker(i, epoch, message, audio): workerReceives(i, epoch: epoch, message, audio)
        case let .workerJobStep(i, job, gen): workerJobStep(i, job, gen: gen)
        case let .workerJobStart(i, job, gen): workerJobStart(i, job, gen: gen)
        case let .workerHeartbeat(i, epoch): workerHeartbeat(i, epoch: epoch)
        case let .workerConnect(i): workerConnect(i)
        case let .operatorSay(i): operatorSay(i)
        case .fault: injectFault()
        case let .faultEnd(f): endFault(f)
        case .checkpoint:
            checker.checkpoint(now: now, coordinator: coordinator)
            if checker.violation == nil { checkFleetTruth() }
            checkHeals()
            sampleTimeline()
            queue.schedule(.checkpoint, at: now + 10_000_000)
        }
    }

    /// An input arrives at the host: it goes to the Coordinator unless its connection was closed.
    private func toCore(_ e: Event) {
        switch e {
        case let .deviceConnected(s, _):
            guard sessionDevice[s] != nil else { return }
        case .deviceHello(let s, _), .deviceListen(let s, _), .deviceAbort(let s, _), .deviceAudio(let s, _),
             .deviceMCP(let s, _), .textInput(let s, _), .devicePlaybackDone(let s, _):
            guard sessionDevice[s] != nil else { return }
        case .deviceDisconnected:
            break
        case let .workerConnected(w):
            guard workerIndex[w] != nil else { return }
        case .workerRegister(let w, _), .workerHeartbeat(let w, _), .workerSay(let w, _, _), .workerAccepted(let w, _), .workerOutput(let w, _, _),
             .workerAudio(let w, _, _, _), .workerDone(let w, _), .workerError(let w, _, _, _), .workerDrain(let w):
            guard workerIndex[w] != nil else { return }
        case .workerDisconnected, .timerFired, .configure, .adminRequest, .deviceLanguage:
            break
        }
        guard let (w, job) = Self.judgesSpeech(e) else { return feed(e) }
        let backchannel = heardBackchannel(w, job)
        feed(e)
        checkBackchannelNotCut(e, backchannel: backchannel, cut: cutBySpeech)
    }

    /// One Coordinator step: the event in, its effects carried out, its log checked.
    func feed(_ e: Event) {
        stats.coreEvents += 1
        cutBySpeech = nil
        checker.quiet = activeFaults == 0 && now - lastFaultAt > 120_000_000
        let effects = coordinator.handle(e, now: Instant(us: now))
        for effect in effects { apply(effect) }
        flushWorkerSends()
        var log = logBuffer
        logBuffer = []
        coordinator.log.drain { log.append($0) }
        if options.injectBug != nil { injectBugs(log) }
        for entry in log {
            if entry.kind == .turnCancelled, entry.reason == "barge-in" { cutBySpeech = entry.session }
            checker.observe(entry, playback: playback, open: sessionDevice)
            if options.traceDevice >= 0 { traceEntry(entry) }
        }
        log.removeAll(keepingCapacity: true)
        logBuffer = log
        checker.endBatch()
    }

    // MARK: effects (the host)

    private func apply(_ effect: Effect) {
        switch effect {
        case let .deviceSend(s, message):
            checker.deviceSend(s, message)
            sendToDevice(s, message)
        case let .deviceAudio(s, turn, segment, _, _, pcm):
            hostAudio(s, turn: turn, segment: segment, pcm)
        case let .deviceAudioEnd(s, turn):
            guard var p = playback[s], p.turn == turn else { return }
            if options.injectBug == .stuckSpeaking { return }
            p.endTurn = turn
            playback[s] = p
            queue.schedule(.hostPlaybackDone(s, turn), at: max(now, p.playEnd))
        case let .deviceFlush(s):
            checker.deviceFlush(s)
            if options.injectBug == .audioAfterBargeIn { return }
            if var p = playback[s] {
                p.playEnd = now
                p.flushed = true
                playback[s] = p
            }
            hostPausedAt[s] = nil
            sentAudio[s] = nil
        case let .devicePause(s, deviceDrops):
            checker.devicePause(s, deviceDrops: deviceDrops)
            if hostPausedAt[s] == nil { hostPausedAt[s] = now }
        case let .deviceResume(s):
            checker.deviceResume(s)
            if let at = hostPausedAt.removeValue(forKey: s), var p = playback[s] {
                // What was left to play at the pause plays from now on.
                if p.playEnd > at { p.playEnd += now - at }
                playback[s] = p
                if let t = p.endTurn { queue.schedule(.hostPlaybackDone(s, t), at: max(now, p.playEnd)) }
            }
        case let .deviceClose(s, _, _):
            closeSession(s, fromCore: true)
        case let .workerSend(w, message, audio):
            guard let i = workerIndex[w] else { return }
            if case let .job(id, .asr, s, _, params) = message { checkLanguagePlacement(id, s, on: i, params) }
            batchWorkerSends.append((i, message, audio))
        case let .workerClose(w, _, _):
            guard let i = workerIndex[w] else { return }
            workerIndex[w] = nil
            workerLost(i, tellCore: false)
        case let .timerSet(t, at):
            if options.injectBug == .stuckSpeaking, let purpose = coordinator.timers[t] {
                switch purpose {
                case .playback, .reply: return
                default: break
                }
            }
            armedTimers[t] = at.us
            queue.schedule(.coreTimer(t), at: max(now, at.us))
        case let .timerCancel(t):
            armedTimers[t] = nil
        case .httpRespond:
            break
        }
    }

    /// An operator's say to a connected device: a text or (one in three) an instruction for its
    /// assistant. The Coordinator decides when it is spoken; the checker watches that moment.
    private func operatorSay(_ i: Int) {
        queue.schedule(.operatorSay(i), at: now + rng.workload.exponential(3_600_000_000 / options.saysPerHour))
        guard devices[i].session != nil else { return }
        stats.says += 1
        let words = SimContent.sentence(&rng.workload, words: rng.workload.int(2...8)) + "."
        let body: JSON = rng.workload.chance(0.33) ? ["instruction": .string(words)] : ["text": .string(words)]
        queue.schedule(.toCore(.adminRequest(AdminRequest(id: UInt64(stats.says), method: "POST", path: "/api/v1/devices/dev-\(i)/say",
                                                          body: body))), at: now + rng.workload.us(1_000, 50_000))
    }

    /// Paced playback: the host queues the audio and knows when it will have played.
    private func hostAudio(_ s: SessionID, turn: TurnID, segment: Int, _ pcm: [UInt8]) {
        checker.deviceAudio(s, turn: turn, segment: segment, pcm, now: now)
        let durationUs = Int64(pcm.count / 2) * 1_000_000 / Int64(config.ttsSampleRate)
        var p = playback[s] ?? HostPlayback(turn: turn, playEnd: now)
        if p.turn != turn { p = HostPlayback(turn: turn, playEnd: now) }
        // Paused: it queues behind what was left at the pause (the resume shifts it all).
        p.playEnd = max(p.playEnd, hostPausedAt[s] ?? now) + durationUs
        playback[s] = p
        if options.injectBug == .ttsSegmentTwice {
            sentAudio[s, default: []].append((turn, segment, pcm))
            if sentAudio[s]!.count > 64 { sentAudio[s]!.removeFirst() }
        }
    }

    /// Injected bug `tts-segment-twice`: a retried segment's audio already sent is sent again.
    func replaySegment(_ s: SessionID, turn: TurnID, segment: Int) {
        guard let sent = sentAudio[s] else { return }
        for (t, k, pcm) in sent where t == turn && k == segment {
            hostAudio(s, turn: t, segment: k, pcm)
        }
    }

    private func hostPlaybackDone(_ s: SessionID, _ turn: TurnID) {
        guard let p = playback[s], p.turn == turn, p.endTurn == turn, !p.flushed, hostPausedAt[s] == nil, sessionDevice[s] != nil else { return }
        if p.playEnd > now {
            queue.schedule(.hostPlaybackDone(s, turn), at: p.playEnd)
            return
        }
        playback[s] = nil
        sendToDevice(s, .ttsStop)
        feed(.devicePlaybackDone(s, turn))
    }

    /// Groups one step's messages per worker into one delivery each, in order.
    private func flushWorkerSends() {
        guard !batchWorkerSends.isEmpty else { return }
        let sends = batchWorkerSends
        batchWorkerSends.removeAll(keepingCapacity: true)
        for (i, message, audio) in sends {
            let at = Self.arrival(now + linkDelay(base: 2_000), after: workers[i].lastDown, held: workers[i].heldUntil)
            workers[i].lastDown = at
            queue.schedule(.toWorker(i, epoch: workers[i].epoch, message, audio), at: at)
        }
    }

    /// The test-only bugs that act on what the Coordinator logged (see `InjectedBug`).
    private func injectBugs(_ log: [LogEntry]) {
        for e in log {
            switch (options.injectBug, e.kind) {
            case (.ttsSegmentTwice, .jobRetry):
                guard e.jobKind == .tts, let id = e.job, let j = coordinator.jobs[id], let s = e.session, let t = e.turn else { continue }
                replaySegment(s, turn: t, segment: j.segment)
            case (.leakedSlot, .jobDone):
                guard let id = e.job, let w = e.worker, let k = e.jobKind, let s = e.session,
                      let i = coordinator.scheduler.indexOf[w], bugRandom.chance(0.002) else { continue }
                coordinator.scheduler.place(QueuedJob(job: id, kind: k, session: s, priority: .first, enqueuedAt: e.time), on: i)
            default:
                continue
            }
        }
    }

    // MARK: links

    /// A link's one-way latency now: log-normal with a 1 % tail of ten times that, scaled
    /// during a latency spike.
    func linkDelay(base: Double) -> Int64 {
        var lat = rng.network.lognormal(median: base, sigma: 0.6)
        if rng.network.chance(0.01) { lat *= 10 }
        return Int64(Double(lat) * latencyFactor)
    }

    /// Arrival time on a link: FIFO after the direction's last arrival, held while partitioned.
    static func arrival(_ at: Int64, after last: Int64, held: Int64) -> Int64 {
        max(at, last, held)
    }

    func sendToDevice(_ s: SessionID, _ message: DeviceMessage) {
        guard let i = sessionDevice[s] else { return }
        let at = Self.arrival(now + linkDelay(base: 30_000), after: devices[i].lastDown, held: devices[i].heldUntil)
        devices[i].lastDown = at
        queue.schedule(.toDevice(i, epoch: devices[i].epoch, message), at: at)
    }

    func sendToCore(device i: Int, _ e: Event) {
        let at = Self.arrival(now + linkDelay(base: 30_000), after: devices[i].lastUp, held: devices[i].heldUntil)
        devices[i].lastUp = at
        queue.schedule(.toCore(e), at: at)
    }

    func sendToCore(worker i: Int, _ e: Event) {
        let at = Self.arrival(now + linkDelay(base: 2_000), after: workers[i].lastUp, held: workers[i].heldUntil)
        workers[i].lastUp = at
        queue.schedule(.toCore(e), at: at)
    }

    // MARK: trace

    func traceEntry(_ e: LogEntry) {
        guard let s = e.session, tracedSessions.contains(s), trace.count < 200_000 else { return }
        trace.append(SimTime.format(e.time.us) + " " + e.jsonLine(sessionName: { "dev-\(options.traceDevice)/\($0)" }))
    }

    func traceDevice(_ i: Int, _ what: String) {
        guard i == options.traceDevice, trace.count < 200_000 else { return }
        trace.append(SimTime.format(now) + " device dev-\(i): " + what)
    }
}

/// Counters of a run.
struct SimStats: Sendable {
    var says = 0
    var events: UInt64 = 0
    var coreEvents: UInt64 = 0
    var faults = [Int](repeating: 0, count: FaultProfile.Kind.allCases.count)
    var connects = 0
    var reconnects = 0
}
