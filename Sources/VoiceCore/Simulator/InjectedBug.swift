/// Deliberate bugs that prove the invariants are not vacuous. Each one corrupts what the
/// simulator's host does with the Coordinator's effects (or, for the leaked slot, reaches into the
/// Scheduler through the simulator's in-module access): the production Coordinator has no switch,
/// flag or code path for them, only the Simulator does.
public enum InjectedBug: String, CaseIterable, Sendable {
    /// The host ignores `device.flush`: a barged-in turn's audio keeps playing.
    case audioAfterBargeIn = "audio-after-barge-in"
    /// When a TTS segment is retried, the host replays the audio it already sent of it.
    case ttsSegmentTwice = "tts-segment-twice"
    /// A finished job's worker slot is never released in the Scheduler.
    case leakedSlot = "leaked-slot"
    /// The host drops the reply's playback and watchdog timers and never reports playback done.
    case stuckSpeaking = "stuck-speaking"
    /// A device whose connection attempt fails (outage, partition) never tries again.
    case lostReconnect = "lost-reconnect"
    /// Workers' heartbeats carry no `load`: the hub cannot reconcile leaked or lost jobs.
    case heartbeatWithoutLoad = "heartbeat-without-load"
    /// English-only ASR workers register without `languages`: the hub cannot tell they hear no Chinese.
    case undeclaredLanguages = "undeclared-languages"
    /// ASR workers that decode a pass again send its `speculative` without `refining`: the hub
    /// takes the greedy words of a backchannel for an interruption.
    case undeclaredRefining = "undeclared-refining"
}
