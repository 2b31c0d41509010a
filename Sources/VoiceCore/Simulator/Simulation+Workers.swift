/// The workers: register, heartbeat, run jobs with latency distributions (first output, per
/// chunk), and misbehave when a fault says so (hang while heartbeating, slow down 10×, errors,
/// garbage, drain and leave, crash and restart).
extension Simulation {
    func workerConnect(_ i: Int) {
        guard workers[i].online, workers[i].id == nil else { return }
        if now < workers[i].frozenUntil {
            // A stopped process does not redial.
            queue.schedule(.workerConnect(i), at: workers[i].frozenUntil)
            return
        }
        if now < workers[i].heldUntil {
            workers[i].backoffUs = min(30_000_000, max(1_000_000, workers[i].backoffUs * 2))
            queue.schedule(.workerConnect(i), at: now + rng.faults.us(100_000, workers[i].backoffUs))
            return
        }
        let w = WorkerID(nextWorker)
        nextWorker += 1
        workers[i].epoch &+= 1
        workers[i].id = w
        workers[i].registered = false
        workers[i].draining = false
        workers[i].rejoinWhenDrained = false
        workers[i].backoffUs = 0
        workers[i].lastUp = now
        workers[i].lastDown = now
        workerIndex[w] = i
        checker.workerSlots[w] = workers[i].slots
        let languages = options.injectBug == .undeclaredLanguages ? [] : workers[i].languages.sorted()
        let reg = WorkerRegistration(name: workers[i].name, kinds: workers[i].kinds, roles: workers[i].roles, slots: workers[i].slots,
                                     languages: languages)
        sendToCore(worker: i, .workerConnected(w))
        sendToCore(worker: i, .workerRegister(w, reg))
    }

    /// The worker's connection is gone: its jobs with it. `tellCore`: the host notices the socket
    /// closing (a crash, a leave); otherwise the core closed it.
    func workerLost(_ i: Int, tellCore: Bool) {
        guard let w = workers[i].id else { return }
        if tellCore, workerIndex.removeValue(forKey: w) != nil {
            queue.schedule(.toCore(.workerDisconnected(w)), at: now)
        }
        workerIndex[w] = nil
        workers[i].id = nil
        workers[i].lostAt = now
        workers[i].epoch &+= 1
        workers[i].jobs.removeAll()
        workers[i].registered = false
        workers[i].draining = false
        if !workers[i].roles.isEmpty { workers[i].kinds = KindSet() }
        if workers[i].online {
            queue.schedule(.workerConnect(i), at: now + rng.faults.us(1_000_000, 5_000_000))
        }
    }

    private func slowFactor(_ i: Int) -> Double { now < workers[i].slowUntil ? 10 : 1 }

    private func latency(_ i: Int, median: Double, sigma: Double) -> Int64 {
        Int64(Double(rng.latency.lognormal(median: median, sigma: sigma)) * slowFactor(i))
    }

    func workerReceives(_ i: Int, epoch: UInt32, _ message: WorkerMessage, _ audio: [UInt8]?) {
        guard workers[i].epoch == epoch, let w = workers[i].id else { return }
        if now < workers[i].frozenUntil {
            // SIGSTOP'd: the socket buffers it; read after SIGCONT (unless the hub closed it).
            queue.schedule(.toWorker(i, epoch: epoch, message, audio), at: workers[i].frozenUntil)
            return
        }
        switch message {
        case let .registered(heartbeatMs):
            workers[i].registered = true
            workers[i].heartbeatUs = Int64(heartbeatMs) * 1000
            queue.schedule(.workerHeartbeat(i, epoch: epoch), at: now + workers[i].heartbeatUs)
        case let .roles(active):
            workers[i].kinds = active
        case let .job(id, kind, _, _, params):
            if now < workers[i].loseJobsUntil && rng.faults.chance(0.5) { return }  // never started, never reported
            // The SDK's refusals, in its order, instead of `accepted`: draining or a kind it does not
            // serve (retryable), a job id it runs already (not retryable), no free slot (retryable).
            if workers[i].draining || !workers[i].kinds.contains(kind) {
                sendToCore(worker: i, .workerError(w, id, message: "this worker does not serve \(kind)", retryable: true))
                return
            }
            if workers[i].jobIndex(id) != nil {
                sendToCore(worker: i, .workerError(w, id, message: "job \(id) is already running", retryable: false))
                return
            }
            var busy = 0
            for (_, job) in workers[i].jobs where job.kind == kind { busy += 1 }
            if busy >= workers[i].slots[kind] ?? 0 {
                sendToCore(worker: i, .workerError(w, id, message: "no free \(kind) slot", retryable: true))
                return
            }
            workers[i].nextGen &+= 1
            var job = SimJob(kind: kind, gen: workers[i].nextGen)
            // The slot is taken now; `accepted` comes from the job's task, which starts after the
            // messages read with this one (a `cancel` among them: it never starts, sends nothing).
            queue.schedule(.workerJobStart(i, id, gen: job.gen), at: now)
            let failing = now < workers[i].errorsUntil && rng.faults.chance(0.5)
            switch params {
            case let .asr(mode, _, _, hub):
                job.mode = mode
                job.hubEndpointing = hub
                job.transcript = SimContent.sentence(&rng.latency, words: rng.latency.int(2...9))
                if rng.latency.chance(0.03) { job.transcript = " " }  // noise: an empty transcript
                if options.backchannels > 0, rng.backchannel.chance(options.backchannels) {
                    job.transcript = SimContent.backchannels[rng.backchannel.below(SimContent.backchannels.count)]
                }
            case .assistant, .instruction:
                if case let .assistant(_, _, _, preemptive, _, _) = params { job.preemptive = preemptive }
                let sentences = rng.latency.int(1...4)
                var text = ""
                for k in 0..<sentences {
                    if k > 0 { text += " " }
                    text += SimContent.sentence(&rng.latency, words: rng.latency.int(3...12)) + "."
                }
                // Deltas of about five words, as an LLM streams them.
                var piece = ""
                var n = 0
                for ch in text {
                    piece.append(ch)
                    if ch == " " { n += 1 }
                    if n == 5 { job.deltas.append(piece); piece = ""; n = 0 }
                }
                if !piece.isEmpty { job.deltas.append(piece) }
                job.steps = job.deltas.count
                if failing { job.failAt = rng.faults.below(job.steps + 1) }
                job.firstStepAt = now + latency(i, median: 250_000, sigma: 0.4)
            case let .tts(text, _, _, _, _):
                job.totalSamples = SimContent.samples(for: text)
                job.steps = (job.totalSamples + 1999) / 2000
                if failing { job.failAt = rng.faults.below(job.steps + 1) }
                job.firstStepAt = now + latency(i, median: 100_000, sigma: 0.4)
            }
            workers[i].jobs.append((id, job))
        case let .audio(id):
            guard let k = workers[i].jobIndex(id), now >= workers[i].hangUntil, let audio else { return }
            guard !workers[i].jobs[k].1.finished, !workers[i].jobs[k].1.leaked else { return }
            startJob(i, k)
            var job = workers[i].jobs[k].1
            if audio.first == 1 {
                if !job.speech {
                    job.speech = true
                    sendToCore(worker: i, .workerOutput(w, id, .speechStart))
                } else if job.hubEndpointing && job.silence > 0 {
                    sendToCore(worker: i, .workerOutput(w, id, .resume))
                }
                job.silence = 0
            } else if job.speech {
                job.silence += 1
                // Hub endpointing: the evidence of the real worker (a pause, its turn-model
                // probability, the speculative transcript); the worker's own end is a 3 s safety net.
                if job.hubEndpointing && job.silence == 1 { sendToCore(worker: i, .workerOutput(w, id, .pause(silenceMs: 60))) }
                if job.mode != .manual { speculate(i, w, id, &job) }
                if job.hubEndpointing && job.silence == 2 {
                    sendToCore(worker: i, .workerOutput(w, id, .turnProbability(rng.speculation.unit())))
                }
                if job.silence == 2 { sendToCore(worker: i, .workerOutput(w, id, .partial(job.transcript))) }
                if job.mode != .manual && job.silence >= (job.hubEndpointing ? 50 : 3) { finishASR(i, k, &job) }
            }
            workers[i].jobs[k].1 = job
        case let .inputEnd(id):
            guard let k = workers[i].jobIndex(id) else { return }
            var job = workers[i].jobs[k].1
            if !job.finished && !job.leaked { finishASR(i, k, &job) }
            workers[i].jobs[k].1 = job
        case let .cancel(id, _):
            if let k = workers[i].jobIndex(id) {
                if now < workers[i].leakUntil {
                    // The handler swallows the cancel: the job never steps again, its slot stays taken.
                    workers[i].nextGen &+= 1
                    workers[i].jobs[k].1.gen = workers[i].nextGen
                    workers[i].jobs[k].1.leaked = true
                } else {
                    workers[i].jobs.remove(at: k)
                }
            }
            leaveIfDrained(i)
        case let .inputCommit(id):
            guard let k = workers[i].jobIndex(id), !workers[i].jobs[k].1.leaked else { return }
            workers[i].jobs[k].1.committed = true
            if workers[i].jobs[k].1.awaitingCommit {
                queue.schedule(.workerJobStep(i, id, gen: workers[i].jobs[k].1.gen), at: now + latency(i, median: 5_000, sigma: 0.3))
            }
        case .inputMCP, .error:
            break
        }
    }

    /// Speculative transcripts during the trailing silence, as the real ASR worker sends them: mostly
    /// the final's text, sometimes another (Whisper read the pause differently) — half of those
    /// decoded again (`refining`, then `refined` with the final's text at the next silent frame) —,
    /// sometimes voided as if speech went on, sometimes replaced by a newer one.
    private func speculate(_ i: Int, _ w: WorkerID, _ id: JobID, _ job: inout SimJob) {
        if job.silence == 1, rng.speculation.chance(0.8) {
            job.speculated = true
            let heard = rng.speculation.chance(0.7)
            let text = heard ? job.transcript : SimContent.sentence(&rng.speculation, words: rng.speculation.int(2...9))
            job.refining = !heard && rng.refining.chance(0.5)
            if !heard && !job.refining { job.misheard = true }
            let refining = job.refining && options.injectBug != .undeclaredRefining
            sendToCore(worker: i, .workerOutput(w, id, .speculative(text, refining: refining)))
        } else if job.silence == 2, job.speculated {
            if job.refining {
                job.refining = false
                sendToCore(worker: i, .workerOutput(w, id, .refined(job.transcript)))
            }
            if rng.speculation.chance(0.15) {
                job.speculated = false
                sendToCore(worker: i, .workerOutput(w, id, .speculationVoid))
            } else if rng.speculation.chance(0.15) {
                sendToCore(worker: i, .workerOutput(w, id, .speculative(job.transcript)))
            }
        }
    }

    private func finishASR(_ i: Int, _ k: Int, _ job: inout SimJob) {
        job.finished = true
        queue.schedule(.workerJobStep(i, workers[i].jobs[k].0, gen: job.gen), at: now + latency(i, median: 120_000, sigma: 0.4))
    }

    func workerJobStart(_ i: Int, _ id: JobID, gen: UInt32) {
        guard let k = workers[i].jobIndex(id), workers[i].jobs[k].1.gen == gen, workers[i].id != nil else { return }
        if now < workers[i].frozenUntil {
            queue.schedule(.workerJobStart(i, id, gen: gen), at: workers[i].frozenUntil)
            return
        }
        startJob(i, k)
    }

    /// The job's task runs: `accepted`, then its first output when due. Anything the job does
    /// (ASR audio read, a step) starts it first, as the SDK's task sends `accepted` before its handler runs.
    private func startJob(_ i: Int, _ k: Int) {
        guard !workers[i].jobs[k].1.started, let w = workers[i].id else { return }
        workers[i].jobs[k].1.started = true
        let (id, job) = workers[i].jobs[k]
        sendToCore(worker: i, .workerAccepted(w, id))
        if let at = job.firstStepAt { queue.schedule(.workerJobStep(i, id, gen: job.gen), at: max(at, now)) }
    }

    func workerJobStep(_ i: Int, _ id: JobID, gen: UInt32) {
        guard let k = workers[i].jobIndex(id), workers[i].jobs[k].1.gen == gen, let w = workers[i].id else { return }
        if now < workers[i].frozenUntil {
            queue.schedule(.workerJobStep(i, id, gen: gen), at: workers[i].frozenUntil + rng.latency.us(0, 100_000))
            return
        }
        startJob(i, k)
        if now < workers[i].hangUntil {
            // Hung: the job is frozen (the process still heartbeats) and resumes late, if ever.
            queue.schedule(.workerJobStep(i, id, gen: gen), at: workers[i].hangUntil + rng.latency.us(0, 1_000_000))
            return
        }
        var job = workers[i].jobs[k].1
        if now < workers[i].garbageUntil && rng.faults.chance(0.3) { sendGarbage(i, w, id, job.kind) }
        var done = false
        switch job.kind {
        case .asr:
            // Without speech the SDK's recognizer still sends a final, empty.
            if job.speech { sendToCore(worker: i, .workerOutput(w, id, .speechEnd)) }
            sendToCore(worker: i, .workerOutput(w, id, .final(job.speech ? job.transcript : "", language: "en")))
            sendToCore(worker: i, .workerDone(w, id))
            done = true
        case .assistant:
            if job.step == job.failAt {
                sendToCore(worker: i, .workerError(w, id, message: "model error", retryable: rng.faults.chance(0.7)))
                done = true
            } else if job.step < job.steps {
                sendToCore(worker: i, .workerOutput(w, id, .delta(job.deltas[job.step])))
                job.step += 1
                queue.schedule(.workerJobStep(i, id, gen: gen), at: now + latency(i, median: 60_000, sigma: 0.5))
            } else if job.preemptive && !job.committed {
                job.awaitingCommit = true  // the assistant framework remembers and finishes only after `commit`
            } else {
                sendToCore(worker: i, .workerDone(w, id))
                done = true
            }
        case .tts:
            if job.step == job.failAt {
                sendToCore(worker: i, .workerError(w, id, message: "synthesis error", retryable: rng.faults.chance(0.7)))
                done = true
            } else {
                let n = min(2000, job.totalSamples - job.samplesSent)
                let last = job.samplesSent + n >= job.totalSamples
                sendToCore(worker: i, .workerAudio(w, id, last: last, SimContent.pcm(from: job.samplesSent, count: n)))
                job.samplesSent += n
                job.step += 1
                if last {
                    sendToCore(worker: i, .workerOutput(w, id, .segmentDone))
                    sendToCore(worker: i, .workerDone(w, id))
                    done = true
                } else {
                    queue.schedule(.workerJobStep(i, id, gen: gen), at: now + latency(i, median: 40_000, sigma: 0.5))
                }
            }
        case .llm:
            done = true
        }
        if done {
            workers[i].jobs.remove(at: k)
            leaveIfDrained(i)
        } else {
            workers[i].jobs[k].1 = job
        }
    }

    /// Malformed or misdirected messages the Coordinator must reject without harm.
    private func sendGarbage(_ i: Int, _ w: WorkerID, _ id: JobID, _ kind: WorkerKind) {
        switch rng.faults.below(4) {
        case 0: sendToCore(worker: i, .workerAudio(w, id, last: false, [1, 2, 3]))
        case 1: sendToCore(worker: i, .workerOutput(w, id, kind == .assistant ? .speechStart : .delta("garbage")))
        case 2: sendToCore(worker: i, .workerDone(w, JobID(id.raw &+ 1_000_000)))
        default: sendToCore(worker: i, .workerAccepted(w, JobID(0)))
        }
    }

    func workerHeartbeat(_ i: Int, epoch: UInt32) {
        guard workers[i].epoch == epoch, let w = workers[i].id, workers[i].registered else { return }
        if now < workers[i].frozenUntil {
            queue.schedule(.workerHeartbeat(i, epoch: epoch), at: workers[i].frozenUntil)
            return
        }
        // Every kind it serves, zeros included, as the SDK reports it.
        var load: [WorkerKind: Int] = [:]
        for k in workers[i].kinds { load[k] = 0 }
        for (_, job) in workers[i].jobs { load[job.kind, default: 0] += 1 }
        if options.injectBug == .heartbeatWithoutLoad { load = [:] }
        sendToCore(worker: i, .workerHeartbeat(w, load: load))
        queue.schedule(.workerHeartbeat(i, epoch: epoch), at: now + workers[i].heartbeatUs)
    }

    /// A draining worker leaves once its last job is over.
    func leaveIfDrained(_ i: Int) {
        guard workers[i].draining, workers[i].jobs.isEmpty else { return }
        workers[i].online = false
        workerLost(i, tellCore: true)
        if workers[i].rejoinWhenDrained {
            workers[i].rejoinWhenDrained = false
            workers[i].online = true
            queue.schedule(.workerConnect(i), at: now + rng.faults.us(1_000_000, 5_000_000))
            healed("restart of \(workers[i].name)", workers: [i])
        }
    }
}
