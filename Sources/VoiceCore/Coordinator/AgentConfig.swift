/// Agents as the core sees them (docs/agents.md): what travels in every job of a session bound to
/// the agent (its language and TTS voice), its budgets, and the table that binds devices to agents
/// by device id, by token, or a default. The rest of an agent (prompt, script, LLM, knowledge) is
/// its assistant workers' business; the core only places its jobs on workers that serve it.
public struct AgentConfig: Sendable, Equatable {
    /// The language hint of the agent's ASR jobs, `session.language` of its business logic and the
    /// language of its TTS jobs ("" = the hub's `language`).
    public var language = ""
    /// The TTS voice ("" = the hub's `voice`, and a TTS worker picks one for the language).
    public var voice = ""
    /// Overrides of the hub's budgets for this agent's devices and for the agent as a whole.
    public var budgets = BudgetConfig(inherit: true)

    public init() {}
}

/// Limits of one party (a device, an agent). nil: unlimited.
public struct BudgetLimits: Sendable, Equatable {
    public var turnsPerMinute: Int?
    public var tokensPerDay: Int64?

    public init(turnsPerMinute: Int? = nil, tokensPerDay: Int64? = nil) {
        self.turnsPerMinute = turnsPerMinute
        self.tokensPerDay = tokensPerDay
    }

    /// `other`'s limits where it sets them, these otherwise.
    func overridden(by other: BudgetLimits) -> BudgetLimits {
        BudgetLimits(turnsPerMinute: other.turnsPerMinute ?? turnsPerMinute, tokensPerDay: other.tokensPerDay ?? tokensPerDay)
    }
}

/// Budgets (JSON key `budgets`, at the top of the config or inside an agent): `device` limits each
/// device, `agent` all of an agent's devices together; `refusal_text` is spoken when a turn is
/// refused.
public struct BudgetConfig: Sendable, Equatable {
    public var device = BudgetLimits()
    public var agent = BudgetLimits()
    /// nil inside an agent: the hub's text.
    public var refusalText: String?

    public init(inherit: Bool = false) {
        refusalText = inherit ? nil : "Sorry, that is all I can do for now. Please try again later."
    }

    mutating func apply(json: JSON, path: String) throws(VCError) {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: \(path) must be an object") }
        for (key, value) in members {
            switch key {
            case "device": device = try Self.limits(value, path: path + ".device")
            case "agent": agent = try Self.limits(value, path: path + ".agent")
            case "refusal_text": refusalText = try ConfigValue.string(path + "." + key, value)
            default: throw VCError(.invalidArgument, "config: unknown key \"\(path).\(key)\"")
            }
        }
    }

    static func limits(_ json: JSON, path: String) throws(VCError) -> BudgetLimits {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: \(path) must be an object") }
        var l = BudgetLimits()
        for (key, value) in members {
            switch key {
            // 0 switches the limit off (an agent can lift the hub's limit).
            case "turns_per_minute": l.turnsPerMinute = try ConfigValue.int(path + "." + key, value, 0...1_000_000)
            case "tokens_per_day": l.tokensPerDay = Int64(try ConfigValue.int(path + "." + key, value, 0...Int(Int64.max)))
            default: throw VCError(.invalidArgument, "config: unknown key \"\(path).\(key)\"")
            }
        }
        return l
    }
}

/// Which agent serves a device: its device id, else the token it connected with, else `default`.
public struct AgentBindings: Sendable, Equatable {
    public var devices: [String: String] = [:]
    public var tokens: [String: String] = [:]
    public var defaultAgent = ""

    public init() {}

    /// The agent of a device and why ("device", "token", "default"); nil when nothing binds it.
    public func agent(deviceID: String, token: String) -> (name: String, by: String)? {
        if !deviceID.isEmpty, let a = devices[deviceID] { return (a, "device") }
        if !token.isEmpty, let a = tokens[token] { return (a, "token") }
        return defaultAgent.isEmpty ? nil : (defaultAgent, "default")
    }

    mutating func apply(json: JSON) throws(VCError) {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: bindings must be an object") }
        for (key, value) in members {
            switch key {
            case "devices": devices = try Self.table(value, path: "bindings.devices")
            case "tokens": tokens = try Self.table(value, path: "bindings.tokens")
            case "default": defaultAgent = try ConfigValue.string("bindings.default", value)
            default: throw VCError(.invalidArgument, "config: unknown key \"bindings.\(key)\"")
            }
        }
    }

    private static func table(_ json: JSON, path: String) throws(VCError) -> [String: String] {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: \(path) must be an object") }
        var out: [String: String] = [:]
        for (key, value) in members {
            guard !key.isEmpty else { throw VCError(.invalidArgument, "config: \(path) has an empty key") }
            guard out[key] == nil else { throw VCError(.invalidArgument, "config: \(path) binds \"\(key)\" twice") }
            out[key] = try ConfigValue.string(path + "." + key, value)
        }
        return out
    }
}

extension AgentConfig {
    /// An agent's name: letters, digits, '-', '_' and '.', 1–64 characters (it appears in job
    /// params, metrics labels and URLs).
    static func validName(_ name: String) -> Bool {
        guard (1...64).contains(name.utf8.count) else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F || c == 0x2E
        }
    }

    init(json: JSON, name: String) throws(VCError) {
        self.init()
        let path = "agents." + name
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: \(path) must be an object") }
        for (key, value) in members {
            switch key {
            case "language": language = try ConfigValue.string(path + ".language", value)
            case "voice": voice = try ConfigValue.string(path + ".voice", value)
            case "budgets": try budgets.apply(json: value, path: path + ".budgets")
            default: throw VCError(.invalidArgument, "config: unknown key \"\(path).\(key)\"")
            }
        }
    }
}

extension CoordinatorConfig {
    mutating func applyAgents(_ json: JSON) throws(VCError) {
        guard let members = json.objectValue else { throw VCError(.invalidArgument, "config: agents must be an object") }
        var out: [String: AgentConfig] = [:]
        for (name, value) in members {
            guard AgentConfig.validName(name) else {
                throw VCError(.invalidArgument, "config: agent name \"\(name)\" must be 1-64 letters, digits, '-', '_' or '.'")
            }
            out[name] = try AgentConfig(json: value, name: name)
        }
        agents = out
    }

    /// Every binding names a configured agent.
    func validateBindings() throws(VCError) {
        func check(_ agent: String, _ what: String) throws(VCError) {
            guard agents[agent] != nil else {
                throw VCError(.invalidArgument, "config: \(what) is bound to unknown agent \"\(agent)\"")
            }
        }
        for (device, agent) in bindings.devices.sorted(by: { $0.key < $1.key }) { try check(agent, "device \"\(device)\"") }
        for (token, agent) in bindings.tokens.sorted(by: { $0.key < $1.key }) { try check(agent, "a token") }
        if !bindings.defaultAgent.isEmpty { try check(bindings.defaultAgent, "bindings.default") }
    }

    /// The language of a session bound to `agent` ("" = none).
    func language(agent: String) -> String {
        if let a = agents[agent], !a.language.isEmpty { return a.language }
        return language
    }

    func voice(agent: String) -> String {
        if let a = agents[agent], !a.voice.isEmpty { return a.voice }
        return voice
    }

    /// The limits of each device of `agent`, of the agent as a whole, and the refusal text.
    func budgets(agent: String) -> (device: BudgetLimits, agent: BudgetLimits, refusal: String) {
        let own = agents[agent]?.budgets ?? BudgetConfig(inherit: true)
        return (budgets.device.overridden(by: own.device), budgets.agent.overridden(by: own.agent),
                own.refusalText ?? budgets.refusalText ?? "")
    }
}
