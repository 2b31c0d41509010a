/// Encoding of effects as the typed `vc_effect`s of include/voicecore.h; the messages for peers
/// as the JSON text frames of docs/device-protocol.md and docs/worker-protocol.md.
enum WireEncoder {
    /// `downlink`: the Opus the host sends devices (sample rate, frame duration in ms), which the
    /// server hello announces (config `downlink_sample_rate`, `downlink_frame_ms`).
    static func effect(_ e: Effect, downlink: (rate: Int, frameMs: Int) = (24_000, 60)) -> WireEffect {
        switch e {
        case let .deviceSend(s, m):
            var w = WireEffect(.deviceSend)
            w.session = s.raw
            w.body = deviceMessage(m, sessionName: s.description, downlink: downlink).serialized
            if m == .hello { w.flags = WireEffect.hello } else if m == .ttsStart { w.flags = WireEffect.ttsStart }
            return w
        case let .deviceAudio(s, turn, segment, rate, start, pcm):
            var w = WireEffect(.deviceAudio)
            w.session = s.raw
            w.turn = UInt64(turn.raw)
            w.segment = Int32(truncatingIfNeeded: segment)
            w.sampleRate = Int32(truncatingIfNeeded: rate)
            if let start {
                let frame: JSON = ["type": "tts", "state": "sentence_start", "session_id": .string(s.description), "text": .string(start)]
                w.body = frame.serialized
            }
            w.data = pcm
            return w
        case let .deviceAudioEnd(s, turn):
            var w = WireEffect(.deviceAudioEnd)
            w.session = s.raw
            w.turn = UInt64(turn.raw)
            w.body = deviceMessage(.ttsStop, sessionName: s.description).serialized
            return w
        case let .deviceFlush(s):
            var w = WireEffect(.deviceFlush)
            w.session = s.raw
            return w
        case let .devicePause(s, deviceDrops):
            var w = WireEffect(.devicePause)
            w.session = s.raw
            if deviceDrops { w.flags = WireEffect.deviceDrops }
            return w
        case let .deviceResume(s):
            var w = WireEffect(.deviceResume)
            w.session = s.raw
            return w
        case let .deviceClose(s, code, reason):
            var w = WireEffect(.deviceClose)
            w.session = s.raw
            w.code = Int32(truncatingIfNeeded: code)
            w.body = reason
            return w
        case let .workerSend(worker, m, audio):
            if case let .audio(job) = m {
                var w = WireEffect(.workerAudio)
                w.worker = worker.raw
                w.job = job.raw
                w.data = audio ?? []
                return w
            }
            var w = WireEffect(.workerSend)
            w.worker = worker.raw
            w.body = workerMessage(m, worker: worker).serialized
            switch m {
            case let .job(id, kind, s, turn, params):
                w.job = id.raw
                w.jobKind = Int32(kind.rawValue)
                w.session = s.raw
                w.turn = UInt64(turn.raw)
                if case let .tts(_, segment, _, _, _) = params { w.segment = Int32(truncatingIfNeeded: segment) }
            case let .audio(id), let .inputEnd(id), let .inputCommit(id), let .inputMCP(id, _), let .cancel(id, _):
                w.job = id.raw
            case let .error(_, job):
                w.job = job?.raw ?? 0
            case .registered, .roles:
                break
            }
            return w
        case let .workerClose(worker, code, reason):
            var w = WireEffect(.workerClose)
            w.worker = worker.raw
            w.code = Int32(truncatingIfNeeded: code)
            w.body = reason
            return w
        case let .timerSet(t, at):
            var w = WireEffect(.timerSet)
            w.timer = t.raw
            w.atUs = at.us
            return w
        case let .timerCancel(t):
            var w = WireEffect(.timerCancel)
            w.timer = t.raw
            return w
        case let .httpRespond(request, answer):
            var w = WireEffect(.httpRespond)
            w.request = request
            w.code = Int32(truncatingIfNeeded: answer.status)
            w.body = answer.body.rendered(session: { $0.description }).serialized
            return w
        }
    }

    /// The `error` message that answers a device's or a worker's rejected message.
    static func errorMessage(_ message: String, job: UInt64? = nil) -> String {
        var members: [(String, JSON)] = [("type", "error"), ("message", .string(message))]
        if let job { members.append(("job", .number(Double(job)))) }
        return JSON.object(members).serialized
    }

    static func deviceMessage(_ m: DeviceMessage, sessionName: String, downlink: (rate: Int, frameMs: Int) = (24_000, 60)) -> JSON {
        let sid = JSON.string(sessionName)
        switch m {
        case .hello:
            return ["type": "hello", "transport": "websocket", "session_id": sid,
                    "audio_params": ["format": "opus", "sample_rate": .number(Double(downlink.rate)), "channels": 1,
                                     "frame_duration": .number(Double(downlink.frameMs))]]
        case let .stt(text): return ["type": "stt", "text": .string(text), "session_id": sid]
        case let .llmEmotion(emoji, emotion): return ["type": "llm", "text": .string(emoji), "emotion": .string(emotion), "session_id": sid]
        case .ttsStart: return ["type": "tts", "state": "start", "session_id": sid]
        case .ttsStop: return ["type": "tts", "state": "stop", "session_id": sid]
        case .ttsPauseStop: return ["type": "tts", "state": "stop", "pause": true, "session_id": sid]
        case .ttsPauseStart: return ["type": "tts", "state": "start", "pause": true, "session_id": sid]
        case let .alert(status, message, emotion):
            return ["type": "alert", "status": .string(status), "message": .string(message), "emotion": .string(emotion), "session_id": sid]
        case let .mcp(payload): return ["type": "mcp", "payload": payload, "session_id": sid]
        }
    }

    static func workerMessage(_ m: WorkerMessage, worker: WorkerID) -> JSON {
        switch m {
        case let .registered(hb): return ["type": "registered", "worker": .string(worker.description), "heartbeat_ms": .number(Double(hb))]
        case let .job(id, kind, s, turn, params):
            return ["type": "job", "job": .number(Double(id.raw)), "kind": .string(kind.name), "session": .string(s.description),
                    "turn": .number(Double(turn.raw)), "params": jobParams(params, session: s.description)]
        case let .audio(id): return ["type": "audio", "job": .number(Double(id.raw))]
        case let .inputEnd(id): return ["type": "input", "job": .number(Double(id.raw)), "event": "end"]
        case let .inputCommit(id): return ["type": "input", "job": .number(Double(id.raw)), "event": "commit"]
        case let .inputMCP(id, payload): return ["type": "input", "job": .number(Double(id.raw)), "event": "mcp", "payload": payload]
        case let .cancel(id, reason): return ["type": "cancel", "job": .number(Double(id.raw)), "reason": .string(reason)]
        case let .roles(kinds): return ["type": "roles", "active": .array(kinds.names.map { .string($0) })]
        case let .error(message, job):
            var members: [(String, JSON)] = [("type", "error"), ("message", .string(message))]
            if let job { members.append(("job", .number(Double(job.raw)))) }
            return .object(members)
        }
    }

    static func jobParams(_ p: JobParams, session: String) -> JSON {
        switch p {
        case let .asr(mode, rate, language, hub):
            var members: [(String, JSON)] = [("sample_rate", .number(Double(rate))), ("language", .string(language)),
                                             ("mode", .string(mode.description))]
            if hub { members.append(("endpointing", "hub")) }
            return .object(members)
        case let .tts(text, segment, rate, language, voice):
            return ["text": .string(text), "sample_rate": .number(Double(rate)), "language": .string(language),
                    "voice": .string(voice), "segment": .number(Double(segment))]
        case let .assistant(text, language, device, preemptive, tools, agent):
            var members: [(String, JSON)] = [("text", .string(text)), ("device_id", .string(device)), ("language", .string(language)),
                                             ("session", .string(session))]
            if !agent.isEmpty { members.append(("agent", .string(agent))) }
            if preemptive { members.append(("preemptive", .bool(true))) }
            if let tools { members.append(("tools", .array(tools))) }
            return .object(members)
        case let .instruction(text, language, device, tools, agent):
            var members: [(String, JSON)] = [("text", .string(text)), ("device_id", .string(device)), ("language", .string(language)),
                                             ("session", .string(session)), ("instruction", .bool(true))]
            if !agent.isEmpty { members.append(("agent", .string(agent))) }
            if let tools { members.append(("tools", .array(tools))) }
            return .object(members)
        }
    }
}
