/// An operator's request on the admin HTTP API (`/api/v1/...`, docs/admin-api.md). The host has
/// authenticated it and parsed its body; what it means and what it answers is the Coordinator's
/// decision (Coordinator+Admin.swift), carried back to the host as `Effect.httpRespond`.
public struct AdminRequest: Sendable {
    /// The host's id for the request; the answer names it.
    public var id: UInt64
    /// "GET" or "POST".
    public var method: String
    /// The request path as received, e.g. "/api/v1/devices/kitchen/say" (no query string).
    public var path: String
    /// The parsed JSON body; nil when there is none.
    public var body: JSON?

    public init(id: UInt64, method: String, path: String, body: JSON? = nil) {
        self.id = id
        self.method = method
        self.path = path
        self.body = body
    }
}

/// A JSON value that may name sessions: the host writes each `.session` with its own name for it
/// (the Coordinator's session ids are not the host's).
public indirect enum ResponseJSON: Sendable {
    case json(JSON)
    case object([(String, ResponseJSON)])
    case array([ResponseJSON])
    case session(SessionID)

    /// The JSON the host sends, with its names for sessions.
    public func rendered(session name: (SessionID) -> String) -> JSON {
        switch self {
        case let .json(j): return j
        case let .object(members): return .object(members.map { ($0.0, $0.1.rendered(session: name)) })
        case let .array(items): return .array(items.map { $0.rendered(session: name) })
        case let .session(s): return .string(name(s))
        }
    }

    /// `{"error": message}`, the body of every refusal.
    public static func error(_ message: String) -> ResponseJSON { .json(["error": .string(message)]) }
}

/// The answer to an admin request: an HTTP status and a JSON body.
public struct AdminResponse: Sendable {
    public var status: Int
    public var body: ResponseJSON

    public init(_ status: Int, _ body: ResponseJSON) {
        self.status = status
        self.body = body
    }

    public static func error(_ status: Int, _ message: String) -> AdminResponse { AdminResponse(status, .error(message)) }
}
