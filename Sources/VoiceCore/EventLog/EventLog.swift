/// The Coordinator's event log: entries in sequence order, drained by the host. It also keeps a
/// running digest of every entry (stored or not; FNV-1a over 64-bit words with an xorshift), so
/// two runs can be compared for determinism without keeping their logs.
public struct EventLog: Sendable {
    public private(set) var entries: [LogEntry] = []
    /// When false, entries are counted and digested but not stored (a simulator that only needs
    /// the digest).
    public var storing = true
    public private(set) var nextSeq: UInt64 = 1
    public private(set) var digest: UInt64 = 0xcbf2_9ce4_8422_2325
    /// Entries kept at most; older ones are dropped (and counted) if the host never drains.
    public var capacity = 1 << 20
    public private(set) var dropped: UInt64 = 0
    /// Counts over every entry appended (stored or not): see LogTally.
    public private(set) var tally = LogTally()
    private var head = 0

    public init() {}

    public mutating func append(_ entry: consuming LogEntry) {
        entry.seq = nextSeq
        nextSeq += 1
        mix(UInt64(entry.kind.rawValue))
        mix(UInt64(bitPattern: entry.time.us))
        mix(UInt64(entry.session?.raw ?? 0xFFFF_FFFF))
        mix(UInt64(entry.turn?.raw ?? 0xFFFF_FFFF))
        mix(entry.job?.raw ?? ~0)
        mix(UInt64(entry.worker?.raw ?? 0xFFFF_FFFF))
        mix(UInt64(bitPattern: entry.value ?? Int64.min))
        tally.add(kind: entry.kind, reason: entry.reason, value: entry.value)
        guard storing else { return }
        if entries.count - head >= capacity {
            head += 1
            dropped += 1
            if head > capacity { entries.removeFirst(head); head = 0 }
        }
        entries.append(entry)
    }

    public var pendingCount: Int { entries.count - head }

    /// Hands the pending entries to `body` in order and forgets them (keeping the buffer).
    public mutating func drain(_ body: (borrowing LogEntry) -> Void) {
        entries.withUnsafeBufferPointer { buffer in
            for i in head..<buffer.count { body(buffer[i]) }
        }
        entries.removeAll(keepingCapacity: true)
        head = 0
    }

    /// The pending entries, forgotten.
    public mutating func take() -> [LogEntry] {
        var out: [LogEntry] = []
        out.reserveCapacity(pendingCount)
        drain { out.append(copy $0) }
        return out
    }

    @inline(__always)
    private mutating func mix(_ x: UInt64) {
        digest = (digest ^ x) &* 0x0000_0100_0000_01B3
        digest ^= digest >> 29
    }
}
