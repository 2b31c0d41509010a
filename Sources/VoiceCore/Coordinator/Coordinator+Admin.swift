/// The admin HTTP API's decisions (docs/admin-api.md). The host authenticates a request on
/// `/api/v1/`, parses its JSON body and hands it over as one `admin.request` event; the router
/// below matches it against `adminRoutes` and answers with one `http.respond` effect. Adding a
/// route: one `AdminRoute` line in `adminRoutes` and a transition that returns its answer.

/// One route: a method, the path's segments after `/api/v1/` ("{name}" captures a segment) and
/// the transition that answers it.
struct AdminRoute: Sendable {
    let method: String
    let pattern: [Substring]
    let handle: @Sendable (inout Coordinator, AdminCall) -> AdminResponse

    init(_ method: String, _ pattern: String, _ handle: @escaping @Sendable (inout Coordinator, AdminCall) -> AdminResponse) {
        self.method = method
        self.pattern = pattern.split(separator: "/")
        self.handle = handle
    }

    /// The captured segments when `segments` matches the pattern, else nil.
    func match(_ segments: [Substring]) -> [String: String]? {
        guard segments.count == pattern.count else { return nil }
        var params: [String: String] = [:]
        for (p, s) in zip(pattern, segments) {
            if p.first == "{", p.last == "}" {
                params[String(p.dropFirst().dropLast())] = String(s)
            } else if p != s {
                return nil
            }
        }
        return params
    }
}

/// A request matched to a route: the request and the segments its pattern captured.
struct AdminCall: Sendable {
    let request: AdminRequest
    let params: [String: String]

    var body: JSON? { request.body }
    func param(_ name: String) -> String { params[name] ?? "" }
}

extension Coordinator {
    static let adminPrefix = "/api/v1/"

    static let adminRoutes: [AdminRoute] = [
        AdminRoute("GET", "devices") { c, _ in c.adminListDevices() },
        AdminRoute("GET", "devices/{device}") { c, call in c.adminDevice(call.param("device")) },
        AdminRoute("POST", "devices/{device}/say") { c, call in c.adminSay(call) },
        AdminRoute("POST", "devices/{device}/agent") { c, call in c.adminSetAgent(call) },
        AdminRoute("GET", "agents") { c, _ in c.adminListAgents() },
    ]

    mutating func adminRequest(_ r: AdminRequest) {
        let answer = route(r)
        var reason: String?
        if answer.status >= 400, case let .json(body) = answer.body { reason = body["error"]?.stringValue }
        record(.adminRequest, reason: reason, value: Int64(answer.status), text: r.method + " " + r.path)
        out.append(.httpRespond(r.id, answer))
    }

    private mutating func route(_ r: AdminRequest) -> AdminResponse {
        guard r.path.hasPrefix(Self.adminPrefix) || r.path == "/api/v1" else { return .error(404, "no such route: \(r.path)") }
        let segments = r.path.dropFirst(Self.adminPrefix.count - 1).split(separator: "/")
        var allowed: [String] = []
        for route in Self.adminRoutes {
            guard let params = route.match(segments) else { continue }
            guard route.method == r.method else {
                allowed.append(route.method)
                continue
            }
            return route.handle(&self, AdminCall(request: r, params: params))
        }
        if !allowed.isEmpty { return .error(405, "method \(r.method) not allowed on \(r.path) (allowed: \(allowed.joined(separator: ", ")))") }
        return .error(404, "no such route: \(r.path)")
    }

    /// The connected session of a device id: its newest session that is not closing (a device that
    /// reconnects may briefly have two).
    func connectedSession(ofDevice deviceID: String) -> SessionID? {
        guard !deviceID.isEmpty else { return nil }
        var best: SessionID?
        for (id, session) in sessions.pairs where session.info.deviceID == deviceID && !session.closing {
            if best == nil || id > best! { best = id }
        }
        return best
    }

    func adminDeviceJSON(_ s: SessionID) -> ResponseJSON {
        let session = sessions[s]!
        return .object([("device_id", .json(.string(session.info.deviceID))), ("session", .session(s)),
                        ("state", .json(.string(session.currentPhase.description))),
                        ("protocol_version", .json(.number(Double(session.info.protocolVersion)))),
                        ("agent", .json(session.agent.isEmpty ? .null : .string(session.agent))),
                        ("connected_for_ms", .json(.number(Double((now - session.connectedAt) / 1000))))])
    }

    mutating func adminListDevices() -> AdminResponse {
        let ids = sessions.pairs.filter { !$0.value.closing }.map(\.key).sorted()
        return AdminResponse(200, .object([("devices", .array(ids.map { adminDeviceJSON($0) }))]))
    }

    mutating func adminDevice(_ deviceID: String) -> AdminResponse {
        guard let s = connectedSession(ofDevice: deviceID) else { return .error(404, "device \"\(deviceID)\" is not connected") }
        return AdminResponse(200, adminDeviceJSON(s))
    }
}
