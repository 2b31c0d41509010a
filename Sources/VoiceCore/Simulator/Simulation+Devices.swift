/// The devices and their users: wake, connect (with backoff), speak in auto / manual / realtime
/// mode, listen to the reply, barge in, abort, go silent, disconnect.
extension Simulation {
    func deviceConnect(_ i: Int) {
        guard devices[i].phase == .asleep || devices[i].phase == .connecting, devices[i].session == nil else { return }
        devices[i].wantsConnection = true
        if now < outageUntil || now < devices[i].heldUntil {
            // The server is unreachable: try again after a capped exponential backoff, full jitter.
            if devices[i].phase == .asleep { devices[i].disconnectedSince = now }
            devices[i].phase = .connecting
            if options.injectBug == .lostReconnect { return }
            let cap: Int64 = 30_000_000
            devices[i].backoffUs = min(cap, max(1_000_000, devices[i].backoffUs * 2))
            queue.schedule(.deviceConnect(i), at: now + rng.workload.us(100_000, devices[i].backoffUs))
            traceDevice(i, "connect failed, retry with backoff \(devices[i].backoffUs / 1000) ms")
            return
        }
        let s = SessionID(nextSession)
        nextSession += 1
        devices[i].epoch &+= 1
        devices[i].session = s
        devices[i].phase = .greeting
        devices[i].backoffUs = 0
        devices[i].lastUp = now
        devices[i].lastDown = now
        sessionDevice[s] = i
        sessionOwner[s] = i
        if i == options.traceDevice { tracedSessions.insert(s) }
        stats.connects += 1
        if devices[i].mode == .auto && rng.workload.chance(0.3) {
            let r = rng.workload.below(10)
            devices[i].mode = r < 6 ? .auto : r < 8 ? .manual : .realtime
        }
        traceDevice(i, "connect as \(s), mode \(devices[i].mode)")
        sendToCore(device: i, .deviceConnected(s, DeviceInfo(deviceID: "dev-\(i)", clientID: "sim", protocolVersion: 1 + i % 3)))
        sendToCore(device: i, .deviceHello(s, DeviceHello(version: 1, mcp: false, frameDurationMs: 60)))
    }

    /// The connection ended (either side). The device reconnects if its user still wants it.
    func deviceDisconnected(_ i: Int, reason: String) {
        guard let s = devices[i].session else { return }
        devices[i].session = nil
        devices[i].epoch &+= 1
        devices[i].serial &+= 1
        devices[i].framesRunning = false
        traceDevice(i, "disconnected (\(reason))")
        if sessionDevice.removeValue(forKey: s) != nil {
            queue.schedule(.toCore(.deviceDisconnected(s, reason: reason)), at: now)
        }
        playback[s] = nil
        sentAudio[s] = nil
        if devices[i].wantsConnection {
            devices[i].phase = .connecting
            devices[i].disconnectedSince = now
            devices[i].backoffUs = 1_000_000
            stats.reconnects += 1
            queue.schedule(.deviceConnect(i), at: now + rng.workload.us(0, 1_000_000))
        } else {
            sleep(i)
        }
    }

    /// The host closes a session (Coordinator `device.close`, or the link died).
    func closeSession(_ s: SessionID, fromCore: Bool) {
        guard let i = sessionDevice[s] else { return }
        if fromCore {
            // The user's conversation ended with the close (idle, hello timeout).
            devices[i].wantsConnection = devices[i].phase == .greeting
        }
        deviceDisconnected(i, reason: fromCore ? "closed by server" : "link lost")
    }

    private func sleep(_ i: Int) {
        devices[i].phase = .asleep
        devices[i].wantsConnection = false
        devices[i].turnsLeft = rng.workload.int(1...6)
        queue.schedule(.deviceConnect(i), at: now + rng.workload.exponential(1_200_000_000))
    }

    private func step(_ i: Int, after us: Int64) {
        devices[i].serial &+= 1
        devices[i].bargeIn = false
        queue.schedule(.deviceStep(i, epoch: devices[i].serial), at: now + us)
    }

    /// A message from the core reaches the device.
    func deviceReceives(_ i: Int, epoch: UInt32, _ message: DeviceMessage) {
        guard devices[i].epoch == epoch, devices[i].session != nil else { return }
        switch message {
        case .hello:
            guard devices[i].phase == .greeting else { return }
            devices[i].phase = .idle
            step(i, after: rng.workload.us(200_000, 2_000_000))
        case .stt:
            guard devices[i].phase == .listening else { return }
            devices[i].phase = .waiting
            devices[i].framesRunning = devices[i].mode == .realtime && devices[i].framesRunning
            // Patience: a user waits this long for an answer before giving up.
            step(i, after: rng.workload.us(150_000_000, 300_000_000))
        case .ttsStart:
            guard devices[i].phase == .waiting || devices[i].phase == .listening else { return }
            devices[i].phase = .playing
            let r = rng.workload.unit()
            // With backchannels simulated, half the replies are talked over (a backchannel or not).
            if r < (options.backchannels > 0 ? 0.5 : 0.12) {
                // Barge-in: the user talks over the reply.
                step(i, after: rng.workload.us(300_000, 3_000_000))
                devices[i].bargeIn = true
            } else {
                step(i, after: rng.workload.us(150_000_000, 300_000_000))
            }
        case .ttsStop:
            guard devices[i].phase == .playing || devices[i].phase == .waiting else { return }
            devices[i].phase = .idle
            step(i, after: rng.workload.us(500_000, 8_000_000))
        case .alert:
            guard devices[i].phase == .waiting || devices[i].phase == .listening else { return }
            devices[i].phase = .idle
            step(i, after: rng.workload.us(1_000_000, 8_000_000))
        case .llmEmotion, .mcp, .ttsPauseStop, .ttsPauseStart:
            break
        }
    }

    /// The user's next move.
    func deviceStep(_ i: Int, serial: UInt32) {
        guard devices[i].serial == serial, let s = devices[i].session else { return }
        let bargeIn = devices[i].bargeIn
        devices[i].bargeIn = false
        switch devices[i].phase {
        case .idle:
            if devices[i].turnsLeft <= 0 {
                devices[i].wantsConnection = false
                if rng.workload.chance(0.15) {
                    // Goes silent: the connection stays open until the server's idle timeout.
                    traceDevice(i, "goes silent")
                    devices[i].phase = .idle
                    devices[i].turnsLeft = -1
                    devices[i].serial &+= 1
                    return
                }
                traceDevice(i, "hangs up")
                devices[i].wantsConnection = false
                deviceDisconnected(i, reason: "bye")
                return
            }
            devices[i].turnsLeft -= 1
            if rng.workload.chance(0.05) {
                traceDevice(i, "wake word with a typed command")
                devices[i].phase = .waiting
                sendToCore(device: i, .deviceListen(s, .detect(text: SimContent.sentence(&rng.workload, words: 4))))
                step(i, after: rng.workload.us(150_000_000, 300_000_000))
                return
            }
            startSpeaking(i, s)
        case .waiting, .listening:
            // Waited too long for an answer: abort or hang up.
            traceDevice(i, "gives up waiting")
            devices[i].phase = .idle
            if rng.workload.chance(0.5) {
                sendToCore(device: i, .deviceAbort(s, reason: "user"))
                step(i, after: rng.workload.us(500_000, 3_000_000))
            } else {
                devices[i].wantsConnection = false
                deviceDisconnected(i, reason: "impatient")
            }
        case .playing:
            if bargeIn {
                traceDevice(i, "barges in")
                if devices[i].mode == .realtime {
                    devices[i].phase = .listening
                    beginUtterance(i)
                    // A backchannel is short (at most 0.6 s of speech); its own stream keeps the others.
                    if options.backchannels > 0, rng.backchannel.chance(options.backchannels) {
                        devices[i].speechFrames = rng.backchannel.int(1...3)
                    }
                } else {
                    sendToCore(device: i, .deviceAbort(s, reason: "wake_word_detected"))
                    startSpeaking(i, s)
                }
            } else if rng.workload.chance(0.3) {
                traceDevice(i, "aborts the reply")
                sendToCore(device: i, .deviceAbort(s, reason: "user"))
                devices[i].phase = .idle
                step(i, after: rng.workload.us(500_000, 3_000_000))
            } else {
                // The reply never ended for this user.
                devices[i].phase = .idle
                step(i, after: 0)
            }
        case .asleep, .connecting, .greeting:
            break
        }
    }

    private func startSpeaking(_ i: Int, _ s: SessionID) {
        devices[i].phase = .listening
        sendToCore(device: i, .deviceListen(s, .start(devices[i].mode)))
        beginUtterance(i)
        traceDevice(i, "listen start (\(devices[i].mode)), speaks \(devices[i].speechFrames * 200) ms")
    }

    private func beginUtterance(_ i: Int) {
        devices[i].leadFrames = rng.workload.int(0...4)
        devices[i].speechFrames = rng.workload.int(2...30)
        devices[i].silenceFrames = 0
        if !devices[i].framesRunning {
            devices[i].framesRunning = true
            queue.schedule(.deviceFrame(i, epoch: devices[i].epoch), at: now + SimContent.frameUs)
        }
        // Patience while listening (the ASR may never answer).
        step(i, after: rng.workload.us(150_000_000, 300_000_000))
    }

    /// A listening device streams one frame: lead silence, speech, then silence until the server
    /// answers (manual mode: `listen stop` right after the speech).
    func deviceFrame(_ i: Int, epoch: UInt32) {
        guard devices[i].epoch == epoch, devices[i].framesRunning, let s = devices[i].session else { return }
        let realtimeBackground = devices[i].mode == .realtime && devices[i].phase != .listening
        guard devices[i].phase == .listening || realtimeBackground else { devices[i].framesRunning = false; return }
        if devices[i].leadFrames > 0 {
            devices[i].leadFrames -= 1
            sendToCore(device: i, .deviceAudio(s, SimContent.silenceFrame))
        } else if devices[i].speechFrames > 0 && !realtimeBackground {
            devices[i].speechFrames -= 1
            sendToCore(device: i, .deviceAudio(s, SimContent.speechFrame))
            if devices[i].speechFrames == 0 && devices[i].mode == .manual {
                sendToCore(device: i, .deviceListen(s, .stop))
                devices[i].phase = .waiting
                devices[i].framesRunning = false
                return
            }
        } else {
            devices[i].silenceFrames += 1
            // A realtime device streams background silence while the reply plays (a few seconds).
            if devices[i].silenceFrames > 40 || (realtimeBackground && devices[i].silenceFrames > 10) {
                devices[i].framesRunning = false
                return
            }
            sendToCore(device: i, .deviceAudio(s, SimContent.silenceFrame))
        }
        queue.schedule(.deviceFrame(i, epoch: epoch), at: now + SimContent.frameUs)
    }
}
