/// JSON field access for decoding the daemon's events, with the path in every error message.
struct WireFields {
    let json: JSON
    let path: String

    init(_ json: JSON, _ path: String) throws(VCError) {
        guard case .object = json else { throw VCError(.parse, "\(path) must be a JSON object") }
        self.json = json
        self.path = path
    }

    func string(_ key: String) throws(VCError) -> String {
        guard let v = json[key] else { throw VCError(.parse, "\(path): missing \"\(key)\"") }
        guard let s = v.stringValue else { throw VCError(.parse, "\(path): \"\(key)\" must be a string") }
        return s
    }

    func optionalString(_ key: String) throws(VCError) -> String? {
        guard let v = json[key], v != .null else { return nil }
        guard let s = v.stringValue else { throw VCError(.parse, "\(path): \"\(key)\" must be a string") }
        return s
    }

    func int(_ key: String) throws(VCError) -> Int64 {
        guard let v = json[key] else { throw VCError(.parse, "\(path): missing \"\(key)\"") }
        guard let n = v.int64Value else { throw VCError(.parse, "\(path): \"\(key)\" must be an integer") }
        return n
    }

    func optionalInt(_ key: String) throws(VCError) -> Int64? {
        guard let v = json[key], v != .null else { return nil }
        guard let n = v.int64Value else { throw VCError(.parse, "\(path): \"\(key)\" must be an integer") }
        return n
    }

    func optionalBool(_ key: String) throws(VCError) -> Bool? {
        guard let v = json[key], v != .null else { return nil }
        guard let b = v.boolValue else { throw VCError(.parse, "\(path): \"\(key)\" must be true or false") }
        return b
    }

    func object(_ key: String) throws(VCError) -> WireFields {
        guard let v = json[key] else { throw VCError(.parse, "\(path): missing \"\(key)\"") }
        return try WireFields(v, path + "." + key)
    }

    func optionalObject(_ key: String) throws(VCError) -> WireFields? {
        guard let v = json[key], v != .null else { return nil }
        return try WireFields(v, path + "." + key)
    }

    func jobID(_ key: String = "job") throws(VCError) -> JobID {
        let n = try int(key)
        guard n > 0 else { throw VCError(.parse, "\(path): \"\(key)\" must be a positive integer") }
        return JobID(UInt64(n))
    }

    /// An optional array of at most `limit` strings (absent or null: empty), each passing `valid`;
    /// `what` says in the errors what one must be ("an agent name"). The limit keeps a worker's
    /// registration (and the log line that reports it) small.
    func strings(_ key: String, _ what: String, limit: Int = 128, valid: (String) -> Bool = { _ in true }) throws(VCError) -> [String] {
        guard let v = json[key], v != .null else { return [] }
        guard let items = v.arrayValue else { throw VCError(.parse, "\(path): \"\(key)\" must be an array of strings") }
        guard items.count <= limit else { throw VCError(.parse, "\(path): \"\(key)\" has \(items.count) entries (at most \(limit))") }
        var out: [String] = []
        for item in items {
            guard let s = item.stringValue, valid(s) else { throw VCError(.parse, "\(path): \(item.serialized) in \"\(key)\" is not \(what)") }
            out.append(s)
        }
        return out
    }

    func kinds(_ key: String) throws(VCError) -> KindSet {
        guard let v = json[key], v != .null else { return KindSet() }
        guard let items = v.arrayValue else { throw VCError(.parse, "\(path): \"\(key)\" must be an array of kinds") }
        var set = KindSet()
        for item in items {
            guard let name = item.stringValue, let k = WorkerKind(name: name) else {
                throw VCError(.parse, "\(path): unknown kind \(item.serialized) in \"\(key)\" (asr, tts, assistant, llm)")
            }
            set.insert(k)
        }
        return set
    }

    func kindCounts(_ key: String) throws(VCError) -> [WorkerKind: Int] {
        guard let v = json[key], v != .null else { return [:] }
        guard let members = v.objectValue else { throw VCError(.parse, "\(path): \"\(key)\" must be an object") }
        var out: [WorkerKind: Int] = [:]
        for (name, n) in members {
            guard let k = WorkerKind(name: name) else { throw VCError(.parse, "\(path).\(key): unknown kind \"\(name)\"") }
            guard let count = n.int64Value, count >= 0, count <= 1_000_000 else {
                throw VCError(.parse, "\(path).\(key).\(name) must be a non-negative integer")
            }
            out[k] = Int(count)
        }
        return out
    }
}

/// Decoding of the device's and the worker's JSON messages into typed events.
enum WireDecoder {
    static func deviceMessage(_ s: SessionID, _ m: WireFields) throws(VCError) -> Event {
        switch try m.string("type") {
        case "hello":
            if let transport = try m.optionalString("transport"), transport != "websocket" {
                throw VCError(.unsupported, "hello: transport \"\(transport)\" is not supported (websocket)")
            }
            let features = try m.optionalObject("features")
            let audio = try m.optionalObject("audio_params")
            if let format = try audio?.optionalString("format"), format != "opus" {
                throw VCError(.unsupported, "hello: audio format \"\(format)\" is not supported (opus)")
            }
            if let channels = try audio?.optionalInt("channels"), channels != 1 {
                throw VCError(.unsupported, "hello: audio_params.channels must be 1")
            }
            if let rate = try audio?.optionalInt("sample_rate"), ![8_000, 12_000, 16_000, 24_000, 48_000].contains(rate) {
                throw VCError(.parse, "hello: audio_params.sample_rate must be 8000, 12000, 16000, 24000 or 48000")
            }
            // Opus packet durations the firmware can be built with.
            if let ms = try audio?.optionalInt("frame_duration"), ![10, 20, 40, 60, 80, 100, 120].contains(ms) {
                throw VCError(.parse, "hello: audio_params.frame_duration must be 10, 20, 40, 60, 80, 100 or 120")
            }
            return .deviceHello(s, DeviceHello(version: Int(try m.optionalInt("version") ?? 1),
                                               mcp: try features?.optionalBool("mcp") ?? false,
                                               frameDurationMs: Int(try audio?.optionalInt("frame_duration") ?? 60)))
        case "listen":
            switch try m.string("state") {
            case "start":
                let name = try m.optionalString("mode") ?? "auto"
                guard let mode = ListenMode(name: name) else { throw VCError(.parse, "listen: unknown mode \"\(name)\"") }
                return .deviceListen(s, .start(mode))
            case "stop": return .deviceListen(s, .stop)
            case "detect": return .deviceListen(s, .detect(text: try m.optionalString("text") ?? ""))
            case let other: throw VCError(.parse, "listen: unknown state \"\(other)\"")
            }
        case "abort":
            return .deviceAbort(s, reason: try m.optionalString("reason") ?? "")
        case "mcp":
            guard let payload = m.json["payload"] else { throw VCError(.parse, "mcp: missing \"payload\"") }
            guard payload.objectValue != nil else { throw VCError(.parse, "mcp: \"payload\" must be a JSON object") }
            return .deviceMCP(s, payload)
        case let other:
            throw VCError(.parse, "unknown device message type \"\(other)\"")
        }
    }

    static func workerMessage(_ w: WorkerID, _ m: WireFields) throws(VCError) -> Event {
        switch try m.string("type") {
        case "register":
            if let p = try m.optionalInt("protocol"), p != 1 { throw VCError(.unsupported, "register: protocol \(p) (this hub speaks 1)") }
            var labels: [(String, String)] = []
            if let l = m.json["labels"], l != .null {
                guard let members = l.objectValue else { throw VCError(.parse, "register: \"labels\" must be an object") }
                for (k, v) in members {
                    guard let s = v.stringValue else { throw VCError(.parse, "register: label \"\(k)\" must be a string") }
                    labels.append((k, s))
                }
            }
            let r = try WireFields(m.json, "register")
            let models = try r.strings("models", "a model name")
            let agents = try r.strings("agents", "an agent name (1-64 letters, digits, '-', '_' or '.')", valid: AgentConfig.validName)
            let languages = try r.strings("languages", "a language tag such as \"en\" or \"zh-CN\"", valid: Coordinator.isLanguageTag)
            return .workerRegister(w, WorkerRegistration(name: try m.optionalString("name") ?? "", kinds: try m.kinds("kinds"),
                                                         roles: try m.kinds("roles"), slots: try m.kindCounts("slots"),
                                                         models: models, labels: labels, agents: agents, languages: languages))
        case "heartbeat":
            return .workerHeartbeat(w, load: try m.kindCounts("load"))
        case "accepted":
            return .workerAccepted(w, try m.jobID())
        case "done":
            return .workerDone(w, try m.jobID())
        case "error":
            return .workerError(w, try m.jobID(), message: try m.optionalString("message") ?? "",
                                retryable: try m.optionalBool("retryable") ?? false)
        case "drain":
            return .workerDrain(w)
        case "say":
            let device = try m.string("device_id")
            let text = try m.optionalString("text"), instruction = try m.optionalString("instruction")
            switch (text, instruction) {
            case let (t?, nil): return .workerSay(w, deviceID: device, .text(t))
            case let (nil, i?): return .workerSay(w, deviceID: device, .instruction(i))
            default: throw VCError(.parse, "say: give \"text\" or \"instruction\" (one of them)")
            }
        case "output":
            let job = try m.jobID()
            let output: JobOutput
            switch try m.string("event") {
            case "speech_start": output = .speechStart
            case "speech_end": output = .speechEnd
            case "pause":
                let ms = try m.optionalInt("silence_ms") ?? 0
                guard (0...60_000).contains(ms) else { throw VCError(.parse, "\(m.path): \"silence_ms\" must be in 0...60000") }
                output = .pause(silenceMs: Int(ms))
            case "resume": output = .resume
            case "turn":
                guard let p = m.json["probability"]?.doubleValue, (0...1).contains(p) else {
                    throw VCError(.parse, "\(m.path): \"probability\" must be a number in 0...1")
                }
                output = .turnProbability(p)
            case "partial": output = .partial(try m.string("text"))
            case "final": output = .final(try m.string("text"), language: try m.optionalString("language"))
            case "speculative":
                output = .speculative(try m.string("text"), language: try m.optionalString("language"),
                                      refining: try m.optionalBool("refining") ?? false)
            case "speculation_void": output = .speculationVoid
            case "refined": output = .refined(try m.string("text"))
            case "delta": output = .delta(try m.string("text"))
            case "tool_call": output = .toolCall(m.json)
            case "tool_result": output = .toolResult(m.json)
            case "mcp":
                guard let payload = m.json["payload"] else { throw VCError(.parse, "output mcp: missing \"payload\"") }
                guard payload.objectValue != nil else { throw VCError(.parse, "output mcp: \"payload\" must be a JSON object") }
                output = .mcp(payload)
            case "segment_done": output = .segmentDone
            case "usage":
                func count(_ key: String) throws(VCError) -> Int64? {
                    guard let n = try m.optionalInt(key) else { return nil }
                    guard n >= 0 && n <= 1_000_000_000 else { throw VCError(.parse, "\(m.path): \"\(key)\" must be in 0...1000000000") }
                    return n
                }
                let prompt = try count("prompt_tokens") ?? 0, completion = try count("completion_tokens") ?? 0
                output = .usage(model: String((try m.optionalString("model") ?? "").prefix(128)), prompt: prompt, completion: completion,
                                total: try count("total_tokens") ?? prompt + completion)
            case let other: throw VCError(.parse, "output: unknown event \"\(other)\"")
            }
            return .workerOutput(w, job, output)
        case let other:
            throw VCError(.parse, "unknown worker message type \"\(other)\"")
        }
    }
}
