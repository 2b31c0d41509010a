/// The fault injector: Poisson arrivals of each fault kind at the profile's rates, until the
/// quiet tail of a liveness run.
extension Simulation {
    func scheduleNextFault() {
        let mean = 3_600_000_000 / profile.total
        let at = now + max(1, rng.faults.exponential(mean))
        if at < faultsUntil { queue.schedule(.fault, at: at) }
    }

    func injectFault() {
        defer { scheduleNextFault() }
        var pick = rng.faults.unit() * profile.total
        var kind = FaultProfile.Kind.latencySpike
        for k in FaultProfile.Kind.allCases {
            pick -= profile.perHour[k.rawValue]
            if pick < 0 { kind = k; break }
        }
        guard let target = faultTarget(kind) else { return }
        stats.faults[kind.rawValue] += 1
        lastFaultAt = now
        switch kind {
        case .workerCrash, .workerHang, .workerSlow, .workerErrors, .workerGarbage, .workerLeave, .workerFreeze, .workerLeak,
             .workerLoseJobs:
            workers[target].struckAt = now
        case .deviceDrop: devices[target].struckAt = now
        default: break
        }
        switch kind {
        case .workerCrash:
            workers[target].online = false
            workers[target].rejoinWhenDrained = false
            workerLost(target, tellCore: true)
            queue.schedule(.faultEnd(.workerRestart(target)), at: now + rng.faults.us(5_000_000, 60_000_000))
            activeFaults += 1
        case .workerHang:
            workers[target].hangUntil = now + rng.faults.us(20_000_000, 180_000_000)
            begin(.workerHang(target), until: workers[target].hangUntil)
        case .workerSlow:
            workers[target].slowUntil = now + rng.faults.us(60_000_000, 600_000_000)
            begin(.workerSlow(target), until: workers[target].slowUntil)
        case .workerErrors:
            workers[target].errorsUntil = now + rng.faults.us(60_000_000, 300_000_000)
            begin(.workerErrors(target), until: workers[target].errorsUntil)
        case .workerGarbage:
            workers[target].garbageUntil = now + rng.faults.us(60_000_000, 300_000_000)
            begin(.workerGarbage(target), until: workers[target].garbageUntil)
        case .workerLeave:
            workers[target].draining = true
            if let w = workers[target].id { sendToCore(worker: target, .workerDrain(w)) }
            leaveIfDrained(target)
            queue.schedule(.faultEnd(.workerRestart(target)), at: now + rng.faults.us(60_000_000, 1_200_000_000))
            activeFaults += 1
        case .workerJoin:
            workers[target].online = true
            queue.schedule(.workerConnect(target), at: now)
        case .deviceDrop:
            if let s = devices[target].session { closeSession(s, fromCore: false) }
        case .partition:
            let until = now + rng.faults.us(10_000_000, 180_000_000)
            for i in 0..<devices.count where rng.faults.chance(0.3) {
                devices[i].heldUntil = max(devices[i].heldUntil, until)
                devices[i].struckAt = now
            }
            for i in 0..<workers.count where rng.faults.chance(0.15) {
                workers[i].heldUntil = max(workers[i].heldUntil, until)
                workers[i].struckAt = now
            }
            begin(.partition, until: until)
        case .outage:
            outageUntil = now + rng.faults.us(60_000_000, 300_000_000)
            for i in 0..<devices.count {
                devices[i].struckAt = now
                if let s = devices[i].session { closeSession(s, fromCore: false) }
            }
            begin(.partition, until: outageUntil)
        case .latencySpike:
            latencyFactor = 20
            begin(.latencySpike, until: now + rng.faults.us(60_000_000, 300_000_000))
        case .workerFreeze:
            workers[target].frozenUntil = now + rng.faults.us(2_000_000, 60_000_000)
            begin(.workerFreeze(target), until: workers[target].frozenUntil)
        case .workerLeak:
            workers[target].leakUntil = now + rng.faults.us(10_000_000, 120_000_000)
            begin(.workerLeak(target), until: workers[target].leakUntil)
        case .workerLoseJobs:
            workers[target].loseJobsUntil = now + rng.faults.us(10_000_000, 120_000_000)
            begin(.workerLoseJobs(target), until: workers[target].loseJobsUntil)
        }
    }

    private func begin(_ f: FaultEnd, until: Int64) {
        activeFaults += 1
        queue.schedule(.faultEnd(f), at: until)
    }

    /// Whom a fault strikes, or nil when nobody fits (nothing happens then).
    private func faultTarget(_ kind: FaultProfile.Kind) -> Int? {
        switch kind {
        case .workerCrash, .workerHang, .workerSlow, .workerErrors, .workerGarbage, .workerLeave, .workerFreeze, .workerLeak,
             .workerLoseJobs:
            var candidates: [Int] = []
            for i in 0..<workers.count where workers[i].id != nil && workers[i].online && !workers[i].draining {
                // Prefer workers with jobs in flight: that is where faults hurt.
                if !workers[i].jobs.isEmpty || rng.faults.chance(0.3) { candidates.append(i) }
            }
            return candidates.isEmpty ? nil : candidates[rng.faults.below(candidates.count)]
        case .workerJoin:
            var offline: [Int] = []
            for i in 0..<workers.count where !workers[i].online && workers[i].name.hasPrefix("spare") { offline.append(i) }
            return offline.isEmpty ? nil : offline[rng.faults.below(offline.count)]
        case .deviceDrop:
            var connected: [Int] = []
            for i in 0..<devices.count where devices[i].session != nil { connected.append(i) }
            return connected.isEmpty ? nil : connected[rng.faults.below(connected.count)]
        case .partition, .outage, .latencySpike:
            return 0
        }
    }

    func endFault(_ f: FaultEnd) {
        activeFaults -= 1
        lastFaultAt = now
        switch f {
        case let .workerRestart(i):
            if workers[i].online && workers[i].draining && !workers[i].name.hasPrefix("spare") {
                // Found by the fleet timeline: a worker whose drain outlasted its time away never came back.
                workers[i].rejoinWhenDrained = true
            } else if !workers[i].online && !workers[i].name.hasPrefix("spare") {
                workers[i].online = true
                queue.schedule(.workerConnect(i), at: now)
                healed("restart of \(workers[i].name)", workers: [i])
            }
        case .latencySpike:
            latencyFactor = 1
        case .partition:
            // Partitions and outages end here: whoever they still held is reachable again.
            var held: [Int] = [], heldWorkers: [Int] = []
            for i in 0..<devices.count where devices[i].heldUntil == now { held.append(i) }
            for i in 0..<workers.count where workers[i].heldUntil == now { heldWorkers.append(i) }
            if outageUntil == now {
                healed("outage", allDevices: true, workers: heldWorkers)
            } else {
                healed("partition", devices: held, workers: heldWorkers)
            }
        case let .workerLeak(i):
            // The stuck handlers let go: their slots are free again (the heartbeats say so).
            workers[i].jobs.removeAll { $0.1.leaked }
            leaveIfDrained(i)
        case .workerHang, .workerSlow, .workerErrors, .workerGarbage, .workerFreeze, .workerLoseJobs:
            break
        }
    }
}
