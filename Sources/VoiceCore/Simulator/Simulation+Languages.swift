/// Languages in the fleet (`--chinese SHARE`, `--english-only-asr N`): some devices speak Chinese,
/// some ASR workers hear English only. The invariant, against the simulated workers' truth:
///   - `asr-language-placement`: an ASR job goes to a worker that does not hear its language only
///     while no registered, non-draining ASR worker that hears it is there (the hub knows what a
///     worker hears only from its registration: `--inject-bug undeclared-languages` hides it).
extension Simulation {
    /// Devices spread evenly over the share, by index (no draw: the other streams stay as they are).
    func speaksChinese(_ i: Int) -> Bool {
        Int(Double(i + 1) * options.chinese) > Int(Double(i) * options.chinese)
    }

    func hears(_ i: Int, _ language: String) -> Bool { LanguageTag.fit(workers[i].languages, language) > 0 }

    func checkLanguagePlacement(_ job: JobID, _ s: SessionID, on i: Int, _ params: JobParams) {
        guard !workers[i].languages.isEmpty else { return }  // it hears every language
        let language = LanguageTag.primary(params.modelLanguage)
        guard !language.isEmpty, !hears(i, language) else { return }
        for j in workers.indices where j != i && hears(j, language) {
            guard let id = workers[j].id, let state = coordinator.scheduler.worker(id), state.kinds.contains(.asr),
                  state.slots[WorkerKind.asr.rawValue] > 0, !state.draining else { continue }
            checker.now = now  // the step's log entries are observed after its effects
            return checker.fail("asr-language-placement", s, "job \(job) in \"\(language)\" went to \(workers[i].name), which hears "
                                + "\(workers[i].languages.sorted().joined(separator: ",")) only, while \(workers[j].name) (\(id)) hears it")
        }
    }
}
