/// An identifier that is a small integer, so tables keyed by it can hash with one multiply
/// instead of SipHash.
protocol DenseKey: Hashable, Sendable {
    var bits: UInt64 { get }
    init(bits: UInt64)
}

extension SessionID: DenseKey {
    var bits: UInt64 { raw }
    init(bits: UInt64) { self.init(bits) }
}

extension WorkerID: DenseKey {
    var bits: UInt64 { raw }
    init(bits: UInt64) { self.init(bits) }
}

extension JobID: DenseKey {
    var bits: UInt64 { raw }
    init(bits: UInt64) { self.init(bits) }
}

extension TimerID: DenseKey {
    var bits: UInt64 { raw }
    init(bits: UInt64) { self.init(bits) }
}

/// A hash map from a `DenseKey` to a small value: open addressing with linear probing,
/// Fibonacci hashing and backward-shift deletion (no tombstones). The hot tables of the
/// Coordinator (sessions, jobs, timers, workers) are keyed this way.
struct IDMap<Key: DenseKey, Value: Sendable>: Sendable {
    /// Stored key + 1; 0 marks an empty bucket.
    private var keys: [UInt64] = [UInt64](repeating: 0, count: 16)
    private var values: [Value?] = [Value?](repeating: nil, count: 16)
    private(set) var count = 0
    private var shift: UInt64 = 60

    var isEmpty: Bool { count == 0 }

    @inline(__always)
    private func ideal(_ stored: UInt64) -> Int {
        Int(truncatingIfNeeded: (stored &* 0x9E37_79B9_7F4A_7C15) >> shift)
    }

    @inline(__always)
    private func find(_ stored: UInt64) -> Int? {
        let mask = keys.count - 1
        var i = ideal(stored)
        while true {
            let k = keys[i]
            if k == stored { return i }
            if k == 0 { return nil }
            i = (i + 1) & mask
        }
    }

    subscript(key: Key) -> Value? {
        get {
            guard let i = find(key.bits &+ 1) else { return nil }
            return values[i]
        }
        set {
            if let v = newValue { insert(key, v) } else { _ = removeValue(forKey: key) }
        }
    }

    private mutating func insert(_ key: Key, _ value: Value) {
        let stored = key.bits &+ 1
        if let i = find(stored) {
            values[i] = value
            return
        }
        if (count + 1) * 4 > keys.count * 3 { grow() }
        let mask = keys.count - 1
        var i = ideal(stored)
        while keys[i] != 0 { i = (i + 1) & mask }
        keys[i] = stored
        values[i] = value
        count += 1
    }

    @discardableResult
    mutating func removeValue(forKey key: Key) -> Value? {
        guard var i = find(key.bits &+ 1) else { return nil }
        let old = values[i]
        let mask = keys.count - 1
        // Backward-shift: pull later entries of the probe run into the hole.
        var j = i
        while true {
            j = (j + 1) & mask
            let k = keys[j]
            if k == 0 { break }
            let home = ideal(k)
            // Move k into the hole at i unless its home lies cyclically in (i, j].
            let inRange = i <= j ? (home > i && home <= j) : (home > i || home <= j)
            if !inRange {
                keys[i] = k
                values[i] = values[j]
                i = j
            }
        }
        keys[i] = 0
        values[i] = nil
        count -= 1
        return old
    }

    private mutating func grow() {
        let oldKeys = keys, oldValues = values
        keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
        values = [Value?](repeating: nil, count: oldKeys.count * 2)
        shift -= 1
        count = 0
        for (i, k) in oldKeys.enumerated() where k != 0 { insert(Key(bits: k &- 1), oldValues[i]!) }
    }

    /// The keys, in bucket order.
    var keyList: [Key] { keys.compactMap { $0 == 0 ? nil : Key(bits: $0 &- 1) } }
}
