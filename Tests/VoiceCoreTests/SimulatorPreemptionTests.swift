import Testing
@testable import VoiceCore

/// Randomized runs exercise preemptive generation: the simulated ASR workers send speculative
/// transcripts (mostly right, sometimes another text — decoded again or not —, sometimes voided or replaced), the simulated
/// assistants wait for the commit, and the preempt-* invariants hold alongside all the others.
@Suite struct SimulatorPreemptionTests {
    func simulate(_ json: String) throws -> (JSON, InvariantChecker) {
        var sim = try Simulation(options: SimOptions(json: JSONParser.parse(json)))
        let report = try JSONParser.parse(sim.run().json)
        return (report, sim.checker)
    }

    @Test(arguments: ["none", "harsh"])
    func heldRepliesAreCommittedOrDiscardedCleanly(faults: String) throws {
        for seed in [1, 2] {
            let (r, checker) = try simulate(#"{"seed": \#(seed), "devices": 10, "duration": "20m", "faults": "\#(faults)"}"#)
            #expect(r["violation"] == .null, "seed \(seed): \(r["violation"]?.serialized ?? "")")
            #expect(checker.preemptsStarted > 20)
            #expect(checker.preemptsCommitted > 5)
            #expect(checker.preemptsStarted > checker.preemptsCommitted)  // mismatches, voids, failures
            #expect(checker.preemptsDeferred > 0)  // unsure passes: the held reply waited for `refined`
            #expect((r["turns"]?["completed"]?.int64Value ?? 0) > 10)
        }
    }

    /// The simulated ASR's text is there two silent frames before its endpoint: the held reply's
    /// head start shows in the virtual time to first audio, deterministically.
    @Test func preemptionShortensTheTimeToFirstAudioWhenTheTextPrecedesTheEndpoint() throws {
        let on = #"{"seed": 5, "devices": 10, "duration": "30m", "faults": "none", "buggify": false}"#
        let off = #"{"seed": 5, "devices": 10, "duration": "30m", "faults": "none", "buggify": false, "preemption": false}"#
        let (a, withIt) = try simulate(on), (b, without) = try simulate(off)
        #expect(a["violation"] == .null && b["violation"] == .null)
        #expect(without.preemptsStarted == 0 && withIt.preemptsCommitted > 20)
        let p50 = { (r: JSON) in r["ttfa_ms"]?["p50"]?.doubleValue ?? 0 }
        #expect(p50(a) + 100 < p50(b), "p50 \(p50(a)) ms with preemption, \(p50(b)) ms without")
        #expect(try SimOptions(json: JSONParser.parse(off)).command.hasSuffix("--no-preemption"))
    }
}
