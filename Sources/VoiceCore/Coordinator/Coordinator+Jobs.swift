/// Job lifecycle: queue → place → run → done / failed / cancelled, retries and re-dispatch.
extension Coordinator {
    func createJob(kind: WorkerKind, session s: SessionID, turn: TurnID, segment: Int, params: JobParams,
                   priority: JobPriority, attempt: Int, preferred: WorkerID?, avoid: WorkerID?, agent: String = "") -> JobID {
        let id = JobID(nextJob)
        nextJob += 1
        precondition(jobs[id] == nil, "ids-increase: job \(id) issued twice")
        jobs[id] = JobRecord(kind: kind, session: s, turn: turn, segment: segment, params: params, priority: priority,
                             attempt: attempt, avoid: avoid, preferred: preferred, queuedAt: now)
        jobs[id]!.agent = agent
        enqueue(id)
        return id
    }

    func enqueue(_ id: JobID) {
        let j = jobs[id]!
        precondition(!scheduler.isQueued(id, kind: j.kind) && scheduler.assignedWorker(id) == nil,
                     "job-placement: job \(id) queued twice or while it holds a slot")
        jobs[id]!.phase = .queued
        jobs[id]!.queuedAt = now
        scheduler.enqueue(QueuedJob(job: id, kind: j.kind, session: j.session, priority: j.priority,
                                    preferred: j.preferred, avoid: j.avoid, enqueuedAt: now, agent: j.agent,
                                    language: j.params.modelLanguage))
        record(.jobQueued, session: j.session, turn: j.turn, job: id, jobKind: j.kind, to: j.agent.isEmpty ? nil : j.agent,
               reason: j.priority.description, value: j.attempt > 1 ? Int64(j.attempt) : nil)
        placementDirty = true
        justQueued.append(id)
    }

    /// The job's language when the worker names its languages and not this one (no worker that
    /// hears it was there: the Scheduler's last resort), for the log to explain the transcript.
    func unheardLanguage(_ params: JobParams, on worker: WorkerID) -> String? {
        guard scheduler.languageWorkers > 0 else { return nil }  // every dispatch passes here
        let language = LanguageTag.primary(params.modelLanguage)
        guard !language.isEmpty, let w = scheduler.worker(worker), w.fit(language: language) == 0 else { return nil }
        return language
    }

    /// Places every job that can be placed now and dispatches it; jobs left queued get a queue
    /// deadline.
    func placeJobs() {
        placementDirty = false
        healthDirty = true
        while let p = scheduler.nextPlacement(now: now) {
            dispatch(p.job.job, to: p.worker)
        }
        let health = scheduler.takeHealthChanges()
        for w in health.restored { record(.workerRestored, worker: w) }
        for id in justQueued {
            guard let j = jobs[id], j.phase == .queued, j.timer == nil else { continue }
            armJobTimer(id, at: j.queuedAt + config.queueTimeoutUs)
        }
        justQueued.removeAll(keepingCapacity: true)
    }

    private func dispatch(_ id: JobID, to worker: WorkerID) {
        guard let j = jobs[id] else { return }
        precondition(j.phase == .queued && j.worker == nil, "job-placement: job \(id) dispatched while \(j.phase)")
        jobs[id]!.phase = .running
        jobs[id]!.worker = worker
        jobs[id]!.dispatchedAt = now
        out.append(.workerSend(worker, .job(id, kind: j.kind, session: j.session, turn: j.turn, params: j.params), audio: nil))
        record(.jobDispatched, session: j.session, turn: j.turn, job: id, jobKind: j.kind, worker: worker,
               reason: unheardLanguage(j.params, on: worker).map { "unheard-language=" + $0 }, value: now - j.queuedAt)
        // The queue deadline no longer applies; the progress deadline (if any) starts now.
        cancelTimer(j.timer)
        jobs[id]!.timer = nil
        if j.deadline != nil { setJobDeadline(id, now + progressTimeout(j.kind)) }
        if j.kind == .asr, let u = sessions[j.session]?.utterance, u.job == id {
            // The stream so far (bounded), then the end if the device already stopped.
            var ring = u.audio
            while let chunk = ring.pop() { out.append(.workerSend(worker, .audio(id), audio: chunk)) }
            if u.ended {
                out.append(.workerSend(worker, .inputEnd(id), audio: nil))
                setJobDeadline(id, now + config.asrTimeoutUs)
            }
        }
    }

    func progressTimeout(_ kind: WorkerKind) -> Int64 {
        switch kind {
        case .asr: return config.asrTimeoutUs
        case .tts: return config.ttsTimeoutUs
        case .assistant, .llm: return config.assistantTimeoutUs
        }
    }

    func armJobTimer(_ id: JobID, at: Instant) {
        cancelTimer(jobs[id]!.timer)
        jobs[id]!.timer = setTimer(.job(id), at: at)
        jobs[id]!.timerAt = at
    }

    /// Sets the job's progress deadline; the timer is re-armed lazily when it fires early.
    /// The same for a record already at hand (the hot paths).
    func setJobDeadline(_ id: JobID, record: JobRecord, _ at: Instant) {
        record.deadline = at
        if record.phase == .running, record.timer == nil || record.timerAt > at { armJobTimer(id, at: at) }
    }

    func setJobDeadline(_ id: JobID, _ at: Instant) {
        guard let ji = jobs.slot(id) else { return }
        jobs[slot: ji].deadline = at
        if jobs[slot: ji].phase == .running, jobs[slot: ji].timer == nil || jobs[slot: ji].timerAt > at { armJobTimer(id, at: at) }
    }

    /// Cancels a job wherever it is; a running one is told to stop.
    func cancelJob(_ id: JobID, reason: String) {
        guard let j = jobs.removeValue(forKey: id) else { return }
        cancelTimer(j.timer)
        scheduler.cancel(id, kind: j.kind)
        assert(scheduler.assignedWorker(id) == nil && !scheduler.isQueued(id, kind: j.kind), "job-placement: cancelled job \(id) still placed")
        placementDirty = true
        if j.phase == .running, let w = j.worker {
            out.append(.workerSend(w, .cancel(id, reason: reason), audio: nil))
        }
        record(.jobCancelled, session: j.session, turn: j.turn, job: id, jobKind: j.kind, worker: j.worker, reason: reason)
    }

    /// The job ended successfully (final, done, segment done): release its slot.
    func finishJob(_ id: JobID, success: Bool) {
        guard let j = jobs.removeValue(forKey: id) else { return }
        cancelTimer(j.timer)
        scheduler.finish(id, success: success, now: now)
        assert(scheduler.assignedWorker(id) == nil, "job-placement: finished job \(id) still holds a slot")
        placementDirty = true
        record(.jobDone, session: j.session, turn: j.turn, job: id, jobKind: j.kind, worker: j.worker)
    }

    /// The job failed: `lost` (its worker vanished) re-dispatches at once elsewhere; an error or a
    /// timeout retries after a backoff inside the retry budget; when attempts run out the turn
    /// fails open.
    func jobFailed(_ id: JobID, reason: String, retryable: Bool, lost: Bool) {
        guard let j = jobs.removeValue(forKey: id) else { return }
        cancelTimer(j.timer)
        if !lost { scheduler.finish(id, success: false, now: now) }
        assert(scheduler.assignedWorker(id) == nil, "job-placement: failed job \(id) still holds a slot")
        if let (w, until) = scheduler.takeHealthChanges().ejected {
            record(.workerEjected, worker: w, value: until - now)
        }
        placementDirty = true
        record(.jobFailed, session: j.session, turn: j.turn, job: id, jobKind: j.kind, worker: j.worker, reason: reason)
        guard sessions[j.session] != nil else { return }
        let s = j.session
        // A loss is not the job's fault: the work moves at once (the issue's "the stream moves to
        // another worker", "the segment is re-dispatched"), bounded on its own; errors and
        // timeouts spend `max_attempts` and the retry budget.
        var mayRetry = lost ? j.losses < config.maxRedispatches
            : j.attempt - j.losses < config.maxAttempts && retryable && scheduler.takeRetryToken(j.kind)
        switch j.kind {
        case .asr:
            guard let u = sessions[s]!.utterance, u.job == id else { return }
            if mayRetry {
                let next = retry(j, lost: lost)
                sessions[s]!.utterance!.job = next
                sessions[s]!.utterance!.attempts += 1
            } else {
                utteranceFailed(s, reason: reason)
            }
        case .assistant:
            if heldJobFailed(s, job: id, reason: reason) { break }
            guard let reply = sessions[s]!.reply, reply.assistantJob == id else { return }
            sessions[s]!.reply!.assistantJob = nil
            mayRetry = !reply.gotText && reply.assistantAttempts <= config.assistantRetries && (lost || retryable)
            if mayRetry {
                record(.jobRetry, session: s, turn: j.turn, job: id, jobKind: .assistant, reason: reason)
                startAssistant(s, avoid: j.worker)
            } else {
                failOpen(s, turn: j.turn, text: config.fallbackText, reason: "assistant:" + reason)
            }
        case .tts:
            guard let reply = sessions[s]!.reply, j.segment < reply.segments.count,
                  reply.segments[j.segment].job == id
            else { return }
            if mayRetry {
                let next = retry(j, lost: lost)
                sessions[s]!.reply!.segments[j.segment].job = next
                sessions[s]!.reply!.segments[j.segment].attempts += 1
                sessions[s]!.reply!.segments[j.segment].attemptBytes = 0
            } else {
                segmentLost(s, turn: j.turn, segment: j.segment, reason: reason)
            }
        case .llm:
            break
        }
        touch(s)
    }

    /// The worker refused a job it never accepted (retryable error before `accepted`: no free
    /// slot, draining, kind not served). The same job goes back to the queue at once, avoiding
    /// that worker, without counting a failure of the worker or spending an attempt or the retry
    /// budget; the worker counts as full for the kind until a heartbeat or a finished job of it
    /// says otherwise, so the job cannot ping-pong.
    func jobRefused(_ id: JobID, worker w: WorkerID, reason: String) {
        guard let j = jobs[id] else { return }
        precondition(j.phase == .running, "job-placement: job \(id) refused while \(j.phase)")
        cancelTimer(j.timer)
        j.timer = nil
        scheduler.refuse(id)
        counters.refusals[j.kind.rawValue] += 1
        j.refusals += 1
        record(.jobRefused, session: j.session, turn: j.turn, job: id, jobKind: j.kind, worker: w, reason: reason,
               value: Int64(j.refusals))
        j.worker = nil
        j.accepted = false
        j.avoid = w
        j.preferred = nil
        enqueue(id)
    }

    /// A new attempt of the same work: at once elsewhere after a loss, after a backoff otherwise.
    private func retry(_ j: JobRecord, lost: Bool) -> JobID {
        let id = JobID(nextJob)
        nextJob += 1
        precondition(jobs[id] == nil, "ids-increase: job \(id) issued twice")
        let next = j.copy()
        next.attempt += 1
        if lost { next.losses += 1 }
        next.avoid = j.worker
        next.preferred = nil
        next.worker = nil
        next.accepted = false
        next.timer = nil
        if next.deadline != nil { next.deadline = now + progressTimeout(j.kind) }
        jobs[id] = next
        if lost {
            record(.jobRetry, session: j.session, turn: j.turn, job: id, jobKind: j.kind, reason: "redispatch", value: 0)
            enqueue(id)
        } else {
            let delay = scheduler.retryDelay(attempt: j.attempt)
            jobs[id]!.phase = .backoff
            record(.jobRetry, session: j.session, turn: j.turn, job: id, jobKind: j.kind, reason: "backoff", value: delay)
            armJobTimer(id, at: now + delay)
        }
        return id
    }

    func jobTimerFired(_ id: JobID) {
        guard let j = jobs[id] else { return }
        jobs[id]!.timer = nil
        switch j.phase {
        case .backoff:
            enqueue(id)
        case .queued:
            guard now >= j.queuedAt + config.queueTimeoutUs else { return armJobTimer(id, at: j.queuedAt + config.queueTimeoutUs) }
            // `to`: the agent an assistant job waited for (no worker of it could take the job).
            record(.jobTimeout, session: j.session, turn: j.turn, job: id, jobKind: j.kind, to: j.agent.isEmpty ? nil : j.agent,
                   reason: "queue")
            queueTimeout(id)
        case .running:
            guard let d = j.deadline else { return }
            guard now >= d else { return armJobTimer(id, at: d) }
            record(.jobTimeout, session: j.session, turn: j.turn, job: id, jobKind: j.kind, worker: j.worker, reason: "progress")
            counters.progressTimeouts += 1
            if let w = j.worker { out.append(.workerSend(w, .cancel(id, reason: "timeout"), audio: nil)) }
            jobFailed(id, reason: "timeout", retryable: true, lost: false)
        }
    }

    /// No worker took the job within the deadline: fail open for its turn.
    private func queueTimeout(_ id: JobID) {
        guard let j = jobs.removeValue(forKey: id) else { return }
        scheduler.cancel(id, kind: j.kind)
        counters.placementFailures[j.kind.rawValue] += 1
        guard sessions[j.session] != nil else { return }
        let s = j.session
        switch j.kind {
        case .asr:
            guard sessions[s]!.utterance?.job == id else { return }
            utteranceFailed(s, reason: "no-worker")
        case .assistant:
            if heldJobFailed(s, job: id, reason: "no-worker") { break }
            guard sessions[s]!.reply?.assistantJob == id else { return }
            sessions[s]!.reply!.assistantJob = nil
            failOpen(s, turn: j.turn, text: config.fallbackText, reason: "assistant:no-worker")
        case .tts:
            guard let reply = sessions[s]!.reply, j.segment < reply.segments.count, reply.segments[j.segment].job == id
            else { return }
            segmentLost(s, turn: j.turn, segment: j.segment, reason: "no-worker")
        case .llm:
            break
        }
        touch(s)
    }

    /// A reply's sentence will not be spoken (its TTS job failed for good): the reply ends after
    /// what was sent before it, and the device shows the fallback text when failing open.
    private func segmentLost(_ s: SessionID, turn: TurnID, segment: Int, reason: String) {
        sessions[s]!.reply!.segments[segment].job = nil
        record(.turnFallback, session: s, turn: turn, reason: "tts:" + reason)
        if config.failOpen { out.append(.deviceSend(s, .alert(status: "error", message: config.fallbackText, emotion: "sad"))) }
        sessions[s]!.reply!.fallback = true
        finishReplyEarly(s)
    }
}
