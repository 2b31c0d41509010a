/// The reply: assistant text through the splitter into TTS segments, and their audio to the
/// device strictly in segment order, each byte at most once.
extension Coordinator {
    func assistantOutput(_ s: SessionID, job: JobID, _ output: JobOutput) {
        if let held = sessions[s]?.held, held.job == job { return heldAssistantOutput(s, held, job: job, output) }
        guard let si = sessions.slot(s), sessions[slot: si].reply?.assistantJob == job else { return }
        if let ji = jobs.slot(job) { setJobDeadline(job, record: jobs[slot: ji], now + config.assistantTimeoutUs) }
        switch output {
        case let .delta(text):
            guard !text.isEmpty else { return }
            if !sessions[slot: si].reply!.gotText {
                sessions[slot: si].reply!.gotText = true
                sessions[slot: si].reply!.marks.firstDelta = now
                mark(s, "first_delta")
            }
            sessions[slot: si].reply!.splitter.push(text)
            takeSegments(s)
        case let .mcp(payload):
            jobMCP(s, job: job, payload)
        case .toolCall, .toolResult:
            record(.jobTool, session: s, turn: sessions[slot: si].reply!.turn, job: job, jobKind: .assistant,
                   reason: output.isToolCall ? "call" : "result")
        default:
            break
        }
    }

    /// The assistant finished: the splitter's rest becomes the last segment.
    func assistantDone(_ s: SessionID, job: JobID) {
        if let held = sessions[s]!.held, held.job == job { return heldAssistantDone(s, held, job: job) }
        guard let reply = sessions[s]!.reply, reply.assistantJob == job else { return }
        finishJob(job, success: true)
        sessions[s]!.reply!.assistantJob = nil
        sessions[s]!.reply!.assistantDone = true
        sessions[s]!.reply!.splitter.flush()
        takeSegments(s)
        checkReplyComplete(s)
    }

    private func takeSegments(_ s: SessionID) {
        while let piece = sessions[s]!.reply!.splitter.next() { addPiece(s, piece) }
    }

    /// A piece of the splitter: its emoji to the device, its text as a segment.
    func addPiece(_ s: SessionID, _ piece: ReplySplitter.Piece, firstSegmentAt: Instant? = nil) {
        if let emoji = piece.emoji.first {
            out.append(.deviceSend(s, .llmEmotion(emoji: emoji, emotion: Emotion.name(of: emoji))))
        }
        if !piece.text.isEmpty { addSegment(s, text: piece.text, firstSegmentAt: firstSegmentAt) }
    }

    /// Appends a segment and queues its TTS job: the first segment at top priority. A committed
    /// held reply passes when its first segment was really cut (`firstSegmentAt`).
    func addSegment(_ s: SessionID, text: String, firstSegmentAt: Instant? = nil) {
        let reply = sessions[s]!.reply!
        let index = reply.segments.count
        if index == 0 {
            sessions[s]!.reply!.marks.firstSegment = firstSegmentAt ?? now
            mark(s, "first_segment", at: firstSegmentAt ?? now)
        }
        sessions[s]!.reply!.segments.append(SegmentState(text: text))
        record(.segmentQueued, session: s, turn: reply.turn, value: Int64(index), text: text)
        startSegmentJob(s, index: index, avoid: nil)
    }

    func startSegmentJob(_ s: SessionID, index: Int, avoid: WorkerID?) {
        let reply = sessions[s]!.reply!
        let attempt = reply.segments[index].attempts + 1
        let job = createJob(kind: .tts, session: s, turn: reply.turn, segment: index,
                            params: .tts(text: reply.segments[index].text, segment: index, sampleRate: config.ttsSampleRate,
                                         language: replyLanguage(s, agent: replyAgent(s)), voice: config.voice(agent: replyAgent(s))),
                            priority: index == 0 ? .first : .later, attempt: attempt, preferred: nil, avoid: avoid)
        sessions[s]!.reply!.segments[index].attempts = attempt
        sessions[s]!.reply!.segments[index].job = job
        sessions[s]!.reply!.segments[index].attemptBytes = 0
        setJobDeadline(job, now + config.ttsTimeoutUs)
    }

    func ttsAudio(_ s: SessionID, job: JobID, record: JobRecord, last: Bool, _ pcm: [UInt8]) {
        let k = record.segment
        guard let si = sessions.slot(s), let reply = sessions[slot: si].reply, k < reply.segments.count,
              reply.segments[k].job == job, !reply.segments[k].complete
        else { return }
        let limit = config.maxSegmentAudioUs * Int64(config.ttsSampleRate) * 2 / 1_000_000
        if Int64(reply.segments[k].attemptBytes + pcm.count) > limit {
            if let w = record.worker { out.append(.workerSend(w, .cancel(job, reason: "audio-limit"), audio: nil)) }
            jobFailed(job, reason: "audio-limit", retryable: false, lost: false)
            return
        }
        setJobDeadline(job, record: record, now + config.ttsTimeoutUs)
        if reply.marks.firstTTSAudio == nil {
            reply.marks.firstTTSAudio = now
            mark(s, "first_tts_audio")
        }
        let skip = reply.segments[k].acceptedBytes - reply.segments[k].attemptBytes
        reply.segments[k].attemptBytes += pcm.count
        if skip < pcm.count {
            let fresh = skip <= 0 ? pcm : Array(pcm[skip...])
            reply.segments[k].acceptedBytes += fresh.count
            if k == reply.head {
                deliver(s, slot: si, reply: reply, segment: k, fresh)
            } else {
                reply.segments[k].pending.append(fresh)
            }
        }
        if last { segmentComplete(s, job: job, segment: k) }
    }

    func segmentComplete(_ s: SessionID, job: JobID, segment k: Int) {
        guard let reply = sessions[s]!.reply, k < reply.segments.count, reply.segments[k].job == job,
              !reply.segments[k].complete
        else { return }
        finishJob(job, success: true)
        sessions[s]!.reply!.segments[k].complete = true
        sessions[s]!.reply!.segments[k].job = nil
        advanceHead(s)
        checkReplyComplete(s)
    }

    /// Moves delivery to the next segment whenever the head one is complete, sending the audio
    /// that waited for it.
    private func advanceHead(_ s: SessionID) {
        while true {
            let reply = sessions[s]!.reply!
            guard reply.head < reply.segments.count, reply.segments[reply.head].complete else { return }
            record(.segmentDelivered, session: s, turn: reply.turn,
                   reason: reply.segments[reply.head].acceptedBytes == 0 ? "silent" : nil, value: Int64(reply.head))
            let next = reply.head + 1
            sessions[s]!.reply!.head = next
            if next < reply.segments.count, !reply.segments[next].pending.isEmpty {
                let pending = reply.segments[next].pending
                sessions[s]!.reply!.segments[next].pending = []
                for chunk in pending { deliver(s, segment: next, chunk) }
            }
        }
    }

    /// Sends audio of the head segment; `tts start` precedes the reply's first audio and the
    /// segment's first audio carries its `sentence_start` text.
    private func deliver(_ s: SessionID, segment k: Int, _ pcm: [UInt8]) {
        guard let si = sessions.slot(s), let reply = sessions[slot: si].reply else { return }
        deliver(s, slot: si, reply: reply, segment: k, pcm)
    }

    private func deliver(_ s: SessionID, slot si: Int, reply: Reply, segment k: Int, _ pcm: [UInt8]) {
        guard !pcm.isEmpty else { return }
        if !reply.ttsStarted {
            reply.ttsStarted = true
            reply.marks.firstAudioSent = now
            out.append(.deviceSend(s, .ttsStart))
            mark(s, "first_audio_sent")
            // In auto mode the device stops listening while it speaks; realtime keeps listening.
            if sessions[slot: si].mode != .realtime { sessions[slot: si].listening = false }
            touch(s)
        }
        let first = !reply.segments[k].started
        if first { reply.segments[k].started = true }
        reply.audioSentBytes += Int64(pcm.count)
        out.append(.deviceAudio(s, turn: reply.turn, segment: k, sampleRate: config.ttsSampleRate,
                                sentenceStart: first ? reply.segments[k].text : nil, pcm))
    }

    /// When the assistant is done and every segment delivered: `device.audio_end` (the daemon
    /// sends `tts stop` after playback), or, when nothing was said, `tts stop` at once and the end
    /// of the turn: every turn's reply ends with `tts stop`, which clients that stop listening
    /// while the assistant answers (the browser page, `voicecore talk`) wait for. The firmware
    /// ignores a `tts stop` that follows no `tts start` (it acts on one only while speaking).
    func checkReplyComplete(_ s: SessionID) {
        guard let reply = sessions[s]!.reply, reply.assistantDone, reply.head >= reply.segments.count,
              !reply.audioEndSent
        else { return }
        guard reply.ttsStarted else {
            out.append(.deviceSend(s, .ttsStop))
            return endReply(s, reason: reply.refused ? "refused" : reply.fallback ? "fallback" : "silent")
        }
        sessions[s]!.reply!.audioEndSent = true
        out.append(.deviceAudioEnd(s, turn: reply.turn))
        let playUs = reply.audioSentBytes * 1_000_000 / Int64(2 * config.ttsSampleRate)
        let started = reply.marks.firstAudioSent ?? now
        let at = max(now, started + playUs + reply.pausedUs) + config.playbackMarginUs
        reply.playbackAt = at
        // A paused downlink plays nothing: the timer is armed when it resumes (settleReplyPause).
        if reply.pausedAt == nil { reply.playbackTimer = setTimer(.playback(s, reply.turn), at: at) }
    }

    /// A timing mark of the reply, relative to the hub's speech end; `at` is when it happened (a
    /// committed held reply's first text and segment precede the commit, maybe the speech end).
    func mark(_ s: SessionID, _ name: String, at: Instant? = nil) {
        let turn = sessions[s]!.reply!.turn
        let speechEnd = sessions[s]!.reply!.marks.speechEnd
        record(.turnMark, session: s, turn: turn, reason: name, value: speechEnd.map { (at ?? now) - $0 })
    }
}

/// The emotion names the XiaoZhi firmware knows, for the `llm` message of a reply's emoji.
enum Emotion {
    static func name(of emoji: String) -> String {
        switch emoji {
        case "😊", "🙂", "☺️": return "happy"
        case "😆", "😂", "🤣", "😄", "😁": return "laughing"
        case "😢", "😭", "😞": return "sad"
        case "😠", "😡": return "angry"
        case "😮", "😲", "😯": return "surprised"
        case "🤔": return "thinking"
        case "😍", "🥰", "❤️": return "loving"
        case "😉": return "winking"
        case "😎": return "cool"
        case "😴": return "sleepy"
        case "😳": return "embarrassed"
        case "😅": return "relaxed"
        default: return "neutral"
        }
    }
}
