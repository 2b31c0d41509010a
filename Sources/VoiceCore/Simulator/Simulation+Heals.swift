/// `liveness-after-heal`, checked after every heal during a run (not only at the end of a
/// liveness run): when a partition heals, an outage ends or a crashed or departed worker
/// restarts, the devices and workers it cut off must be back within bounds, and the turns that
/// were open then must have ended.
struct HealCheck: Sendable {
    /// What healed, for the report.
    var what: String
    var healedAt: Int64
    var devices: [Int]
    var allDevices: Bool
    var workers: [Int]
}

extension Simulation {
    /// Reachable again for this long (since the heal, the end of whatever else cut it off, and its
    /// last disconnection), a device that wants a connection has one (its backoff is
    /// capped at 30 s with full jitter), and a restarted worker is registered.
    static let reconnectBoundUs: Int64 = 60_000_000

    /// A heal is checked this long after it: the reconnect bound with room, and the reply
    /// timeout (+ 2 s) for the turns that were open.
    var healCheckDelayUs: Int64 { max(120_000_000, config.replyTimeoutUs + 2_000_000) }

    func healed(_ what: String, devices: [Int] = [], allDevices: Bool = false, workers: [Int] = []) {
        guard allDevices || !devices.isEmpty || !workers.isEmpty else { return }
        heals.append(HealCheck(what: what, healedAt: now, devices: devices, allDevices: allDevices, workers: workers))
    }

    /// At a checkpoint: every heal whose bound has passed.
    func checkHeals() {
        while healsNext < heals.count, heals[healsNext].healedAt + healCheckDelayUs <= now, checker.violation == nil {
            check(heals[healsNext])
            healsNext += 1
        }
        if healsNext > 1024 {
            heals.removeFirst(healsNext)
            healsNext = 0
        }
    }

    private func check(_ heal: HealCheck) {
        let h = heal.healedAt
        let at = "after the \(heal.what) healed at \(SimTime.format(h))"
        for i in heal.allDevices ? Array(0..<devices.count) : heal.devices {
            let d = devices[i]
            // A later fault that struck the device, or a link still cut, excuses it.
            guard d.wantsConnection, d.session == nil, d.struckAt <= h, now >= d.heldUntil, now >= outageUntil else { continue }
            let since = max(d.disconnectedSince, h, d.heldUntil, outageUntil)
            if now - since > Self.reconnectBoundUs {
                return checker.fail("liveness-after-heal", nil,
                                    "dev-\(i) wants a connection but has none \((now - since) / 1000) ms \(at) (bound \(Self.reconnectBoundUs / 1000) ms)")
            }
        }
        for i in heal.workers {
            let w = workers[i]
            guard w.online, !w.registered, w.struckAt <= h, now >= w.heldUntil else { continue }
            let since = max(w.lostAt, h, w.heldUntil)
            if now - since > Self.reconnectBoundUs {
                return checker.fail("liveness-after-heal", nil,
                                    "worker \(w.name) not registered \((now - since) / 1000) ms \(at) (bound \(Self.reconnectBoundUs / 1000) ms)")
            }
        }
        let turnBound = config.replyTimeoutUs + 2_000_000
        if let (s, turn) = checker.oldestOpenTurn(openedBy: h), now - h > turnBound {
            checker.fail("liveness-after-heal", s, "turn \(turn), open when the \(heal.what) healed, still open \((now - h) / 1000) ms \(at) (bound \(turnBound / 1000) ms)")
        }
    }
}
