/// Device-side transitions: connection, hello, listen, abort, audio, playback, disconnect.
extension Coordinator {
    mutating func deviceConnected(_ s: SessionID, _ info: DeviceInfo) {
        guard sessions[s] == nil else { return reject("session already connected", session: s) }
        guard (1...3).contains(info.protocolVersion) else {
            return reject("unsupported protocol_version \(info.protocolVersion)", session: s)
        }
        let session = Session(id: s, info: info, now: now)
        session.helloTimer = setTimer(.hello(s), at: now + config.helloTimeoutUs)
        sessions[s] = session
        record(.sessionConnected, session: s, value: Int64(info.protocolVersion), text: info.deviceID)
        if let (agent, by) = agentBinding(deviceID: info.deviceID, token: info.token) {
            session.agent = agent
            record(.sessionAgent, session: s, to: agent, reason: by)
        }
    }

    mutating func deviceHello(_ s: SessionID, _ hello: DeviceHello) {
        guard let session = sessions[s], !session.closing else { return reject("unknown session", session: s) }
        if session.helloDone {
            // A repeated hello is answered again (firmware retries after a lost reply).
            out.append(.deviceSend(s, .hello))
            return
        }
        cancelTimer(session.helloTimer)
        sessions[s]!.helloTimer = nil
        sessions[s]!.helloDone = true
        sessions[s]!.mcp = hello.mcp
        sessions[s]!.lastActivity = now
        sessions[s]!.idleTimer = setTimer(.idle(s), at: now + config.idleTimeoutUs)
        out.append(.deviceSend(s, .hello))
        record(.sessionHello, session: s, value: Int64(hello.version))
        if hello.mcp { startMCP(s) }
        touch(s)
    }

    /// Validates that the session exists, said hello and is not closing.
    mutating func readySession(_ s: SessionID) -> Bool {
        guard let session = sessions[s], !session.closing else { reject("unknown session", session: s); return false }
        guard session.helloDone else { reject("message before hello", session: s); return false }
        return true
    }

    mutating func deviceListen(_ s: SessionID, _ command: ListenCommand) {
        guard readySession(s) else { return }
        sessions[s]!.lastActivity = now
        switch command {
        case let .start(mode):
            record(.sessionListen, session: s, to: "start", reason: mode.description)
            sessions[s]!.mode = mode
            sessions[s]!.listening = true
            // A stream opened in another mode that has heard nothing yet is reopened in this one.
            if let u = sessions[s]!.utterance, u.mode != mode, !u.speech, !u.ended {
                clearTurnTimers(s, u)
                cancelJob(u.job, reason: "mode-change")
                discardHeld(s, reason: "mode-change")
                sessions[s]!.utterance = nil
                record(.turnCancelled, session: s, turn: u.turn, reason: "mode-change")
            }
            if sessions[s]!.asrBlocked { setASRBlocked(s, false) }
            ensureUtterance(s)
        case .stop:
            record(.sessionListen, session: s, to: "stop")
            sessions[s]!.listening = false
            endUtteranceInput(s)
        case let .detect(text):
            record(.sessionListen, session: s, to: "detect", text: text)
            if !text.isEmpty { textInput(s, text) }
        }
        touch(s)
    }

    mutating func deviceAbort(_ s: SessionID, reason: String) {
        guard readySession(s) else { return }
        sessions[s]!.lastActivity = now
        abortTurns(s, reason: reason.isEmpty ? "abort" : "abort:" + reason, cancelSpeech: true)
        touch(s)
    }

    /// The hot path (every 20–60 ms per listening device): one lookup per table, no copies.
    mutating func deviceAudio(_ s: SessionID, _ pcm: [UInt8]) {
        guard let si = sessions.slot(s) else { return reject("unknown session", session: s) }
        guard let u = sessions[slot: si].utterance else { return }  // not listening: dropped
        let job = u.job
        // Keep a bounded tail of the utterance to move the stream to another worker.
        u.audio.push(pcm)
        u.audioBytes += pcm.count
        while u.audioBytes > replayLimitBytes, let dropped = u.audio.pop() {
            u.audioBytes -= dropped.count
        }
        if let ji = jobs.slot(job), jobs[slot: ji].phase == .running, let worker = jobs[slot: ji].worker {
            out.append(.workerSend(worker, .audio(job), audio: pcm))
        }
    }

    mutating func devicePlaybackDone(_ s: SessionID, _ turn: TurnID) {
        guard readySession(s) else { return }
        guard let reply = sessions[s]!.reply, reply.turn == turn, reply.audioEndSent else { return }  // stale
        sessions[s]!.lastActivity = now
        endReply(s, reason: reply.refused ? "refused" : reply.fallback ? "fallback" : "done")
    }

    mutating func deviceDisconnected(_ s: SessionID, reason: String) {
        guard sessions[s] != nil else { return reject("unknown session", session: s) }
        removeSession(s, reason: reason.isEmpty ? "disconnected" : reason)
    }

    mutating func textInput(_ s: SessionID, _ text: String) {
        guard readySession(s) else { return }
        sessions[s]!.lastActivity = now
        abortTurns(s, reason: "superseded", cancelSpeech: true, reopen: false)
        let turn = TurnID(sessions[s]!.nextTurn)
        sessions[s]!.nextTurn += 1
        record(.turnStarted, session: s, turn: turn, reason: "text")
        if admitTurn(s, turn: turn) {
            startReply(s, turn: turn, text: text, marks: TurnMarks(speechEnd: now, asrFinal: now))
        }
        ensureUtterance(s)
        touch(s)
    }

    /// Closes a session from the core's side (idle, hello timeout): cancel everything, ask the
    /// host to close, forget it when the host reports the disconnect (or after a grace period).
    mutating func closeSession(_ s: SessionID, code: Int, reason: String) {
        guard let session = sessions[s], !session.closing else { return }
        dropTurns(s, reason: reason)
        cancelTimer(session.helloTimer)
        cancelTimer(session.idleTimer)
        sessions[s]!.helloTimer = nil
        sessions[s]!.idleTimer = nil
        sessions[s]!.closing = true
        sessions[s]!.listening = false
        sessions[s]!.closeTimer = setTimer(.close(s), at: now + config.closeTimeoutUs)
        out.append(.deviceClose(s, code: code, reason: reason))
        record(.sessionClosed, session: s, reason: reason)
        touch(s)
    }

    mutating func removeSession(_ s: SessionID, reason: String) {
        guard let session = sessions[s] else { return }
        dropTurns(s, reason: reason)
        dropMCP(s)
        cancelTimer(session.helloTimer)
        cancelTimer(session.idleTimer)
        cancelTimer(session.closeTimer)
        if sessions[s]!.asrBlocked { asrBlockedSessions -= 1 }
        sessions[s] = nil
        record(.sessionGone, session: s, reason: reason)
    }

    /// Cancels the utterance and the reply without telling the device (it is going away).
    private mutating func dropTurns(_ s: SessionID, reason: String) {
        dropSays(s, reason: "device-left")
        discardHeld(s, reason: reason)
        if let u = sessions[s]!.utterance {
            clearTurnTimers(s, u)
            cancelJob(u.job, reason: reason)
            sessions[s]!.utterance = nil
            record(.turnCancelled, session: s, turn: u.turn, reason: reason)
        }
        if sessions[s]!.reply != nil { cancelReply(s, reason: reason, tellDevice: false) }
    }

    mutating func setASRBlocked(_ s: SessionID, _ blocked: Bool) {
        guard sessions[s]!.asrBlocked != blocked else { return }
        sessions[s]!.asrBlocked = blocked
        asrBlockedSessions += blocked ? 1 : -1
    }
}
