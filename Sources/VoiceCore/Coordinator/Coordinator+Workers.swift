/// Worker-side transitions: connect, register, heartbeat, job messages, drain, loss.
extension Coordinator {
    func workerConnected(_ w: WorkerID) {
        guard workers[w] == nil else { return reject("worker already connected", worker: w) }
        var conn = WorkerConnection()
        conn.timer = setTimer(.register(w), at: now + config.registerTimeoutUs)
        workers[w] = conn
        record(.workerConnected, worker: w)
    }

    func workerRegister(_ w: WorkerID, _ registration: WorkerRegistration) {
        guard let conn = workers[w] else { return reject("unknown worker", worker: w) }
        guard !conn.registered else {
            out.append(.workerSend(w, .error("already registered", job: nil), audio: nil))
            return reject("worker already registered", worker: w)
        }
        guard !registration.kinds.isEmpty || !registration.roles.isEmpty else {
            out.append(.workerSend(w, .error("register: no kinds", job: nil), audio: nil))
            return reject("register: no kinds", worker: w)
        }
        cancelTimer(conn.timer)
        scheduler.register(w, registration, now: now)
        workers[w]!.registered = true
        workers[w]!.timer = setTimer(.heartbeat(w), at: now + heartbeatDeadline)
        out.append(.workerSend(w, .registered(heartbeatMs: config.heartbeatMs), audio: nil))
        let state = scheduler.worker(w)!
        if !state.roles.isEmpty {
            out.append(.workerSend(w, .roles(state.kinds), audio: nil))
            if rebalanceTimer == nil {
                rebalanceTimer = setTimer(.rebalance, at: now + config.scheduler.rebalanceIntervalUs)
            }
        }
        let serves = [("agents", registration.agents), ("languages", state.languages.sorted())].filter { !$0.1.isEmpty }
        record(.workerRegistered, worker: w, to: state.kinds.names.joined(separator: ","),
               reason: serves.isEmpty ? nil : serves.map { $0.0 + "=" + $0.1.joined(separator: ",") }.joined(separator: " "),
               text: registration.name.isEmpty ? nil : registration.name)
        placementDirty = true
        if state.kinds.contains(.asr) { unblockASR() }
    }

    var heartbeatDeadline: Int64 { Int64(config.heartbeatMs) * 1000 * Int64(config.missedHeartbeats) }

    /// A new ASR worker: sessions that failed open for lack of one listen again.
    func unblockASR() {
        guard asrBlockedSessions > 0 else { return }
        for s in sessions.keys.sorted() where sessions[s]!.asrBlocked {
            setASRBlocked(s, false)
            ensureUtterance(s)
        }
    }

    func registeredWorker(_ w: WorkerID) -> Bool {
        guard let registered = workers[w]?.registered else { reject("unknown worker", worker: w); return false }
        guard registered else {
            out.append(.workerSend(w, .error("not registered", job: nil), audio: nil))
            reject("message before register", worker: w)
            return false
        }
        return true
    }

    func workerHeartbeat(_ w: WorkerID, _ load: [WorkerKind: Int]) {
        guard registeredWorker(w) else { return }
        scheduler.heartbeat(w, load: load, now: now)
        reconcile(w, load)
    }

    func workerDrain(_ w: WorkerID) {
        guard registeredWorker(w) else { return }
        scheduler.drain(w)
        record(.workerDraining, worker: w)
    }

    /// The job a worker message refers to, or nil: a late message of a finished or cancelled job
    /// is ignored (logged as `job.late`); an id never issued, or another worker's job, is rejected.
    func workerJob(_ w: WorkerID, _ id: JobID, quietIfLate: Bool = false) -> JobRecord? {
        guard registeredWorker(w) else { return nil }
        if let ji = jobs.slot(id) {
            let record = jobs[slot: ji]
            if record.worker == w { return record }
            out.append(.workerSend(w, .error("job \(id.raw) is not yours", job: id), audio: nil))
            reject("job of another worker", worker: w, job: id)
            return nil
        }
        if id.raw >= 1 && id.raw < nextJob {
            if !quietIfLate { record(.jobLate, job: id, worker: w) }
            return nil
        }
        out.append(.workerSend(w, .error("unknown job \(id.raw)", job: id), audio: nil))
        reject("unknown job", worker: w, job: id)
        return nil
    }

    func workerAccepted(_ w: WorkerID, _ id: JobID) {
        guard let j = workerJob(w, id), !j.accepted else { return }
        jobs[id]!.accepted = true
        record(.jobAccepted, session: j.session, turn: j.turn, job: id, jobKind: j.kind, worker: w)
    }

    func workerOutput(_ w: WorkerID, _ id: JobID, _ output: JobOutput) {
        // A TTS job ends at its last audio frame; the `segment_done` that follows it is the normal
        // protocol (docs/worker-protocol.md), not late output.
        var quiet = false
        if case .segmentDone = output { quiet = true }
        guard let j = workerJob(w, id, quietIfLate: quiet) else { return }
        guard sessions[j.session] != nil else { return }
        switch (j.kind, output) {
        case let (.assistant, .usage(model, prompt, completion, total)):
            assistantUsage(j.session, job: id, model: model, prompt: prompt, completion: completion, total: total)
        case let (.assistant, .delta(text)):
            j.outputChars += text.utf8.count
            assistantOutput(j.session, job: id, output)
        case (.asr, .speechStart), (.asr, .partial), (.asr, .final), (.asr, .speechEnd), (.asr, .speculative), (.asr, .speculationVoid), (.asr, .refined),
             (.asr, .pause), (.asr, .resume), (.asr, .turnProbability):
            asrOutput(j.session, job: id, output)
        case (.assistant, .delta), (.assistant, .mcp), (.assistant, .toolCall), (.assistant, .toolResult):
            assistantOutput(j.session, job: id, output)
        case (.tts, .segmentDone):
            segmentComplete(j.session, job: id, segment: j.segment)
        default:
            out.append(.workerSend(w, .error("output not valid for a \(j.kind.name) job", job: id), audio: nil))
            reject("output not valid for a \(j.kind.name) job", worker: w, job: id)
        }
    }

    func workerAudio(_ w: WorkerID, _ id: JobID, last: Bool, _ pcm: [UInt8]) {
        guard let j = workerJob(w, id) else { return }
        guard j.kind == .tts else {
            out.append(.workerSend(w, .error("audio for a \(j.kind.name) job", job: id), audio: nil))
            return reject("audio for a \(j.kind.name) job", worker: w, job: id)
        }
        guard pcm.count % 2 == 0 else {
            out.append(.workerSend(w, .error("odd PCM16 length", job: id), audio: nil))
            return reject("odd PCM16 length", worker: w, job: id)
        }
        ttsAudio(j.session, job: id, record: j, last: last, pcm)
    }

    func workerDone(_ w: WorkerID, _ id: JobID) {
        // `done` after an ASR final or a TTS segment end is the normal protocol: not "late".
        guard let j = workerJob(w, id, quietIfLate: true) else { return }
        let s = j.session
        switch j.kind {
        case .asr:
            // Done without a final: the utterance had nothing to say.
            finishJob(id, success: true)
            if sessions[s]?.utterance?.job == id { utteranceFinal(s, text: "") }
        case .assistant:
            if sessions[s] != nil { estimateUsage(s, job: id) }
            assistantDone(s, job: id)
        case .tts:
            segmentComplete(s, job: id, segment: j.segment)
        case .llm:
            finishJob(id, success: true)
        }
        if sessions[s] != nil { touch(s) }
    }

    func workerError(_ w: WorkerID, _ id: JobID, message: String, retryable: Bool) {
        guard let j = workerJob(w, id) else { return }
        let reason = message.isEmpty ? "error" : message
        if retryable && !j.accepted && j.phase == .running && j.refusals < config.maxRefusals {
            return jobRefused(id, worker: w, reason: reason)
        }
        jobFailed(id, reason: reason, retryable: retryable, lost: false)
    }

    /// The worker is gone (disconnected, missed heartbeats, never registered): its jobs move on.
    func workerGone(_ w: WorkerID, reason: String, close: Bool) {
        guard let conn = workers.removeValue(forKey: w) else { return reject("unknown worker", worker: w) }
        cancelTimer(conn.timer)
        if close { out.append(.workerClose(w, code: CloseCode.policyViolation, reason: reason)) }
        let lost = scheduler.remove(w)
        if reason == "heartbeat-timeout" { counters.heartbeatTimeouts += 1 }
        record(.workerGone, worker: w, reason: reason, value: Int64(lost.count))
        for id in lost { jobFailed(id, reason: "worker-lost", retryable: true, lost: true) }
        placementDirty = true
    }
}
