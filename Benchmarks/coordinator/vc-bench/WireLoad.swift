import VoiceCore

/// The JSON edge the daemon uses (CoordinatorWire): audio-frame events decoded from JSON, effects
/// encoded to JSON, for 1,000 listening sessions. An anchor for what the typed path saves.
enum WireLoad {
    static func run(events: Int) -> Double {
        var wire = try! CoordinatorWire(config: CoordinatorConfig())
        func feed(_ text: String, _ data: [UInt8] = [], _ now: Int64) {
            try! wire.handle(json: JSONParser.parse(text), data: data, nowUs: now)
            while wire.nextEffect() != nil {}
            while wire.nextLogLine() != nil {}
        }
        for w in 0..<100 {
            feed(#"{"type":"worker.connected","worker":"asr-\#(w)"}"#, [], 0)
            feed(#"{"type":"worker.message","worker":"asr-\#(w)","message":{"type":"register","kinds":["asr"],"slots":{"asr":16}}}"#, [], 0)
        }
        var names: [String] = []
        for s in 0..<1000 {
            let name = "device-\(s)"
            names.append(#"{"type":"device.audio","session":"\#(name)"}"#)
            feed(#"{"type":"device.connected","session":"\#(name)"}"#, [], 0)
            feed(#"{"type":"device.message","session":"\#(name)","message":{"type":"hello","transport":"websocket"}}"#, [], 0)
            feed(#"{"type":"device.message","session":"\#(name)","message":{"type":"listen","state":"start","mode":"auto"}}"#, [], 0)
        }
        let frame = [UInt8](repeating: 1, count: 1920)
        let start = Clock.cpuNs()
        var now: Int64 = 1
        for i in 0..<events {
            now += 60
            try! wire.handle(json: JSONParser.parse(names[i % names.count]), data: frame, nowUs: now)
            while wire.nextEffect() != nil {}
        }
        return Double(events) / (Double(Clock.cpuNs() - start) / 1e9)
    }
}
