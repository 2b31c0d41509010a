/// The turn: utterance (ASR stream) → transcript → reply; abort, barge-in and fail-open.
extension Coordinator {
    /// Opens an utterance (a new turn and its ASR stream job) when the device listens and nothing
    /// else is in the way: in auto and manual mode not while a reply is in flight.
    func ensureUtterance(_ s: SessionID) {
        guard let session = sessions[s], session.helloDone, session.listening, session.utterance == nil,
              !session.closing, !session.asrBlocked, session.reply == nil || session.mode == .realtime
        else { return }
        let turn = TurnID(session.nextTurn)
        sessions[s]!.nextTurn += 1
        record(.turnStarted, session: s, turn: turn, reason: session.mode.description)
        let job = createJob(kind: .asr, session: s, turn: turn, segment: -1,
                            params: .asr(mode: session.mode, sampleRate: config.asrSampleRate, language: configuredLanguage(session: s),
                                         hubEndpointing: config.turn.hubEndpointing && session.mode != .manual),
                            priority: .first, attempt: 1, preferred: session.lastASRWorker, avoid: nil)
        let utterance = Utterance(turn: turn, job: job, mode: session.mode, startedAt: now)
        utterance.audio = session.spareAudio
        session.spareAudio = Ring()
        session.utterance = utterance
        touch(s)
    }

    /// `listen stop`: the utterance's input is over; the ASR worker is told so and must answer.
    func endUtteranceInput(_ s: SessionID) {
        guard let u = sessions[s]!.utterance, !u.ended else { return }
        sessions[s]!.utterance!.ended = true
        if sessions[s]!.utterance!.speechEndAt == nil { sessions[s]!.utterance!.speechEndAt = now }
        if let record = jobs[u.job], record.phase == .running, let worker = record.worker {
            out.append(.workerSend(worker, .inputEnd(u.job), audio: nil))
            setJobDeadline(u.job, now + config.asrTimeoutUs)
        }
    }

    /// Abort or supersede: cancel the reply (flush its audio, `tts stop` at once) and, with
    /// `cancelSpeech`, an utterance that already heard speech. The turn ids stay cancelled: late
    /// output of their jobs is ignored.
    func abortTurns(_ s: SessionID, reason: String, cancelSpeech: Bool, reopen: Bool = true) {
        if cancelSpeech { discardHeld(s, reason: reason) }
        if cancelSpeech, let u = sessions[s]!.utterance, u.speech || !reopen {
            clearTurnTimers(s, u)
            cancelJob(u.job, reason: reason)
            sessions[s]!.utterance = nil
            record(.turnCancelled, session: s, turn: u.turn, reason: reason)
        }
        if sessions[s]!.reply != nil {
            cancelReply(s, reason: reason, tellDevice: true)
        } else if reason.hasPrefix("abort") {
            out.append(.deviceFlush(s))
            out.append(.deviceSend(s, .ttsStop))
        }
        if reopen { ensureUtterance(s) }
        touch(s)
    }

    // MARK: ASR output

    func asrOutput(_ s: SessionID, job: JobID, _ output: JobOutput) {
        guard let u = sessions[s]!.utterance, u.job == job else { return }
        switch output {
        case .speechStart:
            sessions[s]!.utterance!.speech = true
            sessions[s]!.lastActivity = now
            setJobDeadline(job, now + config.asrTimeoutUs)
            record(.turnMark, session: s, turn: u.turn, reason: "speech_start")
            discardHeld(s, reason: "speech")
            resumed(s, u)
            // The user speaks over the reply (realtime mode listens while speaking): an interruption
            // unless it proves a backchannel (Coordinator+EndOfTurn.swift).
            if let reply = sessions[s]!.reply, reply.turn < u.turn { overReply(s, u) }
        case let .pause(silenceMs):
            evidenceArrived(s, job: job, u)
            paused(s, u, silenceMs: silenceMs)
        case .resume:
            evidenceArrived(s, job: job, u)
            resumed(s, u)
        case let .turnProbability(p):
            evidenceArrived(s, job: job, u)
            u.pause?.probability = p
            decideEndOfTurn(s)
        case .partial:
            sessions[s]!.lastActivity = now
            if u.speech || u.ended { setJobDeadline(job, now + config.asrTimeoutUs) }
        case .speechEnd:
            sessions[s]!.utterance!.speechEndAt = now
            record(.turnMark, session: s, turn: u.turn, reason: "speech_end")
        case let .final(text, language):
            finishJob(job, success: true)
            if u.overReply, backchannel(s, u, text: text, foreign: foreign(s, language)) { return }
            if let language { languageDetected(s, u, language) }
            utteranceFinal(s, text: text)
        case let .speculative(text, language, refining):
            evidenceArrived(s, job: job, u)
            // Greedy words that prove no backchannel wait for the beam's when the pass is decoded
            // again: base's greedy "Gute Auf!" for a noisy "genau" is "Gut auf!" decoded again.
            if u.overReply, backchannel(s, u, text: text, foreign: foreign(s, language), decisive: !refining) { return }
            u.refining = refining
            if refining { deferSpeculation(s, text: text) } else { speculation(s, text: text) }
            transcriptArrived(s, u, text: text, language: language)
        case .speculationVoid:
            u.refining = false
            discardHeld(s, reason: "void")
        case let .refined(text):
            evidenceArrived(s, job: job, u)
            if u.overReply, u.pause?.text != nil, backchannel(s, u, text: text, foreign: !u.pause!.textTrusted) { return }
            // A preemptive reply already started on this pause's `speculative` starts over, one
            // deferred for it starts (speech over the reply judged a backchannel started neither).
            if sessions[s]!.held?.turn == u.turn || u.refining {
                u.refining = false
                speculation(s, text: text)
            }
            refinedArrived(s, u, text: text)
        default:
            break
        }
        touch(s)
    }

    func utteranceFinal(_ s: SessionID, text: String) {
        guard let u = sessions[s]!.utterance else { return }
        clearTurnTimers(s, u)
        sessions[s]!.utterance = nil
        sessions[s]!.lastActivity = now
        if let worker = jobs[u.job]?.worker { sessions[s]!.lastASRWorker = worker }
        let trimmed = Self.trimmed(text)
        if trimmed.isEmpty {
            discardHeld(s, reason: "empty")
            record(.turnEnded, session: s, turn: u.turn, reason: "empty")
            // Push-to-talk: the device ended the turn (`listen stop`) and waits for its reply; with
            // no words there is none, and `tts stop` says the turn is over (as after a reply with
            // no audio). Auto and realtime devices are still listening: nothing to tell them.
            if sessions[s]!.mode == .manual, sessions[s]!.reply == nil { out.append(.deviceSend(s, .ttsStop)) }
            ensureUtterance(s)
            return
        }
        record(.turnMark, session: s, turn: u.turn, reason: "asr_final",
               value: u.speechEndAt.map { now - $0 })
        record(.turnTranscript, session: s, turn: u.turn, text: trimmed)
        out.append(.deviceSend(s, .stt(trimmed)))
        if sessions[s]!.reply != nil { cancelReply(s, reason: "superseded", tellDevice: true) }
        guard admitTurn(s, turn: u.turn) else {
            discardHeld(s, reason: "budget")
            return ensureUtterance(s)
        }
        // Exact after trimming: a held reply answers the words it was given, case and punctuation
        // included (Whisper's "?" vs "." can change the answer); anything else starts afresh.
        if let held = sessions[s]!.held, held.turn == u.turn, held.text == trimmed {
            commitHeld(s, speechEnd: u.speechEndAt ?? now)
        } else {
            discardHeld(s, reason: "mismatch")
            startReply(s, turn: u.turn, text: trimmed, marks: TurnMarks(speechEnd: u.speechEndAt ?? now, asrFinal: now))
        }
        ensureUtterance(s)
    }

    // MARK: reply lifecycle

    func startReply(_ s: SessionID, turn: TurnID, text: String, marks: TurnMarks) {
        precondition(sessions[s]!.reply == nil, "session-turns: turn \(turn)'s reply started while another plays")
        let reply = Reply(turn: turn, text: text, splitter: ReplySplitter(options: config.splitter))
        reply.marks = marks
        reply.watchdog = setTimer(.reply(s, turn), at: now + config.replyTimeoutUs)
        reply.agent = sessions[s]!.agent
        sessions[s]!.reply = reply
        startAssistant(s, avoid: nil)
        touch(s)
    }

    func startAssistant(_ s: SessionID, avoid: WorkerID?) {
        guard let reply = sessions[s]!.reply else { return }
        let attempt = reply.assistantAttempts + 1
        sessions[s]!.reply!.assistantAttempts = attempt
        let agent = replyAgent(s)
        let params: JobParams = reply.instruction
            ? .instruction(text: reply.text, language: replyLanguage(s, agent: replyAgent(s)), deviceID: sessions[s]!.info.deviceID,
                           tools: deviceTools(s), agent: replyAgent(s))
            : assistantParams(s, text: reply.text)
        let job = createJob(kind: .assistant, session: s, turn: reply.turn, segment: -1,
                            params: params,
                            priority: .first, attempt: attempt, preferred: nil, avoid: avoid, agent: replyAgent(s))
        sessions[s]!.reply!.assistantJob = job
        setJobDeadline(job, now + config.assistantTimeoutUs)
    }

    /// Ends the reply normally (played out, or nothing to say).
    func endReply(_ s: SessionID, reason: String) {
        guard let reply = sessions[s]!.reply else { return }
        cancelTimer(reply.watchdog)
        cancelTimer(reply.playbackTimer)
        if let j = reply.assistantJob { cancelJob(j, reason: reason) }
        for seg in reply.segments { if let j = seg.job { cancelJob(j, reason: reason) } }
        let m = reply.marks
        record(.turnEnded, session: s, turn: reply.turn, reason: reason,
               value: m.firstAudioSent.flatMap { sent in m.speechEnd.map { sent - $0 } }, timings: m.differences)
        releasePause(s, reply)
        if let say = reply.say { record(.sayDone, session: s, turn: reply.turn, reason: reason, value: Int64(say)) }
        sessions[s]!.reply = nil
        sessions[s]!.lastActivity = now
        ensureUtterance(s)
        touch(s)
    }

    /// Cancels the reply's jobs; with `tellDevice`, drops its queued audio and stops `tts` at once.
    func cancelReply(_ s: SessionID, reason: String, tellDevice: Bool) {
        guard let reply = sessions[s]!.reply else { return }
        cancelTimer(reply.watchdog)
        cancelTimer(reply.playbackTimer)
        if let j = reply.assistantJob { cancelJob(j, reason: reason) }
        for seg in reply.segments { if let j = seg.job { cancelJob(j, reason: reason) } }
        if tellDevice {
            out.append(.deviceFlush(s))
            out.append(.deviceSend(s, .ttsStop))
        }
        record(.turnCancelled, session: s, turn: reply.turn, reason: reason)
        if let say = reply.say { record(.sayDropped, session: s, turn: reply.turn, reason: reason, value: Int64(say)) }
        sessions[s]!.reply = nil
        touch(s)
    }

    // MARK: fail open

    /// The utterance's ASR stream cannot be served (attempts or moves used up, or no worker).
    func utteranceFailed(_ s: SessionID, reason: String) {
        guard let u = sessions[s]!.utterance else { return }
        discardHeld(s, reason: "asr:" + reason)
        clearTurnTimers(s, u)
        sessions[s]!.utterance = nil
        if let reply = sessions[s]!.reply, reply.turn != u.turn, !u.speech {
            // Realtime: the listener that runs while another turn's reply is in flight failed before
            // the user said anything. Nothing the user said is lost and that reply is not cut, so
            // there is nothing to apologise for yet: the listener just ends. It reopens when the
            // reply ends; if ASR still cannot serve then, that utterance fails open as usual.
            record(.turnEnded, session: s, turn: u.turn, reason: "listener-lost")
            return
        }
        setASRBlocked(s, true)
        failOpen(s, turn: u.turn, text: config.asrFallbackText, reason: "asr:" + reason)
    }

    /// A part of the turn cannot be served: say the fallback (spoken when a TTS worker can serve,
    /// else an `alert`), then end the turn and go back to listening.
    func failOpen(_ s: SessionID, turn: TurnID, text: String, reason: String) {
        record(.turnFallback, session: s, turn: turn, reason: reason)
        if let other = sessions[s]!.reply, other.turn != turn {
            // Realtime: an utterance that heard speech failed while another turn's reply is in
            // flight. That reply is not cut, so the fallback is displayed, not spoken.
            if config.failOpen { out.append(.deviceSend(s, .alert(status: "error", message: text, emotion: "sad"))) }
            record(.turnEnded, session: s, turn: turn, reason: "fallback")
            return
        }
        guard config.failOpen else {
            if sessions[s]!.reply != nil { finishReplyEarly(s) } else { record(.turnEnded, session: s, turn: turn, reason: reason) }
            return
        }
        if sessions[s]!.reply == nil {
            let reply = Reply(turn: turn, text: "", splitter: ReplySplitter(options: config.splitter))
            reply.marks = TurnMarks(speechEnd: now)
            reply.watchdog = setTimer(.reply(s, turn), at: now + config.replyTimeoutUs)
            sessions[s]!.reply = reply
        }
        sessions[s]!.reply!.fallback = true
        if let j = sessions[s]!.reply!.assistantJob {
            cancelJob(j, reason: reason)
            sessions[s]!.reply!.assistantJob = nil
        }
        if scheduler.canServe(.tts) {
            sessions[s]!.reply!.assistantDone = true
            addSegment(s, text: text)
            checkReplyComplete(s)
        } else {
            out.append(.deviceSend(s, .alert(status: "error", message: text, emotion: "sad")))
            finishReplyEarly(s)
        }
        touch(s)
    }

    /// Stops producing the reply: drops segments not yet delivered, keeps what is playing.
    func finishReplyEarly(_ s: SessionID) {
        guard let reply = sessions[s]!.reply else { return }
        if let j = reply.assistantJob { cancelJob(j, reason: "fallback") }
        reply.assistantJob = nil
        reply.assistantDone = true
        // The head segment may be half delivered: its audio already sent stays; the rest is dropped.
        for i in reply.head..<reply.segments.count { if let j = reply.segments[i].job { cancelJob(j, reason: "fallback") } }
        if reply.head < reply.segments.count {
            reply.segments.removeSubrange(reply.head...)
        }
        sessions[s]!.reply = reply
        checkReplyComplete(s)
    }
}
