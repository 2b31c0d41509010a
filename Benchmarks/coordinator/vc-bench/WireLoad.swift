import VoiceCore

/// The typed edge the daemon uses (CoordinatorWire, what vc_coordinator_handle calls): audio-frame
/// events with integer ids, typed effects, for 1,000 listening sessions. An anchor for what the
/// C ABI adds to the Coordinator itself.
enum WireLoad {
    static func run(events: Int) -> Double {
        var wire = try! CoordinatorWire(config: CoordinatorConfig())
        func feed(_ e: WireEvent, _ now: Int64) {
            try! wire.handle(e, nowUs: now)
            while wire.nextEffect() != nil {}
            while wire.nextLogLine() != nil {}
        }
        for w in 1...100 {
            feed(WireEvent(.workerConnected, worker: UInt64(w)), 0)
            feed(WireEvent(.workerMessage, worker: UInt64(w), text: #"{"type":"register","kinds":["asr"],"slots":{"asr":16}}"#), 0)
        }
        for s in 1...1000 {
            feed(WireEvent(.deviceConnected, session: UInt64(s)), 0)
            feed(WireEvent(.deviceMessage, session: UInt64(s), text: #"{"type":"hello","transport":"websocket"}"#), 0)
            feed(WireEvent(.deviceMessage, session: UInt64(s), text: #"{"type":"listen","state":"start","mode":"auto"}"#), 0)
        }
        let frame = [UInt8](repeating: 1, count: 1920)
        let start = Clock.cpuNs()
        var now: Int64 = 1
        for i in 0..<events {
            now += 60
            try! wire.handle(WireEvent(.deviceAudio, session: UInt64(i % 1000 + 1), data: frame), nowUs: now)
            while wire.nextEffect() != nil {}
        }
        return Double(events) / (Double(Clock.cpuNs() - start) / 1e9)
    }
}
