/// The device-facing side of MCP (XiaoZhi firmware: JSON-RPC 2.0 in `mcp` messages) for one
/// connection: the tool listing after `hello`, the JSON-RPC ids the hub chose, the calls in flight
/// and which assistant job each answer belongs to. The hub is the MCP client; the device the server.
struct DeviceMCP: Sendable {
    enum Listing: Sendable, Equatable {
        /// `initialize` or a `tools/list` page is outstanding.
        case listing
        /// Every page arrived: `tools` is the device's list.
        case ready
        /// The device answered wrongly or not at all: jobs get no device tools.
        case failed
    }

    /// A request the hub sent on behalf of an assistant job.
    struct Call: Sendable {
        var job: JobID
        /// The id the job used (answers go back to the job with it).
        var jobRequestID: JSON
        var method: String
        var timer: TimerID
    }

    var nextID = 1
    var listing = Listing.listing
    /// The outstanding `initialize` or `tools/list` request and its method.
    var listRequest: (id: Int, method: String)?
    var listTimer: TimerID?
    var cursors: Set<String> = []
    var pages = 0
    var tools: [JSON] = []
    var calls: [Int: Call] = [:]
    /// Ids given up on recently (timed out), so that a late answer is logged as late.
    var expired: [Int] = []

    static let maxPages = 32
    static let maxTools = 256
    static let maxExpired = 16

    mutating func takeID() -> Int {
        defer { nextID += 1 }
        return nextID
    }

    mutating func expire(_ id: Int) {
        expired.append(id)
        if expired.count > Self.maxExpired { expired.removeFirst() }
    }
}

/// JSON-RPC 2.0 message helpers.
enum JSONRPC {
    static func request(id: Int, method: String, params: JSON) -> JSON {
        ["jsonrpc": "2.0", "id": .number(Double(id)), "method": .string(method), "params": params]
    }

    static func error(id: JSON, code: Int, message: String) -> JSON {
        ["jsonrpc": "2.0", "id": id, "error": ["code": .number(Double(code)), "message": .string(message)]]
    }

    /// The integer id of a response, if it has one.
    static func intID(_ payload: JSON) -> Int? {
        guard let n = payload["id"]?.int64Value, n >= 0, n <= Int64(Int32.max) else { return nil }
        return Int(n)
    }

    /// `payload` with its `id` replaced.
    static func withID(_ payload: JSON, _ id: JSON) -> JSON {
        guard case let .object(members) = payload else { return payload }
        var out = members.filter { $0.0 != "id" }
        out.append(("id", id))
        return .object(out)
    }

    /// The error message of a JSON-RPC error response (nil for a result).
    static func errorMessage(_ payload: JSON) -> String? {
        guard let error = payload["error"] else { return nil }
        return error["message"]?.stringValue ?? "error"
    }
}
