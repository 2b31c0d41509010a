import Testing
@testable import VoiceCore

/// Coordinator bugs the Simulator found, each reduced to an event-driven test.
@Suite struct SimulatorFindingsTests {
    /// Found by `voicecore sim --seed 14 --devices 50 --workers asr=3,assistant=2,tts=4,gpu=2
    /// --duration 1h --faults harsh` (invariant `fail-policy`, knob fail_open=false): when a TTS
    /// segment's attempts ran out, the Coordinator displayed the fallback `alert` although
    /// `fail_open: false` means "the turn just ends" (docs/coordinator.md).
    @Test func failClosedTTSFailureShowsNoAlert() {
        var t = try! CoordinatorScript(json: #"{"fail_open": false, "max_attempts": 1}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts])
        t.device(1)
        t.utter(1, "hello")
        t.answer(1, ["Hi there."], done: true)
        let (job, w) = t.ttsJob(1, segment: 0)!
        let before = t.effects.count
        t.feed(.workerError(w, job, message: "synthesis error", retryable: false))
        let alerts = t.effects[before...].filter { if case .deviceSend(_, .alert) = $0 { return true } else { return false } }
        #expect(alerts.isEmpty)
        #expect(t.hasSubsequence(["turn.fallback turn=1"]))
    }

    /// The same for a TTS segment no worker took within `queue_timeout_ms`.
    @Test func failClosedTTSQueueTimeoutShowsNoAlert() {
        var t = try! CoordinatorScript(json: #"{"fail_open": false}"#)
        t.worker(1, [.asr]); t.worker(2, [.assistant]); t.worker(3, [.tts], slots: 1)
        t.device(1)
        t.feed(.workerDrain(WorkerID(3)))
        t.utter(1, "hello")
        t.answer(1, ["Hi there."], done: true)
        let before = t.effects.count
        t.advanceMs(3_100)
        let alerts = t.effects[before...].filter { if case .deviceSend(_, .alert) = $0 { return true } else { return false } }
        #expect(alerts.isEmpty)
        #expect(t.hasSubsequence(["turn.fallback turn=1"]))
    }
}
