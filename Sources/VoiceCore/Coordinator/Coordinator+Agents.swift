/// Agents and budgets: which agent serves a session, what its jobs carry, moving a device to
/// another agent at run time, turns refused over a budget, and the LLM tokens each turn cost.
extension Coordinator {
    // MARK: bindings

    /// The agent of a device and why ("device", "moved", "token", "default"); nil: none.
    func agentBinding(deviceID: String, token: String) -> (String, String)? {
        if !deviceID.isEmpty, let a = movedDevices[deviceID], config.agents[a] != nil { return (a, "moved") }
        return config.bindings.agent(deviceID: deviceID, token: token)
    }

    /// The agent of the session's reply in flight (the one it started with), else the session's.
    func replyAgent(_ s: SessionID) -> String { sessions[s]!.reply?.agent ?? sessions[s]!.agent }

    /// The params of a session's assistant job: its agent and the agent's language travel with it.
    func assistantParams(_ s: SessionID, text: String, preemptive: Bool = false) -> JobParams {
        let session = sessions[s]!
        let agent = preemptive ? session.agent : replyAgent(s)
        return .assistant(text: text, language: config.language(agent: agent), deviceID: session.info.deviceID,
                          preemptive: preemptive, tools: deviceTools(s), agent: agent)
    }

    /// Binds a device to another agent from now on (the operator's API): its connected sessions'
    /// next jobs go to the new agent's workers; a turn in flight finishes with the old one.
    /// Throws for an unknown agent.
    public mutating func moveDevice(_ deviceID: String, to agent: String) throws(VCError) {
        guard !deviceID.isEmpty else { throw VCError(.invalidArgument, "empty device id") }
        guard config.agents[agent] != nil else { throw VCError(.notFound, "unknown agent \"\(agent)\"") }
        movedDevices[deviceID] = agent
        for s in sessions.keys.sorted() where sessions[s]!.info.deviceID == deviceID && sessions[s]!.agent != agent {
            let from = sessions[s]!.agent
            sessions[s]!.agent = agent
            record(.sessionAgent, session: s, from: from.isEmpty ? nil : from, to: agent, reason: "moved")
        }
    }

    /// Whether a device is connected now.
    public func isConnected(deviceID: String) -> Bool {
        !deviceID.isEmpty && sessions.keys.contains { sessions[$0]!.info.deviceID == deviceID && !sessions[$0]!.closing }
    }

    /// The agent a connected session runs with ("" = none; nil: no such session).
    public func agent(of s: SessionID) -> String? { sessions[s]?.agent }

    // MARK: the operator's API (Coordinator+Admin.swift)

    /// `POST /api/v1/devices/{device}/agent` `{"agent": name}`: 404 for a device the hub does not
    /// know (not connected, not bound), 400 for an unknown agent or a bad body.
    mutating func adminSetAgent(_ call: AdminCall) -> AdminResponse {
        let device = call.param("device")
        guard isConnected(deviceID: device) || config.bindings.devices[device] != nil || movedDevices[device] != nil else {
            return .error(404, "device \"\(device)\" is not connected and not bound to an agent")
        }
        guard let body = call.body, let agent = body["agent"]?.stringValue else {
            return .error(400, "body must be {\"agent\": \"name\"}")
        }
        guard config.agents[agent] != nil else {
            let known = config.agents.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
            return .error(400, "unknown agent \"\(agent)\"" + (known.isEmpty ? " (no agents are configured)" : " (agents: \(known))"))
        }
        let from = agentBinding(deviceID: device, token: "")?.0
        let live = sessions.keys.sorted().filter { sessions[$0]!.info.deviceID == device && !sessions[$0]!.closing }
        let was = live.first.map { sessions[$0]!.agent } ?? from ?? ""
        try? moveDevice(device, to: agent)
        return AdminResponse(200, .object([("device_id", .json(.string(device))), ("agent", .json(.string(agent))),
                                           ("from", .json(was.isEmpty ? .null : .string(was))),
                                           ("sessions", .array(live.map { .session($0) }))]))
    }

    /// `GET /api/v1/agents`: every agent with its language, voice, budgets, the assistant workers
    /// that serve it and the devices connected to it.
    func adminListAgents() -> AdminResponse {
        func limits(_ l: BudgetLimits) -> JSON {
            .object([("turns_per_minute", l.turnsPerMinute.map { .number(Double($0)) } ?? .null),
                     ("tokens_per_day", l.tokensPerDay.map { .number(Double($0)) } ?? .null)])
        }
        var workers: [String: Int] = [:], generic = 0
        for id in scheduler.workerIDs {
            guard let w = scheduler.worker(id), w.kinds.contains(.assistant) else { continue }
            if w.agents.isEmpty { generic += 1 }
            for a in w.agents { workers[a, default: 0] += 1 }
        }
        var connected: [String: Int] = [:]
        for (_, session) in sessions.pairs where !session.closing { connected[session.agent, default: 0] += 1 }
        let items: [ResponseJSON] = config.agents.keys.sorted().map { name in
            let budgets = config.budgets(agent: name)
            return .json(.object([("name", .string(name)), ("language", .string(config.language(agent: name))),
                                  ("voice", .string(config.voice(agent: name))),
                                  ("default", .bool(config.bindings.defaultAgent == name)),
                                  ("workers", .number(Double(workers[name, default: 0] + generic))),
                                  ("devices", .number(Double(connected[name, default: 0]))),
                                  ("budgets", .object([("device", limits(budgets.device)), ("agent", limits(budgets.agent))]))]))
        }
        return AdminResponse(200, .object([("agents", .array(items))]))
    }

    // MARK: budgets

    /// The key of a session's device in the budget ledger: its device id, else its client id.
    private func budgetKey(_ s: SessionID) -> String? {
        let info = sessions[s]!.info
        if !info.deviceID.isEmpty { return info.deviceID }
        return info.clientID.isEmpty ? nil : "client:" + info.clientID
    }

    /// The limit a new turn of the session would exceed, as "device.turns_per_minute" etc.
    mutating func budgetExceeded(_ s: SessionID) -> String? {
        let agent = sessions[s]!.agent
        let limits = config.budgets(agent: agent)
        if let key = budgetKey(s), var u = budgets.devices[key] {
            u.expire(now)
            budgets.devices[key] = u
            if let what = u.exceeded(limits.device) { return "device." + what }
        }
        if var u = budgets.agents[agent] {
            u.expire(now)
            budgets.agents[agent] = u
            if let what = u.exceeded(limits.agent) { return "agent." + what }
        }
        return nil
    }

    /// Admits a turn: counts it against the device's and the agent's turns per minute, or refuses
    /// it (`budget.exceeded`, the refusal spoken) and returns false.
    mutating func admitTurn(_ s: SessionID, turn: TurnID) -> Bool {
        if let what = budgetExceeded(s) {
            refuseTurn(s, turn: turn, reason: what)
            return false
        }
        let limits = config.budgets(agent: sessions[s]!.agent)
        if limits.device.turnsPerMinute ?? 0 > 0, let key = budgetKey(s) { budgets.devices[key, default: BudgetUsage()].turns.append(now) }
        if limits.agent.turnsPerMinute ?? 0 > 0 { budgets.agents[sessions[s]!.agent, default: BudgetUsage()].turns.append(now) }
        budgetTurns += 1
        if budgetTurns % 1024 == 0 { budgets.prune(now) }
        return true
    }

    /// Speaks the refusal text as the turn's reply (an `alert` when no TTS worker can serve).
    private mutating func refuseTurn(_ s: SessionID, turn: TurnID, reason: String) {
        let session = sessions[s]!
        record(.budgetExceeded, session: s, turn: turn, to: session.agent.isEmpty ? nil : session.agent, reason: reason,
               text: session.info.deviceID.isEmpty ? nil : session.info.deviceID)
        let text = config.budgets(agent: session.agent).refusal
        let reply = Reply(turn: turn, text: "", splitter: ReplySplitter(options: config.splitter))
        reply.marks = TurnMarks(speechEnd: now)
        reply.watchdog = setTimer(.reply(s, turn), at: now + config.replyTimeoutUs)
        reply.refused = true
        reply.agent = session.agent
        reply.assistantDone = true
        session.reply = reply
        if !text.isEmpty && scheduler.canServe(.tts) {
            addSegment(s, text: text)
        } else if !text.isEmpty {
            out.append(.deviceSend(s, .alert(status: "error", message: text, emotion: "sad")))
        }
        checkReplyComplete(s)
        touch(s)
    }

    // MARK: usage

    /// The LLM tokens an assistant job used, as its worker reported them (`output` `usage`).
    mutating func assistantUsage(_ s: SessionID, job: JobID, model: String, prompt: Int64, completion: Int64, total: Int64) {
        guard let j = jobs[job], !j.usageReported else { return }
        j.usageReported = true
        countUsage(s, j, job: job, model: model, tokens: total, estimated: false,
                   parts: [("prompt_tokens", prompt), ("completion_tokens", completion)])
    }

    /// An assistant job ended without reporting usage: its tokens are estimated from the text
    /// (about four characters a token, prompt and reply together).
    mutating func estimateUsage(_ s: SessionID, job: JobID) {
        guard let j = jobs[job], j.kind == .assistant, !j.usageReported else { return }
        j.usageReported = true
        var prompt = 0
        if case let .assistant(text, _, _, _, _, _) = j.params { prompt = text.utf8.count }
        let tokens = Int64((prompt + 3) / 4 + (j.outputChars + 3) / 4)
        countUsage(s, j, job: job, model: "", tokens: tokens, estimated: true, parts: nil)
    }

    private mutating func countUsage(_ s: SessionID, _ j: JobRecord, job: JobID, model: String, tokens: Int64, estimated: Bool,
                                     parts: [(String, Int64)]?) {
        let agent = j.agent
        let limits = config.budgets(agent: agent)
        if limits.device.tokensPerDay ?? 0 > 0, let key = sessions[s] != nil ? budgetKey(s) : nil {
            budgets.devices[key, default: BudgetUsage()].addTokens(tokens, now)
        }
        if limits.agent.tokensPerDay ?? 0 > 0 { budgets.agents[agent, default: BudgetUsage()].addTokens(tokens, now) }
        usage.add(agent: agent, model: model.isEmpty ? "unknown" : model, tokens: tokens, estimated: estimated)
        record(.turnUsage, session: s, turn: j.turn, job: job, to: agent.isEmpty ? nil : agent,
               reason: estimated ? "estimated" : "reported", value: tokens, text: model.isEmpty ? nil : model, timings: parts)
    }
}

extension BudgetUsage {
    mutating func addTokens(_ n: Int64, _ now: Instant) {
        expire(now)
        if dayStart == nil { dayStart = now }
        tokens += max(0, n)
    }
}
