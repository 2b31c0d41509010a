/// Device MCP: after a `hello` with `features.mcp` the hub sends `initialize`, then `tools/list`
/// page by page (`nextCursor`) and keeps the list for the connection; every assistant job of the
/// device gets it (`params.tools`). A job's `tools/call` (output `mcp`) goes to the device under an
/// id the hub chooses; the answer goes back to that job under the job's own id (input `mcp`), or a
/// JSON-RPC error when the device does not answer in time. Late, unknown and malformed answers are
/// dropped and logged; nothing a device sends here reaches another session.
extension Coordinator {
    /// JSON-RPC error codes of the hub's own answers to a job.
    static let mcpTimeoutCode = -32000
    static let mcpUnavailableCode = -32001

    func startMCP(_ s: SessionID) {
        sessions[s]!.deviceMCP = DeviceMCP()
        var capabilities: [(String, JSON)] = []
        if !config.visionURL.isEmpty {
            capabilities.append(("vision", ["url": .string(config.visionURL), "token": .string(config.visionToken)]))
        }
        sendListRequest(s, method: "initialize", params: [
            "protocolVersion": "2024-11-05", "capabilities": .object(capabilities),
            "clientInfo": ["name": "voicecore", "version": .string(Version.string)],
        ])
    }

    private func sendListRequest(_ s: SessionID, method: String, params: JSON) {
        let id = sessions[s]!.deviceMCP!.takeID()
        sessions[s]!.deviceMCP!.listRequest = (id, method)
        sessions[s]!.deviceMCP!.listTimer = setTimer(.mcpList(s, id), at: now + config.mcpListTimeoutUs)
        out.append(.deviceSend(s, .mcp(JSONRPC.request(id: id, method: method, params: params))))
        record(.mcpRequest, session: s, reason: method, value: Int64(id))
    }

    /// The tools an assistant job of this session carries (nil: the device has none, or the list
    /// is not complete yet — the job does not wait for it).
    func deviceTools(_ s: SessionID) -> [JSON]? {
        guard let mcp = sessions[s]?.deviceMCP, mcp.listing == .ready else { return nil }
        return mcp.tools
    }

    private func listingEnded(_ s: SessionID, ok: Bool, reason: String) {
        cancelTimer(sessions[s]!.deviceMCP!.listTimer)
        sessions[s]!.deviceMCP!.listTimer = nil
        sessions[s]!.deviceMCP!.listRequest = nil
        sessions[s]!.deviceMCP!.listing = ok ? .ready : .failed
        if !ok { sessions[s]!.deviceMCP!.tools = [] }
        record(.mcpListed, session: s, reason: reason, value: Int64(sessions[s]!.deviceMCP!.tools.count))
    }

    /// An `mcp` message from the device: an answer to the listing or to a job's call, or a
    /// notification.
    func deviceMCP(_ s: SessionID, _ payload: JSON) {
        guard readySession(s) else { return }
        guard payload.objectValue != nil else { return reject("mcp: \"payload\" must be a JSON object", session: s) }
        guard let mcp = sessions[s]!.deviceMCP else {
            return record(.mcpDropped, session: s, reason: "no-mcp")  // the hello did not announce MCP
        }
        if let method = payload["method"]?.stringValue {
            // Device-initiated (`notifications/...`): nothing here asks for them; a request is refused.
            record(.mcpNotification, session: s, reason: method)
            if let id = payload["id"], id != .null {
                out.append(.deviceSend(s, .mcp(JSONRPC.error(id: id, code: -32601, message: "method not found: " + method))))
            }
            return
        }
        guard let id = JSONRPC.intID(payload), payload["result"] != nil || payload["error"] != nil else {
            return record(.mcpDropped, session: s, reason: "malformed")
        }
        if let request = mcp.listRequest, request.id == id {
            return listAnswer(s, method: request.method, payload)
        }
        if let call = mcp.calls[id] {
            sessions[s]!.deviceMCP!.calls[id] = nil
            cancelTimer(call.timer)
            let error = JSONRPC.errorMessage(payload)
            guard let rec = jobs[call.job], rec.phase == .running, let worker = rec.worker else {
                record(.mcpDropped, session: s, job: call.job, reason: "job-ended", value: Int64(id))
                return
            }
            record(.mcpAnswer, session: s, turn: rec.turn, job: call.job, to: error == nil ? "result" : "error",
                   reason: call.method, value: Int64(id), text: error)
            out.append(.workerSend(worker, .inputMCP(call.job, JSONRPC.withID(payload, call.jobRequestID)), audio: nil))
            if rec.kind == .assistant { setJobDeadline(call.job, now + config.assistantTimeoutUs) }
            return
        }
        record(.mcpDropped, session: s, reason: mcp.expired.contains(id) ? "late" : "unknown-id", value: Int64(id))
    }

    private func listAnswer(_ s: SessionID, method: String, _ payload: JSON) {
        cancelTimer(sessions[s]!.deviceMCP!.listTimer)
        sessions[s]!.deviceMCP!.listTimer = nil
        record(.mcpAnswer, session: s, to: payload["error"] == nil ? "result" : "error", reason: method,
               value: JSONRPC.intID(payload).map(Int64.init), text: JSONRPC.errorMessage(payload))
        if let message = JSONRPC.errorMessage(payload) { return listingEnded(s, ok: false, reason: "error: " + message) }
        let result = payload["result"]!
        if method == "initialize" {
            return sendListRequest(s, method: "tools/list", params: ["cursor": "", "withUserTools": false])
        }
        guard result.objectValue != nil, let page = result["tools"]?.arrayValue else {
            return listingEnded(s, ok: false, reason: "malformed")
        }
        for tool in page where tool["name"]?.stringValue.map({ !$0.isEmpty }) == true {
            sessions[s]!.deviceMCP!.tools.append(tool)
        }
        sessions[s]!.deviceMCP!.pages += 1
        let mcp = sessions[s]!.deviceMCP!
        guard let cursor = result["nextCursor"]?.stringValue, !cursor.isEmpty else {
            return listingEnded(s, ok: true, reason: "ok")
        }
        if mcp.pages >= DeviceMCP.maxPages || mcp.tools.count >= DeviceMCP.maxTools {
            return listingEnded(s, ok: false, reason: "too-many-pages")
        }
        if mcp.cursors.contains(cursor) { return listingEnded(s, ok: false, reason: "cursor-repeated") }
        sessions[s]!.deviceMCP!.cursors.insert(cursor)
        sendListRequest(s, method: "tools/list", params: ["cursor": .string(cursor), "withUserTools": false])
    }

    /// An `mcp` output of an assistant job: a request goes to the device under a hub id, a
    /// notification as it is.
    func jobMCP(_ s: SessionID, job: JobID?, _ payload: JSON) {
        guard payload.objectValue != nil, let method = payload["method"]?.stringValue else {
            return record(.mcpDropped, session: s, job: job, reason: "malformed")
        }
        guard let jobRequestID = payload["id"], jobRequestID != .null else {
            if sessions[s]?.deviceMCP != nil { out.append(.deviceSend(s, .mcp(payload))) }
            return
        }
        guard let job, let worker = jobs[job]?.worker else { return record(.mcpDropped, session: s, reason: "job-ended") }
        guard sessions[s]?.deviceMCP != nil else {
            record(.mcpDropped, session: s, job: job, reason: "no-mcp")
            let error = JSONRPC.error(id: jobRequestID, code: Self.mcpUnavailableCode, message: "the device has no MCP tools")
            out.append(.workerSend(worker, .inputMCP(job, error), audio: nil))
            return
        }
        let id = sessions[s]!.deviceMCP!.takeID()
        let timer = setTimer(.mcpCall(s, id), at: now + config.mcpCallTimeoutUs)
        sessions[s]!.deviceMCP!.calls[id] = DeviceMCP.Call(job: job, jobRequestID: jobRequestID, method: method, timer: timer)
        out.append(.deviceSend(s, .mcp(JSONRPC.withID(payload, .number(Double(id))))))
        record(.mcpRequest, session: s, turn: jobs[job]?.turn, job: job, reason: method, value: Int64(id),
               text: payload["params"]?["name"]?.stringValue)
        // The job waits for the device: its own deadline starts after the call's.
        setJobDeadline(job, now + config.mcpCallTimeoutUs + config.assistantTimeoutUs)
    }

    func mcpListTimerFired(_ s: SessionID, id: Int) {
        guard let mcp = sessions[s]?.deviceMCP, let request = mcp.listRequest, request.id == id else { return }
        sessions[s]!.deviceMCP!.listTimer = nil
        sessions[s]!.deviceMCP!.expire(id)
        record(.mcpTimeout, session: s, reason: request.method, value: Int64(id))
        listingEnded(s, ok: false, reason: "timeout")
    }

    func mcpCallTimerFired(_ s: SessionID, id: Int) {
        guard let call = sessions[s]?.deviceMCP?.calls[id] else { return }
        sessions[s]!.deviceMCP!.calls[id] = nil
        sessions[s]!.deviceMCP!.expire(id)
        record(.mcpTimeout, session: s, turn: jobs[call.job]?.turn, job: call.job, reason: call.method, value: Int64(id))
        guard let rec = jobs[call.job], rec.phase == .running, let worker = rec.worker else { return }
        let ms = config.mcpCallTimeoutUs / 1000
        let seconds = ms % 1000 == 0 ? "\(ms / 1000) s" : "\(ms) ms"
        let error = JSONRPC.error(id: call.jobRequestID, code: Self.mcpTimeoutCode,
                                  message: "the device did not answer \(call.method) within \(seconds)")
        out.append(.workerSend(worker, .inputMCP(call.job, error), audio: nil))
        setJobDeadline(call.job, now + config.assistantTimeoutUs)
    }

    /// The session is going away: its MCP timers go with it.
    func dropMCP(_ s: SessionID) {
        guard let mcp = sessions[s]?.deviceMCP else { return }
        cancelTimer(mcp.listTimer)
        for call in mcp.calls.values.sorted(by: { $0.timer.raw < $1.timer.raw }) { cancelTimer(call.timer) }
        sessions[s]!.deviceMCP = nil
    }
}
