import VoiceCore

/// Coordinator throughput on a realistic mix: 1,000 concurrent sessions in auto mode, each turn
/// 40 uplink audio frames, an ASR final, 12 assistant deltas (3 segments), 8 TTS chunks per
/// segment, playback done — round robin over the sessions, so all are always mid-turn.
struct CoordinatorLoad {
    enum Step { case speak, frames(Int), final, deltas(Int), tts(Int), playback, listen }

    struct Driver {
        var step: Step = .speak
        var asr: (JobID, WorkerID)?
        var assistant: (JobID, WorkerID)?
        var tts: [(JobID, WorkerID)] = []
        var ttsChunk = 0
        var turn = TurnID(1)
        var audioEnd = false
    }

    static let deltas = ["It is ", "sunny and ", "warm today. ", "Tomorrow ", "there will ", "be some ", "rain in ",
                         "the afternoon. ", "Take an ", "umbrella ", "with ", "you."]

    let sessions: Int
    var c: Coordinator
    var drivers: [Driver]
    var now: Int64 = 1_000_000
    var events = 0
    let frame = [UInt8](repeating: 7, count: 1920)
    let chunk = [UInt8](repeating: 9, count: 4800)

    init(sessions: Int, storeLog: Bool) {
        self.sessions = sessions
        var config = CoordinatorConfig()
        config.log = storeLog
        config.heartbeatMs = 3_600_000
        c = try! Coordinator(config: config)
        drivers = [Driver](repeating: Driver(), count: sessions)
        var w: UInt64 = 1
        for (kind, count, slots) in [(WorkerKind.asr, 100, 16), (.assistant, 50, 32), (.tts, 100, 32)] {
            for _ in 0..<count {
                apply(.workerConnected(WorkerID(w)))
                apply(.workerRegister(WorkerID(w), WorkerRegistration(kinds: KindSet([kind]), slots: [kind: slots])))
                w += 1
            }
        }
        for s in 0..<sessions {
            let id = SessionID(UInt64(s + 1))
            apply(.deviceConnected(id, DeviceInfo(deviceID: "dev\(s)")))
            apply(.deviceHello(id, DeviceHello()))
            apply(.deviceListen(id, .start(.auto)))
        }
        events = 0
    }

    /// Handles one event and lets the drivers see the effects they need (job ids, audio end).
    mutating func apply(_ event: consuming Event) {
        let out = c.handle(event, now: Instant(us: now))
        events += 1
        for e in out {
            switch e {
            case let .workerSend(w, .job(id, kind, s, _, _), _):
                let i = Int(s.raw) - 1
                switch kind {
                case .asr: drivers[i].asr = (id, w)
                case .assistant: drivers[i].assistant = (id, w)
                case .tts: drivers[i].tts.append((id, w))
                case .llm: break
                }
            case let .deviceAudioEnd(s, turn):
                drivers[Int(s.raw) - 1].audioEnd = true
                drivers[Int(s.raw) - 1].turn = turn
            default: break
            }
        }
    }

    /// Advances session i by one event.
    mutating func stepSession(_ i: Int) {
        let s = SessionID(UInt64(i + 1))
        switch drivers[i].step {
        case .speak:
            guard let (j, w) = drivers[i].asr else { return }
            apply(.workerOutput(w, j, .speechStart))
            drivers[i].step = .frames(0)
        case let .frames(n):
            apply(.deviceAudio(s, frame))
            drivers[i].step = n + 1 < 40 ? .frames(n + 1) : .final
        case .final:
            let (j, w) = drivers[i].asr!
            drivers[i].asr = nil
            apply(.workerOutput(w, j, .final("what is the weather like today", language: nil)))
            drivers[i].step = .deltas(0)
        case let .deltas(n):
            guard let (j, w) = drivers[i].assistant else { return }
            if n < Self.deltas.count {
                apply(.workerOutput(w, j, .delta(Self.deltas[n])))
                drivers[i].step = .deltas(n + 1)
            } else {
                apply(.workerDone(w, j))
                drivers[i].assistant = nil
                drivers[i].step = .tts(0)
            }
        case let .tts(k):
            guard k < drivers[i].tts.count else {
                if drivers[i].audioEnd { drivers[i].step = .playback }
                return
            }
            let (j, w) = drivers[i].tts[k]
            if drivers[i].ttsChunk < 8 {
                apply(.workerAudio(w, j, last: false, chunk))
                drivers[i].ttsChunk += 1
            } else {
                apply(.workerOutput(w, j, .segmentDone))
                drivers[i].ttsChunk = 0
                drivers[i].step = .tts(k + 1)
            }
        case .playback:
            apply(.devicePlaybackDone(s, drivers[i].turn))
            drivers[i].tts.removeAll(keepingCapacity: true)
            drivers[i].audioEnd = false
            drivers[i].step = .listen
        case .listen:
            apply(.deviceListen(s, .start(.auto)))
            drivers[i].step = .speak
        }
    }

    /// Runs `total` events; returns (events/s, turns completed, log entries).
    static func run(sessions: Int, total: Int, storeLog: Bool) -> (rate: Double, wallRate: Double, turns: Int, logEntries: UInt64) {
        var load = CoordinatorLoad(sessions: sessions, storeLog: storeLog)
        load.c.log.drain { _ in }
        let firstSeq = load.c.log.nextSeq
        let start = Clock.ns()
        let cpuStart = Clock.cpuNs()
        var turns = 0
        var i = 0
        while load.events < total {
            load.now += 60
            load.stepSession(i)
            i += 1
            if i == sessions {
                i = 0
                load.c.log.drain { if $0.kind == .turnEnded { turns += 1 } }  // the host drains the log as it goes
            }
        }
        let cpu = Double(Clock.cpuNs() - cpuStart) / 1e9
        let wall = Double(Clock.ns() - start) / 1e9
        load.c.log.drain { if $0.kind == .turnEnded { turns += 1 } }
        return (Double(load.events) / cpu, Double(load.events) / wall, turns, load.c.log.nextSeq - firstSeq)
    }
}
