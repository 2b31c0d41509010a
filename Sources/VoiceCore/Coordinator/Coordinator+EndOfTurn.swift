/// Turn-taking: the end of an utterance decided on the ASR worker's evidence (EndOfTurn.swift),
/// and speech over a playing reply (realtime mode): the reply's downlink pauses at once, then the
/// speech proves a backchannel — the reply resumes where it paused, no turn starts — or an
/// interruption — the reply is cut and the user's turn goes on.
extension Coordinator {
    /// `pause`: silence began `silenceMs` of audio ago. Without hub endpointing it only dates the
    /// end of the speech (a backchannel's length).
    func paused(_ s: SessionID, _ u: Utterance, silenceMs: Int) {
        guard !u.ended else { return }
        u.pause = PauseEvidence(since: now + Int64(-silenceMs) * 1000)
        decideEndOfTurn(s)
    }

    /// End-of-turn evidence is the ASR stream's progress, as a partial is: an utterance longer than
    /// `asr_timeout_ms` whose worker sends no partials must not time out while it is reported on.
    func evidenceArrived(_ s: SessionID, job: JobID, _ u: Utterance) {
        sessions[s]!.lastActivity = now
        if u.speech, !u.ended { setJobDeadline(job, now + config.asrTimeoutUs) }
    }

    /// The speculative transcript of the pause, with its language: in another language than the
    /// session's, its words are no evidence of where the sentence stands.
    func transcriptArrived(_ s: SessionID, _ u: Utterance, text: String, language: String?) {
        guard u.pause != nil else { return }
        u.pause!.text = text
        u.pause!.textTrusted = TurnText.sameLanguage(language, sessionLanguage(s))
        u.pause!.refined = nil  // a `refined` belongs to the pass before this one
        decideEndOfTurn(s)
    }

    /// The pause's transcript decoded again with beam search: where the greedy words end open, the
    /// beam's may decide (EndOfTurn.rule).
    func refinedArrived(_ s: SessionID, _ u: Utterance, text: String) {
        guard u.pause?.text != nil else { return }
        u.pause!.refined = text
        decideEndOfTurn(s)
    }

    /// True when a transcript in `language` is in another language than the session's.
    func foreign(_ s: SessionID, _ language: String?) -> Bool {
        !TurnText.sameLanguage(language, sessionLanguage(s))
    }

    /// Speech again (`resume`, `speech_start`): the pause's evidence is void.
    func resumed(_ s: SessionID, _ u: Utterance) {
        u.pause = nil
        cancelTimer(u.endTimer)
        u.endTimer = nil
        // Speech over the reply that paused past `interrupt_ms` and goes on: an interruption.
        if u.overReply, u.bargeInTimer == nil { interrupt(s, u) }
    }

    /// Ends the utterance now, or arms the timer for the deadline the evidence gives.
    func decideEndOfTurn(_ s: SessionID) {
        guard config.turn.hubEndpointing, let u = sessions[s]!.utterance, u.mode != .manual, !u.ended,
              let evidence = u.pause else { return }
        let deadline = EndOfTurn.deadline(evidence, config: config.turn)
        cancelTimer(u.endTimer)
        u.endTimer = nil
        if deadline > now {
            u.endTimer = setTimer(.endOfTurn(s, u.turn), at: deadline)
            return
        }
        record(.turnEndpoint, session: s, turn: u.turn, reason: EndOfTurn.rule(evidence, config: config.turn),
               value: (now - evidence.since) / 1000, text: EndOfTurn.words(evidence))
        endUtteranceInput(s)
    }

    // MARK: speech over a playing reply

    /// Speech started while a reply plays: its downlink pauses `barge_in_ms` later (at once by
    /// default) and the speech is judged.
    func overReply(_ s: SessionID, _ u: Utterance) {
        u.overReply = true
        u.speechStartedAt = now
        cancelTimer(u.bargeInTimer)
        u.bargeInTimer = nil
        if config.turn.bargeInUs > 0 {
            u.bargeInTimer = setTimer(.bargeIn(s, u.turn), at: now + config.turn.bargeInUs)
        } else {
            pauseReply(s, u)
        }
    }

    /// `device.pause` and the interruption deadline. A device already playing the reply is told to
    /// drop the frames it holds (up to `prebuffer_frames`, 180 ms), which the host sends again if
    /// the reply resumes: the reply falls silent as the pause is decided, not after them. Only in
    /// realtime mode: there the firmware's `tts stop` keeps it listening with its microphone on
    /// (in auto mode it would send `listen start`, in manual mode go idle).
    func pauseReply(_ s: SessionID, _ u: Utterance) {
        if let reply = sessions[s]!.reply, reply.turn < u.turn, reply.pausedAt == nil {
            reply.pausedAt = now
            cancelTimer(reply.playbackTimer)
            reply.playbackTimer = nil
            let drops = reply.ttsStarted && sessions[s]!.mode == .realtime
            out.append(.devicePause(s, deviceDrops: drops))
            if drops {
                out.append(.deviceSend(s, .ttsPauseStop))
                out.append(.deviceSend(s, .ttsPauseStart))
            }
            record(.turnPaused, session: s, turn: reply.turn, value: u.speechStartedAt.map { (now - $0) / 1000 })
        }
        cancelTimer(u.bargeInTimer)
        u.bargeInTimer = setTimer(.bargeIn(s, u.turn), at: max(now, (u.speechStartedAt ?? now) + config.turn.interruptUs))
    }

    /// `barge_in_ms` passed: pause the downlink if the speech goes on. `interrupt_ms` passed: still
    /// speaking is an interruption; in a pause the transcript decides (or more speech: `resumed`).
    func bargeInTimerFired(_ s: SessionID, _ u: Utterance) {
        guard u.overReply else { return }
        let start = u.speechStartedAt ?? now
        if now < start + config.turn.interruptUs {
            if u.pause == nil {
                pauseReply(s, u)
            } else {
                u.bargeInTimer = setTimer(.bargeIn(s, u.turn), at: start + config.turn.interruptUs)
            }
            return
        }
        if u.pause == nil { interrupt(s, u) }
    }

    /// An interruption: the reply is cut (`device.flush`, `tts stop`) and the utterance is the
    /// user's next turn.
    func interrupt(_ s: SessionID, _ u: Utterance) {
        u.overReply = false
        cancelTimer(u.bargeInTimer)
        u.bargeInTimer = nil
        if let reply = sessions[s]!.reply, reply.turn < u.turn {
            cancelReply(s, reason: "barge-in", tellDevice: true)
        }
    }

    /// A transcript of speech over the reply. A backchannel — every word one ("uh-huh", "yeah,
    /// yeah", "嗯", "ага"), no words at all (an empty final: noise, a cough), no content words in
    /// speech that ended before `interrupt_ms` ("And m m": Whisper's "mm-hmm"), or speech no longer
    /// than `backchannel_ms` whose transcript is in another language than the session's or is one
    /// word that is not an interruption ("Подать": Whisper base's "понятно"; not "Stop.") — ends the
    /// utterance without a turn and the reply resumes (true); anything else is an interruption
    /// (false: the reply is cut, the utterance goes on as usual) — unless not `decisive` (words the
    /// worker is decoding again, whose `refined` or final decides): then nothing changes yet.
    /// `foreign`: the words are in another language than the session's.
    func backchannel(_ s: SessionID, _ u: Utterance, text: String, foreign: Bool, decisive: Bool = true) -> Bool {
        let words = Self.trimmed(text)
        let spokeUs = (u.pause?.since ?? now) - (u.speechStartedAt ?? u.startedAt)
        let reason: String
        if words.isEmpty || TurnText.isBackchannel(words) {
            reason = "words"
        } else if !foreign, spokeUs <= config.turn.interruptUs, !TurnText.hasContentWords(words) {
            reason = "no-content"
        } else if foreign, spokeUs <= config.turn.backchannelUs {
            reason = "short"
        } else if !foreign, spokeUs <= config.turn.backchannelUs, TurnText.isOneWord(words) {
            reason = "one-word"
        } else {
            if decisive { interrupt(s, u) }
            return false
        }
        clearTurnTimers(s, u)
        discardHeld(s, reason: "backchannel")
        if jobs[u.job] != nil { cancelJob(u.job, reason: "backchannel") }
        sessions[s]!.utterance = nil
        record(.turnBackchannel, session: s, turn: u.turn, reason: reason, value: spokeUs / 1000, text: words)
        ensureUtterance(s)
        return true
    }

    /// The utterance is over (ended, cancelled, failed, a backchannel): its timers go, and a reply
    /// it paused is settled when the event has been handled (`settleReplyPause`).
    func clearTurnTimers(_ s: SessionID, _ u: Utterance) {
        cancelTimer(u.endTimer)
        cancelTimer(u.bargeInTimer)
        u.endTimer = nil
        u.bargeInTimer = nil
        u.overReply = false
        touch(s)
    }

    /// A reply that ends normally while its downlink is paused (it had no audio yet: nothing to
    /// say): the host's queue must not stay held for the next reply.
    func releasePause(_ s: SessionID, _ reply: Reply) {
        guard reply.pausedAt != nil else { return }
        reply.pausedAt = nil
        out.append(.deviceResume(s))
    }

    /// After each event: a reply whose downlink is paused while no speech over it is being judged
    /// any more (a backchannel, or its utterance ended another way) resumes where it paused
    /// (`device.resume`); its playback deadline moves on by the pause.
    func settleReplyPause(_ s: SessionID) {
        guard let reply = sessions[s]?.reply, let at = reply.pausedAt else { return }
        if let u = sessions[s]!.utterance, u.overReply { return }
        reply.pausedAt = nil
        reply.pausedUs += now - at
        out.append(.deviceResume(s))
        record(.turnResumed, session: s, turn: reply.turn, value: (now - at) / 1000)
        if let deadline = reply.playbackAt {
            let moved = deadline + (now - at)
            reply.playbackAt = moved
            reply.playbackTimer = setTimer(.playback(s, reply.turn), at: max(now, moved))
        }
    }
}
