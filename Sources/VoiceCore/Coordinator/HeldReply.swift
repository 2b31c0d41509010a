/// A reply started on the ASR's speculative transcript, before the final: its assistant job runs
/// and its text goes through the splitter, but its segments (and any device MCP message) are held
/// here — no TTS job, nothing to the device — until the final confirms the same text (the reply is
/// committed) or anything voids it (discarded). Belongs to the session's open utterance (`turn`).
final class HeldReply {
    enum Output: Sendable {
        case segment(ReplySplitter.Piece)
        case mcp(JSON)
    }

    let turn: TurnID
    /// The speculative transcript, trimmed: the final must be exactly this to commit.
    let text: String
    var job: JobID?
    /// The assistant sent `done` before the commit (a worker that ignores `preemptive`).
    var assistantDone = false
    var splitter: ReplySplitter
    var pending: [Output] = []
    var firstDelta: Instant?
    var firstSegment: Instant?
    var watchdog: TimerID?

    init(turn: TurnID, text: String, splitter: ReplySplitter) {
        self.turn = turn
        self.text = text
        self.splitter = splitter
    }
}
