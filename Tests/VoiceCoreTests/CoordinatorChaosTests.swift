import Testing
@testable import VoiceCore

/// Seeded random sequences of valid, duplicate, late and invalid events: the Coordinator never
/// traps, keeps its invariants after every step, and leaks nothing once everyone has left.
@Suite struct CoordinatorChaosTests {
    struct Live { var worker: WorkerID; var kind: WorkerKind }

    static func run(seed: UInt64, steps: Int) -> (CoordinatorScript, [String]) {
        var t = try! CoordinatorScript(json: #"{"heartbeat_ms": 2000, "queue_timeout_ms": 1500, "tts_timeout_ms": 3000, "assistant_timeout_ms": 3000, "asr_timeout_ms": 3000}"#)
        var rng = SplitMix64(seed: seed)
        var violations: [String] = []
        var live: [JobID: Live] = [:]
        var devices: [UInt64] = [], workers: [UInt64] = []
        var nextDevice: UInt64 = 1, nextWorker: UInt64 = 1
        var cancelledTurns = Set<String>()
        var lastSegment: [String: Int] = [:]
        let texts = ["Hello there. ", "How are you today? ", "Fine, thanks! ", "", "A b c d e f g. "]
        func pick<T>(_ xs: [T]) -> T? { xs.isEmpty ? nil : xs[rng.below(xs.count)] }

        for step in 0..<steps {
            let roll = rng.below(100)
            let s = SessionID(pick(devices) ?? 999)
            switch roll {
            case 0..<4:
                t.feed(.deviceConnected(SessionID(nextDevice), DeviceInfo(deviceID: "d\(nextDevice)")))
                t.feed(.deviceHello(SessionID(nextDevice), DeviceHello()))
                devices.append(nextDevice); nextDevice += 1
            case 4..<8:
                let kinds: [WorkerKind] = [pick([.asr, .tts, .assistant])!] + (rng.below(4) == 0 ? [.tts] : [])
                t.worker(nextWorker, kinds, slots: 1 + rng.below(3))
                workers.append(nextWorker); nextWorker += 1
            case 8..<12: t.feed(.deviceListen(s, .start(pick([.auto, .manual, .realtime])!)))
            case 12..<14: t.feed(.deviceListen(s, .stop))
            case 14..<16: t.feed(.deviceAbort(s, reason: ""))
            case 16..<18: t.feed(.textInput(s, "tell me something"))
            case 18..<28: t.feed(.deviceAudio(s, CoordinatorScript.frame))
            case 28..<30: t.feed(.devicePlaybackDone(s, TurnID(UInt32(rng.below(5) + 1))))
            case 30..<32:
                if let d = pick(devices) {
                    t.feed(.deviceDisconnected(SessionID(d), reason: "chaos"))
                    devices.removeAll { $0 == d }
                }
            case 32..<34:
                if let w = pick(workers) {
                    t.feed(.workerDisconnected(WorkerID(w)))
                    workers.removeAll { $0 == w }
                }
            case 34..<36: if let w = pick(workers) { t.feed(.workerDrain(WorkerID(w))) }
            case 36..<40: for w in workers { t.feed(.workerHeartbeat(WorkerID(w), load: [:])) }
            case 40..<44: t.feed(.workerOutput(WorkerID(pick(workers) ?? 1), JobID(UInt64(rng.below(10_000))), .partial("?")))
            case 44..<48: t.advanceMs(Int64(rng.below(2_500)))
            default:
                // Sorted: Dictionary order differs between processes, the run must not.
                guard let id = pick(live.keys.sorted()), let job = live[id] else { t.advanceMs(50); break }
                let w = job.worker
                switch (job.kind, rng.below(10)) {
                case (_, 0): t.feed(.workerAccepted(w, id))
                case (_, 1): t.feed(.workerError(w, id, message: "boom", retryable: rng.below(2) == 0)); live[id] = nil
                case (.asr, 2...4): t.feed(.workerOutput(w, id, .speechStart))
                case (.asr, 5...6): t.feed(.workerOutput(w, id, .partial("hel")))
                case (.asr, _): t.feed(.workerOutput(w, id, .final(pick(texts)!, language: nil))); t.feed(.workerDone(w, id)); live[id] = nil
                case (.assistant, 2...7): t.feed(.workerOutput(w, id, .delta(pick(texts)!)))
                case (.assistant, _): t.feed(.workerDone(w, id)); live[id] = nil
                case (.tts, 2...7): t.feed(.workerAudio(w, id, last: false, [UInt8](repeating: 3, count: 960)))
                case (.tts, _): t.feed(.workerOutput(w, id, .segmentDone)); t.feed(.workerDone(w, id)); live[id] = nil
                default: break
                }
            }
            // Learn the jobs from this step's effects and check the audio invariants.
            for e in t.last {
                switch e {
                case let .workerSend(w, .job(id, kind, _, _, _), _): live[id] = Live(worker: w, kind: kind)
                case let .workerSend(_, .cancel(id, _), _): live[id] = nil
                case let .deviceAudio(sid, turn, segment, _, _, _):
                    let key = "\(sid.raw)/\(turn.raw)"
                    if cancelledTurns.contains(key) { violations.append("step \(step): audio of cancelled turn \(key)") }
                    if let last = lastSegment[key], segment < last { violations.append("step \(step): segment order \(key)") }
                    lastSegment[key] = segment
                default: break
                }
            }
            for entry in t.log.suffix(40) where entry["kind"]?.stringValue == "turn.cancelled" {
                if let sn = entry["session"]?.stringValue, let turn = entry["turn"]?.int64Value {
                    cancelledTurns.insert("\(sn.dropFirst())/\(turn)")
                }
            }
            for w in t.c.scheduler.workerIDs {
                let state = t.c.scheduler.worker(w)!
                for k in WorkerKind.allCases where state.running[k.rawValue] > state.slots[k.rawValue] {
                    violations.append("step \(step): \(w) runs more \(k) jobs than slots")
                }
            }
        }
        // Everyone leaves: nothing may remain.
        for d in devices { t.feed(.deviceDisconnected(SessionID(d), reason: "end")) }
        for w in workers { t.feed(.workerDisconnected(WorkerID(w))) }
        if t.c.jobCount != 0 { violations.append("leaked jobs: \(t.c.jobCount)") }
        if t.c.scheduler.runningCount != 0 { violations.append("leaked slots: \(t.c.scheduler.runningCount)") }
        if t.c.sessionCount != 0 { violations.append("leaked sessions") }
        if t.c.timerCount != 0 { violations.append("leaked timers: \(t.c.timerCount)") }
        return (t, violations)
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomTrafficKeepsInvariants(seed: UInt64) {
        let (t, violations) = Self.run(seed: seed, steps: 3_000)
        #expect(violations.isEmpty, "\(violations.prefix(5))")
        // Not vacuous: the traffic reached every corner that matters.
        let audio = t.effects.filter { if case .deviceAudio = $0 { return true } else { return false } }.count
        #expect(audio > 20)
        for kind in ["turn.ended", "turn.cancelled", "job.retry", "turn.fallback", "input.rejected", "worker.gone", "job.late"] {
            #expect(t.count(kind) > 0, "\(kind) never happened")
        }
    }

    @Test func sameEventsSameLog() {
        let (a, _) = Self.run(seed: 11, steps: 1_500)
        let (b, _) = Self.run(seed: 11, steps: 1_500)
        #expect(a.c.log.digest == b.c.log.digest)
        #expect(a.log.count == b.log.count && a.log.count > 1_000)
        let (c, _) = Self.run(seed: 12, steps: 1_500)
        #expect(c.c.log.digest != a.c.log.digest)
    }
}
