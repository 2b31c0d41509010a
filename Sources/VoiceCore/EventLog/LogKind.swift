/// Every kind of event-log entry. The names are the stable schema of docs/events.md: never rename
/// one, only add.
public enum LogKind: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case inputRejected
    case sessionConnected, sessionHello, sessionListen, sessionState, sessionClosed, sessionGone
    case turnStarted, turnTranscript, turnMark, turnCancelled, turnFallback, turnEnded
    case jobQueued, jobDispatched, jobAccepted, jobDone, jobFailed, jobCancelled, jobRetry, jobTimeout, jobLate, jobTool
    case segmentQueued, segmentDelivered
    case workerConnected, workerRegistered, workerDraining, workerEjected, workerRestored, workerGone, workerRoles
    case configApplied
    case preemptStarted, preemptCommitted, preemptDiscarded
    case mcpRequest, mcpAnswer, mcpListed, mcpTimeout, mcpDropped, mcpNotification
    case jobRefused, workerReconciled, healthChanged
    case turnEndpoint, turnBackchannel
    case adminRequest
    case sessionAgent, budgetExceeded, turnUsage
    case sessionLanguage
    case sayQueued, sayStarted, sayDone, sayDropped
    case turnPaused, turnResumed
    case deviceLanguage
    case preemptDeferred

    public var name: String {
        switch self {
        case .inputRejected: return "input.rejected"
        case .sessionConnected: return "session.connected"
        case .sessionHello: return "session.hello"
        case .sessionListen: return "session.listen"
        case .sessionState: return "session.state"
        case .sessionClosed: return "session.closed"
        case .sessionGone: return "session.gone"
        case .turnStarted: return "turn.started"
        case .turnTranscript: return "turn.transcript"
        case .turnMark: return "turn.mark"
        case .turnCancelled: return "turn.cancelled"
        case .turnFallback: return "turn.fallback"
        case .turnEnded: return "turn.ended"
        case .jobQueued: return "job.queued"
        case .jobDispatched: return "job.dispatched"
        case .jobAccepted: return "job.accepted"
        case .jobDone: return "job.done"
        case .jobFailed: return "job.failed"
        case .jobCancelled: return "job.cancelled"
        case .jobRetry: return "job.retry"
        case .jobTimeout: return "job.timeout"
        case .jobLate: return "job.late"
        case .jobTool: return "job.tool"
        case .segmentQueued: return "segment.queued"
        case .segmentDelivered: return "segment.delivered"
        case .workerConnected: return "worker.connected"
        case .workerRegistered: return "worker.registered"
        case .workerDraining: return "worker.draining"
        case .workerEjected: return "worker.ejected"
        case .workerRestored: return "worker.restored"
        case .workerGone: return "worker.gone"
        case .workerRoles: return "worker.roles"
        case .configApplied: return "config.applied"
        case .preemptStarted: return "preempt.started"
        case .preemptCommitted: return "preempt.committed"
        case .preemptDiscarded: return "preempt.discarded"
        case .mcpRequest: return "mcp.request"
        case .mcpAnswer: return "mcp.answer"
        case .mcpListed: return "mcp.listed"
        case .mcpTimeout: return "mcp.timeout"
        case .mcpDropped: return "mcp.dropped"
        case .mcpNotification: return "mcp.notification"
        case .jobRefused: return "job.refused"
        case .workerReconciled: return "worker.reconciled"
        case .healthChanged: return "health.changed"
        case .turnEndpoint: return "turn.endpoint"
        case .turnBackchannel: return "turn.backchannel"
        case .adminRequest: return "admin.request"
        case .sessionAgent: return "session.agent"
        case .budgetExceeded: return "budget.exceeded"
        case .turnUsage: return "turn.usage"
        case .sessionLanguage: return "session.language"
        case .sayQueued: return "say.queued"
        case .sayStarted: return "say.started"
        case .sayDone: return "say.done"
        case .sayDropped: return "say.dropped"
        case .turnPaused: return "turn.paused"
        case .turnResumed: return "turn.resumed"
        case .deviceLanguage: return "device.language"
        case .preemptDeferred: return "preempt.deferred"
        }
    }

    public var description: String { name }

    public init?(name: String) {
        guard let k = LogKind.allCases.first(where: { $0.name == name }) else { return nil }
        self = k
    }
}
