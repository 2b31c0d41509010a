/// Turn-taking: the end of an utterance decided on the ASR worker's evidence (EndOfTurn.swift),
/// and speech over a playing reply judged as an interruption or a backchannel.
extension Coordinator {
    /// `pause`: silence began `silenceMs` of audio ago. Without hub endpointing it is only a mark.
    func paused(_ s: SessionID, _ u: Utterance, silenceMs: Int) {
        guard config.turn.hubEndpointing, u.mode != .manual, !u.ended else { return }
        u.pause = PauseEvidence(since: now + Int64(-silenceMs) * 1000)
        decideEndOfTurn(s)
    }

    /// End-of-turn evidence is the ASR stream's progress, as a partial is: an utterance longer than
    /// `asr_timeout_ms` whose worker sends no partials must not time out while it is reported on.
    func evidenceArrived(_ s: SessionID, job: JobID, _ u: Utterance) {
        sessions[s]!.lastActivity = now
        if u.speech, !u.ended { setJobDeadline(job, now + config.asrTimeoutUs) }
    }

    /// Speech again (`resume`, `speech_start`): the pause's evidence is void.
    func resumed(_ s: SessionID, _ u: Utterance) {
        u.pause = nil
        cancelTimer(u.endTimer)
        u.endTimer = nil
        // A backchannel's pause was a candidate; more speech makes it an interruption.
        if u.overReply, u.bargeInTimer == nil { interrupt(s, u) }
    }

    /// Ends the utterance now, or arms the timer for the deadline the evidence gives.
    func decideEndOfTurn(_ s: SessionID) {
        guard let u = sessions[s]!.utterance, !u.ended, let evidence = u.pause else { return }
        let deadline = EndOfTurn.deadline(evidence, config: config.turn)
        cancelTimer(u.endTimer)
        u.endTimer = nil
        if deadline > now {
            u.endTimer = setTimer(.endOfTurn(s, u.turn), at: deadline)
            return
        }
        record(.turnEndpoint, session: s, turn: u.turn, reason: EndOfTurn.rule(evidence, config: config.turn),
               value: (now - evidence.since) / 1000)
        endUtteranceInput(s)
    }

    /// Speech started while a reply plays: wait `barge_in_ms` before cutting it.
    func overReply(_ s: SessionID, _ u: Utterance) {
        guard config.turn.bargeInUs > 0 else {
            cancelReply(s, reason: "barge-in", tellDevice: true)
            return
        }
        u.overReply = true
        cancelTimer(u.bargeInTimer)
        u.bargeInTimer = setTimer(.bargeIn(s, u.turn), at: now + config.turn.bargeInUs)
    }

    /// Still speaking after `barge_in_ms`: an interruption. Already in a pause: the transcript decides.
    func bargeInTimerFired(_ s: SessionID, _ u: Utterance) {
        guard u.overReply, u.pause == nil else { return }
        interrupt(s, u)
    }

    func interrupt(_ s: SessionID, _ u: Utterance) {
        u.overReply = false
        cancelTimer(u.bargeInTimer)
        u.bargeInTimer = nil
        if let reply = sessions[s]!.reply, reply.turn < u.turn {
            cancelReply(s, reason: "barge-in", tellDevice: true)
        }
    }

    /// A transcript of speech over the reply: a backchannel — or no words at all (an empty final:
    /// noise, a cough) — ends the utterance without a turn and leaves the reply playing (true);
    /// anything else is an interruption (false, go on as usual).
    func backchannel(_ s: SessionID, _ u: Utterance, text: String) -> Bool {
        guard TurnText.isBackchannel(text) || Self.trimmed(text).isEmpty else {
            interrupt(s, u)
            return false
        }
        clearTurnTimers(u)
        discardHeld(s, reason: "backchannel")
        if jobs[u.job] != nil { cancelJob(u.job, reason: "backchannel") }
        sessions[s]!.utterance = nil
        record(.turnBackchannel, session: s, turn: u.turn, text: Self.trimmed(text))
        ensureUtterance(s)
        touch(s)
        return true
    }

    func clearTurnTimers(_ u: Utterance) {
        cancelTimer(u.endTimer)
        cancelTimer(u.bargeInTimer)
        u.endTimer = nil
        u.bargeInTimer = nil
    }
}
