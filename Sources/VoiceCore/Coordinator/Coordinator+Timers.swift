/// Timer expiries. Timers are lazy: an activity pushes a deadline forward without touching the
/// host's timer; when the timer fires early it is re-armed at the new deadline.
extension Coordinator {
    func timerFired(_ t: TimerID) {
        guard let purpose = timers.removeValue(forKey: t) else {
            if t.raw == 0 || t.raw >= nextTimer { reject("unknown timer \(t.raw)") }
            return  // cancelled earlier: a benign race
        }
        switch purpose {
        case let .hello(s):
            sessions[s]?.helloTimer = nil
            closeSession(s, code: CloseCode.policyViolation, reason: "hello-timeout")
        case let .idle(s):
            guard let session = sessions[s] else { return }
            sessions[s]!.idleTimer = nil
            let due = session.lastActivity + config.idleTimeoutUs
            if now < due || session.reply != nil {
                sessions[s]!.idleTimer = setTimer(.idle(s), at: max(due, now + 1_000_000))
            } else {
                closeSession(s, code: CloseCode.normal, reason: "idle")
            }
        case let .close(s):
            removeSession(s, reason: "close-timeout")
        case let .register(w):
            workers[w]?.timer = nil
            workerGone(w, reason: "register-timeout", close: true)
        case let .heartbeat(w):
            workers[w]?.timer = nil
            guard let state = scheduler.worker(w) else { return }
            let due = state.lastHeartbeat + heartbeatDeadline
            if now < due {
                workers[w]!.timer = setTimer(.heartbeat(w), at: due)
            } else {
                workerGone(w, reason: "heartbeat-timeout", close: true)
            }
        case let .job(j):
            jobTimerFired(j)
        case let .reply(s, turn):
            guard let reply = sessions[s]?.reply, reply.turn == turn else { return }
            sessions[s]!.reply!.watchdog = nil
            cancelReply(s, reason: "reply-timeout", tellDevice: true)
            ensureUtterance(s)
        case let .preemption(s, turn):
            guard let held = sessions[s]?.held, held.turn == turn else { return }
            held.watchdog = nil
            discardHeld(s, reason: "reply-timeout")
        case let .playback(s, turn):
            guard let reply = sessions[s]?.reply, reply.turn == turn else { return }
            sessions[s]!.reply!.playbackTimer = nil
            endReply(s, reason: "playback-timeout")
        case .rebalance:
            rebalanceTimer = nil
            rebalance()
        case let .mcpList(s, id):
            mcpListTimerFired(s, id: id)
        case let .mcpCall(s, id):
            mcpCallTimerFired(s, id: id)
        case let .endOfTurn(s, turn):
            guard let u = sessions[s]?.utterance, u.turn == turn else { return }
            u.endTimer = nil
            decideEndOfTurn(s)
        case let .bargeIn(s, turn):
            guard let u = sessions[s]?.utterance, u.turn == turn else { return }
            u.bargeInTimer = nil
            bargeInTimerFired(s, u)
        }
    }

    /// Moves multi-role workers between roles by queue pressure (see Scheduler.rebalance).
    func rebalance() {
        for change in scheduler.rebalance(now: now) {
            out.append(.workerSend(change.worker, .roles(change.to), audio: nil))
            record(.workerRoles, worker: change.worker, from: change.from.names.joined(separator: ","),
                   to: change.to.names.joined(separator: ","))
            placementDirty = true
        }
        if scheduler.hasMultiRoleWorkers {
            rebalanceTimer = setTimer(.rebalance, at: now + config.scheduler.rebalanceIntervalUs)
        }
    }
}
