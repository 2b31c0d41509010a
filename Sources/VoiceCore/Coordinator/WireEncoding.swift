/// Encoding of effects as the JSON objects of docs/coordinator.md.
enum WireEncoder {
    /// `downlink`: the Opus the host sends devices (sample rate, frame duration in ms), which the
    /// server hello announces (config `downlink_sample_rate`, `downlink_frame_ms`).
    static func effect(_ e: Effect, session: (SessionID) -> String, worker: (WorkerID) -> String,
                       downlink: (rate: Int, frameMs: Int) = (24_000, 60)) -> (JSON, [UInt8]?) {
        switch e {
        case let .deviceSend(s, m):
            let name = session(s)
            return (["type": "device.send", "session": .string(name), "message": deviceMessage(m, sessionName: name, downlink: downlink)], nil)
        case let .deviceAudio(s, turn, segment, rate, start, pcm):
            var members: [(String, JSON)] = [("type", "device.audio"), ("session", .string(session(s))),
                                             ("turn", .number(Double(turn.raw))), ("segment", .number(Double(segment))),
                                             ("sample_rate", .number(Double(rate)))]
            if let start { members.append(("sentence_start", .string(start))) }
            return (.object(members), pcm)
        case let .deviceAudioEnd(s, turn):
            return (["type": "device.audio_end", "session": .string(session(s)), "turn": .number(Double(turn.raw))], nil)
        case let .deviceFlush(s):
            return (["type": "device.flush", "session": .string(session(s))], nil)
        case let .devicePause(s):
            return (["type": "device.pause", "session": .string(session(s))], nil)
        case let .deviceResume(s):
            return (["type": "device.resume", "session": .string(session(s))], nil)
        case let .deviceClose(s, reason):
            return (["type": "device.close", "session": .string(session(s)), "reason": .string(reason)], nil)
        case let .workerSend(w, m, audio):
            return (["type": "worker.send", "worker": .string(worker(w)), "message": workerMessage(m, worker: worker(w), session: session)], audio)
        case let .workerClose(w, reason):
            return (["type": "worker.close", "worker": .string(worker(w)), "reason": .string(reason)], nil)
        case let .timerSet(t, at):
            return (["type": "timer.set", "timer": .number(Double(t.raw)), "at_us": .number(Double(at.us))], nil)
        case let .timerCancel(t):
            return (["type": "timer.cancel", "timer": .number(Double(t.raw))], nil)
        case let .httpRespond(request, answer):
            return (["type": "http.respond", "request": .number(Double(request)), "status": .number(Double(answer.status)),
                     "body": answer.body.rendered(session: session)], nil)
        }
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
        case let .alert(status, message, emotion):
            return ["type": "alert", "status": .string(status), "message": .string(message), "emotion": .string(emotion), "session_id": sid]
        case let .mcp(payload): return ["type": "mcp", "payload": payload, "session_id": sid]
        }
    }

    static func workerMessage(_ m: WorkerMessage, worker: String, session: (SessionID) -> String) -> JSON {
        switch m {
        case let .registered(hb): return ["type": "registered", "worker": .string(worker), "heartbeat_ms": .number(Double(hb))]
        case let .job(id, kind, s, turn, params):
            return ["type": "job", "job": .number(Double(id.raw)), "kind": .string(kind.name), "session": .string(session(s)),
                    "turn": .number(Double(turn.raw)), "params": jobParams(params, session: session(s))]
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
