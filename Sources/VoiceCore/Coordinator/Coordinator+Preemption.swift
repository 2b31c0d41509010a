/// Preemptive generation: the assistant starts on the ASR's speculative transcript, so the LLM's
/// time to first token overlaps the endpoint's silence wait. Its output is held (no TTS, nothing
/// to the device, no `stt`) until the final confirms the same text — then it becomes the turn's
/// reply as if started at the final — or anything voids it: new speech, another transcript, a
/// failure, a timeout, the session going away. Nothing of a discarded reply leaves the hub.
extension Coordinator {
    /// `speculative` from the open utterance's ASR job.
    func speculation(_ s: SessionID, text: String) {
        guard config.preemptiveGeneration, let u = sessions[s]!.utterance else { return }
        let trimmed = Self.trimmed(text)
        if let held = sessions[s]!.held {
            if held.turn == u.turn && held.text == trimmed { return }
            discardHeld(s, reason: "respeculated")
        }
        // Over a budget the final will be refused: no LLM call on speculation.
        guard !trimmed.isEmpty, budgetExceeded(s) == nil else { return }
        precondition(sessions[s]!.held == nil, "held-reply: a second held reply")
        let held = HeldReply(turn: u.turn, text: trimmed, splitter: ReplySplitter(options: config.splitter))
        held.watchdog = setTimer(.preemption(s, u.turn), at: now + config.replyTimeoutUs)
        sessions[s]!.held = held
        let job = createJob(kind: .assistant, session: s, turn: u.turn, segment: -1,
                            params: assistantParams(s, text: trimmed, preemptive: true),
                            priority: .first, attempt: 1, preferred: nil, avoid: nil, agent: sessions[s]!.agent)
        held.job = job
        record(.preemptStarted, session: s, turn: u.turn, job: job, text: trimmed)
        setJobDeadline(job, now + config.assistantTimeoutUs)
    }

    /// `speculative` with `refining`: the worker was unsure of these words and decodes them again.
    /// No held reply on them (one on an earlier text goes): the reply waits for that `refined` text
    /// rather than share the CPU with the decoding for words it may discard.
    func deferSpeculation(_ s: SessionID, text: String) {
        guard config.preemptiveGeneration, let u = sessions[s]!.utterance else { return }
        discardHeld(s, reason: "respeculated")
        record(.preemptDeferred, session: s, turn: u.turn, reason: "refining", text: Self.trimmed(text))
    }

    /// Output of the held reply's assistant job: text through the splitter, segments and MCP kept.
    func heldAssistantOutput(_ s: SessionID, _ held: HeldReply, job: JobID, _ output: JobOutput) {
        setJobDeadline(job, now + config.assistantTimeoutUs)
        switch output {
        case let .delta(text):
            guard !text.isEmpty else { return }
            if held.firstDelta == nil { held.firstDelta = now }
            held.splitter.push(text)
            holdSegments(held)
        case let .mcp(payload):
            // A device tool call is a side effect: it waits for the commit like the audio.
            held.pending.append(.mcp(payload))
        case .toolCall, .toolResult:
            record(.jobTool, session: s, turn: held.turn, job: job, jobKind: .assistant,
                   reason: output.isToolCall ? "call" : "result")
        default:
            break
        }
    }

    /// The held reply's assistant finished before the commit (a worker that does not wait for it).
    func heldAssistantDone(_ s: SessionID, _ held: HeldReply, job: JobID) {
        finishJob(job, success: true)
        held.job = nil
        held.assistantDone = true
        held.splitter.flush()
        holdSegments(held)
    }

    private func holdSegments(_ held: HeldReply) {
        while let piece = held.splitter.next() {
            if held.firstSegment == nil && !piece.text.isEmpty { held.firstSegment = now }
            held.pending.append(.segment(piece))
        }
    }

    /// The final confirmed the speculative text: the held reply becomes the turn's reply, its held
    /// segments go to TTS in order, and the assistant is told to `commit` (remember the exchange).
    func commitHeld(_ s: SessionID, speechEnd: Instant) {
        guard let held = sessions[s]!.held else { return }
        sessions[s]!.held = nil
        cancelTimer(held.watchdog)
        record(.preemptCommitted, session: s, turn: held.turn, job: held.job,
               value: held.firstDelta.map { now - $0 })
        precondition(sessions[s]!.reply == nil, "session-turns: a held reply committed while another plays")
        let reply = Reply(turn: held.turn, text: held.text, splitter: held.splitter)
        reply.marks = TurnMarks(speechEnd: speechEnd, asrFinal: now, firstDelta: held.firstDelta)
        reply.watchdog = setTimer(.reply(s, held.turn), at: now + config.replyTimeoutUs)
        reply.assistantAttempts = 1
        reply.agent = sessions[s]!.agent
        reply.assistantJob = held.job
        reply.assistantDone = held.assistantDone
        reply.gotText = held.firstDelta != nil
        sessions[s]!.reply = reply
        if let job = held.job, let record = jobs[job] {
            if record.phase == .running, let w = record.worker {
                out.append(.workerSend(w, .inputCommit(job), audio: nil))
            } else {
                // Not dispatched yet: it goes out as an ordinary job.
                record.params = assistantParams(s, text: held.text)
            }
        }
        if let t = held.firstDelta { mark(s, "first_delta", at: t) }
        for output in held.pending {
            switch output {
            case let .mcp(payload): jobMCP(s, job: held.job, payload)
            case let .segment(piece): addPiece(s, piece, firstSegmentAt: held.firstSegment)
            }
        }
        checkReplyComplete(s)
        touch(s)
    }

    /// Drops the held reply: its job is cancelled, nothing of it reaches TTS or the device.
    func discardHeld(_ s: SessionID, reason: String) {
        guard let held = sessions[s]?.held else { return }
        sessions[s]!.held = nil
        cancelTimer(held.watchdog)
        record(.preemptDiscarded, session: s, turn: held.turn, job: held.job, reason: reason)
        if let job = held.job { cancelJob(job, reason: "preempt:" + reason) }
    }

    /// The held reply's assistant job failed, timed out or lost its worker: no retry (the final
    /// starts an ordinary reply if the speculation was right).
    func heldJobFailed(_ s: SessionID, job: JobID, reason: String) -> Bool {
        guard let held = sessions[s]!.held, held.job == job else { return false }
        discardHeld(s, reason: "assistant:" + reason)
        return true
    }

    static func trimmed(_ text: String) -> String {
        var t = Substring(text)
        while let c = t.first, c.isWhitespace { t.removeFirst() }
        while let c = t.last, c.isWhitespace { t.removeLast() }
        return String(t)
    }
}
