/// What a worker can do. The raw values index per-kind tables.
public enum WorkerKind: Int, CaseIterable, Sendable, CustomStringConvertible {
    case asr = 0, tts = 1, assistant = 2, llm = 3

    public init?(name: String) {
        switch name {
        case "asr": self = .asr
        case "tts": self = .tts
        case "assistant": self = .assistant
        case "llm": self = .llm
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .asr: return "asr"
        case .tts: return "tts"
        case .assistant: return "assistant"
        case .llm: return "llm"
        }
    }

    public var description: String { name }
}

/// A small set of kinds as a bit mask.
public struct KindSet: Hashable, Sendable, Sequence {
    public var bits: UInt8
    public init(bits: UInt8 = 0) { self.bits = bits }
    public init(_ kinds: [WorkerKind]) {
        bits = 0
        for k in kinds { insert(k) }
    }
    public func contains(_ k: WorkerKind) -> Bool { bits & (1 << UInt8(k.rawValue)) != 0 }
    public mutating func insert(_ k: WorkerKind) { bits |= 1 << UInt8(k.rawValue) }
    public mutating func remove(_ k: WorkerKind) { bits &= ~(1 << UInt8(k.rawValue)) }
    public var isEmpty: Bool { bits == 0 }
    public func makeIterator() -> some IteratorProtocol<WorkerKind> {
        WorkerKind.allCases.filter { contains($0) }.makeIterator()
    }
    public var names: [String] { map(\.name) }
}

/// Priority classes of queued jobs, served strictly in this order.
public enum JobPriority: Int, CaseIterable, Sendable, CustomStringConvertible {
    /// Realtime work: ASR streams, the assistant call, the first segment of a reply.
    case first = 0
    /// Later segments of a reply.
    case later = 1
    case background = 2

    public var description: String {
        switch self {
        case .first: return "first"
        case .later: return "later"
        case .background: return "background"
        }
    }
}
