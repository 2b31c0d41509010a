/// Backchannels against the simulated workers' truth (`--backchannels SHARE`). The invariant:
///   - `backchannel-not-cut`: speech over a playing reply that is a backchannel ("uh-huh", "嗯")
///     never cuts the reply on the words its ASR worker reports, unless the worker reported other
///     words without saying it decodes them again (`refining`: `--inject-bug undeclared-refining`
///     hides it): the hub can only judge the words it gets, but must wait for the words it is told
///     are coming.
extension Simulation {
    /// The ASR job `job` of worker `w` is a backchannel, and the worker sent it no wrong words
    /// without `refining`.
    func heardBackchannel(_ w: WorkerID, _ job: JobID) -> Bool {
        guard let i = workerIndex[w], let k = workers[i].jobIndex(job) else { return false }
        let j = workers[i].jobs[k].1
        return j.kind == .asr && !j.misheard && SimContent.backchannels.contains(j.transcript)
    }

    /// Called with a worker output before the Coordinator handles it; `cut` is the session whose
    /// reply that step cut for speech over it (`turn.cancelled` reason `barge-in`), if any.
    func checkBackchannelNotCut(_ e: Event, backchannel: Bool, cut: SessionID?) {
        guard backchannel, let s = cut, case let .workerOutput(_, job, output) = e else { return }
        checker.now = now  // the step's log entries are observed after its effects
        checker.fail("backchannel-not-cut", s, "the reply was cut on job \(job)'s \(output), a backchannel")
    }

    /// A worker output whose words judge speech over a reply.
    static func judgesSpeech(_ e: Event) -> (WorkerID, JobID)? {
        guard case let .workerOutput(w, job, output) = e else { return nil }
        switch output {
        case .speculative, .refined, .final: return (w, job)
        default: return nil
        }
    }
}
