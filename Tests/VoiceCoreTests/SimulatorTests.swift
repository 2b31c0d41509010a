import Testing
@testable import VoiceCore

/// The Simulator in the debug build: small runs only (the long sweeps run through the release
/// library in Tests/python/test_simulator.py).
@Suite struct SimulatorTests {
    func run(_ json: String) throws -> JSON {
        var sim = try Simulation(options: SimOptions(json: JSONParser.parse(json)))
        return try JSONParser.parse(sim.run().json)
    }

    @Test func sameSeedSameHash() throws {
        let options = #"{"seed": 7, "devices": 8, "duration": "15m", "faults": "harsh"}"#
        let a = try run(options), b = try run(options)
        #expect(a["hash"] == b["hash"])
        #expect(a["events"] == b["events"])
        #expect((a["events"]?.int64Value ?? 0) > 1000)
        let c = try run(#"{"seed": 8, "devices": 8, "duration": "15m", "faults": "harsh"}"#)
        #expect(a["hash"] != c["hash"])
    }

    @Test func faultFreeRunCompletesTurnsWithoutViolation() throws {
        let r = try run(#"{"seed": 3, "devices": 10, "duration": "20m", "faults": "none"}"#)
        #expect(r["violation"] == .null)
        #expect((r["turns"]?["completed"]?.int64Value ?? 0) > 20)
        #expect((r["ttfa_ms"]?["count"]?.int64Value ?? 0) > 20)
    }

    @Test func budgetRefusalsKeepEveryInvariant() throws {
        let options = #"{"seed": 5, "devices": 6, "duration": "20m", "faults": "moderate", "turns_per_minute": 1}"#
        let r = try run(options)
        #expect(r["violation"] == .null)
        #expect((r["turns"]?["refused"]?.int64Value ?? 0) > 0)
        #expect((r["turns"]?["completed"]?.int64Value ?? 0) > 5)
        #expect(try run(options)["hash"] == r["hash"])
        #expect(try SimOptions(json: JSONParser.parse(options)).command.hasSuffix("--turns-per-minute 1"))
    }

    @Test func injectedLeakIsCaughtWithItsInvariantAndRepro() throws {
        let r = try run(#"{"seed": 3, "devices": 20, "duration": "30m", "faults": "harsh", "inject_bug": "leaked-slot"}"#)
        #expect(r["violation"]?["invariant"] == "worker-slots")
        let command = r["violation"]?["command"]?.stringValue ?? ""
        #expect(command.hasPrefix("voicecore sim --seed 3 --devices 20 "))
        #expect(command.contains("--inject-bug leaked-slot"))
    }

    @Test func chineseDevicesAreHeardByWorkersThatHearChineseUnderFaults() throws {
        // Two of three ASR workers hear English only; the third and the GPU boxes hear every
        // language. With faults (crashes, drains, joins), no Chinese utterance may go to an
        // English-only worker while one that hears Chinese is registered.
        let options = #"{"seed": 4, "devices": 20, "duration": "30m", "faults": "harsh", "chinese": 0.4, "english_only_asr": 2}"#
        let r = try run(options)
        #expect(r["violation"] == .null)
        #expect((r["turns"]?["completed"]?.int64Value ?? 0) > 20)
        #expect(try SimOptions(json: JSONParser.parse(options)).command.hasSuffix("--chinese 0.4 --english-only-asr 2"))
        // The invariant bites: English-only workers that do not say so get Chinese utterances.
        let bug = try run(#"{"seed": 4, "devices": 20, "duration": "30m", "faults": "none", "chinese": 0.4, "english_only_asr": 2, "inject_bug": "undeclared-languages"}"#)
        #expect(bug["violation"]?["invariant"] == "asr-language-placement")
        let command = bug["violation"]?["command"]?.stringValue ?? ""
        #expect(command.contains("--inject-bug undeclared-languages") && command.contains("--chinese 0.4 --english-only-asr 2"))
    }

    @Test func optionsAreValidated() {
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"devicez": 3}"#)) }
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"faults": "extreme"}"#)) }
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"duration": "3 weeks"}"#)) }
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"inject_bug": "nope"}"#)) }
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"workers": {"assistant": 0}}"#)) }
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"english_only_asr": 4}"#)) }
        #expect(throws: VCError.self) { try SimOptions(json: JSONParser.parse(#"{"chinese": 1.5}"#)) }
    }

    @Test func durationsParseAndFormat() throws {
        #expect(try SimTime.parse("30d") == 30 * 86_400_000_000)
        #expect(try SimTime.parse("1h") == 3_600_000_000)
        #expect(try SimTime.parse("2d03:11:08") == 2 * 86_400_000_000 + (3 * 3600 + 11 * 60 + 8) * 1_000_000)
        #expect(SimTime.format(2 * 86_400_000_000 + 11_468_000_000) == "2d03:11:08.000")
        #expect(SimTime.format(30 * 86_400_000_000, compact: true) == "30d")
    }
}
