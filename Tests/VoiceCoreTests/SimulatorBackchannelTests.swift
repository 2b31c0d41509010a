import Testing
@testable import VoiceCore

/// Randomized runs with backchannels: a share of the simulated transcripts are "uh-huh", "嗯",
/// "ага"… Said over a playing reply (realtime devices talk over half the replies then), the downlink
/// pauses and the reply resumes; every other barge-in cuts it. Every invariant holds alongside,
/// including `pause-resume-paired` and `no-audio-after-barge-in`.
@Suite struct SimulatorBackchannelTests {
    @Test(arguments: ["none", "harsh"])
    func backchannelsPauseAndResumeTheReply(faults: String) throws {
        // Counted over both seeds: an hour of 60 devices has 1-16 backchannels over a playing reply.
        var backchannels = 0, resumes = 0, dropped = 0
        for seed in [1, 2] {
            var sim = try Simulation(options: SimOptions(json: JSONParser.parse(
                #"{"seed": \#(seed), "devices": 60, "duration": "1h", "faults": "\#(faults)", "backchannels": 0.5}"#)))
            let r = try JSONParser.parse(sim.run().json)
            #expect(r["violation"] == .null, "seed \(seed): \(r["violation"]?.serialized ?? "")")
            #expect((r["turns"]?["completed"]?.int64Value ?? 0) > 10)
            backchannels += sim.checker.backchannels
            resumes += sim.checker.resumes
            dropped += sim.checker.devicesDropped
        }
        #expect(backchannels > 6)
        #expect(resumes > 6)
        #expect(dropped >= resumes)  // every resumed reply was playing: its device dropped what it held
    }

    @Test func aBackchannelIsNeverCutOnWordsItsWorkerDecodesAgain() throws {
        // 200 devices for a quarter of an hour: among the backchannels said over a reply are ones
        // whose greedy words were wrong and decoded again. The hub waits for the beam's words and
        // resumes the reply; a worker that does not say it decodes them again gets the reply cut
        // on the greedy words, which `backchannel-not-cut` catches.
        let options = #"{"seed": 1, "devices": 200, "duration": "15m", "faults": "none", "backchannels": 0.5"#
        var sim = try Simulation(options: SimOptions(json: JSONParser.parse(options + "}")))
        let r = try JSONParser.parse(sim.run().json)
        #expect(r["violation"] == .null, "\(r["violation"]?.serialized ?? "")")
        #expect(sim.checker.backchannels >= 3, "\(sim.checker.backchannels)")
        var bug = try Simulation(options: SimOptions(json: JSONParser.parse(options + #", "inject_bug": "undeclared-refining"}"#)))
        let caught = try JSONParser.parse(bug.run().json)
        #expect(caught["violation"]?["invariant"] == "backchannel-not-cut")
        #expect(caught["violation"]?["command"]?.stringValue?.contains("--inject-bug undeclared-refining") == true)
    }

    @Test func theCheckerCatchesAPauseWithoutItsDropPairAndAPairWithoutAPause() {
        let s = SessionID(1)
        var checker = InvariantChecker(config: CoordinatorConfig(), options: SimOptions())
        checker.devicePause(s, deviceDrops: true)
        checker.deviceSend(s, .ttsPauseStop)
        checker.deviceSend(s, .ttsPauseStart)
        checker.endBatch()
        #expect(checker.violation == nil && checker.devicesDropped == 1)

        var unpaired = InvariantChecker(config: CoordinatorConfig(), options: SimOptions())
        unpaired.devicePause(s, deviceDrops: true)
        unpaired.deviceSend(s, .ttsPauseStop)
        unpaired.endBatch()
        #expect(unpaired.violation?.invariant == "pause-resume-paired")

        var stray = InvariantChecker(config: CoordinatorConfig(), options: SimOptions())
        stray.devicePause(s, deviceDrops: false)
        stray.deviceSend(s, .ttsPauseStart)
        #expect(stray.violation?.invariant == "pause-resume-paired")
    }

    @Test func theOptionIsInTheCommand() throws {
        let o = try SimOptions(json: JSONParser.parse(#"{"backchannels": 0.25}"#))
        #expect(o.backchannels == 0.25 && o.command.hasSuffix("--backchannels 0.25"))
    }
}
