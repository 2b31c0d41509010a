/// Status codes shared by every C entry point. The numbers are ABI: never renumber, only append.
/// Mirrors the `VC_*` macros in include/voicecore.h.
public enum Status: Int32, Sendable {
    case ok = 0
    /// A NULL pointer, an out-of-range number or an option the component does not know.
    case invalidArgument = -1
    case outOfMemory = -2
    /// Bytes that are not UTF-8 where UTF-8 text is required.
    case invalidUTF8 = -3
    /// The call is not allowed in the handle's current state (for example push after flush).
    case invalidState = -4
    case notFound = -5
    case io = -6
    /// A file or message whose structure or checksum is wrong.
    case corrupt = -7
    /// Malformed JSON, or JSON of the wrong shape.
    case parse = -8
    case unsupported = -9
    /// Sizes that must agree do not (for example a vector of the wrong dimension).
    case mismatch = -10
    /// A fixed limit was reached (message size, queue bound).
    case limit = -11

    /// The static description returned by `vc_strerror`.
    public var description: String {
        switch self {
        case .ok: return "ok"
        case .invalidArgument: return "invalid argument"
        case .outOfMemory: return "out of memory"
        case .invalidUTF8: return "invalid UTF-8"
        case .invalidState: return "call not allowed in this state"
        case .notFound: return "not found"
        case .io: return "I/O error"
        case .corrupt: return "corrupt data"
        case .parse: return "malformed input"
        case .unsupported: return "unsupported"
        case .mismatch: return "size mismatch"
        case .limit: return "limit exceeded"
        }
    }
}

/// The one error type the core throws. The C layer turns it into a status code plus the handle's
/// last-error message; Swift callers get the same information.
public struct VCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Status
    public var message: String

    public init(_ status: Status, _ message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status.description): \(message)" }
}
